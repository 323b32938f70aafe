"""RRandom against R's own draws (tests/fixtures/rng-reference.json, made by
R 4.2.2 with the script in its header; doubles stored with 17 significant digits).

Every comparison is exact equality of float64 values, not approximate.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlmtools.simulate._qnorm import qnorm
from mlmtools.simulate.rng import RRandom
from mlmtools.simulate.seeding import NumpyRandom, RandomSource, as_generator

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rng-reference.json"
REFERENCE = json.loads(FIXTURE.read_text())
SEEDS = [1, 42, 2026, -5, 123456789]


def doubles(seed: int, key: str) -> np.ndarray:
    return np.array([float(text) for text in REFERENCE[str(seed)][key]])


def integers(seed: int, key: str) -> np.ndarray:
    return np.array(REFERENCE[str(seed)][key], dtype=np.int64)


def assert_bit_identical(actual: np.ndarray, expected: np.ndarray) -> None:
    assert actual.dtype == np.float64
    assert actual.shape == expected.shape
    mismatches = np.flatnonzero(actual != expected)
    assert mismatches.size == 0, f"{mismatches.size} draws differ, first at {mismatches[:5]}"


def test_fixture_is_from_rs_default_generator():
    assert REFERENCE["RNGkind"] == ["Mersenne-Twister", "Inversion", "Rejection"]


@pytest.mark.parametrize("seed", SEEDS)
def test_runif_matches_r(seed):
    assert_bit_identical(RRandom(seed).runif(1000), doubles(seed, "runif"))


@pytest.mark.parametrize("seed", SEEDS)
def test_rnorm_matches_r(seed):
    assert_bit_identical(RRandom(seed).rnorm(1000), doubles(seed, "rnorm"))


@pytest.mark.parametrize("seed", SEEDS)
def test_rnorm_with_mean_and_sd_matches_r(seed):
    assert_bit_identical(RRandom(seed).rnorm(5, mean=50, sd=3), doubles(seed, "rnorm_mean50_sd3"))


@pytest.mark.parametrize("seed", SEEDS)
def test_permutation_matches_r(seed):
    np.testing.assert_array_equal(RRandom(seed).sample(100), integers(seed, "sample_100"))


@pytest.mark.parametrize("seed", SEEDS)
def test_sample_with_replacement_matches_r(seed):
    drawn = RRandom(seed).sample(10, 20, replace=True)
    np.testing.assert_array_equal(drawn, integers(seed, "sample_10_20_replace"))


@pytest.mark.parametrize("seed", SEEDS)
def test_mixed_calls_continue_one_stream_as_in_r(seed):
    rng = RRandom(seed)
    drawn = np.concatenate([rng.runif(3), rng.rnorm(3), rng.runif(2, 5, 10)])
    assert_bit_identical(drawn, doubles(seed, "runif3_rnorm3_runif2_5_10"))


@pytest.mark.parametrize("seed", SEEDS)
def test_split_calls_equal_one_long_call(seed):
    whole = RRandom(seed).rnorm(1000)
    rng = RRandom(seed)
    pieces = np.concatenate([rng.rnorm(size) for size in (1, 0, 310, 689)])
    assert_bit_identical(pieces, whole)
    whole_uniform = RRandom(seed).runif(1000)
    rng = RRandom(seed)
    assert_bit_identical(np.concatenate([rng.runif(999), rng.runif(1)]), whole_uniform)


def replay_partial_shuffle(uniforms: np.ndarray, n: int) -> tuple[list[int], int]:
    """R's sample(n) replayed on a given uniform stream: (the sample, uniforms used)."""
    stream = iter(uniforms.tolist())
    used = 0
    pool = list(range(1, n + 1))
    drawn = []
    for left in range(n, 0, -1):
        bits = int(np.ceil(np.log2(left)))
        while True:
            value = 0
            for _ in range(bits // 16 + 1):
                value = 65536 * value + int(next(stream) * 65536)
                used += 1
            value &= (1 << bits) - 1
            if value < left:
                break
        drawn.append(pool[value])
        pool[value] = pool[left - 1]
    return drawn, used


@pytest.mark.parametrize("seed", SEEDS)
def test_sample_leaves_the_stream_where_r_leaves_it(seed):
    # Replay R's rejection sampling on R's own uniforms (the runif fixture) to count
    # the uniforms sample(100) uses; the next draws must be the ones that follow.
    r_uniforms = doubles(seed, "runif")
    drawn, used = replay_partial_shuffle(r_uniforms, 100)
    rng = RRandom(seed)
    assert rng.sample(100).tolist() == drawn
    assert_bit_identical(rng.runif(5), r_uniforms[used:used + 5])


def test_long_permutation_across_lookahead_blocks():
    # 70,000 items need two 16-bit chunks per candidate and well over one block of
    # uniforms; the replay uses RRandom's runif, checked against R above.
    n = 70_000
    uniforms = RRandom(2026).runif(4 * n)
    drawn, used = replay_partial_shuffle(uniforms, n)
    rng = RRandom(2026)
    assert rng.sample(n).tolist() == drawn
    assert_bit_identical(rng.runif(3), uniforms[used:used + 3])


def test_sample_of_a_sequence_takes_its_elements():
    letters = np.array(list("abcdefghij"))
    expected = letters[RRandom(42).sample(10) - 1]
    np.testing.assert_array_equal(RRandom(42).sample(list("abcdefghij")), expected)


def test_sample_size_and_replacement_shapes():
    rng = RRandom(3)
    assert rng.sample(5, 0).shape == (0,)
    one = rng.sample(7, 1)
    assert one.shape == (1,) and 1 <= one[0] <= 7
    drawn = rng.sample(50, 20)
    assert len(set(drawn.tolist())) == 20 and drawn.min() >= 1 and drawn.max() <= 50


def test_zero_sd_returns_mean_without_consuming_draws():
    drawn = RRandom(1).rnorm(4, mean=[10, 20], sd=[0, 1])
    expected_normals = RRandom(1).rnorm(2)
    assert drawn[0] == 10 and drawn[2] == 10
    assert_bit_identical(drawn[[1, 3]], 20 + expected_normals)


def test_parameters_are_recycled_like_r():
    drawn = RRandom(2026).rnorm(5, mean=[0, 100])
    standard = RRandom(2026).rnorm(5)
    assert_bit_identical(drawn, standard + np.array([0, 100, 0, 100, 0]))


def test_qnorm_agrees_with_scipy_to_rounding():
    from scipy.special import ndtri

    p = np.concatenate([np.linspace(1e-15, 1 - 1e-15, 2001), [1e-300, 0.5, 0.075, 0.925]])
    np.testing.assert_allclose(qnorm(p), ndtri(p), rtol=1e-14, atol=1e-15)


@pytest.mark.parametrize("bad_seed", [1.5, "1", None, True])
def test_non_integer_seed_is_a_type_error(bad_seed):
    with pytest.raises(TypeError, match="seed"):
        RRandom(bad_seed)


def test_seed_outside_r_integer_range_is_a_value_error():
    with pytest.raises(ValueError, match="integer range"):
        RRandom(2**31)


def test_numpy_integer_seed_is_accepted():
    assert_bit_identical(RRandom(np.int64(42)).runif(3), doubles(42, "runif")[:3])


@pytest.mark.parametrize("method", ["runif", "rnorm"])
def test_negative_n_is_a_value_error(method):
    with pytest.raises(ValueError, match="non-negative"):
        getattr(RRandom(1), method)(-1)


def test_bad_distribution_parameters_are_value_errors():
    with pytest.raises(ValueError, match="sd >= 0"):
        RRandom(1).rnorm(3, sd=-1)
    with pytest.raises(ValueError, match="finite"):
        RRandom(1).rnorm(3, mean=np.nan)
    with pytest.raises(ValueError, match="max >= min"):
        RRandom(1).runif(3, 2, 1)


def test_sample_errors():
    with pytest.raises(ValueError, match="without replacement"):
        RRandom(1).sample(5, 6)
    with pytest.raises(ValueError, match=">= 1"):
        RRandom(1).sample(0)
    with pytest.raises(ValueError, match="empty"):
        RRandom(1).sample([])
    with pytest.raises(ValueError, match="non-negative"):
        RRandom(1).sample(5, -1, replace=True)
    with pytest.raises(TypeError, match="integer"):
        RRandom(1).sample(5, 2.5)


def test_large_population_sampling_gives_distinct_indices():
    drawn = RRandom(9).sample(20_000_000, 1000)
    assert len(set(drawn.tolist())) == 1000
    assert drawn.min() >= 1 and drawn.max() <= 20_000_000


# --- mlmtools.simulate.seeding.as_generator -------------------------------------------------


def test_as_generator_int_is_rs_stream():
    assert_bit_identical(as_generator(2026).rnorm(1000), doubles(2026, "rnorm"))


def test_as_generator_passes_rrandom_through_and_continues_it():
    rng = RRandom(1)
    assert as_generator(rng) is rng
    first = as_generator(rng).runif(3)
    second = as_generator(rng).runif(3)
    assert_bit_identical(np.concatenate([first, second]), doubles(1, "runif")[:6])


def test_as_generator_none_gives_a_reproducible_r_stream():
    rng = as_generator(None)
    assert isinstance(rng, RRandom)
    assert_bit_identical(rng.runif(4), RRandom(rng.seed).runif(4))


def test_as_generator_wraps_numpy_generator():
    source = as_generator(np.random.default_rng(5))
    assert isinstance(source, NumpyRandom) and isinstance(source, RandomSource)
    expected = np.random.default_rng(5).normal(np.zeros(4), np.ones(4))
    np.testing.assert_array_equal(source.rnorm(4), expected)
    drawn = source.sample(10, 10)
    assert sorted(drawn.tolist()) == list(range(1, 11))
    assert source.runif(3, 5, 6).min() >= 5
    with pytest.raises(ValueError, match="without replacement"):
        source.sample(3, 4)


@pytest.mark.parametrize("bad", [1.0, "seed", np.random.RandomState(0), False])
def test_as_generator_rejects_other_types(bad):
    with pytest.raises(TypeError, match="seed must be"):
        as_generator(bad)


def test_docstring_examples_run():
    import doctest

    import mlmtools.simulate.rng
    import mlmtools.simulate.seeding

    for module in (mlmtools.simulate.rng, mlmtools.simulate.seeding):
        outcome = doctest.testmod(module)
        assert outcome.attempted > 0 and outcome.failed == 0
