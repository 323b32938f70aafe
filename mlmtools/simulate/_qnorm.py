"""The standard normal quantile function exactly as R computes it.

R's ``qnorm()`` (``src/nmath/qnorm.c``, R < 4.3 and, for every probability a
uniform draw can produce, R >= 4.3 too) evaluates Wichura's algorithm AS 241
(PPND16, *Applied Statistics* 37, 1988): three rational approximations of
degree 7, chosen by the distance of ``p`` from 0.5. This module evaluates the
same polynomials in the same order with the same coefficients, so every result
is bit-identical to R's. ``scipy.special.ndtri`` uses another algorithm and can
differ from R in the last bit, which is why R's random normals need this one.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

# Coefficients of AS 241, highest power first, exactly as R's qnorm.c writes them
# (R's leading denominator coefficient 5226.495278852854561 differs from the
# published 5226.495278852545925; R's value is kept, since R's draws use it).
# Central region |p - 0.5| <= 0.425, in r = 0.180625 - q^2.
_CENTRAL_NUM = (
    2509.0809287301226727, 33430.575583588128105, 67265.770927008700853,
    45921.953931549871457, 13731.693765509461125, 1971.5909503065514427,
    133.14166789178437745, 3.387132872796366608,
)
_CENTRAL_DEN = (
    5226.495278852854561, 28729.085735721942674, 39307.89580009271061,
    21213.794301586595867, 5394.1960214247511077, 687.1870074920579083,
    42.313330701600911252, 1.0,
)
# Intermediate tail, r = sqrt(-log(min(p, 1 - p))) <= 5, in r - 1.6.
_TAIL_NUM = (
    7.7454501427834140764e-4, 0.0227238449892691845833, 0.24178072517745061177,
    1.27045825245236838258, 3.64784832476320460504, 5.7694972214606914055,
    4.6303378461565452959, 1.42343711074968357734,
)
_TAIL_DEN = (
    1.05075007164441684324e-9, 5.475938084995344946e-4, 0.0151986665636164571966,
    0.14810397642748007459, 0.68976733498510000455, 1.6763848301838038494,
    2.05319162663775882187, 1.0,
)
# Far tail, r > 5 (min(p, 1 - p) < exp(-25)), in r - 5.
_FAR_NUM = (
    2.01033439929228813265e-7, 2.71155556874348757815e-5, 0.0012426609473880784386,
    0.026532189526576123093, 0.29656057182850489123, 1.7848265399172913358,
    5.4637849111641143699, 6.6579046435011037772,
)
_FAR_DEN = (
    2.04426310338993978564e-15, 1.4215117583164458887e-7, 1.8463183175100546818e-5,
    7.868691311456132591e-4, 0.0148753612908506148525, 0.13692988092273580531,
    0.59983220655588793769, 1.0,
)


def _horner(coefficients: tuple[float, ...], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """Evaluate a polynomial (highest power first) as ``(c0*x + c1)*x + ...``, R's order."""
    value = np.full_like(x, coefficients[0])
    for coefficient in coefficients[1:]:
        value = value * x + coefficient
    return value


def _libm_log(values: NDArray[np.float64]) -> NDArray[np.float64]:
    """Natural logarithm through the C library, as R calls it.

    numpy may use its own SIMD logarithm, which is allowed to differ from the C
    library's in the last bit; ``math.log`` is the C library's ``log``.
    """
    return np.fromiter(map(math.log, values.tolist()), dtype=np.float64, count=values.size)


def qnorm(p: NDArray[np.float64] | float) -> NDArray[np.float64]:
    r"""Standard normal quantile :math:`\Phi^{-1}(p)`, bit-identical to R's ``qnorm(p)``.

    With :math:`q = p - 1/2`, Wichura's AS 241 computes

    .. math::

        \Phi^{-1}(p) =
        \begin{cases}
          q \, A(r) / B(r), \quad r = 0.180625 - q^2 & |q| \le 0.425, \\
          \operatorname{sign}(q) \, C(r - 1.6) / D(r - 1.6) & r = \sqrt{-\log \min(p, 1-p)} \le 5, \\
          \operatorname{sign}(q) \, E(r - 5) / F(r - 5) & \text{otherwise,}
        \end{cases}

    with polynomials :math:`A, \dots, F` of degree 7.

    Parameters
    ----------
    p : array_like of float
        Probabilities, strictly between 0 and 1.

    Returns
    -------
    numpy.ndarray
        Quantiles, same shape as ``p``.

    Raises
    ------
    ValueError
        If a probability is not strictly inside (0, 1).
    """
    p = np.asarray(p, dtype=np.float64)
    if not np.all((p > 0.0) & (p < 1.0)):
        raise ValueError("qnorm needs probabilities strictly between 0 and 1")
    q = p - 0.5
    result = np.empty_like(p)

    central = np.abs(q) <= 0.425
    qc = q[central]
    rc = 0.180625 - qc * qc
    result[central] = qc * _horner(_CENTRAL_NUM, rc) / _horner(_CENTRAL_DEN, rc)

    tail = ~central
    pt, qt = p[tail], q[tail]
    smaller = np.where(qt < 0.0, pt, 0.5 - pt + 0.5)
    r = np.sqrt(-_libm_log(smaller))
    value = np.empty_like(r)
    near = r <= 5.0
    rn = r[near] - 1.6
    value[near] = _horner(_TAIL_NUM, rn) / _horner(_TAIL_DEN, rn)
    rf = r[~near] - 5.0
    value[~near] = _horner(_FAR_NUM, rf) / _horner(_FAR_DEN, rf)
    result[tail] = np.where(qt < 0.0, -value, value)
    return result
