"""A linear mixed model you can fit and refit: :class:`LinearMixedModel`, and :func:`lmer`.

The pipeline, as lme4's ``lmer()`` glues ``lFormula -> mkLmerDevfun -> optimizeLmer ->
mkMerMod``::

    build_model(formula, data)        -> ModelFrame       (mlmtools.frame)
    design_products / make_problem    -> LmmProblem       (mlmtools.lmm.problem)
    deviance_function(problem, REML)  -> d(theta)         (mlmtools.lmm.pls)
    optimize_theta(d, start)          -> OptSummary       (mlmtools.lmm.optimizer)
    lmm_fit_state(...)                -> LmmFitState      (mlmtools.lmm.state)
    LmerResult(model, state)          -> the fitted model (mlmtools.lmm.result)

A :class:`LinearMixedModel` runs the first two steps once, when it is built (MixedModels.jl's
``LinearMixedModel``); :meth:`~LinearMixedModel.fit` runs the rest, and
:meth:`~LinearMixedModel.refit` fits a new response while reusing the model frame and every
cross-product that does not involve the response (MixedModels.jl's ``refit!``). A refit gives
the same numbers, bit for bit, as building the model afresh from data holding the new response.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmtools._blas import single_blas_thread, suits_one_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.frame import ModelFrame, as_pandas, build_model
from mlmtools.frame.checks import check_response_varies
from mlmtools.lmm.derivatives import (
    ThetaDerivatives,
    analytic_available,
    profiled_derivatives,
    theta_derivatives,
)
from mlmtools.lmm.optimizer import OptSummary, gradient_check, optimize_theta, restart_from_optimum
from mlmtools.lmm.pls import deviance_function
from mlmtools.lmm.problem import DesignProducts, LmmProblem, design_products, make_problem, start_theta
from mlmtools.lmm.result import LmerResult
from mlmtools.lmm.state import LmmFitState, lmm_fit_state

#: At most this many polishing runs (:func:`~mlmtools.lmm.optimizer.restart_from_optimum`) when the
#: optimizer reports success but lme4's gradient check fails.
MAX_RESTARTS = 3


def _check_reml(REML: Any) -> bool:
    if not isinstance(REML, (bool, np.bool_)):
        raise TypeError(f"REML must be True or False, got {REML!r}")
    return bool(REML)


class LinearMixedModel:
    """A linear mixed model built from a formula and data, not yet fitted.

    Building it evaluates the formula on the data (:func:`mlmtools.frame.model_frame.build_model`) and
    computes the cross-products of the designs (:mod:`mlmtools.lmm.problem`); fitting then
    only minimises the profiled deviance over :math:`\\theta`.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (1 + Days | Subject)"``.
    data : pandas.DataFrame
        The data.
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    data_name : str
        Name shown after ``Data:`` in printed output.
    contrasts : dict, optional
        R's ``contrasts``: a contrast for a factor of the fixed part, by name
        (``{"recipe": "contr.sum"}``) or as a matrix (see :func:`mlmtools.frame.model_frame.build_model`).

    Attributes
    ----------
    data : pandas.DataFrame or None
        The data the model was built from (None when built from a model frame).
    data_name : str
    weights_label, offset_label : str or None
        The ``weights`` and ``offset`` arguments when they named a column.
    frame : ~mlmtools.frame.model_frame.ModelFrame
        The model frame (response, designs, kept rows, encodings).
    design : ~mlmtools.lmm.problem.DesignProducts
        The cross-products that do not involve the response.
    problem : ~mlmtools.lmm.problem.LmmProblem
        All cross-products, response included.

    Examples
    --------
    Fit once, then refit to a new response with the same design:

    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.rstyle import print_named_vector
    >>> model = LinearMixedModel("Reaction ~ Days + (1 | Subject)", sleepstudy())
    >>> print(print_named_vector(model.fit().fixef))
    (Intercept)        Days
      251.40510    10.46729
    >>> shifted = model.refit(model.frame.y + 10 * model.frame.X[:, 1])
    >>> print(print_named_vector(shifted.fixef))
    (Intercept)        Days
      251.40510    20.46729
    """

    def __init__(self, formula: str, data: pd.DataFrame, weights: Any = None, offset: Any = None, *,
                 data_name: str = "data", contrasts: Mapping[str, Any] | None = None):
        data = as_pandas(data)
        frame = build_model(formula, data, weights=weights, offset=offset, contrasts=contrasts)
        self._assign(frame, design_products(frame), data, data_name,
                     weights if isinstance(weights, str) else None,
                     offset if isinstance(offset, str) else None)

    def _assign(self, frame: ModelFrame, design: DesignProducts, data: pd.DataFrame | None, data_name: str,
                weights_label: str | None, offset_label: str | None) -> None:
        """Set every attribute (the one place a model's state is made)."""
        self.data = data
        self.data_name = data_name
        self.weights_label = weights_label
        self.offset_label = offset_label
        self.frame = frame
        self.design = design
        self.problem: LmmProblem = make_problem(frame, design)

    @classmethod
    def from_frame(cls, frame: ModelFrame, *, data: pd.DataFrame | None = None, data_name: str = "data",
                   weights_label: str | None = None, offset_label: str | None = None) -> LinearMixedModel:
        """A model from a prepared :class:`~mlmtools.frame.model_frame.ModelFrame` (``data``: the data it
        was built from, needed only for type III contrasts of contained terms)."""
        model = cls.__new__(cls)
        model._assign(frame, design_products(frame), data, data_name, weights_label, offset_label)
        return model

    def with_response(self, y: Sequence[float] | np.ndarray) -> LinearMixedModel:
        """The same model with a new response: the model frame with ``y`` in place of its
        response, the cross-products of the designs reused.

        Parameters
        ----------
        y : array_like
            One finite value per row of the model frame (the rows kept after dropping
            missing values), on the scale of the formula's response.

        Raises
        ------
        ValueError
            If ``y`` has the wrong length, is not finite, or is constant (without an offset).
        """
        values = np.asarray(y, dtype=float).reshape(-1)
        if values.shape[0] != self.frame.n:
            raise ValueError(f"the new response has {values.shape[0]} values; the model has "
                             f"{self.frame.n} rows")
        if not np.isfinite(values).all():
            raise ValueError("the new response has infinite or undefined values")
        if self.frame.offset is None:
            check_response_varies(values, self.frame.response_name)
        model = type(self).__new__(type(self))
        model._assign(dataclasses.replace(self.frame, y=values), self.design, self.data, self.data_name,
                      self.weights_label, self.offset_label)
        return model

    def with_formula(self, formula: str) -> LinearMixedModel:
        """The model of another formula on the same data, weights and offset (lme4's
        ``update(fit, formula)`` before refitting).

        Raises
        ------
        ValueError
            If the model has no data (built from a model frame) or its weights or ``offset=``
            argument were given as values rather than column names.
        """
        if self.data is None:
            raise ValueError("a model built from a model frame has no data to build another formula on")
        offset_argument = self.frame.offset is not None and not self.frame.parsed.offsets
        if (self.frame.weights is not None and self.weights_label is None) or (
                offset_argument and self.offset_label is None):
            raise ValueError("a model with another formula needs the weights and offset given as column "
                             "names of the data")
        return type(self)(formula, self.data, self.weights_label, self.offset_label, data_name=self.data_name)

    def fit(self, REML: bool = True, *, start: Sequence[float] | None = None,
            optimizer: str | None = None) -> LmerResult:
        """Minimise the profiled deviance :math:`d(\\theta)` (the REML criterion when ``REML``)
        over :math:`\\theta \\ge \\ell`, from lme4's start values unless ``start`` is given.
        When the optimizer reports success but lme4's gradient check fails, it is restarted from
        where it stopped (at most :data:`MAX_RESTARTS` times, :mod:`mlmtools.lmm.optimizer`).

        Parameters
        ----------
        REML, start, optimizer
            As in :func:`lmer`.

        Returns
        -------
        ~mlmtools.lmm.result.LmerResult

        Warns
        -----
        SingularFitWarning, ConvergenceWarning
            As :func:`lmer` describes.
        """
        REML = _check_reml(REML)
        problem, frame = self.problem, self.frame
        theta0 = start_theta(problem, frame) if start is None else np.asarray(start, dtype=float)
        objective = deviance_function(problem, REML)
        with single_blas_thread(suits_one_thread(problem)):
            summary = optimize_theta(objective, theta0, problem.lower, REML=REML, optimizer=optimizer)
            state, derivatives, message = self._checked_state(objective, summary)
            for _ in range(MAX_RESTARTS):
                # the optimizer says it converged but the gradient check fails: it stopped short,
                # so polish from there, keeping the new point only if its criterion is lower
                if message is None or not summary.converged:
                    break
                polished = restart_from_optimum(objective, summary)
                if polished.fmin >= summary.fmin:
                    break
                summary = polished
                state, derivatives, message = self._checked_state(objective, summary)
        if message is not None:
            summary = dataclasses.replace(summary, messages=[*summary.messages, message], converged=False)
            state = dataclasses.replace(state, optinfo=summary)
        if not summary.converged:
            warnings.warn("the optimizer did not converge: " + "; ".join(summary.messages),
                          ConvergenceWarning, stacklevel=user_stacklevel())
        fit = LmerResult(self, state, derivatives)
        if fit.is_singular:
            warnings.warn("boundary (singular) fit: see help('isSingular')", SingularFitWarning,
                          stacklevel=user_stacklevel())
        return fit

    def _checked_state(self, objective: Callable[[np.ndarray], float], summary: OptSummary
                       ) -> tuple[LmmFitState, ThetaDerivatives | None, str | None]:
        """The fit state at the optimizer's stopping point, the exact derivatives over theta
        there (None where they are not available) and lme4's gradient check's message."""
        state = lmm_fit_state(self.frame, self.problem, summary)
        derivatives = exact = None
        if analytic_available(self.problem, state.solution.theta):
            derivatives = theta_derivatives(self.problem, state.solution)
            exact = profiled_derivatives(self.problem, state.solution, derivatives)
        return state, derivatives, gradient_check(objective, summary, derivatives=exact)

    def refit(self, y: Sequence[float] | np.ndarray, REML: bool = True, *,
              start: Sequence[float] | None = None, optimizer: str | None = None) -> LmerResult:
        """Fit the model to a new response (MixedModels.jl's ``refit!``): :meth:`fit` of
        :meth:`with_response`, which reuses the model frame and the designs' cross-products.

        Parameters
        ----------
        y : array_like
            The new response, one value per row of the model frame.
        REML, start, optimizer
            As in :meth:`fit` (lme4's start values for the new response by default).
        """
        return self.with_response(y).fit(REML, start=start, optimizer=optimizer)

    def __repr__(self) -> str:
        return (f"<LinearMixedModel {self.frame.formula!r}: {self.frame.n} observations, "
                f"{self.problem.p} fixed effects, {len(self.problem.terms)} random-effects terms>")


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, weights: Any = None,
         offset: Any = None, *, data_name: str = "data", start: Sequence[float] | None = None,
         optimizer: str | None = None, contrasts: Mapping[str, Any] | None = None) -> LmerResult:
    """Fit a linear mixed model with lme4's formula syntax.

    The model is :math:`y = X\\beta + Zb + o + \\varepsilon`, with
    :math:`b \\sim N(0, \\sigma^2\\Lambda_\\theta\\Lambda_\\theta^\\top)` and
    :math:`\\varepsilon \\sim N(0, \\sigma^2 W^{-1})`; :math:`\\theta` is estimated by
    minimising the profiled REML criterion (or ML deviance), then :math:`\\beta`,
    :math:`\\sigma` and the conditional modes :math:`\\hat b` follow in closed form
    (see :mod:`mlmtools.lmm.pls`). The same as
    ``LinearMixedModel(formula, data, weights, offset, data_name=data_name).fit(REML)``.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (1 + Days | Subject)"``.
    data : pandas.DataFrame
        The data (a polars or pyarrow frame is converted, see :mod:`mlmtools.frame.inputs`).
    REML : bool
        Fit by REML (default) or maximum likelihood.
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    data_name : str
        Name shown after ``Data:`` in printed output.
    start : sequence of float, optional
        Start values for theta (lme4's start values by default).
    optimizer : {"nloptwrap", "cobyqa"}, optional
        ``"nloptwrap"`` (NLopt BOBYQA with lme4's settings; default when ``nlopt`` is
        installed) or SciPy's ``"cobyqa"``.
    contrasts : dict, optional
        R's ``contrasts``: e.g. ``{"recipe": "contr.sum"}`` (see :class:`LinearMixedModel`).

    Returns
    -------
    ~mlmtools.lmm.result.LmerResult

    Warns
    -----
    SingularFitWarning
        If a template diagonal is below 1e-4 (``isSingular``).
    ConvergenceWarning
        If the optimizer or lme4's gradient check reports a problem.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.rstyle import format_number, print_named_vector
    >>> fit = lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy())
    >>> print(print_named_vector(fit.fixef))
    (Intercept)        Days
      251.40510    10.46729
    >>> print(format_number(fit.reml_criterion))
    1743.628

    R's transformations and codings in the formula (parsed, never evaluated): a log response, a raw
    polynomial, and a text factor with sum contrasts.

    >>> data = sleepstudy().assign(week=lambda d: (d["Days"] // 5).map({0: "first", 1: "second"}))
    >>> fit = lmer("log10(Reaction) ~ poly(Days, 2, raw = TRUE) + week + (1 | Subject)", data,
    ...            contrasts={"week": "contr.sum"})
    >>> print(print_named_vector(fit.fixef, digits=4))
                   (Intercept) poly(Days, 2, raw = TRUE)1
                     2.4095179                  0.0114785
    poly(Days, 2, raw = TRUE)2                      week1
                     0.0002212                 -0.0038038
    """
    _check_reml(REML)
    model = LinearMixedModel(formula, data, weights, offset, data_name=data_name, contrasts=contrasts)
    return model.fit(REML, start=start, optimizer=optimizer)
