"""Compatibility path for the chapters: the balanced fast path lives in :mod:`mlmtools.simulate`.

``from mlmtools.balanced import ...`` keeps working; the names are re-exported unchanged from
:mod:`mlmtools.simulate.balanced`, :mod:`mlmtools.simulate.cluster_means` and
:mod:`mlmtools.simulate.trials`.
"""

from mlmtools.simulate.balanced import BalancedFit, balanced_type1_pvalues, fit_balanced_random_intercept
from mlmtools.simulate.cluster_means import BalancedOLS, fit_balanced_ols
from mlmtools.simulate.trials import draw_balanced_trials

__all__ = [
    "BalancedFit",
    "BalancedOLS",
    "balanced_type1_pvalues",
    "draw_balanced_trials",
    "fit_balanced_ols",
    "fit_balanced_random_intercept",
]
