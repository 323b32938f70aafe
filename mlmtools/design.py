"""Compatibility path for the chapters: the ICC, the design effect and the effective sample size
are in :mod:`mlmtools.simulate.clustering`.

``from mlmtools.design import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.simulate.clustering import design_effect, effective_n, icc, icc_from_f, se_inflation

__all__ = [
    "design_effect",
    "effective_n",
    "icc",
    "icc_from_f",
    "se_inflation",
]
