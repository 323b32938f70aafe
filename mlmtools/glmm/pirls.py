"""Penalized iteratively reweighted least squares (PIRLS) and the Laplace deviance.

The engine of :func:`mlmtools.glmm.model.glmer` (lme4's ``pwrssUpdate`` and
``glmResp::Laplace``).  With :math:`b = \\Lambda_\\theta u` (the parameterization of
:mod:`mlmtools.lmm.problem`), linear predictor :math:`\\eta = X\\beta + Z\\Lambda_\\theta u + o` and
mean :math:`\\mu = g^{-1}(\\eta)`, PIRLS finds the conditional mode

.. math::
    \\tilde u = \\arg\\min_u\\ \\sum_i d_i(y_i, \\mu_i(u)) + \\lVert u\\rVert^2

(and, for lme4's first stage, :math:`\\hat\\beta` jointly with :math:`u`) by repeatedly solving
the penalized weighted least-squares problem with working weights
:math:`W = w\\,(d\\mu/d\\eta)^2 / V(\\mu)` and working response
:math:`z = \\eta - o + (y - \\mu)/(d\\mu/d\\eta)`, halving steps that increase the penalized
deviance.  The Laplace approximation to the deviance is then

.. math::
    d_L(\\theta, \\beta) = -2\\sum_i \\log p(y_i\\mid\\mu_i) + \\lVert\\tilde u\\rVert^2 + \\log|L|^2,
    \\qquad L L^\\top = \\Lambda^\\top Z^\\top W Z\\Lambda + I,

with :math:`L` factored at the working weights of the last-but-one iterate, as lme4 does.

A single scalar term ``(1 | g)`` makes :math:`L` diagonal and is handled without any matrix;
other designs use a dense Cholesky factor of the :math:`q \\times q` system.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.linalg import cho_solve, cholesky

from mlmtools.glmm.families import Family
from mlmtools.lmm.problem import TermLayout

TOL_PWRSS = 1e-7  # glmerControl(tolPwrss = 1e-7)
PIRLS_MAXIT = 100
MAX_HALVINGS = 10


class PirlsError(RuntimeError):
    """PIRLS failed: step halving could not reduce the penalized deviance, or no convergence."""


@dataclass(frozen=True)
class GlmmData:
    """The arrays of a generalized linear mixed model, fixed for the whole fit.

    Attributes
    ----------
    y : numpy.ndarray
        Response (a proportion for binomial data given as counts).
    X : numpy.ndarray
        Fixed-effects design, shape ``(n, p)``.
    Z : scipy.sparse.csr_matrix
        Random-effects design, shape ``(n, q)``, columns ordered as in :mod:`mlmtools.lmm.problem`.
    terms : tuple of ~mlmtools.lmm.problem.TermLayout
        Where each term sits in theta and u.
    weights : numpy.ndarray
        Prior weights (trials for binomial counts).
    offset : numpy.ndarray
    family : Family
    trials : numpy.ndarray or None
        Binomial denominators when the response was ``cbind(successes, failures)``.
    """

    y: np.ndarray
    X: np.ndarray
    Z: sp.csr_matrix
    terms: tuple[TermLayout, ...]
    weights: np.ndarray
    offset: np.ndarray
    family: Family
    trials: np.ndarray | None = None

    @property
    def n(self) -> int:
        return int(self.y.shape[0])

    @property
    def p(self) -> int:
        return int(self.X.shape[1])

    @property
    def q(self) -> int:
        return int(self.Z.shape[1])

    @property
    def single_scalar(self) -> bool:
        """True for exactly one random-effects term with one column (e.g. ``(1 | g)``)."""
        return len(self.terms) == 1 and self.terms[0].k == 1

    @cached_property
    def scalar_term(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's level code and its Z entry, for a model with a single scalar term."""
        coo = self.Z.tocoo()
        codes = np.zeros(self.n, dtype=int)
        values = np.zeros(self.n)
        codes[coo.row] = coo.col
        values[coo.row] = coo.data
        return codes, values


# -- Z Lambda and the factor of Lambda' Z' W Z Lambda + I -----------------------------------


