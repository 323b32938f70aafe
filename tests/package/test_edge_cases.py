"""Numerically awkward lmer fits against lme4/lmerTest (``fixtures/edge_cases.json``).

The data sets and R's numbers come from ``fixtures/r/make_edge_cases.R``. Where R's fit is
well determined, estimates, standard errors, Satterthwaite df, variance components and the
REML criterion must agree to 1e-6 relative. Where it is not (a singular fit, or a flat
criterion that R's optimizer stops on early), the criterion must be at least as good as R's
(``ours <= R's + 1e-6``) and the singular flag and warnings must be R's.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mlmtools.exceptions import ConvergenceWarning, RankDeficiencyWarning, SingularFitWarning
from mlmtools.lmm import lmer

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REL = 1e-6
CRITERION_SLACK = 1e-6

with open(FIXTURES / "edge_cases.json", encoding="utf-8") as _handle:
    EDGE = json.load(_handle)["cases"]

#: Cases whose optimum R determines to better than 1e-6 (compared number by number).
WELL_DETERMINED = ["offset_1e6_reference", "tiny_scale", "icc_one", "size_one", "collinear",
                   "many_groups", "many_groups_ml", "unbalanced"]
#: Singular fits: compare the criterion, the flag and the fixed effects.
SINGULAR = ["icc_zero", "slope_corr", "slope_constant"]


def read_edge_data(filename: str) -> pd.DataFrame:
    """An edge-case CSV with the grouping column (``g`` or ``Subject``) read as text."""
    return pd.read_csv(FIXTURES / filename, dtype={"g": str, "Subject": str})


def criterion(fit, case: dict) -> float:
    return fit.reml_criterion if case["REML"] else fit.deviance


def r_criterion(case: dict) -> float:
    return case["REMLcrit"] if case["REML"] else case["deviance"]


def r_column(case: dict, name: str) -> np.ndarray:
    table = case["coefficients"]
    return np.array(table["values"], dtype=float)[:, table["colnames"].index(name)]


@pytest.fixture(scope="module")
def edge_fits() -> dict:
    """Each case fitted once, with the warnings it raised."""
    fits = {}
    for name, case in EDGE.items():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = lmer(case["formula"], read_edge_data(case["data"]), REML=case["REML"])
        fits[name] = (fit, caught)
    return fits


def test_every_case_is_checked():
    checked = set(WELL_DETERMINED) | set(SINGULAR) | {"offset_1e6", "tiny_within",
                                                      "slope_constant_sleep"}
    assert checked == set(EDGE)


def test_csv_files_stay_small():
    for case in EDGE.values():
        assert (FIXTURES / case["data"]).stat().st_size < 150_000


# -- well-determined fits: every number -------------------------------------------------------

@pytest.mark.parametrize("name", WELL_DETERMINED)
def test_estimates_match_r(edge_fits, name):
    case = EDGE[name]
    fit, _ = edge_fits[name]
    assert list(fit.fixef.index) == list(case["fixef"])
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=REL)
    se = np.sqrt(np.diag(fit.vcov().to_numpy()))
    np.testing.assert_allclose(se, list(case["se"].values()), rtol=REL)
    np.testing.assert_allclose(criterion(fit, case), r_criterion(case), rtol=1e-9)
    np.testing.assert_allclose(fit.theta, list(case["theta"].values()), rtol=REL, atol=1e-9)
    np.testing.assert_allclose(fit.sigma, case["sigma"], rtol=REL)
    assert fit.nobs == case["nobs"]
    assert fit.ngroups == case["ngrps"]


@pytest.mark.parametrize("name", WELL_DETERMINED)
def test_satterthwaite_table_matches_r(edge_fits, name):
    case = EDGE[name]
    fit, _ = edge_fits[name]
    table = fit.coef_table()
    np.testing.assert_allclose(table["df"].to_numpy(), r_column(case, "df"), rtol=REL)
    np.testing.assert_allclose(table["t value"].to_numpy(), r_column(case, "t value"), rtol=REL)
    np.testing.assert_allclose(table["Pr(>|t|)"].to_numpy(), r_column(case, "Pr(>|t|)"),
                               rtol=1e-5, atol=1e-300)


@pytest.mark.parametrize("name", WELL_DETERMINED + SINGULAR)
def test_variance_components_match_r(edge_fits, name):
    case = EDGE[name]
    fit, _ = edge_fits[name]
    ours = fit.varcorr()
    theirs = case["varcorr"]["columns"]
    assert list(ours["grp"]) == theirs["grp"]
    assert [None if pd.isna(v) else v for v in ours["var1"]] == theirs["var1"]
    assert [None if pd.isna(v) else v for v in ours["var2"]] == theirs["var2"]
    np.testing.assert_allclose(ours["vcov"].to_numpy(), theirs["vcov"], rtol=REL, atol=1e-10)
    np.testing.assert_allclose(ours["sdcor"].to_numpy(), theirs["sdcor"], rtol=REL, atol=1e-8)


@pytest.mark.parametrize("name", WELL_DETERMINED)
def test_no_spurious_warnings(edge_fits, name):
    """R said nothing about these fits, except the rank message for the collinear case."""
    case = EDGE[name]
    _, caught = edge_fits[name]
    expected = [RankDeficiencyWarning] if case["messages"] else []
    assert case["warnings"] == []
    assert [w.category for w in caught] == expected


# -- singular fits ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", SINGULAR)
def test_singular_fit_is_flagged_like_r(edge_fits, name):
    case = EDGE[name]
    fit, caught = edge_fits[name]
    assert case["isSingular"] is True
    assert "boundary (singular) fit: see help('isSingular')" in case["messages"]
    assert fit.is_singular
    singular_warnings = [w for w in caught if w.category is SingularFitWarning]
    assert len(singular_warnings) == 1
    assert "singular" in str(singular_warnings[0].message)
    assert criterion(fit, case) <= r_criterion(case) + CRITERION_SLACK


@pytest.mark.parametrize("name", SINGULAR)
def test_singular_fit_fixed_effects_match_r(edge_fits, name):
    case = EDGE[name]
    fit, _ = edge_fits[name]
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=REL)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov().to_numpy())), list(case["se"].values()),
                               rtol=REL)


def test_varcorr_missing_names_are_none(edge_fits):
    """As documented: None where R's as.data.frame(VarCorr(m)) has NA."""
    vc = edge_fits["icc_one"][0].varcorr()
    assert vc["var1"].iloc[-1] is None
    assert vc["var2"].iloc[0] is None


