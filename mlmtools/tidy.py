"""Compatibility path for the chapters: broom's ``tidy`` is in :mod:`mlmtools.broom`.

``from mlmtools.tidy import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.broom import tidy

__all__ = [
    "tidy",
]
