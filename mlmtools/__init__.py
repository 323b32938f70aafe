"""mlmtools: multilevel models in Python, with the numbers R prints.

The companion package of the course *Multilevel Models in Python*. It reproduces
lme4 and lmerTest (linear mixed models with Satterthwaite inference), geepack (GEE)
and R's random number generator, so the course prints the same numbers as the R
lecture it follows.

Public API (a table of contents; functions are imported here, submodules on first use):

==============================  ==============================  ==============================================
name                            home                            what it is
==============================  ==============================  ==============================================
lmer, LinearMixedModel          mlmtools.lmm                    linear mixed models: lme4 syntax, lmerTest inference
anova                           mlmtools.inference              likelihood-ratio tests; type III F tables
contest                         mlmtools.inference              t and F tests of contrasts, Satterthwaite df
tidy, glance, augment           mlmtools.broom                  broom's verbs: estimates, fit statistics, per-row values
geeglm, GeeModel                mlmtools.gee                    GEE as geepack fits it, with sandwich SEs
glmer, GeneralizedLinear...     mlmtools.glmm                   binomial and Poisson mixed models (Laplace, AGQ)
simulate_type1                  mlmtools.simulate               the lecture's type I error study
RRandom                         mlmtools.simulate               R's default random number generator, exactly
datasets                        mlmtools.datasets               the course's data sets (sleepstudy, prevention)
design                          mlmtools.simulate.clustering    ICC, design effect, effective sample size
rformat                         mlmtools.rstyle                 numbers and tables printed by R's rules
plotting                        mlmtools.plotting               the course's figure style, diagnostic and model plots
power                           mlmtools.simulate.power         power of clustered designs, analytic and simulated
==============================  ==============================  ==============================================

The subpackages follow the pipeline and depend on each other only downwards (the layers are
drawn in CONTRIBUTING.md). ``mlmtools.lmer``, ``mlmtools.rformat``, ``mlmtools.design`` and the
other modules the chapters import from are compatibility paths that re-export from the
subpackages.
"""

from __future__ import annotations

import importlib
from typing import Any

from mlmtools._version import __version__

# The chapters import four functions from compatibility modules of the same name
# (``from mlmtools.lmer import lmer``). Importing such a module binds it as an attribute of the
# package; importing the four first, before the functions below, keeps ``mlmtools.lmer`` the
# function whatever is imported later.
for _path in ("anova", "glmer", "lmer", "tidy"):
    importlib.import_module(f"mlmtools.{_path}")
del _path

from mlmtools.broom import augment, glance, tidy  # noqa: E402
from mlmtools.exceptions import (  # noqa: E402
    ConvergenceWarning,
    FormulaError,
    MissingRowsWarning,
    NloptWarning,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from mlmtools.gee import GeeModel, geeglm  # noqa: E402
from mlmtools.glmm import GeneralizedLinearMixedModel, glmer  # noqa: E402
from mlmtools.inference import anova, contest  # noqa: E402
from mlmtools.lmm import LinearMixedModel, lmer  # noqa: E402
from mlmtools.simulate import RRandom, simulate_type1  # noqa: E402

_SUBMODULES = ("datasets", "design", "plotting", "power", "rformat")

__all__ = [
    "__version__",
    "lmer", "anova", "contest", "tidy", "glance", "augment", "geeglm", "glmer", "simulate_type1", "RRandom",
    "LinearMixedModel", "GeneralizedLinearMixedModel", "GeeModel",
    "SingularFitWarning", "ConvergenceWarning", "MissingRowsWarning", "RankDeficiencyWarning", "NloptWarning",
    "FormulaError",
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
