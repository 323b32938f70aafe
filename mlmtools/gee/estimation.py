"""The GEE estimation loop, geepack's (``src/gee2.cc`` ``gee_est``) step for step.

For a marginal model :math:`g(\\mu_{ij}) = x_{ij}^\\top\\beta` with a working correlation
:math:`R_i(\\alpha)` (:mod:`mlmtools.gee.correlation`), on data whose clusters are
contiguous (:class:`GeeData`):

1. Starts: :math:`\\beta` from the GLM fit, :math:`\\alpha = 0`, and :math:`\\phi` the mean of
   the GLM's squared Pearson residuals :math:`w_j r_j^2`.
2. Each iteration, in this order,

   - one Fisher-scoring step for :math:`\\beta`,
     :math:`\\Delta\\beta = (\\sum_i D_i^\\top W_i^{1/2} R_i^{-1} W_i^{1/2} D_i)^{-1}
     \\sum_i D_i^\\top W_i^{1/2} R_i^{-1} W_i^{1/2} r_i`;
   - the scale at the new :math:`\\beta`, :math:`\\phi = \\sum w_j r_j^2 / \\sum w_j`
     (no :math:`N - p` correction);
   - one Gauss-Newton step for :math:`\\alpha` over all within-cluster pairs,
     :math:`\\Delta\\alpha = (\\sum E^\\top W_3 E)^{-1}\\sum E^\\top W_3 (z - \\rho(\\alpha))`
     with :math:`z_{jk} = r_j r_k/\\phi` and :math:`W_3 = w_j w_k`.
3. Stop when :math:`\\max(|\\Delta\\beta|, |\\Delta\\phi|, |\\Delta\\alpha|) \\le 10^{-4}`, at most
   25 iterations.

Here :math:`r_j = (y_j - \\mu_j)/\\sqrt{v(\\mu_j)}` and
:math:`D_j = (d\\mu_j/d\\eta_j)\\, x_j/\\sqrt{v(\\mu_j)}`. The book's GEE chapter derives them.
"""


from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlmtools.gee.correlation import WorkingCorrelation, pair_indices
from mlmtools.gee.sandwich import ClusterPieces
from mlmtools.glmm.families import Family

FloatArray = NDArray[np.float64]

TOLERANCE = 1e-4
"""geepack's ``geese.control(epsilon)``: the largest parameter step that counts as converged."""
MAX_ITERATIONS = 25
"""geepack's ``geese.control(maxit)``."""


# ---------------------------------------------------------------------------------------------
# GLM start
# ---------------------------------------------------------------------------------------------


def _glm_start(y: FloatArray, X: FloatArray, w: FloatArray, offset: FloatArray,
               family: Family) -> FloatArray:
    """GLM coefficients by iteratively reweighted least squares (R's ``glm.fit``), to full precision.

    .. math:: \\beta \\leftarrow (X^\\top \\Omega X)^{-1} X^\\top \\Omega z, \\quad
        z = \\eta - o + (y - \\mu)/\\mu'(\\eta), \\quad \\Omega = w\\,\\mu'(\\eta)^2/v(\\mu)
    """
    mu = family.mustart(y, w)
    eta = family.linkfun(mu)
    beta = np.zeros(X.shape[1])
    for _ in range(100):
        slope = family.mu_eta(eta)
        working = eta - offset + (y - mu) / slope
        root = np.sqrt(w * slope**2 / family.variance(mu))
        new_beta = np.linalg.lstsq(root[:, None] * X, root * working, rcond=None)[0]
        eta = X @ new_beta + offset
        mu = family.linkinv(eta)
        change = np.max(np.abs(new_beta - beta)) / (np.max(np.abs(new_beta)) + 1e-10)
        beta = new_beta
        if change < 1e-12:
            break
    return beta



@dataclass(frozen=True, eq=False)
class GeeData:
    """Response, design and weights sorted so that each cluster's rows are contiguous.

    Attributes
    ----------
    y, X, weights, offset : numpy.ndarray
        In cluster order.
    waves : numpy.ndarray
        Each row's wave code within its cluster.
    clusters : tuple of slice
        The rows of each cluster.
    """

    y: FloatArray
    X: FloatArray
    weights: FloatArray
    offset: FloatArray
    waves: NDArray[np.int64]
    clusters: tuple[slice, ...]


