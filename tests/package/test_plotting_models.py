"""Plots of fitted models (mlmtools.plotting): each draws what it says it draws.

Every test reads the drawn artists back (line data, segment end points, band vertices) and
compares them with the numbers the model's API gives.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmtools.gee import geeglm
from mlmtools.glmm import glmer
from mlmtools.lmm import lmer
from mlmtools.plotting import (
    caterpillar_plot,
    group_lines_plot,
    power_curve_plot,
    prediction_plot,
    ranef_qq_plot,
    residual_qq_plot,
    residuals_fitted_plot,
    scale_location_plot,
    working_correlation_plot,
)
from mlmtools.plotting.random_effects import r_ppoints
from mlmtools.simulate.power import power_curve


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def m2(sleepstudy):
    return lmer("Reaction ~ Days + (Days | Subject)", sleepstudy)


@pytest.fixture(scope="module")
def cbpp(case_data):
    data = case_data("data_cbpp.csv").astype({"herd": str, "period": str})
    return glmer("cbind(incidence, size - incidence) ~ period + (1 | herd)", data, family="binomial")


def test_r_ppoints_is_rs() -> None:
    np.testing.assert_allclose(r_ppoints(5), (np.arange(1, 6) - 0.375) / 5.25)
    np.testing.assert_allclose(r_ppoints(20), (np.arange(1, 21) - 0.5) / 20)


@pytest.mark.parametrize("level", [0.95, 0.8])
def test_caterpillar_bars_end_at_the_conditional_variance_quantiles(m2, level) -> None:
    modes = m2.ranef(cond_var=True)["Subject"]
    sd = np.sqrt(np.diagonal(modes.attrs["cond_var"], axis1=1, axis2=2))
    order = np.argsort(modes["(Intercept)"].to_numpy())
    z = stats.norm.ppf((1 + level) / 2)
    panels = caterpillar_plot(m2, level=level)
    assert [ax.get_title() for ax in panels] == ["(Intercept)", "Days"]
    for j, ax in enumerate(panels):
        segments = np.array(ax.collections[0].get_segments())
        values = modes.iloc[order, j].to_numpy()
        np.testing.assert_allclose(segments[:, 0, 0], values - z * sd[order, j], rtol=1e-12)
        np.testing.assert_allclose(segments[:, 1, 0], values + z * sd[order, j], rtol=1e-12)
        np.testing.assert_allclose(ax.lines[-1].get_xdata(), values, rtol=1e-12)
    assert [t.get_text() for t in panels[0].get_yticklabels()] == list(modes.index[order])


def test_caterpillar_draws_on_given_axes_and_checks_them(m2) -> None:
    fig, axes = plt.subplots(1, 2)
    assert caterpillar_plot(m2, axes=axes) == list(axes)
    with pytest.raises(ValueError, match="2 panel"):
        caterpillar_plot(m2, axes=[axes[0]])
    with pytest.raises(ValueError, match="no grouping factor 'School'.*'Subject'"):
        caterpillar_plot(m2, group="School")
    with pytest.raises(ValueError, match="level"):
        caterpillar_plot(m2, level=95)


def test_random_effect_qq_plots_sorted_modes_against_normal_quantiles(m2) -> None:
    modes = m2.ranef()["Subject"]
    for column, ax in zip(modes.columns, ranef_qq_plot(m2)):
        points = ax.lines[0]
        np.testing.assert_allclose(points.get_xdata(), stats.norm.ppf(r_ppoints(18)), rtol=1e-12)
        np.testing.assert_allclose(points.get_ydata(), np.sort(modes[column]), rtol=1e-12)
        quartiles = np.quantile(modes[column], [0.25, 0.75])
        assert ax.lines[1].get_slope() == pytest.approx((quartiles[1] - quartiles[0]) / (2 * stats.norm.ppf(0.75)))


def test_residual_plots_use_lme4s_scaled_pearson_residuals(m2) -> None:
    scaled = m2.residuals(type="pearson", scaled=True).to_numpy()
    fitted = m2.fitted().to_numpy()
    ax = residuals_fitted_plot(m2)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), fitted, rtol=1e-12)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), scaled, rtol=1e-12)
    ax = scale_location_plot(m2)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.sqrt(np.abs(scaled)), rtol=1e-12)
    ax = residual_qq_plot(m2)
    np.testing.assert_allclose(ax.lines[0].get_xdata(), stats.norm.ppf(r_ppoints(180)), rtol=1e-12)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.sort(scaled), rtol=1e-12)


def test_residual_plots_of_glmer_and_gee_fits(cbpp, sleepstudy) -> None:
    ax = residuals_fitted_plot(cbpp)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), cbpp.residuals(type="pearson"), rtol=1e-12)
    gee = geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr="exchangeable")
    ax = residual_qq_plot(gee)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.sort(gee.residuals() / np.sqrt(gee.scale)), rtol=1e-12)


def test_group_lines_follow_each_groups_fitted_values(m2, sleepstudy) -> None:
    ax = group_lines_plot(m2, "Days")
    assert len(ax.lines) == 18 + 1
    rows = sleepstudy["Subject"] == "308"
    fitted = m2.fitted()[rows.to_numpy()]
    days = sleepstudy.loc[rows, "Days"].to_numpy()
    np.testing.assert_allclose(ax.lines[0].get_xdata(), np.sort(days))
    np.testing.assert_allclose(ax.lines[0].get_ydata(), fitted.to_numpy()[np.argsort(days, kind="stable")])
    population = ax.lines[-1]
    np.testing.assert_allclose(population.get_ydata(), m2.fixef["(Intercept)"] + m2.fixef["Days"] * np.arange(10))
    np.testing.assert_allclose(ax.collections[0].get_offsets()[:, 1], sleepstudy["Reaction"])
    with pytest.raises(ValueError, match="x='Day' is not a column"):
        group_lines_plot(m2, "Day")


def band_edges(ax) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper edges of a fill_between band (its polygon's vertices)."""
    vertices = ax.collections[0].get_paths()[0].vertices
    n = (len(vertices) - 3) // 2
    return vertices[1:n + 1, 1], vertices[n + 2:2 * n + 2, 1][::-1]


