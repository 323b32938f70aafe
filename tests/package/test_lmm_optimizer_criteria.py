"""The optimizer reaches at least R's criterion on every lmer fixture (R's numbers:
``optimizer_criteria.json`` from ``r/make_optimizer_criteria.R``, which refits every case of
``lmer_cases.json`` and ``edge_cases.json`` and Orthodont's additive model with lme4's defaults and
with tight settings, and ``lmertest_tables.json``, ``crossed_scale.json`` (students 1-200; the
larger InstEval fits are the scale helper's benchmarks)).

When the optimizer reports success but lme4's gradient check fails, the fit restarts from where
it stopped (``restart_from_optimum``); fits that pass the check are never touched.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES, read_case_data

from mlmtools.lmm import lmer
from mlmtools.lmm.optimizer import RESTART_MESSAGE

CRITERIA = json.loads((FIXTURES / "optimizer_criteria.json").read_text(encoding="utf-8"))["criteria"]
TABLES = json.loads((FIXTURES / "lmertest_tables.json").read_text(encoding="utf-8"))["cases"]
CROSSED = json.loads((FIXTURES / "crossed_scale.json").read_text(encoding="utf-8"))["cases"]
RELATIVE_SLACK = 1e-8
TEXT_COLUMNS = ("Subject", "temperature")


def fixture_data(filename: str) -> pd.DataFrame:
    return read_case_data(filename, TEXT_COLUMNS)


def fit_call(call: str, data: pd.DataFrame):
    """lmer(...) of an R call ``lmer(formula, data = d, REML = ..., weights = w, offset = off)``."""
    formula, *options = re.fullmatch(r"lmer\((.*)\)", call).group(1).split(", ")
    arguments = dict(option.split(" = ") for option in options)
    kwargs = {name: arguments[name] for name in ("weights", "offset") if name in arguments}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return lmer(formula, data, REML=arguments.get("REML", "TRUE") == "TRUE", **kwargs)


def criterion(fit) -> float:
    return fit.devcrit(fit.REML)


@pytest.mark.parametrize("name", list(CRITERIA))
def test_criterion_is_at_least_as_low_as_lme4s(name):
    case = CRITERIA[name]
    fit = fit_call(case["call"], fixture_data(case["data"]))
    r_value = case["default"]["criterion"]
    assert criterion(fit) <= r_value + RELATIVE_SLACK * abs(r_value)


@pytest.mark.parametrize("name", list(TABLES))
def test_lmertest_fixtures_reach_r_criterion(name):
    case = TABLES[name]
    fit = fit_call(case["call"], fixture_data(case["data"]))
    assert criterion(fit) <= case["REMLcrit"] * (1 + np.sign(case["REMLcrit"]) * RELATIVE_SLACK)


@pytest.mark.slow
@pytest.mark.parametrize("name", ["students_1_200"])
def test_crossed_fixtures_reach_r_criterion(name):
    case = CROSSED[name]
    data = pd.read_csv(FIXTURES / "data_insteval.csv.gz")
    fit = fit_call(case["call"], data.query(case["rows"]))
    assert criterion(fit) <= case["REMLcrit"] * (1 + RELATIVE_SLACK)


def test_orthodont_stopped_short_and_the_restart_reaches_r():
    """lme4's default stops 1.2e-8 above its best; our first run stopped 8.8e-6 above R's with a
    failed gradient check. The restarts bring it below R's plus 1e-11 relative, and the check passes."""
    case = CRITERIA["orthodont_additive"]
    data = fixture_data(case["data"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = lmer("distance ~ age + Sex + (age | Subject)", data)
    assert RESTART_MESSAGE in fit.state.optinfo.messages
    assert fit.converged
    assert criterion(fit) - case["default"]["criterion"] < 1e-10 * case["default"]["criterion"]
    # the criterion is flat along SexMale: R's default and tight fits differ by 1.6e-5 there;
    # ours lies between them, 3.9e-6 from the tight one
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["tight"]["nloptwrap"]["fixef"].values()), rtol=1e-5)


def test_a_fit_that_passes_the_gradient_check_is_not_restarted(sleepstudy):
    fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy)
    assert fit.converged
    assert RESTART_MESSAGE not in fit.state.optinfo.messages