def _pearson(data: GeeData, beta: FloatArray, family: Family) -> FloatArray:
    mu = family.linkinv(data.X @ beta + data.offset)
    return (data.y - mu) / np.sqrt(family.variance(mu))


def _beta_step(data: GeeData, beta: FloatArray, alpha: FloatArray, family: Family,
               structure: WorkingCorrelation) -> FloatArray:
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    root_v = np.sqrt(family.variance(mu))
    root_w = np.sqrt(data.weights)
    grad = (root_w * family.mu_eta(eta) / root_v)[:, None] * data.X
    resid = root_w * (data.y - mu) / root_v
    p = data.X.shape[1]
    info, score = np.zeros((p, p)), np.zeros(p)
    for rows in data.clusters:
        corr = structure.matrix(alpha, data.waves[rows])
        solved = np.linalg.solve(corr, np.column_stack([grad[rows], resid[rows]]))
        info += grad[rows].T @ solved[:, :p]
        score += grad[rows].T @ solved[:, p]
    return np.linalg.solve(info, score)


def _alpha_step(data: GeeData, pearson: FloatArray, scale: float, alpha: FloatArray,
                structure: WorkingCorrelation) -> FloatArray:
    q = structure.n_params
    if q == 0:
        return np.zeros(0)
    info, score = np.zeros((q, q)), np.zeros(q)
    for rows in data.clusters:
        waves = data.waves[rows]
        if len(waves) < 2:
            continue
        r, w = pearson[rows], data.weights[rows]
        first, second = pair_indices(len(waves))
        pair_w = w[first] * w[second]
        slope = structure.derivative(alpha, waves)
        z = r[first] * r[second] / scale
        info += (slope * pair_w[:, None]).T @ slope
        score += (slope * pair_w[:, None]).T @ (z - structure.pair_correlations(alpha, waves))
    return np.linalg.solve(info, score)


@dataclass(frozen=True, eq=False)
class GeeEstimates:
    """Where the loop stopped: :math:`\\hat\\beta`, :math:`\\hat\\phi`, :math:`\\hat\\alpha`, and how."""

    beta: FloatArray
    scale: float
    alpha: FloatArray
    n_iter: int
    converged: bool


def estimate(data: GeeData, family: Family, structure: WorkingCorrelation,
              tol: float = TOLERANCE, maxit: int = MAX_ITERATIONS) -> GeeEstimates:
    """geepack's estimation loop (module docstring, steps 1-3)."""
    beta = _glm_start(data.y, data.X, data.weights, data.offset, family)
    pearson = _pearson(data, beta, family)
    scale = float(np.mean(data.weights * pearson**2))
    alpha = structure.start()
    for iteration in range(1, maxit + 1):
        step_beta = _beta_step(data, beta, alpha, family, structure)
        beta = beta + step_beta
        pearson = _pearson(data, beta, family)
        step_scale = float(np.sum(data.weights * (pearson**2 - scale)) / np.sum(data.weights))
        scale += step_scale
        step_alpha = _alpha_step(data, pearson, scale, alpha, structure)
        alpha = alpha + step_alpha
        largest = max(np.max(np.abs(step_beta)), abs(step_scale), np.max(np.abs(step_alpha), initial=0.0))
        if largest <= tol:
            return GeeEstimates(beta, scale, alpha, iteration, True)
    return GeeEstimates(beta, scale, alpha, maxit, False)


def cluster_pieces(data: GeeData, beta: FloatArray, family: Family) -> list[ClusterPieces]:
    """Each cluster's Pearson residuals, gradient, variances and weights at ``beta`` (what
    the sandwich of :mod:`mlmtools.gee.sandwich` needs)."""
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    variance = family.variance(mu)
    grad = (family.mu_eta(eta) / np.sqrt(variance))[:, None] * data.X
    pearson = (data.y - mu) / np.sqrt(variance)
    slope = family.variance_slope(mu)
    pieces = []
    for rows in data.clusters:
        pieces.append(ClusterPieces(
            pearson=pearson[rows], gradient=grad[rows], variance=variance[rows],
            variance_slope=slope[rows], weights=data.weights[rows], waves=data.waves[rows],
        ))
    return pieces

