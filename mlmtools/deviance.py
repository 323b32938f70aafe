"""The profiled deviance of a linear mixed model, as an explicit function of theta.

This is the third stage of the pipeline ``model frame -> deviance -> optimizer -> result``
(lme4's ``mkLmerDevfun``; MixedModels.jl's ``objective(updateL!(setθ!(m, θ)))``).

Parameterization (used everywhere in :mod:`mlmtools`)
------------------------------------------------------
The model is :math:`y \\mid b \\sim N(X\\beta + Zb + o,\\ \\sigma^2 W^{-1})` with
:math:`b = \\Lambda_\\theta u` and :math:`u \\sim N(0, \\sigma^2 I_q)`.  Each random-effects
term :math:`i` has a :math:`k_i \\times k_i` lower-triangular template :math:`T_i`;
:math:`\\theta` stacks the lower triangles of the templates, column by column, term by term.
:math:`\\Lambda_\\theta` is block diagonal with one copy of :math:`T_i` per level of term
:math:`i`, and :math:`b` is ordered term by term, level-major within a term (as lme4).

Penalized least squares
-----------------------
With the Cholesky factors

.. math::
    L L^\\top = \\Lambda^\\top Z^\\top W Z \\Lambda + I, \\qquad
    L R_{ZX} = \\Lambda^\\top Z^\\top W X, \\qquad
    R_X^\\top R_X = X^\\top W X - R_{ZX}^\\top R_{ZX},

:math:`\\hat\\beta_\\theta` and :math:`\\tilde u_\\theta` minimise
:math:`r^2(\\theta, \\beta, u) = \\lVert W^{1/2}(y - o - X\\beta - Z\\Lambda u)\\rVert^2 + \\lVert u\\rVert^2`,
and ``pwrss`` is the minimum.  The profiled deviances are

.. math::
    d_{ML}(\\theta) = \\log|L|^2 - \\log|W| + n\\,[1 + \\log(2\\pi\\, \\mathrm{pwrss}/n)]

    d_{REML}(\\theta) = \\log|L|^2 - \\log|W| + \\log|R_X|^2
        + (n-p)\\,[1 + \\log(2\\pi\\, \\mathrm{pwrss}/(n-p))].

Structure exploited
-------------------
The first term (the one with most levels) makes the top-left block of
:math:`\\Lambda^\\top Z^\\top W Z\\Lambda + I` block diagonal, so it is factored level by level
from per-level cross-products computed once.  Any further terms form a dense block that is
factored after taking the Schur complement.  One evaluation costs
:math:`O(\\ell_1 k_1^3 + \\ell_1 k_1 q_2 + q_2^3)` and never touches the :math:`n` rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.linalg import solve_triangular

from mlmtools.modelframe import ModelFrame


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

    @cached_property
    def _lower_positions(self) -> tuple[np.ndarray, np.ndarray]:
        rows, cols = np.tril_indices(self.k)
        order = np.lexsort((rows, cols))
        return rows[order], cols[order]

    def template(self, theta: np.ndarray) -> np.ndarray:
        """The lower-triangular template :math:`T` filled column-major from theta."""
        t = np.zeros((self.k, self.k))
        t[self._lower_positions] = theta[self.theta_slice]
        return t

    def diagonal_positions(self) -> np.ndarray:
        """Indices (within theta) of the template's diagonal elements."""
        positions = []
        index = self.theta_slice.start
        for col in range(self.k):
            positions.append(index)
            index += self.k - col
        return np.asarray(positions, dtype=int)


@dataclass(frozen=True)
class LmmProblem:
    """A linear mixed model reduced to the cross-products the deviance needs.

    Built once from a :class:`~mlmtools.modelframe.ModelFrame` by :func:`make_problem`.
    The response is stored after removing the offset and the weighted least-squares fit
    ``X @ beta_shift`` (this keeps ``pwrss`` free of cancellation; the shift is added
    back to :math:`\\hat\\beta`).
    """

    n: int
    p: int
    terms: tuple[TermLayout, ...]
    lower: np.ndarray
    log_det_w: float
    beta_shift: np.ndarray
    # first term, per level
    ztz1: np.ndarray
    ztx1: np.ndarray
    zty1: np.ndarray
    # remaining terms, dense
    ztz_rest: np.ndarray
    zrt_z1: np.ndarray
    ztx_rest: np.ndarray
    zty_rest: np.ndarray
    # fixed part
    xtx: np.ndarray
    xty: np.ndarray
    yty: float
    # raw pieces for fitted values
    X: np.ndarray
    Z: sp.csr_matrix
    y_work: np.ndarray
    sqrt_w: np.ndarray

    @property
    def n_theta(self) -> int:
        return len(self.lower)

    @property
    def q(self) -> int:
        return self.Z.shape[1]


