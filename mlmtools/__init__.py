"""mlmtools: multilevel models in Python, with the numbers R prints.

The companion package of the course *Multilevel Models in Python*. It reproduces
lme4 and lmerTest (linear mixed models with Satterthwaite inference), geepack (GEE)
and R's random number generator, so the course prints the same numbers as the R
lecture it follows.

Public API (a table of contents; functions are imported here, submodules on first use):

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
from mlmtools.anova import anova
from mlmtools.exceptions import (
    ConvergenceWarning,
    FormulaError,
    MissingRowsWarning,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from mlmtools.gee import geeglm
from mlmtools.glmer import glmer
from mlmtools.lmer import lmer
from mlmtools.rrandom import RRandom
from mlmtools.satterthwaite import contest
from mlmtools.simulation import simulate_type1
from mlmtools.tidy import tidy

_SUBMODULES = ("datasets", "design", "plotting", "power", "rformat")

__all__ = [
    "__version__",
    "lmer", "anova", "contest", "tidy", "geeglm", "glmer", "simulate_type1", "RRandom",
    "SingularFitWarning", "ConvergenceWarning", "MissingRowsWarning", "RankDeficiencyWarning", "FormulaError",
    *_SUBMODULES,
]


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        module = importlib.import_module(f"mlmtools.{name}")
        globals()[name] = module
        return module
    raise AttributeError(f"module 'mlmtools' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
