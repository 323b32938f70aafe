"""Generalized estimating equations, reproducing R's ``geepack::geeglm``.

================  =====================================================================
module            holds
================  =====================================================================
``correlation``   working correlations (independence, exchangeable, AR(1), unstructured)
``estimation``    geepack's estimation loop
``sandwich``      geepack's sandwich covariance (coefficients, scale, correlation)
``result``        :class:`GeeFit` and its fit state
``model``         :class:`GeeModel` (fit, refit) and :func:`geeglm`
================  =====================================================================

May import: :mod:`mlmtools.glmm.families` (the families shared with glmer) and every layer
below :mod:`mlmtools.glmm`.
"""

from mlmtools.gee.model import GeeModel, geeglm
from mlmtools.gee.result import GeeFit
from mlmtools.rstyle.summaries import GeeSummary

__all__ = ["GeeFit", "GeeModel", "GeeSummary", "geeglm"]
