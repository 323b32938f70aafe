"""Wald tests of GEE fits, as geepack's ``anova.geeglm``.

* ``anova(fit1, fit2)``: the Wald test of two nested fits (geepack's ``anovageePrim2``). The
  larger model is refitted on an orthonormal basis of its design whose first columns span the
  smaller model's design (the Q factor of the QR decomposition of ``[X_small, X_large]``,
  dropping columns that add nothing, as R's ``qr`` does); with :math:`b` the coefficients of the
  last :math:`d` columns and :math:`V_b` their covariance (the one ``std_err`` chose),

  .. math:: W = b^\\top V_b^{+} b \\sim \\chi^2_{\\nu},

  :math:`V_b^{+}` the Moore-Penrose inverse and :math:`\\nu` the number of eigenvalues of
  :math:`V_b` above :math:`10^{-12}`.
* ``anova(fit)``: sequential Wald tests, terms added first to last. For term :math:`k` the model
  with terms :math:`1, \\dots, k` is fitted (the full fit for the last term) and its last
  :math:`d_k` coefficients tested with :math:`W = b^\\top V_b^{-1} b` from the sandwich.
  The intermediate fits are geepack's ``geese.fit`` calls: same family, working correlation,
  weights, offset and stopping rule, but wave codes by position within the cluster and the
  scale estimated, whatever the full fit used.

p-values are computed as geepack does, :math:`1 - F_{\\chi^2}(W)`, so very small ones print as 0.
"""

from __future__ import annotations

import dataclasses
from typing import Protocol

import numpy as np
import pandas as pd
from numpy.typing import NDArray
from scipy import stats

from mlmtools.gee.call_text import formula_text
from mlmtools.gee.estimation import GeeData
from mlmtools.gee.fitting import run_geepack
from mlmtools.gee.state import GeeFitState
from mlmtools.glmm.families import Family
from mlmtools.inference.anova_tables import term_columns
from mlmtools.rstyle.summaries import AnovaTable

FloatArray = NDArray[np.float64]

TITLE = "Analysis of 'Wald statistic' Table"
NESTING_TOLERANCE = 1e-10
"""Tolerance of geepack's nesting test, which needs every residual column's variance below it."""
QR_TOLERANCE = 1e-7
"""R's ``qr()`` tolerance: a column whose residual norm is below this fraction of its norm adds nothing."""
EIGEN_TOLERANCE = 1e-12
"""Eigenvalues of :math:`V_b` above this count as degrees of freedom."""


class WaldFit(Protocol):
    """What the Wald tests read from a fit (:class:`~mlmtools.gee.result.GeeFit` is one)."""

    @property
    def state(self) -> GeeFitState:
        """The fit state."""

    @property
    def family(self) -> Family:
        """The response distribution and link."""

    @property
    def formula(self) -> str:
        """The formula as written."""


def _p_value(statistic: float, df: int) -> float:
    return float(1.0 - stats.chi2.cdf(statistic, df))


def _projection_residual(basis: FloatArray, columns: FloatArray) -> FloatArray:
    """``columns`` minus their least-squares projection on the columns of ``basis``."""
    return columns - basis @ np.linalg.solve(basis.T @ basis, basis.T @ columns)


def _contains(big: FloatArray, small: FloatArray) -> bool:
    """geepack's nesting test: every column of ``small`` is (almost) in the span of ``big``."""
    return bool(np.all(np.var(_projection_residual(big, small), axis=0, ddof=1) < NESTING_TOLERANCE))


def _orthonormal_basis(design: FloatArray) -> FloatArray:
    """The Q factor of R's ``qr(design)`` for its independent columns: columns whose residual on the
    columns before them is below :data:`QR_TOLERANCE` of their norm are left out, as LINPACK's
    ``dqrdc2`` moves them to the end."""
    kept: list[int] = []
    for j in range(design.shape[1]):
        column = design[:, j]
        residual = column if not kept else _projection_residual(design[:, kept], column)
        if np.linalg.norm(residual) >= QR_TOLERANCE * np.linalg.norm(column):
            kept.append(j)
    return np.linalg.qr(design[:, kept])[0]