class _DiagonalFactor:
    """:math:`A = \\mathrm{diag}(a)`: the system of a single scalar term."""

    def __init__(self, diagonal: np.ndarray):
        self.diagonal = diagonal

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        return rhs / (self.diagonal if rhs.ndim == 1 else self.diagonal[:, None])

    @property
    def log_det(self) -> float:
        return float(np.sum(np.log(self.diagonal)))

    @property
    def l_diagonal(self) -> np.ndarray:
        return np.sqrt(self.diagonal)

    def inverse(self) -> np.ndarray:
        return np.diag(1.0 / self.diagonal)


class _DenseFactor:
    """Dense Cholesky factor of :math:`A = \\Lambda^\\top Z^\\top W Z\\Lambda + I`."""

    def __init__(self, A: np.ndarray):
        self.L = cholesky(A, lower=True, check_finite=False)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        return cho_solve((self.L, True), rhs, check_finite=False)

    @property
    def log_det(self) -> float:
        return 2.0 * float(np.sum(np.log(np.diag(self.L))))

    @property
    def l_diagonal(self) -> np.ndarray:
        return np.diag(self.L).copy()

    def inverse(self) -> np.ndarray:
        return self.solve(np.eye(self.L.shape[0]))


class _ScalarZLambda:
    """:math:`Z\\Lambda_\\theta` for one scalar term: row i has the single entry
    :math:`\\theta z_i` in the column of its level."""

    def __init__(self, codes: np.ndarray, z: np.ndarray, theta: float, n_levels: int):
        self.codes = codes
        self.values = theta * z
        self.n_levels = n_levels

    def times(self, u: np.ndarray) -> np.ndarray:
        return self.values * u[self.codes]

    def t_times(self, v: np.ndarray) -> np.ndarray:
        if v.ndim == 1:
            return np.bincount(self.codes, self.values * v, minlength=self.n_levels)
        return np.column_stack([np.bincount(self.codes, self.values * v[:, j], minlength=self.n_levels)
                                for j in range(v.shape[1])])

    def factor(self, w: np.ndarray) -> _DiagonalFactor:
        return _DiagonalFactor(np.bincount(self.codes, w * self.values**2, minlength=self.n_levels) + 1.0)


class _SparseZLambda:
    """:math:`Z\\Lambda_\\theta` as a sparse matrix (any number and shape of terms)."""

    def __init__(self, Z: sp.csr_matrix, Lambda: sp.spmatrix):
        self.M = (Z @ Lambda).tocsr()
        self.Mt = self.M.T.tocsr()

    def times(self, u: np.ndarray) -> np.ndarray:
        return self.M @ u

    def t_times(self, v: np.ndarray) -> np.ndarray:
        return np.asarray(self.Mt @ v)

    def factor(self, w: np.ndarray) -> _DenseFactor:
        A = (self.Mt @ sp.diags(w) @ self.M).toarray()
        A[np.diag_indices_from(A)] += 1.0
        return _DenseFactor(A)


def lambda_matrix(terms: tuple[TermLayout, ...], theta: np.ndarray) -> sp.csr_matrix:
    """:math:`\\Lambda_\\theta`: block diagonal, one copy of the template :math:`T_i` per level."""
    blocks = [sp.kron(sp.identity(t.n_levels), sp.csr_matrix(t.template(theta))) for t in terms]
    return sp.block_diag(blocks, format="csr")


def z_lambda(data: GlmmData, theta: np.ndarray) -> _ScalarZLambda | _SparseZLambda:
    """:math:`Z\\Lambda_\\theta` in the cheapest form the design allows."""
    if data.single_scalar:
        codes, z = data.scalar_term
        return _ScalarZLambda(codes, z, float(theta[0]), data.terms[0].n_levels)
    return _SparseZLambda(data.Z, lambda_matrix(data.terms, theta))


