"""broom.mixed's ``tidy``, ``glance`` and ``augment`` for lmer and glmer fits.

Tables keep broom.mixed's rows, values and column order, with its column names in snake_case
(dots become underscores).  Two deliberate differences, both documented on the
functions: the random-effect parameters are listed in the lecture's order (per term the
standard deviations, then the correlations, the residual last) where broom.mixed 0.2.9.4
interleaves them, and :func:`glance_mixed` adds the number of levels of each grouping factor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmtools.broom.verbs import augment, check_conf_level, check_effects, glance, tidy, with_data
from mlmtools.inference.wald import wald_limits
from mlmtools.lmm.influence import cooks_distance
from mlmtools.lmm.mixed_result import MixedModelResult
from mlmtools.lmm.result import LmerResult

MIXED_EFFECTS = ("fixed", "ran_pars", "ran_vals", "ran_coefs")
DEFAULT_EFFECTS = ("fixed", "ran_pars")
CONF_METHODS = ("wald", "profile")
GLMM_RESIDUALS = ("deviance", "pearson", "response", "working")


def fixed_rows(table: pd.DataFrame, conf_int: bool, conf_level: float) -> pd.DataFrame:
    """Rows of a coefficient table (Estimate, Std. Error, [df], statistic, p-value)."""
    out = pd.DataFrame({
        "effect": "fixed",
        "term": list(table.index),
        "estimate": table["Estimate"].to_numpy(dtype=float),
        "std_error": table["Std. Error"].to_numpy(dtype=float),
        "statistic": table.iloc[:, -2].to_numpy(dtype=float),
    })
    df = table["df"].to_numpy(dtype=float) if "df" in table.columns else None
    if df is not None:
        out["df"] = df
    out["p_value"] = table.iloc[:, -1].to_numpy(dtype=float)
    if conf_int:
        out["conf_low"], out["conf_high"] = wald_limits(out["estimate"].to_numpy(), out["std_error"].to_numpy(),
                                                        conf_level, df)
    return out


def _ran_par_keys(fit: MixedModelResult) -> list[tuple[int, str, str | None]]:
    """(term, var1, var2) of each row of ``fit.varcorr()`` (var2 None for a standard deviation and
    for the residual, whose term is -1)."""
    keys: list[tuple[int, str, str | None]] = []
    for index, t in enumerate(fit.state.problem.terms):
        keys += [(index, t.columns[a], None) for a in range(t.k)]
        keys += [(index, t.columns[a], t.columns[c]) for a in range(t.k) for c in range(a + 1, t.k)]
    return keys + ([(-1, "", None)] if fit.has_residual else [])


def _profile_limits(fit: MixedModelResult, conf_level: float) -> np.ndarray:
    """Profile-likelihood limits of the random-effect parameters, in the order of
    ``fit.varcorr()``: ``fit.confint(method="profile")``'s first rows (lme4's order: per term in
    theta's order, then ``sigma``) matched to the variance components."""
    intervals = fit.confint(method="profile", level=conf_level)
    position: dict[tuple[int, str, str | None], int] = {}
    row = 0
    for index, t in enumerate(fit.state.problem.terms):
        for c in range(t.k):
            position[(index, t.columns[c], None)] = row
            row += 1
            for a in range(c + 1, t.k):
                position[(index, t.columns[c], t.columns[a])] = row
                row += 1
    position[(-1, "", None)] = row
    values = intervals.to_numpy(dtype=float)
    return np.array([values[position[key]] for key in _ran_par_keys(fit)])


