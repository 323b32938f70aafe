"""A linear mixed model reduced to the cross-products its deviance needs (lme4's ``mkReTrms``
and the set-up of ``mkLmerDevfun``).

Parameterization (used everywhere in ``mlmtools``)
------------------------------------------------------
The model is :math:`y \\mid b \\sim N(X\\beta + Zb + o,\\ \\sigma^2 W^{-1})` with
:math:`b = \\Lambda_\\theta u` and :math:`u \\sim N(0, \\sigma^2 I_q)`.  Each random-effects
term :math:`i` has a :math:`k_i \\times k_i` lower-triangular template :math:`T_i`;
:math:`\\theta` stacks the lower triangles of the templates, column by column, term by term.
:math:`\\Lambda_\\theta` is block diagonal with one copy of :math:`T_i` per level of term
:math:`i`, and :math:`b` is ordered term by term, level-major within a term (as lme4).

Two records hold the numbers, so that a new response reuses everything else
(:meth:`mlmtools.lmm.model.LinearMixedModel.refit`): :class:`DesignProducts`, the
cross-products of :math:`X` and :math:`Z` (computed once per model), and :class:`LmmProblem`,
which adds those that involve the response.  The penalized least squares problem they define
is solved in :mod:`mlmtools.lmm.pls`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, cached_property

import numpy as np
import scipy.sparse as sp

from mlmtools.frame import ModelFrame
from mlmtools.lmm.crossed_design import CrossedDesign, make_crossed_design


@cache
def _row_major_lower(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a k x k lower triangle, row by row (``np.tril_indices``,
    read-only)."""
    rows, cols = np.tril_indices(k)
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


