"""Tidy tables of model estimates, after broom / broom.mixed.

:func:`tidy` dispatches to the fitted object's ``_tidy`` method, so any result class (an
lmer fit, a GEE fit, ...) can plug in by defining ``_tidy(**kwargs) -> DataFrame``.
Columns are broom's, written in snake_case (R's ``std.error``, ``p.value``, ``conf.low``
are ``std_error``, ``p_value``, ``conf_low``); terms keep R's names (``sd__(Intercept)``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy import stats

if TYPE_CHECKING:
    from mlmtools.lmer import LmerResult


def tidy(obj: Any, **kwargs: Any) -> pd.DataFrame:
    """A tidy table of a fitted model's estimates (broom's ``tidy``).

    Parameters
    ----------
    obj
        Any object with a ``_tidy`` method (e.g. :class:`mlmtools.lmer.LmerResult`).
    **kwargs
        Passed on; for lmer fits see :func:`tidy_lmer`.

    Raises
    ------
    TypeError
        If ``obj`` does not support tidying.
    """
    method = getattr(obj, "_tidy", None)
    if method is None:
        raise TypeError(f"tidy() does not know how to tidy a {type(obj).__name__}")
    return method(**kwargs)


def _fixed_rows(fit: LmerResult, conf_int: bool, conf_level: float, ddf: str) -> pd.DataFrame:
    table = fit.coef_table(ddf)
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
        q = (1 + conf_level) / 2
        multiplier = stats.t.ppf(q, out["df"]) if "df" in out else stats.norm.ppf(q)
        out["conf_low"] = out["estimate"] - multiplier * out["std_error"]
        out["conf_high"] = out["estimate"] + multiplier * out["std_error"]
    return out


def _ran_par_rows(fit: LmerResult) -> pd.DataFrame:
    """Standard deviations and correlations, per term in theta's order (lower triangle,
    column by column), then the residual standard deviation."""
    rows = []
    for label, t, cov, corr in fit._term_covariances():
        sd = np.sqrt(np.diag(cov))
        for c in range(t.k):
            rows.append((label, f"sd__{t.columns[c]}", sd[c]))
            for a in range(c + 1, t.k):
                rows.append((label, f"cor__{t.columns[c]}.{t.columns[a]}", corr[a, c]))
    rows.append(("Residual", "sd__Observation", fit.sigma))
    out = pd.DataFrame(rows, columns=["group", "term", "estimate"])
    out.insert(0, "effect", "ran_pars")
    return out


def tidy_lmer(fit: LmerResult, effects: str | Sequence[str] = ("fixed", "ran_pars"),
              conf_int: bool = False, conf_level: float = 0.95,
              ddf: str = "satterthwaite") -> pd.DataFrame:
    """broom.mixed's ``tidy()`` of an lmerTest fit.

    Fixed rows: ``effect, term, estimate, std_error, statistic, df, p_value`` (and
    ``conf_low, conf_high`` with ``conf_int``: estimate :math:`\\pm\\, t_{\\nu, q}` SE with
    Satterthwaite's :math:`\\nu`; normal quantiles with ``ddf="none"``, which also drops
    ``df``). Random-parameter rows: ``effect, group, term, estimate`` with terms
    ``sd__<name>``, ``cor__<name1>.<name2>`` and ``sd__Observation`` for the residual.
    With both kinds, ``group`` is missing on fixed rows.
    """
    from mlmtools.lmer import check_ddf

    ddf = check_ddf(ddf)
    kinds = [effects] if isinstance(effects, str) else list(effects)
    unknown = [k for k in kinds if k not in ("fixed", "ran_pars")]
    if unknown or not kinds:
        raise ValueError(f"effects must be 'fixed' and/or 'ran_pars', got {effects!r}")
    if not 0 < conf_level < 1:
        raise ValueError(f"conf_level must be between 0 and 1, got {conf_level}")
    parts = []
    for kind in kinds:
        parts.append(_fixed_rows(fit, conf_int, conf_level, ddf) if kind == "fixed" else _ran_par_rows(fit))
    if len(parts) == 1:
        return parts[0]
    combined = pd.concat(parts, ignore_index=True)
    front = ["effect", "group", "term"]
    return combined[front + [c for c in combined.columns if c not in front]]
