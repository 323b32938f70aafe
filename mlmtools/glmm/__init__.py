"""Generalized linear mixed models: families, PIRLS, adaptive quadrature, the fitted model (lme4's glmer).

=====================  =====================================================================
module                 holds
=====================  =====================================================================
``links``              link functions with lme4's and R's floating-point rules (shared with GEE)
``families``           response distributions with their links (shared with GEE)
``elimination``        the symbolic block elimination of the penalized system, once per model
``penalized_system``   :math:`Z\\Lambda` and the factor of :math:`\\Lambda'Z'WZ\\Lambda + I`
``pirls``              penalized IRLS and the Laplace deviance (``pwrssUpdate``)
``agq``                adaptive Gauss-Hermite quadrature
``simplex``            lme4's bounded Nelder-Mead (the second stage's optimizer)
``stages``             lme4's two optimization stages, derivatives and ``refit``
``intervals``          Wald and profile intervals, prediction intervals
``result``             :class:`GlmerResult` and its fit state
``model``              :class:`GeneralizedLinearMixedModel` (fit, refit) and :func:`glmer`
``negative_binomial``  :func:`glmer_nb` (lme4's ``glmer.nb``), MASS's ``theta.ml``, R's ``optimize``
=====================  =====================================================================

May import: :mod:`mlmtools.lmm` (the cross-products, optimizer and shared result), and every
layer below it.
"""

from mlmtools.glmm.families import Binomial, Gamma, Gaussian, NegativeBinomial, Poisson
from mlmtools.glmm.model import GeneralizedLinearMixedModel, glmer
from mlmtools.glmm.negative_binomial import glmer_nb
from mlmtools.glmm.result import GlmerResult, GlmmFitState

__all__ = ["Binomial", "Gamma", "Gaussian", "GeneralizedLinearMixedModel", "GlmerResult", "GlmmFitState",
           "NegativeBinomial", "Poisson", "glmer", "glmer_nb"]