# -- PIRLS ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PirlsResult:
    """The state at the conditional mode.

    Attributes
    ----------
    u, beta : numpy.ndarray
        Spherical modes :math:`\\tilde u` and the fixed effects used (estimated when PIRLS
        also updated beta).
    eta, mu : numpy.ndarray
        Linear predictor (with offset) and mean at the mode.
    linear_predictor : numpy.ndarray
        :math:`X\\beta + Z\\Lambda_\\theta\\tilde u`, the offset excluded (lme4's ``linPred``).
    dev_resids : numpy.ndarray
        Unit deviances at the mode.
    aic : float
        :math:`-2\\sum\\log p(y_i\\mid\\mu_i)` (the family's ``aic`` term).
    sqr_u : float
        :math:`\\lVert\\tilde u\\rVert^2`.
    log_det_L2 : float
        :math:`\\log|L|^2` from the last factorization.
    l_diagonal : numpy.ndarray
        Diagonal of :math:`L` (used by adaptive quadrature).
    working_weights : numpy.ndarray
        :math:`W` of the last factorization.
    iterations : int
    """

    u: np.ndarray
    beta: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    linear_predictor: np.ndarray
    dev_resids: np.ndarray
    aic: float
    sqr_u: float
    log_det_L2: float
    l_diagonal: np.ndarray
    working_weights: np.ndarray
    iterations: int

    @property
    def laplace(self) -> float:
        """:math:`d_L = \\mathrm{aic} + \\lVert\\tilde u\\rVert^2 + \\log|L|^2`."""
        return self.aic + self.sqr_u + self.log_det_L2


