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
  (:mod:`mlmtools.varpar_derivatives`), at the cost of a few small matrix products;
* ``"numerical"``: exactly as lmerTest takes them with numDeriv (``mlmtools.numderiv``),
  the Hessian by ``genD``
  (Richardson extrapolation, ``d = 0.1``, ``eps = 1e-4``, ``r = 4``) and the Jacobian by
  Richardson with ``d = 1e-4`` (about a hundred deviance evaluations).

Both agree with R's df to 1e-5 on the stored cases, and with each other to about 1e-6:
numDeriv's error is far below lmerTest's printed digits, and what differences remain
follow the optimum.  (R's 16.99973 for the intercept of the balanced sleepstudy slope
model, where the exact df at the optimum is 17, comes from where the optimizer stopped,
not from the differentiation.)

Models with several random-effects terms and more than
``mlmtools.varpar_derivatives.DENSE_MAX_Q`` random effects always use the numerical
scheme.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import special

from mlmtools.deviance import solve
from mlmtools import numderiv
from mlmtools.varpar_derivatives import analytic_available, varpar_derivatives

if TYPE_CHECKING:
    from mlmtools.lmer import LmerResult

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


def deviance_varpar(fit: LmerResult, varpar: np.ndarray) -> float:
    """lmerTest's ``devfun_vp``: the deviance as a function of :math:`(\\theta, \\sigma)`.

    .. math::
        \\log|L|^2 + \\mathrm{pwrss}/\\sigma^2 + n\\log(2\\pi\\sigma^2)
        \\;[+\\ \\log|R_X|^2 - p\\log(2\\pi\\sigma^2)\\ \\text{for REML}],

    with the PLS problem solved at :math:`\\theta` (prior-weight constants omitted).
    """
    problem = fit._problem
    theta, sigma = varpar[:-1], varpar[-1]
    s = solve(problem, theta, fit.REML)
    sigma2 = sigma**2
    value = s.ldL2 + s.pwrss / sigma2 + problem.n * np.log(2 * np.pi * sigma2)
    if fit.REML:
        value += s.ldRX2 - problem.p * np.log(2 * np.pi * sigma2)
    return float(value)


def covbeta_varpar(fit: LmerResult, varpar: np.ndarray) -> np.ndarray:
    """lmerTest's ``get_covbeta``: :math:`\\sigma^2 R_X^{-1}R_X^{-\\top}` at :math:`\\theta`."""
    s = solve(fit._problem, varpar[:-1], fit.REML)
    RX_inv = np.linalg.inv(s.RX)
    return varpar[-1] ** 2 * RX_inv @ RX_inv.T


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


