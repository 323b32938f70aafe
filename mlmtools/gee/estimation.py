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
     (no :math:`N - p` correction), unless the scale is fixed;
   - one Gauss-Newton step for :math:`\\alpha` over all within-cluster pairs,
     :math:`\\Delta\\alpha = (\\sum E^\\top W_3 E)^{-1}\\sum E^\\top W_3 (z - \\rho(\\alpha))`
     with :math:`z_{jk} = r_j r_k/\\phi` and :math:`W_3 = w_j w_k`.
3. Stop when :math:`\\max(|\\Delta\\beta|, |\\Delta\\phi|, |\\Delta\\alpha|) \\le 10^{-4}`, at most
   25 iterations.

Here :math:`r_j = (y_j - \\mu_j)/\\sqrt{v(\\mu_j)}` and
:math:`D_j = (d\\mu_j/d\\eta_j)\\, x_j/\\sqrt{v(\\mu_j)}`. The sums over clusters are computed on
the clusters of each size at once and added in cluster order (:mod:`mlmtools.gee.layout`), which
gives the per-cluster loop's numbers exactly. geepack's jackknife refits the model without one
cluster (``leave_out``), starting from the estimates. The book's GEE chapter derives the steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from mlmtools.gee.correlation import WorkingCorrelation, pair_indices
from mlmtools.gee.layout import ClusterLayout, contiguous, ordered_sum
from mlmtools.glmm.families import Family

FloatArray = NDArray[np.float64]

TOLERANCE = 1e-4
"""geepack's ``geese.control(epsilon)``: the largest parameter step that counts as converged."""
MAX_ITERATIONS = 25
"""geepack's ``geese.control(maxit)``."""


def _glm_start(y: FloatArray, X: FloatArray, w: FloatArray, offset: FloatArray,
               family: Family) -> FloatArray:
    """GLM coefficients by iteratively reweighted least squares, as R's ``glm.fit`` computes the
    start geepack iterates from:

    .. math:: \\beta \\leftarrow (X^\\top \\Omega X)^{-1} X^\\top \\Omega z, \\quad
        z = \\eta - o + (y - \\mu)/\\mu'(\\eta), \\quad \\Omega = w\\,\\mu'(\\eta)^2/v(\\mu),

    from the family's starting means, stopping as R does once the deviance changes by less than
    :math:`10^{-8}(|D| + 0.1)` (at most 25 iterations). An independence fit takes one step from
    this start, so a start closer to the optimum than R's would move its numbers away from geepack's.
    """
    mu = family.mustart(y, w)
    eta = family.linkfun(mu)
    deviance = float(np.sum(family.dev_resids(y, mu, w)))
    beta = np.zeros(X.shape[1])  # replaced in the first iteration
    for _ in range(25):
        slope = family.mu_eta(eta)
        working = eta - offset + (y - mu) / slope
        root = np.sqrt(w * slope**2 / family.variance(mu))
        beta = np.asarray(np.linalg.lstsq(root[:, None] * X, root * working, rcond=None)[0], dtype=np.float64)
        eta = X @ beta + offset
        mu = family.linkinv(eta)
        previous, deviance = deviance, float(np.sum(family.dev_resids(y, mu, w)))
        if abs(deviance - previous) / (abs(deviance) + 0.1) < 1e-8:
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

    @cached_property
    def layout(self) -> ClusterLayout:
        """The clusters grouped by size (computed once)."""
        return ClusterLayout.from_clusters(self.clusters, self.waves)


def _pearson(data: GeeData, beta: FloatArray, family: Family) -> FloatArray:
    mu = family.linkinv(data.X @ beta + data.offset)
    pearson: FloatArray = (data.y - mu) / np.sqrt(family.variance(mu))
    return pearson


def _beta_step(data: GeeData, beta: FloatArray, alpha: FloatArray, family: Family,
               structure: WorkingCorrelation, leave_out: int | None) -> FloatArray:
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    root_v = np.sqrt(family.variance(mu))
    root_w = np.sqrt(data.weights)
    grad = (root_w * family.mu_eta(eta) / root_v)[:, None] * data.X
    resid = root_w * (data.y - mu) / root_v
    p = data.X.shape[1]
    layout = data.layout
    info, score = np.empty((layout.n_clusters, p, p)), np.empty((layout.n_clusters, p))
    for group in layout.groups:
        corr = structure.matrix(alpha, group.waves)
        grad_i = grad[group.rows]
        solved = np.linalg.solve(corr, np.concatenate([grad_i, resid[group.rows][:, :, None]], axis=2))
        grad_t = grad_i.transpose(0, 2, 1)
        info[group.members] = grad_t @ solved[:, :, :p]
        # solved[:, :, p:] keeps the stride of the loop's solved[:, p], so BLAS takes the same kernel
        score[group.members] = (grad_t @ solved[:, :, p:])[:, :, 0]
    return np.asarray(np.linalg.solve(ordered_sum(info, leave_out), ordered_sum(score, leave_out)), dtype=np.float64)


