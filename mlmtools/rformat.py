"""Print numbers and tables by R's rules, so Python output reads like the R lecture.

One module owns every rule the course needs to turn a double into the text R shows:

* rounding: :func:`round_r` (R >= 4.0 ``round``), :func:`signif`, :func:`zapsmall`;
* one number or a vector: :func:`format_number` (``cat``), :func:`format_vector` (``format``),
  :func:`format_pval` (``format.pval``);
* tables: :func:`print_coefmat` (``printCoefmat``), :func:`print_anova` (``print.anova``),
  :func:`print_dataframe` (``print.data.frame``), :func:`print_char_matrix` (``print`` of a
  character matrix);
* rounding before printing: :func:`round_frame` (``round`` of a table),
  :func:`print_rounded` (``print(round(df, digits))``), :func:`format_rounded`
  (``cat(round(x, d))``);
* vectors: :func:`print_named_vector`, :func:`print_vector` (``print.default``) and
  :func:`print_quantiles` (lme4's "Scaled residuals" block).

The core is R's ``formatReal`` (``src/main/format.c``): for each value find the fewest
significant digits (at most ``digits``) that show it to ``digits`` significant digits, then
print the whole vector with one number of decimals, or in scientific notation when the
fixed width would exceed the scientific width. R scales by a power of ten in 80-bit long
double before rounding; that step is reproduced here with exact rational arithmetic.

Missing values (NaN, None, ``pd.NA``) print as ``NA``; Python cannot tell R's ``NA`` from
``NaN``. Python integers follow R's integer rules (``100000`` stays fixed), floats R's
double rules (``1e+05``). Every ``print_*`` function returns the printed text without a
final newline. Column and row indices are 0-based.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

DBL_EPSILON: float = float(np.finfo(float).eps)
PRINT_WIDTH: int = 80
SIGNIF_LEGEND: str = "0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"
QUANTILE_NAMES: tuple[str, ...] = ("Min", "1Q", "Median", "3Q", "Max")
_KP_MAX = 27  # largest power of ten R's format.c keeps in its long double table
_SIGNIF_CUTS = (0.001, 0.01, 0.05, 0.1, 1.0)
_SIGNIF_SYMBOLS = ("***", "**", "*", ".", " ")
_FAST_KINDS = {"f": False, "i": True, "u": True}  # numpy kinds read directly: is integer?


def _as_numeric(x: object) -> tuple[np.ndarray, bool]:
    """Values as a flat float array (NaN where missing) and whether they are integers."""
    if isinstance(x, (np.ndarray, pd.Series, pd.Index)) and isinstance(x.dtype, np.dtype) \
            and x.dtype.kind in _FAST_KINDS and x.dtype.itemsize <= 8:
        values = np.asarray(x).ravel().astype(float)
        return values, bool(values.size) and _FAST_KINDS[x.dtype.kind]
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
    values, is_integer = _as_numeric(x)
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
    values, _ = _as_numeric(pv)
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


def print_char_matrix(
    cells: Sequence[Sequence[str]] | np.ndarray,
    col_names: Sequence[str],
    row_names: Sequence[str] | None = None,
    right: bool = True,
    width: int = PRINT_WIDTH,
) -> str:
    """Lay out a matrix of strings as R's ``print(m, quote = FALSE, right = right)``.

    Row names are left-justified; each column takes the width
    :math:`w_j = \\max(\\text{name}_j, \\text{cells}_j)` and is preceded by one space; cells and
    names are right-justified (``right=True``) or left-justified. When a line would reach
    ``width`` characters, the columns are split into blocks printed one below the other.
    lme4's random-effects table is this layout with ``right=False`` and empty row names.
    """
    grid = np.asarray(cells, dtype=object)
    if grid.ndim != 2 or grid.shape[1] != len(col_names):
        raise ValueError(f"cells must be a matrix with {len(col_names)} columns, one per name")
    labels = [""] * grid.shape[0] if row_names is None else [str(r) for r in row_names]
    label_width = max((len(r) for r in labels), default=0)
    widths = [max([len(col_names[j])] + [len(c) for c in grid[:, j]]) for j in range(grid.shape[1])]

    def justify(text: str, j: int) -> str:
        return " " + (text.rjust(widths[j]) if right else text.ljust(widths[j]))

    lines: list[str] = []
    start = 0
    while start < grid.shape[1]:
        stop, used = start + 1, label_width + widths[start] + 1
        while stop < grid.shape[1] and used + widths[stop] + 1 < width:
            used, stop = used + widths[stop] + 1, stop + 1
        lines.append(" " * label_width + "".join(justify(col_names[j], j) for j in range(start, stop)))
        for i, label in enumerate(labels):
            lines.append(label.ljust(label_width) + "".join(justify(grid[i, j], j) for j in range(start, stop)))
        start = stop
    return "\n".join(lines)


def _signif_codes(pv: np.ndarray) -> list[str]:
    """R's ``symnum`` with the significance cutpoints (0, .001, .01, .05, .1, 1]."""
    return [_SIGNIF_SYMBOLS[bisect.bisect_left(_SIGNIF_CUTS, p)] if 0 <= p <= 1 else ""
            for p in pv.tolist()]


