"""confint(): Wald and profile intervals against lme4's confint.merMod."""

from __future__ import annotations

import numpy as np
import pytest
from test_lmm import CASES

from mlmtools.exceptions import SingularFitWarning
from mlmtools.lmm.intervals import confint, parameter_names


def _r_values(entry) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in entry["values"]], dtype=float)


@pytest.mark.parametrize("name", CASES)
def test_wald_intervals_match_r(case_fits, lmer_cases, name):
    fit, _, _ = case_fits[name]
    ref = lmer_cases["cases"][name]["confint_wald"]
    result = fit.confint(method="wald")
    assert list(result.index) == ref["rownames"]
    assert list(result.columns) == ref["colnames"]
    np.testing.assert_allclose(result.to_numpy(), _r_values(ref), rtol=1e-7, atol=1e-10)


# Profile end points: lme4 interpolates a spline through profile points, these are exact
# roots of zeta; the two agree to ~1e-7 for fixed effects and sigma, and to a few 1e-4 for
# standard deviations and correlations (measured: at most 4.7e-4, a correlation).
@pytest.mark.parametrize("name", ["singular", "random_slope_only", "sleep_slope_unbalanced_reml"])
def test_profile_intervals_match_r(case_fits, lmer_cases, name):
    fit, _, _ = case_fits[name]
    ref = lmer_cases["cases"][name]["confint_profile"]
    if name == "singular":  # the ML refit is singular too, and profile() says so once
        with pytest.warns(SingularFitWarning, match="maximum-likelihood refit") as record:
            result = confint(fit, method="profile")
        assert len([w for w in record if w.category is SingularFitWarning]) == 1
    else:
        result = confint(fit, method="profile")
    assert list(result.index) == ref["rownames"]
    values, expected = result.to_numpy(), _r_values(ref)
    n_var = len(parameter_names(fit.state)) - 1
    np.testing.assert_allclose(values[:n_var], expected[:n_var], rtol=1e-3, atol=1e-12)
    np.testing.assert_allclose(values[n_var:], expected[n_var:], rtol=1e-5)


def test_default_method_is_profile_as_in_lme4(case_fits, lmer_cases):
    fit, _, _ = case_fits["random_slope_only"]
    ref = lmer_cases["cases"]["random_slope_only"]["confint_profile"]
    by_method, by_function = fit.confint(), confint(fit)
    np.testing.assert_array_equal(by_method.to_numpy(), by_function.to_numpy())
    assert not np.isnan(by_method.to_numpy()).any()
    np.testing.assert_allclose(by_method.to_numpy(), _r_values(ref), rtol=1e-3)


def test_level_changes_the_width(case_fits):
    fit, _, _ = case_fits["singular"]
    narrow = confint(fit, method="wald", level=0.5)
    wide = confint(fit, method="wald", level=0.99)
    assert list(narrow.columns) == ["25 %", "75 %"]
    assert (np.diff(narrow.to_numpy()[-2:], axis=1) < np.diff(wide.to_numpy()[-2:], axis=1)).all()


def test_bad_arguments(case_fits):
    fit, _, _ = case_fits["singular"]
    with pytest.raises(ValueError, match="method must be one of 'profile', 'wald', 'boot'"):
        confint(fit, method="sandwich")
    with pytest.raises(TypeError, match="takes no options"):
        confint(fit, method="wald", nsim=10)
    with pytest.raises(ValueError, match="level"):
        confint(fit, level=1.5)
