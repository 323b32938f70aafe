"""Kenward and Roger's (1997) small-sample inference for the fixed effects of a linear mixed
model, with pbkrtest's choices (``vcovAdj``, ``Lb_ddf``, ``KRmodcomp``), as lmerTest uses them.

The marginal covariance of :math:`y` is written in the covariance parameters
:math:`\\gamma` (for each random-effects term the lower triangle of its covariance matrix,
column by column, then :math:`\\sigma^2`):

.. math:: \\Sigma = \\sum_i \\gamma_i G_i .

The model supplies :math:`\\Sigma` and the :math:`G_i` (:mod:`mlmtools.lmm.marginal_covariance`).
With :math:`\\Phi = (X^\\top\\Sigma^{-1}X)^{-1}` the usual covariance of :math:`\\hat\\beta`,
:func:`adjusted_covariance` computes

.. math::
    P_i = -X^\\top\\Sigma^{-1}G_i\\Sigma^{-1}X,\\quad
    Q_{ij} = X^\\top\\Sigma^{-1}G_i\\Sigma^{-1}G_j\\Sigma^{-1}X,\\quad
    K_{ij} = \\mathrm{tr}(G_i\\Sigma^{-1}G_j\\Sigma^{-1}),

    \\mathcal{I}_{ij} = K_{ij} - 2\\,\\mathrm{tr}(\\Phi Q_{ij}) + \\mathrm{tr}(\\Phi P_i\\Phi P_j),
    \\qquad W = 2\\mathcal{I}^{-1},

    U = \\sum_{i,j} W_{ij}(Q_{ij} - P_i\\Phi P_j),\\qquad
    \\Phi_A = \\Phi + 2\\,\\Phi U \\Phi

(pbkrtest's ``vcovAdj``; :math:`W` by the generalized inverse when :math:`\\mathcal{I}` is
nearly singular, smallest absolute eigenvalue at most :math:`10^{-10}`).

For a hypothesis :math:`L\\beta = L\\beta_H` of rank :math:`q`, :func:`kenward_roger_test` computes,
with :math:`\\Theta = L^\\top(L\\Phi L^\\top)^{-1}L` and :math:`u_i = \\Theta\\Phi P_i \\Phi`,

.. math::
    A_1 = \\sum_{i,j} W_{ij}\\,\\mathrm{tr}(u_i)\\,\\mathrm{tr}(u_j),\\quad
    A_2 = \\sum_{i,j} W_{ij}\\,\\mathrm{tr}(u_i u_j),\\quad
    B = \\frac{A_1 + 6A_2}{2q},\\quad
    g = \\frac{(q+1)A_1 - (q+4)A_2}{(q+2)A_2},

    c_1 = \\frac{g}{3q + 2(1-g)},\\ c_2 = \\frac{q-g}{3q + 2(1-g)},\\ c_3 = \\frac{q+2-g}{3q + 2(1-g)},
    \\qquad \\rho = \\frac1q\\Big(\\frac{1 - A_2/q}{1 - c_2B}\\Big)^2\\frac{1 + c_1B}{1 - c_3B},

    \\nu = 4 + \\frac{q+2}{q\\rho - 1},\\qquad
    \\lambda = \\frac{\\nu(1 - A_2/q)}{\\nu - 2},\\qquad
    F = \\frac{\\lambda}{q}(\\hat\\beta - \\beta_H)^\\top L^\\top(L\\Phi_A L^\\top)^{-1}L(\\hat\\beta - \\beta_H)
    \\sim F_{q,\\nu}

(:math:`\\lambda = 1` when :math:`|\\nu - 2| < 0.01`); :func:`kenward_roger_df` is :math:`\\nu` for
a single contrast, pbkrtest's ``Lb_ddf``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_SINGULAR_INFORMATION = 1e-10  # pbkrtest: a generalized inverse below this eigenvalue
_DIVIDE_TOL = 1e-14  # pbkrtest's .divZero


@dataclass(frozen=True)
class KenwardRogerAdjustment:
    """pbkrtest's ``vcovAdj``: the adjusted covariance and what the tests reuse.

    Attributes
    ----------
    vcov_adjusted : numpy.ndarray
        :math:`\\Phi_A`.
    vcov : numpy.ndarray
        :math:`\\Phi`.
    P : numpy.ndarray
        Shape ``(len(gamma), p, p)``: the :math:`P_i`.
    W : numpy.ndarray
        :math:`W = 2\\mathcal{I}^{-1}`.
    """

    vcov_adjusted: np.ndarray
    vcov: np.ndarray
    P: np.ndarray
    W: np.ndarray


def adjusted_covariance(vcov: np.ndarray, sigma_matrix: np.ndarray, derivatives: list[np.ndarray],
                        X: np.ndarray) -> KenwardRogerAdjustment:
    """:math:`\\Phi_A` and its pieces (module docstring), pbkrtest's ``vcovAdj_internal``.

    Parameters
    ----------
    vcov : numpy.ndarray
        :math:`\\Phi`, the covariance of :math:`\\hat\\beta` (p x p).
    sigma_matrix : numpy.ndarray
        :math:`\\Sigma` (n x n).
    derivatives : list of numpy.ndarray
        The :math:`G_i = \\partial\\Sigma/\\partial\\gamma_i` (each n x n).
    X : numpy.ndarray
        The fixed-effects design (n x p).
    """
    factor = np.linalg.cholesky(sigma_matrix)
    inverse = np.linalg.inv(factor)
    sigma_inv = inverse.T @ inverse
    tx = sigma_inv @ X
    n_gamma = len(derivatives)
    hh = [G @ sigma_inv for G in derivatives]
    oo = [H @ X for H in hh]
    P = np.array([-(product.T @ tx) for product in oo])
    P = (P + P.transpose(0, 2, 1)) / 2  # forceSymmetric
    Q = {(r, s): oo[r].T @ sigma_inv @ oo[s] for r in range(n_gamma) for s in range(r, n_gamma)}
    information = np.empty((n_gamma, n_gamma))
    for i in range(n_gamma):
        phi_p = vcov @ P[i]
        for j in range(i, n_gamma):
            k_trace = np.sum(hh[i].T * hh[j])
            information[i, j] = information[j, i] = (k_trace - 2 * np.sum(vcov * Q[i, j])
                                                     + np.sum(phi_p * (P[j] @ vcov)))
    eigenvalues = np.linalg.eigvalsh(information)
    if np.min(np.abs(eigenvalues)) > _SINGULAR_INFORMATION:
        W = 2 * np.linalg.inv(information)
    else:
        W = 2 * np.linalg.pinv(information)
    W = (W + W.T) / 2
    U = np.zeros_like(vcov)
    for i in range(n_gamma - 1):
        for j in range(i + 1, n_gamma):
            U += W[i, j] * (Q[i, j] - P[i] @ vcov @ P[j])
    U = U + U.T
    for i in range(n_gamma):
        U += W[i, i] * (Q[i, i] - P[i] @ vcov @ P[i])
    return KenwardRogerAdjustment(vcov_adjusted=vcov + 2 * vcov @ U @ vcov, vcov=vcov, P=P, W=W)


def _a1_a2(L: np.ndarray, adjustment: KenwardRogerAdjustment) -> tuple[float, float]:
    """:math:`A_1` and :math:`A_2` of the module docstring."""
    V0 = adjustment.vcov
    theta = L.T @ np.linalg.solve(L @ V0 @ L.T, L)
    theta_v0 = theta @ V0
    u = [theta_v0 @ P @ V0 for P in adjustment.P]
    traces = np.array([np.trace(ui) for ui in u])
    n_gamma = len(u)
    A1 = A2 = 0.0
    for i in range(n_gamma):
        for j in range(i, n_gamma):
            weight = (1.0 if i == j else 2.0) * adjustment.W[i, j]
            A1 += weight * traces[i] * traces[j]
            A2 += weight * np.sum(u[i] * u[j].T)
    return float(A1), float(A2)


def _degrees_of_freedom(A1: float, A2: float, q: int) -> float:
    """:math:`\\nu` from :math:`A_1, A_2` and the rank :math:`q` (module docstring)."""
    B = (A1 + 6 * A2) / (2 * q)
    g = ((q + 1) * A1 - (q + 4) * A2) / ((q + 2) * A2)
    denominator = 3 * q + 2 * (1 - g)
    c1, c2, c3 = g / denominator, (q - g) / denominator, (q + 2 - g) / denominator
    V0 = 1 + c1 * B
    V1 = 1 - c2 * B
    V2 = 1 - c3 * B
    V0 = 0.0 if abs(V0) < 1e-10 else V0
    ratio = 1.0 if abs(1 - A2 / q) < _DIVIDE_TOL and abs(V1) < _DIVIDE_TOL else (1 - A2 / q) / V1
    rho = ratio**2 * V0 / V2 / q
    return float(4 + (q + 2) / (q * rho - 1))


def kenward_roger_df(L: np.ndarray, adjustment: KenwardRogerAdjustment) -> float:
    """Kenward-Roger denominator df :math:`\\nu` of the contrast(s) ``L`` with :math:`q` =
    the number of rows (pbkrtest's ``Lb_ddf``; one row for a t test)."""
    L = np.atleast_2d(np.asarray(L, dtype=float))
    A1, A2 = _a1_a2(L, adjustment)
    return _degrees_of_freedom(A1, A2, L.shape[0])


@dataclass(frozen=True)
class KenwardRogerTest:
    """The F test of :func:`kenward_roger_test` (pbkrtest's ``KRmodcomp`` statistics).

    Attributes
    ----------
    ndf, ddf : float
        :math:`q` and :math:`\\nu`.
    F_unscaled : float
        :math:`(\\hat\\beta - \\beta_H)^\\top L^\\top(L\\Phi_A L^\\top)^{-1}L(\\hat\\beta - \\beta_H)/q`.
    scaling : float
        :math:`\\lambda`.
    """

    ndf: int
    ddf: float
    F_unscaled: float
    scaling: float

    @property
    def F(self) -> float:
        """The scaled statistic :math:`\\lambda F_U`."""
        return self.scaling * self.F_unscaled


def kenward_roger_test(L: np.ndarray, beta: np.ndarray, adjustment: KenwardRogerAdjustment,
                       beta_h: np.ndarray | float = 0.0) -> KenwardRogerTest:
    """The Kenward-Roger F test of :math:`L\\beta = L\\beta_H` (pbkrtest's ``.KR_adjust``).

    Raises
    ------
    numpy.linalg.LinAlgError
        When :math:`L\\Phi L^\\top` is singular (rows of ``L`` linearly dependent).
    """
    L = np.atleast_2d(np.asarray(L, dtype=float))
    q = int(np.linalg.matrix_rank(L))
    A1, A2 = _a1_a2(L, adjustment)
    ddf = _degrees_of_freedom(A1, A2, q)
    scaling = 1.0 if abs(ddf - 2) < 0.01 else ddf * (1 - A2 / q) / (ddf - 2)
    difference = L @ (np.asarray(beta, dtype=float) - beta_h)
    wald = float(difference @ np.linalg.solve(L @ adjustment.vcov_adjusted @ L.T, difference))
    return KenwardRogerTest(ndf=q, ddf=ddf, F_unscaled=wald / q, scaling=float(scaling))