def _numeric_columns(table: pd.DataFrame) -> list[np.ndarray]:
    """Each column of a table as a float array, as :func:`_as_numeric` reads it."""
    matrix = table.to_numpy()
    if matrix.dtype.kind in _FAST_KINDS and matrix.dtype.itemsize <= 8:  # all columns numpy numbers
        matrix = matrix.astype(float)
        return [matrix[:, j] for j in range(matrix.shape[1])]
    return [_as_numeric(table.iloc[:, j])[0] for j in range(table.shape[1])]


def print_coefmat(
    table: pd.DataFrame,
    digits: int = 5,
    signif_stars: bool = True,
    signif_legend: bool | None = None,
    dig_tst: int | None = None,
    cs_ind: Sequence[int] | None = None,
    tst_ind: Sequence[int] | None = None,
    zap_ind: Sequence[int] = (),
    p_values: bool | None = None,
    has_pvalue: bool | None = None,
    eps_pvalue: float = DBL_EPSILON,
    na_print: str = "NA",
) -> str:
    """Print a coefficient table as R's ``printCoefmat`` (``summary.lm``, lmerTest, geepack).

    Columns ``cs_ind`` (default: all before the statistic) are rounded together to
    :math:`\\max(1, d - m)` decimals, where :math:`m = 1 + \\lfloor\\log_{10}\\min|x|\\rfloor`
    over their nonzero entries, and formatted together with ``digits``; statistic columns
    ``tst_ind`` are rounded to ``dig_tst`` :math:`=\\max(1, \\min(5, d - 1))` decimals; other
    columns are formatted alone; columns ``zap_ind`` go through :func:`zapsmall` first.
    A nonzero value printed as zero is reprinted with :math:`d - 1` digits. The last column,
    when it holds p-values, goes through :func:`format_pval` with ``dig_tst`` digits and
    ``eps_pvalue``, followed by significance stars and the legend when some :math:`p < 0.1`.

    Parameters
    ----------
    table : pandas.DataFrame
        Numeric table; the index holds the row names, the columns R's column names.
    digits : int
        R's ``digits`` (default ``max(3, getOption("digits") - 2)``; lmerTest and geepack
        print with 4).
    signif_stars, signif_legend, dig_tst, eps_pvalue, na_print
        As in R; the legend defaults to ``signif_stars``.
    cs_ind, tst_ind, zap_ind : sequence of int, optional
        0-based column indices (``cs_ind=()`` means none).
    p_values, has_pvalue : bool, optional
        Whether to print p-values, and whether the last column holds them (default: 4 or
        more columns and a last name starting with ``"Pr("`` or ``"p-v"``).
    """
    names = [str(c) for c in table.columns]
    n_cols = len(names)
    if has_pvalue is None:
        has_pvalue = n_cols >= 4 and names[-1][:3] in ("Pr(", "p-v")
    if p_values is None:
        p_values = has_pvalue
    elif p_values and not has_pvalue:
        raise ValueError("p_values=True needs a p-value column (has_pvalue is False)")
    columns = _numeric_columns(table)
    if has_pvalue and not p_values:
        columns, names, has_pvalue = columns[:-1], names[:-1], False
        n_cols -= 1
    xm = np.column_stack(columns) if columns else np.empty((len(table), 0))
    k = n_cols - int(has_pvalue) - (1 if tst_ind is None else len(tst_ind))
    cs = list(range(k)) if cs_ind is None else list(cs_ind)
    tst = [k] if tst_ind is None else list(tst_ind)
    if len(cs) > max(k, 0):
        raise ValueError(f"cs_ind has {len(cs)} columns but only {k} precede the statistics")
    dig_tst = max(1, min(5, digits - 1)) if dig_tst is None else dig_tst
    cells = np.full(xm.shape, "", dtype=object)
    missing = np.isnan(xm)
    ok = ~missing
    for j in zap_ind:
        xm[:, j] = zapsmall(xm[:, j], digits)
    if cs:
        coef_se = xm[:, cs]
        magnitudes = np.abs(coef_se)
        finite = np.isfinite(magnitudes)
        if finite.any():
            nonzero = magnitudes[finite & (magnitudes != 0)]
            lead = 1 + (np.floor(np.log10([nonzero.min(), nonzero.max()])) if nonzero.size else np.zeros(1))
            places = int(max(1, np.max(digits - lead)))
            cells[:, cs] = np.reshape(format_vector(round_r(coef_se, places).ravel(), digits), coef_se.shape)
    if tst:
        stats = np.asarray(round_r(xm[:, tst], dig_tst))
        cells[:, tst] = np.reshape(format_vector(stats.ravel(), digits), stats.shape)
    p_col = n_cols - 1 if has_pvalue else None
    for j in range(n_cols):
        if j not in cs and j not in tst and j != p_col:
            cells[:, j] = format_vector(xm[:, j], digits)
    ok_text = ok.copy()
    ok_text[:, tst] = False
    if has_pvalue:
        ok_text[:, p_col] = False
    shown_zero = np.array([float(c) == 0 for c in cells[ok_text]], dtype=bool)
    misprinted = (xm[ok_text] == 0) != shown_zero
    if misprinted.any():
        fixed = cells[ok_text]
        fixed[misprinted] = format_vector(xm[ok_text][misprinted], max(1, digits - 1))
        cells[ok_text] = fixed
    cells[missing] = na_print
    row_names = [str(r) for r in table.index]
    show_stars = False
    if p_values:
        pv = xm[:, p_col]
        ok_p = ok[:, p_col]
        if ok_p.any():
            cells[ok_p, p_col] = format_pval(pv[ok_p], dig_tst, eps_pvalue)
            show_stars = signif_stars and bool((pv[ok_p] < 0.1).any())
            if show_stars:
                codes = _signif_codes(pv)
                code_width = max(len(c) for c in codes)
                cells = np.column_stack([cells, np.array([c.ljust(code_width) for c in codes], dtype=object)])
                names = [*names, ""]
    text = print_char_matrix(cells, names, row_names)
    legend = signif_stars if signif_legend is None else signif_legend
    if show_stars and legend:
        text += "\n---\nSignif. codes:  " + SIGNIF_LEGEND
    return text


