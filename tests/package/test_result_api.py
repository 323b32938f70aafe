"""One result API: statsmodels' names are aliases of the R-named members, on every result class.

lmer's fixed-effect predictions with standard errors and intervals are checked against
``fixtures/broom_mixed.json`` (``prediction``: computed in ``r/make_broom_mixed.R`` from
``vcov(m)``, since lme4 1.1-31's ``predict`` has no ``se.fit``).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmtools.gee import geeglm
from mlmtools.glmm import glmer
from mlmtools.lmm import lmer
from mlmtools.lmm.result_api import ResultAliases

BROOM = json.loads((Path(__file__).parents[1] / "fixtures" / "broom_mixed.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def fits(case_data) -> dict:
    sleep = case_data("data_sleepstudy.csv")
    cbpp = case_data("data_cbpp.csv").astype({"herd": str, "period": str})
    return {
        "lmer": lmer("Reaction ~ Days + (Days | Subject)", sleep),
        "glmer": glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", cbpp, family="binomial"),
        "gee": geeglm("Reaction ~ Days", sleep, id="Subject", corstr="exchangeable"),
    }


@pytest.mark.parametrize("kind", ["lmer", "glmer", "gee"])
def test_statsmodels_names_are_aliases_of_the_r_names(fits, kind) -> None:
    fit = fits[kind]
    assert isinstance(fit, ResultAliases)
    pd.testing.assert_series_equal(fit.params, fit.fixef, check_names=False)
    np.testing.assert_allclose(fit.bse, np.sqrt(np.diag(fit.vcov())), rtol=1e-15)
    table = fit.coef_table()
    np.testing.assert_allclose(fit.pvalues, table.iloc[:, -1], rtol=1e-15)
    pd.testing.assert_series_equal(fit.fittedvalues, fit.fitted(), check_names=False)
    pd.testing.assert_series_equal(fit.resid, fit.residuals(type="response"), check_names=False)
    ratios = fit.tvalues if kind == "lmer" else fit.zvalues
    np.testing.assert_allclose(ratios, fit.params / fit.bse, rtol=1e-15)
    assert not hasattr(fit, "zvalues" if kind == "lmer" else "tvalues")
    if kind != "gee":
        assert fit.llf == fit.loglik
        assert fit.aic == pytest.approx(-2 * fit.llf + 2 * fit.npar, rel=1e-15)


def test_statistics_agree_with_the_printed_tables(fits) -> None:
    np.testing.assert_allclose(fits["lmer"].tvalues, fits["lmer"].coef_table()["t value"], rtol=1e-12)
    np.testing.assert_allclose(fits["glmer"].zvalues, fits["glmer"].coef_table()["z value"], rtol=1e-12)
    np.testing.assert_allclose(fits["gee"].zvalues ** 2, fits["gee"].coef_table()["Wald"], rtol=1e-12)
    r_tidy = pd.DataFrame(BROOM["glmer"]["tidy"]["table"]["columns"]).query("effect == 'fixed'")
    # z agrees with lme4 to 4e-7 relative (as the standard errors do); a p-value 2 Phi(-|z|) turns a
    # relative error e of z into about z^2 e (z = -6.05 for the intercept): measured 1.1e-5, hence 1e-4
    np.testing.assert_allclose(fits["glmer"].zvalues, r_tidy["statistic"], rtol=2e-6)
    np.testing.assert_allclose(fits["glmer"].pvalues, r_tidy["p.value"], rtol=1e-4)


@pytest.mark.parametrize("kind", ["lmer", "glmer", "gee"])
def test_conf_int_is_the_wald_interval_at_one_minus_alpha(fits, kind) -> None:
    fit = fits[kind]
    intervals = fit.conf_int(alpha=0.1)
    assert list(intervals.columns) == ["5 %", "95 %"] and list(intervals.index) == list(fit.params.index)
    z = stats.norm.ppf(0.95)
    np.testing.assert_allclose(intervals["95 %"], fit.params + z * fit.bse, rtol=1e-14)
    np.testing.assert_allclose(intervals["5 %"], fit.params - z * fit.bse, rtol=1e-14)


def test_lmer_conf_int_is_lme4s_wald_interval(fits) -> None:
    wald = fits["lmer"].confint(method="wald")
    pd.testing.assert_frame_equal(fits["lmer"].conf_int(), wald.loc[["(Intercept)", "Days"]], rtol=1e-14)
    gee = fits["gee"]
    pd.testing.assert_frame_equal(gee.conf_int(), gee.confint(), rtol=1e-14)


def test_gee_has_no_likelihood_and_says_what_to_use(fits) -> None:
    gee = fits["gee"]
    for name in ("llf", "aic", "bic"):
        assert not hasattr(gee, name)
        with pytest.raises(AttributeError, match=r"no likelihood.*qic\(\)"):
            getattr(gee, name)
    assert gee.df_resid == 178 and gee.ngroups == {"Subject": 18}
    pd.testing.assert_series_equal(gee.coef(), gee.coefficients)


def test_lmer_prediction_standard_errors_match_r(fits) -> None:
    reference = BROOM["lmer"]["prediction"]
    newdata = pd.DataFrame(reference["newdata"]["columns"])
    table = fits["lmer"].predict(newdata, interval="confidence")
    assert list(table.columns) == ["fit", "se_fit", "lwr", "upr"]
    np.testing.assert_allclose(table["fit"], reference["link"], rtol=1e-10)
    np.testing.assert_allclose(table["se_fit"], reference["se_link"], rtol=1e-7)
    np.testing.assert_allclose(table["lwr"], reference["lower_response"], rtol=1e-9)
    np.testing.assert_allclose(table["upr"], reference["upper_response"], rtol=1e-9)
    only_se = fits["lmer"].predict(newdata, se_fit=True)
    assert list(only_se.columns) == ["fit", "se_fit"]


def test_lmer_predictions_with_standard_errors_are_the_fixed_part(fits) -> None:
    fit = fits["lmer"]
    table = fit.predict(se_fit=True, interval="confidence", level=0.5)
    np.testing.assert_allclose(table["fit"], fit.predict(re_form="NA"), rtol=1e-14)
    half_width = stats.norm.ppf(0.75) * table["se_fit"]
    np.testing.assert_allclose(table["upr"] - table["fit"], half_width, rtol=1e-12)
    assert table.index.equals(fit.predict().index)
    plain = fit.predict(pd.DataFrame({"Days": [1.0], "Subject": ["308"]}))
    assert isinstance(plain, pd.Series) and plain.name == "predicted"


@pytest.mark.parametrize("kind", ["lmer", "glmer", "gee"])
def test_every_result_has_a_short_html_repr_and_pickles(fits, kind) -> None:
    fit = fits[kind]
    html = fit._repr_html_()
    assert html.startswith("<") and len(html) < 20_000
    again = pickle.loads(pickle.dumps(fit))
    pd.testing.assert_series_equal(again.params, fit.params)


@pytest.mark.parametrize("kind", ["lmer", "glmer", "gee"])
def test_bad_alpha_is_refused(fits, kind) -> None:
    for alpha in (0, 1, 1.5, True, "0.05"):
        with pytest.raises(ValueError, match="alpha must be a number between 0 and 1"):
            fits[kind].conf_int(alpha=alpha)


@pytest.mark.parametrize("kind", ["lmer", "gee"])
def test_predict_takes_a_polars_newdata(fits, kind) -> None:
    polars = pytest.importorskip("polars")
    columns = {"Days": [0.0, 4.5, 9.0], "Subject": ["308", "309", "310"]}
    fit, new = fits[kind], pd.DataFrame(columns)
    pd.testing.assert_series_equal(fit.predict(polars.DataFrame(columns)), fit.predict(new))
    pd.testing.assert_frame_equal(fit.predict(polars.DataFrame(columns), interval="confidence"),
                                  fit.predict(new, interval="confidence"))


@pytest.mark.parametrize("kind", ["lmer", "glmer", "gee"])
def test_interval_labels_are_rs_for_every_level(fits, kind) -> None:
    """R's ``format.perc``: 3 significant digits, never scientific (lme4 printed "100 %" before)."""
    fit = fits[kind]
    assert list(fit.confint(method="wald", level=0.999).columns) == ["0.05 %", "99.95 %"]
    assert list(fit.confint(method="wald", level=0.9).columns) == ["5 %", "95 %"]
