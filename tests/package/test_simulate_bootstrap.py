"""The parametric bootstrap against R (``bootstrap_reference.json`` from
``r/make_bootstrap_reference.R``; ``lme4_tools.json`` from ``r/make_lme4_tools.R``).

lme4 1.1-31's ``bootMer`` refits with ``refit()``, which for an lmer fit uses n - 1 where the
REML criterion has n - p (its response module gets ``REML = TRUE`` instead of p) and for a glmer
fit runs one Nelder-Mead stage from the old estimates; the reference therefore refits every
replicate with ``update()``, a fresh fit, while ``bootMer`` still makes the draws. Ours refit
through the model object, which is the fit ``lmer``/``glmer`` gives on those data.
"""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import FIXTURES
from test_simulate_mixed_responses import TOOLS, fit_model

from mlmtools.exceptions import MlmtoolsWarning
from mlmtools.simulate import bootstrap
from mlmtools.simulate.parametric_bootstrap import bootstrap_intervals, interval_statistic

REFERENCE = json.loads((FIXTURES / "bootstrap_reference.json").read_text(encoding="utf-8"))
MODELS = {"sleep_parametric": ("lmer(Reaction ~ Days + (Days | Subject), data = d)", "data_sleepstudy.csv"),
          "sleep_parametric_use_u": ("lmer(Reaction ~ Days + (Days | Subject), data = d)", "data_sleepstudy.csv"),
          "cbpp_parametric": ("glmer(cbind(incidence, size - incidence) ~ period + (1 | herd), data = d, "
                              "family = binomial)", "data_cbpp.csv")}


def r_statistic(fit) -> pd.Series:
    """The reference's statistic: fixef, sigma (lmer) and theta."""
    parts = [fit.fixef]
    if fit.has_residual:
        parts.append(pd.Series({"sigma": fit.sigma}))
    parts.append(pd.Series(fit.theta))
    return pd.concat(parts)


@pytest.fixture(scope="module")
def fits() -> dict:
    return {name: fit_model(*MODELS[name]) for name in MODELS}


@pytest.mark.parametrize("name", list(MODELS))
def test_replicates_are_fresh_fits_to_bootmers_draws(fits, name):
    """Measured: at most 1.7e-5 relative (a variance parameter of the conditional bootstrap);
    the refits and R's fresh fits stop at the optimizer's tolerance."""
    case = REFERENCE["bootstrap"][name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = bootstrap(fits[name], r_statistic, case["nsim"], case["seed"], case["use_u"])
    expected = np.array(case["t"]["values"], dtype=float)
    np.testing.assert_allclose(result.t.to_numpy(), expected, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(result.t0.to_numpy(), list(case["t0"].values()), rtol=1e-6)
    assert result.seed == case["seed"] and result.nsim == case["nsim"]


def test_draws_equal_lme4_tools_bootmer(fits):
    """In the balanced sleepstudy design the fixed effects do not depend on theta, so lme4's own
    bootMer t (with its refit) and ours agree in those columns: the draws are bootMer's."""
    case = TOOLS["bootstrap"]["sleep_parametric"]
    result = bootstrap(fits["sleep_parametric"], lambda fit: fit.fixef, 20, 2026)
    expected = np.array(case["t"]["values"], dtype=float)[:, :2]
    np.testing.assert_allclose(result.t.to_numpy(), expected, rtol=1e-9)


def test_lme4_refit_is_not_the_fit():
    """The evidence kept in the reference: refit() of m2 to its own response gives another fit."""
    check = REFERENCE["refit_check"]
    assert check["fit_REML"] == 2 and check["refit_REML"] == 1
    assert check["refit_REMLcrit"] - check["fit_REMLcrit"] > 1


@pytest.mark.parametrize("type", ["perc", "basic", "norm"])
def test_boot_intervals_match_r(fits, type):
    """confint(method = "boot", nsim = 40, seed = 7) with fresh refits; measured at most 1.6e-6
    (perc, basic) and 4.6e-6 (norm) from R's."""
    case = REFERENCE["boot_intervals"]
    fit = fits["sleep_parametric"]
    with pytest.warns(Warning, match="boundary"):
        result = fit.confint(method="boot", nsim=case["nsim"], seed=case["seed"], type=type)
    table = case["intervals"][type]
    assert list(result.index) == table["rownames"] and list(result.columns) == table["colnames"]
    np.testing.assert_allclose(result.to_numpy(), np.array(table["values"]), rtol=2e-5)


def test_interval_statistic_is_lme4s_bootfun(fits):
    case = REFERENCE["boot_intervals"]
    statistic = interval_statistic(fits["sleep_parametric"])
    assert list(statistic.index) == list(case["t0"])
    np.testing.assert_allclose(statistic.to_numpy(), list(case["t0"].values()), rtol=1e-6)


@pytest.mark.slow
def test_parallel_refits_give_the_same_result(fits):
    fit = fits["sleep_parametric"]
    alone = bootstrap(fit, lambda f: f.fixef, nsim=12, seed=3)
    shared = bootstrap(fit, lambda f: f.fixef, nsim=12, seed=3, n_jobs=2)
    pd.testing.assert_frame_equal(alone.t, shared.t)


def test_failed_refits_are_counted_and_reported(fits):
    calls = []

    def fragile(fit):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("no estimate")
        return {"slope": fit.fixef["Days"]}

    with pytest.warns(MlmtoolsWarning, match=r"some bootstrap runs failed \(1/4\): RuntimeError: no estimate"):
        result = bootstrap(fits["sleep_parametric"], fragile, nsim=4, seed=1)
    assert result.failures == 1 and result.t["slope"].isna().sum() == 1


def test_intervals_of_constant_replicates_are_missing():
    t = pd.DataFrame({"a": [1.0] * 5, "b": np.arange(5.0)})
    with pytest.warns(MlmtoolsWarning, match="no bootstrap interval for a"):
        table = bootstrap_intervals(pd.Series({"a": 1.0, "b": 2.0}), t, type="norm")
    assert table.loc["a"].isna().all() and not table.loc["b"].isna().any()
    with pytest.raises(ValueError, match="type must be one of"):
        bootstrap_intervals(pd.Series({"a": 1.0}), t, type="bca")