@cache
def _column_major_lower(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of a k x k lower triangle, column by column (read-only)."""
    rows, cols = _row_major_lower(k)
    order = np.lexsort((rows, cols))
    rows, cols = rows[order], cols[order]
    rows.flags.writeable = cols.flags.writeable = False
    return rows, cols


@dataclass(frozen=True)
class TermLayout:
    """Where one random-effects term sits in theta and in b.

    Attributes
    ----------
    group : str
        Grouping factor name.
    columns : tuple of str
        Names of the term's columns.
    levels : tuple of str
        Level labels.
    k : int
        Number of columns (size of the template :math:`T`).
    n_levels : int
        Number of levels.
    theta_slice : slice
        Position of the term's parameters in theta.
    b_slice : slice
        Position of the term's coefficients in b (and u).
    """

    group: str
    columns: tuple[str, ...]
    levels: tuple[str, ...]
    k: int
    n_levels: int
    theta_slice: slice
    b_slice: slice

    @property
    def _lower_positions(self) -> tuple[np.ndarray, np.ndarray]:
        return _column_major_lower(self.k)

    def template(self, theta: np.ndarray) -> np.ndarray:
        """The lower-triangular template :math:`T` filled column-major from theta."""
        t = np.zeros((self.k, self.k))
        t[self._lower_positions] = theta[self.theta_slice]
        return t

    def template_basis(self) -> np.ndarray:
        """:math:`\\partial T / \\partial\\theta_m` for each of the term's parameters,
        shape ``(n_par, k, k)`` (each a single 1 in the lower triangle)."""
        rows, cols = self._lower_positions
        basis = np.zeros((len(rows), self.k, self.k))
        basis[np.arange(len(rows)), rows, cols] = 1.0
        return basis

    def diagonal_positions(self) -> np.ndarray:
        """Indices (within theta) of the template's diagonal elements."""
        positions = []
        index = self.theta_slice.start
        for col in range(self.k):
            positions.append(index)
            index += self.k - col
        return np.asarray(positions, dtype=int)


#: A model with several random-effects terms is factored blockwise (:mod:`mlmtools.lmm.blocked_factor`)
#: when the coupling block :math:`Z_2^\\top W Z_1` of its later terms and its first term, held dense, would
#: have more entries than this (:math:`q_1 q_2`): from about there the blocked fit is the faster one.  Smaller
#: models keep the dense factorization of :mod:`mlmtools.lmm.pls`, with which every fixture and chapter
#: number was made (the largest has :math:`q_1 q_2 = 324`).
BLOCKED_MIN_COUPLING = 5_000


def uses_blocked_factor(terms: Sequence[TermLayout]) -> bool:
    """Whether a model with these random-effects terms is factored blockwise
    (:data:`BLOCKED_MIN_COUPLING`).

    Examples
    --------
    sleepstudy's uncorrelated slope model is small, so it keeps the dense factorization; asked for, the
    blocked one gives the same criterion:

    >>> import numpy as np
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.frame import build_model
    >>> from mlmtools.lmm.pls import deviance
    >>> frame = build_model("Reaction ~ Days + (1 | Subject) + (0 + Days | Subject)", sleepstudy())
    >>> dense = make_problem(frame)
    >>> blocked = make_problem(frame, design_products(frame, blocked=True))
    >>> uses_blocked_factor(dense.terms), dense.crossed is None, blocked.crossed is None
    (False, True, False)
    >>> theta = np.array([0.9, 0.2])
    >>> print(f"{deviance(dense, theta, True):.6f} {deviance(blocked, theta, True):.6f}")
    1744.338752 1744.338752
    """
    if len(terms) < 2:
        return False
    q2 = sum(t.k * t.n_levels for t in terms[1:])
    return terms[0].k * terms[0].n_levels * q2 > BLOCKED_MIN_COUPLING


@dataclass(frozen=True)
class LmmProblem:
    """A linear mixed model reduced to the cross-products the deviance needs.

    Built once from a :class:`~mlmtools.frame.model_frame.ModelFrame` by :func:`make_problem`.
    The response is stored after removing the offset and the weighted least-squares fit
    ``X @ beta_shift`` (this keeps ``pwrss`` free of cancellation; the shift is added
    back to :math:`\\hat\\beta`), and is appended to :math:`X` as its last column
    (``XY = [X, y_work]``) in every cross-product.
    """

    n: int
    p: int
    terms: tuple[TermLayout, ...]
    lower: np.ndarray
    log_det_w: float
    beta_shift: np.ndarray
    # first term, per level j: Z_j'WZ_j (l, k, k) and Z_j'W[X y] (l, k, p+1); the same numbers
    # by entry: the lower triangle of Z_j'WZ_j row by row (k(k+1)/2, l) and (k, l, p+1)
    ztz1: np.ndarray
    ztxy1: np.ndarray
    ztz1_entries: np.ndarray
    ztxy1_rows: np.ndarray
    # remaining terms: dense (empty when ``crossed`` is set), and Z_r'W[X y]
    ztz_rest: np.ndarray
    zrt_z1: np.ndarray
    ztxy_rest: np.ndarray
    # [X y]'W[X y]
    xytxy: np.ndarray
    # raw pieces for fitted values
    X: np.ndarray
    y_work: np.ndarray
    weights: np.ndarray
    term_codes: tuple[np.ndarray, ...]
    term_matrices: tuple[np.ndarray, ...]
    # the later terms' sparse structure, for models factored blockwise (:func:`uses_blocked_factor`)
    crossed: CrossedDesign | None = None

    @property
    def n_theta(self) -> int:
        return len(self.lower)

    @property
    def q(self) -> int:
        stop: int = self.terms[-1].b_slice.stop
        return stop

    @cached_property
    def Z(self) -> sp.csr_matrix:
        """The random-effects design :math:`Z` (sparse, ``n x q``)."""
        blocks = [_term_design(codes, raw, t) for codes, raw, t
                  in zip(self.term_codes, self.term_matrices, self.terms)]
        return sp.csr_matrix(sp.hstack(blocks, format="csr"))

    def z_times(self, b: np.ndarray) -> np.ndarray:
        """:math:`Z b`, term by term, without forming :math:`Z`."""
        out = np.zeros(self.n)
        for codes, raw, t in zip(self.term_codes, self.term_matrices, self.terms):
            effects = b[t.b_slice].reshape(t.n_levels, t.k)
            out += np.einsum("ij,ij->i", raw, effects[codes])
        return out


def _term_design(codes: np.ndarray, raw: np.ndarray, t: TermLayout) -> sp.csr_matrix:
    """The term's block of Z: row i holds ``raw[i]`` in the columns of level ``codes[i]``."""
    n = len(codes)
    cols = (codes[:, None] * t.k + np.arange(t.k)[None, :]).ravel()
    return sp.csr_matrix((raw.ravel(), cols, np.arange(0, n * t.k + 1, t.k)),
                         shape=(n, t.k * t.n_levels))


def _layouts(mf: ModelFrame) -> tuple[TermLayout, ...]:
    layouts = []
    theta_pos = 0
    b_pos = 0
    for term in mf.terms:
        k = len(term.columns)
        n_levels = len(term.levels)
        n_par = k * (k + 1) // 2
        layouts.append(TermLayout(
            group=term.group, columns=tuple(term.columns), levels=tuple(term.levels), k=k,
            n_levels=n_levels, theta_slice=slice(theta_pos, theta_pos + n_par),
            b_slice=slice(b_pos, b_pos + k * n_levels)))
        theta_pos += n_par
        b_pos += k * n_levels
    return tuple(layouts)


def _level_sums(codes: np.ndarray, values: np.ndarray, n_levels: int) -> np.ndarray:
    """Sum the rows of ``values`` (n, m) within each level, in row order: result (n_levels, m)."""
    out = np.empty((n_levels, values.shape[1]))
    for j in range(values.shape[1]):
        out[:, j] = np.bincount(codes, weights=values[:, j], minlength=n_levels)
    return out



@dataclass(frozen=True)
class DesignProducts:
    """What a model's cross-products are before the response enters: computed once per model.

    Attributes
    ----------
    n, p : int
        Number of observations and of fixed effects.
    terms : tuple of TermLayout
        Where each random-effects term sits in theta and in b.
    lower : numpy.ndarray
        Lower bounds of theta (0 on template diagonals, ``-inf`` elsewhere).
    weights : numpy.ndarray
        Prior weights :math:`w` (ones when the model has none); ``weighted`` says which.
    weighted : bool
    log_det_w : float
        :math:`\\log|W| = \\sum_i \\log w_i`.
    X, weighted_X : numpy.ndarray
        :math:`X` and :math:`WX` (the same array when unweighted).
    normal_matrix : numpy.ndarray
        :math:`X^\\top W X`, for the shift that centres the response.
    term_codes, term_matrices : tuple of numpy.ndarray
        Per term, the level of each row and the raw term matrix.
    ztz1, ztz1_entries : numpy.ndarray
        First term, per level :math:`j`: :math:`Z_j^\\top W Z_j` (l, k, k), and its lower
        triangle entry by entry, row by row (k(k+1)/2, l).
    ztz_rest, zrt_z1 : numpy.ndarray
        The remaining terms (dense): :math:`Z_r^\\top W Z_r` and :math:`Z_r^\\top W Z_1`; empty when
        ``crossed`` is set.
    rest_design : scipy.sparse.csr_matrix or None
        :math:`Z_r`, the design of the remaining terms (None with one term).
    crossed : ~mlmtools.lmm.crossed_design.CrossedDesign or None
        The sparse structure of the remaining terms, for a model factored blockwise
        (:func:`uses_blocked_factor`); None otherwise.
    """

    n: int
    p: int
    terms: tuple[TermLayout, ...]
    lower: np.ndarray
    weights: np.ndarray
    weighted: bool
    log_det_w: float
    X: np.ndarray
    weighted_X: np.ndarray
    normal_matrix: np.ndarray
    term_codes: tuple[np.ndarray, ...]
    term_matrices: tuple[np.ndarray, ...]
    ztz1: np.ndarray
    ztz1_entries: np.ndarray
    ztz_rest: np.ndarray
    zrt_z1: np.ndarray
    rest_design: sp.csr_matrix | None
    crossed: CrossedDesign | None = None


def design_products(mf: ModelFrame, blocked: bool | None = None) -> DesignProducts:
    """The cross-products of :math:`X` and :math:`Z` a model frame defines (no response).

    Parameters
    ----------
    mf : ModelFrame
        Output of :func:`mlmtools.frame.model_frame.build_model`; needs at least one random term.
    blocked : bool, optional
        Whether a model with several terms keeps the sparse structure of its later terms for the
        blocked factorization (``crossed``) instead of their dense cross-products; by default as
        :func:`uses_blocked_factor` decides from the sizes.

    Returns
    -------
    DesignProducts
    """
    if not mf.terms:
        raise ValueError("a linear mixed model needs at least one random-effects term")
    X = np.asarray(mf.X, dtype=float)
    n, p = X.shape
    weighted = mf.weights is not None
    w = np.asarray(mf.weights, dtype=float) if weighted else np.ones(n)
    wX = X * w[:, None] if weighted else X

    terms = _layouts(mf)
    codes = tuple(np.asarray(term.codes, dtype=int) for term in mf.terms)
    raws = tuple(np.asarray(term.X, dtype=float).reshape(n, t.k) for term, t in zip(mf.terms, terms))
    lower = np.full(terms[-1].theta_slice.stop, -np.inf)
    for t in terms:
        lower[t.diagonal_positions()] = 0.0

    first = terms[0]
    k1, l1 = first.k, first.n_levels
    x1 = raws[0]
    rows, cols = _row_major_lower(k1)
    entries = _level_sums(codes[0], np.column_stack([w * x1[:, a] * x1[:, b] for a, b in zip(rows, cols)]),
                          l1).T  # lower triangle of each Z_j'WZ_j, row by row
    ztz1 = np.empty((l1, k1, k1))
    ztz1[:, rows, cols] = ztz1[:, cols, rows] = entries.T

    crossed = None
    Zr, ztz_rest, zrt_z1 = None, np.zeros((0, 0)), np.zeros((0, l1, k1))
    if len(terms) > 1:
        Zr = sp.csr_matrix(sp.hstack([_term_design(c, r, t) for c, r, t in zip(codes[1:], raws[1:], terms[1:])],
                                     format="csr"))
        if uses_blocked_factor(terms) if blocked is None else blocked:
            crossed = make_crossed_design(terms, codes, raws, w, Zr)
        else:
            Z1 = _term_design(codes[0], x1, first)
            WZr = sp.diags(w) @ Zr
            ztz_rest = (WZr.T @ Zr).toarray()
            zrt_z1 = (WZr.T @ Z1).toarray().reshape(Zr.shape[1], l1, k1)

    return DesignProducts(
        n=n, p=p, terms=terms, lower=lower, weights=w, weighted=weighted,
        log_det_w=float(np.sum(np.log(w))), X=X, weighted_X=wX, normal_matrix=wX.T @ X,
        term_codes=codes, term_matrices=raws, ztz1=ztz1, ztz1_entries=np.ascontiguousarray(entries),
        ztz_rest=ztz_rest, zrt_z1=zrt_z1, rest_design=Zr, crossed=crossed)


def make_problem(mf: ModelFrame, design: DesignProducts | None = None) -> LmmProblem:
    """Add the response to the cross-products of a model frame (done once per fit).

    Parameters
    ----------
    mf : ModelFrame
        Output of :func:`mlmtools.frame.model_frame.build_model`; needs at least one random term.
    design : DesignProducts, optional
        :func:`design_products` of a frame with the same design (computed when None); a
        refit passes the model's, so only the products with the new response are computed.

    Returns
    -------
    LmmProblem
    """
    design = design_products(mf) if design is None else design
    n, p, X, w = design.n, design.p, design.X, design.weights
    y = np.asarray(mf.y, dtype=float)
    y_eff = y if mf.offset is None else y - np.asarray(mf.offset, dtype=float)
    # an approximate weighted least-squares fit is enough: it only removes most of y's
    # projection on X, and is added back to beta exactly
    beta_shift = (np.linalg.lstsq(design.normal_matrix, design.weighted_X.T @ y_eff, rcond=None)[0]
                  if p else np.zeros(0))
    y_work = y_eff - X @ beta_shift
    XY = np.empty((n, p + 1))
    XY[:, :p] = X
    XY[:, p] = y_work
    wXY = XY * w[:, None] if design.weighted else XY

    first = design.terms[0]
    k1, l1 = first.k, first.n_levels
    x1 = design.term_matrices[0]
    ztxy1 = _level_sums(design.term_codes[0], (x1[:, :, None] * wXY[:, None, :]).reshape(n, -1),
                        l1).reshape(l1, k1, p + 1)
    Zr = design.rest_design
    ztxy_rest = np.zeros((0, p + 1)) if Zr is None else np.asarray(Zr.T @ wXY).reshape(Zr.shape[1], p + 1)

    return LmmProblem(
        n=n, p=p, terms=design.terms, lower=design.lower, log_det_w=design.log_det_w,
        beta_shift=beta_shift, ztz1=design.ztz1, ztxy1=ztxy1, ztz1_entries=design.ztz1_entries,
        ztxy1_rows=np.ascontiguousarray(ztxy1.transpose(1, 0, 2)),
        ztz_rest=design.ztz_rest, zrt_z1=design.zrt_z1, ztxy_rest=ztxy_rest, xytxy=XY.T @ wXY, X=X,
        y_work=y_work, weights=w, term_codes=design.term_codes, term_matrices=design.term_matrices,
        crossed=design.crossed)


def start_theta(problem: LmmProblem, mf: ModelFrame) -> np.ndarray:
    """lme4's start values: 1 on template diagonals, 0 elsewhere.

    When every term is a scalar intercept ``(1 | f)``, lme4 instead starts at
    :math:`\\theta_k = \\sqrt{v_k / v_e}`, with :math:`v_k` the variance of the group means
    of y (``var(ave(y, f_k))``) and :math:`v_e = \\mathrm{var}(y) - \\sum_k v_k`, provided
    :math:`v_e > 0`.
    """
    theta = np.zeros(problem.n_theta)
    for t in problem.terms:
        theta[t.diagonal_positions()] = 1.0
    intercept_only = all(t.columns == ("(Intercept)",) for t in problem.terms)
    if intercept_only:
        y = np.asarray(mf.y, dtype=float)
        v_groups = []
        for codes in problem.term_codes:
            means = np.bincount(codes, weights=y) / np.bincount(codes)
            v_groups.append(np.var(means[codes], ddof=1))
        v_e = np.var(y, ddof=1) - sum(v_groups)
        if v_e > 0:
            theta = np.sqrt(np.asarray(v_groups) / v_e)
    return theta