def _check_same_data(first: WaldFit, second: WaldFit) -> None:
    a, b = first.state, second.state
    if a.frame.response_name != b.frame.response_name:
        raise ValueError(f"the models have different responses ({a.frame.response_name!r} and "
                         f"{b.frame.response_name!r}); a Wald test compares fits of the same response")
    if len(a.data.y) != len(b.data.y):
        raise ValueError(f"models were not all fitted to the same size of dataset ({len(a.data.y)} and "
                         f"{len(b.data.y)} observations)")
    same = (np.array_equal(a.data.y, b.data.y) and a.data.clusters == b.data.clusters
            and np.array_equal(a.data.weights, b.data.weights) and np.array_equal(a.data.offset, b.data.offset))
    if not same:
        raise ValueError("models were not fitted to the same data (responses, clusters, weights or offsets "
                         "differ); a Wald test compares nested fits of the same data")


def compare_nested(first: WaldFit, second: WaldFit) -> AnovaTable:
    """geepack's ``anova(fit1, fit2)``: the Wald test of the larger model against the smaller (module
    docstring). The order of the two fits does not matter.

    Raises
    ------
    ValueError
        If the fits are of different data or responses, are not nested, or are the same model.
    """
    _check_same_data(first, second)
    X1, X2 = first.state.data.X, second.state.data.X
    second_in_first, first_in_second = _contains(X1, X2), _contains(X2, X1)
    if second_in_first and first_in_second:
        raise ValueError("the two models are the same model (each design spans the other); nothing to test")
    if not (second_in_first or first_in_second):
        raise ValueError("the models are not nested: neither design spans the other")
    large, small = (first, second) if second_in_first else (second, first)
    state = large.state
    basis = _orthonormal_basis(np.column_stack([small.state.data.X, state.data.X]))
    refit = run_geepack(dataclasses.replace(state.data, X=basis), large.family, state.structure.name,
                        std_err=state.std_err, scale_fix=state.scale_fix, scale_value=state.scale_value,
                        epsilon=state.epsilon, maxit=state.maxit)
    tested = state.data.X.shape[1] - small.state.data.X.shape[1]
    b = refit.estimates.beta[-tested:]
    V = refit.reported.beta[-tested:, -tested:]
    statistic = float(b @ np.linalg.pinv(V, rcond=np.sqrt(np.finfo(float).eps)) @ b)
    df = int(np.sum(np.linalg.eigvalsh(V) > EIGEN_TOLERANCE))
    table = pd.DataFrame({"Df": [df], "X2": [statistic], "P(>|Chi|)": [_p_value(statistic, df)]}, index=["1"])
    heading = [TITLE, "", f"Model 1 {formula_text(large.formula)} ", f"Model 2 {formula_text(small.formula)}"]
    return AnovaTable(table=table, heading=heading)


def _wave_positions(data: GeeData) -> NDArray[np.int64]:
    return np.concatenate([np.arange(1, rows.stop - rows.start + 1) for rows in data.clusters]).astype(np.int64)


def sequential_table(fit: WaldFit) -> AnovaTable:
    """geepack's ``anova(fit)``: sequential Wald tests, terms added first to last (module docstring).

    Raises
    ------
    ValueError
        If the model has no terms besides the intercept.
    """
    state = fit.state
    columns = term_columns(fit)  # type: ignore[arg-type]  # it reads only fit.state.frame
    labels = list(columns)
    if not labels:
        raise ValueError("the model has no terms to test (only an intercept)")
    last_column = np.array([max(columns[label], default=-1) for label in labels])
    sizes = [int(np.max(last_column[:k + 1], initial=-1)) + 1 for k in range(len(labels))]
    intercept = "(Intercept)" in state.names
    sub_data = dataclasses.replace(state.data, waves=_wave_positions(state.data))
    rows = []
    for k, size in enumerate(sizes):
        if k == len(labels) - 1:
            beta, vbeta = state.estimates.beta, state.covariance.beta
        else:
            sub = run_geepack(dataclasses.replace(sub_data, X=state.data.X[:, :size]), fit.family,
                              state.structure.name, epsilon=state.epsilon, maxit=state.maxit)
            beta, vbeta = sub.estimates.beta, sub.covariance.beta
        df = size - (sizes[k - 1] if k else int(intercept))
        b, V = beta[size - df:size], vbeta[size - df:size, size - df:size]
        statistic = float(b @ np.linalg.solve(V, b))
        rows.append((df, statistic, _p_value(statistic, df)))
    table = pd.DataFrame(rows, columns=["Df", "X2", "P(>|Chi|)"], index=labels)
    heading = [TITLE, f"Model: {fit.family.name}, link: {fit.family.link}", f"Response: {state.frame.response_name}",
               "Terms added sequentially (first to last)", ""]
    return AnovaTable(table=table, heading=heading)
