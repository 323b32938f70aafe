"""Tidy tables of model estimates, after broom and broom.mixed: the verbs over fitted models.

:func:`tidy` dispatches on the type of the fit (``functools.singledispatch``): lmer and glmer
fits go to :func:`tidy_mixed`, GEE fits to :func:`tidy_gee`; another result class plugs in
with ``tidy.register``.  Every table starts with an ``effect`` column (``"fixed"`` or
``"ran_pars"``), so tables of different models concatenate.  Columns are broom's, written in
snake_case (R's ``std.error``, ``p.value``, ``conf.low`` are ``std_error``, ``p_value``,
``conf_low``); terms keep R's names (``sd__(Intercept)``).

This module sits on top of the models (it may import every model subpackage); broom's other
verbs (``glance``, ``augment``) belong here too.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmtools.gee import GeeFit
from mlmtools.inference.wald import wald_limits
from mlmtools.lmm.mixed_result import MixedModelResult

EFFECTS = ("fixed", "ran_pars")


@functools.singledispatch
def tidy(obj: Any, effects: str | Sequence[str] | None = None, conf_int: bool = False,
         conf_level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
    """A tidy table of a fitted model's estimates (broom's ``tidy``).

    With ``conf_int=True`` each fixed effect gets the Wald interval

    .. math::
        \\hat\\beta_j \\pm q\\,\\mathrm{SE}_j,\\qquad
        q = t_{\\nu_j,\\,(1+\\text{conf\\_level})/2}\\ \\text{or}\\
        z_{(1+\\text{conf\\_level})/2},

    with the t quantile when the coefficient table has a ``df`` column (an lmer fit:
    Satterthwaite's :math:`\\nu_j` by default, :math:`n - p` with ``ddf="residual"``) and
    the normal quantile otherwise (lmer with ``ddf="none"``, glmer, GEE).

    Parameters
    ----------
    obj
        A fitted model: an lmer or glmer fit (:func:`tidy_mixed`), a GEE fit
        (:func:`tidy_gee`), or any class registered with ``tidy.register``.
    effects : {"fixed", "ran_pars"} or list of str, optional
        Which rows; None gives the model's default (both for mixed models, ``"fixed"`` for
        GEE), as broom.mixed does.
    conf_int : bool
        Add ``conf_low`` and ``conf_high``.
    conf_level : float
        Coverage of the intervals.
    **kwargs
        Passed on (``ddf`` for lmer fits); see :func:`tidy_mixed` and :func:`tidy_gee`.

    Returns
    -------
    pandas.DataFrame
        One row per estimate: ``effect, [group], term, estimate, std_error, statistic,
        [df], p_value`` and, with ``conf_int``, ``conf_low, conf_high``.

    Raises
    ------
    TypeError
        If no tidier is registered for the type of ``obj``.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> from mlmtools.rstyle import print_rounded
    >>> fit = lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy())
    >>> table = tidy(fit, "fixed", conf_int=True)
    >>> columns = ["term", "estimate", "std_error", "df", "conf_low", "conf_high"]
    >>> print(print_rounded(table[columns], 3, row_names="none"))
            term estimate std_error df conf_low conf_high
     (Intercept)  251.405     6.825 17  237.006   265.804
            Days   10.467     1.546 17    7.206    13.729
    """
    raise TypeError(f"tidy() does not know how to tidy a {type(obj).__name__}; register a tidier "
                    "with tidy.register")


def check_effects(effects: str | Sequence[str], allowed: Sequence[str] = EFFECTS) -> list[str]:
    """An ``effects`` argument as a list, or ValueError naming the allowed kinds."""
    kinds = [effects] if isinstance(effects, str) else list(effects)
    if not kinds or any(k not in allowed for k in kinds):
        raise ValueError(f"effects must be {' and/or '.join(map(repr, allowed))}, got {effects!r}")
    return kinds


def check_conf_level(conf_level: float) -> float:
    """A confidence level strictly between 0 and 1, or ValueError."""
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be between 0 and 1, got {conf_level}")
    return float(conf_level)


def _fixed_rows(table: pd.DataFrame, conf_int: bool, conf_level: float) -> pd.DataFrame:
    """Rows of a coefficient table (Estimate, Std. Error, [df], statistic, p-value)."""
    out = pd.DataFrame({
        "effect": "fixed",
        "term": list(table.index),
        "estimate": table["Estimate"].to_numpy(),
        "std_error": table["Std. Error"].to_numpy(),
        "statistic": table.iloc[:, -2].to_numpy(),
    })
    if "df" in table.columns:
        out["df"] = table["df"].to_numpy()
    out["p_value"] = table.iloc[:, -1].to_numpy()
    if conf_int:
        out["conf_low"], out["conf_high"] = wald_limits(out["estimate"], out["std_error"], conf_level,
                                                        out["df"] if "df" in out else None)
    return out


def _ran_par_rows(varcorr: pd.DataFrame, conf_int: bool) -> pd.DataFrame:
    """Random-effect parameters in the lecture's order: per term the standard deviations, then
    the correlations, then (linear models) the residual standard deviation.  With
    ``conf_int``, ``conf_low`` and ``conf_high`` are NaN, as broom.mixed's Wald intervals
    give NA for these parameters.

    This is the order of ``varcorr()`` (R's ``as.data.frame(VarCorr(m))``).  broom.mixed
    0.2.9.4 interleaves them instead (``sd__a``, ``cor__a.b``, ``sd__b``); the values and
    term names are the same.
    """
    terms = ["sd__Observation" if group == "Residual" and a is None
             else f"sd__{a}" if b is None else f"cor__{a}.{b}"
             for group, a, b in zip(varcorr["grp"], varcorr["var1"], varcorr["var2"])]
    out = pd.DataFrame({"effect": "ran_pars", "group": varcorr["grp"].to_numpy(dtype=object),
                        "term": terms, "estimate": varcorr["sdcor"].to_numpy(dtype=float)})
    if conf_int:
        out["conf_low"] = out["conf_high"] = np.nan
    return out


def tidy_mixed(fit: MixedModelResult, effects: str | Sequence[str] | None = EFFECTS, conf_int: bool = False,
               conf_level: float = 0.95, ddf: str | None = None) -> pd.DataFrame:
    """broom.mixed's ``tidy()`` of an lmer (lmerTest) or glmer fit.

    Fixed rows, from ``fit.coef_table(ddf)``: ``effect, term, estimate, std_error, statistic,
    [df], p_value`` and, with ``conf_int``, ``conf_low, conf_high``: estimate
    :math:`\\pm\\, t_{\\nu, q}` SE with Satterthwaite's :math:`\\nu` (lmer), or
    :math:`\\pm\\, z_q` SE for glmer fits and lmer's ``ddf="none"`` (which also drops
    ``df``), :math:`q = (1 + \\text{conf\\_level})/2`.

    Random-parameter rows, from ``fit.varcorr()``: ``effect, group, term, estimate`` with terms
    ``sd__<name>``, ``cor__<name1>.<name2>`` and, for lmer, ``sd__Observation`` (group
    ``Residual``), in the lecture's order: per random term the standard deviations, then
    the correlations; the residual last.  broom.mixed 0.2.9.4 puts each correlation right
    after the first standard deviation it involves; the values are the same.  With
    ``conf_int``, these rows have ``conf_low`` and ``conf_high`` too, NaN (broom.mixed's Wald
    intervals are NA for them), so the columns do not depend on ``effects``.  With both
    kinds, ``group`` is missing on fixed rows.

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
    effects : {"fixed", "ran_pars"} or list of str
    conf_int : bool
    conf_level : float
    ddf : str, optional
        Passed to ``fit.coef_table``; its default when None (``"satterthwaite"`` for lmer,
        z tests for glmer, which accepts only ``"none"``).

    Returns
    -------
    pandas.DataFrame

    Raises
    ------
    ValueError
        Unknown ``effects`` or ``ddf``, or ``conf_level`` outside (0, 1).
    """
    kinds = check_effects(EFFECTS if effects is None else effects)
    conf_level = check_conf_level(conf_level)
    parts = []
    for kind in kinds:
        if kind == "fixed":
            table = fit.coef_table() if ddf is None else fit.coef_table(ddf)
            parts.append(_fixed_rows(table, conf_int, conf_level))
        else:
            parts.append(_ran_par_rows(fit.varcorr(), conf_int))
    if len(parts) == 1:
        return parts[0]
    combined = pd.concat(parts, ignore_index=True)
    front = ["effect", "group", "term"]
    return combined[front + [c for c in combined.columns if c not in front]]


@tidy.register
def _tidy_mixed_model(obj: MixedModelResult, effects: str | Sequence[str] | None = None, conf_int: bool = False,
                      conf_level: float = 0.95, ddf: str | None = None) -> pd.DataFrame:
    return tidy_mixed(obj, effects, conf_int, conf_level, ddf)


def tidy_gee(fit: GeeFit, effects: str | Sequence[str] | None = "fixed", conf_int: bool = False,
             conf_level: float = 0.95) -> pd.DataFrame:
    """broom's ``tidy()`` of a geeglm: one row per coefficient.

    Columns ``effect`` (always ``"fixed"``: a GEE has no random-effect parameters, and
    ``effects`` accepts only ``"fixed"``), ``term, estimate, std_error, statistic`` (the
    Wald :math:`\\chi^2`), ``p_value``, and, with ``conf_int``, Wald limits
    :math:`\\hat\\beta \\pm z_{(1+\\ell)/2}\\,\\mathrm{SE}`.
    """
    check_effects("fixed" if effects is None else effects, allowed=("fixed",))
    conf_level = check_conf_level(conf_level)
    table = fit.coef_table()
    tidied = pd.DataFrame({
        "effect": "fixed",
        "term": list(table.index),
        "estimate": table["Estimate"].to_numpy(),
        "std_error": table["Std.err"].to_numpy(),
        "statistic": table["Wald"].to_numpy(),
        "p_value": table["Pr(>|W|)"].to_numpy(),
    })
    if conf_int:
        tidied["conf_low"], tidied["conf_high"] = wald_limits(tidied["estimate"], tidied["std_error"], conf_level)
    return tidied


tidy.register(GeeFit, tidy_gee)
