"""The one place where randomness enters mlmtools: the seed policy.

Every mlmtools function that draws random numbers (simulations, bootstraps,
permutation tests) takes a single ``seed`` argument and turns it into random sources here.

**One stream** (a study that replays R's loop, replicate after replicate:
:func:`~mlmtools.simulate.type1.simulate_type1`, the balanced fast path): the ``seed`` goes
through :func:`as_generator`. The argument may be

* an ``int``: a fresh :class:`~mlmtools.simulate.rng.RRandom`, i.e. R's
  ``set.seed(seed)``, so the draws are R's;
* ``None``: a fresh :class:`~mlmtools.simulate.rng.RRandom` seeded from the operating
  system's entropy (its ``seed`` attribute records the seed, so the run can be
  repeated);
* an :class:`~mlmtools.simulate.rng.RRandom`: used as it is, so the caller's stream
  continues (two calls with the same object give different draws, as two R calls do);
* a :class:`numpy.random.Generator`: wrapped in :class:`NumpyRandom`, which offers
  the same R-like methods with numpy's algorithms (draws are not R's).

Whatever comes in, the result has the methods ``runif``, ``rnorm`` and ``sample``
of :class:`RandomSource`, so callers need not care which kind they got.

**Independent streams** (a study split over workers: :mod:`mlmtools.simulate.power`): the
``seed`` (an ``int``, ``None`` or a :class:`numpy.random.SeedSequence`) becomes a root
:func:`seed_sequence`, which spawns one child per replicate; :func:`replicate_source` turns a
child into a random source. The result depends on neither the number of workers nor the
backend.

Either way the draws go through the one drawing routine,
:func:`mlmtools.simulate.trials.draw_cluster_components`.
"""

from __future__ import annotations

import numbers
import secrets
from collections.abc import Sequence
from typing import Any, Protocol, TypeAlias, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlmtools.simulate.rng import RRandom, check_count, recycled, sampling_frame

__all__ = ["RandomSource", "NumpyRandom", "as_generator", "seed_sequence", "replicate_source"]

SeedLike: TypeAlias = "int | RRandom | NumpyRandom | np.random.Generator | None"
SeedSequenceLike = int | None | np.random.SeedSequence


@runtime_checkable
class RandomSource(Protocol):
    """What :func:`as_generator` returns: R-like drawing methods."""

    def runif(self, n: int, min: ArrayLike = 0.0, max: ArrayLike = 1.0) -> NDArray[np.float64]:
        """``n`` uniform draws on (min, max)."""

    def rnorm(self, n: int, mean: ArrayLike = 0.0, sd: ArrayLike = 1.0) -> NDArray[np.float64]:
        """``n`` normal draws with the given means and standard deviations."""

    def sample(self, x: int | Sequence[Any] | NDArray[Any], size: int | None = None,
               replace: bool = False) -> NDArray[Any]:
        """A random sample of 1..x (integer ``x``) or of the elements of ``x``."""


class NumpyRandom:
    """R-like methods on top of a :class:`numpy.random.Generator`.

    The arguments, recycling and errors are those of :class:`~mlmtools.simulate.rng.RRandom`;
    the numbers come from numpy's own algorithms and therefore differ from R's.

    Parameters
    ----------
    generator : numpy.random.Generator
        The generator to draw from; its stream is shared with the caller.
    """

    def __init__(self, generator: np.random.Generator) -> None:
        self.generator = generator

    def __repr__(self) -> str:
        return f"NumpyRandom({self.generator!r})"

    def runif(self, n: int, min: ArrayLike = 0.0, max: ArrayLike = 1.0) -> NDArray[np.float64]:
        """``n`` uniform draws on (min, max), bounds recycled to length ``n``."""
        n = check_count(n, "n")
        lower, upper = recycled(min, n, "min"), recycled(max, n, "max")
        if np.any(upper < lower):
            raise ValueError("runif needs max >= min")
        return self.generator.uniform(lower, upper)

    def rnorm(self, n: int, mean: ArrayLike = 0.0, sd: ArrayLike = 1.0) -> NDArray[np.float64]:
        """``n`` normal draws, ``mean`` and ``sd`` recycled to length ``n``."""
        n = check_count(n, "n")
        mu, sigma = recycled(mean, n, "mean"), recycled(sd, n, "sd")
        if np.any(sigma < 0.0):
            raise ValueError("rnorm needs sd >= 0")
        return self.generator.normal(mu, sigma)

    def sample(self, x: int | Sequence[Any] | NDArray[Any], size: int | None = None,
               replace: bool = False) -> NDArray[Any]:
        """A sample of 1..x (integer ``x``) or of the elements of ``x``, as ``RRandom.sample``."""
        elements, population, size = sampling_frame(x, size, replace)
        indices = self.generator.choice(population, size=size, replace=replace)
        if elements is None:
            return indices.astype(np.int64) + 1
        return elements[indices]


def as_generator(seed: SeedLike = None) -> RRandom | NumpyRandom:
    """Turn the ``seed`` argument of a mlmtools function into a random source.

    Parameters
    ----------
    seed : int, None, ~mlmtools.simulate.rng.RRandom or numpy.random.Generator
        See the module documentation: an int gives R's ``set.seed(seed)`` stream,
        ``None`` a fresh R stream from entropy, an ``RRandom`` is used as is and a
        numpy ``Generator`` is wrapped in :class:`NumpyRandom`.

    Returns
    -------
    ~mlmtools.simulate.rng.RRandom or NumpyRandom
        An object with ``runif``, ``rnorm`` and ``sample`` (a :class:`RandomSource`).

    Raises
    ------
    TypeError
        For any other kind of ``seed`` (a float, a string, numpy's legacy ``RandomState``...).

    Examples
    --------
    >>> bool(as_generator(1).runif(1)[0] == RRandom(1).runif(1)[0])
    True
    >>> rng = RRandom(7)
    >>> as_generator(rng) is rng
    True
    """
    if isinstance(seed, (RRandom, NumpyRandom)):
        return seed
    if isinstance(seed, np.random.Generator):
        return NumpyRandom(seed)
    if seed is None:
        return RRandom(secrets.randbelow(2**31 - 1) + 1)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        return RRandom(int(seed))
    raise TypeError(
        "seed must be an int, None, an mlmtools RRandom or a numpy Generator, "
        f"got {type(seed).__name__}"
    )


def seed_sequence(seed: SeedSequenceLike = None) -> np.random.SeedSequence:
    """The root of independent replicate streams: ``SeedSequence(seed)`` (fresh entropy for
    None, kept in its ``entropy``), or the given sequence itself.

    Raises
    ------
    ValueError
        For anything but a non-negative int, None or a SeedSequence.
    """
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, bool) and seed >= 0):
        return np.random.SeedSequence(seed)
    raise ValueError(f"seed must be a non-negative int, None or a numpy SeedSequence, got {seed!r}")


def replicate_source(child: np.random.SeedSequence) -> NumpyRandom:
    """The random source of one replicate: numpy's default generator on a spawned child."""
    return NumpyRandom(np.random.default_rng(child))
