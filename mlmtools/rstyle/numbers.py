"""Numbers as R prints them: rounding, significant digits, and R's ``formatReal``.

The rules every printed number of the package goes through:

* rounding: :func:`round_r` (R >= 4.0 ``round``), :func:`signif`, :func:`zapsmall`;
* one number or a vector: :func:`format_number` (``cat``), :func:`format_vector` (``format``),
  :func:`format_pval` (``format.pval``).

The core is R's ``formatReal`` (``src/main/format.c``): for each value find the fewest
significant digits (at most ``digits``) that show it to ``digits`` significant digits, then
print the whole vector with one number of decimals, or in scientific notation when the
fixed width would exceed the scientific width. R scales by a power of ten in 80-bit long
double before rounding; that step is reproduced here with exact rational arithmetic.

Missing values (NaN, None, ``pd.NA``) print as ``NA``; Python cannot tell R's ``NA`` from
``NaN``. Python integers follow R's integer rules (``100000`` stays fixed), floats R's
double rules (``1e+05``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import overload

import numpy as np
import pandas as pd

DBL_EPSILON: float = float(np.finfo(float).eps)
PRINT_WIDTH: int = 80
_KP_MAX = 27  # largest power of ten R's format.c keeps in its long double table
NUMERIC_KINDS = {"f": False, "i": True, "u": True}  # numpy kinds read directly: is integer?


def as_numeric(x: object) -> tuple[np.ndarray, bool]:
    """Values as a flat float array (NaN where missing) and whether they are integers."""
    if isinstance(x, (np.ndarray, pd.Series, pd.Index)) and isinstance(x.dtype, np.dtype) \
            and x.dtype.kind in NUMERIC_KINDS and x.dtype.itemsize <= 8:
        values = np.asarray(x).ravel().astype(float)
        return values, bool(values.size) and NUMERIC_KINDS[x.dtype.kind]
    if isinstance(x, (list, tuple)) and all(type(v) is float or type(v) is np.float64 for v in x):
        return np.array(x, dtype=float), False
    raw = x.to_numpy(dtype=object) if isinstance(x, (pd.Series, pd.Index)) else np.asarray(x, dtype=object)
    numeric = pd.to_numeric(pd.Series(np.ravel(raw), dtype=object))
    is_integer = numeric.size > 0 and pd.api.types.is_integer_dtype(numeric.dtype)
    return numeric.to_numpy(dtype=float, na_value=np.nan), bool(is_integer)


def _elementwise(rule: Callable[[float, int], float], x: object, digits: int) -> float | np.ndarray:
    """Apply a scalar rounding rule to a scalar or an array, keeping the shape."""
    values = np.asarray(x, dtype=float)
    rounded = np.array([rule(v, digits) for v in values.ravel().tolist()], dtype=float)
    return float(rounded[0]) if values.ndim == 0 else rounded.reshape(values.shape)


def _pow_di(x: float, n: int) -> float:
    """R's ``R_pow_di``: ``x**n`` by repeated squaring in double precision."""
    result = 1.0
    if n < 0:
        n, x = -n, 1.0 / x
    while n:
        if n & 1:
            result *= x
        n >>= 1
        if n:
            x *= x
    return result


def _rint(x: float) -> float:
    """C's ``rint``: nearest integer, ties to even, sign kept (-0.4 -> -0.0)."""
    return math.copysign(float(round(x)), x) if math.isfinite(x) else x


def _round_one(x: float, dig: int) -> float:
    if math.isnan(x) or math.isinf(x) or x == 0.0:
        return x
    if dig == 0:
        return _rint(x)
    sign = -1.0 if x < 0 else 1.0
    x = abs(x)
    if dig > 0 and math.log10(2.0) * (0.5 + (math.frexp(x)[1] - 1)) + dig > 15:
        return sign * x
    if dig > 0:
        pow10 = _pow_di(10.0, dig)
        x10 = pow10 * x
        i10 = math.floor(x10)
        down, up = i10 / pow10, math.ceil(x10) / pow10
    else:
        pow10 = _pow_di(10.0, -dig)
        x10 = x / pow10
        i10 = math.floor(x10)
        down, up = i10 * pow10, math.ceil(x10) * pow10
    dist_up, dist_down = up - x, x - down
    take_up = dist_up < dist_down or (dist_up == dist_down and i10 % 2 == 1)
    return sign * (up if take_up else down)


