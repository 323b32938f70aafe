"""Inference on fitted models: Satterthwaite's df, contrast tests, ANOVA tables, Wald limits.

========================  ================================================================
module                    holds
========================  ================================================================
``numderiv``              numDeriv's Richardson derivatives and lme4's ``deriv12``
``satterthwaite``         lmerTest's stored quantities and Satterthwaite's df
``kenward_roger``         Kenward and Roger's adjusted covariance, df and F (pbkrtest)
``contrasts``             t and F tests of contrasts (lmerTest's ``contest``)
``anova_contrasts``       type I and type II contrasts (Doolittle)
``anova_tables``          likelihood-ratio tables and F tables of type I, II, III (``anova``)
``term_deletion``         lmerTest's ``drop1``
``random_effects_tests``  lmerTest's ``ranova``
``least_squares_means``   lmerTest's ``ls_means`` and ``difflsmeans``
``wald``                  Wald limits, R's interval labels, fixed-part predictions with SEs
========================  ================================================================

The tests read a fit through small protocols (its estimates, its state, its
Satterthwaite quantities, its ML refit), never through a model class, so this layer sits
below the models that use it.

May import: :mod:`mlmtools.frame`, :mod:`mlmtools.formula`, :mod:`mlmtools.rstyle` and the
bottom layer; never a model subpackage.
"""

from mlmtools.inference.anova_tables import anova
from mlmtools.inference.contrasts import contest
from mlmtools.inference.least_squares_means import difflsmeans, ls_means
from mlmtools.inference.random_effects_tests import ranova
from mlmtools.inference.term_deletion import drop1

__all__ = ["anova", "contest", "difflsmeans", "drop1", "ls_means", "ranova"]
