"""The numbers that chapters 4 and 5 print for sleepstudy, pinned against R.

Every value the lecture prints in its Parts IV and V is recomputed here with mlmtools, the
way the notebook ``notebooks/05-estimating-mixed-models.ipynb`` computes it, and compared
with R's full-precision value from ``tests/fixtures/seed-reference.json`` (made by
``seed-reference.R`` with lme4, lmerTest and broom.mixed) at the rounding the lecture
prints. The printed blocks (summaries, the LRT table, the named vectors) are compared as
text with R's output as the lecture shows it; those expected blocks are R output, copied
verbatim, trailing blanks included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmtools.rformat import format_number, format_vector, print_named_vector, round_r

# ---------------------------------------------------------------- R's printed output

M0_SUMMARY = """\
Linear mixed model fit by REML. t-tests use Satterthwaite's method [
lmerModLmerTest]
Formula: Reaction ~ 1 + (1 | Subject)
   Data: sleepstudy

REML criterion at convergence: 1904.3

Scaled residuals: 
    Min      1Q  Median      3Q     Max 
-2.4983 -0.5501 -0.1476  0.5123  3.3446 

Random effects:
 Groups   Name        Variance Std.Dev.
 Subject  (Intercept) 1278     35.75   
 Residual             1959     44.26   
Number of obs: 180, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error     df t value Pr(>|t|)    
(Intercept)   298.51       9.05  17.00   32.98   <2e-16 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"""

M1_SUMMARY = """\
Linear mixed model fit by REML. t-tests use Satterthwaite's method [
lmerModLmerTest]
Formula: Reaction ~ Days + (1 | Subject)
   Data: sleepstudy

REML criterion at convergence: 1786.5

Scaled residuals: 
    Min      1Q  Median      3Q     Max 
-3.2257 -0.5529  0.0109  0.5188  4.2506 

Random effects:
 Groups   Name        Variance Std.Dev.
 Subject  (Intercept) 1378.2   37.12   
 Residual              960.5   30.99   
Number of obs: 180, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error       df t value Pr(>|t|)    
(Intercept) 251.4051     9.7467  22.8102   25.79   <2e-16 ***
Days         10.4673     0.8042 161.0000   13.02   <2e-16 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
     (Intr)
Days -0.371"""

M2_SUMMARY = """\
Linear mixed model fit by REML. t-tests use Satterthwaite's method [
lmerModLmerTest]
Formula: Reaction ~ Days + (1 + Days | Subject)
   Data: sleepstudy

REML criterion at convergence: 1743.6

Scaled residuals: 
    Min      1Q  Median      3Q     Max 
-3.9536 -0.4634  0.0231  0.4634  5.1793 

Random effects:
 Groups   Name        Variance Std.Dev. Corr 
 Subject  (Intercept) 612.10   24.741        
          Days         35.07    5.922   0.07 
 Residual             654.94   25.592        
Number of obs: 180, groups:  Subject, 18

Fixed effects:
            Estimate Std. Error      df t value Pr(>|t|)    
(Intercept)  251.405      6.825  17.000  36.838  < 2e-16 ***
Days          10.467      1.546  17.000   6.771 3.26e-06 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1

Correlation of Fixed Effects:
     (Intr)
Days -0.138"""

ANOVA_M1_M2 = """\
Data: sleepstudy
Models:
m1: Reaction ~ Days + (1 | Subject)
m2: Reaction ~ Days + (1 + Days | Subject)
   npar    AIC    BIC  logLik -2*log(L)  Chisq Df Pr(>Chisq)    
m1    4 1802.1 1814.8 -897.04    1794.1                         
m2    6 1763.9 1783.1 -875.97    1751.9 42.139  2  7.072e-10 ***
---
Signif. codes:  0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"""

FIXEF_CONTINUOUS = """\
(Intercept)        Days 
     251.41       10.47 """

FIXEF_CATEGORICAL = """\
(Intercept)   Days_cat1   Days_cat2   Days_cat3   Days_cat4   Days_cat5 
     256.65        7.84        8.71       26.34       32.00       51.87 
  Days_cat6   Days_cat7   Days_cat8   Days_cat9 
      55.53       62.10       79.98       94.20 """

# The lecture's table of head(sleepstudy, 12): Reaction as R formats the column.
FIRST_12_REACTION = ["249.5600", "258.7047", "250.8006", "321.4398", "356.8519", "414.6901",
                     "382.2038", "290.1486", "430.5853", "466.3535", "222.7339", "205.2658"]


def lines(text: str) -> list[str]:
    return text.split("\n")


def r_rounded(values, digits: int) -> list[float]:
    return list(np.atleast_1d(round_r(np.asarray(values, dtype=float), digits)))


def by_row(records: list[dict], key: str = "_row") -> dict:
    return {record[key]: record for record in records}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def categorical_model(sleepstudy):
    """The lecture's categorical-time model, with the day as a text column named as in R."""
    from mlmtools.lmer import lmer

    data = sleepstudy.copy()
    data["Days_cat"] = data["Days"].astype(str)
    return lmer("Reaction ~ Days_cat + (1 | Subject)", data, data_name="sleepstudy")


