"""The blocked Cholesky factorization of the penalized system, for models with several random-effects terms.

With the split of :mod:`mlmtools.lmm.crossed_design` (first term 1, later terms 2),

.. math::
    L = \\begin{pmatrix} L_{11} & 0 \\\\ L_{21} & L_{22} \\end{pmatrix},\\qquad
    L_{21} = \\Lambda_2^\\top S_{21}\\Lambda_1 L_{11}^{-\\top},\\qquad
    L_{22}L_{22}^\\top = \\Lambda_2^\\top S_{22}\\Lambda_2 + I - L_{21}L_{21}^\\top,

and each block is kept in its natural form: :math:`L_{11}` block diagonal, one :math:`k_1\\times k_1`
block per level, factored in closed form (:func:`~mlmtools.lmm.level_blocks.first_term_factor`);
:math:`L_{21}` sparse, on the fixed pattern of :math:`S_{21}` (only its values change with
:math:`\\theta`); :math:`L_{22}` dense: once the first term is eliminated the later terms fill in (for
randomly crossed factors the Schur complement is nearly dense, as in MixedModels.jl's ``L[2,2]``), and a
dense LAPACK Cholesky is the fastest way to factor it.  The Schur complement's values come from
:class:`~mlmtools.lmm.crossed_design.SchurPattern` by one sparse matrix-vector product.  Then

.. math::
    L_{22}R_{ZXy,2} = \\Lambda_2^\\top Z_2^\\top W[X\\ y] - L_{21}R_{ZXy,1},

and :math:`[X\\ y]` ends as in the dense factorization (:mod:`mlmtools.lmm.pls`).  One evaluation costs
:math:`O(\\mathrm{nnz}(P) + q_2^3/3)` in time and :math:`O(q_2^2)` in memory, against the dense
factorization's :math:`O(q_1 q_2^2)` and :math:`O(q_1 q_2)`.  Every step runs on one BLAS thread, so
the numbers do not depend on the machine's load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dpotrf, dtrtri

from mlmtools._blas import single_blas_thread
from mlmtools.lmm.crossed_design import CrossedDesign
from mlmtools.lmm.level_blocks import PenalizedFactor, criterion, first_term_factor
from mlmtools.lmm.problem import LmmProblem

#: Columns per batch when a computation needs :math:`L_{22}^{-1}` times many columns (bounds memory).
BATCH_ENTRIES = 1 << 20


@dataclass(frozen=True)
class BlockedFactor(PenalizedFactor):
    """:class:`~mlmtools.lmm.level_blocks.PenalizedFactor` with ``L21`` sparse (q2 x q1, the pattern of
    :math:`S_{21}`)."""

    L21: sp.csr_matrix

    def coupling_transpose_times(self, u2: np.ndarray) -> np.ndarray:
        product: np.ndarray = (self.L21.T @ u2).reshape(self.RZXY1.shape[:2])
        return product


def crossed_of(problem: LmmProblem) -> CrossedDesign:
    """The problem's :class:`~mlmtools.lmm.crossed_design.CrossedDesign` (a model factored blockwise)."""
    if problem.crossed is None:
        raise ValueError("the model is not factored blockwise (see mlmtools.lmm.problem.uses_blocked_factor)")
    return problem.crossed


def rest_lambda_t(design: CrossedDesign, theta: np.ndarray, M: np.ndarray) -> np.ndarray:
    """:math:`\\Lambda_2^\\top M` for a matrix ``M`` with one row per later-term coefficient."""
    if design.all_scalar:
        scaled: np.ndarray = theta[design.rest_theta_index][:, None] * M
        return scaled
    out = np.empty_like(M)
    for t in design.rest:
        rows = design.later_rows(t)
        out[rows] = (t.template(theta).T @ M[rows].reshape(t.n_levels, t.k, -1)).reshape(t.n_levels * t.k, -1)
    return out


