"""Linear mixed models: the profiled deviance, its optimizer, the fitted model (lme4, lmerTest).

Stages 3-5 of the pipeline ``formula -> model frame -> deviance -> optimizer -> result``.

==================  =================================================================
module              holds
==================  =================================================================
``crossed_design``  the theta-free structure of several terms, analysed once for the blocked factor
``problem``         the parameterization and the cross-products (``mkReTrms``)
``level_blocks``    the first term's factor, level by level, and the criterion from its pieces
``blocked_factor``  the blocked Cholesky factor for crossed designs at scale
``pls``             penalized least squares and the profiled deviance (``mkLmerDevfun``)
``blocked_traces``  exact derivatives over theta through the blocked factor
``derivatives``     exact derivatives over theta and over (theta, sigma)
``optimizer``       BOBYQA with lme4's settings, boundary and gradient checks
``state``           the read-only fit-state record
``result_api``      statsmodels' names as aliases of R's, shared by every result class
``influence``       hat values and Cook's distances (``hatvalues``, ``cooks.distance``)
``mixed_result``    what lmer and glmer results share
``result``          :class:`LmerResult` (lmerTest's ``lmerModLmerTest``)
``intervals``       Wald and profile-likelihood confidence intervals (``confint``)
``profile_traces``  the profiles behind the intervals, for zeta plots (``profile``)
``model``           :class:`LinearMixedModel` (fit, refit) and :func:`lmer`
==================  =================================================================

May import: :mod:`mlmtools.inference`, :mod:`mlmtools.frame`, :mod:`mlmtools.formula`,
:mod:`mlmtools.rstyle` and the bottom layer.
"""

from mlmtools.lmm.intervals import confint
from mlmtools.lmm.model import LinearMixedModel, lmer
from mlmtools.lmm.result import LmerResult
from mlmtools.lmm.state import LmmFitState

__all__ = ["LinearMixedModel", "LmerResult", "LmmFitState", "confint", "lmer"]
