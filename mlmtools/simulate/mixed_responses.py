"""New responses drawn from a fitted mixed model: lme4's ``simulate.merMod``.

For a fit with estimates :math:`\\hat\\beta, \\hat\\theta, \\hat\\sigma` each simulation draws

* **unconditional** (``use_u=False``, lme4's default ``re.form = ~0``): new spherical random
  effects :math:`u_j \\sim N(0, I_q)`, so the linear predictor is
  :math:`\\eta_j = X\\hat\\beta + o + Z\\Lambda_{\\hat\\theta} u_j` (times :math:`\\hat\\sigma` for a
  linear model);
* **conditional** (``use_u=True``, ``re.form = NULL``): the fitted conditional modes,
  :math:`\\eta = X\\hat\\beta + o + Z\\hat b`;

then the response given :math:`\\eta_j`:

* linear model: :math:`y_j = X\\hat\\beta + o + \\hat\\sigma(Z\\Lambda_{\\hat\\theta} u_j +
  \\varepsilon_j)`, :math:`\\varepsilon_j \\sim N(0, I_n)`;
* glmer: binomial, Poisson or Gaussian draws around :math:`\\mu_j = g^{-1}(\\eta_j)`
  (R's ``rbinom``, ``rpois``, ``rnorm``; :mod:`mlmtools.simulate.discrete_draws`).

With an integer ``seed`` (R's ``set.seed``) the draws are R's, in R's order: all
:math:`q \\cdot` ``nsim`` random effects first (simulation after simulation, each in lme4's order
of :math:`u`: terms by decreasing number of levels, level by level), then the responses
(simulation after simulation). As in lme4 1.1-31, a linear model's prior weights do not scale
the residual draws.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import MlmtoolsWarning
from mlmtools.formula import Call, Name
from mlmtools.glmm.result import GlmerResult
from mlmtools.lmm.result import LmerResult
from mlmtools.simulate.discrete_draws import rbinom, rpois
from mlmtools.simulate.rng import RRandom, check_count
from mlmtools.simulate.seeding import NumpyRandom, SeedLike, as_generator

MixedFit = LmerResult | GlmerResult
SIMULATED_FAMILIES = ("gaussian", "binomial", "poisson")


def simulation_names(nsim: int) -> list[str]:
    """R's names of the simulations: ``sim_1``, ..., ``sim_<nsim>``."""
    return [f"sim_{i + 1}" for i in range(nsim)]


def random_effects_part(fit: MixedFit, u: NDArray[np.float64]) -> NDArray[np.float64]:
    """:math:`Z\\Lambda_{\\hat\\theta} u` for each column of ``u`` (shape ``(q, nsim)``), in lme4's
    order of :math:`u` (term by term, level by level, the term's columns within a level).

    Returns
    -------
    numpy.ndarray
        Shape ``(n, nsim)``.
    """
    problem = fit.state.problem
    b = np.empty_like(u)
    for term in problem.terms:
        T = term.template(fit.theta)
        block = u[term.b_slice].reshape(term.n_levels, term.k, -1)
        b[term.b_slice] = np.einsum("ij,ljs->lis", T, block).reshape(-1, u.shape[1])
    return np.asarray(problem.Z @ b)


def _linear_predictor(fit: MixedFit, use_u: bool) -> NDArray[np.float64]:
    """:math:`X\\hat\\beta + o`, plus :math:`Z\\hat b` when ``use_u``."""
    return fit.predict(re_form=None if use_u else "NA").to_numpy(dtype=float)


def _whole_weights(weights: NDArray[np.float64]) -> NDArray[np.float64]:
    if np.any(weights != np.round(weights)):
        raise ValueError("cannot simulate from non-integer prior weights (binomial trials must be "
                         "whole numbers)")
    return weights


def _response_column_names(fit: GlmerResult) -> list[str]:
    """R's column names of a ``cbind(successes, failures)`` response: an argument that is a plain
    column keeps its name, any other expression gets ``""`` (``cbind``'s ``deparse.level = 1``)."""
    node = fit.state.frame.parsed.response
    args = node.args if isinstance(node, Call) else ()
    return [arg.name if isinstance(arg, Name) else "" for arg in args]


