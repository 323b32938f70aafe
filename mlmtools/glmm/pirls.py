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

The linear algebra is in :mod:`mlmtools.glmm.penalized_system`. Everything that does not change
during a fit is computed once per model and kept on :class:`GlmmData`: the response bound to its
family (:class:`GlmResponse`), the block elimination plan of the penalized system, and, per
starting linear predictor, the first iterate (:class:`PirlsStart`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import scipy.sparse as sp

from mlmtools.glmm.elimination import EliminationPlan, make_plan
from mlmtools.glmm.families import Family
from mlmtools.glmm.penalized_system import BlockedZLambda, ScalarZLambda
from mlmtools.lmm.problem import TermLayout

TOL_PWRSS = 1e-7  # glmerControl(tolPwrss = 1e-7)
PIRLS_MAXIT = 100
MAX_HALVINGS = 10
_CACHED = ("response", "level_indicator", "plan")


class PirlsError(RuntimeError):
    """PIRLS failed: step halving could not reduce the penalized deviance, or no convergence."""


class GlmResponse:
    """The response bound to its family (lme4's ``glmResp``): what PIRLS evaluates at every iterate.

    The unit deviances and the ``aic`` term are the family's functions of :math:`\\mu` for this
    response (:meth:`~mlmtools.glmm.families.Family.deviance_function`); unit prior weights and a
    zero offset are skipped (multiplying by 1 and adding 0 change no number).
    """

    def __init__(self, family: Family, y: np.ndarray, weights: np.ndarray, offset: np.ndarray,
                 trials: np.ndarray | None):
        self.family = family
        self.link = family.link_function
        self.y = y
        self.weights = None if np.all(weights == 1.0) else weights
        self.offset = None if not np.any(offset) else offset
        self.unit_deviances = family.deviance_function(y, weights)
        self.aic = family.aic_function(y, weights, trials)

    def working(self, eta: np.ndarray, mu: np.ndarray, reuse: Any) -> tuple[np.ndarray, np.ndarray]:
        """Working weights :math:`W = w\\,(d\\mu/d\\eta)^2/V(\\mu)` and working response
        :math:`z = \\eta - o + (y-\\mu)/(d\\mu/d\\eta)`."""
        slope = self.link.slope(eta, mu, reuse)
        w = np.square(slope)
        if self.weights is not None:
            np.multiply(self.weights, w, out=w)
        np.divide(w, self.family.variance(mu), out=w)
        z = np.subtract(self.y, mu)
        np.divide(z, slope, out=z)
        return w, np.add(eta if self.offset is None else eta - self.offset, z, out=z)

    def linear_predictor(self, fixed: np.ndarray, random: np.ndarray) -> np.ndarray:
        """:math:`\\eta = X\\beta + Z\\Lambda u + o`."""
        eta: np.ndarray = np.add(fixed, random, out=random)
        return eta if self.offset is None else np.add(eta, self.offset, out=eta)


@dataclass(frozen=True)
class GlmmData:
    """The arrays of a generalized linear mixed model, fixed for the whole fit.

    Attributes
    ----------
    y : numpy.ndarray
        Response (proportions for binomial data given as counts).
    X : numpy.ndarray
        Fixed-effects design.
    terms : tuple of ~mlmtools.lmm.problem.TermLayout
        Random-effects terms (lme4's order).
    term_codes, term_matrices : tuple of numpy.ndarray
        Each observation's level in every term, and the term's columns (``(n, k)``).
    weights : numpy.ndarray
        Prior weights (trials for binomial counts).
    offset : numpy.ndarray
    family : Family
    trials : numpy.ndarray or None
        Binomial denominators when the response was ``cbind(successes, failures)``.
    """

    y: np.ndarray
    X: np.ndarray
    terms: tuple[TermLayout, ...]
    term_codes: tuple[np.ndarray, ...]
    term_matrices: tuple[np.ndarray, ...]
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
        return int(self.terms[-1].b_slice.stop)

    @property
    def single_scalar(self) -> bool:
        """True for exactly one random-effects term with one column (e.g. ``(1 | g)``)."""
        return len(self.terms) == 1 and self.terms[0].k == 1

    @property
    def scalar_term(self) -> tuple[np.ndarray, np.ndarray]:
        """Each row's level code and its Z entry, for a model with a single scalar term."""
        return self.term_codes[0], self.term_matrices[0][:, 0]

    @cached_property
    def response(self) -> GlmResponse:
        """The response bound to the family (computed once)."""
        return GlmResponse(self.family, self.y, self.weights, self.offset, self.trials)

    @cached_property
    def level_indicator(self) -> sp.csr_matrix:
        """The ``(n_levels, n)`` 0/1 matrix of each observation's level (one scalar term only)."""
        codes = self.term_codes[0]
        n = len(codes)
        return sp.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(self.terms[0].n_levels, n))

    @cached_property
    def plan(self) -> EliminationPlan:
        """The block elimination plan of the penalized system (computed once)."""
        return make_plan(self.terms, self.term_codes, self.term_matrices)

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the arrays, not what is cached from them."""
        return {key: value for key, value in self.__dict__.items() if key not in _CACHED}


def z_lambda(data: GlmmData, theta: np.ndarray) -> ScalarZLambda | BlockedZLambda:
    """:math:`Z\\Lambda_\\theta` in the cheapest form the design allows."""
    if data.single_scalar:
        codes, z = data.scalar_term
        return ScalarZLambda(codes, data.level_indicator, z, float(theta[0]))
    return BlockedZLambda(data.plan, data.terms, data.term_matrices, np.asarray(theta, dtype=float))


@dataclass(frozen=True)
class PirlsStart:
    """The first iterate of PIRLS from a stored linear predictor (lme4's ``lp0``): the same for
    every evaluation that starts there, so it is computed once.

    Attributes
    ----------
    eta, mu : numpy.ndarray
        Linear predictor (offset included) and mean.
    weights, working_response : numpy.ndarray
        :math:`W` and :math:`z` at that mean.
    """

    eta: np.ndarray
    mu: np.ndarray
    weights: np.ndarray
    working_response: np.ndarray


def pirls_start(data: GlmmData, linear_predictor: np.ndarray) -> PirlsStart:
    """The first iterate from ``linear_predictor`` (offset excluded)."""
    response = data.response
    eta = linear_predictor if response.offset is None else linear_predictor + response.offset
    mu, reuse = response.link.mean(eta)
    w, z = response.working(eta, mu, reuse)
    return PirlsStart(eta=eta, mu=mu, weights=w, working_response=z)


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


def penalized_irls(data: GlmmData, theta: np.ndarray, beta: np.ndarray, start: np.ndarray | PirlsStart, *,
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
    start : numpy.ndarray or PirlsStart
        Linear predictor without the offset to start from (lme4's ``lp0``), or its first
        iterate from :func:`pirls_start`.
    update_beta : bool
        Estimate beta jointly with u (lme4's ``nAGQ = 0`` stage) or keep it fixed.

    Raises
    ------
    PirlsError
        When step halving fails or the iterations do not converge.
    """
    response = data.response
    first = start if isinstance(start, PirlsStart) else pirls_start(data, start)
    zl = z_lambda(data, theta)
    fixed = data.X @ beta
    u = np.zeros(data.q)
    eta, mu, reuse = first.eta, first.mu, None
    w, z_work = first.weights, first.working_response
    old_pdev = np.inf
    dev = np.zeros(0)
    for iteration in range(1, maxit + 1):
        if iteration > 1:
            w, z_work = response.working(eta, mu, reuse)
        factor = zl.factor(w)
        if update_beta:
            new_u, new_beta = _joint_step(data, zl, factor, w, z_work)
            new_fixed = data.X @ new_beta
        else:
            new_u, new_beta, new_fixed = factor.solve(zl.t_times(w * (z_work - fixed))), beta, fixed
        pdev, eta, mu, reuse, dev = _penalized_deviance(response, zl, new_u, new_fixed)
        if abs(old_pdev - pdev) < tol * abs(pdev):
            u, beta = new_u, new_beta
            break
        if not pdev <= old_pdev:
            pdev, eta, mu, reuse, dev, new_u, new_beta = _halve(data, zl, u, beta, new_u, new_beta,
                                                                 old_pdev, tol, update_beta)
        u, beta, old_pdev = new_u, new_beta, pdev
        if update_beta:
            fixed = data.X @ beta
    else:
        raise PirlsError(f"PIRLS did not converge in {maxit} iterations")
    return PirlsResult(
        u=u, beta=beta, eta=eta, mu=mu,
        linear_predictor=eta if response.offset is None else eta - response.offset, dev_resids=dev,
        aic=response.aic(mu), sqr_u=float(u @ u), log_det_L2=factor.log_det, l_diagonal=factor.l_diagonal,
        working_weights=w, iterations=iteration,
    )


def _joint_step(data: GlmmData, zl: Any, factor: Any, w: np.ndarray, z_work: np.ndarray
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


def _penalized_deviance(response: GlmResponse, zl: Any, u: np.ndarray, fixed: np.ndarray
                        ) -> tuple[float, np.ndarray, np.ndarray, Any, np.ndarray]:
    """:math:`\\sum_i d_i(y_i, \\mu_i) + \\lVert u\\rVert^2` with the new eta, mu (and what the
    slope can reuse) and unit deviances, at ``fixed`` :math:`= X\\beta`."""
    eta = response.linear_predictor(fixed, zl.times(u))
    mu, reuse = response.link.mean(eta)
    dev = response.unit_deviances(mu)
    return float(np.sum(dev) + u @ u), eta, mu, reuse, dev


def _halve(data: GlmmData, zl: Any, u: np.ndarray, beta: np.ndarray, new_u: np.ndarray,
           new_beta: np.ndarray, old_pdev: float, tol: float, update_beta: bool) -> tuple[Any, ...]:
    """lme4's step halving: move halfway back towards the previous iterate, at most 10 times."""
    pdev = np.inf
    fixed = data.X @ beta
    for _ in range(MAX_HALVINGS):
        new_u, new_beta = (u + new_u) / 2.0, (beta + new_beta) / 2.0
        new_fixed = data.X @ new_beta if update_beta else fixed
        pdev, eta, mu, reuse, dev = _penalized_deviance(data.response, zl, new_u, new_fixed)
        if pdev <= old_pdev:
            break
    if not pdev - old_pdev <= tol:
        raise PirlsError("PIRLS step-halvings failed to reduce the penalized deviance")
    return pdev, eta, mu, reuse, dev, new_u, new_beta


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
    blocks = z_lambda(data, theta).factor(w).diagonal_blocks_of_inverse(data.terms)
    out = []
    for t, diag in zip(data.terms, blocks):
        T = t.template(theta)
        out.append(np.einsum("ab,lbc,dc->lad", T, diag, T))
    return out
