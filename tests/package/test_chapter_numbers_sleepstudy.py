"""The numbers that chapters 4 and 5 print for sleepstudy, pinned against R.

Every value the lecture prints in its Parts IV and V is recomputed here with mlmtools, the
way the notebook ``notebooks/05-estimating-mixed-models.ipynb`` computes it, and compared
with R's full-precision value from ``tests/fixtures/seed-reference.json`` (made by
``seed-reference.R`` with lme4, lmerTest and broom.mixed) at the rounding the lecture
prints. The printed named vectors and the first rows of the data are compared as text with
R's output as the lecture shows it (copied verbatim below, trailing blanks included). The
lecture's printed summaries and LRT table are in ``tests/fixtures/lmer_printouts.json``;
``test_lmer_summary.py`` and ``test_anova.py`` compare them, so they are not repeated here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmtools.rstyle import format_number, format_vector, print_named_vector, round_frame, round_r

# ---------------------------------------------------------------- R's printed output

# fixef(m_cont) |> round(2) and fixef(m_cat) |> round(2), line by line (trailing blanks are R's)
FIXEF_CONTINUOUS = "\n".join([
    "(Intercept)        Days ",
    "     251.41       10.47 ",
])

FIXEF_CATEGORICAL = "\n".join([
    "(Intercept)   Days_cat1   Days_cat2   Days_cat3   Days_cat4   Days_cat5 ",
    "     256.65        7.84        8.71       26.34       32.00       51.87 ",
    "  Days_cat6   Days_cat7   Days_cat8   Days_cat9 ",
    "      55.53       62.10       79.98       94.20 ",
])

# The lecture's table of head(sleepstudy, 12): Reaction as R formats the column.
FIRST_12_REACTION = ["249.5600", "258.7047", "250.8006", "321.4398", "356.8519", "414.6901",
                     "382.2038", "290.1486", "430.5853", "466.3535", "222.7339", "205.2658"]


def r_rounded(values, digits: int) -> list[float]:
    return list(np.atleast_1d(round_r(np.asarray(values, dtype=float), digits)))


def by_row(records: list[dict], key: str = "_row") -> dict:
    return {record[key]: record for record in records}


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def categorical_model(sleepstudy):
    """The lecture's categorical-time model, with the day as a text column named as in R."""
    from mlmtools import lmer

    data = sleepstudy.copy()
    data["Days_cat"] = data["Days"].astype(str)
    return lmer("Reaction ~ Days_cat + (1 | Subject)", data, data_name="sleepstudy")


@pytest.fixture(scope="module")
def lrt_table(sleep_models):
    from mlmtools import anova

    return anova(m1=sleep_models["m1"], m2=sleep_models["m2"])


# ---------------------------------------------------------------- the data


def test_first_twelve_rows_print_as_in_the_lecture(sleepstudy):
    head = sleepstudy.head(12)
    assert format_vector(head["Reaction"]) == FIRST_12_REACTION
    assert list(head["Days"]) == list(range(10)) + [0, 1]
    assert list(head["Subject"]) == ["308"] * 10 + ["309"] * 2


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


def test_lrt_numbers(lrt_table, seed_reference):
    assert lrt_table.refitted  # the REML fits are refitted by ML before the comparison, as lme4 does
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
    from mlmtools import tidy

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
    from mlmtools import tidy

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
    assert print_named_vector(round_frame(sleep_models["m2"].fixef, 2)) == FIXEF_CONTINUOUS


def test_categorical_fixed_effects(categorical_model, seed_reference):
    fixef = categorical_model.fixef
    expected = seed_reference["m_cat_fixef"]
    assert r_rounded(fixef, 2) == r_rounded(expected, 2)
    np.testing.assert_allclose(fixef.to_numpy(), expected, atol=1e-6)
    assert print_named_vector(round_frame(fixef, 2)) == FIXEF_CATEGORICAL
