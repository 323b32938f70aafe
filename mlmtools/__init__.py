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
drawn in CONTRIBUTING.md). ``mlmtools.design``, ``mlmtools.power`` and ``mlmtools.rformat``
are the earlier short paths of :mod:`mlmtools.simulate.clustering`, :mod:`mlmtools.simulate.power`
and :mod:`mlmtools.rstyle`; they re-export the same objects.
"""

from __future__ import annotations

import importlib
from typing import Any

from mlmtools._version import __version__
from mlmtools.broom import augment, glance, tidy
from mlmtools.exceptions import (
    ConvergenceWarning,
    FormulaError,
    MissingRowsWarning,
    NloptWarning,
    RankDeficiencyWarning,
    SingularFitWarning,
)
from mlmtools.gee import GeeModel, geeglm
from mlmtools.glmm import GeneralizedLinearMixedModel, glmer
from mlmtools.inference import anova, contest
from mlmtools.lmm import LinearMixedModel, lmer
from mlmtools.simulate import RRandom, simulate_type1

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
