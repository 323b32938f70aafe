"""R's default random number generator, bit for bit.

:class:`RRandom` reproduces the draws of R (>= 3.6) under its default
``RNGkind("Mersenne-Twister", "Inversion", "Rejection")``: the same seed gives
the same ``runif``, ``rnorm`` and ``sample`` results as R, equal as float64 and
not merely close. The course uses it so that a simulation in Python prints the
numbers of the R lecture.

The stream has three layers, each as in R's sources:

1. **Seeding** (``set.seed``, R's ``RNG_Init``): the integer seed, taken modulo
   :math:`2^{32}`, is scrambled by 50 steps of the congruential map
   :math:`s \\leftarrow 69069 s + 1 \\pmod{2^{32}}`; 625 further steps fill R's
   seed vector, whose first entry is replaced by the position 624, so the
   remaining 624 words are the Mersenne-Twister state and the first draw
   regenerates it.
2. **Uniforms** (``unif_rand``): the 32-bit Mersenne-Twister output :math:`y`
   becomes :math:`u = y \\cdot 2^{-32}`; an exact 0 is replaced by
   :math:`2^{-1}/(2^{32}-1)` so that :math:`0 < u < 1`.
3. **Transformations**: normals by inversion of two uniforms, integers in
   ``sample`` by rejection from random bits (see the methods).

numpy's :class:`numpy.random.MT19937` is the same Mersenne Twister; it carries
the state and produces blocks of raw 32-bit words, so long draws are vectorized.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlmtools.simulate._qnorm import qnorm

__all__ = ["RRandom"]

_MT_WORDS = 624
_TWO_POW_M32 = 2.3283064365386963e-10  # 2**-32, the scale of R's MT_genrand
_HALF_INV_2_32_M1 = 0.5 / 4294967295.0  # R's fixup for an exact zero
_INVERSION_BIG = 134217728.0  # 2**27, R's BIG in norm_rand
_R_INT_MAX = 2**31 - 1
_HASH_SAMPLING_ABOVE = 1e7  # sample.int switches to hash rejection above this n


def check_count(value: Any, name: str) -> int:
    """Return ``value`` as a non-negative Python int, or raise a clear error."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}")
    count = int(value)
    if count < 0:
        raise ValueError(f"{name} must be non-negative, got {count}")
    return count


def recycled(values: ArrayLike, n: int, name: str) -> NDArray[np.float64]:
    """Recycle a parameter to length ``n`` the way R recycles (cyclically, no warning)."""
    array = np.asarray(values, dtype=np.float64).ravel()
    if array.size == 0:
        raise ValueError(f"{name} must have at least one value")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} must be finite")
    if array.size == 1:
        return np.full(n, array[0])
    return np.resize(array, n)


def sampling_frame(x: Any, size: int | None, replace: bool) -> tuple[NDArray[Any] | None, int, int]:
    """Check ``sample``'s arguments; return (elements or None for 1..x, population, size)."""
    if isinstance(x, bool):
        raise TypeError("x must be a positive integer or a sequence, got bool")
    if isinstance(x, numbers.Integral):
        population = int(x)
        if population < 1:
            raise ValueError(f"an integer x must be >= 1 (sample from 1..x), got {population}")
        elements = None
    else:
        elements = np.asarray(x)
        if elements.ndim != 1:
            raise ValueError("x must be one-dimensional")
        population = elements.size
        if population == 0:
            raise ValueError("cannot sample from an empty sequence")
    size = population if size is None else check_count(size, "size")
    if not replace and size > population:
        raise ValueError(
            f"cannot take a sample of size {size} from a population of {population} "
            "without replacement; use replace=True"
        )
    return elements, population, size


