"""Generalized linear mixed models you can fit and refit: :class:`GeneralizedLinearMixedModel`, :func:`glmer`.

The model is :math:`g(E[y \\mid b]) = X\\beta + Zb + o` with :math:`b = \\Lambda_\\theta u`,
:math:`u \\sim N(0, I)` for a family and link of :mod:`mlmtools.glmm.families` (binomial with
the logit, probit or complementary log-log link, Poisson with the log, square-root or identity
link, Gamma, and Gaussian with a non-identity link; the parameterization is that of
:mod:`mlmtools.lmm.problem`, without :math:`\\sigma`). :meth:`GeneralizedLinearMixedModel.fit`
(and :func:`glmer`) fit it as lme4's ``glmer()`` does, in the two stages of
:mod:`mlmtools.glmm.stages`, with standard errors of :math:`\\hat\\beta` from the
finite-difference Hessian :math:`H` of the deviance: :math:`V = 2H^{-1}` restricted to the
:math:`\\beta` block (lme4's ``vcov.merMod``).

A binomial response may be a factor (a pandas categorical or a text column, whose levels are
sorted): as in R, the first level is a failure and every other level a success.

Building a :class:`GeneralizedLinearMixedModel` evaluates the formula and the random-effects
design once; :meth:`~GeneralizedLinearMixedModel.refit` fits a new response with them and
:meth:`~GeneralizedLinearMixedModel.with_family` gives the same design with another family.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmtools._blas import single_blas_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.formula import Name, parse_formula
from mlmtools.frame import ModelFrame, as_pandas, build_model
from mlmtools.frame.columns import column_kind
from mlmtools.glmm.agq import MAX_NODES
from mlmtools.glmm.families import Binomial, Family, Gaussian
from mlmtools.glmm.family_names import get_family
from mlmtools.glmm.pirls import GlmmData
from mlmtools.glmm.result import GlmerResult, GlmmFitState, fixed_effects_vcov, residual_scale
from mlmtools.glmm.stages import StageOutcome, run_stages
from mlmtools.lmm.pls import lambda_times
from mlmtools.lmm.problem import LmmProblem, make_problem


def _rows_of(values: Any, data: pd.DataFrame, frame: ModelFrame) -> np.ndarray:
    """A weights argument (column name or per-row values) restricted to the rows kept."""
    if isinstance(values, str):
        column: np.ndarray = data.loc[frame.row_index, values].to_numpy(dtype=float)
        return column
    keep = data.index.isin(frame.row_index)
    return np.asarray(values, dtype=float).reshape(-1)[keep]


def _binomial_trials(frame: ModelFrame, data: pd.DataFrame, weights: Any) -> np.ndarray | None:
    """Trials of a ``cbind(successes, failures)`` response (frame weights divided by the prior
    weights), None for other responses."""
    if frame.response_kind != "cbind" or frame.weights is None:
        return None
    if weights is None:
        return frame.weights.copy()
    prior = _rows_of(weights, data, frame)
    trials: np.ndarray = np.divide(frame.weights, prior, out=np.zeros_like(frame.weights), where=prior > 0)
    return trials


def _check_nagq(nAGQ: Any, problem: LmmProblem) -> int:
    if isinstance(nAGQ, bool) or not isinstance(nAGQ, (int, np.integer)) or not 0 <= nAGQ <= MAX_NODES:
        raise ValueError(f"nAGQ must be an integer between 0 and {MAX_NODES}, got {nAGQ!r}")
    if nAGQ > 1 and (len(problem.terms) != 1 or problem.terms[0].k != 1):
        raise ValueError("nAGQ > 1 is only available for models with a single, scalar "
                         "random-effects term, e.g. (1 | g); use nAGQ=1 (Laplace)")
    return int(nAGQ)


def code_factor_response(formula: str, data: pd.DataFrame, family: Family) -> pd.DataFrame:
    """R's binomial rule for a factor response: the first level is a failure (0), every other
    level a success (1).

    A pandas categorical keeps its categories' order; a text column is a factor with its
    sorted values as levels (as every text column is in ``mlmtools``; lme4 itself refuses a
    character response). Missing values stay missing. Other responses, and other families,
    leave ``data`` as it is.

    Examples
    --------
    >>> import pandas as pd
    >>> from mlmtools.glmm.families import Binomial
    >>> data = pd.DataFrame({"answer": ["yes", "no", "yes"], "g": ["a", "a", "b"]})
    >>> code_factor_response("answer ~ 1 + (1 | g)", data, Binomial())["answer"].tolist()
    [1.0, 0.0, 1.0]
    """
    response = parse_formula(formula).response
    if not isinstance(family, Binomial) or not isinstance(response, Name) or response.name not in data:
        return data
    column = data[response.name]
    if column_kind(column) != "categorical":
        return data
    factor = column if isinstance(column.dtype, pd.CategoricalDtype) else column.astype("category")
    coded = np.where(factor.cat.codes.to_numpy() > 0, 1.0, 0.0)
    coded[factor.isna().to_numpy()] = np.nan
    return data.assign(**{response.name: coded})


class GeneralizedLinearMixedModel:
    """A generalized linear mixed model built from a formula and data, not yet fitted.

    Building it evaluates the formula on the data (:func:`mlmtools.frame.model_frame.build_model`), checks
    the response against the family and sets up the random-effects design; fitting then runs
    the two stages of :mod:`mlmtools.glmm.stages`.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"y ~ x + (1 | g)"`` or ``"cbind(s, f) ~ x + (1 | g)"``.
    data : pandas.DataFrame
    family : str or Family
        As in :func:`glmer`.
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    link : str, optional
        The link, with ``family`` given by name (as in :func:`glmer`).
    data_name : str
        Name shown after ``Data:`` in printed output.
    contrasts : dict, optional
        R's ``contrasts``, e.g. ``{"recipe": "contr.sum"}`` (see :func:`mlmtools.frame.model_frame.build_model`).

    Attributes
    ----------
    data : pandas.DataFrame
    data_name : str
    weights_label, offset_label : str or None
        The ``weights`` and ``offset`` arguments when they named a column.
    family : ~mlmtools.glmm.families.Family
    frame : ~mlmtools.frame.model_frame.ModelFrame
    problem : ~mlmtools.lmm.problem.LmmProblem
        The random-effects layout and bounds (its response part is not used).
    glmm_data : ~mlmtools.glmm.pirls.GlmmData
        Response, designs, prior weights, offset and family, as PIRLS uses them.
    """

    def __init__(self, formula: str, data: pd.DataFrame, family: str | Family = "binomial",
                 weights: Any = None, offset: Any = None, *, link: str | None = None, data_name: str = "data",
                 contrasts: Mapping[str, Any] | None = None):
        data = as_pandas(data)
        family_object = get_family(family, link=link)
        if isinstance(family_object, Gaussian) and family_object.link == "identity":
            raise ValueError("family 'gaussian' with the identity link is a linear mixed model: fit it "
                             "with lmer (glmer takes the gaussian family with the log or inverse link)")
        coded = code_factor_response(formula, data, family_object) if isinstance(data, pd.DataFrame) else data
        frame = build_model(formula, coded, weights=weights, offset=offset, allow_n_levels=True,
                            contrasts=contrasts)
        self._assign(frame, family_object, _binomial_trials(frame, data, weights),
                     make_problem(dataclasses.replace(frame, weights=None)), data, data_name,
                     weights if isinstance(weights, str) else None, offset if isinstance(offset, str) else None)

    def _assign(self, frame: ModelFrame, family: Family, trials: np.ndarray | None, problem: LmmProblem,
                data: pd.DataFrame, data_name: str, weights_label: str | None, offset_label: str | None) -> None:
        """Check the response against the family and set every attribute."""
        counts = trials is not None
        check_weights = trials if trials is not None else (np.ones(frame.n) if frame.weights is None
                                                           else frame.weights)
        family.validate(np.asarray(frame.y, dtype=float), check_weights, frame.response_name, counts)
        n = frame.n
        self.data = data
        self.data_name = data_name
        self.weights_label = weights_label
        self.offset_label = offset_label
        self.family = family
        self.frame = frame
        self.problem = problem
        self.glmm_data = GlmmData(
            y=np.asarray(frame.y, dtype=float), X=np.asarray(frame.X, dtype=float), terms=problem.terms,
            term_codes=problem.term_codes, term_matrices=problem.term_matrices,
            weights=np.ones(n) if frame.weights is None else np.asarray(frame.weights, dtype=float),
            offset=np.zeros(n) if frame.offset is None else np.asarray(frame.offset, dtype=float),
            family=family, trials=trials,
        )

    def _copy_with(self, frame: ModelFrame, family: Family) -> GeneralizedLinearMixedModel:
        model = type(self).__new__(type(self))
        model._assign(frame, family, self.glmm_data.trials, self.problem, self.data, self.data_name,
                      self.weights_label, self.offset_label)
        return model

    def with_response(self, y: Sequence[float] | np.ndarray) -> GeneralizedLinearMixedModel:
        """The same model with a new response (on the model frame's scale: proportions for a
        ``cbind`` response, whose trials are kept), checked against the family."""
        values = np.asarray(y, dtype=float).reshape(-1)
        if values.shape[0] != self.frame.n:
            raise ValueError(f"the new response has {values.shape[0]} values; the model has "
                             f"{self.frame.n} rows")
        return self._copy_with(dataclasses.replace(self.frame, y=values), self.family)

    def with_family(self, family: Family) -> GeneralizedLinearMixedModel:
        """The same design and response with another family (checked against the response)."""
        return self._copy_with(self.frame, get_family(family))

    def fit(self, nAGQ: int = 1) -> GlmerResult:
        """Fit the model (the two stages of :mod:`mlmtools.glmm.stages`).

        Parameters
        ----------
        nAGQ : int
            0, 1 (Laplace, default) or the number of quadrature nodes (at most 100).

        Returns
        -------
        ~mlmtools.glmm.result.GlmerResult
        """
        nAGQ = _check_nagq(nAGQ, self.problem)
        with single_blas_thread():
            return self.result_of(run_stages(self.glmm_data, self.problem, nAGQ))

    def result_of(self, outcome: StageOutcome) -> GlmerResult:
        """The fitted model from where the optimization stages ended (warning, as lme4 does,
        when they did not converge or the fit is singular)."""
        optinfo, mode, problem, data = outcome.optinfo, outcome.mode, self.problem, self.glmm_data
        state = GlmmFitState(
            frame=self.frame, problem=problem, optinfo=optinfo, beta=outcome.beta,
            b=lambda_times(problem, optinfo.final, mode.u),
            vcov=fixed_effects_vcov(data, optinfo.final, mode, outcome.hessian, problem.n_theta,
                                    residual_scale(data, mode)),
            data=data, mode=mode, objective=optinfo.fmin, nAGQ=outcome.deviance.nAGQ, hessian=outcome.hessian,
            start_linear_predictor=outcome.deviance.start)
        if not optinfo.converged:
            warnings.warn("the optimizer did not converge: " + "; ".join(optinfo.messages), ConvergenceWarning,
                          stacklevel=user_stacklevel())
        fit = GlmerResult(self, state)
        if fit.is_singular:
            warnings.warn("boundary (singular) fit: see help('isSingular')", SingularFitWarning,
                          stacklevel=user_stacklevel())
        return fit

    def refit(self, y: Sequence[float] | np.ndarray, nAGQ: int = 1) -> GlmerResult:
        """Fit the model to a new response: :meth:`fit` of :meth:`with_response`."""
        return self.with_response(y).fit(nAGQ)

    def __repr__(self) -> str:
        return (f"<GeneralizedLinearMixedModel {self.frame.formula!r}: {self.family.name}, "
                f"{self.frame.n} observations>")


def glmer(formula: str, data: pd.DataFrame, family: str | Family = "binomial", nAGQ: int = 1,
          weights: Any = None, offset: Any = None, *, link: str | None = None,
          data_name: str = "data", contrasts: Mapping[str, Any] | None = None) -> GlmerResult:
    """Fit a generalized linear mixed model with lme4's formula syntax (lme4's ``glmer``).

    The model is :math:`g(E[y\\mid b]) = X\\beta + Zb + o`, :math:`b = \\Lambda_\\theta u`,
    :math:`u \\sim N(0, I)`. Parameters maximise the Laplace approximation of the likelihood

    .. math:: -2\\ell(\\theta, \\beta) \\approx -2\\sum_i\\log p(y_i\\mid\\tilde\\mu_i)
        + \\lVert\\tilde u\\rVert^2 + \\log|L|^2

    (``nAGQ=1``), or its adaptive Gauss-Hermite refinement with ``nAGQ`` nodes per level
    (``nAGQ > 1``, one scalar random-effects term only); ``nAGQ=0`` stops after lme4's first
    stage (beta from PIRLS). See :mod:`mlmtools.glmm.pirls` and :mod:`mlmtools.glmm.agq`. The same as
    ``GeneralizedLinearMixedModel(formula, data, family, weights, offset, link=link).fit(nAGQ)``.
    For families with a dispersion (Gamma, Gaussian) the ``-2 log p`` term profiles it from the
    deviance, as lme4 does, and :math:`\\sigma^2` is the penalized weighted residual sum of
    squares over :math:`n`.

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"y ~ x + (1 | g)"`` or ``"cbind(s, f) ~ x + (1 | g)"``.
    data : pandas.DataFrame
    family : str or Family
        ``"binomial"`` (0/1 responses, a factor, ``cbind(successes, failures)``, or
        proportions with ``weights`` = trials), ``"poisson"``, ``"gamma"`` or ``"gaussian"``,
        with the link given by ``link``; or a family object such as
        ``Binomial(link="probit")`` or ``NegativeBinomial(theta)`` (see
        :mod:`mlmtools.glmm.families`; :func:`~mlmtools.glmm.negative_binomial.glmer_nb`
        estimates the negative binomial theta).
    nAGQ : int
        0, 1 (Laplace, default) or the number of quadrature nodes (at most 100).
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    link : str, optional
        R's ``binomial(link = "probit")`` is ``family="binomial", link="probit"``; the
        family's canonical link when None.
    data_name : str
        Name shown after ``Data:`` in printed output.
    contrasts : dict, optional
        R's ``contrasts``, e.g. ``{"recipe": "contr.sum"}`` (see :func:`mlmtools.frame.model_frame.build_model`).

    Returns
    -------
    ~mlmtools.glmm.result.GlmerResult

    Raises
    ------
    ValueError
        Unknown family or a link the family does not have; the gaussian family with the
        identity link (a linear mixed model: use lmer); a binomial response outside [0, 1] or
        with non-integer successes; negative or non-integer counts; a Gamma response that is
        not positive; ``nAGQ > 1`` with more than one random-effects term or a vector-valued
        term.

    Warns
    -----
    ConvergenceWarning
        If an optimizer stage fails or lme4's gradient check does.
    SingularFitWarning
        If a template diagonal is below 1e-4 (``isSingular``).

    Examples
    --------
    A binary outcome made from the sleep study: was the reaction time above 300 ms?

    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.rstyle import print_named_vector
    >>> data = sleepstudy()
    >>> data["slow"] = (data["Reaction"] > 300).astype(int)
    >>> fit = glmer("slow ~ Days + (1 | Subject)", data, family="binomial")
    >>> print(print_named_vector(fit.fixef, digits=4))
    (Intercept)        Days
        -3.1955      0.5852
    >>> probit = glmer("slow ~ Days + (1 | Subject)", data, family="binomial", link="probit")
    >>> probit.family
    binomial(probit)
    """
    return GeneralizedLinearMixedModel(formula, data, family, weights, offset, link=link,
                                       data_name=data_name, contrasts=contrasts).fit(nAGQ)
