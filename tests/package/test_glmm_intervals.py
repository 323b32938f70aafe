"""glmer's confidence intervals, likelihood-ratio tests and prediction intervals against R.

Reference numbers: ``fixtures/lme4_tools.json`` (``glmer_confint``: Wald and profile intervals of
cbpp's logit model; ``glmer_anova``: ``anova(cbpp_fit, cbpp_null)``), made by
``fixtures/r/make_lme4_tools.R``, and ``fixtures/broom_mixed.json`` (``glmer.prediction``:
fixed-effect predictions with standard errors on both scales), made by
``fixtures/r/make_broom_mixed.R``. Measured agreement: Wald limits 5e-7, profile limits 8e-6
(lme4 interpolates a spline through its profile; these are exact roots), LRT 1e-11, prediction
standard errors 1e-6.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmtools.glmm import glmer
from mlmtools.glmm.intervals import _Profile
from mlmtools.inference.wald import interval_columns
from mlmtools.lmm.intervals import to_sdcor, to_theta
from mlmtools.inference.anova_tables import anova

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
TOOLS = json.loads((FIXTURES / "lme4_tools.json").read_text(encoding="utf-8"))
BROOM = json.loads((FIXTURES / "broom_mixed.json").read_text(encoding="utf-8"))
FORMULA = "cbind(incidence, size - incidence) ~ period + (1 | herd)"


def close(actual, expected, rtol: float, atol: float = 0.0) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected, dtype=float),
                               rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def cbpp() -> pd.DataFrame:
    return pd.read_csv(FIXTURES / "data_cbpp.csv", dtype={"herd": str, "period": str})


@pytest.fixture(scope="module")
def fit(cbpp):
    return glmer(FORMULA, cbpp)


@pytest.fixture(scope="module")
def profile_table(fit):
    return fit.confint()


def test_fixture_calls_are_the_models_fitted():
    assert FORMULA in TOOLS["glmer_confint"]["model"] and TOOLS["glmer_confint"]["data"] == "data_cbpp.csv"
    assert TOOLS["glmer_anova"]["models"]["cbpp_null"].startswith("glmer(cbind(incidence, size - incidence) ~ 1 +")


def test_wald_intervals(fit):
    expected = TOOLS["glmer_confint"]["wald"]
    table = fit.confint(method="wald")
    assert list(table.index) == expected["rownames"] and list(table.columns) == expected["colnames"]
    values = np.array(expected["values"], dtype=float)
    assert np.isnan(table.iloc[0]).all() and np.isnan(values[0]).all()
    close(table.to_numpy()[1:], values[1:], 1e-6)


def test_profile_intervals(profile_table):
    expected = TOOLS["glmer_confint"]["profile"]
    assert list(profile_table.index) == expected["rownames"]
    assert TOOLS["glmer_confint"]["profile_warnings"] == []
    close(profile_table.to_numpy(), np.array(expected["values"], dtype=float), 2e-5)


def test_profile_subsets_and_levels(fit, profile_table):
    fixed = fit.confint(parm="beta_", method="wald")
    assert list(fixed.index) == ["(Intercept)", "period2", "period3", "period4"]
    one = fit.confint(parm=["period2"])
    close(one.to_numpy(), profile_table.loc[["period2"]].to_numpy(), 1e-8)
    sd = fit.confint(parm="theta_", level=0.9)
    assert list(sd.columns) == ["5 %", "95 %"] and list(sd.index) == ["sd_(Intercept)|herd"]
    # a narrower level gives a narrower interval inside the 95% one
    assert profile_table.iloc[0, 0] < sd.iloc[0, 0] < fit.theta[0] < sd.iloc[0, 1] < profile_table.iloc[0, 1]
    assert interval_columns(0.999) == ["0.05 %", "99.95 %"]


def test_profile_refuses_a_fit_below_its_optimum(fit):
    class Shifted:
        """The cbpp fit with its deviance reported 0.01 too high: the profile finds lower ones."""

        def __getattr__(self, name):
            return getattr(fit, name)

        objective = fit.objective + 0.01

    profile = _Profile(Shifted(), 1)
    with pytest.raises(ValueError, match="profiling detected new, lower deviance"):
        profile.zeta(fit.fixef.iloc[0] + 0.01)


def test_standard_deviations_and_correlations_round_trip(sleepstudy):
    data = sleepstudy.assign(slow=(sleepstudy["Reaction"] > 300).astype(int))
    slope = glmer("slow ~ Days + (Days | Subject)", data)
    terms = slope.terms()
    sdcor = to_sdcor(terms, slope.theta)
    close(to_theta(terms, sdcor), slope.theta, 1e-12)
    varcorr = slope.varcorr()
    close(sdcor, varcorr["sdcor"].to_numpy()[[0, 2, 1]], 1e-12)
    close(to_theta(terms, np.array([0.5, 1.0, 0.3])), [0.5, 0.3, 0.0], 1e-12, atol=1e-12)


def test_likelihood_ratio_test_of_nested_fits(fit, cbpp):
    expected = TOOLS["glmer_anova"]["table"]
    null = glmer("cbind(incidence, size - incidence) ~ 1 + (1 | herd)", cbpp)
    table = anova(fit, null)
    assert table.table.index.tolist() == ["model2", "model1"]
    columns = expected["columns"]
    close(table.table["npar"], columns["npar"], 0)
    close(table.table[["AIC", "BIC", "logLik"]].to_numpy(), np.column_stack([columns["AIC"], columns["BIC"],
                                                                              columns["logLik"]]), 1e-11)
    close(table.table["-2*log(L)"], columns["deviance"], 1e-11)
    close(table.table["Chisq"].iloc[1], columns["Chisq"][1], 1e-9)
    assert table.table["Df"].iloc[1] == columns["Df"][1]
    close(table.table["Pr(>Chisq)"].iloc[1], columns["Pr(>Chisq)"][1], 1e-8)
    assert fit.anova(null).table.equals(table.table)
    assert "model1: cbind(incidence, size - incidence) ~ period + (1 | herd)" in str(table)
    with pytest.raises(ValueError, match="give at least one more model"):
        fit.anova()


def test_prediction_intervals_against_the_delta_method(fit):
    expected = BROOM["glmer"]["prediction"]
    new = pd.DataFrame({"period": expected["newdata"]["columns"]["period"]})
    link = fit.predict(new, re_form="NA", se_fit=True, interval="confidence")
    close(link["fit"], expected["link"], 1e-8)
    close(link["se_fit"], expected["se_link"], 1e-6)
    response = fit.predict(new, re_form="NA", type="response", se_fit=True, interval="confidence")
    assert list(response.columns) == ["fit", "se_fit", "lwr", "upr"]
    close(response["fit"], expected["response"], 1e-8)
    close(response["se_fit"], expected["se_response"], 1e-6)
    close(response[["lwr", "upr"]].to_numpy(), np.column_stack([expected["lower_response"],
                                                               expected["upper_response"]]), 1e-6)
    only_se = fit.predict(new, re_form="NA", se_fit=True)
    assert list(only_se.columns) == ["fit", "se_fit"]
    plain = fit.predict(new, re_form="NA", type="response")
    assert isinstance(plain, pd.Series) and plain.name == "predicted"
    close(plain, expected["predict_response"], 1e-8)
    on_data = fit.predict(se_fit=True)
    assert len(on_data) == fit.nobs and (on_data["se_fit"] > 0).all()


@pytest.mark.parametrize("arguments, message", [
    (dict(method="boot"), "method must be one of"),
    (dict(level=1.5), "level must be between 0 and 1"),
    (dict(parm="sigma"), "unknown parameter 'sigma'"),
])
def test_confint_arguments_are_checked(fit, arguments, message):
    with pytest.raises(ValueError, match=message):
        fit.confint(**arguments)


def test_predict_arguments_are_checked(fit):
    with pytest.raises(ValueError, match="interval must be None or 'confidence'"):
        fit.predict(interval="prediction")
    with pytest.raises(ValueError, match="type must be 'link' or 'response'"):
        fit.predict(type="mean")
    with pytest.raises(ValueError, match="level must be between 0 and 1"):
        fit.predict(se_fit=True, level=0)


def test_first_stage_fits_have_no_profile(cbpp):
    fast = glmer(FORMULA, cbpp, nAGQ=0)
    with pytest.raises(ValueError, match="nAGQ=0"):
        fast.confint()
    assert not np.isnan(fast.confint(method="wald").iloc[1:].to_numpy()).any()
