"""Generalized linear mixed models: families, PIRLS, adaptive quadrature, the fitted model (lme4's glmer).

================  =====================================================================
module            holds
================  =====================================================================
``families``      response distributions and links (shared with GEE)
``pirls``         penalized IRLS and the Laplace deviance (``pwrssUpdate``)
``agq``           adaptive Gauss-Hermite quadrature
``simplex``       lme4's bounded Nelder-Mead (the second stage's optimizer)
``result``        :class:`GlmerResult` and its fit state
``model``         :class:`GeneralizedLinearMixedModel` (fit, refit) and :func:`glmer`
================  =====================================================================

May import: :mod:`mlmtools.lmm` (the cross-products, optimizer and shared result), and every
layer below it.
"""

from mlmtools.glmm.model import GeneralizedLinearMixedModel, glmer
from mlmtools.glmm.result import GlmerResult, GlmmFitState

__all__ = ["GeneralizedLinearMixedModel", "GlmerResult", "GlmmFitState", "glmer"]
