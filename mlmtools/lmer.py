"""Compatibility path for the chapters: linear mixed models are in :mod:`mlmtools.lmm`.

``from mlmtools.lmer import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.lmm import LinearMixedModel, LmerResult, lmer

__all__ = [
    "LinearMixedModel",
    "LmerResult",
    "lmer",
]
