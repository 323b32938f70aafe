"""Rounding tables and numbers before printing: ``round_frame``, ``print_rounded``, ``format_rounded``.

Inputs are R's full-precision values from ``tests/fixtures/seed-reference.json``. The expected
rounded values and texts are what the R lecture prints for the same computations (kable tables,
``cat`` and the print of a named vector), copied as literals.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmtools.rstyle import (
    format_rounded,
    format_vector,
    print_dataframe,
    print_named_vector,
    print_rounded,
    round_frame,
)

# R: fixef(m_cat) |> round(2), as the lecture prints it (trailing blanks are R's).
CATEGORICAL_FIXEF_PRINT = [
    "(Intercept)   Days_cat1   Days_cat2   Days_cat3   Days_cat4   Days_cat5 ",
    "     256.65        7.84        8.71       26.34       32.00       51.87 ",
    "  Days_cat6   Days_cat7   Days_cat8   Days_cat9 ",
    "      55.53       62.10       79.98       94.20 ",
]


@pytest.fixture
def tidy_fixed(seed_reference) -> pd.DataFrame:
    """broom.mixed's tidy(m2, effects = "fixed", conf.int = TRUE), at R's full precision."""
    return pd.DataFrame(seed_reference["tidy_m2_fixed"]).drop(columns="_row")


def test_round_frame_matches_the_lectures_rounded_tidy_table(tidy_fixed):
    rounded = round_frame(tidy_fixed, 2)
    # the lecture's kable of mutate(across(where(is.numeric), ~ round(.x, 2)))
    assert rounded.iloc[0, 2:].tolist() == [251.41, 6.82, 36.84, 17, 0, 237.01, 265.80]
    assert rounded.iloc[1, 2:].tolist() == [10.47, 1.55, 6.77, 17, 0, 7.21, 13.73]
    assert rounded["term"].tolist() == ["(Intercept)", "Days"]
    assert tidy_fixed.loc[0, "estimate"] == 251.405104848485  # the input is left alone


def test_round_frame_with_digits_per_column(seed_reference):
    ols = pd.DataFrame(seed_reference["demo_ols"], columns=["Estimate", "Std. Error", "t value", "Pr(>|t|)"])
    rounded = round_frame(ols, {"Estimate": 3, "t value": 1})
    assert rounded["Estimate"].tolist() == [49.911, -0.296]
    assert rounded["t value"].tolist() == [669.3, -2.8]
    # columns not named keep every digit
    assert rounded["Std. Error"].tolist() == ols["Std. Error"].tolist()


def test_round_frame_of_a_named_vector_prints_as_r(seed_reference):
    names = ["(Intercept)"] + [f"Days_cat{day}" for day in range(1, 10)]
    fixef = pd.Series(seed_reference["m_cat_fixef"], index=names, name="fixef")
    rounded = round_frame(fixef, 2)
    assert rounded.name == "fixef"
    assert list(rounded.index) == names
    assert print_named_vector(rounded).split("\n") == CATEGORICAL_FIXEF_PRINT


def test_round_frame_uses_rs_rounding_rule_not_half_even():
    # R >= 4.0: round(0.15, 1) is 0.1 and round(2.675, 2) is 2.67 (the doubles lie below the half);
    # round(0.5) is 0 and round(2.5) is 2 (exact halves go to the even digit)
    values = pd.Series([0.15, 2.675, 0.5, 2.5, -1.005])
    assert round_frame(values, 0).tolist() == [0.0, 3.0, 0.0, 2.0, -1.0]
    assert round_frame(values[:2], 1).tolist() == [0.1, 2.7]
    assert round_frame(values[1:2], 2).tolist() == [2.67]


def test_round_frame_keeps_integers_text_logicals_and_missing_values():
    frame = pd.DataFrame({
        "n": pd.Series([1234, 5678], dtype="int64"),
        "label": ["a", "b"],
        "flag": [True, False],
        "x": [np.nan, 1.23456],
    })
    rounded = round_frame(frame, 2)
    assert rounded["n"].dtype == np.dtype("int64")
    assert rounded["n"].tolist() == [1234, 5678]
    assert rounded["label"].tolist() == ["a", "b"]
    assert rounded["flag"].tolist() == [True, False]
    assert np.isnan(rounded.loc[0, "x"]) and rounded.loc[1, "x"] == 1.23
    hundreds = round_frame(frame[["n"]], -2)
    assert hundreds["n"].dtype == np.dtype("int64")
    assert hundreds["n"].tolist() == [1200, 5700]


@pytest.mark.parametrize(
    ("digits", "error", "message"),
    [
        ({"nope": 2}, KeyError, "nope"),
        ({"label": 2}, TypeError, "label"),
        (2.5, TypeError, "integer"),
        (True, TypeError, "integer"),
        ({"x": "2"}, TypeError, "integer"),
    ],
)
def test_round_frame_names_bad_digits(digits, error, message):
    frame = pd.DataFrame({"label": ["a"], "x": [1.5]})
    with pytest.raises(error, match=message):
        round_frame(frame, digits)


def test_round_frame_refuses_what_it_cannot_round():
    with pytest.raises(TypeError, match="numeric"):
        round_frame(pd.Series(["a", "b"]), 1)
    with pytest.raises(TypeError, match="DataFrame or Series"):
        round_frame([1.234, 5.678], 1)
    with pytest.raises(TypeError, match="integer"):
        round_frame(pd.Series([1.5]), {"x": 1})


def test_print_rounded_is_print_dataframe_of_the_rounded_table(tidy_fixed):
    expected = print_dataframe(round_frame(tidy_fixed, 2).set_axis(["1", "2"], axis=0))
    assert print_rounded(tidy_fixed, 2, row_names="numbered") == expected
    assert print_rounded(tidy_fixed.set_axis(["a", "b"], axis=0), 2) == print_dataframe(
        round_frame(tidy_fixed, 2).set_axis(["a", "b"], axis=0))


def test_print_rounded_row_name_styles(seed_reference):
    # the lecture's school means, as print(round(df, 2)) lays them out: each number column is
    # formatted on its own, so 49.20 keeps its trailing zero next to 50.38
    means = pd.DataFrame({"school": [1, 2, 3], "school_mean": seed_reference["demo_school_means"][:3]})
    numbered = print_rounded(means, 2, row_names="numbered").split("\n")
    assert numbered == [
        "  school school_mean",
        "1      1       50.38",
        "2      2       49.20",
        "3      3       50.09",
    ]
    # row.names = FALSE: R prints empty row names, so every line keeps one leading blank
    without = print_rounded(means, 2, row_names="none").split("\n")
    assert without == [line[1:] for line in numbered]
    assert without[2] == "      2       49.20"


def test_print_rounded_without_digits_prints_every_digit(seed_reference):
    means = pd.DataFrame({"group_mean": seed_reference["demo_group_means"]})
    assert print_rounded(means, row_names="none").split("\n")[1:] == [
        " " + text.rjust(len("group_mean")) for text in format_vector(means["group_mean"])
    ]
    assert print_rounded(means, row_names="none").split("\n")[1] == "   49.91112"


def test_print_rounded_rejects_unknown_row_name_style():
    with pytest.raises(ValueError, match="row_names"):
        print_rounded(pd.DataFrame({"x": [1.0]}), 1, row_names="numbers")
    with pytest.raises(TypeError, match="DataFrame"):
        print_rounded(pd.Series([1.0]), 1)


@pytest.mark.parametrize(
    ("key", "decimals", "expected"),
    [
        ("m0_icc", 3, "0.395"),  # cat("ICC =", round(icc, 3)) in the lecture
        ("prev_icc", 3, "0.892"),
        ("demo_se_ratio", 3, "2.798"),
        ("demo_se_ratio", 2, "2.8"),  # cat() drops the trailing zero
    ],
)
def test_format_rounded_as_cat(seed_reference, key, decimals, expected):
    assert format_rounded(seed_reference[key], decimals) == expected


def test_format_rounded_nsmall_keeps_trailing_zeros(seed_reference):
    conf_high = seed_reference["tidy_m2_fixed"][0]["conf.high"]  # the lecture's table shows 265.80
    assert format_rounded(conf_high, 2) == "265.8"
    assert format_rounded(conf_high, 2, nsmall=True) == "265.80"
    assert format_rounded(seed_reference["demo_se_ratio"], 2, nsmall=True) == "2.80"
    assert format_rounded(1378.23, 0, nsmall=True) == "1378"
    assert format_rounded(1378.23, -1) == "1380"


def test_format_rounded_needs_integer_decimals():
    with pytest.raises(TypeError, match="decimals"):
        format_rounded(1.0, 1.5)
