"""mlmtools.datasets against R: the lme4 sleepstudy export (tests/fixtures/data_sleepstudy.csv,
made by tests/fixtures/r/make_lmer_cases.R) and R's numbers for the prevention data
(tests/fixtures/seed-reference.json, made by tests/fixtures/seed-reference.R)."""

from __future__ import annotations

import doctest
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mlmtools.datasets
from mlmtools.datasets import prevention, sleepstudy

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
SEED_REFERENCE = json.loads((FIXTURES / "seed-reference.json").read_text())


def test_sleepstudy_shape_and_types():
    df = sleepstudy()
    assert df.shape == (180, 3)
    assert list(df.columns) == ["Reaction", "Days", "Subject"]
    assert df.Reaction.dtype == np.float64
    assert df.Days.dtype == np.int64
    assert pd.api.types.is_string_dtype(df.Subject)
    assert df.Subject.iloc[0] == "308"


def test_sleepstudy_first_rows():
    df = sleepstudy()
    assert df.Reaction.iloc[0] == 249.56
    assert df.Reaction.iloc[1] == 258.7047
    assert df.Days.iloc[:10].tolist() == list(range(10))


def test_sleepstudy_design_is_18_subjects_by_10_days():
    df = sleepstudy()
    subjects = sorted(df.Subject.unique())
    assert len(subjects) == 18
    assert subjects[0] == "308" and subjects[-1] == "372"
    for _, days in df.groupby("Subject").Days:
        assert sorted(days) == list(range(10))


def test_sleepstudy_equals_rs_export():
    expected = pd.read_csv(FIXTURES / "data_sleepstudy.csv", dtype={"Subject": str})
    df = sleepstudy()
    np.testing.assert_array_equal(df.Reaction.to_numpy(), expected.Reaction.to_numpy())
    np.testing.assert_array_equal(df.Days.to_numpy(), expected.Days.to_numpy())
    assert df.Subject.tolist() == expected.Subject.tolist()


def test_sleepstudy_mean_reaction_is_lmer_intercept_of_empty_model():
    # Balanced data: the empty model's fixed intercept is the grand mean.
    intercept = SEED_REFERENCE["m0"]["coef"][0][0]
    assert sleepstudy().Reaction.mean() == pytest.approx(intercept, rel=1e-12)


def test_prevention_layout():
    df = prevention()
    assert df.shape == (20, 3)
    assert list(df.columns) == ["community", "school", "risk_score"]
    assert pd.api.types.is_string_dtype(df.community)
    assert df.school.dtype == np.int64 and df.risk_score.dtype == np.int64
    assert df.school.tolist() == list(range(1, 21))
    assert df.community.tolist() == [f"Community {letter}" for letter in "ABCDE" for _ in range(4)]
    assert df.risk_score.tolist() == [42, 47, 39, 44, 31, 28, 35, 30, 55, 58, 51, 60,
                                      38, 41, 36, 33, 48, 52, 45, 51]


def test_prevention_matches_rs_summaries():
    df = prevention()
    community_means = df.groupby("community").risk_score.mean()
    naive_between, naive_within = SEED_REFERENCE["prev_naive_var"]
    assert community_means.var() == pytest.approx(naive_between, rel=1e-13)
    deviations = df.risk_score - df.community.map(community_means)
    assert deviations.var() == pytest.approx(naive_within, rel=1e-13)
    ss_between, ss_within = SEED_REFERENCE["prev_anova"]["ss"]
    grand_mean = df.risk_score.mean()
    assert grand_mean == pytest.approx(SEED_REFERENCE["prev_fixef"][0][0], rel=1e-12)
    assert (4 * ((community_means - grand_mean) ** 2).sum()) == pytest.approx(ss_between, rel=1e-13)
    assert (deviations**2).sum() == pytest.approx(ss_within, rel=1e-13)


@pytest.mark.parametrize("loader", [sleepstudy, prevention])
def test_callers_get_independent_copies(loader):
    first = loader()
    original = loader()
    first.iloc[:, 0] = first.iloc[:, 0].iloc[::-1].to_numpy()
    first.loc[0, first.columns[1]] = -1
    pd.testing.assert_frame_equal(loader(), original)


def test_docstring_examples_pass():
    outcome = doctest.testmod(mlmtools.datasets)
    assert outcome.attempted > 0 and outcome.failed == 0
