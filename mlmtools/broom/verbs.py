"""broom's three verbs as generic functions, and the argument checks their methods share.

:func:`tidy`, :func:`glance` and :func:`augment` dispatch on the type of their first argument
(``functools.singledispatch``); the methods for mixed models, GEE fits and test tables are
registered by :mod:`mlmtools.broom.mixed_models`, :mod:`mlmtools.broom.gee_models` and
:mod:`mlmtools.broom.hypothesis_tables`, and another class plugs in with ``tidy.register``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

import pandas as pd


def snake_case_label(label: str) -> str:
    """Any column label in snake_case: lower case, runs of other characters become one ``_``
    (``"Sum Sq"`` -> ``"sum_sq"``, ``"Pr(>F)"`` -> ``"pr_f"``)."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", label)
    return re.sub(r"[^0-9a-zA-Z]+", "_", spaced).strip("_").lower()


def check_effects(effects: str | Sequence[str], allowed: Sequence[str]) -> list[str]:
    """An ``effects`` argument as a list, or ValueError naming the allowed kinds."""
    kinds = [effects] if isinstance(effects, str) else list(effects)
    if not kinds or any(k not in allowed for k in kinds):
        raise ValueError(f"effects must be {' and/or '.join(map(repr, allowed))}, got {effects!r}")
    return kinds


def check_conf_level(conf_level: float) -> float:
    """A confidence level strictly between 0 and 1, or ValueError."""
    if isinstance(conf_level, bool) or not isinstance(conf_level, (int, float)) or not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be between 0 and 1, got {conf_level!r}")
    return float(conf_level)


@functools.singledispatch
def tidy(obj: Any, effects: str | Sequence[str] | None = None, conf_int: bool = False,
         conf_level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
    """A tidy table of a fitted model's estimates, or of a test table (broom's ``tidy``).

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
        A fitted model: an lmer or glmer fit (:func:`~mlmtools.broom.mixed_models.tidy_mixed`),
        a GEE fit (:func:`~mlmtools.broom.gee_models.tidy_gee`), an ANOVA table or a
        ``contest`` table (:func:`~mlmtools.broom.hypothesis_tables.tidy_test_table`), or any class
        registered with ``tidy.register``.
    effects : str or list of str, optional
        Which rows: ``"fixed"``, ``"ran_pars"``, ``"ran_vals"``, ``"ran_coefs"`` for mixed
        models; None gives the model's default (fixed effects and random-effect parameters
        for mixed models, ``"fixed"`` for GEE), as broom.mixed does.
    conf_int : bool
        Add ``conf_low`` and ``conf_high``.
    conf_level : float
        Coverage of the intervals.
    **kwargs
        Passed on (``ddf`` and ``conf_method`` for mixed models).

    Returns
    -------
    pandas.DataFrame
        One row per estimate: ``effect, [group], [level], term, estimate, std_error,
        statistic, [df], p_value`` and, with ``conf_int``, ``conf_low, conf_high``.  Columns
        are broom's in snake_case (R's ``std.error`` is ``std_error``).

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


@functools.singledispatch
def glance(obj: Any, **kwargs: Any) -> pd.DataFrame:
    """One row of statistics about a whole fit (broom's ``glance``).

    Parameters
    ----------
    obj
        A fitted model: an lmer or glmer fit (:func:`~mlmtools.broom.mixed_models.glance_mixed`:
        ``nobs, sigma, logLik, AIC, BIC, REMLcrit`` or ``deviance, df_residual`` and one
        ``ngroups_<factor>`` per grouping factor) or a GEE fit
        (:func:`~mlmtools.broom.gee_models.glance_gee`: broom's columns plus ``nobs`` and the
        QIC family).

    Returns
    -------
    pandas.DataFrame
        One row.

    Raises
    ------
    TypeError
        If no method is registered for the type of ``obj``.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> print(glance(fit).round(2).to_string(index=False))
     nobs  sigma  logLik     AIC     BIC  REMLcrit  df_residual  ngroups_Subject
      180  25.59 -871.81 1755.63 1774.79   1743.63          174               18
    """
    raise TypeError(f"glance() does not know how to glance at a {type(obj).__name__}; register a "
                    "method with glance.register")


@functools.singledispatch
def augment(obj: Any, data: pd.DataFrame | None = None, **kwargs: Any) -> pd.DataFrame:
    """The rows a model was fitted to, with its per-observation values added (broom's ``augment``).

    Parameters
    ----------
    obj
        A fitted model: an lmer or glmer fit (:func:`~mlmtools.broom.mixed_models.augment_mixed`)
        or a GEE fit (:func:`~mlmtools.broom.gee_models.augment_gee`).
    data : pandas.DataFrame, optional
        The data to add the columns to (the rows the model used, in its row order); by default
        the data the model was fitted to, without the rows it dropped.

    Returns
    -------
    pandas.DataFrame
        ``data`` with broom's columns (``.fitted``, ``.resid``, ``.fixed``, ``.mu``, ...),
        named as broom.mixed names them, in snake_case.

    Raises
    ------
    TypeError
        If no method is registered for the type of ``obj``.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> augmented = augment(fit)
    >>> print(augmented[["Reaction", "Days", ".fitted", ".resid", ".fixed"]].head(2).round(2))
       Reaction  Days  .fitted  .resid  .fixed
    0    249.56     0   253.66   -4.10  251.41
    1    258.70     1   273.33  -14.63  261.87
    """
    raise TypeError(f"augment() does not know how to augment a {type(obj).__name__}; register a "
                    "method with augment.register")


def with_data(data: pd.DataFrame | None, model_data: pd.DataFrame | None, row_index: pd.Index,
              columns: dict[str, Any]) -> pd.DataFrame:
    """The rows ``row_index`` of ``data`` (default: the model's data) with ``columns`` appended.

    Raises ValueError when ``data`` does not hold the rows the model used.
    """
    source = model_data if data is None else data
    if source is None:
        raise ValueError("the model keeps no data; pass the rows it was fitted to as data=")
    if not isinstance(source, pd.DataFrame):
        raise TypeError(f"data must be a pandas DataFrame, got {type(source).__name__}")
    missing = row_index.difference(source.index)
    if len(missing):
        raise ValueError(f"data lacks {len(missing)} of the rows the model was fitted to (e.g. row "
                         f"{missing[0]!r}); pass the data the model was fitted to")
    out = source.loc[row_index].copy()
    for name, values in columns.items():
        out[name] = values
    return out
