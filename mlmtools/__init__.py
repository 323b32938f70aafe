"""mlmtools: multilevel models in Python, with the numbers R prints.

The companion package of the course *Multilevel Models in Python*. It reproduces
lme4 and lmerTest (linear mixed models with Satterthwaite inference), geepack (GEE)
and R's random number generator, so the course prints the same numbers as the R
lecture it follows.

Public API (a table of contents; each name is loaded from its module on first use):

=================  ======================  ===============================================
name               module                  what it is
=================  ======================  ===============================================
RRandom            mlmtools.rrandom        R's default random number generator, exactly
datasets           mlmtools.datasets       the course's data sets (sleepstudy, prevention)
design             mlmtools.design         ICC, design effect, effective sample size
rformat            mlmtools.rformat        numbers and tables printed by R's rules
plotting           mlmtools.plotting       the course's figure style (colour-blind safe)
=================  ======================  ===============================================
"""

from __future__ import annotations

import importlib
from typing import Any

from mlmtools._version import __version__

_EXPORTS: dict[str, str] = {
    "RRandom": "mlmtools.rrandom",
}
_SUBMODULES = ("datasets", "design", "plotting", "rformat")

__all__ = ["__version__", *_EXPORTS, *_SUBMODULES]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        value = getattr(importlib.import_module(_EXPORTS[name]), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f"mlmtools.{name}")
    else:
        raise AttributeError(f"module 'mlmtools' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
