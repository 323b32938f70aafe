"""Tests of linear contrasts of the fixed effects, as lmerTest's ``contest``.

For a contrast matrix :math:`L` and the estimates :math:`\\hat\\beta` with covariance
:math:`C`: one row gives a t-test (:func:`contest1d`), several rows an F test
(:func:`contest_md`), each with Satterthwaite's denominator df
(:mod:`mlmtools.inference.satterthwaite`), Kenward and Roger's (adjusted covariance, df and F
scaling, :mod:`mlmtools.inference.kenward_roger`), the residual df, or none (z and chi-square
tests); :func:`coefficient_table` is the t-test of every coefficient (the summary's table).

The functions read a fit through the small :class:`ContrastFit` protocol (the estimates and
the Satterthwaite quantities), so any model that offers them can be tested;
:class:`~mlmtools.lmm.result.LmerResult` is one.
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Protocol

import numpy as np
import pandas as pd
from scipy import special, stats

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import MlmtoolsWarning
from mlmtools.inference.kenward_roger import KenwardRogerAdjustment, kenward_roger_df, kenward_roger_test
from mlmtools.inference.satterthwaite import VarparInformation, fstat_ddf, satterthwaite_df

DDF_METHODS = ("satterthwaite", "kenward-roger", "residual", "none")


class FixedEffectsState(Protocol):
    """The estimates a contrast test needs (an lmer fit's ``state``)."""

    @property
    def fixed_names(self) -> tuple[str, ...]:
        """Names of the fixed effects, in the order of ``beta``."""

    @property
    def beta(self) -> np.ndarray:
        """:math:`\\hat\\beta`."""

    @property
    def vcov(self) -> np.ndarray:
        """:math:`C = \\mathrm{vcov}(\\hat\\beta)`."""

    @property
    def sigma(self) -> float:
        """The residual standard deviation."""

    @property
    def residual_df(self) -> int:
        """:math:`n - p`."""


class ContrastFit(Protocol):
    """A fit whose fixed effects can be tested: its estimates and lmerTest's stored quantities."""

    @property
    def state(self) -> FixedEffectsState:
        """The estimates."""

    def satterthwaite(self, derivatives: str | None = None) -> VarparInformation:
        """Satterthwaite's quantities (``derivatives``: how they are taken)."""

    def kenward_roger(self) -> KenwardRogerAdjustment:
        """Kenward and Roger's adjusted covariance and its pieces."""


def check_ddf(ddf: str) -> str:
    """Normalise a ``ddf`` argument (case-insensitive; ``"Kenward-Roger"`` and
    ``"kenward_roger"`` are ``"kenward-roger"``) or raise ValueError naming the choices."""
    name = ddf.lower().replace("_", "-") if isinstance(ddf, str) else ddf
    if name not in DDF_METHODS:
        raise ValueError(f"ddf must be one of {DDF_METHODS}, got {ddf!r}")
    return str(name)


def _as_matrix(fit: ContrastFit, L: np.ndarray | pd.Series | pd.DataFrame) -> np.ndarray:
    """A contrast as a finite matrix with one column per fixed effect.

    A Series or DataFrame is aligned by coefficient name (missing names count as 0); names
    that are not coefficients of the model raise ValueError, as do non-finite entries.
    """
    names = list(fit.state.fixed_names)
    labels = L.index if isinstance(L, pd.Series) else L.columns if isinstance(L, pd.DataFrame) else None
    if labels is not None:
        unknown = [str(name) for name in labels if name not in names]
        if unknown:
            raise ValueError(f"the contrast names {', '.join(map(repr, unknown))}, which "
                             f"{'is not a fixed effect' if len(unknown) == 1 else 'are not fixed effects'}"
                             f" of the model; the fixed effects are: {', '.join(names)}")
        if isinstance(L, pd.Series):
            L = L.reindex(names, fill_value=0.0)
        elif isinstance(L, pd.DataFrame):
            L = L.reindex(columns=names, fill_value=0.0)
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


def _denominator_df(fit: ContrastFit, L: np.ndarray, ddf: str, derivatives: str | None) -> np.ndarray:
    """One denominator df per row of L."""
    if ddf == "satterthwaite":
        df = satterthwaite_df(fit.satterthwaite(derivatives), np.atleast_2d(L))
        return np.atleast_1d(np.asarray(df, dtype=float))
    if ddf == "kenward-roger":
        adjustment = fit.kenward_roger()
        return np.array([kenward_roger_df(row, adjustment) for row in np.atleast_2d(L)])
    value = float(fit.state.residual_df) if ddf == "residual" else np.inf
    return np.full(np.atleast_2d(L).shape[0], value)


def _t_tests(fit: ContrastFit, L: np.ndarray, rhs: np.ndarray, ddf: str,
             derivatives: str | None, row_names: list[str] | None = None) -> pd.DataFrame:
    """One t-test (or z-test when ``ddf="none"``) per row of L (rows labelled
    ``row_names``, or 0, 1, ...)."""
    ddf = check_ddf(ddf)
    estimate = L @ fit.state.beta
    covariance = fit.kenward_roger().vcov_adjusted if ddf == "kenward-roger" else fit.state.vcov
    se = np.sqrt(np.einsum("ri,ij,rj->r", L, covariance, L))
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


def contest1d(fit: ContrastFit, L: np.ndarray, rhs: float = 0.0,
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



def contest_md(fit: ContrastFit, L: np.ndarray, rhs: float | np.ndarray = 0.0,
               ddf: str = "satterthwaite", eps: float = np.sqrt(np.finfo(float).eps),
               derivatives: str | None = None) -> pd.DataFrame:
    """F-test of several contrasts jointly (lmerTest's ``contestMD``).

    With :math:`LCL^\\top = PDP^\\top` (keeping the q eigenvalues above ``eps * d_1``),
    :math:`F = \\frac1q\\sum_m (P^\\top L\\hat\\beta)_m^2 / d_m`; the denominator df
    combines the Satterthwaite df :math:`\\nu_m = 2d_m^2/(g_m^\\top A g_m)` of the q
    rotated contrasts (:func:`~mlmtools.inference.satterthwaite.fstat_ddf`).

    With ``ddf="kenward-roger"`` the test is Kenward and Roger's
    (:func:`~mlmtools.inference.kenward_roger.kenward_roger_test`): F value
    :math:`\\lambda F_U`, with the Sum Sq and Mean Sq of the unscaled :math:`F_U` (as lmerTest).
    """
    ddf = check_ddf(ddf)
    L = _as_matrix(fit, L)
    beta = fit.state.beta
    rhs = _as_rhs(rhs, L.shape[0])
    if np.any(rhs != 0):
        if np.linalg.matrix_rank(L) < L.shape[0]:
            warnings.warn("Contrast is rank deficient and test may be affected", MlmtoolsWarning,
                          stacklevel=user_stacklevel())
        beta = beta - np.linalg.pinv(L) @ rhs
    if ddf == "kenward-roger":
        table = _kenward_roger_ftest(fit, L, beta)
        if table is not None:
            return table
        ddf = "satterthwaite"
    d, P = np.linalg.eigh(L @ fit.state.vcov @ L.T)
    order = np.argsort(d)[::-1]
    d, P = d[order], P[:, order]
    keep = d > max(eps * d[0], 0)
    q = int(keep.sum())
    PtL = (P.T @ L)[:q]
    t2 = (PtL @ beta) ** 2 / d[:q]
    F = float(np.sum(t2) / q)
    den = fstat_ddf(_denominator_df(fit, PtL, ddf, derivatives))
    mean_sq = F * fit.state.sigma**2
    p_value = special.fdtrc(q, den, F) if np.isfinite(den) else special.chdtrc(q, F * q)
    return pd.DataFrame({"Sum Sq": [mean_sq * q], "Mean Sq": [mean_sq], "NumDF": [q],
                         "DenDF": [den], "F value": [F], "Pr(>F)": [p_value]})


def _kenward_roger_ftest(fit: ContrastFit, L: np.ndarray, beta: np.ndarray) -> pd.DataFrame | None:
    """lmerTest's Kenward-Roger F table of :math:`L\\beta = 0` at ``beta`` (already shifted by the
    right-hand side), or None, with lmerTest's warning, when the test cannot be computed."""
    try:
        test = kenward_roger_test(L, beta, fit.kenward_roger())
    except np.linalg.LinAlgError:
        warnings.warn("Unable to compute Kenward-Roger F-test: using Satterthwaite instead", MlmtoolsWarning,
                      stacklevel=user_stacklevel())
        return None
    mean_sq = test.F_unscaled * fit.state.sigma**2
    return pd.DataFrame({"Sum Sq": [mean_sq * test.ndf], "Mean Sq": [mean_sq], "NumDF": [test.ndf],
                         "DenDF": [test.ddf], "F value": [test.F],
                         "Pr(>F)": [special.fdtrc(test.ndf, test.ddf, test.F)]})


def contest_rows(fit: ContrastFit, L: np.ndarray | pd.Series | pd.DataFrame, rhs: float | np.ndarray = 0.0,
                 ddf: str = "satterthwaite", level: float = 0.95, derivatives: str | None = None) -> pd.DataFrame:
    """One t-test per row of ``L`` with confidence limits (lmerTest's ``contest(joint = FALSE)``):
    the columns of :func:`contest1d` and ``lower``, ``upper``
    :math:`= L^\\top\\hat\\beta \\mp t_{\\nu,(1+\\text{level})/2}\\,\\mathrm{SE}` before the p-value
    (normal quantiles for ``ddf="none"``).

    Examples
    --------
    >>> import numpy as np
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> print(contest_rows(fit, np.eye(2)).round(3))
       Estimate  Std. Error    df  t value    lower    upper  Pr(>|t|)
    0   251.405       6.825  17.0   36.838  237.006  265.804       0.0
    1    10.467       1.546  17.0    6.771    7.206   13.729       0.0
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    matrix = _as_matrix(fit, L)
    table = _t_tests(fit, matrix, _as_rhs(rhs, matrix.shape[0]), ddf, derivatives)
    df = table["df"].to_numpy() if "df" in table else np.full(len(table), np.inf)
    margin = stats.t.ppf((1 + level) / 2, df) * table["Std. Error"].to_numpy()
    table.insert(len(table.columns) - 1, "lower", table["Estimate"].to_numpy() - margin)
    table.insert(len(table.columns) - 1, "upper", table["Estimate"].to_numpy() + margin)
    return table


def contest(fit: ContrastFit, L: np.ndarray | pd.Series | pd.DataFrame, rhs: float | np.ndarray = 0.0,
            ddf: str = "satterthwaite", derivatives: str | None = None, joint: bool = True,
            level: float = 0.95) -> pd.DataFrame:
    """Test linear contrasts of the fixed effects, as lmerTest's ``contest``.

    One row (a vector) gives a t-test table (:func:`contest1d`); several rows give an F
    test (:func:`contest_md`), or with ``joint=False`` one t-test per row with confidence
    limits at ``level`` (:func:`contest_rows`). Satterthwaite's or Kenward and Roger's df.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    L : array_like, Series or DataFrame
        Contrast vector or matrix over the fixed effects (a Series or DataFrame is aligned
        by name; missing names count as 0). Entries must be finite.
    rhs : float or array_like
        Right-hand side of the hypothesis :math:`L\\beta = \\mathrm{rhs}`: one value, or
        one per row of ``L``.
    ddf : {"satterthwaite", "kenward-roger", "residual", "none"}
    derivatives : {"analytic", "numerical"}, optional
        How Satterthwaite's derivatives are taken
        (:data:`~mlmtools.inference.satterthwaite.DEFAULT_DERIVATIVES` when None).
    joint : bool
        Test all rows jointly (an F test) or each row on its own.
    level : float
        Confidence level of the limits of ``joint=False``.

    Returns
    -------
    pandas.DataFrame
        The t-test table (one row, or ``joint=False``) or the F-test table (several rows).

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
    >>> from mlmtools.lmm import lmer
    >>> from mlmtools.rstyle import print_rounded
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
    if not joint:
        return contest_rows(fit, matrix, values, ddf, level, derivatives)
    if matrix.shape[0] == 1:
        return contest1d(fit, matrix[0], values[0], ddf, derivatives)
    return contest_md(fit, matrix, values, ddf, derivatives=derivatives)


def coefficient_table(fit: ContrastFit, ddf: str = "satterthwaite",
                      derivatives: str | None = None) -> pd.DataFrame:
    """The summary's fixed-effects table: the t-test of each coefficient
    (lmerTest's ``get_coefmat``)."""
    names = list(fit.state.fixed_names)
    return _t_tests(fit, np.eye(len(names)), np.zeros(len(names)), ddf, derivatives, names)