def test_zero_between_variance_gives_theta_zero(edge_fits):
    fit, _ = edge_fits["icc_zero"]
    assert fit.theta[0] == 0.0
    assert fit.varcorr()["vcov"].iloc[0] == 0.0


def test_perfectly_correlated_slope_has_correlation_one(edge_fits):
    fit, _ = edge_fits["slope_corr"]
    vc = fit.varcorr()
    correlation = vc.loc[vc["var2"].notna(), "sdcor"].iloc[0]
    assert correlation == pytest.approx(1.0, abs=1e-12)


def test_non_singular_fits_are_not_flagged(edge_fits):
    for name in WELL_DETERMINED + ["offset_1e6", "tiny_within"]:
        assert edge_fits[name][0].is_singular is EDGE[name]["isSingular"] is False


# -- rank deficiency ----------------------------------------------------------------------------

def test_collinear_column_is_dropped_and_named_as_lme4(edge_fits):
    case = EDGE["collinear"]
    fit, caught = edge_fits["collinear"]
    assert case["col_dropped"] == {"x2": 3}
    assert "x2" not in fit.fixef.index
    assert list(fit.fixef.index) == ["(Intercept)", "x1", "z"]
    (warning,) = [w for w in caught if w.category is RankDeficiencyWarning]
    message = str(warning.message)
    assert case["messages"][0] in message
    assert message.endswith(": x2")


