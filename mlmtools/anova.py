"""Compatibility path for the chapters: the ANOVA tables are in :mod:`mlmtools.inference.anova_tables`.

``from mlmtools.anova import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.inference.anova_tables import anova, compare_models, type3_contrasts
from mlmtools.rstyle.summaries import AnovaTable

__all__ = [
    "AnovaTable",
    "anova",
    "compare_models",
    "type3_contrasts",
]
