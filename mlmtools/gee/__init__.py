"""Generalized estimating equations, reproducing R's ``geepack::geeglm``.

================  =====================================================================
module            holds
================  =====================================================================
``correlation``   working correlations (independence, exchangeable, AR(1), unstructured)
``layout``        clusters grouped by size; sums in cluster order
``estimation``    geepack's estimation loop
``sandwich``      geepack's sandwich covariance (coefficients, scale, correlation)
``jackknife``     geepack's jackknife covariances (``std_err`` "jack", "j1s", "fij")
``fitting``       one geepack fit on prepared data (loop, sandwich, jackknife)
``state``         :class:`GeeFitState`, what a fitted GEE holds
``intervals``     Wald intervals of coefficients and predictions
``wald_anova``    geepack's Wald tests: nested fits and sequential terms
``call_text``     R's text for the call and the formula
``result``        :class:`GeeFit`
``model``         :class:`GeeModel` (fit, refit) and :func:`geeglm`
================  =====================================================================

May import: :mod:`mlmtools.glmm.families` (the families shared with glmer) and every layer
below :mod:`mlmtools.glmm`.
"""

from mlmtools.gee.model import GeeModel, geeglm
from mlmtools.gee.result import GeeFit
from mlmtools.rstyle.summaries import GeeSummary

__all__ = ["GeeFit", "GeeModel", "GeeSummary", "geeglm"]
