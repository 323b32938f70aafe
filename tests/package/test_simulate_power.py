"""Power by formula and by simulation (mlmtools.simulate.power)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mlmtools.gee import geeglm
from mlmtools.simulate.power import PowerResult, power_analytic, power_curve, power_simulation


def monte_carlo_se(power: float, n_sims: int) -> float:
    return math.sqrt(power * (1 - power) / n_sims)


# -- the formula ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("n_clusters", "cluster_size", "icc", "effect"), [(10, 30, 0.25, 0.6), (20, 5, 0.1, 0.4),
                                                                           (8, 1, 0.0, 1.2)])
def test_analytic_power_is_the_t_test_on_cluster_means(n_clusters, cluster_size, icc, effect) -> None:
    from statsmodels.stats.power import TTestIndPower

    # Cluster means have SD sqrt(DEFF / m) on the standardized scale; J/2 of them per arm.
    deff = 1 + (cluster_size - 1) * icc
    standardized = effect / math.sqrt(deff / cluster_size)
    expected = TTestIndPower().power(effect_size=standardized, nobs1=n_clusters // 2, alpha=0.05, ratio=1.0)
    assert power_analytic(n_clusters, cluster_size, icc, effect) == pytest.approx(expected, rel=1e-9)


def test_analytic_power_is_alpha_without_an_effect_and_grows_with_it() -> None:
    assert power_analytic(10, 30, 0.25, 0.0, alpha=0.05) == pytest.approx(0.05, abs=1e-12)
    assert power_analytic(10, 30, 0.25, -0.5) == pytest.approx(power_analytic(10, 30, 0.25, 0.5), rel=1e-10)
    powers = [power_analytic(10, 30, 0.25, effect) for effect in (0.2, 0.5, 1.0)]
    assert powers == sorted(powers)
    assert power_analytic(10, 30, 0.25, 3.0) == pytest.approx(1.0)  # scipy's nct.cdf is NaN this far out
    # More clusters help more than bigger clusters once the ICC is not tiny.
    assert power_analytic(20, 30, 0.25, 0.5) > power_analytic(10, 60, 0.25, 0.5)


# -- simulation against the formula -------------------------------------------------------------------


@pytest.mark.parametrize(("n_clusters", "cluster_size", "icc", "effect"), [(10, 30, 0.25, 0.8), (16, 10, 0.1, 0.5)])
def test_simulated_mixed_power_agrees_with_the_formula(n_clusters, cluster_size, icc, effect) -> None:
    result = power_simulation(n_clusters, cluster_size, icc, effect, n_sims=1000, seed=20260101)
    expected = power_analytic(n_clusters, cluster_size, icc, effect)
    assert abs(result.power - expected) < 3 * monte_carlo_se(expected, 1000)
    assert result.conf_low < expected < result.conf_high


def test_without_an_effect_the_mixed_model_rejects_at_alpha_and_ols_does_not() -> None:
    mixed = power_simulation(10, 30, 0.25, 0.0, n_sims=1000, seed=7)
    ols = power_simulation(10, 30, 0.25, 0.0, n_sims=1000, seed=7, method="ols")
    assert abs(mixed.power - 0.05) < 3 * monte_carlo_se(0.05, 1000)
    assert ols.power > 0.35  # the lecture's inflated type I error (0.5 for this design)


def test_gee_pvalues_are_geeglm_on_the_documented_draws() -> None:
    result = power_simulation(6, 4, 0.3, 0.5, n_sims=12, seed=99, method="gee")
    children = np.random.SeedSequence(99).spawn(12)
    for child, p_value in zip(children[:4], result.p_values[:4]):
        generator = np.random.default_rng(child)
        cluster_effects = generator.normal(0, math.sqrt(0.3), 6)
        residuals = generator.normal(0, math.sqrt(0.7), (6, 4))
        treatment = np.repeat([0.0, 1.0], 3)
        y = (0.5 * treatment + cluster_effects)[:, None] + residuals
        data = pd.DataFrame({"y": y.reshape(-1), "treatment": np.repeat(treatment, 4),
                             "school": np.repeat(np.arange(6), 4)})
        fit = geeglm("y ~ treatment", data, id="school", corstr="exchangeable")
        z_value = fit.coefficients["treatment"] / fit.std_errors["treatment"]
        assert p_value == pytest.approx(2 * stats.norm.sf(abs(z_value)), rel=1e-12)


# -- reproducibility --------------------------------------------------------------------------------------


def test_one_and_two_workers_give_identical_results() -> None:
    one = power_simulation(8, 10, 0.2, 0.5, n_sims=120, seed=3, method="mixed", n_jobs=1)
    two = power_simulation(8, 10, 0.2, 0.5, n_sims=120, seed=3, method="mixed", n_jobs=2)
    np.testing.assert_array_equal(one.p_values, two.p_values)
    assert (one.power, one.n_singular) == (two.power, two.n_singular)


def test_dask_backend_gives_identical_results() -> None:
    distributed = pytest.importorskip("distributed", reason="dask.distributed is not installed (pip install "
                                      "mlmtools[dask]); the loky test covers the same property")
    one = power_simulation(8, 10, 0.2, 0.5, n_sims=120, seed=3, method="mixed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, protocol="tcp",
                                  host="127.0.0.1", dashboard_address=None) as cluster, distributed.Client(cluster):
        on_dask = power_simulation(8, 10, 0.2, 0.5, n_sims=120, seed=3, method="mixed", n_jobs=2, backend="dask")
    np.testing.assert_array_equal(one.p_values, on_dask.p_values)


def test_dask_backend_without_a_client_is_refused() -> None:
    pytest.importorskip("distributed", reason="dask.distributed is not installed")
    with pytest.raises(ValueError, match="Client"):
        power_simulation(8, 10, 0.2, 0.5, n_sims=5, seed=1, backend="dask")


def test_a_seed_repeats_the_run_and_none_records_its_entropy() -> None:
    first = power_simulation(6, 5, 0.1, 0.3, n_sims=30, seed=None, method="ols")
    again = power_simulation(6, 5, 0.1, 0.3, n_sims=30, seed=first.settings.seed_entropy, method="ols")
    np.testing.assert_array_equal(first.p_values, again.p_values)
    other = power_simulation(6, 5, 0.1, 0.3, n_sims=30, seed=12, method="ols")
    assert not np.array_equal(first.p_values, other.p_values)


# -- the result and the interface ----------------------------------------------------------------------


def test_result_reports_a_wilson_interval() -> None:
    result = power_simulation(10, 30, 0.25, 0.5, n_sims=200, seed=5, method="ols")
    assert isinstance(result, PowerResult)
    k, n = result.n_rejected, result.n_sims
    assert result.power == k / n
    z = stats.norm.ppf(0.975)
    centre = (k + z**2 / 2) / (n + z**2)
    half = z * math.sqrt(n) / (n + z**2) * math.sqrt(k / n * (1 - k / n) + z**2 / (4 * n))
    assert (result.conf_low, result.conf_high) == pytest.approx((centre - half, centre + half), rel=1e-12)
    text = repr(result)
    assert f"power={result.power:.3f}" in text and "Wilson" in text and "10 clusters x 30" in text
    with pytest.raises(AttributeError):
        result.power = 1.0
    with pytest.raises(ValueError):
        result.p_values[0] = 0.5
    import pickle

    restored = pickle.loads(pickle.dumps(result))
    assert repr(restored) == text and restored.settings == result.settings


def test_progress_bar_only_when_asked(capsys) -> None:
    power_simulation(6, 5, 0.1, 0.3, n_sims=20, seed=1, method="ols")
    assert capsys.readouterr().err == ""
    power_simulation(6, 5, 0.1, 0.3, n_sims=20, seed=1, method="ols", progress=True)
    assert "power (ols)" in capsys.readouterr().err


def test_power_curve_over_clusters_and_cluster_sizes() -> None:
    analytic = power_curve([6, 10, 14], [10, 40], 0.2, 0.5)
    assert list(analytic.columns) == ["n_clusters", "cluster_size", "n_total", "icc", "effect_size",
                                      "design_effect", "power"]
    assert len(analytic) == 6
    row = analytic.iloc[3]
    assert row["power"] == power_analytic(int(row["n_clusters"]), int(row["cluster_size"]), 0.2, 0.5)
    simulated = power_curve(10, [5, 20], 0.2, 0.5, method="ols", n_sims=50, seed=8)
    assert list(simulated.columns)[-3:] == ["conf_low", "conf_high", "n_sims"]
    again = power_curve(10, [5, 20], 0.2, 0.5, method="ols", n_sims=50, seed=8)
    pd.testing.assert_frame_equal(simulated, again)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_sims": 0}, "n_sims"),
        ({"icc": 1.0}, "icc"),
        ({"icc": -0.1}, "icc"),
        ({"n_clusters": 2}, "n_clusters"),
        ({"n_clusters": 9}, "n_clusters"),
        ({"cluster_size": 0}, "cluster_size"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"method": "bayes"}, "method"),
        ({"backend": "threads"}, "backend"),
        ({"n_jobs": 0}, "n_jobs"),
        ({"cluster_size": 1}, "cluster_size >= 2"),
        ({"effect_size": float("nan")}, "effect_size"),
    ],
)
def test_impossible_settings_are_refused(arguments: dict, message: str) -> None:
    settings = {"n_clusters": 10, "cluster_size": 30, "icc": 0.25, "effect_size": 0.5, "n_sims": 10, "seed": 1}
    settings.update(arguments)
    with pytest.raises(ValueError, match=message):
        power_simulation(**settings)


def test_power_curve_refuses_unknown_methods_and_empty_grids() -> None:
    with pytest.raises(ValueError, match="method"):
        power_curve(10, 30, 0.25, 0.5, method="exact")
    with pytest.raises(ValueError, match="n_clusters"):
        power_curve([], 30, 0.25, 0.5)
