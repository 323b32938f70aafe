"""Compatibility path for the chapters: R's random number generator is in :mod:`mlmtools.simulate.rng`.

``from mlmtools.rrandom import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.simulate.rng import RRandom

__all__ = [
    "RRandom",
]
