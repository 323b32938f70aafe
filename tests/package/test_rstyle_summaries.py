"""summary(): the lecture's printouts reproduced character for character, and the layout
of cases the lecture does not print."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from mlmtools.exceptions import ConvergenceWarning
from mlmtools.lmm import lmer
from mlmtools.rstyle.summaries import LmerSummary
from mlmtools.rstyle.summary_blocks import abbreviate, cat_fill


@pytest.mark.parametrize("name", ["m0", "m1", "m2"])
def test_sleepstudy_summaries_match_lecture(sleep_models, printouts, name):
    assert str(sleep_models[name].summary()).split("\n") == printouts[name]


def test_prevention_summary_matches_lecture(prevention_model, printouts):
    assert str(prevention_model.summary()).split("\n") == printouts["prevention_empty"]


def test_summary_keeps_tables_apart_from_text(sleep_models, seed_reference):
    summary = sleep_models["m2"].summary()
    assert isinstance(summary, LmerSummary)
    np.testing.assert_allclose(summary.coefficients.to_numpy(), np.array(seed_reference["m2"]["coef"]),
                               rtol=1e-5)
    np.testing.assert_allclose(summary.residual_quantiles, seed_reference["m2"]["scaled_resid"],
                               rtol=1e-6)
    assert summary._repr_html_().startswith("<pre>Linear mixed model fit by REML")


def test_summary_tables_built_on_demand_match_the_fit(sleep_models):
    fit = sleep_models["m2"]
    summary = fit.summary()
    pd.testing.assert_frame_equal(summary.varcorr, fit.varcorr())
    vcov = fit.vcov()
    sd = np.sqrt(np.diag(vcov))
    pd.testing.assert_frame_equal(summary.correlation, vcov / np.outer(sd, sd))
    assert list(summary.likelihood.index) == ["AIC", "BIC", "logLik", "-2*log(L)", "df.resid"]
    assert summary.likelihood["AIC"] == pytest.approx(fit.aic, rel=1e-14)
    assert summary.likelihood["df.resid"] == fit.df_resid


def test_ml_summary_shows_information_criteria(sleep_models, sleepstudy):
    from mlmtools.lmm import lmer

    fit = lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy, REML=False,
               data_name="sleepstudy")
    lines = str(fit.summary()).split("\n")
    assert lines[0] == "Linear mixed model fit by maximum likelihood . t-tests use Satterthwaite's"
    assert lines[1] == "  method [lmerModLmerTest]"
    assert lines[5] == "      AIC       BIC    logLik -2*log(L)  df.resid "
    assert lines[6] == "   1763.9    1783.1    -876.0    1751.9       174 "


def test_lme4_layout_without_df(sleep_models):
    text = str(sleep_models["m1"].summary(ddf="none"))
    assert text.startswith("Linear mixed model fit by REML ['lmerModLmerTest']\n")
    assert "Estimate Std. Error z value Pr(>|z|)" in text


def test_uncorrelated_terms_get_unique_group_labels(case_fits):
    fit, _, _ = case_fits["sleep_uncorrelated"]
    text = str(fit.summary())
    assert " Subject.1 Days " in text
    assert "Number of obs: 180, groups:  Subject, 18" in text


def test_singular_fit_note(case_fits):
    fit, _, _ = case_fits["singular"]
    text = str(fit.summary())
    assert text.endswith("boundary (singular) fit: see help('isSingular')")


def test_abbreviate_follows_r():
    assert abbreviate("(Intercept)", 6) == "(Intr)"
    assert abbreviate("Days", 6) == "Days"
    assert abbreviate("(Intercept)", 11) == "(Intercept)"


def test_cat_fill_breaks_before_the_item_that_overflows():
    assert cat_fill(["a" * 70, " [", "b" * 15, "]"]) == "a" * 70 + " [\n" + "b" * 15 + "]"


def test_hessian_eigenvalue_messages_warn_once_and_are_printed():
    # two clusters of five: the Hessian of the variance parameters is numerically singular, and
    # lmerTest says so ("close to zero") when it computes the Satterthwaite quantities
    data = pd.DataFrame({"y": [5.5, 4.5, 3.5, 2.5, 1.5, 1.0, 2.0, 3.0, 4.0, 5.0],
                         "t": [0] * 5 + [1] * 5, "g": [1] * 5 + [2] * 5})
    fit = lmer("y ~ t + (1 | g)", data)
    with pytest.warns(ConvergenceWarning, match=r"^Model may not have converged with 1 eigenvalue "
                                                r"close to zero: -?\d\.\de-\d+$") as record:
        summary = fit.summary()
    assert len(record) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert fit.summary().messages == summary.messages  # cached: no second warning
    assert summary.messages == list(fit.satterthwaite().messages)
    lines = str(summary).splitlines()
    assert lines[-2] == "optimizer (nloptwrap) convergence code: 0 (OK) "
    assert lines[-1] == summary.messages[0]