# -- ill-determined fits: ours must be at least as good as R's ----------------------------------

def test_large_offset_only_moves_the_intercept(edge_fits):
    """R's fit of y = y0 + 1e6 stops at a slightly worse theta than its fit of y0; ours gives
    the y0 fit's numbers (intercept + 1e6) to 1e-6 relative and a criterion no worse than R's."""
    case, reference = EDGE["offset_1e6"], EDGE["offset_1e6_reference"]
    fit, caught = edge_fits["offset_1e6"]
    assert caught == []
    expected = np.array(list(reference["fixef"].values())) + np.array([1e6, 0.0])
    np.testing.assert_allclose(fit.fixef.to_numpy(), expected, rtol=1e-12, atol=1e-6)
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=REL)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov().to_numpy())),
                               list(reference["se"].values()), rtol=REL)
    np.testing.assert_allclose(fit.theta, list(reference["theta"].values()), rtol=REL)
    np.testing.assert_allclose(fit.coef_table()["df"].to_numpy(), r_column(reference, "df"),
                               rtol=1e-5)
    np.testing.assert_allclose(fit.reml_criterion, reference["REMLcrit"], rtol=1e-9)
    assert fit.reml_criterion <= case["REMLcrit"] + CRITERION_SLACK


def test_tiny_within_group_variance(edge_fits):
    """Within-group SD 1e-3 under a between-group SD of 1: the criterion is flat in theta
    (theta is about 880) and optimizers stop anywhere within about 3e-5 of it. Ours must be at
    least as low as R's; the fixed effects agree to 1e-6, the SEs and theta to 1e-4."""
    case = EDGE["tiny_within"]
    fit, caught = edge_fits["tiny_within"]
    assert caught == []
    assert fit.reml_criterion <= case["REMLcrit"] + CRITERION_SLACK
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=REL)
    np.testing.assert_allclose(np.sqrt(np.diag(fit.vcov().to_numpy())), list(case["se"].values()),
                               rtol=1e-4)
    np.testing.assert_allclose(fit.sigma, case["sigma"], rtol=1e-4)
    np.testing.assert_allclose(fit.theta, list(case["theta"].values()), rtol=1e-4)


def test_many_small_groups_are_all_used(edge_fits):
    fit, _ = edge_fits["many_groups"]
    assert fit.ngroups == {"g": 5000}
    assert fit.nobs == 10_000
    assert len(fit.ranef()["g"]) == 5000


def test_groups_of_size_one_keep_their_random_effect(edge_fits):
    fit, _ = edge_fits["size_one"]
    data = read_edge_data(EDGE["size_one"]["data"])
    sizes = data.groupby("g").size()
    assert (sizes == 1).sum() == 10
    modes = fit.ranef()["g"]["(Intercept)"]
    assert (modes[sizes[sizes == 1].index] != 0).all()


def test_unidentifiable_slope_reaches_at_least_r_criterion(edge_fits):
    """A random slope on a subject-level number: lme4 stops off the boundary where its
    gradient check fails ("Model failed to converge", max|grad| 0.0044). The criterion is
    flat there, so only the criterion is compared: ours must be no worse than R's. Whether
    our own gradient check passes depends on where the optimizer stops; if it fails, the fit
    must say so with a ConvergenceWarning, as lme4 does. Like R's, the fit is not singular."""
    case = EDGE["slope_constant_sleep"]
    fit, caught = edge_fits["slope_constant_sleep"]
    assert case["warnings"][0].startswith("Model failed to converge")
    assert fit.reml_criterion <= case["REMLcrit"] + CRITERION_SLACK
    expected = [] if fit.converged else [ConvergenceWarning]
    assert [w.category for w in caught] == expected
    assert fit.is_singular is case["isSingular"] is False
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=1e-4)