def coupling_factor(design: CrossedDesign, theta: np.ndarray, T1: np.ndarray, L11_inv: np.ndarray) -> sp.csr_matrix:
    """:math:`L_{21} = \\Lambda_2^\\top S_{21} (\\Lambda_1 L_{11}^{-\\top})`, block by block on the fixed pattern."""
    coupling = design.coupling
    if design.all_scalar:
        right_scalar = T1[0, 0] * L11_inv[:, 0, 0]
        data = coupling.data * theta[design.coupling_theta_index] * right_scalar[design.coupling_cols]
    else:
        right = T1 @ L11_inv.transpose(0, 2, 1)  # T_1 L_j^{-T}, one per first-term level
        data = np.empty_like(coupling.data)
        for t, positions, levels in zip(design.rest, design.block_positions, design.block_levels):
            data[positions] = np.einsum("ba,nbc,ncd->nad", t.template(theta), coupling.data[positions],
                                        right[levels])
    return sp.csr_matrix((data, coupling.indices, coupling.indptr), shape=coupling.shape)


def level_covariances(T1: np.ndarray, L11_inv: np.ndarray) -> np.ndarray:
    """:math:`C_j = T_1 A_{11,j}^{-1} T_1^\\top = (T_1 L_j^{-\\top})(T_1 L_j^{-\\top})^\\top`, the upper
    triangles row by row, shape (l1, k1(k1+1)/2)."""
    if len(T1) == 1:
        right_scalar = T1[0, 0] * L11_inv[:, 0, 0]
        squared: np.ndarray = (right_scalar * right_scalar)[:, None]
        return squared
    right = T1 @ L11_inv.transpose(0, 2, 1)
    covariances = right @ right.transpose(0, 2, 1)
    upper_rows, upper_cols = np.triu_indices(len(T1))
    selected: np.ndarray = covariances[:, upper_rows, upper_cols]
    return selected


def _scaled_full_schur(design: CrossedDesign, theta: np.ndarray, work: np.ndarray) -> np.ndarray:
    """From the lower triangle of :math:`G` (unscaled by :math:`\\Lambda_2`) in ``work``:
    :math:`\\Lambda_2^\\top G \\Lambda_2 + I` in full, Fortran order."""
    full = work + np.tril(work, -1).T
    scaled = rest_lambda_t(design, theta, rest_lambda_t(design, theta, full).T)
    scaled[np.diag_indices_from(scaled)] += 1.0
    return np.asfortranarray(scaled)


def schur_factor(design: CrossedDesign, theta: np.ndarray, T1: np.ndarray, L11_inv: np.ndarray,
                 L21: sp.csr_matrix, work: np.ndarray | None = None) -> np.ndarray:
    """:math:`L_{22}`: the Cholesky factor of the Schur complement (lower; the upper triangle is zero
    unless ``work`` is given).

    ``work`` (q2 x q2, Fortran order) is overwritten and returned when the design is all-scalar; the
    optimizer's evaluator passes it and reads only the lower triangle.

    Raises
    ------
    numpy.linalg.LinAlgError
        If the Schur complement is not positive definite (as a dense Cholesky would).
    """
    q2, schur = design.q2, design.schur
    clean = work is None
    if work is None:
        work = np.zeros((q2, q2), order="F")
    else:
        work.fill(0.0)
    target = work.ravel(order="F")
    if schur.products is None:
        target[schur.flat] = schur.gram
        work = _scaled_full_schur(design, theta, work)
        work -= (L21 @ L21.T).toarray()
    else:
        values = schur.gram - schur.products @ level_covariances(T1, L11_inv).ravel()
        if design.all_scalar:
            scale = theta[design.rest_theta_index]
            values *= scale[schur.rows] * scale[schur.cols]
            values[schur.diagonal] += 1.0
            target[schur.flat] = values
        else:
            target[schur.flat] = values
            work = _scaled_full_schur(design, theta, work)
    L22, info = dpotrf(work, lower=1, clean=int(clean), overwrite_a=1)
    if info != 0:
        raise np.linalg.LinAlgError("the penalized system is not positive definite")
    factor: np.ndarray = L22
    return factor


