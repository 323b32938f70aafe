"""broom's ``tidy``, ``glance`` and ``augment`` for GEE fits (geepack's ``geeglm``).

broom 1.0.3 tidies and glances at a geeglm; its ``augment`` of a geeglm fails (it falls back to
the glm method, which finds no data), so :func:`augment_gee` follows broom's ``augment.glm``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from mlmtools.broom.verbs import augment, check_conf_level, check_effects, glance, tidy, with_data
from mlmtools.gee import GeeFit
from mlmtools.inference.wald import wald_limits


def tidy_gee(fit: GeeFit, effects: str | Sequence[str] | None = "fixed", conf_int: bool = False,
             conf_level: float = 0.95) -> pd.DataFrame:
    """broom's ``tidy()`` of a geeglm: one row per coefficient.

    Columns ``effect`` (always ``"fixed"``: a GEE has no random-effect parameters, and
    ``effects`` accepts only ``"fixed"``; broom has no such column, kept here so that tables of
    GEE and mixed models stack), ``term, estimate, std_error, statistic`` (the Wald
    :math:`\\chi^2`), ``p_value``, and, with ``conf_int``, Wald limits
    :math:`\\hat\\beta \\pm z_{(1+\\ell)/2}\\,\\mathrm{SE}`.
    """
    check_effects("fixed" if effects is None else effects, allowed=("fixed",))
    conf_level = check_conf_level(conf_level)
    table = fit.coef_table()
    tidied = pd.DataFrame({
        "effect": "fixed",
        "term": list(table.index),
        "estimate": table["Estimate"].to_numpy(dtype=float),
        "std_error": table["Std.err"].to_numpy(dtype=float),
        "statistic": table["Wald"].to_numpy(dtype=float),
        "p_value": table["Pr(>|W|)"].to_numpy(dtype=float),
    })
    if conf_int:
        tidied["conf_low"], tidied["conf_high"] = wald_limits(tidied["estimate"].to_numpy(),
                                                              tidied["std_error"].to_numpy(), conf_level)
    return tidied


tidy.register(GeeFit, tidy_gee)


def glance_gee(fit: GeeFit) -> pd.DataFrame:
    """broom's ``glance()`` of a geeglm, with the number of rows and the QIC family added.

    Columns ``df_residual`` (:math:`n - p`), ``n_clusters``, ``max_cluster_size``, one column per
    correlation parameter named as geepack names it (``alpha``, ``alpha.1:2``, ...; none for
    independence), ``gamma`` (the scale :math:`\\hat\\phi`), then ``nobs`` and, since a GEE has
    no likelihood (no logLik, AIC or BIC), geepack's ``QIC``, ``QICu`` and ``CIC``
    (:meth:`~mlmtools.gee.result.GeeFit.qic`).

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.gee import geeglm
    >>> fit = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="exchangeable")
    >>> print(glance_gee(fit).round(3).T.to_string(header=False))
    df_residual          178.000
    n_clusters            18.000
    max_cluster_size      10.000
    alpha                  0.576
    gamma               2251.398
    nobs                 180.000
    QIC               405266.963
    QICu              405255.617
    CIC                    7.673
    """
    row: dict[str, Any] = {"df_residual": fit.df_resid, "n_clusters": fit.n_clusters,
                           "max_cluster_size": fit.max_cluster_size}
    row.update(zip(fit.alpha_names, fit.alpha.tolist()))
    row["gamma"] = fit.scale
    row["nobs"] = fit.nobs
    criteria = fit.qic()
    row.update({name: float(criteria[name]) for name in ("QIC", "QICu", "CIC")})
    return pd.DataFrame([row])


glance.register(GeeFit, glance_gee)


def augment_gee(fit: GeeFit, data: pd.DataFrame | None = None, type_residuals: str = "pearson") -> pd.DataFrame:
    """The rows a geeglm used with ``.fitted`` (the linear predictor :math:`X\\hat\\beta + o`, as
    broom's ``augment.glm``), ``.mu`` (the mean :math:`g^{-1}(\\hat\\eta)`) and ``.resid``
    (residuals of ``type_residuals``: geepack's default ``"pearson"``, or ``"response"``).

    A GEE fit keeps no copy of the caller's data frame, so ``data`` is required (as broom
    requires it).

    Raises
    ------
    ValueError
        Without ``data``, or when ``data`` lacks rows the fit used.
    """
    columns = {".fitted": fit.predict(type="link").to_numpy(dtype=float),
               ".mu": fit.fitted().to_numpy(dtype=float),
               ".resid": fit.residuals(type=type_residuals).to_numpy(dtype=float)}
    if data is None:
        raise ValueError("a GEE fit keeps no copy of the data: pass the data it was fitted to as data=")
    return with_data(data, None, fit.state.row_index, columns)


augment.register(GeeFit, augment_gee)