def ran_par_rows(fit: MixedModelResult, conf_int: bool, conf_level: float, conf_method: str) -> pd.DataFrame:
    """Random-effect parameters in the lecture's order: per term the standard deviations, then
    the correlations, then (linear models) the residual standard deviation (the order of
    ``varcorr()``, R's ``as.data.frame(VarCorr(m))``; broom.mixed 0.2.9.4 interleaves them as
    ``sd__a``, ``cor__a.b``, ``sd__b``, with the same names and values).  With ``conf_int``
    the limits are NaN for ``conf_method="wald"`` (broom.mixed's NA) and the likelihood
    profile's for ``"profile"``."""
    varcorr = fit.varcorr()
    terms = ["sd__Observation" if group == "Residual" and a is None
             else f"sd__{a}" if b is None else f"cor__{a}.{b}"
             for group, a, b in zip(varcorr["grp"], varcorr["var1"], varcorr["var2"])]
    out = pd.DataFrame({"effect": "ran_pars", "group": varcorr["grp"].to_numpy(dtype=object),
                        "term": terms, "estimate": varcorr["sdcor"].to_numpy(dtype=float)})
    if conf_int:
        if conf_method == "profile":
            limits = _profile_limits(fit, conf_level)
            out["conf_low"], out["conf_high"] = limits[:, 0], limits[:, 1]
        else:
            out["conf_low"] = out["conf_high"] = np.nan
    return out


def ran_val_rows(fit: MixedModelResult, conf_int: bool, conf_level: float) -> pd.DataFrame:
    """Conditional modes with their conditional standard deviations (broom.mixed's ``ran_vals``):
    per grouping factor, per term, per level; with ``conf_int`` the limits
    :math:`\\hat b \\mp z_{(1+\\ell)/2}\\,\\mathrm{sd}(b \\mid y)`."""
    parts = []
    for group, modes in fit.ranef(cond_var=True).items():
        sd = np.sqrt(np.diagonal(modes.attrs["cond_var"], axis1=1, axis2=2))
        for j, term in enumerate(modes.columns):
            parts.append(pd.DataFrame({"effect": "ran_vals", "group": group,
                                       "level": [str(level) for level in modes.index], "term": term,
                                       "estimate": modes[term].to_numpy(dtype=float), "std_error": sd[:, j]}))
    out = pd.concat(parts, ignore_index=True)
    if conf_int:
        out["conf_low"], out["conf_high"] = wald_limits(out["estimate"].to_numpy(), out["std_error"].to_numpy(),
                                                        conf_level)
    return out


def ran_coef_rows(fit: MixedModelResult) -> pd.DataFrame:
    """Per-level coefficients :meth:`~mlmtools.lmm.result.LmerResult.coef`
    (broom.mixed's ``ran_coefs``): per grouping factor, per term, per level."""
    parts = [pd.DataFrame({"effect": "ran_coefs", "group": group, "level": [str(level) for level in table.index],
                           "term": term, "estimate": table[term].to_numpy(dtype=float)})
             for group, table in fit.coef().items() for term in table.columns]
    return pd.concat(parts, ignore_index=True)