@pytest.fixture(scope="module")
def lrt_table(sleep_models):
    from mlmtools.anova import anova

    return anova(m1=sleep_models["m1"], m2=sleep_models["m2"])


# ---------------------------------------------------------------- the data


def test_first_twelve_rows_print_as_in_the_lecture(sleepstudy):
    head = sleepstudy.head(12)
    assert format_vector(head["Reaction"]) == FIRST_12_REACTION
    assert list(head["Days"]) == list(range(10)) + [0, 1]
    assert list(head["Subject"]) == ["308"] * 10 + ["309"] * 2


# ---------------------------------------------------------------- printed summaries


@pytest.mark.parametrize(("name", "expected"),
                         [("m0", M0_SUMMARY), ("m1", M1_SUMMARY), ("m2", M2_SUMMARY)])
def test_summary_prints_as_lmertest(sleep_models, name, expected):
    assert lines(str(sleep_models[name].summary())) == lines(expected)


# ---------------------------------------------------------------- the numbers behind them


@pytest.mark.parametrize("name", ["m0", "m1", "m2"])
def test_reml_criterion_to_one_decimal(sleep_models, seed_reference, name):
    fit = sleep_models[name]
    assert round_r(fit.reml_criterion, 1) == round_r(seed_reference[name]["reml"], 1)
    assert fit.reml_criterion == pytest.approx(seed_reference[name]["reml"], abs=1e-6)


@pytest.mark.parametrize(("name", "digits"), [("m0", 0), ("m1", 1), ("m2", 2)])
def test_variance_components_at_lecture_rounding(sleep_models, seed_reference, name, digits):
    ours = sleep_models[name].varcorr()
    reference = seed_reference[name]["vc"]
    assert len(ours) == len(reference)
    for (_, row), expected in zip(ours.iterrows(), reference):
        if expected.get("var2") is None:  # a variance: the lecture prints it with `digits` decimals
            assert round_r(row["vcov"], digits) == round_r(expected["vcov"], digits)
        else:  # a correlation: printed with 2 decimals
            assert round_r(row["sdcor"], 2) == round_r(expected["sdcor"], 2)
        assert row["sdcor"] == pytest.approx(expected["sdcor"], rel=1e-5)


@pytest.mark.parametrize(("name", "digits"), [("m0", 2), ("m1", 4), ("m2", 3)])
def test_fixed_effects_table_at_lecture_rounding(sleep_models, seed_reference, name, digits):
    ours = sleep_models[name].coef_table().to_numpy()
    reference = np.asarray(seed_reference[name]["coef"])
    # estimate, standard error and df share one rounding in lmerTest's print
    assert r_rounded(ours[:, :3].ravel(), digits) == r_rounded(reference[:, :3].ravel(), digits)
    np.testing.assert_allclose(ours[:, :4], reference[:, :4], rtol=1e-6)
    np.testing.assert_allclose(ours[:, 4], reference[:, 4], rtol=1e-5)


def test_m2_p_value_of_days(sleep_models, seed_reference):
    p_days = sleep_models["m2"].coef_table().iloc[1, 4]
    assert format_number(p_days, 3) == "3.26e-06"
    assert p_days == pytest.approx(seed_reference["m2"]["coef"][1][4], rel=1e-4)


@pytest.mark.parametrize("name", ["m1", "m2"])
def test_correlation_of_fixed_effects(sleep_models, seed_reference, name):
    vcov = sleep_models[name].vcov().to_numpy()
    correlation = vcov[0, 1] / np.sqrt(vcov[0, 0] * vcov[1, 1])
    expected = seed_reference[name]["vcov_corr"][0][1]
    assert round_r(correlation, 3) == round_r(expected, 3)
    assert correlation == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("name", ["m0", "m1", "m2"])
def test_scaled_residual_quantiles(sleep_models, seed_reference, name):
    residuals = sleep_models[name].residuals(scaled=True).to_numpy()
    quantiles = np.quantile(residuals, [0, 0.25, 0.5, 0.75, 1])
    expected = seed_reference[name]["scaled_resid"]
    assert r_rounded(quantiles, 4) == r_rounded(expected, 4)


def test_icc_of_the_empty_model(sleep_models, seed_reference):
    variances = sleep_models["m0"].varcorr()["vcov"].to_numpy()
    icc = variances[0] / variances.sum()
    assert f"ICC = {format_number(round_r(icc, 3))}" == "ICC = 0.395"
    assert icc == pytest.approx(seed_reference["m0_icc"], abs=1e-6)


# ---------------------------------------------------------------- model comparison


def test_lrt_prints_as_lme4(lrt_table):
    printed = lines(str(lrt_table))
    # lme4 announces the ML refit as a message; mlmtools prints it as a heading line instead
    assert lrt_table.refitted
    assert printed.pop(1) == "Models refitted with ML (instead of REML)"
    assert printed == lines(ANOVA_M1_M2)


