"""Generalized estimating equations as R's ``geepack::geeglm``: :class:`GeeModel` and :func:`geeglm`.

Building a :class:`GeeModel` evaluates the formula, checks the response against the family and
groups the rows by cluster; :meth:`~GeeModel.fit` runs geepack's loop
(:mod:`mlmtools.gee.estimation`) and its sandwich covariance (:mod:`mlmtools.gee.sandwich`),
and :meth:`~GeeModel.refit` fits a new response with the same clusters and design.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, FormulaError
from mlmtools.formula import parse_formula
from mlmtools.frame import ColumnNotFoundError, as_pandas, build_model
from mlmtools.gee.call_text import deparse_call, formula_text
from mlmtools.gee.correlation import make_correlation
from mlmtools.gee.estimation import MAX_ITERATIONS, TOLERANCE, GeeData
from mlmtools.gee.fitting import run_geepack
from mlmtools.gee.jackknife import check_std_err
from mlmtools.gee.result import GeeFit
from mlmtools.gee.state import GeeFitState
from mlmtools.glmm.families import Family, NegativeBinomial
from mlmtools.glmm.family_names import FAMILY_CLASSES, get_family

GEEPACK_LINKS = ("identity", "logit", "probit", "cloglog", "log", "inverse")
"""The links geepack has for the mean (``geese.fit``'s ``LINKS`` without the correlation links)."""


def _wave_codes(values: pd.Series) -> NDArray[np.int64]:
    """geepack's wave codes: rank of each value among the distinct values (``as.integer(factor())``)."""
    codes, _ = pd.factorize(values, sort=True)
    return codes.astype(np.int64) + 1


def _cluster_order(ids: pd.Series, waves: NDArray[np.int64] | None
                   ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row order that groups clusters (in order of first appearance) and each cluster's first row."""
    cluster_code, _ = pd.factorize(ids, sort=False)
    order = np.argsort(cluster_code, kind="stable") if waves is None else np.lexsort((waves, cluster_code))
    sorted_codes = cluster_code[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    return order, starts


def _gee_family(family: str | Family, link: str | None) -> Family:
    """The family geepack fits: gaussian, binomial, poisson or Gamma, with a link geepack has."""
    fam = get_family(family, tuple(FAMILY_CLASSES), clamp=False, link=link)
    if isinstance(fam, NegativeBinomial):
        raise ValueError("geepack has no negative binomial family; use family='poisson' (the sandwich "
                         "standard errors allow for overdispersion)")
    if fam.link not in GEEPACK_LINKS:
        raise ValueError(f"geepack has no {fam.link!r} link; use one of {', '.join(map(repr, GEEPACK_LINKS))}")
    return fam


def _family_text(family: Family) -> str:
    """The family as written in R's call: ``binomial``, or ``binomial(link = "probit")``."""
    if family.link == family.links[0]:
        return family.name
    return f'{family.name}(link = "{family.link}")'


def _check_scale(scale_fix: bool, scale_value: float | None) -> float | None:
    """A fixed scale must be asked for with ``scale_fix=True`` and be a positive number."""
    if not isinstance(scale_fix, (bool, np.bool_)):
        raise TypeError(f"scale_fix must be True or False, got {scale_fix!r}")
    if scale_value is None:
        return None
    if not scale_fix:
        raise ValueError("scale_value is the value of a fixed scale: pass scale_fix=True with it")
    if isinstance(scale_value, (bool, np.bool_)) or not isinstance(scale_value, (int, float, np.number)):
        raise TypeError(f"scale_value must be a number, got {type(scale_value).__name__}")
    if not (np.isfinite(scale_value) and scale_value > 0):
        raise ValueError(f"scale_value must be a positive number, got {scale_value}")
    return float(scale_value)



def _check_column_argument(data: pd.DataFrame, role: str, column: str | None) -> None:
    """``id``/``waves`` must name a column of ``data``; a misspelt name gets a suggestion."""
    if column is None:
        return
    if not isinstance(column, str):
        raise TypeError(f"{role} must be the name of a column of data, got {type(column).__name__}")
    if column not in data.columns:
        close = difflib.get_close_matches(column, [str(c) for c in data.columns], n=3)
        hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
        raise ColumnNotFoundError(f"{role} column {column!r} not found in data{hint}")


class GeeModel:
    """A GEE model built from a formula, data and clusters, not yet fitted.

    The parameters are those of :func:`geeglm` (without the loop's ``epsilon`` and
    ``maxit``, which :meth:`fit` takes).

    Attributes
    ----------
    formula, call : str
        The formula, and the call as R prints it.
    family : ~mlmtools.glmm.families.Family
    corstr : str
    data : ~mlmtools.gee.estimation.GeeData
        Response, design, weights and offset, rows grouped by cluster.
    names : tuple of str
        Coefficient names.
    row_index : pandas.Index
        Index labels of the caller's rows that were used.
    order : numpy.ndarray
        The caller's used rows in cluster order (``data.y == y[order]``).
    frame : ~mlmtools.frame.model_frame.ModelFrame
        The model frame (its encodings rebuild the design for new data).
    offset_column : str or None
        The ``offset`` column, evaluated again in new data by ``predict``.
    std_err, scale_fix, scale_value
        geepack's ``std.err``, ``scale.fix`` and the fixed scale (see :func:`geeglm`).
    """

    def __init__(self, formula: str, data: pd.DataFrame, id: str, corstr: str = "independence",
                 family: str | Family = "gaussian", waves: str | None = None, weights: str | None = None,
                 offset: str | None = None, *, link: str | None = None, std_err: str = "san.se",
                 scale_fix: bool = False, scale_value: float | None = None, data_name: str | None = None,
                 contrasts: Mapping[str, Any] | None = None):
        structure = make_correlation(corstr)
        fam = _gee_family(family, link)
        std_err = check_std_err(std_err)
        scale_value = _check_scale(scale_fix, scale_value)
        data = as_pandas(data)
        for role, column in (("id", id), ("waves", waves)):
            _check_column_argument(data, role, column)
        if parse_formula(formula).random:
            raise FormulaError(f"formula '{formula}' has a random-effects term (expr | group); GEE "
                               "models have none: give the clusters with id= and use lmer or glmer "
                               "for random effects")
        extra = (id,) if waves is None else (id, waves)
        mf = build_model(formula, data, require_random=False, extra_columns=extra,
                         weights=weights, offset=offset, contrasts=contrasts)
        n = len(mf.y)
        y = np.asarray(mf.y, dtype=float)
        fam.check_range(y)
        w = np.ones(n) if mf.weights is None else np.asarray(mf.weights, dtype=float)
        o = np.zeros(n) if mf.offset is None else np.asarray(mf.offset, dtype=float)
        ids = pd.Series(np.asarray(mf.extra[id]))
        wave_codes = None if waves is None else _wave_codes(pd.Series(np.asarray(mf.extra[waves])))
        order, starts = _cluster_order(ids, wave_codes)
        if len(starts) < 2:
            raise ValueError(f"GEE needs at least two clusters; column {id!r} has a single value")
        clusters = tuple(slice(int(a), int(b)) for a, b in zip(starts, np.r_[starts[1:], n]))
        if structure.n_params and all(rows.stop - rows.start < 2 for rows in clusters):
            raise ValueError(f"corstr={corstr!r} needs a cluster with two or more rows; every {id!r} value "
                             "occurs once")
        if wave_codes is None:
            sorted_waves = np.concatenate([np.arange(1, rows.stop - rows.start + 1) for rows in clusters])
        else:
            sorted_waves = wave_codes[order]
        arguments = [("formula", formula_text(formula))]
        if _family_text(fam) != "gaussian":
            arguments.append(("family", _family_text(fam)))
        arguments.append(("data", data_name or data.attrs.get("name", "data")))
        for name, value in (("weights", weights), ("offset", offset), ("id", id), ("waves", waves)):
            if value is not None:
                arguments.append((name, value))
        if corstr != "independence":
            arguments.append(("corstr", f'"{corstr}"'))
        if scale_fix:
            arguments.append(("scale.fix", "TRUE"))
        if scale_value is not None:
            arguments.append(("scale.value", f"{scale_value:.15g}"))
        if std_err != "san.se":
            arguments.append(("std.err", f'"{std_err}"'))
        self.formula = formula
        self.frame = mf
        self.offset_column = offset
        self.id_column = id
        self.std_err = std_err
        self.scale_fix = bool(scale_fix)
        self.scale_value = scale_value
        self.call = deparse_call("geeglm", arguments)
        self.family = fam
        self.corstr = corstr
        self.names = tuple(mf.fixed_names)
        self.row_index = mf.row_index
        self.order = order
        self.data = GeeData(y=y[order], X=np.asarray(mf.X, dtype=float)[order], weights=w[order],
                            offset=o[order], waves=sorted_waves.astype(np.int64), clusters=clusters)

    def with_response(self, y: Sequence[float] | np.ndarray) -> GeeModel:
        """The same model with a new response: one value per used row, in the caller's row
        order (checked against the family)."""
        values = np.asarray(y, dtype=float).reshape(-1)
        if values.shape[0] != len(self.order):
            raise ValueError(f"the new response has {values.shape[0]} values; the model has "
                             f"{len(self.order)} rows")
        if not np.isfinite(values).all():
            raise ValueError("the new response has infinite or undefined values")
        self.family.check_range(values)
        model = copy.copy(self)
        model.data = dataclasses.replace(self.data, y=values[self.order])
        return model

    def fit(self, epsilon: float = TOLERANCE, maxit: int = MAX_ITERATIONS) -> GeeFit:
        """Run geepack's loop and its sandwich covariance.

        Parameters
        ----------
        epsilon, maxit : float, int
            geepack's ``geese.control()``: stop when no parameter moves by more than
            ``epsilon`` in an iteration; give up (with a warning) after ``maxit`` iterations.

        Returns
        -------
        ~mlmtools.gee.result.GeeFit

        Warns
        -----
        ConvergenceWarning
            If the loop has not converged after ``maxit`` iterations.
        """
        computation = run_geepack(self.data, self.family, self.corstr, std_err=self.std_err,
                                  scale_fix=self.scale_fix, scale_value=self.scale_value, epsilon=epsilon,
                                  maxit=maxit)
        if not computation.estimates.converged:
            warnings.warn(
                f"geeglm did not converge in {maxit} iterations (a parameter still moved by more than {epsilon})",
                ConvergenceWarning, stacklevel=user_stacklevel(),
            )
        caller_rows = np.empty_like(self.order)
        caller_rows[self.order] = np.arange(len(self.order))
        state = GeeFitState(data=self.data, computation=computation, names=self.names, row_index=self.row_index,
                            caller_rows=caller_rows, frame=self.frame, std_err=self.std_err,
                            scale_fix=self.scale_fix, scale_value=self.scale_value, epsilon=epsilon, maxit=maxit)
        return GeeFit(self, state)

    def refit(self, y: Sequence[float] | np.ndarray, epsilon: float = TOLERANCE,
              maxit: int = MAX_ITERATIONS) -> GeeFit:
        """Fit the model to a new response: :meth:`fit` of :meth:`with_response`."""
        return self.with_response(y).fit(epsilon, maxit)

    def __repr__(self) -> str:
        return (f"<GeeModel {self.formula!r}: {self.family.name}, corstr={self.corstr!r}, "
                f"{len(self.data.clusters)} clusters>")


def geeglm(
    formula: str,
    data: pd.DataFrame,
    id: str,
    corstr: str = "independence",
    family: str | Family = "gaussian",
    waves: str | None = None,
    weights: str | None = None,
    offset: str | None = None,
    *,
    link: str | None = None,
    std_err: str = "san.se",
    scale_fix: bool = False,
    scale_value: float | None = None,
    epsilon: float = TOLERANCE,
    maxit: int = MAX_ITERATIONS,
    data_name: str | None = None,
    contrasts: Mapping[str, Any] | None = None,
) -> GeeFit:
    """Fit a GEE model as R's ``geepack::geeglm`` does.

    The marginal mean is :math:`g(\\mu_{ij}) = x_{ij}^\\top\\beta + o_{ij}` and the working
    covariance of cluster :math:`i` is :math:`\\phi\\, A_i^{1/2} R_i(\\alpha) A_i^{1/2}` with
    :math:`A_i = \\mathrm{diag}(v(\\mu_{ij})/w_{ij})`. :math:`\\hat\\beta` solves

    .. math:: \\sum_i D_i^\\top W_i^{1/2} R_i(\\hat\\alpha)^{-1} W_i^{1/2} r_i = 0,

    :math:`\\hat\\phi = \\sum w r^2/\\sum w` and :math:`\\hat\\alpha` solves the pair moment
    equation of its structure; the loop and stopping rule are geepack's (module docstring).

    geepack needs each cluster's rows to be adjacent. geeglm therefore groups the rows by
    ``id`` with a *stable* sort: clusters in order of first appearance, rows within a
    cluster in their original order, or in ``waves`` order when ``waves`` is given. Data
    already grouped by id (as geepack requires) is used as is. Fitted values and residuals
    come back in the caller's row order. The same as ``GeeModel(formula, data, id, corstr,
    family, waves, weights, offset, std_err=..., scale_fix=..., scale_value=...).fit(epsilon, maxit)``.

    Parameters
    ----------
    formula : str
        ``"y ~ x1 + x2"``; a binomial response may be ``cbind(successes, failures)``, and
        ``offset(...)`` terms are allowed.
    data : pandas.DataFrame
    id : str
        Column that identifies the clusters.
    corstr : {"independence", "exchangeable", "ar1", "unstructured"}
        Working correlation (:mod:`mlmtools.gee.correlation`).
    family : {"gaussian", "binomial", "poisson", "Gamma"} or Family
        The response distribution (case-insensitive name); a :mod:`mlmtools.glmm.families`
        object such as ``Binomial(link="probit")`` (R's ``binomial(link = "probit")``) is
        accepted too and used with unbounded means (``clamp=False``), as geepack computes them.
    waves : str, optional
        Column giving each row's time. geepack uses the rank of the value among all distinct
        values (1, 2, ...), not the raw spacing; by default the position within the cluster.
    weights, offset : str, optional
        Columns of prior weights and of an offset on the link scale.
    link : str, optional
        The link, with ``family`` given by name: ``"identity"``, ``"logit"``, ``"probit"``,
        ``"cloglog"``, ``"log"`` or ``"inverse"`` where the family allows it (geepack's links);
        the family's canonical link by default.
    std_err : {"san.se", "jack", "j1s", "fij"}
        The covariance behind the standard errors, :meth:`~mlmtools.gee.result.GeeFit.vcov`
        and everything built on them: the robust sandwich (default), or geepack's approximate,
        one-step or fully iterated jackknife (:mod:`mlmtools.gee.jackknife`; ``"fij"`` refits
        the model once per cluster).
    scale_fix : bool
        Hold the scale :math:`\\phi` fixed instead of estimating it (geepack's ``scale.fix``).
        Without ``scale_value`` it is fixed where geepack 1.3.9's ``geeglm`` fixes it: at its
        starting value, the mean of :math:`(y - \\hat\\mu_{GLM})^2/v(\\hat\\mu_{GLM})` over the
        rows (geepack ignores ``scale.value``).
    scale_value : float, optional
        The value of the fixed scale (needs ``scale_fix=True``), as geepack documents
        ``scale.value`` and as ``geese(..., scale.fix = TRUE, gm = scale_value)`` computes.
    epsilon, maxit : float, int
        geepack's ``geese.control()``: stop when no parameter moves by more than
        ``epsilon`` in an iteration; give up (with a warning) after ``maxit`` iterations.
    data_name : str, optional
        Name printed for ``data`` in the summary's ``Call:`` line; default
        ``data.attrs["name"]`` if set, else ``"data"``.
    contrasts : dict, optional
        A contrast per factor, e.g. ``{"recipe": "contr.sum"}`` (see :func:`mlmtools.frame.model_frame.build_model`);
        geepack's ``geeglm`` refuses R's ``contrasts=`` argument, and R users set
        ``contrasts(d$recipe) <- "contr.sum"`` instead, which gives the same columns.

    Returns
    -------
    ~mlmtools.gee.result.GeeFit

    Raises
    ------
    ColumnNotFoundError
        If the ``id`` (or ``waves``) column, or a column of the formula, is not in
        ``data`` (a :class:`KeyError`).
    FormulaError
        If the formula is malformed or has a random-effects term ``(expr | group)``.
    ValueError
        For an unknown ``corstr``, ``family``, ``link`` or ``std_err``, a binomial response outside
        [0, 1], negative Poisson counts, a constant response, fewer than two clusters, or a
        ``scale_value`` without ``scale_fix=True`` or not positive.

    Warns
    -----
    ConvergenceWarning
        If the loop has not converged after ``maxit`` iterations.
    MissingRowsWarning
        If rows with missing values were dropped.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.rstyle import print_rounded
    >>> fit = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="exchangeable")
    >>> print(print_rounded(fit.coef_table()[["Estimate", "Std.err"]], 3))
                Estimate Std.err
    (Intercept)  251.405   6.632
    Days          10.467   1.502

    geepack's approximate jackknife standard errors instead of the sandwich:

    >>> jack = geeglm("Reaction ~ Days", sleepstudy(), id="Subject", corstr="exchangeable", std_err="jack")
    >>> print(print_rounded(jack.coef_table()[["Estimate", "Std.err"]], 3))
                Estimate Std.err
    (Intercept)  251.405   6.193
    Days          10.467   1.403
    """
    model = GeeModel(formula, data, id, corstr, family, waves, weights, offset, link=link, std_err=std_err,
                     scale_fix=scale_fix, scale_value=scale_value, data_name=data_name, contrasts=contrasts)
    return model.fit(epsilon, maxit)
