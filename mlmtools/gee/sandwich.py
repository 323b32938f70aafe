"""geepack's sandwich covariance for GEE: of the coefficients, the scale and the correlation.

geepack stacks three estimating equations per cluster ``i`` (mean, scale, correlation),

.. math::
    U_{1i} = \\tilde D_i^\\top R_i^{-1} \\tilde r_i, \\qquad
    U_{2i} = \\sum_j \\frac{w_j (r_j^2 - \\phi)}{2\\phi}, \\qquad
    U_{3i} = \\sum_{j<k} w_j w_k\\, E_{jk} \\Big(\\frac{r_j r_k}{\\phi} - \\rho_{jk}(\\alpha)\\Big),

with Pearson residuals :math:`r_j = (y_j - \\mu_j)/\\sqrt{v(\\mu_j)}`,
:math:`\\tilde D = W^{1/2}\\phi^{-1/2}D`, :math:`D_j = (d\\mu_j/d\\eta_j)\\, x_j/\\sqrt{v_j}`,
:math:`\\tilde r = W^{1/2}\\phi^{-1/2} r` and :math:`E = \\partial\\rho/\\partial\\alpha`.
The summed negative derivative :math:`H` is block lower triangular,

.. math::
    H = \\begin{pmatrix} A & 0 & 0 \\\\ B & C & 0 \\\\ D & E & F \\end{pmatrix},

and each cluster's influence is :math:`\\psi_i = H^{-1} U_i`. The reported covariances are
:math:`\\sum_i \\psi_i \\psi_i^\\top` split by block: ``vbeta`` (the robust sandwich
:math:`A^{-1}\\sum U_1U_1^\\top A^{-1}`, no small-sample factor), ``vscale`` and ``valpha``.
The naive covariance is :math:`A^{-1}`.

Two details are kept exactly as geepack codes them (``src/geesubs.cc`` ``HiandGi``):
the pair row of :math:`\\partial z/\\partial\\beta` pairs :math:`r_j` with :math:`D_j`, and a
cluster of size one re-adds the previous cluster's correlation blocks (geepack does not
reset them). The book's GEE chapter explains the estimating equations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlmtools.gee.correlation import WorkingCorrelation, pair_indices

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class ClusterPieces:
    """What the covariance needs from one cluster at the estimates.

    Attributes
    ----------
    pearson : numpy.ndarray
        Unweighted Pearson residuals :math:`(y - \\mu)/\\sqrt{v(\\mu)}`, shape ``(n_i,)``.
    gradient : numpy.ndarray
        :math:`D = (d\\mu/d\\eta)\\, X/\\sqrt{v(\\mu)}`, shape ``(n_i, p)``.
    variance : numpy.ndarray
        :math:`v(\\mu)`, shape ``(n_i,)``.
    variance_slope : numpy.ndarray
        :math:`v'(\\mu)`, shape ``(n_i,)``.
    weights : numpy.ndarray
        Prior weights, shape ``(n_i,)``.
    waves : numpy.ndarray
        Wave codes, shape ``(n_i,)``.
    """

    pearson: FloatArray
    gradient: FloatArray
    variance: FloatArray
    variance_slope: FloatArray
    weights: FloatArray
    waves: NDArray[np.int64]


@dataclass(frozen=True)
class GeeCovariance:
    """Covariance matrices of the GEE estimates (geepack's ``vbeta``, ``vgamma``, ...).

    Attributes
    ----------
    beta : numpy.ndarray
        Robust sandwich covariance of the coefficients, ``(p, p)``.
    beta_naive : numpy.ndarray
        Model-based covariance :math:`A^{-1}`, ``(p, p)``.
    scale : numpy.ndarray
        Covariance of the scale estimate, ``(1, 1)``.
    alpha : numpy.ndarray
        Covariance of the correlation parameters, ``(q, q)``.
    """

    beta: FloatArray
    beta_naive: FloatArray
    scale: FloatArray
    alpha: FloatArray


@dataclass
class _Blocks:
    """One cluster's (or the summed) blocks of H and of the estimating functions."""

    A: FloatArray
    B: FloatArray
    C: FloatArray
    D: FloatArray
    E: FloatArray
    F: FloatArray
    U1: FloatArray
    U2: FloatArray
    U3: FloatArray

    @classmethod
    def zeros(cls, p: int, q: int) -> _Blocks:
        return cls(
            A=np.zeros((p, p)), B=np.zeros((1, p)), C=np.zeros((1, 1)),
            D=np.zeros((q, p)), E=np.zeros((q, 1)), F=np.zeros((q, q)),
            U1=np.zeros(p), U2=np.zeros(1), U3=np.zeros(q),
        )


def _mean_blocks(piece: ClusterPieces, corr: FloatArray, scale: float, out: _Blocks) -> None:
    """Blocks A, U1 (mean) and B, C, U2 (scale) of one cluster."""
    root_w = np.sqrt(piece.weights)
    grad_w = root_w[:, None] * piece.gradient
    resid_w = root_w * piece.pearson
    work_cov = scale * corr
    out.A = grad_w.T @ np.linalg.solve(work_cov, grad_w)
    out.U1 = grad_w.T @ np.linalg.solve(work_cov, resid_w)

    half_w = piece.weights / (2.0 * scale)
    r = piece.pearson
    slope = -2.0 * r / np.sqrt(piece.variance) - r * r / piece.variance * piece.variance_slope
    out.C = np.array([[half_w.sum()]])
    out.B = -(half_w * slope) @ piece.gradient
    out.B = out.B[None, :]
    out.U2 = np.array([np.sum(half_w * (r * r - scale))])


def _correlation_blocks(
    piece: ClusterPieces, alpha: FloatArray, scale: float, structure: WorkingCorrelation, out: _Blocks
) -> None:
    """Blocks D, E, F and U3 (correlation) of one cluster of size two or more."""
    rows, cols = pair_indices(len(piece.pearson))
    r, grad = piece.pearson, piece.gradient
    z = r[rows] * r[cols] / scale
    pair_w = piece.weights[rows] * piece.weights[cols]
    slope = structure.derivative(alpha, piece.waves)
    rho = structure.pair_correlations(alpha, piece.waves)
    scaled = (piece.variance_slope / np.sqrt(piece.variance))[:, None] * grad
    dz_dbeta = (
        -r[rows, None] * grad[rows]
        - r[cols, None] * grad[cols]
        - 0.5 * (r[rows] * r[cols])[:, None] * (scaled[rows] + scaled[cols])
    ) / scale
    weighted_slope = slope * pair_w[:, None]
    out.F = weighted_slope.T @ slope
    out.D = -weighted_slope.T @ dz_dbeta
    out.E = (weighted_slope.T @ (z / scale))[:, None]
    out.U3 = weighted_slope.T @ (z - rho)


def geepack_covariance(
    pieces: list[ClusterPieces],
    scale: float,
    alpha: FloatArray,
    structure: WorkingCorrelation,
) -> GeeCovariance:
    """Sandwich covariances of :math:`\\hat\\beta`, :math:`\\hat\\phi` and :math:`\\hat\\alpha` as geepack computes them.

    With the inverse blocks :math:`A^* = A^{-1}`, :math:`C^* = C^{-1}`,
    :math:`B^* = -C^*BA^*`, :math:`F^* = F^{-1}`, :math:`E^* = -F^*EC^*` and
    :math:`D^* = -F^*(DA^* + EB^*)`, the influences of cluster ``i`` are

    .. math::
        \\psi_{\\beta,i} = A^*U_{1i}, \\quad
        \\psi_{\\phi,i} = B^*U_{1i} + C^*U_{2i}, \\quad
        \\psi_{\\alpha,i} = D^*U_{1i} + E^*U_{2i} + F^*U_{3i},

    and each covariance is the sum of outer products of its influences.

    Parameters
    ----------
    pieces : list of ~mlmtools.gee.sandwich.ClusterPieces
        One entry per cluster, in geepack's cluster order.
    scale : float
        The scale estimate :math:`\\hat\\phi`.
    alpha : numpy.ndarray
        The correlation estimates, shape ``(q,)``.
    structure : ~mlmtools.gee.correlation.WorkingCorrelation
        The working-correlation structure (already set up).
    """
    p = pieces[0].gradient.shape[1]
    q = structure.n_params
    total = _Blocks.zeros(p, q)
    cluster = _Blocks.zeros(p, q)
    influences_mean, influences_scale, influences_corr = [], [], []
    for piece in pieces:
        corr = structure.matrix(alpha, piece.waves)
        _mean_blocks(piece, corr, scale, cluster)
        if q > 0 and len(piece.pearson) > 1:
            _correlation_blocks(piece, alpha, scale, structure, cluster)
        for name in ("A", "B", "C", "D", "E", "F"):
            setattr(total, name, getattr(total, name) + getattr(cluster, name))
        influences_mean.append(cluster.U1.copy())
        influences_scale.append(cluster.U2.copy())
        influences_corr.append(cluster.U3.copy())

    a_inv = np.linalg.inv(total.A)
    c_inv = np.linalg.inv(total.C)
    b_inv = -c_inv @ total.B @ a_inv
    U1 = np.array(influences_mean)
    U2 = np.array(influences_scale)
    psi_beta = U1 @ a_inv.T
    psi_scale = U1 @ b_inv.T + U2 @ c_inv.T
    if q > 0:
        f_inv = np.linalg.inv(total.F)
        e_inv = -f_inv @ total.E @ c_inv
        d_inv = -f_inv @ (total.D @ a_inv + total.E @ b_inv)
        U3 = np.array(influences_corr)
        psi_alpha = U1 @ d_inv.T + U2 @ e_inv.T + U3 @ f_inv.T
        valpha = psi_alpha.T @ psi_alpha
    else:
        valpha = np.zeros((0, 0))
    return GeeCovariance(
        beta=psi_beta.T @ psi_beta,
        beta_naive=a_inv,
        scale=psi_scale.T @ psi_scale,
        alpha=valpha,
    )