@dataclass(frozen=True)
class PlsSolution:
    """Everything lme4 keeps after solving the penalized least squares problem at theta.

    Attributes
    ----------
    theta : numpy.ndarray
    beta : numpy.ndarray
        :math:`\\hat\\beta_\\theta`.
    u : numpy.ndarray
        Spherical conditional modes :math:`\\tilde u_\\theta`.
    b : numpy.ndarray
        Conditional modes :math:`\\hat b = \\Lambda_\\theta \\tilde u`.
    pwrss : float
        Penalized weighted residual sum of squares.
    ldL2 : float
        :math:`\\log|L|^2`.
    ldRX2 : float
        :math:`\\log|R_X|^2`.
    RX : numpy.ndarray
        Upper-triangular :math:`R_X`.
    sigma : float
        :math:`\\hat\\sigma` (REML or ML, as requested).
    deviance : float
        The profiled criterion (REML or ML) at theta.
    REML : bool
    """

    theta: np.ndarray
    beta: np.ndarray
    u: np.ndarray
    b: np.ndarray
    pwrss: float
    ldL2: float
    ldRX2: float
    RX: np.ndarray
    sigma: float
    deviance: float
    REML: bool


def _random_design(mf: ModelFrame) -> tuple[tuple[TermLayout, ...], sp.csr_matrix]:
    layouts = []
    blocks = []
    theta_pos = 0
    b_pos = 0
    n = len(mf.y)
    for term in mf.terms:
        k = len(term.columns)
        n_levels = len(term.levels)
        n_par = k * (k + 1) // 2
        layouts.append(
            TermLayout(
                group=term.group,
                columns=tuple(term.columns),
                levels=tuple(term.levels),
                k=k,
                n_levels=n_levels,
                theta_slice=slice(theta_pos, theta_pos + n_par),
                b_slice=slice(b_pos, b_pos + k * n_levels),
            )
        )
        codes = np.asarray(term.codes, dtype=int)
        raw = np.asarray(term.X, dtype=float).reshape(n, k)
        rows = np.repeat(np.arange(n), k)
        cols = (codes[:, None] * k + np.arange(k)[None, :]).ravel()
        blocks.append(sp.csr_matrix((raw.ravel(), (rows, cols)), shape=(n, k * n_levels)))
        theta_pos += n_par
        b_pos += k * n_levels
    return tuple(layouts), sp.hstack(blocks, format="csr")


