"""simulate() from fitted lmer and glmer models, and R's rbinom/rpois, against R's draws
(``lme4_tools.json`` from ``r/make_lme4_tools.R``, ``r_discrete_draws.json`` from
``r/make_r_discrete_draws.R``)."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, read_case_data

from mlmtools.glmm import glmer
from mlmtools.lmm import lmer
from mlmtools.simulate.mixed_responses import simulate
from mlmtools.simulate.discrete_draws import rbinom, rpois
from mlmtools.simulate.rng import RRandom

TOOLS = json.loads((FIXTURES / "lme4_tools.json").read_text(encoding="utf-8"))
DRAWS = json.loads((FIXTURES / "r_discrete_draws.json").read_text(encoding="utf-8"))["cases"]
TEXT_COLUMNS = ("Subject", "herd", "period")  # read as text by the R script


def tools_data(filename: str) -> pd.DataFrame:
    return read_case_data(filename, TEXT_COLUMNS)


def fit_model(call: str, filename: str):
    """An lme4_tools.json model call, ``lmer(...)`` or ``glmer(..., family = f)``."""
    kind, formula, family = re.fullmatch(r"(lmer|glmer)\((.*), data = d(?:, family = (\w+))?\)", call).groups()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "lmer":
            return lmer(formula, tools_data(filename))
        return glmer(formula, tools_data(filename), family=family)


# -- R's rbinom and rpois ------------------------------------------------------------------------

#: Each R call of r_discrete_draws.json as a Python call on the same stream.
CALLS = {
    "rbinom(200, size = 1, prob = seq(0.005, 0.995, length.out = 200))":
        lambda r: rbinom(r, 200, 1, np.linspace(0.005, 0.995, 200)),
    "rbinom(300, size = c(2, 7, 15, 40, 33), prob = c(0.05, 0.2, 0.5, 0.71, 0.93, 0.4))":
        lambda r: rbinom(r, 300, [2, 7, 15, 40, 33], [0.05, 0.2, 0.5, 0.71, 0.93, 0.4]),
    "rbinom(500, size = 100, prob = 0.45)": lambda r: rbinom(r, 500, 100, 0.45),
    "rbinom(500, size = 1000, prob = 0.8)": lambda r: rbinom(r, 500, 1000, 0.8),
    "rbinom(300, size = c(80, 500, 5000, 100000), prob = c(0.6, 0.07, 0.33, 0.5, 0.999))":
        lambda r: rbinom(r, 300, [80, 500, 5000, 100000], [0.6, 0.07, 0.33, 0.5, 0.999]),
    "rbinom(12, size = c(0, 5, 5, 5), prob = c(0.3, 0, 1, 0.5, 0.3, 0.2))":
        lambda r: rbinom(r, 12, [0, 5, 5, 5], [0.3, 0, 1, 0.5, 0.3, 0.2]),
    "rpois(300, lambda = seq(0.01, 9.99, length.out = 300))": lambda r: rpois(r, 300, np.linspace(0.01, 9.99, 300)),
    "rpois(200, lambda = 3.7)": lambda r: rpois(r, 200, 3.7),
    "rpois(50, lambda = c(0, 0.5))": lambda r: rpois(r, 50, [0, 0.5]),
    "rpois(3000, lambda = 10)": lambda r: rpois(r, 3000, 10),
    "rpois(2000, lambda = c(10.5, 17, 42.25, 250, 10000))": lambda r: rpois(r, 2000, [10.5, 17, 42.25, 250, 10000]),
    "rpois(400, lambda = seq(10, 30, length.out = 400))": lambda r: rpois(r, 400, np.linspace(10, 30, 400)),
    "rbinom(20, size = 3, prob = 0.4)": lambda r: rbinom(r, 20, 3, 0.4),
    "rnorm(5)": lambda r: r.rnorm(5),
    "rpois(20, lambda = c(2, 25))": lambda r: rpois(r, 20, [2, 25]),
    "runif(3)": lambda r: r.runif(3),
    "rbinom(10, size = 200, prob = 0.5)": lambda r: rbinom(r, 10, 200, 0.5),
    "rnorm(2)": lambda r: r.rnorm(2),
}


@pytest.mark.parametrize("name", list(DRAWS))
def test_discrete_draws_are_rs_draw_for_draw(name):
    case = DRAWS[name]
    rng = RRandom(case["seed"])
    for call, expected in zip(case["calls"], case["draws"]):
        np.testing.assert_array_equal(CALLS[call](rng), np.array(expected, dtype=float), err_msg=call)


def test_discrete_draws_refuse_bad_parameters():
    with pytest.raises(ValueError, match="whole numbers"):
        rbinom(RRandom(1), 2, 2.5, 0.5)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        rbinom(RRandom(1), 2, 2, 1.5)
    with pytest.raises(ValueError, match="non-negative"):
        rpois(RRandom(1), 2, -1.0)


def test_numpy_streams_draw_with_numpys_algorithms():
    from mlmtools.simulate.seeding import NumpyRandom

    source = NumpyRandom(np.random.default_rng(5))
    counts = rpois(source, 1000, 4.0)
    assert counts.dtype == float and abs(counts.mean() - 4.0) < 0.3


# -- simulate() ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(TOOLS["simulations"]))
def test_simulations_are_lme4s(name):
    """The draws are R's; linear-model values agree to the precision of the fitted estimates
    (measured 4e-11 relative), counts exactly."""
    case = TOOLS["simulations"][name]
    fit = fit_model(case["model"], case["data"])
    result = simulate(fit, nsim=case["nsim"], seed=case["seed"], use_u=case["use_u"])
    for key, expected in case["simulations"].items():
        if isinstance(expected, dict):  # binomial totals: successes and failures
            ours = result[key]
            assert list(ours.columns) == expected["colnames"]
            np.testing.assert_array_equal(ours.to_numpy(), np.array(expected["values"], dtype=float))
        elif "glmer" in case["model"]:
            np.testing.assert_array_equal(result[key].to_numpy(), np.array(expected, dtype=float))
        else:
            np.testing.assert_allclose(result[key].to_numpy(), expected, rtol=1e-9)
    assert list(result.columns.get_level_values(0).unique()) == [f"sim_{i + 1}" for i in range(case["nsim"])]


def test_same_seed_same_draws_and_a_stream_continues(sleep_models):
    fit = sleep_models["m2"]
    pd.testing.assert_frame_equal(simulate(fit, 2, seed=7), simulate(fit, 2, seed=7))
    stream = RRandom(7)
    first, second = simulate(fit, 1, seed=stream), simulate(fit, 1, seed=stream)
    pd.testing.assert_frame_equal(first, simulate(fit, 1, seed=7))
    assert not np.array_equal(first.to_numpy(), second.to_numpy())


def test_simulate_refuses_bad_arguments(sleep_models):
    fit = sleep_models["m1"]
    with pytest.raises(ValueError, match="nsim must be at least 1"):
        simulate(fit, 0)
    with pytest.raises(TypeError, match="use_u must be True or False"):
        simulate(fit, 1, use_u="yes")
    with pytest.raises(TypeError, match="needs an lmer or glmer fit"):
        simulate("a fit", 1)