def test_prediction_band_is_lmers_confidence_interval(m2, sleepstudy) -> None:
    ax = prediction_plot(m2, "Days", level=0.9, n_points=11)
    grid = pd.DataFrame({"Days": np.linspace(0, 9, 11), "Subject": "308"})
    expected = m2.predict(grid, interval="confidence", level=0.9)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), expected["fit"], rtol=1e-12)
    lower, upper = band_edges(ax)
    np.testing.assert_allclose(lower, expected["lwr"], rtol=1e-12)
    np.testing.assert_allclose(upper, expected["upr"], rtol=1e-12)


def test_prediction_plot_of_glmer_on_the_response_scale_per_level(cbpp) -> None:
    ax = prediction_plot(cbpp, "period")
    grid = pd.DataFrame({"period": ["1", "2", "3", "4"]})
    expected = cbpp.predict(grid, re_form="NA", type="response", interval="confidence")
    np.testing.assert_allclose(ax.lines[0].get_ydata(), expected["fit"], rtol=1e-12)
    segments = np.array(ax.collections[0].get_segments())
    np.testing.assert_allclose(segments[:, 0, 1], expected["lwr"], rtol=1e-12)
    np.testing.assert_allclose(segments[:, 1, 1], expected["upr"], rtol=1e-12)
    assert ((segments[:, :, 1] > 0) & (segments[:, :, 1] < 1)).all()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1", "2", "3", "4"]


def test_prediction_plot_of_gee_uses_the_sandwich(sleepstudy) -> None:
    gee = geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr="exchangeable")
    with pytest.raises(ValueError, match="pass the data"):
        prediction_plot(gee, "Days")
    ax = prediction_plot(gee, "Days", data=sleepstudy, n_points=5)
    expected = gee.predict(pd.DataFrame({"Days": np.linspace(0, 9, 5)}), type="response", interval="confidence")
    lower, upper = band_edges(ax)
    np.testing.assert_allclose(lower, expected["lwr"], rtol=1e-12)
    np.testing.assert_allclose(upper, expected["upr"], rtol=1e-12)


def test_power_curve_plot_draws_the_table() -> None:
    curve = power_curve([6, 10, 14], 30, icc=0.25, effect_size=0.5)
    ax = power_curve_plot(curve, label="more clusters")
    np.testing.assert_allclose(ax.lines[0].get_xdata(), curve["n_total"])
    np.testing.assert_allclose(ax.lines[0].get_ydata(), curve["power"])
    assert ax.lines[1].get_ydata()[0] == 0.8
    simulated = curve.assign(conf_low=curve["power"] - 0.05, conf_high=curve["power"] + 0.05)
    ax = power_curve_plot(simulated, x="n_clusters", target=None)
    segments = np.array(ax.collections[0].get_segments())
    np.testing.assert_allclose(segments[:, :, 1], simulated[["conf_low", "conf_high"]].to_numpy())
    with pytest.raises(ValueError, match="design columns"):
        power_curve_plot(curve, x="power")


@pytest.mark.parametrize("corstr", ["exchangeable", "ar1"])
def test_working_correlation_by_lag(sleepstudy, corstr) -> None:
    fit = geeglm("Reaction ~ Days", sleepstudy, id="Subject", corstr=corstr)
    ax = working_correlation_plot(fit)
    lags = np.arange(1, 10)
    alpha = fit.alpha[0]
    np.testing.assert_allclose(ax.lines[0].get_xdata(), lags)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), np.full(9, alpha) if corstr == "exchangeable" else alpha**lags,
                               rtol=1e-12)
    grid = (pd.DataFrame({"Subject": sleepstudy["Subject"], "Days": sleepstudy["Days"],
                          "residual": fit.residuals()})
            .pivot(index="Subject", columns="Days", values="residual").to_numpy())
    observed = [np.mean(grid[:, lag:] * grid[:, :-lag]) / fit.scale for lag in lags]
    np.testing.assert_allclose(ax.lines[1].get_ydata(), observed, rtol=1e-12)


def test_profile_zeta_panels_end_at_the_profile_interval(sleepstudy) -> None:
    from mlmtools.plotting import profile_zeta_plot

    fit = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy)
    intervals = fit.confint(method="profile", level=0.9)
    panels = profile_zeta_plot(fit, level=0.9, n_points=2)
    assert [ax.get_title() for ax in panels] == list(intervals.index)
    z = stats.norm.ppf(0.95)
    for ax, (name, row) in zip(panels, intervals.iterrows()):
        curve = ax.lines[0]
        np.testing.assert_allclose(curve.get_xdata()[[0, -1]], row.to_numpy(), rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(curve.get_ydata()[[0, -1]], [-z, z], atol=1e-6, err_msg=name)
        assert np.all(np.diff(curve.get_ydata()) > 0), name  # zeta increases along a parameter