def make_problem(mf: ModelFrame) -> LmmProblem:
    """Precompute the cross-products of a model frame (done once per fit).

    Parameters
    ----------
    mf : ModelFrame
        Output of :func:`mlmtools.modelframe.build_model`; needs at least one random term.

    Returns
    -------
    LmmProblem
    """
    if not mf.terms:
        raise ValueError("a linear mixed model needs at least one random-effects term")
    y = np.asarray(mf.y, dtype=float)
    X = np.asarray(mf.X, dtype=float)
    n, p = X.shape
    w = np.ones(n) if mf.weights is None else np.asarray(mf.weights, dtype=float)
    offset = np.zeros(n) if mf.offset is None else np.asarray(mf.offset, dtype=float)
    sqrt_w = np.sqrt(w)
    y_eff = y - offset
    if p:
        beta_shift = np.linalg.lstsq(X * sqrt_w[:, None], y_eff * sqrt_w, rcond=None)[0]
    else:
        beta_shift = np.zeros(0)
    y_work = y_eff - X @ beta_shift

    terms, Z = _random_design(mf)
    lower = np.full(sum(t.theta_slice.stop - t.theta_slice.start for t in terms), -np.inf)
    for t in terms:
        lower[t.diagonal_positions()] = 0.0

    first = terms[0]
    k1, l1 = first.k, first.n_levels
    codes1 = np.asarray(mf.terms[0].codes, dtype=int)
    x1 = np.asarray(mf.terms[0].X, dtype=float).reshape(n, k1)
    wx1 = x1 * w[:, None]
    ztz1 = np.zeros((l1, k1, k1))
    np.add.at(ztz1, codes1, wx1[:, :, None] * x1[:, None, :])
    ztx1 = np.zeros((l1, k1, p))
    np.add.at(ztx1, codes1, wx1[:, :, None] * X[:, None, :])
    zty1 = np.zeros((l1, k1))
    np.add.at(zty1, codes1, wx1 * y_work[:, None])

    q1 = k1 * l1
    Z1 = Z[:, :q1]
    Zr = Z[:, q1:]
    Wd = sp.diags(w)
    ztz_rest = np.asarray((Zr.T @ Wd @ Zr).todense())
    zrt_z1 = np.asarray((Zr.T @ Wd @ Z1).todense()).reshape(Zr.shape[1], l1, k1)
    ztx_rest = np.asarray(Zr.T @ (X * w[:, None])).reshape(Zr.shape[1], p)
    zty_rest = np.asarray(Zr.T @ (w * y_work)).ravel()

    return LmmProblem(
        n=n,
        p=p,
        terms=terms,
        lower=lower,
        log_det_w=float(np.sum(np.log(w))),
        beta_shift=beta_shift,
        ztz1=ztz1,
        ztx1=ztx1,
        zty1=zty1,
        ztz_rest=ztz_rest,
        zrt_z1=zrt_z1,
        ztx_rest=ztx_rest,
        zty_rest=zty_rest,
        xtx=X.T @ (X * w[:, None]),
        xty=X.T @ (w * y_work),
        yty=float(np.sum(w * y_work**2)),
        X=X,
        Z=Z,
        y_work=y_work,
        sqrt_w=sqrt_w,
    )


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
        for term in mf.terms:
            codes = np.asarray(term.codes, dtype=int)
            means = np.bincount(codes, weights=y) / np.bincount(codes)
            v_groups.append(np.var(means[codes], ddof=1))
        v_e = np.var(y, ddof=1) - sum(v_groups)
        if v_e > 0:
            theta = np.sqrt(np.asarray(v_groups) / v_e)
    return theta


