"""mlmtools: multilevel models in Python, with the numbers R prints.

The companion package of the course *Multilevel Models in Python*. It reproduces
lme4 and lmerTest (linear mixed models with Satterthwaite inference), geepack (GEE)
and R's random number generator, so the course prints the same numbers as the R
lecture it follows.

Public API (a table of contents; each name is loaded from its module on first use):

=================  ======================  ===============================================
name               module                  what it is
=================  ======================  ===============================================
lmer               mlmtools.lmer           linear mixed models: lme4 syntax, lmerTest inference
anova              mlmtools.anova          likelihood-ratio tests; type III F tables
contest            mlmtools.satterthwaite  t and F tests of contrasts, Satterthwaite df
tidy               mlmtools.tidy           broom.mixed-style coefficient tables
geeglm             mlmtools.gee            GEE as geepack fits it, with sandwich SEs
glmer              mlmtools.glmer          binomial and Poisson mixed models (Laplace, AGQ)
simulate_type1     mlmtools.simulation     the lecture's type I error study
RRandom            mlmtools.rrandom        R's default random number generator, exactly
datasets           mlmtools.datasets       the course's data sets (sleepstudy, prevention)
design             mlmtools.design         ICC, design effect, effective sample size
rformat            mlmtools.rformat        numbers and tables printed by R's rules
plotting           mlmtools.plotting       the course's figure style (colour-blind safe)
power              mlmtools.power          power of clustered designs, analytic and simulated
=================  ======================  ===============================================
"""

from __future__ import annotations

import importlib
from typing import Any

from mlmtools._version import __version__

_EXPORTS: dict[str, str] = {
    "lmer": "mlmtools.lmer",
    "anova": "mlmtools.anova",
    "contest": "mlmtools.satterthwaite",
    "tidy": "mlmtools.tidy",
    "geeglm": "mlmtools.gee",
    "glmer": "mlmtools.glmer",
    "simulate_type1": "mlmtools.simulation",
    "RRandom": "mlmtools.rrandom",
    "SingularFitWarning": "mlmtools.exceptions",
    "ConvergenceWarning": "mlmtools.exceptions",
    "MissingRowsWarning": "mlmtools.exceptions",
    "RankDeficiencyWarning": "mlmtools.exceptions",
    "FormulaError": "mlmtools.exceptions",
}
_SUBMODULES = ("datasets", "design", "plotting", "power", "rformat")

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
