"""Linear mixed models: the profiled deviance, its optimizer, the fitted model (lme4, lmerTest).

Stages 3-5 of the pipeline ``formula -> model frame -> deviance -> optimizer -> result``.

================  ===================================================================
module            holds
================  ===================================================================
``problem``       the parameterization and the cross-products (``mkReTrms``)
``pls``           penalized least squares and the profiled deviance (``mkLmerDevfun``)
``derivatives``   exact derivatives over theta and over (theta, sigma)
``optimizer``     BOBYQA with lme4's settings, boundary and gradient checks
``state``         the read-only fit-state record
``mixed_result``  what lmer and glmer results share
``result``        :class:`LmerResult` (lmerTest's ``lmerModLmerTest``)
``intervals``     Wald and profile-likelihood confidence intervals (``confint``)
``model``         :class:`LinearMixedModel` (fit, refit) and :func:`lmer`
================  ===================================================================

May import: :mod:`mlmtools.inference`, :mod:`mlmtools.frame`, :mod:`mlmtools.formula`,
:mod:`mlmtools.rstyle` and the bottom layer.
"""

from mlmtools.lmm.intervals import confint
from mlmtools.lmm.model import LinearMixedModel, lmer
from mlmtools.lmm.result import LmerResult
from mlmtools.lmm.state import LmmFitState

__all__ = ["LinearMixedModel", "LmerResult", "LmmFitState", "confint", "lmer"]
