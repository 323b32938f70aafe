"""Simulation: R's generator, the seed policy, design effects, simulation studies and power.

========================  ===================================================================
module                    holds
========================  ===================================================================
``rng``                   :class:`RRandom`, R's Mersenne-Twister, normals and ``sample``
``discrete_draws``        R's ``rbinom`` and ``rpois``, draw for draw
``seeding``               the seed policy: one R stream, or independent replicate streams
``parallel``              tasks run one after the other or in parallel (joblib, dask)
``clustering``            ICC, design effect, effective sample size
``trials``                the simulation core: design validator, drawing routine, trials
``cluster_means``         balanced designs as cluster means and sums of squares; OLS
``balanced``              closed-form REML fits of balanced random-intercept models
``type1``                 the lecture's type I error study (:func:`simulate_type1`)
``power``                 power of clustered designs, analytic and simulated
``mixed_responses``       responses simulated from a fitted lmer or glmer model (``simulate``)
``parametric_bootstrap``  lme4's ``bootMer`` and ``confint(method = "boot")``
========================  ===================================================================

Simulation studies fit their models with the model objects' ``refit`` (a model is built
once per design). May import: the models (:mod:`mlmtools.lmm`, :mod:`mlmtools.glmm`,
:mod:`mlmtools.gee`) and every layer below them. Importing the package registers the
bootstrap as ``confint(method="boot")`` of the linear mixed model
(:func:`mlmtools.lmm.intervals.register_interval_method`).
"""

from mlmtools.simulate.parametric_bootstrap import boot_mer, bootstrap
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.type1 import simulate_type1

__all__ = ["RRandom", "boot_mer", "bootstrap", "simulate_type1"]