@overload
def round_r(x: float, digits: float = 0) -> float: ...
@overload
def round_r(x: Sequence[float] | np.ndarray, digits: float = 0) -> np.ndarray: ...
def round_r(x: float | Sequence[float] | np.ndarray, digits: float = 0) -> float | np.ndarray:
    """Round to ``digits`` decimal places as R >= 4.0 ``round(x, digits)`` does.

    Of the two candidates :math:`x_d = \\lfloor 10^d x \\rfloor / 10^d` and
    :math:`x_u = \\lceil 10^d x \\rceil / 10^d` (computed in double precision) the closer
    to ``x`` wins; an exact tie goes to the even last digit. So ``round_r(0.15, 1)`` is
    0.1 (the double 0.15 lies below 0.15) and ``round_r(2.5)`` is 2.

    ``digits`` is itself rounded half up to an integer, as R does; negative values round to
    tens, hundreds, ... NaN and infinities pass through. Returns a float for scalar input,
    else an array of ``x``'s shape.
    """
    return _elementwise(_round_one, x, math.floor(digits + 0.5))


def _signif_one(x: float, digits: int) -> float:
    if math.isnan(x) or math.isinf(x) or x == 0.0 or digits > 22:
        return x
    dig = max(1, digits)
    l10 = math.log10(abs(x))
    if abs(l10) >= 306:  # R rescales twice here; a correctly rounded decimal is as good
        return float(f"{x:.{dig - 1}e}")
    e10 = dig - 1 - math.floor(l10)
    if e10 > 0:  # scale up by an exact power of ten (in two steps below 1e-308)
        extra = _pow_di(10.0, e10 - 308) if e10 > 308 else 1.0
        pow10 = _pow_di(10.0, min(e10, 308))
        return _rint(x * pow10 * extra) / pow10 / extra
    pow10 = _pow_di(10.0, -e10)
    return _rint(x / pow10) * pow10


@overload
def signif(x: float, digits: int = 6) -> float: ...
@overload
def signif(x: Sequence[float] | np.ndarray, digits: int = 6) -> np.ndarray: ...
def signif(x: float | Sequence[float] | np.ndarray, digits: int = 6) -> float | np.ndarray:
    """Round to ``digits`` significant digits, as R's ``signif(x, digits)``.

    .. math:: \\operatorname{signif}(x, d) = 10^{-e}\\,\\operatorname{rint}(10^{e} x),
              \\qquad e = d - 1 - \\lfloor \\log_{10}|x| \\rfloor,

    with the power of ten an exact double whenever possible; ``digits`` below 1 count as 1.
    Returns a float for scalar input, else an array of ``x``'s shape.
    """
    return _elementwise(_signif_one, x, int(digits))


def zapsmall(x: Sequence[float] | np.ndarray, digits: int = 7) -> np.ndarray:
    """Round values that are tiny next to the largest one to zero, as R's ``zapsmall``.

    .. math:: \\operatorname{round}\\bigl(x,\\ \\max(0,\\ d - \\log_{10} m)\\bigr),
              \\qquad m = \\max_i |x_i|,

    with the fractional number of places rounded half up by :func:`round_r` (R 4.2's rule;
    R >= 4.4 takes the ceiling of :math:`\\log_{10} m`, which can keep one place fewer).
    Rounds to ``digits`` places when :math:`m = 0`; all-missing input is returned as is.
    """
    values = np.asarray(x, dtype=float)
    present = ~np.isnan(values)
    if not present.any():
        return values.copy()
    largest = float(np.max(np.abs(values[present])))
    places = max(0.0, digits - math.log10(largest)) if largest > 0 else float(digits)
    return np.asarray(round_r(values, places), dtype=float)


