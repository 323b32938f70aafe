"""Compatibility path for the chapters: generalized linear mixed models are in :mod:`mlmtools.glmm`.

``from mlmtools.glmer import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.glmm import GeneralizedLinearMixedModel, GlmerResult, glmer

__all__ = [
    "GeneralizedLinearMixedModel",
    "GlmerResult",
    "glmer",
]