def _alpha_step(data: GeeData, pearson: FloatArray, scale: float, alpha: FloatArray,
                structure: WorkingCorrelation, leave_out: int | None) -> FloatArray:
    q = structure.n_params
    if q == 0:
        return np.zeros(0)
    layout = data.layout
    # a one-row cluster has no pairs and adds nothing (zeros keep the running sum's bits)
    info, score = np.zeros((layout.n_clusters, q, q)), np.zeros((layout.n_clusters, q))
    for group in layout.groups:
        if group.size < 2:
            continue
        first, second = pair_indices(group.size)
        r, w = pearson[group.rows], data.weights[group.rows]
        pair_w = contiguous(w[:, first] * w[:, second])
        slope = structure.derivative(alpha, group.waves)
        z = contiguous(r[:, first] * r[:, second] / scale)
        weighted = contiguous(slope * pair_w[:, :, None]).transpose(0, 2, 1)
        info[group.members] = weighted @ slope
        moment = z - structure.pair_correlations(alpha, group.waves)
        score[group.members] = (weighted @ moment[:, :, None])[:, :, 0]
    return np.asarray(np.linalg.solve(ordered_sum(info, leave_out), ordered_sum(score, leave_out)), dtype=np.float64)


def _scale_step(data: GeeData, pearson: FloatArray, scale: float, leave_out: int | None) -> float:
    """:math:`\\sum w_j (r_j^2 - \\phi)/\\sum w_j`, over the rows outside cluster ``leave_out``."""
    weights, squares = data.weights, pearson**2
    if leave_out is not None:
        kept = data.layout.row_mask(leave_out)
        weights, squares = weights[kept], squares[kept]
    return float(np.sum(weights * (squares - scale)) / np.sum(weights))


@dataclass(frozen=True, eq=False)
class GeeEstimates:
    """Where the loop stopped: :math:`\\hat\\beta`, :math:`\\hat\\phi`, :math:`\\hat\\alpha`, and how."""

    beta: FloatArray
    scale: float
    alpha: FloatArray
    n_iter: int
    converged: bool


def starting_values(data: GeeData, family: Family, structure: WorkingCorrelation,
                    scale_fix: bool = False, scale_value: float | None = None) -> GeeEstimates:
    """geepack's starting values (module docstring, step 1).

    With ``scale_fix`` the scale stays where it starts: at ``scale_value`` when given, else where
    geepack's ``geeglm`` puts it (it ignores ``scale.value``): the mean of
    :math:`(y - g^{-1}(X\\beta_{GLM}))^2/v(\\mu)`, without offset or weights.
    """
    beta = _glm_start(data.y, data.X, data.weights, data.offset, family)
    if scale_fix and scale_value is not None:
        scale = float(scale_value)
    elif scale_fix:
        mu = family.linkinv(data.X @ beta)
        scale = float(np.mean((data.y - mu) ** 2 / family.variance(mu)))
    else:
        scale = float(np.mean(data.weights * _pearson(data, beta, family) ** 2))
    return GeeEstimates(beta, scale, structure.start(), 0, False)


def iterate(data: GeeData, family: Family, structure: WorkingCorrelation, start: GeeEstimates,
            tol: float = TOLERANCE, maxit: int = MAX_ITERATIONS, scale_fix: bool = False,
            leave_out: int | None = None) -> GeeEstimates:
    """geepack's iterations (module docstring, steps 2-3) from ``start``.

    Parameters
    ----------
    scale_fix : bool
        Keep the scale at ``start.scale``.
    leave_out : int, optional
        Leave this cluster (its position in cluster order) out of every sum, as geepack's
        jackknife does.
    """
    beta, scale, alpha = start.beta, start.scale, start.alpha
    for iteration in range(1, maxit + 1):
        step_beta = _beta_step(data, beta, alpha, family, structure, leave_out)
        beta = beta + step_beta
        pearson = _pearson(data, beta, family)
        step_scale = 0.0 if scale_fix else _scale_step(data, pearson, scale, leave_out)
        scale += step_scale
        step_alpha = _alpha_step(data, pearson, scale, alpha, structure, leave_out)
        alpha = alpha + step_alpha
        largest = max(np.max(np.abs(step_beta)), abs(step_scale), np.max(np.abs(step_alpha), initial=0.0))
        if largest <= tol:
            return GeeEstimates(beta, scale, alpha, iteration, True)
    return GeeEstimates(beta, scale, alpha, maxit, False)


def estimate(data: GeeData, family: Family, structure: WorkingCorrelation,
             tol: float = TOLERANCE, maxit: int = MAX_ITERATIONS, scale_fix: bool = False,
             scale_value: float | None = None) -> GeeEstimates:
    """geepack's estimation loop (module docstring): :func:`starting_values`, then :func:`iterate`."""
    start = starting_values(data, family, structure, scale_fix, scale_value)
    return iterate(data, family, structure, start, tol, maxit, scale_fix)