def _long_double(num: int, den: int) -> tuple[int, int]:
    """Round the positive rational ``num / den`` to the nearest 80-bit long double (64-bit
    significand, ties to even), returned exactly as ``(m, e)`` with value :math:`m\\,2^e`."""
    shift = num.bit_length() - den.bit_length() - 64
    if shift >= 0:
        den <<= shift
    else:
        num <<= -shift
    while num >= den << 64:
        shift, den = shift + 1, den << 1
    while num < den << 63:
        shift, num = shift - 1, num << 1
    mantissa, remainder = divmod(num, den)
    if 2 * remainder > den or (2 * remainder == den and mantissa & 1):
        mantissa += 1
    return mantissa, shift


def _as_ratio(mantissa: int, exponent: int) -> tuple[int, int]:
    """:math:`m\\,2^e` as an integer numerator and denominator."""
    return (mantissa << exponent, 1) if exponent >= 0 else (mantissa, 1 << -exponent)


def _scientific(x: float, digits: int) -> tuple[bool, int, int, bool]:
    """R's ``scientific()``: sign, decimal exponent, significant digits needed, and whether
    rounding to ``digits`` digits widens the number (9996 -> 1e+04 at 3 digits).

    R scales :math:`|x|` by :math:`10^{-k}` in long double; the scaling is done here in
    exact integer arithmetic, rounding to a 64-bit significand where R's long double would.
    """
    if x == 0.0:
        return False, 0, 1, False
    r = abs(x)
    kp = math.floor(math.log10(r)) - digits + 1
    num, den = r.as_integer_ratio()
    if abs(kp) < 10:  # 10**|kp| is exact in long double
        if kp > 0:
            den *= 10**kp
        else:
            num *= 10**-kp
    else:
        pow_mantissa, pow_exponent = _long_double(10**kp, 1) if kp > 0 else _long_double(1, 10**-kp)
        den *= pow_mantissa
        if pow_exponent >= 0:
            den <<= pow_exponent
        else:
            num <<= -pow_exponent
    num, den = _as_ratio(*_long_double(num, den))
    if num < 10 ** (digits - 1) * den:
        num, den = _as_ratio(*_long_double(10 * num, den))
        kp -= 1
    alpha, remainder = divmod(num, den)  # nearest integer, ties to even, as nearbyintl
    if 2 * remainder > den or (2 * remainder == den and alpha & 1):
        alpha += 1
    nsig = digits
    while nsig > 0 and alpha % 10 == 0:
        alpha //= 10
        nsig -= 1
    if nsig == 0:
        nsig, kp = 1, kp + 1
    kpower = kp + digits - 1
    rgt = min(max(digits - kpower, 0), _KP_MAX)
    widens = 0 < kpower <= _KP_MAX and r < 10.0**kpower - 0.5 / 10.0**rgt
    return x < 0, kpower, nsig, widens


def _format_real(values: np.ndarray, digits: int, nsmall: int = 0, na_string: str = "NA") -> list[str]:
    """R's ``formatReal`` + ``encodeReal``: a common fixed or scientific format, padded."""
    items = values.tolist()
    finite = [v for v in items if math.isfinite(v)]
    width, decimals, scientific = 0, 0, False
    if finite:
        parts = [_scientific(v, digits) for v in finite]
        neg = any(p[0] for p in parts)
        lefts = [p[1] + 1 - p[3] for p in parts]
        rgt = max(max(p[2] - left for p, left in zip(parts, lefts)), 0)
        mxsl = max(int(p[0]) + max(left, 1) for p, left in zip(parts, lefts))
        if max(lefts) < 0:
            mxsl = 1 + neg
        kpowers = [p[1] for p in parts]
        exp_digits = 2 if max(kpowers) >= 100 or min(kpowers) <= -100 else 1
        mantissa_decimals = max(p[2] for p in parts) - 1
        width_sci = neg + (mantissa_decimals > 0) + mantissa_decimals + 4 + exp_digits
        width_fixed = mxsl + rgt + (rgt != 0)
        if width_fixed <= width_sci:
            if nsmall > rgt:
                rgt = nsmall
                width_fixed = mxsl + rgt + (rgt != 0)
            width, decimals = width_fixed, rgt
        else:
            width, decimals, scientific = width_sci, mantissa_decimals, True
    if len(finite) < len(items):
        if any(math.isnan(v) for v in items):
            width = max(width, len(na_string))
        if math.inf in items:
            width = max(width, 3)
        if -math.inf in items:
            width = max(width, 4)
    layout = f"{{:>{width}.{decimals}{'e' if scientific else 'f'}}}"
    out = []
    for v in items:
        if math.isfinite(v):
            out.append(layout.format(v + 0.0))  # + 0.0 drops the sign of a negative zero, as R
        else:
            out.append((na_string if math.isnan(v) else "Inf" if v > 0 else "-Inf").rjust(width))
    return out


