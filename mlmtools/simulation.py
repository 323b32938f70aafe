"""Compatibility path for the chapters: the type I error study lives in :mod:`mlmtools.simulate`.

``from mlmtools.simulation import ...`` keeps working; the names are re-exported unchanged from
:mod:`mlmtools.simulate.type1` and the simulation core :mod:`mlmtools.simulate.trials`.
"""

from mlmtools.simulate.trials import check_cluster_design, draw_cluster_components, simulate_cluster_trial
from mlmtools.simulate.type1 import MixedPValues, mixed_treatment_pvalues, ols_treatment_pvalue, simulate_type1

__all__ = [
    "MixedPValues",
    "check_cluster_design",
    "draw_cluster_components",
    "mixed_treatment_pvalues",
    "ols_treatment_pvalue",
    "simulate_cluster_trial",
    "simulate_type1",
]
