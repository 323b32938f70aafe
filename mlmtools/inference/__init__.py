"""Inference on fitted models: Satterthwaite's df, contrast tests, ANOVA tables, Wald limits.

===================  ================================================================
module               holds
===================  ================================================================
``numderiv``         numDeriv's Richardson derivatives and lme4's ``deriv12``
``satterthwaite``    lmerTest's stored quantities and Satterthwaite's df
``contrasts``        t and F tests of contrasts (lmerTest's ``contest``)
``anova_tables``     likelihood-ratio and type III ANOVA tables (``anova``)
``wald``             Wald confidence limits
===================  ================================================================

The tests read a fit through small protocols (its estimates, its state, its
Satterthwaite quantities, its ML refit), never through a model class, so this layer sits
below the models that use it.

May import: :mod:`mlmtools.frame`, :mod:`mlmtools.formula`, :mod:`mlmtools.rstyle` and the
bottom layer; never a model subpackage.
"""

from mlmtools.inference.anova_tables import anova
from mlmtools.inference.contrasts import contest

__all__ = ["anova", "contest"]
