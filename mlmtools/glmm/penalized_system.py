"""PIRLS's linear algebra: :math:`Z\\Lambda_\\theta` and the factor of the penalized system.

With :math:`A = \\Lambda^\\top Z^\\top W Z\\Lambda + I`, :func:`mlmtools.glmm.pirls.z_lambda` returns,
for one :math:`\\theta`, an object with ``times(u)``
(:math:`Z\\Lambda u`), ``t_times(v)`` (:math:`\\Lambda^\\top Z^\\top v`) and ``factor(w)``, the
Cholesky factor :math:`LL^\\top = A` at working weights :math:`w`. The factor has ``solve``
(:math:`A^{-1}b`), ``log_det`` (:math:`\\log|A| = \\log|L|^2`), ``l_diagonal`` and
``diagonal_blocks_of_inverse`` (the per-level blocks of :math:`A^{-1}`).

* A single scalar term ``(1 | g)`` makes :math:`A` diagonal: :class:`ScalarZLambda`.
* Every other design uses the block elimination planned once per model
  (:class:`~mlmtools.glmm.elimination.EliminationPlan`): per call only the values of the fixed
  pattern are formed (one ``bincount``), each eliminated term costs a few vector operations,
  and only a crossed design's dense tail is factored by LAPACK (:class:`BlockedZLambda`).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg.lapack import dpotrf, dtrtrs

from mlmtools.glmm.elimination import EliminationPlan, lower_pairs
from mlmtools.lmm.problem import TermLayout


class DiagonalFactor:
    """:math:`A = \\mathrm{diag}(a)`: the system of a single scalar term."""

    def __init__(self, diagonal: np.ndarray):
        self.diagonal = diagonal

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        solution: np.ndarray = rhs / (self.diagonal if rhs.ndim == 1 else self.diagonal[:, None])
        return solution

    @property
    def log_det(self) -> float:
        return float(np.sum(np.log(self.diagonal)))

    @property
    def l_diagonal(self) -> np.ndarray:
        diagonal: np.ndarray = np.sqrt(self.diagonal)
        return diagonal

    def diagonal_blocks_of_inverse(self, terms: tuple[TermLayout, ...]) -> list[np.ndarray]:
        return [(1.0 / self.diagonal)[:, None, None]]


class ScalarZLambda:
    """:math:`Z\\Lambda_\\theta` for one scalar term: row i has the single entry
    :math:`\\theta z_i` in the column of its level.

    Sums over the observations of each level are products with the 0/1 level indicator
    ``levels`` (a CSR matrix, level by observation): they add in observation order, the
    numbers ``numpy.bincount`` gives.
    """

    def __init__(self, codes: np.ndarray, levels: sp.csr_matrix, z: np.ndarray, theta: float):
        self.codes = codes
        self.levels = levels
        self.values = theta * z
        self.squares = self.values**2

    def times(self, u: np.ndarray) -> np.ndarray:
        product: np.ndarray = self.values * u[self.codes]
        return product

    def t_times(self, v: np.ndarray) -> np.ndarray:
        sums: np.ndarray = self.levels @ (self.values * v if v.ndim == 1 else self.values[:, None] * v)
        return sums

    def factor(self, w: np.ndarray) -> DiagonalFactor:
        return DiagonalFactor(self.levels @ (w * self.squares) + 1.0)


def _level_factors(entries: np.ndarray, k: int) -> tuple[np.ndarray, float]:
    """:math:`L_j^{-1}` of every level's block from its lower triangle (row by row, shape
    ``(n_levels, k(k+1)/2)``), and :math:`\\sum_j\\log|A_j|`. For ``k = 1`` the result is the
    vector :math:`1/\\sqrt{a_j}`; otherwise ``(n_levels, k, k)``."""
    if k == 1:
        a = entries[:, 0]
        return 1.0 / np.sqrt(a), float(np.sum(np.log(a)))
    if k == 2:
        a, b, c = entries[:, 0], entries[:, 1], entries[:, 2]
        l11 = np.sqrt(a)
        l21 = b / l11
        schur = c - l21 * l21
        inverse = np.zeros((len(a), 2, 2))
        inverse[:, 0, 0] = 1.0 / l11
        inverse[:, 1, 1] = 1.0 / np.sqrt(schur)
        inverse[:, 1, 0] = -l21 * inverse[:, 0, 0] * inverse[:, 1, 1]
        return inverse, float(np.sum(np.log(a * schur)))
    rows, cols = lower_pairs(k)
    blocks = np.zeros((entries.shape[0], k, k))
    blocks[:, rows, cols] = entries
    blocks[:, cols, rows] = entries
    L = np.linalg.cholesky(blocks)
    return np.linalg.inv(L), 2.0 * float(np.sum(np.log(np.diagonal(L, axis1=1, axis2=2))))


class BlockedFactor:
    """The factor of :math:`A` computed by the steps of an elimination plan.

    For each eliminated term it keeps :math:`L_{jj}^{-1}` per level and the entries of
    :math:`L_{rj}` (one row of ``k`` numbers per (row, level) pair); the tail is a dense lower
    triangle.
    """

    def __init__(self, plan: EliminationPlan, values: np.ndarray):
        self.plan = plan
        self.level_inverses: list[np.ndarray] = []
        self.below: list[np.ndarray] = []
        log_det = 0.0
        scalar_diagonals = []
        for step in plan.steps:
            if step.k == 1:
                diagonal = values[step.diagonal[:, 0]]
                inverse = 1.0 / np.sqrt(diagonal)
                scalar_diagonals.append(diagonal)
                below = values[step.pair_positions[:, 0]] * inverse[step.pair_level]
                update = below[step.update_first] * below[step.update_second]
            else:
                inverse, step_log_det = _level_factors(values[step.diagonal], step.k)
                log_det += step_log_det
                below = np.einsum("pa,pba->pb", values[step.pair_positions], inverse[step.pair_level])
                update = np.einsum("pa,pa->p", below[step.update_first], below[step.update_second])
            values -= np.bincount(step.update_positions, update, minlength=len(values))
            self.level_inverses.append(inverse)
            self.below.append(below)
        self.tail: np.ndarray | None = None
        if plan.tail_size:
            work = np.zeros((plan.tail_size, plan.tail_size), order="F")
            work.ravel(order="F")[plan.tail_flat] = values[plan.tail_positions]
            tail, info = dpotrf(work, lower=1, clean=1, overwrite_a=1)
            if info != 0:
                raise np.linalg.LinAlgError("the penalized system is not positive definite")
            self.tail = tail
            log_det += 2.0 * float(np.log(np.diag(tail)).sum())
        if scalar_diagonals:
            log_det += float(np.log(np.concatenate(scalar_diagonals)).sum())
        self.log_det = log_det

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """:math:`A^{-1} b` (a vector, or each column of a matrix)."""
        if rhs.ndim == 2:
            return np.column_stack([self._solve_vector(rhs[:, j]) for j in range(rhs.shape[1])])
        return self._solve_vector(rhs)

    def _solve_vector(self, rhs: np.ndarray) -> np.ndarray:
        """Forward substitution through the steps and the tail, then back again:
        :math:`y_j = L_{jj}^{-1}b_j`, :math:`b_r \\leftarrow b_r - L_{rj}y_j`; then
        :math:`x_j = L_{jj}^{-\\top}(y_j - \\sum_r L_{rj}^\\top x_r)`."""
        plan = self.plan
        x = np.array(rhs, dtype=float)
        for step, inverse, below in zip(plan.steps, self.level_inverses, self.below):
            if step.k == 1:
                solved = x[step.start:step.stop] * inverse
                x[step.start:step.stop] = solved
                if len(below):
                    x[step.stop:] -= np.bincount(step.pair_row_below, below * solved[step.pair_level],
                                                 minlength=plan.q - step.stop)
                continue
            solved = np.matmul(inverse, x[step.start:step.stop].reshape(step.n_levels, step.k, 1))[:, :, 0]
            x[step.start:step.stop] = solved.ravel()
            if len(below):
                x[step.stop:] -= np.bincount(step.pair_row_below, np.einsum("pa,pa->p", below, solved[step.pair_level]),
                                             minlength=plan.q - step.stop)
        if self.tail is not None:
            tail, _ = dtrtrs(self.tail, x[plan.tail_start:], lower=1)
            x[plan.tail_start:] = dtrtrs(self.tail, tail, lower=1, trans=1)[0]
        for step, inverse, below in zip(reversed(plan.steps), reversed(self.level_inverses), reversed(self.below)):
            block = x[step.start:step.stop]
            if len(below):
                later = x[step.pair_row]
                if step.k == 1:
                    block = block - np.bincount(step.pair_level, below * later, minlength=step.n_levels)
                else:
                    block = block - np.bincount(step.pair_columns, (below * later[:, None]).ravel(),
                                                minlength=step.stop - step.start)
            if step.k == 1:
                x[step.start:step.stop] = block * inverse
            else:
                shaped = block.reshape(step.n_levels, 1, step.k)
                x[step.start:step.stop] = np.matmul(shaped, inverse).ravel()
        return x

    @property
    def l_diagonal(self) -> np.ndarray:
        parts = []
        for step, inverse in zip(self.plan.steps, self.level_inverses):
            parts.append(1.0 / (inverse if step.k == 1 else np.diagonal(inverse, axis1=1, axis2=2).ravel()))
        if self.tail is not None:
            parts.append(np.diag(self.tail))
        return np.concatenate(parts)

    def diagonal_blocks_of_inverse(self, terms: tuple[TermLayout, ...]) -> list[np.ndarray]:
        """The ``(n_levels, k, k)`` blocks :math:`[A^{-1}]_{jj}` of every term: in closed form
        for a single term, else from :math:`A^{-1}` column by column."""
        if len(self.plan.steps) == 1 and self.tail is None:
            step, inverse = self.plan.steps[0], self.level_inverses[0]
            if step.k == 1:
                return [(inverse * inverse)[:, None, None]]
            return [np.einsum("lba,lbc->lac", inverse, inverse)]
        inverse = self.solve(np.eye(self.plan.q))
        blocks = []
        for t in terms:
            levels = np.arange(t.b_slice.start, t.b_slice.stop).reshape(t.n_levels, t.k)
            blocks.append(inverse[levels[:, :, None], levels[:, None, :]])
        return blocks


class BlockedZLambda:
    """:math:`Z\\Lambda_\\theta` for any design, with the factor of a block elimination plan.

    Row i of :math:`Z\\Lambda` has the numbers ``values[i]`` (its term rows times the templates)
    in the columns ``plan.columns[i]``.
    """

    def __init__(self, plan: EliminationPlan, terms: tuple[TermLayout, ...],
                 term_matrices: tuple[np.ndarray, ...], theta: np.ndarray):
        self.plan = plan
        if all(t.k == 1 for t in terms):  # every template is the number theta_t
            self.values = plan.stacked_columns * theta[plan.column_theta]
        else:
            self.values = np.concatenate([raw @ t.template(theta) for t, raw in zip(terms, term_matrices)], axis=1)
        self.products = self.values[:, plan.pair_first] * self.values[:, plan.pair_second]

    def times(self, u: np.ndarray) -> np.ndarray:
        product: np.ndarray = np.einsum("ia,ia->i", self.values, u[self.plan.columns])
        return product

    def t_times(self, v: np.ndarray) -> np.ndarray:
        columns, q = self.plan.flat_columns, self.plan.q
        if v.ndim == 1:
            return np.bincount(columns, (self.values * v[:, None]).ravel(), minlength=q)
        return np.column_stack([np.bincount(columns, (self.values * v[:, j:j + 1]).ravel(), minlength=q)
                                for j in range(v.shape[1])])

    def factor(self, w: np.ndarray) -> BlockedFactor:
        plan = self.plan
        values = np.bincount(plan.observation_positions, (w[:, None] * self.products).ravel(),
                             minlength=plan.n_entries)
        values[plan.diagonal_positions] += 1.0
        return BlockedFactor(plan, values)