def format_vector(
    x: Sequence[float] | np.ndarray | pd.Series, digits: int = 7, nsmall: int = 0, na_string: str = "NA"
) -> list[str]:
    """Format numbers with one common layout, as R's ``format(x, digits = digits)``.

    For every finite :math:`x_i` let :math:`s_i \\le d` be the fewest significant digits that
    show :math:`x_i` rounded to :math:`d` significant digits, and :math:`k_i` its decimal
    exponent. Fixed notation uses :math:`\\max_i (s_i - k_i - 1)` decimals; it is chosen when
    its width is at most the width of scientific notation with :math:`\\max_i s_i` digits
    (R's ``scipen = 0``). All strings are right-justified to a common width.

    Integer input prints as integers (R's ``formatInteger``); ``nsmall`` is the minimum
    number of decimals in fixed notation; missing values print as ``na_string``.
    Returns one string per value, all of one width.
    """
    if not 1 <= digits <= 22:
        raise ValueError(f"digits must be between 1 and 22 (R's limits), got {digits}")
    values, is_integer = as_numeric(x)
    if not is_integer:
        return _format_real(values, digits, nsmall, na_string)
    texts = [na_string if np.isnan(v) else str(int(v)) for v in values]
    width = max((len(t) for t in texts), default=0)
    return [t.rjust(width) for t in texts]


def format_number(x: float, digits: int = 7) -> str:
    """Format one number as R's ``cat(x)`` or ``format(x)`` shows it.

    Same rule as :func:`format_vector` for a vector of length one: at most ``digits``
    significant digits, trailing zeros dropped, scientific notation only when shorter
    (``format_number(0.00001)`` is ``"1e-05"``, ``format_number(43.2)`` is ``"43.2"``).
    """
    return format_vector([x], digits)[0]


def format_pval(
    pv: Sequence[float] | np.ndarray, digits: int = 5, eps: float = DBL_EPSILON, na_form: str = "NA"
) -> list[str]:
    """Format p-values as R's ``format.pval(pv, digits, eps)``.

    Values :math:`p \\ge 10^{-3}` (and those in :math:`[10^{-4}, 10^{-3})` when ``digits > 1``,
    as R 4.2 groups them) are formatted together, smaller ones together, each group by
    :func:`format_vector` with ``digits``; values below ``eps`` print as
    ``"<"`` followed by ``eps`` to :math:`\\max(1, d - 2)` digits, joined by a space unless
    that is one digit and every other entry is at most 6 characters wide (``"<2e-16"``
    alone, ``"< 2e-16"`` next to ``"3.26e-06"``). The strings are not padded.
    """
    values, _ = as_numeric(pv)
    missing = np.isnan(values)
    present = values[~missing]
    is0 = present < eps
    texts = np.empty(present.size, dtype=object)
    others = present[~is0]
    if others.size:
        exponent = np.floor(np.log10(np.where(others > 0, others, 1e-50)))
        fixed = (exponent >= -3) | ((exponent == -4) & (digits > 1))
        formatted = np.empty(others.size, dtype=object)
        for group in (fixed, ~fixed):
            if group.any():
                formatted[group] = format_vector(others[group], digits)
        texts[~is0] = formatted
    if is0.any():
        eps_digits = max(1, digits - 2)
        if others.size:
            widest = max(len(t) for t in formatted)
            if eps_digits > 1 and eps_digits + 6 > widest:
                eps_digits = max(1, widest - 7)
            sep = "" if eps_digits == 1 and widest <= 6 else " "
        else:
            sep = "" if eps_digits == 1 else " "
        texts[is0] = "<" + sep + format_number(eps, eps_digits)
    result = np.full(values.size, na_form, dtype=object)
    result[~missing] = texts
    return [str(t) for t in result]
