"""lmerTest's Satterthwaite degrees of freedom for linear mixed models.

The variance parameters are :math:`\\varphi = (\\theta, \\sigma)`.  lmerTest stores, at
fit time (``as_lmerModLT``):

* :math:`A = 2 H^{+}`, with :math:`H` the Hessian of the deviance as a function of
  :math:`\\varphi` (``devfun_vp``) and :math:`H^{+}` its eigen pseudo-inverse;
* :math:`J_k = \\partial C / \\partial \\varphi_k`, the Jacobian of
  :math:`C(\\varphi) = \\sigma^2 R_X^{-1} R_X^{-\\top}` (``get_covbeta``);
* :math:`C = \\mathrm{vcov}(\\hat\\beta)`.

For a contrast :math:`L`, with :math:`g_k = L^\\top J_k L`,

.. math::
    \\nu = \\frac{2 (L^\\top C L)^2}{g^\\top A g}.

Two ways to get the derivatives are offered (``derivatives=``):

* ``"analytic"`` (the default, :data:`DEFAULT_DERIVATIVES`): exact closed forms
  (:mod:`mlmtools.lmm.derivatives`), at the cost of a few small matrix products;
* ``"numerical"``: exactly as lmerTest takes them with numDeriv (:mod:`mlmtools.inference.numderiv`),
  the Hessian by ``genD``
  (Richardson extrapolation, ``d = 0.1``, ``eps = 1e-4``, ``r = 4``) and the Jacobian by
  Richardson with ``d = 1e-4`` (about a hundred deviance evaluations).

Both agree with R's df to 1e-5 on the stored cases, and with each other to about 1e-6:
numDeriv's error is far below lmerTest's printed digits, and what differences remain
follow the optimum.  (R's 16.99973 for the intercept of the balanced sleepstudy slope
model, where the exact df at the optimum is 17, comes from where the optimizer stopped,
not from the differentiation.)

Models with several random-effects terms and more than
``mlmtools.lmm.derivatives.DENSE_MAX_Q`` random effects always use the numerical
scheme.

The model computes the Hessian and the Jacobian (:mod:`mlmtools.lmm.derivatives`); this
module turns them into lmerTest's stored quantities (:func:`varpar_information`) and
Satterthwaite's df (:func:`satterthwaite_df`, :func:`fstat_ddf`), for any model.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_EIGEN_TOL = 1e-8
DERIVATIVE_METHODS = ("analytic", "numerical")
#: How Satterthwaite's derivatives are taken when a call does not say.
DEFAULT_DERIVATIVES = "analytic"


@dataclass(frozen=True)
class VarparInformation:
    """What lmerTest keeps for Satterthwaite's method.

    Attributes
    ----------
    varpar : numpy.ndarray
        :math:`(\\hat\\theta, \\hat\\sigma)`.
    hessian : numpy.ndarray
        Hessian of ``devfun_vp`` at ``varpar``.
    vcov_varpar : numpy.ndarray
        :math:`A = 2H^{+}`.
    jacobian : numpy.ndarray
        Shape ``(len(varpar), p, p)``: :math:`\\partial C / \\partial\\varphi_k`.
    vcov_beta : numpy.ndarray
        :math:`C`.
    messages : tuple of str
        lmerTest's warnings about negative or near-zero Hessian eigenvalues.
    derivatives : str
        ``"analytic"`` or ``"numerical"``: how the derivatives were taken.
    """

    varpar: np.ndarray
    hessian: np.ndarray
    vcov_varpar: np.ndarray
    jacobian: np.ndarray
    vcov_beta: np.ndarray
    messages: tuple[str, ...]
    derivatives: str = "numerical"



def check_derivatives(derivatives: str | None) -> str:
    """Normalise a ``derivatives`` argument (None means :data:`DEFAULT_DERIVATIVES`)."""
    derivatives = DEFAULT_DERIVATIVES if derivatives is None else derivatives
    if derivatives not in DERIVATIVE_METHODS:
        raise ValueError(f"derivatives must be one of {DERIVATIVE_METHODS}, got {derivatives!r}")
    return derivatives


def hessian_messages(eigenvalues: np.ndarray, tol: float = _EIGEN_TOL) -> list[str]:
    """lmerTest's warnings about the Hessian of the variance parameters (``as_lmerModLT``).

    Eigenvalues below ``-tol`` mean the fit is not at a minimum; eigenvalues within ``tol``
    of zero mean the Hessian is (nearly) singular, as at a boundary fit.  The numbers are
    written as lmerTest's ``sprintf("%1.1e")``.
    """
    messages = []
    negative = eigenvalues[eigenvalues < -tol]
    if negative.size:
        noun = "eigenvalues" if negative.size > 1 else "eigenvalue"
        messages.append(f"Model failed to converge with {negative.size} negative {noun}: "
                        + " ".join(f"{v:1.1e}" for v in negative))
    near_zero = eigenvalues[np.abs(eigenvalues) < tol]
    if near_zero.size:
        noun = "eigenvalues" if near_zero.size > 1 else "eigenvalue"
        messages.append(f"Model may not have converged with {near_zero.size} {noun} close to zero: "
                        + " ".join(f"{v:1.1e}" for v in near_zero))
    return messages



def varpar_information(varpar: np.ndarray, hessian: np.ndarray, jacobian: np.ndarray,
                       vcov_beta: np.ndarray, derivatives: str) -> VarparInformation:
    """lmerTest's stored quantities (``as_lmerModLT``) from the derivatives at the optimum.

    :math:`A = 2H^{+}`, with :math:`H^{+}` the pseudo-inverse of the Hessian over its
    eigenvalues above ``1e-8``; eigenvalues below ``-1e-8`` or near zero give lmerTest's
    warnings (:func:`hessian_messages`).

    Parameters
    ----------
    varpar : numpy.ndarray
        :math:`(\\hat\\theta, \\hat\\sigma)`.
    hessian, jacobian : numpy.ndarray
        Of ``devfun_vp`` and of ``get_covbeta`` at ``varpar``.
    vcov_beta : numpy.ndarray
        :math:`C = \\mathrm{vcov}(\\hat\\beta)`.
    derivatives : {"analytic", "numerical"}
        How the derivatives were taken (recorded).
    """
    values, vectors = np.linalg.eigh(hessian)
    messages = hessian_messages(values)
    keep = values > _EIGEN_TOL
    H_pinv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return VarparInformation(
        varpar=varpar,
        hessian=hessian,
        vcov_varpar=2 * H_pinv,
        jacobian=jacobian,
        vcov_beta=vcov_beta,
        messages=tuple(messages),
        derivatives=derivatives,
    )


def satterthwaite_df(info: VarparInformation, L: np.ndarray) -> float | np.ndarray:
    """Satterthwaite's df for one contrast:
    :math:`2 (L^\\top C L)^2 / (g^\\top A g)`, :math:`g_k = L^\\top J_k L`.

    A matrix ``L`` gives one df per row (an array)."""
    L = np.asarray(L, dtype=float)
    rows = np.atleast_2d(L)
    variance = np.einsum("ri,ij,rj->r", rows, info.vcov_beta, rows)
    grad = np.einsum("ri,kij,rj->rk", rows, info.jacobian, rows)
    df = 2 * variance**2 / np.einsum("rk,kl,rl->r", grad, info.vcov_varpar, grad)
    return float(df[0]) if L.ndim == 1 else df



def fstat_ddf(nu: np.ndarray, tol: float = 1e-8) -> float:
    """Denominator df of the F statistic from the df of its q t-statistics
    (lmerTest's ``get_Fstat_ddf``): :math:`E = \\sum \\nu_m/(\\nu_m - 2)`,
    :math:`\\nu = 2E/(E - q)`."""
    nu = np.asarray(nu, dtype=float)
    q = len(nu)
    if q == 1:
        return float(nu[0])
    if np.all(np.abs(np.diff(nu)) < tol):
        return float(np.mean(nu))
    if np.any(nu <= 2):
        return 2.0
    E = float(np.sum(nu / (nu - 2)))
    return 2 * E / (E - q)
