"""R's binomial and Poisson random numbers, draw for draw: ``rbinom`` and ``rpois``.

lme4's ``simulate()`` of a binomial or Poisson GLMM calls R's ``rbinom`` and ``rpois``; with an
:class:`~mlmtools.simulate.rng.RRandom` stream the functions here give R's draws exactly,
because they run R's algorithms (``src/nmath/rbinom.c``, ``rpois.c``, ``sexp.c``) on R's
uniforms in R's order:

* **binomial** (Kachitvichyanukul and Schmeiser 1988): with :math:`p' = \\min(p, 1-p)`, when
  :math:`n p' < 30` inversion, walking the probabilities
  :math:`f_0 = (1-p')^n,\\ f_{k} = f_{k-1}\\,(g/k - r)` with :math:`r = p'/(1-p')`,
  :math:`g = r(n+1)` until the uniform falls below the running :math:`f_k` (a fresh uniform
  after 110 steps); otherwise algorithm BTPE (two uniforms per trial, a triangle, a
  parallelogram and two exponential tails, accepted by explicit evaluation or Stirling's
  squeeze). The draw is :math:`n - x` when :math:`p > 1/2`.
* **Poisson** (Ahrens and Dieter 1982): for :math:`\\mu < 10` inversion through a table of
  cumulative probabilities; for :math:`\\mu \\ge 10` a normal draw
  :math:`\\lfloor \\mu + \\sqrt\\mu\\, z \\rfloor`, accepted at once when large enough, else by
  a uniform squeeze, else by the quotient test, with the Laplace "hat" (an exponential and
  a uniform per trial, R's ``exp_rand``) on rejection.

R keeps the set-up of both algorithms in static variables between calls with the same
parameters; recomputing it gives the same numbers, so nothing is cached here. Parameters are
recycled to the number of draws as R recycles them. With a numpy-backed source
(:class:`~mlmtools.simulate.seeding.NumpyRandom`) numpy's own generators are used instead.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from mlmtools.simulate._qnorm import qnorm
from mlmtools.simulate.rng import RRandom, check_count, recycled
from mlmtools.simulate.seeding import NumpyRandom

__all__ = ["rbinom", "rpois"]

_INVERSION_BIG = 134217728.0  # 2**27, R's BIG in norm_rand (inversion)
_M_1_SQRT_2PI = 0.398942280401432677939946059934
_LARGEST_SIZE = 2**31 - 1  # R's INT_MAX: larger sizes take another path in R
# q[k-1] = sum_{j <= k} log(2)^j / j!, R's table in exp_rand (sexp.c), digits as R writes them
_EXP_Q = (0.6931471805599453, 0.9333736875190459, 0.9888777961838675, 0.9984959252914960040,
          0.9998292811061389, 0.9999833164100727, 0.9999985691438767, 0.9999998906925558,
          0.9999999924734159, 0.9999999995283275, 0.9999999999728814, 0.9999999999985598,
          0.9999999999999289, 0.9999999999999968, 0.9999999999999999, 1.0000000000000000)
_FACTORIALS = (1., 1., 2., 6., 24., 120., 720., 5040., 40320., 362880.)
# Ahrens and Dieter's coefficients of the correction in step F (rpois.c)
_A0, _A1, _A2, _A3 = -0.5, 0.3333333, -0.2500068, 0.2000118
_A4, _A5, _A6, _A7 = -0.1661269, 0.1421878, -0.1384794, 0.1250060


class _Reader:
    """The uniforms of one call, read one at a time (R's ``unif_rand``)."""

    def __init__(self, source: RRandom, expected: int):
        self._lookahead = source.uniform_reader(expected)
        self.next = self._lookahead.next

    def normal(self) -> float:
        """R's ``norm_rand`` by inversion: two uniforms."""
        first = self.next()
        value = math.floor(_INVERSION_BIG * first) + self.next()
        return float(qnorm(value / _INVERSION_BIG))

    def exponential(self) -> float:
        """R's ``exp_rand`` (Ahrens and Dieter 1972, algorithm SA)."""
        shift = 0.0
        u = self.next()
        while u <= 0.0 or u >= 1.0:
            u = self.next()
        while True:
            u += u
            if u > 1.0:
                break
            shift += _EXP_Q[0]
        u -= 1.0
        if u <= _EXP_Q[0]:
            return shift + u
        i = 0
        smallest = self.next()
        while True:
            candidate = self.next()
            smallest = min(smallest, candidate)
            i += 1
            if u <= _EXP_Q[i]:
                break
        return shift + smallest * _EXP_Q[0]

    def finish(self) -> None:
        self._lookahead.finish()


def _binomial_one(size: int, pp: float, reader: _Reader) -> float:
    """One draw of R's ``rbinom(1, size, pp)`` (rbinom.c; variable names as there)."""
    if size == 0 or pp == 0.0:
        return 0.0
    if pp == 1.0:
        return float(size)
    n = size
    p = min(pp, 1.0 - pp)
    q = 1.0 - p
    np_ = n * p
    r = p / q
    g = r * (n + 1)
    if np_ < 30.0:
        qn = _pow_di(q, n)
        while True:
            ix = 0
            f = qn
            u = reader.next()
            while True:
                if u < f:
                    return float(n - ix if pp > 0.5 else ix)
                if ix > 110:
                    break
                u -= f
                ix += 1
                f *= g / ix - r
    ffm = np_ + p
    m = int(ffm)
    fm = float(m)
    npq = np_ * q
    p1 = int(2.195 * math.sqrt(npq) - 4.6 * q) + 0.5
    xm = fm + 0.5
    xl = xm - p1
    xr = xm + p1
    c = 0.134 + 20.5 / (15.3 + fm)
    al = (ffm - xl) / (ffm - xl * p)
    xll = al * (1.0 + 0.5 * al)
    al = (xr - ffm) / (xr * q)
    xlr = al * (1.0 + 0.5 * al)
    p2 = p1 * (1.0 + c + c)
    p3 = p2 + c / xll
    p4 = p3 + c / xlr
    while True:
        u = reader.next() * p4
        v = reader.next()
        if u <= p1:  # triangular region
            ix = int(xm - p1 * v + u)
            break
        if u <= p2:  # parallelogram region
            x = xl + (u - p1) / c
            v = v * c + 1.0 - abs(xm - x) / p1
            if v > 1.0 or v <= 0.0:
                continue
            ix = int(x)
        elif u > p3:  # right tail
            ix = int(xr - math.log(v) / xlr)
            if ix > n:
                continue
            v = v * (u - p3) * xlr
        else:  # left tail
            ix = int(xl + math.log(v) / xll)
            if ix < 0:
                continue
            v = v * (u - p2) * xll
        k = abs(ix - m)
        if k <= 20 or k >= npq / 2 - 1:  # explicit evaluation
            f = 1.0
            if m < ix:
                for i in range(m + 1, ix + 1):
                    f *= g / i - r
            elif m != ix:
                for i in range(ix + 1, m + 1):
                    f /= g / i - r
            if v <= f:
                break
            continue
        # squeezing with bounds on log(f(x)), then Stirling's formula
        amaxp = (k / npq) * ((k * (k / 3.0 + 0.625) + 0.1666666666666) / npq + 0.5)
        ynorm = -(k * k) / (2.0 * npq)
        alv = math.log(v)
        if alv < ynorm - amaxp:
            break
        if alv <= ynorm + amaxp and alv <= _stirling_bound(n, ix, m, fm, xm, p, q):
            break
    return float(n - ix if pp > 0.5 else ix)


def _stirling_bound(n: int, ix: int, m: int, fm: float, xm: float, p: float, q: float) -> float:
    """The right-hand side of BTPE's final acceptance test (Stirling's formula)."""
    x1 = ix + 1.0
    f1 = fm + 1.0
    z = n + 1.0 - fm
    w = n - ix + 1.0
    z2, x2, f2, w2 = z * z, x1 * x1, f1 * f1, w * w
    return (xm * math.log(f1 / x1) + (n - m + 0.5) * math.log(z / w) + (ix - m) * math.log(w * p / (x1 * q))
            + _stirling_term(f2) / f1 / 166320.0 + _stirling_term(z2) / z / 166320.0
            + _stirling_term(x2) / x1 / 166320.0 + _stirling_term(w2) / w / 166320.0)


def _stirling_term(square: float) -> float:
    return 13860.0 - (462.0 - (132.0 - (99.0 - 140.0 / square) / square) / square) / square


def _pow_di(x: float, n: int) -> float:
    """R's ``R_pow_di``: :math:`x^n` by repeated squaring (not ``pow``), as rbinom computes
    :math:`(1-p')^n`."""
    result = 1.0
    while True:
        if n & 1:
            result *= x
        n >>= 1
        if not n:
            return result
        x *= x


def _poisson_one(mu: float, reader: _Reader) -> float:
    """One draw of R's ``rpois(1, mu)`` (rpois.c; variable names as there)."""
    if mu <= 0.0:
        return 0.0
    if mu < 10.0:
        return _poisson_inversion(mu, reader)
    s = math.sqrt(mu)
    d = 6.0 * mu * mu
    big_l = math.floor(mu - 1.1484)
    u = 0.0
    g = mu + s * reader.normal()  # step N
    if g >= 0.0:
        pois = math.floor(g)
        if pois >= big_l:  # step I
            return float(pois)
        fk = float(pois)
        difmuk = mu - fk
        u = reader.next()  # step S
        if d * u >= difmuk * difmuk * difmuk:
            return float(pois)
    omega = _M_1_SQRT_2PI / s  # step P
    b1 = 0.0416666666666666667 / mu
    b2 = 0.3 * b1 * b1
    c3 = 0.1428571428571428571 * b1 * b2
    c2 = b2 - 15.0 * c3
    c1 = b1 - 6.0 * b2 + 45.0 * c3
    c0 = 1.0 - b1 + 3.0 * b2 - 15.0 * c3
    c = 0.1069 / mu
    quotient_test = g >= 0.0
    E = 0.0
    while True:
        if not quotient_test:  # step E
            E = reader.exponential()
            u = 2.0 * reader.next() - 1.0
            t = 1.8 + (abs(E) if u >= 0 else -abs(E))
            if t <= -0.6744:
                continue
            pois = math.floor(mu + s * t)
            fk = float(pois)
            difmuk = mu - fk
        if pois < 10:  # step F
            px = -mu
            py = mu ** pois / _FACTORIALS[int(pois)]
        else:
            delta = 0.0833333333333333333 / fk
            delta = delta * (1.0 - 4.8 * delta * delta)
            v = difmuk / fk
            if abs(v) <= 0.25:
                px = fk * v * v * (((((((_A7 * v + _A6) * v + _A5) * v + _A4) * v + _A3) * v + _A2) * v + _A1) * v
                                   + _A0) - delta
            else:
                px = fk * math.log(1.0 + v) - difmuk - delta
            py = _M_1_SQRT_2PI / math.sqrt(fk)
        x = (0.5 - difmuk) / s
        x *= x
        fx = -0.5 * x
        fy = omega * (((c3 * x + c2) * x + c1) * x + c0)
        if quotient_test:  # step Q
            if fy - u * fy <= py * math.exp(px - fx):
                return float(pois)
            quotient_test = False
        elif c * abs(u) <= py * math.exp(px + E) - fy * math.exp(fx + E):  # step H
            return float(pois)


def _poisson_inversion(mu: float, reader: _Reader) -> float:
    """Ahrens and Dieter's table lookup for :math:`\\mu < 10` (cumulative probabilities up
    to 35, a new uniform when the draw lies beyond)."""
    p0 = p = q = math.exp(-mu)
    table = [q]
    while True:
        u = reader.next()
        if u <= p0:
            return 0.0
        for k in range(1, 36):
            if k == len(table):
                p *= mu / k
                q += p
                table.append(q)
            if u <= table[k]:
                return float(k)


def _as_sizes(size: ArrayLike, n: int) -> NDArray[np.float64]:
    sizes = recycled(size, n, "size")
    if np.any(sizes < 0) or np.any(sizes != np.floor(sizes)) or np.any(sizes >= _LARGEST_SIZE):
        raise ValueError(f"size must hold non-negative whole numbers below {_LARGEST_SIZE}")
    return sizes


def rbinom(source: RRandom | NumpyRandom, n: int, size: ArrayLike, prob: ArrayLike) -> NDArray[np.float64]:
    """Binomial draws, as R's ``rbinom(n, size, prob)`` (see the module docstring).

    Parameters
    ----------
    source : ~mlmtools.simulate.rng.RRandom or ~mlmtools.simulate.seeding.NumpyRandom
        The stream (R's draws from an ``RRandom``, numpy's from a ``NumpyRandom``).
    n : int
        Number of draws.
    size, prob : float or array_like
        Numbers of trials (whole numbers) and success probabilities in [0, 1], recycled to
        ``n`` as R recycles them.

    Returns
    -------
    numpy.ndarray
        ``n`` counts of successes, as floats.

    Raises
    ------
    ValueError
        For a size that is negative or not a whole number, or a probability outside [0, 1].

    Examples
    --------
    >>> rbinom(RRandom(1), 5, size=10, prob=0.3).tolist()  # R: set.seed(1); rbinom(5, 10, 0.3)
    [2.0, 2.0, 3.0, 5.0, 2.0]
    """
    n = check_count(n, "n")
    sizes = _as_sizes(size, n)
    probs = recycled(prob, n, "prob")
    if np.any((probs < 0) | (probs > 1)):
        raise ValueError("prob must lie in [0, 1]")
    if isinstance(source, NumpyRandom):
        return source.generator.binomial(sizes.astype(np.int64), probs).astype(float)
    reader = _Reader(source, n)
    try:
        return np.array([_binomial_one(int(s), float(p), reader) for s, p in zip(sizes, probs)], dtype=float)
    finally:
        reader.finish()


def rpois(source: RRandom | NumpyRandom, n: int, mu: ArrayLike) -> NDArray[np.float64]:
    """Poisson draws, as R's ``rpois(n, lambda)`` (see the module docstring).

    Parameters
    ----------
    source : ~mlmtools.simulate.rng.RRandom or ~mlmtools.simulate.seeding.NumpyRandom
        The stream (R's draws from an ``RRandom``, numpy's from a ``NumpyRandom``).
    n : int
        Number of draws.
    mu : float or array_like
        Non-negative means, recycled to ``n``.

    Returns
    -------
    numpy.ndarray
        ``n`` counts, as floats.

    Raises
    ------
    ValueError
        For a negative or non-finite mean.

    Examples
    --------
    >>> rpois(RRandom(1), 5, mu=[2.5, 40]).tolist()  # R: set.seed(1); rpois(5, c(2.5, 40))
    [1.0, 37.0, 1.0, 48.0, 3.0]
    """
    n = check_count(n, "n")
    means = recycled(mu, n, "mu")
    if np.any(means < 0):
        raise ValueError("mu must be non-negative")
    if isinstance(source, NumpyRandom):
        return source.generator.poisson(means).astype(float)
    reader = _Reader(source, 2 * n)
    try:
        return np.array([_poisson_one(float(m), reader) for m in means], dtype=float)
    finally:
        reader.finish()
