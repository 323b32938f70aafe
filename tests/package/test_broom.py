"""tidy(): broom.mixed's tables for lmer fits, against R."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlmtools.broom import tidy

SNAKE = {"std.error": "std_error", "p.value": "p_value", "conf.low": "conf_low",
         "conf.high": "conf_high"}


def test_fixed_effects_with_intervals(sleep_models, seed_reference):
    result = tidy(sleep_models["m2"], effects="fixed", conf_int=True)
    ref = pd.DataFrame(seed_reference["tidy_m2_fixed"]).drop(columns="_row").rename(columns=SNAKE)
    assert list(result.columns) == list(ref.columns)
    assert list(result["term"]) == list(ref["term"]) and (result["effect"] == "fixed").all()
    for column in ["estimate", "std_error", "statistic", "conf_low", "conf_high"]:
        np.testing.assert_allclose(result[column], ref[column], rtol=1e-6)
    np.testing.assert_allclose(result["df"], ref["df"], atol=1e-4)
    np.testing.assert_allclose(result["p_value"], ref["p_value"], rtol=1e-4)


# The project's spec (the lecture's table) lists the random-effect parameters as the standard
# deviations, then the correlations, then the residual.  broom.mixed 0.2.9.4, which produced the
# fixture, interleaves them (sd, cor, sd); so values are compared by term name and the order
# against the lecture's.
SLIDES_ORDER = ["sd__(Intercept)", "sd__Days", "cor__(Intercept).Days", "sd__Observation"]


def test_random_parameters_match_r_by_term_in_the_slides_order(sleep_models, seed_reference):
    result = tidy(sleep_models["m2"], effects="ran_pars")
    ref = pd.DataFrame(seed_reference["tidy_m2_ranpars"]).drop(columns="_row")
    assert list(result.columns) == ["effect", "group", "term", "estimate"]
    assert list(result["term"]) == SLIDES_ORDER
    assert sorted(result["term"]) == sorted(ref["term"])
    by_term = result.set_index("term")
    reference = ref.set_index("term").loc[by_term.index]
    assert list(by_term["group"]) == list(reference["group"])
    np.testing.assert_allclose(by_term["estimate"], reference["estimate"], rtol=1e-6)


def test_both_kinds_together(sleep_models):
    result = tidy(sleep_models["m1"])
    assert list(result["effect"]) == ["fixed", "fixed", "ran_pars", "ran_pars"]
    assert result["group"].iloc[:2].isna().all()


def test_normal_reference_has_no_df(sleep_models):
    result = tidy(sleep_models["m1"], effects="fixed", conf_int=True, ddf="none")
    assert "df" not in result.columns
    assert result["conf_high"].iloc[1] == pytest.approx(
        result["estimate"].iloc[1] + 1.959963984540054 * result["std_error"].iloc[1], rel=1e-12)


def test_bad_arguments(sleep_models):
    with pytest.raises(ValueError, match="effects"):
        tidy(sleep_models["m1"], effects="ran_vals")
    with pytest.raises(ValueError, match="conf_level"):
        tidy(sleep_models["m1"], conf_level=95)
    with pytest.raises(TypeError, match="tidy"):
        tidy(object())


def test_other_results_plug_in():
    class Custom:
        pass

    @tidy.register(Custom)
    def _tidy_custom(obj, effects=None, conf_int=False, conf_level=0.95, scale=1.0):
        return pd.DataFrame({"term": ["a"], "estimate": [scale]})

    assert tidy(Custom(), scale=2.0)["estimate"].iloc[0] == 2.0


def test_effects_can_be_given_by_position_as_in_r(sleep_models) -> None:
    by_position = tidy(sleep_models["m2"], "fixed", conf_int=True)
    by_name = tidy(sleep_models["m2"], effects="fixed", conf_int=True)
    pd.testing.assert_frame_equal(by_position, by_name)
    assert list(by_position["term"]) == ["(Intercept)", "Days"]


def test_random_parameters_get_missing_intervals_as_in_broom_mixed(sleep_models) -> None:
    ran_pars = tidy(sleep_models["m2"], "ran_pars", conf_int=True)
    assert list(ran_pars.columns) == ["effect", "group", "term", "estimate", "conf_low", "conf_high"]
    assert ran_pars[["conf_low", "conf_high"]].isna().all().all()
    fixed = tidy(sleep_models["m2"], "fixed", conf_int=True)
    both = tidy(sleep_models["m2"], conf_int=True)
    assert {"conf_low", "conf_high"} <= set(both.columns)
    assert both.loc[both["effect"] == "ran_pars", ["conf_low", "conf_high"]].isna().all().all()
    np.testing.assert_array_equal(both.loc[both["effect"] == "fixed", "conf_low"], fixed["conf_low"])
    assert "conf_low" not in tidy(sleep_models["m2"], "ran_pars").columns