def test_lrt_numbers(lrt_table, seed_reference):
    reference = by_row(seed_reference["anova_m1_m2"])
    table = lrt_table.table
    for row in ("m1", "m2"):
        for column, r_column, digits in (("AIC", "AIC", 1), ("BIC", "BIC", 1), ("logLik", "logLik", 2),
                                         ("-2*log(L)", "deviance", 1)):
            ours = table.loc[row, column]
            assert round_r(ours, digits) == round_r(reference[row][r_column], digits)
            assert ours == pytest.approx(reference[row][r_column], abs=1e-4)
    assert round_r(table.loc["m2", "Chisq"], 3) == round_r(reference["m2"]["Chisq"], 3)
    assert int(table.loc["m2", "Df"]) == reference["m2"]["Df"]
    p_value = table.loc["m2", "Pr(>Chisq)"]
    assert format_number(p_value, 4) == "7.072e-10"
    assert p_value == pytest.approx(reference["m2"]["Pr(>Chisq)"], rel=1e-4)


# ---------------------------------------------------------------- tidy tables


def test_tidy_fixed_with_intervals(sleep_models, seed_reference):
    from mlmtools.tidy import tidy

    ours = tidy(sleep_models["m2"], effects="fixed", conf_int=True).set_index("term")
    for expected in seed_reference["tidy_m2_fixed"]:
        row = ours.loc[expected["term"]]
        for r_column in ("estimate", "std.error", "statistic", "df", "p.value",
                         "conf.low", "conf.high"):
            column = r_column.replace(".", "_")  # mlmtools writes broom's columns in snake_case
            assert round_r(row[column], 2) == round_r(expected[r_column], 2), (expected["term"], r_column)
        assert row["conf_low"] == pytest.approx(expected["conf.low"], abs=1e-6)
        assert row["conf_high"] == pytest.approx(expected["conf.high"], abs=1e-6)
    # the lecture's table shows the interval columns as 237.01 / 7.21 and 265.80 / 13.73
    assert format_vector(round_r(ours["conf_low"].to_numpy(), 2)) == ["237.01", "  7.21"]
    assert format_vector(round_r(ours["conf_high"].to_numpy(), 2)) == ["265.80", " 13.73"]


def test_tidy_random_parameters(sleep_models, seed_reference):
    from mlmtools.tidy import tidy

    ours = tidy(sleep_models["m2"], effects="ran_pars")
    estimates = dict(zip(ours["term"], ours["estimate"]))
    assert len(estimates) == len(seed_reference["tidy_m2_ranpars"])
    for expected in seed_reference["tidy_m2_ranpars"]:
        value = estimates[expected["term"]]
        assert round_r(value, 2) == round_r(expected["estimate"], 2), expected["term"]
        assert value == pytest.approx(expected["estimate"], rel=1e-4)


# ---------------------------------------------------------------- random effects, predictions


def test_conditional_modes_of_m2(sleep_models, seed_reference):
    modes = sleep_models["m2"].ranef()["Subject"]
    expected = pd.DataFrame(seed_reference["m2_ranef"]).set_index("_row")
    assert list(modes.index) == list(expected.index)
    np.testing.assert_allclose(modes[["(Intercept)", "Days"]].to_numpy(),
                               expected[["(Intercept)", "Days"]].to_numpy(), atol=1e-5)


def test_first_five_predictions_of_m2(sleep_models, seed_reference):
    predictions = sleep_models["m2"].predict().to_numpy()[:5]
    expected = seed_reference["m2_pred_first5"]
    assert r_rounded(predictions, 4) == r_rounded(expected, 4)


def test_subject_lines_are_fixed_plus_random(sleep_models):
    fit = sleep_models["m2"]
    coefficients = fit.coef()["Subject"]
    first_subject = coefficients.iloc[0]
    days = np.arange(10)
    np.testing.assert_allclose(fit.predict().to_numpy()[:10],
                               first_subject["(Intercept)"] + first_subject["Days"] * days)


# ---------------------------------------------------------------- categorical vs continuous time


def test_continuous_fixed_effects_print(sleep_models):
    rounded = pd.Series(round_r(sleep_models["m2"].fixef.to_numpy(), 2),
                        index=sleep_models["m2"].fixef.index)
    assert print_named_vector(rounded) == FIXEF_CONTINUOUS


def test_categorical_fixed_effects(categorical_model, seed_reference):
    fixef = categorical_model.fixef
    expected = seed_reference["m_cat_fixef"]
    assert r_rounded(fixef, 2) == r_rounded(expected, 2)
    np.testing.assert_allclose(fixef.to_numpy(), expected, atol=1e-6)
    rounded = pd.Series(round_r(fixef.to_numpy(), 2), index=fixef.index)
    assert print_named_vector(rounded) == FIXEF_CATEGORICAL