def _initial_state(seed: int) -> NDArray[np.uint32]:
    """The 624 Mersenne-Twister words that R's ``set.seed(seed)`` leaves behind."""
    mask = 0xFFFFFFFF
    scrambled = seed & mask
    for _ in range(50):
        scrambled = (69069 * scrambled + 1) & mask
    words = np.empty(_MT_WORDS + 1, dtype=np.uint32)
    for index in range(_MT_WORDS + 1):
        scrambled = (69069 * scrambled + 1) & mask
        words[index] = scrambled
    # words[0] is R's position counter (dummy[0]); FixupSeeds sets it to 624.
    return words[1:]


class _UniformLookahead:
    """Sequential access to upcoming uniforms for algorithms that reject draws.

    Uniforms are drawn ahead in blocks; :meth:`finish` rewinds the generator and
    advances it by exactly the number consumed, so the stream stays R's.
    """

    _LARGEST_BLOCK = 1 << 16

    def __init__(self, owner: RRandom, expected: int) -> None:
        self._owner = owner
        self._saved_state = owner._bitgen.state
        self._block_size = min(max(64, expected), self._LARGEST_BLOCK)
        self._block: list[float] = []
        self._index = 0
        self._consumed = 0

    def next(self) -> float:
        if self._index == len(self._block):
            self._block = self._owner._uniforms(self._block_size).tolist()
            self._index = 0
        value = self._block[self._index]
        self._index += 1
        self._consumed += 1
        return value

    def finish(self) -> None:
        self._owner._bitgen.state = self._saved_state
        self._owner._bitgen.random_raw(self._consumed)


def _bits_needed(dn: float) -> int:
    """R's ``bits = (int) ceil(log2(dn))`` for the population size ``dn``."""
    return math.ceil(math.log2(dn))