def tidy_mixed(fit: MixedModelResult, effects: str | Sequence[str] | None = DEFAULT_EFFECTS,
               conf_int: bool = False, conf_level: float = 0.95, ddf: str | None = None,
               conf_method: str = "wald") -> pd.DataFrame:
    """broom.mixed's ``tidy()`` of an lmer (lmerTest) or glmer fit.

    * ``"fixed"``, from ``fit.coef_table(ddf)``: ``effect, term, estimate, std_error,
      statistic, [df], p_value`` and, with ``conf_int``, ``conf_low, conf_high``: estimate
      :math:`\\pm\\, t_{\\nu, q}` SE with Satterthwaite's :math:`\\nu` (lmer), or
      :math:`\\pm\\, z_q` SE for glmer fits and lmer's ``ddf="none"`` (which also drops
      ``df``), :math:`q = (1 + \\text{conf\\_level})/2`.
    * ``"ran_pars"``, from ``fit.varcorr()``: ``effect, group, term, estimate`` with terms
      ``sd__<name>``, ``cor__<name1>.<name2>`` and, for lmer, ``sd__Observation`` (group
      ``Residual``), in the lecture's order (:func:`ran_par_rows`); with ``conf_int`` the
      limits are NaN (broom.mixed's Wald intervals are NA for them) unless
      ``conf_method="profile"``, which takes them from ``fit.confint(method="profile")``.
    * ``"ran_vals"``: ``effect, group, level, term, estimate, std_error``, the conditional
      modes and their conditional standard deviations (:func:`ran_val_rows`).
    * ``"ran_coefs"``: ``effect, group, level, term, estimate``, the per-level coefficients
      (:func:`ran_coef_rows`).

    With several kinds the tables are stacked; columns a kind lacks are missing (NaN) on its
    rows, and the columns follow broom.mixed's order.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
    effects : str or list of str
        Any of ``"fixed"``, ``"ran_pars"``, ``"ran_vals"``, ``"ran_coefs"``.
    conf_int : bool
    conf_level : float
    ddf : str, optional
        Passed to ``fit.coef_table``; its default when None (``"satterthwaite"`` for lmer,
        z tests for glmer, which accepts only ``"none"``).
    conf_method : {"wald", "profile"}
        How the intervals of the random-effect parameters are computed (broom.mixed's
        ``conf.method``); the fixed effects' are always Wald.

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        Unknown ``effects``, ``ddf`` or ``conf_method``, or ``conf_level`` outside (0, 1).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> modes = tidy_mixed(fit, "ran_vals", conf_int=True)
    >>> print(modes.head(2).round(2).to_string(index=False))
      effect   group level        term  estimate  std_error  conf_low  conf_high
    ran_vals Subject   308 (Intercept)      2.26      12.07    -21.40      25.92
    ran_vals Subject   309 (Intercept)    -40.40      12.07    -64.06     -16.74
    """
    kinds = check_effects(DEFAULT_EFFECTS if effects is None else effects, MIXED_EFFECTS)
    conf_level = check_conf_level(conf_level)
    if conf_method not in CONF_METHODS:
        raise ValueError(f"conf_method must be 'wald' or 'profile', got {conf_method!r}")
    builders = {
        "fixed": lambda: fixed_rows(fit.coef_table() if ddf is None else fit.coef_table(ddf), conf_int, conf_level),
        "ran_pars": lambda: ran_par_rows(fit, conf_int, conf_level, conf_method),
        "ran_vals": lambda: ran_val_rows(fit, conf_int, conf_level),
        "ran_coefs": lambda: ran_coef_rows(fit),
    }
    parts = [builders[kind]() for kind in kinds]
    if len(parts) == 1:
        return parts[0]
    combined = pd.concat(parts, ignore_index=True)
    front = [c for c in ("effect", "group", "level", "term") if c in combined.columns]
    return combined[front + [c for c in combined.columns if c not in front]]


@tidy.register
def _tidy_mixed_model(obj: MixedModelResult, effects: str | Sequence[str] | None = None, conf_int: bool = False,
                      conf_level: float = 0.95, ddf: str | None = None, conf_method: str = "wald") -> pd.DataFrame:
    return tidy_mixed(obj, effects, conf_int, conf_level, ddf, conf_method)


def glance_mixed(fit: MixedModelResult) -> pd.DataFrame:
    """broom.mixed's ``glance()`` of an lmer or glmer fit, plus the grouping factors' sizes.

    Columns ``nobs``, ``sigma``, ``logLik``, ``AIC``, ``BIC``, then ``REMLcrit`` (a REML fit:
    lme4's REML criterion) or ``deviance`` (an ML or glmer fit: lme4's ``deviance()``, for a
    GLMM the conditional deviance), then ``df_residual`` (:math:`n` minus the number of
    parameters) and, beyond broom.mixed, one ``ngroups_<factor>`` per grouping factor (lme4's
    ``ngrps``).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy(), REML=False)
    >>> list(glance_mixed(fit).columns)
    ['nobs', 'sigma', 'logLik', 'AIC', 'BIC', 'deviance', 'df_residual', 'ngroups_Subject']
    """
    row: dict[str, Any] = {"nobs": fit.nobs, "sigma": fit.sigma, "logLik": fit.loglik, "AIC": fit.aic,
                           "BIC": fit.bic}
    if isinstance(fit, LmerResult) and fit.REML:
        row["REMLcrit"] = fit.reml_criterion
    else:
        row["deviance"] = fit.deviance
    row["df_residual"] = fit.df_resid
    row.update({f"ngroups_{group}": count for group, count in fit.ngroups.items()})
    return pd.DataFrame([row])


@glance.register
def _glance_mixed_model(obj: MixedModelResult) -> pd.DataFrame:
    return glance_mixed(obj)