def _lambda_t_left(problem: LmmProblem, theta: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Compute :math:`\\Lambda_r^\\top M` for the rows of M belonging to the remaining terms."""
    out = np.empty_like(M)
    offset = problem.terms[0].b_slice.stop
    for t in problem.terms[1:]:
        rows = slice(t.b_slice.start - offset, t.b_slice.stop - offset)
        block = M[rows].reshape(t.n_levels, t.k, -1)
        out[rows] = np.einsum("ba,lbc->lac", t.template(theta), block).reshape(t.n_levels * t.k, -1)
    return out


@dataclass(frozen=True)
class _Factor:
    """Intermediate quantities of the blocked Cholesky factorisation at one theta."""

    L11: np.ndarray  # (l1, k1, k1) lower triangular blocks
    L11_inv: np.ndarray
    M: np.ndarray  # L11^{-1} A12, shape (l1, k1, q2)
    L22: np.ndarray  # (q2, q2)
    cu1: np.ndarray
    cu2: np.ndarray
    RZX1: np.ndarray  # (l1, k1, p)
    RZX2: np.ndarray  # (q2, p)
    ldL2: float


def _factor(problem: LmmProblem, theta: np.ndarray) -> _Factor:
    first = problem.terms[0]
    T1 = first.template(theta)
    A11 = np.einsum("ba,lbc,cd->lad", T1, problem.ztz1, T1) + np.eye(first.k)
    L11 = np.linalg.cholesky(A11)
    L11_inv = np.linalg.inv(L11)
    cu1 = np.einsum("lab,cb,lc->la", L11_inv, T1, problem.zty1)
    RZX1 = np.einsum("lab,cb,lcp->lap", L11_inv, T1, problem.ztx1)
    ldL2 = 2.0 * float(np.sum(np.log(np.diagonal(L11, axis1=1, axis2=2))))
    q2 = problem.ztz_rest.shape[0]
    if q2 == 0:
        empty = np.zeros((0, 0))
        return _Factor(L11, L11_inv, np.zeros((first.n_levels, first.k, 0)), empty,
                       cu1, np.zeros(0), RZX1, np.zeros((0, problem.p)), ldL2)
    # A21 = Lambda_r' Zr'WZ1 Lambda_1, shape (q2, l1, k1)
    A21 = np.einsum("rlc,cd->rld", problem.zrt_z1, T1)
    A21 = _lambda_t_left(problem, theta, A21.reshape(q2, -1)).reshape(q2, first.n_levels, first.k)
    M = np.einsum("lab,rlb->lar", L11_inv, A21)
    A22 = _lambda_t_left(problem, theta, problem.ztz_rest)
    A22 = _lambda_t_left(problem, theta, A22.T.copy()).T + np.eye(q2)
    S = A22 - np.einsum("lar,las->rs", M, M)
    L22 = np.linalg.cholesky(S)
    rhs_y = _lambda_t_left(problem, theta, problem.zty_rest[:, None])[:, 0]
    rhs_x = _lambda_t_left(problem, theta, problem.ztx_rest)
    cu2 = _forward(L22, rhs_y - np.einsum("lar,la->r", M, cu1))
    RZX2 = _forward(L22, rhs_x - np.einsum("lar,lap->rp", M, RZX1))
    ldL2 += 2.0 * float(np.sum(np.log(np.diag(L22))))
    return _Factor(L11, L11_inv, M, L22, cu1, cu2, RZX1, RZX2, ldL2)


def _forward(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    return solve_triangular(L, B, lower=True, check_finite=False)


def _fixed_part(problem: LmmProblem, f: _Factor) -> tuple[np.ndarray, np.ndarray, float, float]:
    """Return (R_X, beta_work, pwrss, ldRX2)."""
    p = problem.p
    cu_sq = float(np.sum(f.cu1**2) + np.sum(f.cu2**2))
    if p == 0:
        return np.zeros((0, 0)), np.zeros(0), problem.yty - cu_sq, 0.0
    rzx1 = f.RZX1.reshape(-1, p)
    XtVX = problem.xtx - rzx1.T @ rzx1 - f.RZX2.T @ f.RZX2
    RX = np.linalg.cholesky(XtVX).T
    rhs = problem.xty - rzx1.T @ f.cu1.ravel() - f.RZX2.T @ f.cu2
    c_beta = solve_triangular(RX, rhs, trans="T", lower=False, check_finite=False)
    beta = solve_triangular(RX, c_beta, lower=False, check_finite=False)
    pwrss = problem.yty - cu_sq - float(c_beta @ c_beta)
    ldRX2 = 2.0 * float(np.sum(np.log(np.abs(np.diag(RX)))))
    return RX, beta, pwrss, ldRX2


def criterion(n: int, p: int, ldL2: float, ldRX2: float, log_det_w: float,
              pwrss: float, reml: bool) -> float:
    """The profiled deviance from its pieces (lme4's ``lmerResp::Laplace``).

    .. math::
        d = \\log|L|^2 - \\log|W| + [\\log|R_X|^2] + m\\,[1 + \\log(2\\pi\\,\\mathrm{pwrss}/m)],

    with :math:`m = n - p` and the bracketed term for REML, :math:`m = n` for ML.
    """
    m = n - p if reml else n
    value = ldL2 - log_det_w + m * (1.0 + np.log(2.0 * np.pi * pwrss / m))
    return float(value + ldRX2) if reml else float(value)


def deviance(problem: LmmProblem, theta: np.ndarray, reml: bool) -> float:
    """Profiled deviance :math:`d(\\theta)` (REML criterion when ``reml``).

    Parameters
    ----------
    problem : LmmProblem
        Output of :func:`make_problem`.
    theta : array_like
        Relative covariance parameters (see the module docstring).
    reml : bool
        REML criterion if True, ML deviance otherwise.

    Returns
    -------
    float
        The criterion; ``inf`` if the penalized system cannot be factored.
    """
    theta = np.asarray(theta, dtype=float)
    try:
        f = _factor(problem, theta)
        _, _, pwrss, ldRX2 = _fixed_part(problem, f)
    except np.linalg.LinAlgError:
        return float("inf")
    if not pwrss > 0:
        return float("inf")
    return criterion(problem.n, problem.p, f.ldL2, ldRX2, problem.log_det_w, pwrss, reml)


def solve(problem: LmmProblem, theta: np.ndarray, reml: bool) -> PlsSolution:
    """Solve the penalized least squares problem at theta and return all its quantities.

    .. math::
        \\hat\\sigma^2 = \\mathrm{pwrss} / (n - p) \\ \\text{(REML)},\\qquad
        \\hat\\sigma^2 = \\mathrm{pwrss} / n \\ \\text{(ML)},\\qquad
        \\hat b = \\Lambda_\\theta \\tilde u.
    """
    theta = np.asarray(theta, dtype=float)
    f = _factor(problem, theta)
    RX, beta_work, pwrss, ldRX2 = _fixed_part(problem, f)
    p = problem.p
    # back substitution for u: L' u = cu - RZX beta
    v2 = f.cu2 - f.RZX2 @ beta_work if p else f.cu2.copy()
    u2 = solve_triangular(f.L22, v2, trans="T", lower=True, check_finite=False) if len(v2) else v2
    v1 = f.cu1 - (np.einsum("lap,p->la", f.RZX1, beta_work) if p else 0.0)
    v1 = v1 - np.einsum("lar,r->la", f.M, u2)
    u1 = np.einsum("lba,lb->la", f.L11_inv, v1)
    u = np.concatenate([u1.ravel(), u2])
    b = lambda_times(problem, theta, u)
    m = problem.n - p if reml else problem.n
    dev = criterion(problem.n, p, f.ldL2, ldRX2, problem.log_det_w, pwrss, reml)
    return PlsSolution(
        theta=theta.copy(),
        beta=beta_work + problem.beta_shift,
        u=u,
        b=b,
        pwrss=pwrss,
        ldL2=f.ldL2,
        ldRX2=ldRX2,
        RX=RX,
        sigma=float(np.sqrt(pwrss / m)),
        deviance=dev,
        REML=reml,
    )


def lambda_times(problem: LmmProblem, theta: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Compute :math:`\\Lambda_\\theta u` term by term."""
    b = np.empty_like(u)
    for t in problem.terms:
        block = u[t.b_slice].reshape(t.n_levels, t.k)
        b[t.b_slice] = (block @ t.template(theta).T).ravel()
    return b


def conditional_variances(problem: LmmProblem, theta: np.ndarray, sigma: float) -> list[np.ndarray]:
    """Conditional covariance of each level's random effects (lme4's ``condVar``).

    .. math::
        \\mathrm{Var}(b_j \\mid y) = \\sigma^2\\, T\\, [(\\Lambda^\\top Z^\\top W Z\\Lambda + I)^{-1}]_{jj}\\, T^\\top

    Returns
    -------
    list of numpy.ndarray
        One array of shape ``(n_levels, k, k)`` per term.
    """
    f = _factor(problem, theta)
    first = problem.terms[0]
    inv11 = np.einsum("lba,lbc->lac", f.L11_inv, f.L11_inv)
    out = []
    q2 = f.L22.shape[0]
    if q2:
        L22_inv = solve_triangular(f.L22, np.eye(q2), lower=True, check_finite=False)
        S_inv = L22_inv.T @ L22_inv
        G = np.einsum("lba,lbr->lar", f.L11_inv, f.M)  # L11^{-T} M
        inv11 = inv11 + np.einsum("lar,rs,lbs->lab", G, S_inv, G)
    T1 = first.template(theta)
    out.append(sigma**2 * np.einsum("ab,lbc,dc->lad", T1, inv11, T1))
    offset = first.b_slice.stop
    for t in problem.terms[1:]:
        idx = np.arange(t.b_slice.start, t.b_slice.stop) - offset
        blocks = S_inv[np.ix_(idx, idx)].reshape(t.n_levels, t.k, t.n_levels, t.k)
        diag = np.einsum("lalb->lab", blocks)
        T = t.template(theta)
        out.append(sigma**2 * np.einsum("ab,lbc,dc->lad", T, diag, T))
    return out
