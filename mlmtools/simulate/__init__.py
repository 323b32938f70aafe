"""Simulation: R's generator, the seed policy, design effects, simulation studies and power.

==================  ===================================================================
module              holds
==================  ===================================================================
``rng``             :class:`RRandom`, R's Mersenne-Twister, normals and ``sample``
``seeding``         the seed policy: one R stream, or independent replicate streams
``clustering``      ICC, design effect, effective sample size
``trials``          the simulation core: design validator, drawing routine, trials
``cluster_means``   balanced designs as cluster means and sums of squares; OLS
``balanced``        closed-form REML fits of balanced random-intercept models
``type1``           the lecture's type I error study (:func:`simulate_type1`)
``power``           power of clustered designs, analytic and simulated
==================  ===================================================================

Simulation studies fit their models with the model objects' ``refit`` (a model is built
once per design). May import: the models (:mod:`mlmtools.lmm`, :mod:`mlmtools.gee`) and
every layer below them.
"""

from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.type1 import simulate_type1

__all__ = ["RRandom", "simulate_type1"]