def augment_mixed(fit: MixedModelResult, data: pd.DataFrame | None = None,
                  type_residuals: str | None = None) -> pd.DataFrame:
    """broom.mixed's ``augment()`` of an lmer or glmer fit: the rows used, with

    ================  ===========================================================================
    column            value
    ================  ===========================================================================
    ``.fitted``       :math:`\\hat\\eta = X\\hat\\beta + Z\\hat b + o` (for lmer the fitted value)
    ``.resid``        residuals of ``type_residuals`` (lmer: response, glmer: deviance by default)
    ``.hat``          the hat matrix's diagonal (``hatvalues()``)
    ``.cooksd``       Cook's distance (``cooks_distance()``)
    ``.fixed``        :math:`X\\hat\\beta + o`, the population-level linear predictor
    ``.mu``           :math:`\\hat\\mu = g^{-1}(\\hat\\eta)`
    ``.offset``       :math:`o` (0 without an offset)
    ``.sqrt_xwt``     :math:`\\sqrt{w_p/V(\\hat\\mu)}\\,|d\\mu/d\\eta|`, the root of the working weights at
                      :math:`\\hat\\mu` (lmer: :math:`\\sqrt{w_p}`)
    ``.sqrtrwt``      :math:`\\sqrt{w_p / V(\\hat\\mu)}` (lmer: :math:`\\sqrt{w_p}`)
    ``.weights``      prior weights :math:`w_p`
    ``.wtres``        Pearson residuals :math:`(y - \\hat\\mu)\\,\\sqrt{w_p/V(\\hat\\mu)}`
    ``.eta``          :math:`\\hat\\eta` again (glmer only, as broom.mixed)
    ================  ===========================================================================

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
    data : pandas.DataFrame, optional
        The rows to add the columns to; by default the data the model was fitted to, without
        the rows it dropped (broom.mixed returns the model frame instead).
    type_residuals : str, optional
        ``fit.residuals`` type of ``.resid``: ``"response"`` or ``"pearson"`` for lmer (default
        response), ``"deviance"``, ``"pearson"``, ``"response"``, ``"working"`` for glmer
        (default deviance), as broom.mixed's ``type.residuals``.

    Warns
    -----
    MlmtoolsWarning
        For a glmer fit, as lme4 warns, that the hat matrix may not make sense for GLMMs.
    """
    frame = fit.state.frame
    n = fit.nobs
    is_glmm = not fit.has_residual
    residual_type = type_residuals or ("deviance" if is_glmm else "response")
    offset = np.zeros(n) if frame.offset is None else np.asarray(frame.offset, dtype=float)
    fixed = np.asarray(frame.X, dtype=float) @ fit.state.beta + offset
    eta = fit.predict().to_numpy(dtype=float)  # the linear predictor (glmer's default type="link")
    mu = fit.fitted().to_numpy(dtype=float)
    prior_weights = fit._leverage_weights()[1]
    pearson = fit._residual_values("pearson")
    hat = fit.hatvalues().to_numpy()
    family = getattr(fit, "family", None)
    variance = np.ones(n) if family is None else family.variance(mu)
    mean_slope = np.ones(n) if family is None else family.mu_eta(eta)
    columns: dict[str, Any] = {
        ".fitted": eta,
        ".resid": fit.residuals(type=residual_type).to_numpy(dtype=float),
        ".hat": hat,
        ".cooksd": cooks_distance(pearson, hat, fit.sigma, len(fit.state.beta)),
        ".fixed": fixed,
        ".mu": mu,
        ".offset": offset,
        ".sqrt_xwt": np.sqrt(prior_weights / variance) * np.abs(mean_slope),
        ".sqrtrwt": np.sqrt(prior_weights / variance),
        ".weights": prior_weights,
        ".wtres": pearson,
    }
    if is_glmm:
        columns[".eta"] = columns[".fitted"]
    return with_data(data, getattr(fit.model, "data", None), frame.row_index, columns)


@augment.register
def _augment_mixed_model(obj: MixedModelResult, data: pd.DataFrame | None = None,
                         type_residuals: str | None = None) -> pd.DataFrame:
    return augment_mixed(obj, data, type_residuals)