def factor_blockwise(problem: LmmProblem, theta: np.ndarray, work: np.ndarray | None = None) -> BlockedFactor:
    """The blocked factorization of the module docstring at ``theta`` (``work``: see :func:`schur_factor`)."""
    design = crossed_of(problem)
    T1 = design.first.template(theta)
    L11_inv, RZXY1, ldL2 = first_term_factor(problem, T1)
    flat = RZXY1.reshape(-1, RZXY1.shape[-1])
    with single_blas_thread():
        L21 = coupling_factor(design, theta, T1, L11_inv)
        L22 = schur_factor(design, theta, T1, L11_inv, L21, work)
        rhs = rest_lambda_t(design, theta, problem.ztxy_rest) - L21 @ flat
        RZXY2 = solve_triangular(L22, rhs, lower=True, check_finite=False)
        ldL2 += 2.0 * float(np.sum(np.log(np.diag(L22))))
        R = np.linalg.cholesky(problem.xytxy - flat.T @ flat - RZXY2.T @ RZXY2).T
    return BlockedFactor(L11_inv=L11_inv, L22=L22, RZXY1=RZXY1, RZXY2=RZXY2, R=R, ldL2=ldL2, L21=L21)


class BlockedDeviance:
    """The profiled deviance of a model factored blockwise, as a function of theta (what the optimizer
    minimises): :func:`~mlmtools.lmm.level_blocks.criterion` of :func:`factor_blockwise`, with the
    Schur complement's work array allocated once."""

    def __init__(self, problem: LmmProblem, reml: bool):
        design = crossed_of(problem)
        self.problem, self.reml = problem, reml
        self.work = np.zeros((design.q2, design.q2), order="F")

    def __call__(self, theta: np.ndarray) -> float:
        problem = self.problem
        try:
            f = factor_blockwise(problem, np.asarray(theta, dtype=float), self.work)
        except np.linalg.LinAlgError:
            return float("inf")
        pwrss = f.pwrss
        if not pwrss > 0:
            return float("inf")
        return criterion(problem.n, problem.p, f.ldL2, f.ldRX2 if self.reml else 0.0, problem.log_det_w,
                         pwrss, self.reml)


def column_batches(n_columns: int, rows: int, step: int = 1) -> list[slice]:
    """Slices of about :data:`BATCH_ENTRIES` / ``rows`` columns (a multiple of ``step``, e.g. whole
    first-term levels) covering ``n_columns``."""
    width = max(1, BATCH_ENTRIES // max(rows, 1) // step) * step
    return [slice(start, min(start + width, n_columns)) for start in range(0, n_columns, width)]


def blocked_conditional_variances(problem: LmmProblem, theta: np.ndarray, sigma: float) -> list[np.ndarray]:
    """:func:`mlmtools.lmm.pls.conditional_variances` through the blocked factor.

    With :math:`A^{-1} = L^{-\\top}L^{-1}`, the first term's diagonal blocks are
    :math:`L_{11,j}^{-\\top}(I + W_j^\\top W_j)L_{11,j}^{-1}` with :math:`W = L_{22}^{-1}L_{21}` (taken
    a batch of columns at a time), and the later terms' are those of :math:`L_{22}^{-\\top}L_{22}^{-1}`.
    """
    design = crossed_of(problem)
    f = factor_blockwise(problem, theta)
    first, k1 = design.first, design.first.k
    with single_blas_thread():
        inner = np.zeros((first.n_levels, k1, k1))
        dense_columns = f.L21.tocsc()
        for batch in column_batches(design.q1, design.q2, k1):
            solved = solve_triangular(f.L22, dense_columns[:, batch].toarray(), lower=True, check_finite=False)
            blocks = solved.reshape(design.q2, -1, k1)
            inner[batch.start // k1:batch.stop // k1] += np.einsum("rla,rlb->lab", blocks, blocks)
        inner[:, np.arange(k1), np.arange(k1)] += 1.0
        inverse_blocks = np.einsum("lba,lbc,lcd->lad", f.L11_inv, inner, f.L11_inv)
        L22_inv, _ = dtrtri(f.L22, lower=1)
    out = [sigma**2 * np.einsum("ab,lbc,dc->lad", first.template(theta), inverse_blocks, first.template(theta))]
    for t in design.rest:
        columns = L22_inv[:, design.later_rows(t)].reshape(design.q2, t.n_levels, t.k)
        diagonal = np.einsum("rla,rlb->lab", columns, columns)
        T = t.template(theta)
        out.append(sigma**2 * np.einsum("ab,lbc,dc->lad", T, diagonal, T))
    return out
