"""The penalized least squares problem and the profiled deviance, as explicit functions of theta.

The third stage of the pipeline ``model frame -> deviance -> optimizer -> result`` (lme4's
``mkLmerDevfun``; MixedModels.jl's ``objective(updateL!(setθ!(m, θ)))``), in the
parameterization of :mod:`mlmtools.lmm.problem`.

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
The response is carried as an extra column of :math:`X` (as MixedModels.jl does): with
:math:`L R_{ZXy} = \\Lambda^\\top Z^\\top W [X\\ y]`, the Cholesky factor of
:math:`[X\\ y]^\\top W [X\\ y] - R_{ZXy}^\\top R_{ZXy}` is
:math:`\\begin{pmatrix} R_X & c_\\beta \\\\ 0 & \\sqrt{\\mathrm{pwrss}} \\end{pmatrix}`, so
one small Cholesky factorisation gives :math:`R_X`, :math:`\\hat\\beta` and ``pwrss``.
The first term (the one with most levels) makes the top-left block of
:math:`\\Lambda^\\top Z^\\top W Z\\Lambda + I` block diagonal, so it is factored level by
level (closed forms for blocks of size 1 and 2) from per-level cross-products computed
once.  Any further terms form a dense block that is factored after taking the Schur
complement.  One evaluation costs :math:`O(\\ell_1 k_1^3 + \\ell_1 k_1 q_2^2 + q_2^3)` and never
touches the :math:`n` rows.

Models whose later terms are large (:func:`~mlmtools.lmm.problem.uses_blocked_factor`) keep the
coupling of the later terms with the first one sparse instead (:mod:`mlmtools.lmm.blocked_factor`);
:func:`factor`, :func:`deviance`, :func:`deviance_function`, :func:`solve` and
:func:`conditional_variances` choose the factorization from the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np
from scipy.linalg import solve_triangular
from scipy.linalg.lapack import dpotrf

from mlmtools.lmm.blocked_factor import BlockedDeviance, blocked_conditional_variances, factor_blockwise
from mlmtools.lmm.level_blocks import IDENTITY_ENTRIES_2, PenalizedFactor, first_term_factor
from mlmtools.lmm.level_blocks import criterion as criterion
from mlmtools.lmm.problem import LmmProblem


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


def _lambda_t_left(problem: LmmProblem, theta: np.ndarray, M: np.ndarray) -> np.ndarray:
    """Compute :math:`\\Lambda_r^\\top M` for the rows of M belonging to the remaining terms."""
    out = np.empty_like(M)
    offset = problem.terms[0].b_slice.stop
    for t in problem.terms[1:]:
        rows = slice(t.b_slice.start - offset, t.b_slice.stop - offset)
        block = M[rows].reshape(t.n_levels, t.k, -1)
        out[rows] = (t.template(theta).T @ block).reshape(t.n_levels * t.k, -1)
    return out


@dataclass(frozen=True)
class _Factor(PenalizedFactor):
    """The dense factorization at one theta: :class:`~mlmtools.lmm.level_blocks.PenalizedFactor` with
    ``M = L11^{-1} L21^T`` (l1, k1, q2) dense."""

    M: np.ndarray

    def coupling_transpose_times(self, u2: np.ndarray) -> np.ndarray:
        product: np.ndarray = self.M @ u2
        return product


def _factor(problem: LmmProblem, theta: np.ndarray) -> _Factor:
    T1 = problem.terms[0].template(theta)
    L11_inv, RZXY1, ldL2 = first_term_factor(problem, T1)
    flat = RZXY1.reshape(-1, RZXY1.shape[-1])
    S = problem.xytxy - flat.T @ flat
    q2 = problem.ztz_rest.shape[0]
    if q2 == 0:
        M, L22, RZXY2 = np.zeros((len(L11_inv), len(T1), 0)), np.zeros((0, 0)), np.zeros((0, S.shape[0]))
    else:
        A21 = problem.zrt_z1 @ T1  # (q2, l1, k1)
        A21 = _lambda_t_left(problem, theta, A21.reshape(q2, -1)).reshape(A21.shape)
        M = np.einsum("lab,rlb->lar", L11_inv, A21)
        A22 = _lambda_t_left(problem, theta, problem.ztz_rest)
        A22 = _lambda_t_left(problem, theta, A22.T.copy()).T + np.eye(q2)
        flat_m = M.reshape(-1, q2)
        L22 = np.linalg.cholesky(A22 - flat_m.T @ flat_m)
        rhs = _lambda_t_left(problem, theta, problem.ztxy_rest) - flat_m.T @ flat
        RZXY2 = solve_triangular(L22, rhs, lower=True, check_finite=False)
        ldL2 += 2.0 * float(np.sum(np.log(np.diag(L22))))
        S -= RZXY2.T @ RZXY2
    R = np.linalg.cholesky(S).T
    return _Factor(L11_inv=L11_inv, L22=L22, RZXY1=RZXY1, RZXY2=RZXY2, R=R, ldL2=ldL2, M=M)


def factor(problem: LmmProblem, theta: np.ndarray) -> PenalizedFactor:
    """The Cholesky factorization of the penalized system at theta: blockwise
    (:func:`~mlmtools.lmm.blocked_factor.factor_blockwise`) for a model with ``problem.crossed``, dense
    otherwise."""
    return factor_blockwise(problem, theta) if problem.crossed is not None else _factor(problem, theta)


def deviance(problem: LmmProblem, theta: np.ndarray, reml: bool) -> float:
    """Profiled deviance :math:`d(\\theta)` (REML criterion when ``reml``).

    Parameters
    ----------
    problem : ~mlmtools.lmm.problem.LmmProblem
        Output of :func:`~mlmtools.lmm.problem.make_problem`.
    theta : array_like
        Relative covariance parameters (see the module docstring).
    reml : bool
        REML criterion if True, ML deviance otherwise.

    Returns
    -------
    float
        The criterion; ``inf`` if the penalized system cannot be factored.
    """
    try:
        f = factor(problem, np.asarray(theta, dtype=float))
    except np.linalg.LinAlgError:
        return float("inf")
    pwrss = f.pwrss
    if not pwrss > 0:
        return float("inf")
    return criterion(problem.n, problem.p, f.ldL2, f.ldRX2 if reml else 0.0, problem.log_det_w,
                     pwrss, reml)


#: Widest :math:`[X\\ y]` for :class:`_SmallTermDeviance`: its Cholesky factor comes from SciPy's
#: LAPACK, which for matrices this small runs the same unblocked algorithm as NumPy's (the
#: one :func:`_factor` calls), so both give the same bits.
_SMALL_WIDTH = 32


class _SmallTermDeviance:
    """:func:`deviance` for a model with one random-effects term of size :math:`k \\le 2`.

    The same floating-point operations as :func:`_factor` in the same order (so the same
    numbers, bit for bit, and the same optimizer path), with every theta-free piece bound
    once and only what the criterion needs computed: the blocks
    :math:`A_j = T^\\top Z_j^\\top W Z_j T + I = L_jL_j^\\top` in closed form on whole
    columns of per-level numbers, :math:`R_{ZXy}`, and the Cholesky factor of
    :math:`[X\\ y]^\\top W[X\\ y] - R_{ZXy}^\\top R_{ZXy}` by one LAPACK call.
    """

    def __init__(self, problem: LmmProblem, reml: bool):
        self.k = problem.terms[0].k
        self.entries = problem.ztz1_entries
        self.first_rows = problem.ztxy1_rows[0]
        # each level's rows of Z_j'W[X y] repeated once per row of L_j^{-1}: (k, l k, p+1)
        self.rows_twice = np.repeat(problem.ztxy1_rows, self.k, axis=1)
        self.xytxy = problem.xytxy
        self.width = problem.p + 1
        self.n, self.p, self.log_det_w, self.reml = problem.n, problem.p, problem.log_det_w, reml

    def _cross_products(self, theta: np.ndarray) -> tuple[np.ndarray, float]:
        """:math:`R_{ZXy}^\\top R_{ZXy}` and :math:`\\log|L|^2`."""
        if self.k == 1:
            t = float(theta[0])
            a = t * t * self.entries[0] + 1.0
            rzxy = (t * (1.0 / np.sqrt(a)))[:, None] * self.first_rows
            return rzxy.T @ rzxy, float(np.add.reduce(np.log(a)))
        t1, t2, t3 = theta.tolist()
        a, b, c = np.array([[t1 * t1, 2 * t1 * t2, t2 * t2], [0.0, t3 * t1, t3 * t2],
                            [0.0, 0.0, t3 * t3]]) @ self.entries + IDENTITY_ENTRIES_2
        l11 = np.sqrt(a)
        l21 = b / l11
        schur = c - l21 * l21
        # the first column of each L_j^{-1}: (i11, i21)
        first = np.empty((len(a), 2))
        i11 = first[:, 0]
        np.divide(1.0, l11, out=i11)
        i22 = 1.0 / np.sqrt(schur)
        np.multiply(-l21 * i11, i22, out=first[:, 1])
        # R_ZXy,j = (L_j^{-1} T') N_j with T' = [[t1, t2], [0, t3]]: column b of L_j^{-1} T'
        # times row b of N_j = Z_j'W[X y], summed over b
        second = t2 * first
        second[:, 1] += t3 * i22
        rzxy = ((t1 * first).reshape(-1, 1) * self.rows_twice[0]
                + second.reshape(-1, 1) * self.rows_twice[1])
        return rzxy.T @ rzxy, float(np.add.reduce(np.log(a * schur)))

    def __call__(self, theta: np.ndarray) -> float:
        cross, ldL2 = self._cross_products(np.asarray(theta, dtype=float))
        L, info = dpotrf(self.xytxy - cross, lower=1)
        if info != 0:
            return float("inf")
        root = float(L[self.p, self.p])
        pwrss = root * root
        if not pwrss > 0:
            return float("inf")
        ldRX2 = 2.0 * float(np.add.reduce(np.log(L.diagonal()[:self.p]))) if self.reml else 0.0
        return criterion(self.n, self.p, ldL2, ldRX2, self.log_det_w, pwrss, self.reml)


def deviance_function(problem: LmmProblem, reml: bool) -> Callable[[np.ndarray], float]:
    """The profiled deviance as a function of theta alone (what the optimizer minimises).

    Equal to ``lambda theta: deviance(problem, theta, reml)``, bit for bit; for one
    random-effects term of size 1 or 2 (and fewer than 32 fixed effects) it is a specialised
    evaluator that binds everything independent of theta once, which makes each call about
    twice as cheap.
    """
    if len(problem.terms) == 1 and problem.terms[0].k <= 2 and problem.p < _SMALL_WIDTH:
        return _SmallTermDeviance(problem, reml)
    if problem.crossed is not None:
        return BlockedDeviance(problem, reml)
    return partial(deviance, problem, reml=reml)


def solve(problem: LmmProblem, theta: np.ndarray, reml: bool) -> PlsSolution:
    """Solve the penalized least squares problem at theta and return all its quantities.

    .. math::
        \\hat\\sigma^2 = \\mathrm{pwrss} / (n - p) \\ \\text{(REML)},\\qquad
        \\hat\\sigma^2 = \\mathrm{pwrss} / n \\ \\text{(ML)},\\qquad
        \\hat b = \\Lambda_\\theta \\tilde u.
    """
    theta = np.asarray(theta, dtype=float)
    f = factor(problem, theta)
    p = problem.p
    RX = f.RX
    beta_work = solve_triangular(RX, f.R[:p, p], lower=False, check_finite=False)
    # back substitution for u: L' u = cu - R_ZX beta = R_ZXy @ (-beta, 1)
    u = f.modes(np.append(-beta_work, 1.0))
    pwrss = f.pwrss
    ldRX2 = f.ldRX2
    m = problem.n - p if reml else problem.n
    return PlsSolution(
        theta=theta.copy(),
        beta=beta_work + problem.beta_shift,
        u=u,
        b=lambda_times(problem, theta, u),
        pwrss=pwrss,
        ldL2=f.ldL2,
        ldRX2=ldRX2,
        RX=RX,
        sigma=float(np.sqrt(pwrss / m)),
        deviance=criterion(problem.n, p, f.ldL2, ldRX2, problem.log_det_w, pwrss, reml),
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
    if problem.crossed is not None:
        return blocked_conditional_variances(problem, theta, sigma)
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