def _unif_index(dn: float, uniforms: _UniformLookahead) -> int:
    """R's ``R_unif_index``: a uniform integer in ``0 .. dn - 1`` by rejection.

    ``rbits(bits)`` builds :math:`v \\leftarrow 65536 v + \\lfloor 65536 u \\rfloor`
    from ``bits // 16 + 1`` uniforms and keeps the low ``bits`` bits; candidates
    :math:`v \\ge dn` are rejected.
    """
    bits = _bits_needed(dn)
    mask = (1 << bits) - 1
    while True:
        value = 0
        for _ in range(bits // 16 + 1):
            value = 65536 * value + math.floor(uniforms.next() * 65536)
        value &= mask
        if value < dn:
            return value


class RRandom:
    r"""R's random number generator with R's default settings.

    ``RRandom(seed)`` is R's ``set.seed(seed)``; each method continues the same
    stream, so successive calls give what successive R calls give.

    Parameters
    ----------
    seed : int
        An integer in R's range :math:`[-(2^{31}-1), 2^{31}-1]`, as ``set.seed`` takes.

    Raises
    ------
    TypeError
        If ``seed`` is not an integer (a float such as 1.5 is refused rather than truncated).
    ValueError
        If ``seed`` is outside R's integer range.

    Examples
    --------
    >>> rng = RRandom(1)
    >>> rng.runif(3).round(7).tolist()  # R: set.seed(1); runif(3)
    [0.2655087, 0.3721239, 0.5728534]
    >>> rng.rnorm(3).round(7).tolist()  # continues the stream: R's next rnorm(3)
    [1.3297993, 1.2724293, 0.4146414]
    """

    def __init__(self, seed: int) -> None:
        if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
            raise TypeError(f"seed must be an integer, as in R's set.seed(), got {type(seed).__name__}")
        seed = int(seed)
        if abs(seed) > _R_INT_MAX:
            raise ValueError(f"seed must be in R's integer range [-{_R_INT_MAX}, {_R_INT_MAX}], got {seed}")
        self.seed: int = seed
        self._bitgen: np.random.MT19937 = np.random.MT19937()
        self._bitgen.state = {
            "bit_generator": "MT19937",
            "state": {"key": _initial_state(seed), "pos": _MT_WORDS},
        }

    def __repr__(self) -> str:
        return f"RRandom(seed={self.seed})"

    def _uniforms(self, count: int) -> NDArray[np.float64]:
        """R's ``unif_rand`` ``count`` times: :math:`y 2^{-32}` with an exact 0 moved inside (0, 1)."""
        raw = self._bitgen.random_raw(count).astype(np.float64)
        uniforms = raw * _TWO_POW_M32
        uniforms[raw == 0.0] = _HALF_INV_2_32_M1
        return uniforms

    def uniform_reader(self, expected: int) -> _UniformLookahead:
        """R's ``unif_rand()`` one draw at a time, for algorithms that reject draws (R's
        ``rbinom`` and ``rpois``, :mod:`mlmtools.simulate.discrete_draws`): call ``next()`` for
        each uniform and ``finish()`` at the end, which leaves the stream just after the last
        uniform read. ``expected`` (a guess of how many will be read) sets the block size."""
        return _UniformLookahead(self, expected)

    def _standard_normals(self, count: int) -> NDArray[np.float64]:
        """R's ``norm_rand`` by inversion ``count`` times, two uniforms each."""
        uniforms = self._uniforms(2 * count)
        first, second = uniforms[0::2], uniforms[1::2]
        u = np.floor(_INVERSION_BIG * first) + second
        return qnorm(u / _INVERSION_BIG)

    def runif(self, n: int, min: ArrayLike = 0.0, max: ArrayLike = 1.0) -> NDArray[np.float64]:
        r"""Uniform draws on (min, max), as R's ``runif(n, min, max)``.

        Each value is :math:`a + (b - a) u` with one uniform :math:`u`; where
        :math:`a = b` the value is :math:`a` and, as in R, no uniform is used.
        ``min`` and ``max`` may be arrays, recycled to length ``n`` as R recycles.

        Parameters
        ----------
        n : int
            Number of draws (non-negative).
        min, max : float or array_like of float
            Finite bounds with ``max >= min``.

        Returns
        -------
        numpy.ndarray
            ``n`` float64 draws.

        Raises
        ------
        ValueError
            For negative ``n``, non-finite bounds or ``max < min``.
        """
        n = check_count(n, "n")
        lower, upper = recycled(min, n, "min"), recycled(max, n, "max")
        if np.any(upper < lower):
            raise ValueError("runif needs max >= min")
        result = lower.copy()
        varying = upper > lower
        width = upper[varying] - lower[varying]
        result[varying] = lower[varying] + width * self._uniforms(int(varying.sum()))
        return result

    def rnorm(self, n: int, mean: ArrayLike = 0.0, sd: ArrayLike = 1.0) -> NDArray[np.float64]:
        r"""Normal draws, as R's ``rnorm(n, mean, sd)`` with the Inversion method.

        Each standard normal uses two uniforms :math:`u_1, u_2`:

        .. math::

            z = \Phi^{-1}\!\left(\frac{\lfloor 2^{27} u_1 \rfloor + u_2}{2^{27}}\right),
            \qquad x = \mu + \sigma z,

        with :math:`\Phi^{-1}` R's own ``qnorm`` (AS 241). Where :math:`\sigma = 0`
        the value is :math:`\mu` and, as in R, no uniform is used. ``mean`` and
        ``sd`` may be arrays, recycled to length ``n`` as R recycles.

        Parameters
        ----------
        n : int
            Number of draws (non-negative).
        mean : float or array_like of float
            Finite means.
        sd : float or array_like of float
            Finite, non-negative standard deviations.

        Returns
        -------
        numpy.ndarray
            ``n`` float64 draws.

        Raises
        ------
        ValueError
            For negative ``n``, non-finite parameters or a negative ``sd``.
        """
        n = check_count(n, "n")
        mu, sigma = recycled(mean, n, "mean"), recycled(sd, n, "sd")
        if np.any(sigma < 0.0):
            raise ValueError("rnorm needs sd >= 0")
        result = mu.copy()
        spread = sigma > 0.0
        result[spread] = mu[spread] + sigma[spread] * self._standard_normals(int(spread.sum()))
        return result

    def sample(self, x: int | Sequence[Any] | NDArray[Any], size: int | None = None,
               replace: bool = False) -> NDArray[Any]:
        r"""Random sample, as R's ``sample(x, size, replace)`` with the Rejection method.

        Indices come from R's ``R_unif_index(n)``: with :math:`b = \lceil \log_2 n \rceil`,
        a candidate is built from :math:`\lfloor b/16 \rfloor + 1` uniforms as
        :math:`v \leftarrow 65536 v + \lfloor 65536 u \rfloor`, reduced to its low
        :math:`b` bits, and rejected while :math:`v \ge n`. Without replacement R
        draws a partial Fisher-Yates shuffle: at step :math:`i` an index
        :math:`j < n - i` is picked, the element at :math:`j` is taken and replaced
        by the last remaining element. (For :math:`n > 10^7` and a size of at most
        :math:`n/2`, R instead redraws duplicates; so does this method.)

        Parameters
        ----------
        x : int or sequence
            An integer :math:`n \ge 1` samples from :math:`1, \dots, n`; a sequence
            (list, array, ...) samples its elements. Unlike R, a one-element
            sequence is sampled as a sequence.
        size : int, optional
            Number of items; by default the population size.
        replace : bool
            Sample with replacement.

        Returns
        -------
        numpy.ndarray
            The sample: 1-based integers for an integer ``x``, else elements of ``x``.

        Raises
        ------
        ValueError
            For an integer ``x < 1``, an empty sequence, a negative ``size`` or a
            ``size`` larger than the population without replacement.
        """
        elements, population, size = sampling_frame(x, size, replace)
        if replace or size < 2:
            indices = self._indices_with_replacement(population, size)
        elif population > _HASH_SAMPLING_ABOVE and size <= population / 2:
            indices = self._indices_redrawing_duplicates(population, size)
        else:
            indices = self._indices_partial_shuffle(population, size)
        if elements is None:
            return indices + 1
        return elements[indices]

    def _indices_with_replacement(self, population: int, size: int) -> NDArray[np.int64]:
        """``size`` calls of ``R_unif_index(population)``, vectorized over candidates."""
        bits = _bits_needed(population)
        chunks = bits // 16 + 1
        accepted: list[NDArray[np.int64]] = []
        missing = size
        while missing > 0:
            # Each candidate uses exactly `chunks` uniforms and at most `missing`
            # candidates can be accepted, so nothing beyond R's stream is consumed.
            blocks = np.floor(self._uniforms(missing * chunks) * 65536).astype(np.int64)
            blocks = blocks.reshape(missing, chunks)
            candidates = np.zeros(missing, dtype=np.int64)
            for column in range(chunks):
                candidates = 65536 * candidates + blocks[:, column]
            candidates &= (1 << bits) - 1
            kept = candidates[candidates < population]
            accepted.append(kept)
            missing -= kept.size
        return np.concatenate(accepted) if accepted else np.empty(0, dtype=np.int64)

    def _indices_partial_shuffle(self, population: int, size: int) -> NDArray[np.int64]:
        """R's ``do_sample`` without replacement: a partial Fisher-Yates shuffle."""
        remaining = list(range(population))
        uniforms = _UniformLookahead(self, 2 * size * (_bits_needed(population) // 16 + 1))
        chosen = np.empty(size, dtype=np.int64)
        left = population
        for i in range(size):
            j = _unif_index(left, uniforms)
            chosen[i] = remaining[j]
            left -= 1
            remaining[j] = remaining[left]
        uniforms.finish()
        return chosen

    def _indices_redrawing_duplicates(self, population: int, size: int) -> NDArray[np.int64]:
        """R's ``sample2`` (large populations): draw indices, redraw duplicates."""
        uniforms = _UniformLookahead(self, 2 * size * (_bits_needed(population) // 16 + 1))
        seen: set[int] = set()
        chosen: list[int] = []
        while len(chosen) < size:
            j = _unif_index(population, uniforms)
            if j not in seen:
                seen.add(j)
                chosen.append(j)
        uniforms.finish()
        return np.asarray(chosen, dtype=np.int64)