def working_weights(family: Family, eta: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """:math:`W_i = w_i\\,(d\\mu/d\\eta)_i^2 / V(\\mu_i)`."""
    mu = family.linkinv(eta)
    return prior * family.mu_eta(eta) ** 2 / family.variance(mu)


def penalized_irls(data: GlmmData, theta: np.ndarray, beta: np.ndarray, start: np.ndarray, *,
                   update_beta: bool, tol: float = TOL_PWRSS, maxit: int = PIRLS_MAXIT) -> PirlsResult:
    """Run PIRLS at theta, starting from the linear predictor ``start`` (offset excluded).

    Each iteration computes the working weights and response at the current mean, solves

    .. math::
        \\min_{u[,\\beta]}\\ \\lVert W^{1/2}(z - X\\beta - Z\\Lambda u)\\rVert^2 + \\lVert u\\rVert^2

    and moves the mean there.  It stops when the penalized deviance
    :math:`\\sum_i d_i + \\lVert u\\rVert^2` changes by less than ``tol`` relative; a step that
    increases it is halved (up to 10 times) towards the previous iterate.  This is lme4's
    ``pwrssUpdate`` step for step, including its start (lme4 resets the mean to a stored linear
    predictor before every evaluation) and its ``tolPwrss``: the Laplace deviance depends on
    both through :math:`L`, factored at the weights of the last-but-one iterate, and the
    finite-difference standard errors are sensitive to that.

    Parameters
    ----------
    data : GlmmData
    theta : numpy.ndarray
        Covariance parameters.
    beta : numpy.ndarray
        Fixed effects (ignored when ``update_beta``).
    start : numpy.ndarray
        Linear predictor without the offset to start from (lme4's ``lp0``).
    update_beta : bool
        Estimate beta jointly with u (lme4's ``nAGQ = 0`` stage) or keep it fixed.

    Raises
    ------
    PirlsError
        When step halving fails or the iterations do not converge.
    """
    family = data.family
    zl = z_lambda(data, theta)
    fixed = data.X @ beta
    u = np.zeros(data.q)
    eta = start + data.offset
    mu = family.linkinv(eta)
    old_pdev = np.inf
    for iteration in range(1, maxit + 1):
        w = working_weights(family, eta, data.weights)
        factor = zl.factor(w)
        z_work = eta - data.offset + (data.y - mu) / family.mu_eta(eta)
        if update_beta:
            new_u, new_beta = _joint_step(data, zl, factor, w, z_work)
        else:
            new_u, new_beta = factor.solve(zl.t_times(w * (z_work - fixed))), beta
        pdev, eta, mu = _penalized_deviance(data, zl, new_u, new_beta)
        if abs(old_pdev - pdev) < tol * abs(pdev):
            u, beta = new_u, new_beta
            break
        if not pdev <= old_pdev:
            pdev, eta, mu, new_u, new_beta = _halve(data, zl, u, beta, new_u, new_beta, old_pdev, tol)
        u, beta, old_pdev = new_u, new_beta, pdev
        fixed = data.X @ beta
    else:
        raise PirlsError(f"PIRLS did not converge in {maxit} iterations")
    dev = family.dev_resids(data.y, mu, data.weights)
    return PirlsResult(
        u=u, beta=beta, eta=eta, mu=mu, linear_predictor=eta - data.offset, dev_resids=dev,
        aic=family.aic(data.y, mu, data.weights, data.trials),
        sqr_u=float(u @ u), log_det_L2=factor.log_det, l_diagonal=factor.l_diagonal,
        working_weights=w, iterations=iteration,
    )


def _joint_step(data: GlmmData, zl, factor, w: np.ndarray, z_work: np.ndarray
                ) -> tuple[np.ndarray, np.ndarray]:
    """Solve for (u, beta) jointly: beta from the Schur complement, then u."""
    WX = data.X * w[:, None]
    cross = zl.t_times(WX)  # Lambda'Z'WX, (q, p)
    A_inv_cross = factor.solve(cross)
    rhs_u = zl.t_times(w * z_work)
    schur = data.X.T @ WX - cross.T @ A_inv_cross
    beta = np.linalg.solve(schur, WX.T @ z_work - A_inv_cross.T @ rhs_u)
    u = factor.solve(rhs_u - cross @ beta)
    return u, beta


def _penalized_deviance(data: GlmmData, zl, u: np.ndarray, beta: np.ndarray
                        ) -> tuple[float, np.ndarray, np.ndarray]:
    """:math:`\\sum_i d_i(y_i, \\mu_i) + \\lVert u\\rVert^2` with the new eta and mu."""
    eta = data.X @ beta + zl.times(u) + data.offset
    mu = data.family.linkinv(eta)
    return float(np.sum(data.family.dev_resids(data.y, mu, data.weights)) + u @ u), eta, mu


def _halve(data: GlmmData, zl, u: np.ndarray, beta: np.ndarray, new_u: np.ndarray,
           new_beta: np.ndarray, old_pdev: float, tol: float):
    """lme4's step halving: move halfway back towards the previous iterate, at most 10 times."""
    pdev = np.inf
    for _ in range(MAX_HALVINGS):
        new_u, new_beta = (u + new_u) / 2.0, (beta + new_beta) / 2.0
        pdev, eta, mu = _penalized_deviance(data, zl, new_u, new_beta)
        if pdev <= old_pdev:
            break
    if not pdev - old_pdev <= tol:
        raise PirlsError("PIRLS step-halvings failed to reduce the penalized deviance")
    return pdev, eta, mu, new_u, new_beta


def unscaled_fixed_vcov(data: GlmmData, theta: np.ndarray, w: np.ndarray) -> np.ndarray:
    """:math:`(R_X^\\top R_X)^{-1}` at working weights ``w`` (lme4's ``unsc()``):

    .. math:: R_X^\\top R_X = X^\\top W X - X^\\top W Z\\Lambda\\, A^{-1} \\Lambda^\\top Z^\\top W X.
    """
    zl = z_lambda(data, theta)
    factor = zl.factor(w)
    WX = data.X * w[:, None]
    cross = zl.t_times(WX)
    schur = data.X.T @ WX - cross.T @ factor.solve(cross)
    return np.linalg.inv(schur)


def conditional_variances(data: GlmmData, theta: np.ndarray, w: np.ndarray) -> list[np.ndarray]:
    """Conditional covariance of each level's random effects (lme4's ``condVar`` for GLMMs):

    .. math:: \\mathrm{Var}(b_j\\mid y) \\approx T\\,[A^{-1}]_{jj}\\,T^\\top,\\qquad
        A = \\Lambda^\\top Z^\\top W Z \\Lambda + I.

    Returns one array of shape ``(n_levels, k, k)`` per term.
    """
    A_inv = z_lambda(data, theta).factor(w).inverse()
    out = []
    for t in data.terms:
        idx = np.arange(t.b_slice.start, t.b_slice.stop)
        block = A_inv[np.ix_(idx, idx)].reshape(t.n_levels, t.k, t.n_levels, t.k)
        diag = np.einsum("lalb->lab", block)
        T = t.template(theta)
        out.append(np.einsum("ab,lbc,dc->lad", T, diag, T))
    return out
