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
import re
import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, FormulaError
from mlmtools.formula import parse_formula
from mlmtools.frame import ColumnNotFoundError, build_model
from mlmtools.gee.correlation import make_correlation
from mlmtools.gee.estimation import MAX_ITERATIONS, TOLERANCE, GeeData, cluster_pieces, estimate
from mlmtools.gee.result import GeeFit, GeeFitState
from mlmtools.gee.sandwich import geepack_covariance
from mlmtools.glmm.families import FAMILIES, Family, get_family


def _wave_codes(values: pd.Series) -> NDArray[np.int64]:
    """geepack's wave codes: rank of each value among the distinct values (``as.integer(factor())``)."""
    codes, _ = pd.factorize(values, sort=True)
    return codes.astype(np.int64) + 1


def _cluster_order(ids: pd.Series, waves: NDArray[np.int64] | None
                   ) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Row order that groups clusters (in order of first appearance) and each cluster's first row."""
    cluster_code, _ = pd.factorize(ids, sort=False)
    if waves is None:
        order = np.argsort(cluster_code, kind="stable")
    else:
        order = np.lexsort((waves, cluster_code))
    sorted_codes = cluster_code[order]
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    return order, starts


_DEPARSE_CUTOFF = 60


def _deparse_call(function: str, arguments: Sequence[tuple[str, str]]) -> str:
    """A call laid out as R's ``print(call)`` does: break after an argument once a line passes 60 characters."""
    lines, current = [], f"{function}("
    for position, (name, value) in enumerate(arguments):
        current += f"{name} = {value}"
        if position < len(arguments) - 1:
            current += ", "
            if len(current) > _DEPARSE_CUTOFF:
                lines.append(current)
                current = "    "
    lines.append(current + ")")
    return "\n".join(lines)


def _formula_text(formula: str) -> str:
    return re.sub(r"\s+", " ", formula.strip())



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
    """

    def __init__(self, formula: str, data: pd.DataFrame, id: str, corstr: str = "independence",
                 family: str | Family = "gaussian", waves: str | None = None, weights: str | None = None,
                 offset: str | None = None, *, data_name: str | None = None):
        structure = make_correlation(corstr)
        fam = get_family(family, tuple(FAMILIES), clamp=False)
        if not isinstance(data, pd.DataFrame):
            raise TypeError(f"data must be a pandas DataFrame, got {type(data).__name__}")
        for role, column in (("id", id), ("waves", waves)):
            _check_column_argument(data, role, column)
        if parse_formula(formula).random:
            raise FormulaError(f"formula '{formula}' has a random-effects term (expr | group); GEE "
                               "models have none: give the clusters with id= and use lmer or glmer "
                               "for random effects")
        extra = (id,) if waves is None else (id, waves)
        mf = build_model(formula, data, require_random=False, extra_columns=extra,
                         weights=weights, offset=offset)
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
        arguments = [("formula", _formula_text(formula))]
        if fam.name != "gaussian":
            arguments.append(("family", fam.name))
        arguments.append(("data", data_name or data.attrs.get("name", "data")))
        for name, value in (("weights", weights), ("offset", offset), ("id", id), ("waves", waves)):
            if value is not None:
                arguments.append((name, value))
        if corstr != "independence":
            arguments.append(("corstr", f'"{corstr}"'))
        self.formula = formula
        self.call = _deparse_call("geeglm", arguments)
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
        structure = make_correlation(self.corstr)
        structure.setup([self.data.waves[rows] for rows in self.data.clusters])
        estimates = estimate(self.data, self.family, structure, tol=epsilon, maxit=maxit)
        if not estimates.converged:
            warnings.warn(
                f"geeglm did not converge in {maxit} iterations (a parameter still moved by more than {epsilon})",
                ConvergenceWarning, stacklevel=user_stacklevel(),
            )
        covariance = geepack_covariance(cluster_pieces(self.data, estimates.beta, self.family),
                                        estimates.scale, estimates.alpha, structure)
        caller_rows = np.empty_like(self.order)
        caller_rows[self.order] = np.arange(len(self.order))
        state = GeeFitState(data=self.data, structure=structure, estimates=estimates, covariance=covariance,
                            names=self.names, row_index=self.row_index, caller_rows=caller_rows)
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
    epsilon: float = TOLERANCE,
    maxit: int = MAX_ITERATIONS,
    data_name: str | None = None,
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
    come back in the caller's row order. The same as
    ``GeeModel(formula, data, id, corstr, family, waves, weights, offset).fit(epsilon, maxit)``.

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
    family : {"gaussian", "binomial", "poisson"} or Family
        With its canonical link (identity, logit, log); a :mod:`mlmtools.glmm.families` object
        is accepted too and used with unbounded means (``clamp=False``).
    waves : str, optional
        Column giving each row's time. geepack uses the rank of the value among all distinct
        values (1, 2, ...), not the raw spacing; by default the position within the cluster.
    weights, offset : str, optional
        Columns of prior weights and of an offset on the link scale.
    epsilon, maxit : float, int
        geepack's ``geese.control()``: stop when no parameter moves by more than
        ``epsilon`` in an iteration; give up (with a warning) after ``maxit`` iterations.
    data_name : str, optional
        Name printed for ``data`` in the summary's ``Call:`` line; default
        ``data.attrs["name"]`` if set, else ``"data"``.

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
        For an unknown ``corstr`` or ``family``, a binomial response outside [0, 1],
        negative Poisson counts, a constant response, or fewer than two clusters.

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
    """
    model = GeeModel(formula, data, id, corstr, family, waves, weights, offset, data_name=data_name)
    return model.fit(epsilon, maxit)