def print_anova(
    table: pd.DataFrame, digits: int = 5, signif_stars: bool = True, heading: Sequence[str] = ()
) -> str:
    """Print an ANOVA table as R's ``print.anova`` (``anova()``, ``summary(aov())``).

    Picks :func:`print_coefmat`'s arguments from the column names: a last column named
    ``"Pr(..."`` or ``"P(..."`` holds p-values; columns named ``"* value"``, ``"F"``,
    ``"Cp"`` or ``"Chisq"`` are test statistics; the other columns, except those ending in
    ``"Df"``, are zapped (:func:`zapsmall` with ``digits``); missing cells print empty.

    ``digits`` defaults to R's ``max(getOption("digits") - 2, 3)``; ``heading`` holds the
    lines printed above the table (R's ``attr(x, "heading")``).
    """
    names = [str(c) for c in table.columns]
    n_cols = len(names)
    has_p = n_cols > 0 and (names[-1].startswith("Pr(") or names[-1].startswith("P("))
    stat_cols = [j for j, n in enumerate(names) if n[1:7] == " value"]
    stat_cols += [j for j, n in enumerate(names) if n in ("F", "Cp", "Chisq")]
    zap_cols = [
        j for j in range(n_cols - 1 if has_p else n_cols) if j not in stat_cols and not names[j].endswith("Df")
    ]
    body = print_coefmat(
        table, digits=digits, signif_stars=signif_stars, has_pvalue=has_p, p_values=has_p,
        cs_ind=(), zap_ind=zap_cols, tst_ind=stat_cols, na_print="",
    )
    return "\n".join([*heading, body])


