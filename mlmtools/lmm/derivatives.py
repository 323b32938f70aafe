"""Derivatives of the deviance over theta and over the variance parameters (theta, sigma).

The fit's gradient check needs the gradient and Hessian of the profiled deviance over theta
(:func:`profiled_derivatives`); Satterthwaite's method (:mod:`mlmtools.inference.satterthwaite`)
needs those of lmerTest's two functions of :math:`\\varphi = (\\theta, \\sigma)`, which lmerTest
takes numerically: the deviance

.. math::
    f(\\theta, \\sigma) = \\log|V| + [\\log|X^\\top V^{-1} X|] + \\frac{y^\\top P y}{\\sigma^2}
        + m \\log(2\\pi\\sigma^2),

with :math:`V = W^{-1} + Z\\Lambda_\\theta\\Lambda_\\theta^\\top Z^\\top`,
:math:`P = V^{-1} - V^{-1}X(X^\\top V^{-1}X)^{-1}X^\\top V^{-1}` and :math:`m = n - p` for REML
(bracketed term included), :math:`m = n` for ML; and the covariance of the fixed effects
:math:`C(\\theta, \\sigma) = \\sigma^2 (X^\\top V^{-1} X)^{-1}`.  This module computes their
derivatives in closed form (:func:`varpar_derivatives`); :func:`deviance_varpar` and
:func:`covbeta_varpar` are the two functions themselves, for lmerTest's numerical scheme
(:func:`varpar_hessian_jacobian` chooses).  Writing :math:`V_k = \\partial V/\\partial\\theta_k = Z D_k Z^\\top`
with :math:`D_k = \\Lambda_k\\Lambda^\\top + \\Lambda\\Lambda_k^\\top` and
:math:`D_{kl} = \\Lambda_k\\Lambda_l^\\top + \\Lambda_l\\Lambda_k^\\top`
(:math:`\\Lambda_k = \\partial\\Lambda/\\partial\\theta_k`),

.. math::
    \\frac{\\partial^2 f}{\\partial\\theta_k\\partial\\theta_l}
        = \\mathrm{tr}(\\Pi V_{kl}) - \\mathrm{tr}(\\Pi V_k \\Pi V_l)
        + \\frac{2\\, y^\\top P V_k P V_l P y - y^\\top P V_{kl} P y}{\\sigma^2},

    \\frac{\\partial^2 f}{\\partial\\theta_k\\partial\\sigma} = \\frac{2\\, y^\\top P V_k P y}{\\sigma^3},
    \\qquad
    \\frac{\\partial^2 f}{\\partial\\sigma^2} = \\frac{6\\, y^\\top P y}{\\sigma^4} - \\frac{2m}{\\sigma^2},

    \\frac{\\partial C}{\\partial\\theta_k} = \\sigma^2 C_u X^\\top V^{-1} V_k V^{-1} X C_u, \\qquad
    \\frac{\\partial C}{\\partial\\sigma} = 2\\sigma C_u,

with :math:`\\Pi = P` for REML, :math:`\\Pi = V^{-1}` for ML, and :math:`C_u = (X^\\top V^{-1}X)^{-1}`.
Every term reduces to the random-effects space: with :math:`Q = Z^\\top V^{-1} Z`,
:math:`U = Z^\\top V^{-1} X`, :math:`z = Z^\\top P y` and :math:`Q_P = Q - U C_u U^\\top`,
e.g. :math:`\\mathrm{tr}(P V_k P V_l) = \\mathrm{tr}(D_k Q_P D_l Q_P)` and
:math:`y^\\top P V_k P y = z^\\top D_k z`.

With one random-effects term, :math:`Q` and :math:`D_k` are block diagonal (one
:math:`k \\times k` block per level) and everything is computed level by level from the
cross-products of :class:`~mlmtools.lmm.problem.LmmProblem`.  With several terms the
random-effects space is handled densely, which is done up to :data:`DENSE_MAX_Q` random
effects, unless the model is factored blockwise (:func:`~mlmtools.lmm.problem.uses_blocked_factor`):
then the same quantities come from the blocked factor (:mod:`mlmtools.lmm.blocked_traces`), for
any number of random effects.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from mlmtools.inference import numderiv
from mlmtools.lmm.blocked_traces import blocked_derivatives_available, blocked_theta_derivatives
from mlmtools.lmm.level_blocks import block_cholesky_inverse
from mlmtools.lmm.pls import PlsSolution, solve
from mlmtools.lmm.problem import LmmProblem, TermLayout

#: Largest number of random effects for which models with several terms get exact derivatives.
DENSE_MAX_Q = 1500


def analytic_available(problem: LmmProblem, theta: np.ndarray | None = None) -> bool:
    """Whether :func:`varpar_derivatives` handles this model: one term, a small q, or a model factored
    blockwise whose templates with several columns are invertible at ``theta``
    (:func:`~mlmtools.lmm.blocked_traces.blocked_derivatives_available`; without ``theta``, only
    when every term has one column, which any theta allows)."""
    if len(problem.terms) == 1 or problem.q <= DENSE_MAX_Q:
        return True
    if problem.crossed is None:
        return False
    if theta is None:
        return all(t.k == 1 for t in problem.terms)
    return blocked_derivatives_available(problem, theta)


def _template_derivatives(t: TermLayout, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """:math:`d_k = E_kT^\\top + TE_k^\\top` (n_par, k, k) and :math:`d_{kl} = E_kE_l^\\top +
    E_lE_k^\\top` (n_par, n_par, k, k), with :math:`E_k = \\partial T/\\partial\\theta_k`."""
    T = t.template(theta)
    E = t.template_basis()
    d = E @ T.T
    d = d + d.transpose(0, 2, 1)
    EE = np.einsum("mab,ncb->mnac", E, E)
    return d, EE + EE.transpose(1, 0, 2, 3)


def _single_term_pieces(problem: LmmProblem, theta: np.ndarray
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per level j: :math:`Q_j = S_j - S_jG_jS_j` and :math:`Z_j^\\top V^{-1}[X\\ y] =
    (I - S_jG_j)Z_j^\\top W[X\\ y]`, with :math:`S_j = Z_j^\\top W Z_j` and
    :math:`G_j = T(T^\\top S_j T + I)^{-1}T^\\top`; plus :math:`d` and :math:`d_{kl}`."""
    t = problem.terms[0]
    T = t.template(theta)
    S = problem.ztz1
    L_inv, _ = block_cholesky_inverse(T.T @ S @ T + np.eye(t.k))
    half = L_inv @ T.T
    SG = S @ (half.transpose(0, 2, 1) @ half)
    d, dd = _template_derivatives(t, theta)
    return S - SG @ S, problem.ztxy1 - SG @ problem.ztxy1, d[:, None], dd


