"""mlmtools.simulate.clustering: the lecture's worked example and R's numbers for the prevention data
(tests/fixtures/seed-reference.json, produced by tests/fixtures/seed-reference.R)."""

from __future__ import annotations

import doctest
import json
import math
from pathlib import Path

import numpy as np
import pytest

import mlmtools.simulate.clustering
from mlmtools.simulate.clustering import design_effect, effective_n, icc, icc_from_f, se_inflation

SEED_REFERENCE = json.loads((Path(__file__).resolve().parents[1] / "fixtures" / "seed-reference.json").read_text())


def test_docstring_examples_pass():
    outcome = doctest.testmod(mlmtools.simulate.clustering)
    assert outcome.attempted > 0
    assert outcome.failed == 0


def test_worked_example_ten_schools_of_thirty():
    deff = design_effect(30, 0.25)
    assert deff == pytest.approx(1 + 29 * 0.25, rel=1e-15)
    assert effective_n(300, 30, 0.25) == pytest.approx(300 / deff, rel=1e-15)
    assert se_inflation(30, 0.25) == pytest.approx(math.sqrt(deff), rel=1e-15)
    assert round(effective_n(300, 30, 0.25)) == 36


def test_icc_from_variance_components_matches_r():
    between, within = SEED_REFERENCE["prev_vc"]
    assert icc(between, within) == pytest.approx(SEED_REFERENCE["prev_icc"], rel=1e-14)


def test_icc_from_f_matches_reml_icc_for_balanced_data():
    # 5 communities of 4 schools: the ANOVA F ratio gives the REML ICC up to lmer's optimizer tolerance.
    f_ratio = SEED_REFERENCE["prev_anova"]["F"]
    assert icc_from_f(f_ratio, 4) == pytest.approx(SEED_REFERENCE["prev_icc"], rel=1e-7)


def test_icc_from_f_of_one_is_zero_and_below_one_is_negative():
    assert icc_from_f(1.0, 10) == 0.0
    assert icc_from_f(0.5, 10) < 0.0


def test_scalars_give_python_floats():
    for value in (icc(1, 3), icc_from_f(5, 4), design_effect(10, 0.1), effective_n(100, 10, 0.1),
                  se_inflation(10, 0.1)):
        assert type(value) is float


def test_arrays_broadcast():
    sizes = np.array([[1], [11], [31]])
    rhos = np.array([0.0, 0.1, 0.5])
    deff = design_effect(sizes, rhos)
    assert deff.shape == (3, 3)
    np.testing.assert_allclose(deff, 1 + (sizes - 1) * rhos, rtol=1e-15)
    np.testing.assert_allclose(se_inflation(sizes, rhos), np.sqrt(deff), rtol=1e-15)
    np.testing.assert_allclose(effective_n(600, sizes, rhos), 600 / deff, rtol=1e-15)
    np.testing.assert_allclose(icc([1, 3], [3, 1]), [0.25, 0.75], rtol=1e-15)


def test_no_clustering_costs_nothing():
    assert design_effect(50, 0.0) == 1.0
    assert effective_n(500, 50, 0.0) == 500.0
    assert design_effect(1, 0.9) == 1.0


def test_perfect_clustering_leaves_one_observation_per_cluster():
    assert effective_n(300, 30, 1.0) == pytest.approx(10.0, rel=1e-15)


@pytest.mark.parametrize("bad_icc", [-0.01, 1.01, [0.2, 1.5]])
def test_icc_outside_unit_interval_is_rejected(bad_icc):
    with pytest.raises(ValueError, match=r"icc must lie in \[0, 1\]"):
        design_effect(30, bad_icc)


@pytest.mark.parametrize("bad_size", [0, 0.5, -3, [2, 0]])
def test_cluster_size_below_one_is_rejected(bad_size):
    with pytest.raises(ValueError, match="cluster_size must be at least 1"):
        se_inflation(bad_size, 0.2)
    with pytest.raises(ValueError, match="cluster_size must be at least 1"):
        icc_from_f(3.0, bad_size)


def test_negative_variance_is_rejected():
    with pytest.raises(ValueError, match="non-negative"):
        icc(-1.0, 2.0)
    with pytest.raises(ValueError, match="non-negative"):
        icc(1.0, [2.0, -0.1])


def test_both_variances_zero_is_rejected():
    with pytest.raises(ValueError, match="both variances are zero"):
        icc(0.0, 0.0)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_input_is_rejected(bad):
    with pytest.raises(ValueError, match="finite"):
        icc(bad, 1.0)
    with pytest.raises(ValueError, match="finite"):
        design_effect(bad, 0.1)
    with pytest.raises(ValueError, match="finite"):
        effective_n(bad, 10, 0.1)
    with pytest.raises(ValueError, match="finite"):
        icc_from_f(bad, 4)


def test_other_bad_input():
    with pytest.raises(ValueError, match="n must be non-negative"):
        effective_n(-1, 10, 0.1)
    with pytest.raises(ValueError, match="f must be non-negative"):
        icc_from_f(-2.0, 4)
    with pytest.raises(ValueError, match="undefined"):
        icc_from_f(0.0, 1)
    with pytest.raises(TypeError, match="numeric"):
        design_effect("thirty", 0.1)
