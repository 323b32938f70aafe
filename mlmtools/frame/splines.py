r"""Spline bases as R's ``splines::bs`` and ``splines::ns`` build them.

A B-spline basis of order :math:`m` (degree :math:`m - 1`) on the knot sequence
:math:`t` (each boundary knot repeated :math:`m` times around the interior knots) has the
functions :math:`B_{j,m}` of de Boor's recursion (R's ``splineDesign``). R places the
interior knots at quantiles of the data (type 7, the default of ``quantile``) at
probabilities :math:`1/(K+1), \dots, K/(K+1)`, with :math:`K` chosen from ``df``.

* ``bs``: the :math:`K + m` functions, without the first unless ``intercept=TRUE``; beyond the
  boundary knots each function continues as its Taylor polynomial of degree :math:`m - 1` at a
  pivot a quarter of the way from the boundary to the nearest inner knot.
* ``ns``: cubic B-splines constrained to be linear beyond the boundary knots: with
  :math:`C` the second derivatives of the (kept) functions at both boundary knots and
  :math:`C^\top = QR`, the basis is :math:`B Q_{[, 3:]}` (R's ``qr.qty``); beyond the
  boundary each function continues linearly from its value and slope at the boundary knot.

A :class:`SplineBasis` stores what R's ``makepredictcall`` keeps (knots, boundary knots,
intercept, degree), so new data get the training basis.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.interpolate import BSpline


def r_quantile(x: np.ndarray, probs: np.ndarray) -> np.ndarray:
    r"""R's ``quantile(x, probs)`` (type 7): with :math:`x_{(1)} \le \dots \le x_{(n)}`,
    :math:`h = 1 + (n - 1)p`, :math:`l = \lfloor h\rfloor`, the quantile is
    :math:`(1 - (h - l))\,x_{(l)} + (h - l)\,x_{(l+1)}`, and :math:`x_{(l)}` itself when
    :math:`h = l` or the two order statistics are equal (R computes it in that order)."""
    ordered = np.sort(x)
    index = 1 + (ordered.size - 1) * probs
    low = np.floor(index).astype(int)
    high = np.ceil(index).astype(int)
    result: np.ndarray = ordered[low - 1].copy()
    blend = (index > low) & (ordered[high - 1] != result)
    h = (index - low)[blend]
    result[blend] = (1 - h) * result[blend] + h * ordered[high - 1][blend]
    return result


def interior_probabilities(count: int) -> np.ndarray:
    """R's ``seq.int(0, 1, length.out = count + 2)`` without its ends: :math:`i/(count+1)`
    computed as ``i * by`` with ``by = 1/(count + 1)``, as R computes it."""
    step = 1.0 / (count + 1)
    return np.arange(1, count + 1) * step


def spline_design(knots: np.ndarray, x: np.ndarray, order: int, derivative: int = 0) -> np.ndarray:
    """R's ``splineDesign(knots, x, ord, derivs)``: the B-spline functions (or a derivative) of
    the given order at ``x``, which must lie within the boundary knots; shape
    ``(len(x), len(knots) - order)``."""
    count = knots.size - order
    functions = BSpline(knots, np.eye(count), order - 1, extrapolate=False)
    values: np.ndarray = functions(x, nu=derivative) if derivative else functions(x)
    return np.atleast_2d(values)


@dataclass(frozen=True)
class SplineBasis:
    """A spline basis as R's ``makepredictcall`` keeps it for new data.

    Attributes
    ----------
    kind : {"bs", "ns"}
        B-spline or natural spline.
    knots : numpy.ndarray
        Interior knots.
    boundary : tuple of float
        The boundary knots.
    intercept : bool
        Whether the first function is kept.
    degree : int
        The degree (3 for ``ns``).
    """

    kind: str
    knots: np.ndarray
    boundary: tuple[float, float]
    intercept: bool
    degree: int

    @property
    def order(self) -> int:
        """The order of the B-splines (degree + 1)."""
        return self.degree + 1

    @property
    def all_knots(self) -> np.ndarray:
        """Each boundary knot repeated ``order`` times with the interior knots between them (the full knot
        sequence)."""
        ends = np.repeat(np.asarray(self.boundary), self.order)
        return np.sort(np.concatenate([ends, self.knots]))

    @property
    def n_columns(self) -> int:
        """Number of columns of the basis."""
        count = self.knots.size + self.order - (not self.intercept)
        return count - 2 if self.kind == "ns" else count

    def evaluate(self, x: np.ndarray) -> np.ndarray:
        """The basis at ``x`` (NaN rows where ``x`` is missing), shape ``(len(x), n_columns)``."""
        knots = self.all_knots
        result = np.full((x.size, knots.size - self.order), np.nan)
        low, high = self.boundary
        present = ~np.isnan(x)
        inside = present & (x >= low) & (x <= high)
        if inside.any():
            result[inside] = spline_design(knots, x[inside], self.order)
        for beyond, pivot in ((present & (x < low), self._pivot(left=True)),
                              (present & (x > high), self._pivot(left=False))):
            if beyond.any():
                result[beyond] = self._extrapolate(x[beyond], pivot)
        if not self.intercept:
            result = result[:, 1:]
        if self.kind == "ns":
            result = result @ self._natural_constraint()[:, 2:]
        return result

    def _pivot(self, left: bool) -> float:
        """Where the extrapolation starts: the boundary knot for ``ns``; for ``bs`` a quarter of
        the way from the boundary knot to the nearest inner knot of the sequence."""
        boundary = self.boundary[0] if left else self.boundary[1]
        if self.kind == "ns":
            return boundary
        knots = self.all_knots
        inner = float(knots[self.order] if left else knots[knots.size - self.order - 1])
        return 0.75 * boundary + 0.25 * inner

    def _extrapolate(self, x: np.ndarray, pivot: float) -> np.ndarray:
        r""":math:`\sum_d (x - k)^d / d!\; B^{(d)}(k)` over :math:`d = 0..\deg` (``bs``) or
        :math:`d = 0, 1` (``ns``), at the pivot :math:`k`."""
        top = 1 if self.kind == "ns" else self.degree
        knots = self.all_knots
        total = np.zeros((x.size, knots.size - self.order))
        for d in range(top + 1):
            at_pivot = spline_design(knots, np.array([pivot]), self.order, d)[0]
            total += np.outer((x - pivot) ** d, at_pivot / math.factorial(d))
        return total

    def _natural_constraint(self) -> np.ndarray:
        """:math:`Q` of the QR decomposition of the transposed second derivatives at the
        boundary knots (first function dropped unless ``intercept``)."""
        second = spline_design(self.all_knots, np.asarray(self.boundary), self.order, 2)
        if not self.intercept:
            second = second[:, 1:]
        q, _ = np.linalg.qr(second.T, mode="complete")
        return q


def learn_spline(kind: str, x: np.ndarray, df: int | None, knots: np.ndarray | None, degree: int,
                 intercept: bool, boundary: tuple[float, float] | None, label: str) -> SplineBasis:
    """The basis R builds from the fitting data: boundary knots the range of ``x`` unless
    given, interior knots at quantiles of the points within them when only ``df`` is given
    (``df - degree - 1 + (1 - intercept)`` knots for ``bs``, ``df - 1 - intercept`` for ``ns``).

    Raises
    ------
    ValueError
        If ``x`` has fewer than two distinct values, ``df`` is too small for the degree, a
        knot lies outside the boundary knots, or ``x`` has too few distinct values for the
        basis (as many as its columns, plus one without ``intercept``).

    Examples
    --------
    R's ``ns(0:9, df = 3)`` has knots at the thirds of the data; new data beyond the boundary
    knots continue linearly (R's ``predict(ns(0:9, df = 3), c(4.5, 11))``):

    >>> basis = learn_spline("ns", np.arange(10.0), 3, None, 3, False, None, "ns(x, df = 3)")
    >>> basis.knots, basis.boundary
    (array([3., 6.]), (0.0, 9.0))
    >>> basis.evaluate(np.array([4.5, 11.0])).round(6)
    array([[ 0.320473,  0.47608 , -0.296553],
           [-0.857143,  0.571429,  1.285714]])
    """
    finite = x[~np.isnan(x)]
    distinct = np.unique(finite).size
    if distinct < 2:
        raise ValueError(f"{label}: the variable needs at least two distinct values")
    low, high = (float(finite.min()), float(finite.max())) if boundary is None else sorted(boundary)
    if not low < high:
        raise ValueError(f"{label}: the two Boundary.knots must differ")
    if knots is None:
        least = (1 if kind == "ns" else degree) + intercept  # the columns without inner knots
        count = 0 if df is None else df - least
        if count < 0:
            raise ValueError(f"{label}: df must be at least {least}")
        within = finite[(finite >= low) & (finite <= high)]
        knots = r_quantile(within, interior_probabilities(count)) if count else np.empty(0)
    knots = np.sort(np.asarray(knots, dtype=float))
    if ((knots < low) | (knots > high)).any():
        raise ValueError(f"{label}: the knots must lie within the boundary knots "
                         f"({low:g}, {high:g})")
    basis = SplineBasis(kind, knots, (low, high), intercept, 3 if kind == "ns" else degree)
    needed = basis.n_columns + (not intercept)
    if distinct < needed:
        raise ValueError(f"{label}: the variable has {distinct} distinct values; a basis of "
                         f"{basis.n_columns} columns{'' if intercept else ' and the intercept'} "
                         f"needs at least {needed}")
    return basis