def _dense_pieces(problem: LmmProblem, theta: np.ndarray
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The same quantities as :func:`_single_term_pieces` for the whole random-effects
    space at once (a single block of size q)."""
    q, m = problem.q, problem.n_theta
    Z = problem.Z
    WZ = sp.diags(problem.weights) @ Z
    ztz = (WZ.T @ Z).toarray()
    ztxy = np.asarray(WZ.T @ np.column_stack([problem.X, problem.y_work]))
    lam = np.zeros((q, q))
    d = np.zeros((m, q, q))
    dd = np.zeros((m, m, q, q))
    for t in problem.terms:
        eye = np.eye(t.n_levels)
        block = (t.b_slice, t.b_slice)
        lam[block] = np.kron(eye, t.template(theta))
        d_t, dd_t = _template_derivatives(t, theta)
        params = range(t.theta_slice.start, t.theta_slice.stop)
        for a, i in enumerate(params):
            d[(i, *block)] = np.kron(eye, d_t[a])
            for c, j in enumerate(params):
                dd[(i, j, *block)] = np.kron(eye, dd_t[a, c])
    L = np.linalg.cholesky(lam.T @ ztz @ lam + np.eye(q))
    half = np.linalg.solve(L, lam.T)
    SG = ztz @ (half.T @ half)
    return (ztz - SG @ ztz)[None], (ztxy - SG @ ztxy)[None], d[:, None], dd


@dataclass(frozen=True)
class ThetaDerivatives:
    """First and second derivatives over theta of the two parts of the deviance.

    Attributes
    ----------
    log_det_gradient, log_det_hessian : numpy.ndarray
        Of :math:`\\log|V| + [\\log|X^\\top V^{-1}X|]` (bracket for REML):
        :math:`\\mathrm{tr}(\\Pi V_k)` and
        :math:`\\mathrm{tr}(\\Pi V_{kl}) - \\mathrm{tr}(\\Pi V_k \\Pi V_l)`.
    pwrss_gradient, pwrss_hessian : numpy.ndarray
        Of :math:`\\mathrm{pwrss} = y^\\top P y`: :math:`-y^\\top PV_kPy` and
        :math:`2\\,y^\\top PV_kPV_lPy - y^\\top PV_{kl}Py`.
    vcov_gradient : numpy.ndarray
        Shape ``(n_theta, p, p)``: :math:`\\partial C_u/\\partial\\theta_k = C_u U^\\top D_k U C_u`.
    unscaled_vcov : numpy.ndarray
        :math:`C_u = (X^\\top V^{-1} X)^{-1}`.
    """

    log_det_gradient: np.ndarray
    log_det_hessian: np.ndarray
    pwrss_gradient: np.ndarray
    pwrss_hessian: np.ndarray
    vcov_gradient: np.ndarray
    unscaled_vcov: np.ndarray


def theta_derivatives(problem: LmmProblem, solution: PlsSolution) -> ThetaDerivatives:
    """The derivatives of the module docstring at ``solution.theta`` (REML or ML as
    ``solution.REML``).

    A model factored blockwise gets them through its blocked factor
    (:mod:`mlmtools.lmm.blocked_traces`) where its templates allow, and otherwise from the
    dense pieces.

    Raises
    ------
    ValueError
        For a model with several terms and more than :data:`DENSE_MAX_Q` random effects, unless it
        is factored blockwise with invertible templates for its terms with several columns.
    """
    if problem.crossed is not None and blocked_derivatives_available(problem, solution.theta):
        return ThetaDerivatives(*blocked_theta_derivatives(problem, solution))
    if not (len(problem.terms) == 1 or problem.q <= DENSE_MAX_Q):
        raise ValueError(f"exact derivatives for several random-effects terms need q <= {DENSE_MAX_Q} "
                         f"or a model factored blockwise with invertible templates (this model has q = "
                         f"{problem.q})")
    p = problem.p
    pieces = _single_term_pieces if len(problem.terms) == 1 else _dense_pieces
    Q, N, d, dd = pieces(problem, solution.theta)
    RX_inv = np.linalg.inv(solution.RX)
    C = RX_inv @ RX_inv.T
    U = N[..., :p]
    z = N[..., p] - U @ (solution.beta - problem.beta_shift)

    m = len(d)
    DQ = d @ Q  # (m, levels, k, k): D_m Q per level
    DU = d @ U
    Dz = (d @ z[..., None])[..., 0]
    U_flat = U.reshape(-1, p)
    E = U_flat.T @ DU.reshape(m, -1, p)  # U'D_mU, (m, p, p)
    Q_total = Q.sum(axis=0)
    trace_first = np.einsum("mab,ba->m", d[:, 0], Q_total)
    trace_second = np.einsum("mnab,ba->mn", dd, Q_total)
    trace_product = DQ.reshape(m, -1) @ DQ.transpose(0, 1, 3, 2).reshape(m, -1).T
    if solution.REML:
        UCU = np.einsum("lap,lbp->ab", U @ C, U)  # sum over levels of U_j C U_j
        CE = C @ E
        QDU = Q @ DU
        trace_first -= np.einsum("mab,ba->m", d[:, 0], UCU)
        trace_second -= np.einsum("mnab,ba->mn", dd, UCU)
        trace_product += (np.einsum("mpq,nqp->mn", CE, CE)
                          - 2.0 * (DU @ C).reshape(m, -1) @ QDU.reshape(m, -1).T)
    proj = np.einsum("lap,mla->mp", U, Dz)  # U'D_m z
    QDz = (Q @ Dz[..., None])[..., 0]
    zDQDz = Dz.reshape(m, -1) @ QDz.reshape(m, -1).T - proj @ C @ proj.T
    zDDz = np.einsum("mnab,ab->mn", dd, z.reshape(-1, z.shape[-1]).T @ z.reshape(-1, z.shape[-1]))
    return ThetaDerivatives(
        log_det_gradient=trace_first,
        log_det_hessian=trace_second - trace_product,
        pwrss_gradient=-np.einsum("la,mla->m", z, Dz),
        pwrss_hessian=2.0 * zDQDz - zDDz,
        vcov_gradient=C @ E @ C,
        unscaled_vcov=C,
    )


def varpar_derivatives(problem: LmmProblem, solution: PlsSolution,
                       theta_der: ThetaDerivatives | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Exact Hessian of lmerTest's ``devfun_vp`` and Jacobian of ``get_covbeta``.

    Parameters
    ----------
    problem : ~mlmtools.lmm.problem.LmmProblem
    solution : ~mlmtools.lmm.pls.PlsSolution
        The PLS solution at the point of differentiation (:math:`\\hat\\theta`); its
        ``REML`` flag selects the deviance and its :math:`\\hat\\sigma` is used for
        :math:`\\sigma`.
    theta_der : ThetaDerivatives, optional
        :func:`theta_derivatives` at the same solution, if already computed.

    Returns
    -------
    hessian : numpy.ndarray
        Shape ``(n_theta + 1, n_theta + 1)``, over :math:`(\\theta, \\sigma)`.
    jacobian : numpy.ndarray
        Shape ``(n_theta + 1, p, p)``: :math:`\\partial C / \\partial\\varphi_k`.
    """
    der = theta_derivatives(problem, solution) if theta_der is None else theta_der
    sigma = solution.sigma
    m = problem.n_theta
    resid_df = problem.n - problem.p if solution.REML else problem.n
    H = np.empty((m + 1, m + 1))
    H[:m, :m] = der.log_det_hessian + der.pwrss_hessian / sigma**2
    H[:m, m] = H[m, :m] = -2.0 * der.pwrss_gradient / sigma**3
    H[m, m] = 6.0 * solution.pwrss / sigma**4 - 2.0 * resid_df / sigma**2
    jacobian = np.concatenate([sigma**2 * der.vcov_gradient, (2.0 * sigma * der.unscaled_vcov)[None]])
    return H, jacobian


def profiled_derivatives(problem: LmmProblem, solution: PlsSolution,
                         theta_der: ThetaDerivatives | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and Hessian over theta of the profiled deviance :math:`d(\\theta)` of
    :mod:`mlmtools.lmm.pls` (REML criterion or ML deviance, as ``solution.REML``).

    With :math:`m = n - p` (REML) or :math:`n` (ML) and :math:`r = \\mathrm{pwrss}`,

    .. math::
        \\partial_k d = \\partial_k \\log|\\cdot| + m\\,\\frac{\\partial_k r}{r},\\qquad
        \\partial_{kl} d = \\partial_{kl} \\log|\\cdot|
            + m\\left(\\frac{\\partial_{kl} r}{r} - \\frac{\\partial_k r\\,\\partial_l r}{r^2}\\right).

    ``theta_der`` is :func:`theta_derivatives` at the same solution, if already computed.
    """
    der = theta_derivatives(problem, solution) if theta_der is None else theta_der
    m = problem.n - problem.p if solution.REML else problem.n
    r = solution.pwrss
    gradient = der.log_det_gradient + m * der.pwrss_gradient / r
    hessian = der.log_det_hessian + m * (der.pwrss_hessian / r
                                         - np.outer(der.pwrss_gradient, der.pwrss_gradient) / r**2)
    return gradient, hessian


def deviance_varpar(problem: LmmProblem, REML: bool, varpar: np.ndarray) -> float:
    """lmerTest's ``devfun_vp``: the deviance as a function of :math:`(\\theta, \\sigma)`.

    .. math::
        \\log|L|^2 + \\mathrm{pwrss}/\\sigma^2 + n\\log(2\\pi\\sigma^2)
        \\;[+\\ \\log|R_X|^2 - p\\log(2\\pi\\sigma^2)\\ \\text{for REML}],

    with the PLS problem solved at :math:`\\theta` (prior-weight constants omitted).
    """
    theta, sigma = varpar[:-1], varpar[-1]
    s = solve(problem, theta, REML)
    sigma2 = sigma**2
    value = s.ldL2 + s.pwrss / sigma2 + problem.n * np.log(2 * np.pi * sigma2)
    if REML:
        value += s.ldRX2 - problem.p * np.log(2 * np.pi * sigma2)
    return float(value)


def covbeta_varpar(problem: LmmProblem, REML: bool, varpar: np.ndarray) -> np.ndarray:
    """lmerTest's ``get_covbeta``: :math:`\\sigma^2 R_X^{-1}R_X^{-\\top}` at :math:`\\theta`."""
    s = solve(problem, varpar[:-1], REML)
    RX_inv = np.linalg.inv(s.RX)
    covariance: np.ndarray = varpar[-1] ** 2 * RX_inv @ RX_inv.T
    return covariance


def varpar_hessian_jacobian(problem: LmmProblem, solution: PlsSolution, derivatives: str,
                            theta_der: ThetaDerivatives | None = None
                            ) -> tuple[np.ndarray, np.ndarray, str]:
    """The Hessian of ``devfun_vp`` and the Jacobian of ``get_covbeta`` at the solution.

    ``derivatives="analytic"`` gives :func:`varpar_derivatives` when the model allows it
    (:func:`analytic_available`); otherwise, and for ``"numerical"``, they are taken as
    lmerTest takes them with numDeriv (:func:`mlmtools.inference.numderiv.hessian` and
    :func:`~mlmtools.inference.numderiv.jacobian`).

    Returns
    -------
    tuple
        The Hessian, the Jacobian and the scheme used (``"analytic"`` or ``"numerical"``).
    """
    if derivatives == "analytic" and analytic_available(problem, solution.theta):
        hessian, jacobian = varpar_derivatives(problem, solution, theta_der)
        return hessian, jacobian, "analytic"
    varpar = np.append(solution.theta, solution.sigma)
    hessian = numderiv.hessian(lambda v: deviance_varpar(problem, solution.REML, v), varpar)
    jacobian = numderiv.jacobian(lambda v: covbeta_varpar(problem, solution.REML, v), varpar)
    return hessian, jacobian, "numerical"