def print_dataframe(df: pd.DataFrame, digits: int = 7) -> str:
    """Print a data frame as R's ``print.data.frame(df, digits = digits)``.

    Each numeric column is formatted on its own by :func:`format_vector`; text columns
    print as is (missing as ``<NA>``); logical columns as ``TRUE``/``FALSE``. Columns are
    right-justified under their names, row names left-justified.
    """
    cells = np.full(df.shape, "", dtype=object)
    for j in range(df.shape[1]):
        column = df.iloc[:, j]
        if pd.api.types.is_bool_dtype(column.dtype):
            cells[:, j] = ["NA" if pd.isna(v) else ("TRUE" if v else "FALSE") for v in column]
        elif pd.api.types.is_numeric_dtype(column.dtype):
            cells[:, j] = format_vector(column, digits)
        else:
            cells[:, j] = ["<NA>" if pd.isna(v) else str(v) for v in column]
    return print_char_matrix(cells, [str(c) for c in df.columns], [str(r) for r in df.index])


def print_named_vector(
    values: Sequence[float] | np.ndarray | pd.Series,
    names: Sequence[str] | None = None,
    digits: int = 7,
    width: int = PRINT_WIDTH,
) -> str:
    """Print a named numeric vector as R's ``print(x, digits = digits)``.

    Values share one :func:`format_vector` layout; every field has the width
    :math:`w = \\max(\\text{value width}, \\text{longest name})`, names right-justified above
    values, each field followed by one space; :math:`\\lfloor 80/(w+1) \\rfloor` fields a line.
    ``names`` defaults to the index of a :class:`pandas.Series`.
    """
    if names is None:
        if not isinstance(values, pd.Series):
            raise ValueError("names are required unless values is a pandas Series")
        names = values.index
    names = [str(n) for n in names]
    texts = format_vector(values, digits)
    if len(texts) != len(names):
        raise ValueError(f"{len(texts)} values but {len(names)} names")
    field = max([len(t) for t in texts] + [len(n) for n in names])
    per_line = max(1, width // (field + 1))
    lines = []
    for start in range(0, len(texts), per_line):
        chunk = slice(start, start + per_line)
        lines.append("".join(n.rjust(field) + " " for n in names[chunk]))
        lines.append("".join(t.rjust(field) + " " for t in texts[chunk]))
    return "\n".join(lines)


def print_vector(values: Sequence[float] | np.ndarray, digits: int = 7, width: int = PRINT_WIDTH) -> str:
    """Print an unnamed numeric vector as R's ``print(x, digits = digits)``: ``[1]``-style
    index labels, one common :func:`format_vector` layout, lines wrapped at ``width``."""
    texts = format_vector(values, digits)
    label_width = len(str(len(texts))) + 2
    field = max((len(t) for t in texts), default=0)
    lines: list[str] = []
    line = "[1]".rjust(label_width)
    for i, text in enumerate(texts):
        if i > 0 and len(line) + field + 1 > width:
            lines.append(line)
            line = f"[{i + 1}]".rjust(label_width)
        line += " " + text
    lines.append(line)
    return "\n".join(lines)


def print_quantiles(quantiles: Sequence[float] | np.ndarray, digits: int = 4) -> str:
    """Print five quantiles as lme4's "Scaled residuals" block.

    lme4 prints :func:`zapsmall` of the quantiles with ``digits + 1`` as a named vector
    (names ``Min 1Q Median 3Q Max``) with ``digits`` digits; ``digits`` is
    ``max(3, getOption("digits") - 3)``.
    """
    values = np.asarray(quantiles, dtype=float)
    if values.size != len(QUANTILE_NAMES):
        raise ValueError(f"expected 5 quantiles (min, Q1, median, Q3, max), got {values.size}")
    return print_named_vector(zapsmall(values, digits + 1), QUANTILE_NAMES, digits)


def print_residual_quantiles(residuals: Sequence[float] | np.ndarray, digits: int = 4) -> str:
    """Quantiles 0, .25, .5, .75, 1 of the non-missing residuals (R's default type 7,
    linear interpolation) printed by :func:`print_quantiles`."""
    values = np.asarray(residuals, dtype=float)
    values = values[~np.isnan(values)]
    if values.size == 0:
        raise ValueError("no non-missing residuals to summarise")
    return print_quantiles(np.quantile(values, [0.0, 0.25, 0.5, 0.75, 1.0]), digits)


_ROW_NAME_STYLES = ("index", "numbered", "none")


def _round_column(column: pd.Series, digits: int) -> pd.Series:
    """One numeric column rounded by :func:`round_r`; integer columns stay integers."""
    if pd.api.types.is_integer_dtype(column.dtype):
        if digits >= 0:
            return column.copy()
        return pd.Series(round_r(column.to_numpy(dtype=float), digits), index=column.index,
                         name=column.name).astype(column.dtype)
    values = column.to_numpy(dtype=float, na_value=np.nan)
    return pd.Series(np.atleast_1d(round_r(values, digits)), index=column.index, name=column.name)


def _is_roundable(column: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(column.dtype) and not pd.api.types.is_bool_dtype(column.dtype)


def _check_digits(digits: object, what: str) -> int:
    if isinstance(digits, bool) or not isinstance(digits, (int, np.integer)):
        raise TypeError(f"{what} must be an integer number of decimals, got {digits!r}")
    return int(digits)


def round_frame(
    frame: pd.DataFrame | pd.Series, digits: int | Mapping[str, int]
) -> pd.DataFrame | pd.Series:
    """Round the numbers of a table, or of a named vector, with R's rounding rule.

    Every value :math:`x` of a rounded column becomes :func:`round_r` ``(x, d)``, the
    representable number closest to :math:`x` among those with :math:`d` decimals
    (R >= 4.0 ``round``); :math:`d < 0` rounds to tens, hundreds, and so on.

    R equivalents: ``round(x, d)`` for a named vector;
    ``mutate(df, across(where(is.numeric), ~ round(.x, d)))`` for a data frame; a dict of
    digits rounds each named column with its own :math:`d`, as separate
    ``mutate(df, a = round(a, 2), b = round(b, 3))`` calls would.

    Parameters
    ----------
    frame : pandas.DataFrame or pandas.Series
        The table (text and logical columns are left as they are) or a numeric named
        vector.
    digits : int or dict
        Decimals for every numeric column, or for the named columns only (columns not
        named are left unrounded). A Series takes an int.

    Returns
    -------
    pandas.DataFrame or pandas.Series
        A rounded copy with the same index, columns and names. Integer columns keep
        their integer type (rounding them to :math:`d \\ge 0` decimals changes nothing).

    Raises
    ------
    TypeError
        If ``digits`` is not an integer (or a mapping of integers), if a column named in
        ``digits`` or the Series is not numeric, or if ``frame`` is neither a DataFrame
        nor a Series.
    KeyError
        If ``digits`` names a column the table does not have.
    """
    if isinstance(frame, pd.Series):
        places = _check_digits(digits, "digits for a Series")
        if not _is_roundable(frame):
            raise TypeError(f"cannot round a Series of dtype {frame.dtype}; it must be numeric")
        return _round_column(frame, places)
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"round_frame needs a pandas DataFrame or Series, got {type(frame).__name__}")
    if isinstance(digits, Mapping):
        unknown = [name for name in digits if name not in frame.columns]
        if unknown:
            raise KeyError(f"digits names columns the table does not have: {unknown}")
        plan = {name: _check_digits(places, f"digits[{name!r}]") for name, places in digits.items()}
        not_numeric = [name for name in plan if not _is_roundable(frame[name])]
        if not_numeric:
            raise TypeError(f"digits names columns that are not numeric: {not_numeric}")
    else:
        places = _check_digits(digits, "digits")
        plan = {name: places for name in frame.columns if _is_roundable(frame[name])}
    rounded = frame.copy()
    for name, places in plan.items():
        rounded[name] = _round_column(frame[name], places)
    return rounded


def print_rounded(
    frame: pd.DataFrame,
    digits: int | Mapping[str, int] | None = None,
    row_names: str = "index",
) -> str:
    """Round a data frame with R's rule, then print it as R's ``print.data.frame``.

    The text is :func:`print_dataframe` of :func:`round_frame` ``(frame, digits)``: each
    numeric column is laid out on its own with up to 7 significant digits, so a column
    rounded to :math:`d` decimals shows at most :math:`d` of them.

    R equivalents, by ``row_names``:

    * ``"index"``: ``print(round(df, d))`` with the frame's index as R's row names;
    * ``"numbered"``: the same with R's automatic row names ``1, 2, ..., n`` (a data frame
      built by ``data.frame()``, ``as.data.frame()`` or a tibble converted to one);
    * ``"none"``: ``print(round(df, d), row.names = FALSE)``.

    Parameters
    ----------
    frame : pandas.DataFrame
        The table to print.
    digits : int, dict or None
        Passed to :func:`round_frame`; ``None`` prints the numbers unrounded.
    row_names : {"index", "numbered", "none"}
        Which row names to print.

    Returns
    -------
    str
        The printed table, without a final newline.

    Raises
    ------
    ValueError
        If ``row_names`` is not one of the three styles.
    """
    if row_names not in _ROW_NAME_STYLES:
        raise ValueError(f"row_names must be one of {_ROW_NAME_STYLES}, got {row_names!r}")
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"print_rounded needs a pandas DataFrame, got {type(frame).__name__}")
    table = frame if digits is None else round_frame(frame, digits)
    if row_names == "numbered":
        table = table.set_axis(pd.RangeIndex(1, len(table) + 1), axis=0)
    elif row_names == "none":
        table = table.set_axis(pd.Index([""] * len(table)), axis=0)
    return print_dataframe(table)


def format_rounded(x: float, decimals: int, nsmall: bool = False) -> str:
    """One number rounded to ``decimals`` decimals with R's rule, written as R writes it.

    The value is :math:`\\operatorname{round}(x, d)` (:func:`round_r`) shown with up to 7
    significant digits. By default trailing zeros are dropped, as R's
    ``cat(round(x, d))`` does (``1.5``); with ``nsmall=True`` the text always has
    :math:`d` decimals, as R's ``format(round(x, d), nsmall = d)`` (``1.50``).

    Parameters
    ----------
    x : float
        The number.
    decimals : int
        Decimals :math:`d` to round to (:math:`d < 0` rounds to tens, hundreds, ...).
    nsmall : bool
        Pad with zeros to exactly :math:`d` decimals (only for :math:`d > 0`).

    Returns
    -------
    str
        The formatted number, without padding blanks.
    """
    places = _check_digits(decimals, "decimals")
    value = round_r(float(x), places)
    if nsmall and places > 0:
        return format_vector([value], nsmall=places)[0]
    return format_number(value)