def _glmm_draws(fit: GlmerResult, eta: NDArray[np.float64], source: RRandom | NumpyRandom
                ) -> NDArray[np.float64]:
    """The responses around :math:`\\mu = g^{-1}(\\eta)` (``eta`` of shape ``(n, nsim)``), as lme4's
    ``simfunList``: shape ``(n, nsim)``, or ``(n, nsim, 2)`` successes and failures for a
    ``cbind`` response."""
    family = fit.family
    mu = family.linkinv(eta)
    n, nsim = mu.shape
    weights = fit.state.data.weights
    if family.name == "binomial":
        sizes = _whole_weights(weights)
        successes = rbinom(source, n * nsim, sizes, mu.ravel(order="F")).reshape(nsim, n).T
        if fit.state.data.trials is not None:
            return np.stack([successes, sizes[:, None] - successes], axis=2)
        return successes / sizes[:, None]
    if family.name == "poisson":
        if np.any(weights != 1):
            warnings.warn("ignoring prior weights", MlmtoolsWarning, stacklevel=user_stacklevel())
        return rpois(source, n * nsim, mu.ravel(order="F")).reshape(nsim, n).T
    if family.name == "gaussian":
        if np.any(weights != 1):
            warnings.warn("ignoring prior weights", MlmtoolsWarning, stacklevel=user_stacklevel())
        return source.rnorm(n * nsim, mu.ravel(order="F"), fit.sigma).reshape(nsim, n).T
    raise ValueError(f"simulate() draws responses of the {', '.join(SIMULATED_FAMILIES)} families; "
                     f"the {family.name} family is not implemented")


def simulate_array(fit: MixedFit, nsim: int, source: RRandom | NumpyRandom, use_u: bool = False
                   ) -> NDArray[np.float64]:
    """The simulated responses as an array, drawn from ``source`` in lme4's order (module
    docstring): shape ``(n, nsim)``, or ``(n, nsim, 2)`` for a ``cbind`` response."""
    eta = _linear_predictor(fit, use_u)
    n = eta.shape[0]
    reff = np.zeros((n, nsim))
    if not use_u:
        q = fit.state.problem.q
        u = source.rnorm(q * nsim).reshape(nsim, q).T
        reff = random_effects_part(fit, u)
    if isinstance(fit, LmerResult):
        noise = source.rnorm(n * nsim).reshape(nsim, n).T
        return eta[:, None] + fit.sigma * (reff + noise)
    return _glmm_draws(fit, eta[:, None] + reff, source)


def simulate(fit: MixedFit, nsim: int = 1, seed: SeedLike = None, use_u: bool = False) -> pd.DataFrame:
    """Responses simulated from a fitted lmer or glmer model, as lme4's ``simulate(fit, nsim,
    seed, use.u)`` (see the module docstring for the formulas and R's order of draws).

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult or ~mlmtools.glmm.result.GlmerResult
        The fitted model (glmer: binomial, Poisson or Gaussian family).
    nsim : int
        Number of simulations (at least 1).
    seed : int, None, ~mlmtools.simulate.rng.RRandom or numpy.random.Generator
        An int is R's ``set.seed(seed)``, so the draws equal R's; None draws a fresh seed;
        an ``RRandom`` continues its stream (:func:`~mlmtools.simulate.seeding.as_generator`).
    use_u : bool
        Condition on the fitted random effects (lme4's ``use.u = TRUE``) instead of drawing
        new ones.

    Returns
    -------
    pandas.DataFrame
        One column per simulation (``sim_1``, ...), indexed like the fit's rows; for a
        ``cbind(successes, failures)`` response two columns per simulation, named
        ``(sim_i, successes name)`` and ``(sim_i, failures name)`` as R names them.

    Raises
    ------
    TypeError
        If ``fit`` is not an lmer or glmer fit, or ``use_u`` not a bool.
    ValueError
        For ``nsim < 1``, a family that cannot be simulated or non-integer binomial trials.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> draws = simulate(fit, nsim=2, seed=101)  # R: simulate(fit, nsim = 2, seed = 101)
    >>> draws.round(3).head(3)
         sim_1    sim_2
    0  272.850  276.536
    1  254.958  262.696
    2  224.000  257.231
    """
    if not isinstance(fit, (LmerResult, GlmerResult)):
        raise TypeError(f"simulate() needs an lmer or glmer fit, got {type(fit).__name__}")
    nsim = check_count(nsim, "nsim")
    if nsim < 1:
        raise ValueError("nsim must be at least 1")
    if not isinstance(use_u, (bool, np.bool_)):
        raise TypeError(f"use_u must be True or False, got {use_u!r}")
    values = simulate_array(fit, nsim, as_generator(seed), bool(use_u))
    index = fit.state.frame.row_index
    if values.ndim == 3 and isinstance(fit, GlmerResult):
        columns = pd.MultiIndex.from_tuples([(simulation, response) for simulation in simulation_names(nsim)
                                             for response in _response_column_names(fit)])
        return pd.DataFrame(values.reshape(values.shape[0], -1), index=index, columns=columns)
    return pd.DataFrame(values, index=index, columns=simulation_names(nsim))