def varpar_information(fit: LmerResult, derivatives: str | None = None) -> VarparInformation:
    """Compute lmerTest's stored quantities for a fitted model (``as_lmerModLT``).

    Parameters
    ----------
    fit : LmerResult
    derivatives : {"analytic", "numerical"}, optional
        Exact derivatives, or lmerTest's numDeriv scheme (see the module docstring);
        :data:`DEFAULT_DERIVATIVES` when None.
    """
    derivatives = check_derivatives(derivatives)
    varpar = np.append(fit.theta, fit.sigma)
    if derivatives == "analytic" and analytic_available(fit._problem):
        H, jac = varpar_derivatives(fit._problem, fit._solution, fit._theta_derivatives())
    else:
        derivatives = "numerical"
        H = numderiv.hessian(lambda v: deviance_varpar(fit, v), varpar)
        jac = numderiv.jacobian(lambda v: covbeta_varpar(fit, v), varpar)
    values, vectors = np.linalg.eigh(H)
    messages = hessian_messages(values)
    keep = values > _EIGEN_TOL
    H_pinv = (vectors[:, keep] / values[keep]) @ vectors[:, keep].T
    return VarparInformation(
        varpar=varpar,
        hessian=H,
        vcov_varpar=2 * H_pinv,
        jacobian=jac,
        vcov_beta=fit._vcov_array(),
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


def _as_matrix(fit: LmerResult, L: np.ndarray | pd.Series | pd.DataFrame) -> np.ndarray:
    """A contrast as a finite matrix with one column per fixed effect.

    A Series or DataFrame is aligned by coefficient name (missing names count as 0); names
    that are not coefficients of the model raise ValueError, as do non-finite entries.
    """
    names = list(fit._frame.fixed_names)
    labels = L.index if isinstance(L, pd.Series) else L.columns if isinstance(L, pd.DataFrame) else None
    if labels is not None:
        unknown = [str(name) for name in labels if name not in names]
        if unknown:
            raise ValueError(f"the contrast names {', '.join(map(repr, unknown))}, which "
                             f"{'is not a fixed effect' if len(unknown) == 1 else 'are not fixed effects'}"
                             f" of the model; the fixed effects are: {', '.join(names)}")
        L = (L.reindex(names, fill_value=0.0) if isinstance(L, pd.Series)
             else L.reindex(columns=names, fill_value=0.0))
    L = np.atleast_2d(np.asarray(L, dtype=float))
    if L.ndim != 2 or L.shape[1] != len(names):
        raise ValueError(f"the contrast has {L.shape[-1]} columns; the model has {len(names)} fixed "
                         f"effects ({', '.join(names)})")
    if not np.all(np.isfinite(L)):
        raise ValueError("the contrast L must contain only finite numbers (no NaN or inf)")
    return L


def _as_rhs(rhs: float | np.ndarray, n_rows: int) -> np.ndarray:
    """The right-hand side as one finite value per contrast row (a scalar is repeated)."""
    values = np.ravel(np.asarray(rhs, dtype=float))
    if values.size == 1:
        values = np.repeat(values, n_rows)
    if values.size != n_rows:
        raise ValueError(f"rhs has {values.size} values; give one value or one per row of the "
                         f"contrast ({n_rows})")
    if not np.all(np.isfinite(values)):
        raise ValueError("rhs must contain only finite numbers")
    return values


def _denominator_df(fit: LmerResult, L: np.ndarray, ddf: str, derivatives: str | None) -> np.ndarray:
    """One denominator df per row of L."""
    if ddf == "satterthwaite":
        return satterthwaite_df(fit.satterthwaite(derivatives), np.atleast_2d(L))
    value = float(fit.nobs - fit._problem.p) if ddf == "residual" else np.inf
    return np.full(np.atleast_2d(L).shape[0], value)


def _t_tests(fit: LmerResult, L: np.ndarray, rhs: np.ndarray, ddf: str,
             derivatives: str | None, row_names: list[str] | None = None) -> pd.DataFrame:
    """One t-test (or z-test when ``ddf="none"``) per row of L (rows labelled
    ``row_names``, or 0, 1, ...)."""
    from mlmtools.lmer import check_ddf

    ddf = check_ddf(ddf)
    estimate = L @ fit._beta
    se = np.sqrt(np.einsum("ri,ij,rj->r", L, fit._vcov_array(), L))
    stat = (estimate - rhs) / se
    if ddf == "none":
        columns = [estimate, se, stat, 2 * special.ndtr(-np.abs(stat))]
        names = _z_table_columns()
    else:
        df = np.asarray(_denominator_df(fit, L, ddf, derivatives), dtype=float)
        columns = [estimate, se, df, stat, 2 * special.stdtr(df, -np.abs(stat))]
        names = _t_table_columns()
    return pd.DataFrame(np.column_stack(columns), index=row_names, columns=names)


@lru_cache(maxsize=1)
def _t_table_columns() -> pd.Index:
    """Column labels of a t-test table (built once; an Index is immutable)."""
    return pd.Index(["Estimate", "Std. Error", "df", "t value", "Pr(>|t|)"])


@lru_cache(maxsize=1)
def _z_table_columns() -> pd.Index:
    """Column labels of a z-test table (built once)."""
    return pd.Index(["Estimate", "Std. Error", "z value", "Pr(>|z|)"])


def contest1d(fit: LmerResult, L: np.ndarray, rhs: float = 0.0,
              ddf: str = "satterthwaite", derivatives: str | None = None) -> pd.DataFrame:
    """t-test of one contrast (lmerTest's ``contest1D``).

    .. math::
        t = \\frac{L^\\top\\hat\\beta - \\mathrm{rhs}}{\\sqrt{L^\\top C L}},\\qquad
        p = 2\\,P(T_\\nu > |t|)

    With ``ddf="none"`` the reference distribution is N(0, 1) and the table has a
    ``z value`` column and no ``df``.  ``derivatives`` chooses how Satterthwaite's
    derivatives are taken (module docstring).
    """
    return _t_tests(fit, _as_matrix(fit, L)[:1], _as_rhs(rhs, 1), ddf, derivatives)


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


def contest_md(fit: LmerResult, L: np.ndarray, rhs: float | np.ndarray = 0.0,
               ddf: str = "satterthwaite", eps: float = np.sqrt(np.finfo(float).eps),
               derivatives: str | None = None) -> pd.DataFrame:
    """F-test of several contrasts jointly (lmerTest's ``contestMD``).

    With :math:`LCL^\\top = PDP^\\top` (keeping the q eigenvalues above ``eps * d_1``),
    :math:`F = \\frac1q\\sum_m (P^\\top L\\hat\\beta)_m^2 / d_m`; the denominator df
    combines the Satterthwaite df :math:`\\nu_m = 2d_m^2/(g_m^\\top A g_m)` of the q
    rotated contrasts (:func:`fstat_ddf`).
    """
    from mlmtools.lmer import check_ddf

    ddf = check_ddf(ddf)
    L = _as_matrix(fit, L)
    beta = fit._beta
    rhs = _as_rhs(rhs, L.shape[0])
    if np.any(rhs != 0):
        beta = beta - np.linalg.pinv(L) @ rhs
    d, P = np.linalg.eigh(L @ fit._vcov_array() @ L.T)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    keep = d > max(eps * d[0], 0)
    q = int(keep.sum())
    PtL = (P.T @ L)[:q]
    t2 = (PtL @ beta) ** 2 / d[:q]
    F = float(np.sum(t2) / q)
    den = fstat_ddf(_denominator_df(fit, PtL, ddf, derivatives))
    mean_sq = F * fit.sigma**2
    p_value = special.fdtrc(q, den, F) if np.isfinite(den) else special.chdtrc(q, F * q)
    return pd.DataFrame({"Sum Sq": [mean_sq * q], "Mean Sq": [mean_sq], "NumDF": [q],
                         "DenDF": [den], "F value": [F], "Pr(>F)": [p_value]})


def contest(fit: LmerResult, L: np.ndarray | pd.Series | pd.DataFrame, rhs: float | np.ndarray = 0.0,
            ddf: str = "satterthwaite", derivatives: str | None = None) -> pd.DataFrame:
    """Test linear contrasts of the fixed effects, as lmerTest's ``contest``.

    One row (a vector) gives a t-test table (:func:`contest1d`); several rows give an F
    test with Satterthwaite's denominator df (:func:`contest_md`).

    Parameters
    ----------
    fit : LmerResult
    L : array_like, Series or DataFrame
        Contrast vector or matrix over the fixed effects (a Series or DataFrame is aligned
        by name; missing names count as 0). Entries must be finite.
    rhs : float or array_like
        Right-hand side of the hypothesis :math:`L\\beta = \\mathrm{rhs}`: one value, or
        one per row of ``L``.
    ddf : {"satterthwaite", "residual", "none"}
    derivatives : {"analytic", "numerical"}, optional
        How Satterthwaite's derivatives are taken (:data:`DEFAULT_DERIVATIVES` when None).

    Returns
    -------
    pandas.DataFrame
        The t-test table (one row) or the F-test table (several rows).

    Raises
    ------
    ValueError
        ``L`` of the wrong width, naming coefficients the model does not have, or holding
        NaN or inf; ``rhs`` of the wrong length or not finite.

    Examples
    --------
    Is the slope of Days zero (a t-test), and are both coefficients zero (an F test)?

    >>> import numpy as np
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmer import lmer
    >>> from mlmtools.rformat import print_rounded
    >>> fit = lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy())
    >>> t_test = contest(fit, [0, 1])
    >>> print(print_rounded(t_test[["Estimate", "df", "t value"]], 3, row_names="none"))
     Estimate df t value
       10.467 17   6.771
    >>> f_test = contest(fit, np.eye(2))
    >>> print(print_rounded(f_test[["NumDF", "DenDF", "F value"]], 3, row_names="none"))
     NumDF DenDF F value
         2    17  749.95
    """
    matrix = _as_matrix(fit, L)
    values = _as_rhs(rhs, matrix.shape[0])
    if matrix.shape[0] == 1:
        return contest1d(fit, matrix[0], values[0], ddf, derivatives)
    return contest_md(fit, matrix, values, ddf, derivatives=derivatives)


def coefficient_table(fit: LmerResult, ddf: str = "satterthwaite",
                      derivatives: str | None = None) -> pd.DataFrame:
    """The summary's fixed-effects table: the t-test of each coefficient
    (lmerTest's ``get_coefmat``)."""
    names = list(fit._frame.fixed_names)
    return _t_tests(fit, np.eye(len(names)), np.zeros(len(names)), ddf, derivatives, names)
