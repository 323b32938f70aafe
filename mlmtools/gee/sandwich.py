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
The naive covariance is :math:`A^{-1}`. With the scale fixed, the scale equation is dropped:
:math:`B`, :math:`C`, :math:`E` and :math:`U_2` are zero and so is the scale's covariance.

Two details are kept exactly as geepack codes them (``src/geesubs.cc`` ``HiandGi``):
the pair row of :math:`\\partial z/\\partial\\beta` pairs :math:`r_j` with :math:`D_j`, and a
cluster of size one repeats the previous cluster's correlation blocks :math:`D, E, F, U_3`
(geepack does not reset them; the first cluster, if a singleton, has zeros). This looks like a
slip, but alpha's standard error agrees with geepack's only this way (tested on a fixture with
singleton clusters). The book's GEE chapter explains the estimating equations.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from mlmtools.gee.correlation import WorkingCorrelation, pair_indices
from mlmtools.gee.estimation import GeeData
from mlmtools.gee.layout import contiguous, ordered_sum
from mlmtools.glmm.families import Family

FloatArray = NDArray[np.float64]


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
        Covariance of the scale estimate, ``(1, 1)`` (zero when the scale is fixed).
    alpha : numpy.ndarray
        Covariance of the correlation parameters, ``(q, q)``.
    """

    beta: FloatArray
    beta_naive: FloatArray
    scale: FloatArray
    alpha: FloatArray


@dataclass(frozen=True, eq=False)
class HessianBlocks:
    """The blocks :math:`A, \\dots, F` of the block lower-triangular :math:`H` of the module
    docstring (of one cluster, of a stack of clusters, of their sum, or of its inverse)."""

    A: FloatArray
    B: FloatArray
    C: FloatArray
    D: FloatArray
    E: FloatArray
    F: FloatArray

    @property
    def blocks(self) -> tuple[FloatArray, ...]:
        """``(A, B, C, D, E, F)``."""
        return self.A, self.B, self.C, self.D, self.E, self.F


@dataclass(frozen=True, eq=False)
class ClusterBlocks(HessianBlocks):
    """Each cluster's blocks of :math:`H` and its estimating functions, stacked in cluster order.

    Shapes, for ``N`` clusters: ``A (N, p, p)``, ``B (N, 1, p)``, ``C (N, 1, 1)``,
    ``D (N, q, p)``, ``E (N, q, 1)``, ``F (N, q, q)``, ``U1 (N, p)``, ``U2 (N, 1)``, ``U3 (N, q)``.
    """

    U1: FloatArray
    U2: FloatArray
    U3: FloatArray
    scale_fix: bool

    def total(self, leave_out: int | None = None) -> InverseBlocks:
        """The blocks of :math:`H^{-1}` for :math:`H = \\sum_i H_i` (without cluster ``leave_out``)."""
        summed = HessianBlocks(*(ordered_sum(block, leave_out) for block in self.blocks))
        return InverseBlocks.of(summed, self.scale_fix)


@dataclass(frozen=True, eq=False)
class InverseBlocks(HessianBlocks):
    """The blocks of :math:`H^{-1}` (geepack's ``inv(Hess, level)``).

    .. math::
        A^* = A^{-1},\\ C^* = C^{-1},\\ B^* = -C^*BA^*,\\ F^* = F^{-1},\\
        E^* = -F^*EC^*,\\ D^* = -F^*(DA^* + EB^*)

    (with the scale fixed, :math:`B^*` and :math:`C^*` are zero).
    """

    @classmethod
    def of(cls, H: HessianBlocks, scale_fix: bool) -> InverseBlocks:
        """Invert the block lower-triangular :math:`H` (blockwise; stacks of them at once)."""
        A, B, C, D, E, F = H.blocks
        a_inv = np.linalg.inv(A).astype(np.float64, copy=False)
        if scale_fix:
            c_inv, b_inv = np.zeros_like(C), np.zeros_like(B)
        else:
            c_inv = np.linalg.inv(C).astype(np.float64, copy=False)
            b_inv = -c_inv @ B @ a_inv
        if F.shape[-1] > 0:
            f_inv = np.linalg.inv(F).astype(np.float64, copy=False)
            e_inv = -f_inv @ E @ c_inv
            d_inv = -f_inv @ (D @ a_inv + E @ b_inv)
        else:
            f_inv, e_inv, d_inv = F, E, D
        return cls(a_inv, b_inv, c_inv, d_inv, e_inv, f_inv)

    def influences(self, U1: FloatArray, U2: FloatArray,
                   U3: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
        """:math:`\\psi = H^{-1}U` split by block, one row per cluster (``U`` stacked by row)."""
        psi_beta = U1 @ self.A.T
        psi_scale = U1 @ self.B.T + U2 @ self.C.T
        psi_alpha = U1 @ self.D.T + U2 @ self.E.T + U3 @ self.F.T if self.F.shape[-1] else U3
        return psi_beta, psi_scale, psi_alpha


def cluster_blocks(data: GeeData, beta: FloatArray, family: Family, scale: float, alpha: FloatArray,
                   structure: WorkingCorrelation, scale_fix: bool = False) -> ClusterBlocks:
    """Every cluster's blocks :math:`A_i, \\dots, F_i` and :math:`U_{1i}, U_{2i}, U_{3i}` at the
    estimates (module docstring), computed over the clusters of each size at once."""
    eta = data.X @ beta + data.offset
    mu = family.linkinv(eta)
    variance_all = family.variance(mu)
    grad_all = (family.mu_eta(eta) / np.sqrt(variance_all))[:, None] * data.X
    pearson_all = (data.y - mu) / np.sqrt(variance_all)
    slope_all = family.variance_slope(mu)
    layout = data.layout
    n, p, q = layout.n_clusters, data.X.shape[1], structure.n_params
    A, U1 = np.zeros((n, p, p)), np.zeros((n, p))
    B, C, U2 = np.zeros((n, 1, p)), np.zeros((n, 1, 1)), np.zeros((n, 1))
    D, E, F, U3 = np.zeros((n, q, p)), np.zeros((n, q, 1)), np.zeros((n, q, q)), np.zeros((n, q))
    for group in layout.groups:
        members = group.members
        grad, r, w = grad_all[group.rows], pearson_all[group.rows], data.weights[group.rows]
        variance, v_slope = variance_all[group.rows], slope_all[group.rows]
        root_w = np.sqrt(w)
        grad_w = root_w[:, :, None] * grad
        work_cov = scale * structure.matrix(alpha, group.waves)
        grad_wt = grad_w.transpose(0, 2, 1)
        A[members] = grad_wt @ np.linalg.solve(work_cov, grad_w)
        U1[members] = (grad_wt @ np.linalg.solve(work_cov, contiguous(root_w * r)[:, :, None]))[:, :, 0]
        if not scale_fix:
            half_w = w / (2.0 * scale)
            s_slope = -2.0 * r / np.sqrt(variance) - r * r / variance * v_slope
            C[members] = half_w.sum(axis=1)[:, None, None]
            B[members] = -(contiguous(half_w * s_slope)[:, None, :] @ grad)
            U2[members] = np.sum(half_w * (r * r - scale), axis=1)[:, None]
        if q == 0 or group.size < 2:
            continue
        first, second = pair_indices(group.size)
        z = contiguous(r[:, first] * r[:, second] / scale)
        pair_w = contiguous(w[:, first] * w[:, second])
        e_slope = structure.derivative(alpha, group.waves)
        scaled = contiguous((v_slope / np.sqrt(variance))[:, :, None] * grad)
        dz_dbeta = contiguous((-r[:, first, None] * grad[:, first] - r[:, second, None] * grad[:, second]
                               - 0.5 * (r[:, first] * r[:, second])[:, :, None]
                               * (scaled[:, first] + scaled[:, second])) / scale)
        weighted = contiguous(e_slope * pair_w[:, :, None]).transpose(0, 2, 1)
        F[members] = weighted @ e_slope
        D[members] = -(weighted @ dz_dbeta)
        if not scale_fix:
            E[members] = weighted @ (z / scale)[:, :, None]
        U3[members] = (weighted @ (z - structure.pair_correlations(alpha, group.waves))[:, :, None])[:, :, 0]
    if q > 0:
        for k in np.flatnonzero(layout.sizes == 1):
            if k > 0:  # geepack's one-row cluster repeats the previous cluster's blocks (module docstring)
                D[k], E[k], F[k], U3[k] = D[k - 1], E[k - 1], F[k - 1], U3[k - 1]
    return ClusterBlocks(A, B, C, D, E, F, U1=U1, U2=U2, U3=U3, scale_fix=scale_fix)


def geepack_covariance(blocks: ClusterBlocks) -> GeeCovariance:
    """Sandwich covariances of :math:`\\hat\\beta`, :math:`\\hat\\phi`, :math:`\\hat\\alpha`, as geepack computes them.

    With the blocks of :math:`H^{-1}` (:class:`InverseBlocks`), the influences of cluster ``i`` are

    .. math::
        \\psi_{\\beta,i} = A^*U_{1i}, \\quad
        \\psi_{\\phi,i} = B^*U_{1i} + C^*U_{2i}, \\quad
        \\psi_{\\alpha,i} = D^*U_{1i} + E^*U_{2i} + F^*U_{3i},

    and each covariance is the sum of outer products of its influences.

    Parameters
    ----------
    blocks : ClusterBlocks
        Every cluster's blocks at the estimates (:func:`cluster_blocks`).
    """
    inverse = blocks.total()
    psi_beta, psi_scale, psi_alpha = inverse.influences(blocks.U1, blocks.U2, blocks.U3)
    return GeeCovariance(
        beta=psi_beta.T @ psi_beta,
        beta_naive=inverse.A,
        scale=psi_scale.T @ psi_scale,
        alpha=psi_alpha.T @ psi_alpha,
    )
