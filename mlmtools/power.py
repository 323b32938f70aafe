"""Compatibility path for the chapters: the power of clustered designs is in :mod:`mlmtools.simulate.power`.

``from mlmtools.power import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.simulate.power import (
    BACKENDS,
    METHODS,
    PowerResult,
    PowerSettings,
    power_analytic,
    power_curve,
    power_simulation,
)

__all__ = [
    "BACKENDS",
    "METHODS",
    "PowerResult",
    "PowerSettings",
    "power_analytic",
    "power_curve",
    "power_simulation",
]
