"""Tables and vectors as R prints them: ``printCoefmat``, ``print.anova``, ``print.data.frame``.

* tables: :func:`print_coefmat` (``printCoefmat``), :func:`print_anova` (``print.anova``),
  :func:`print_dataframe` (``print.data.frame``), :func:`print_char_matrix` (``print`` of a
  character matrix);
* vectors: :func:`print_named_vector`, :func:`print_vector` (``print.default``) and
  :func:`print_quantiles` (lme4's "Scaled residuals" block).

Every number goes through :mod:`mlmtools.rstyle.numbers`. Every ``print_*`` function returns
the printed text without a final newline. Column and row indices are 0-based.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

import numpy as np
import pandas as pd

from mlmtools.rstyle.numbers import (
    DBL_EPSILON,
    NUMERIC_KINDS,
    PRINT_WIDTH,
    as_numeric,
    format_pval,
    format_vector,
    round_r,
    zapsmall,
)

SIGNIF_LEGEND: str = "0 '***' 0.001 '**' 0.01 '*' 0.05 '.' 0.1 ' ' 1"
QUANTILE_NAMES: tuple[str, ...] = ("Min", "1Q", "Median", "3Q", "Max")
_SIGNIF_CUTS = (0.001, 0.01, 0.05, 0.1, 1.0)
_SIGNIF_SYMBOLS = ("***", "**", "*", ".", " ")


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
    """Each column of a table as a float array, as :func:`as_numeric` reads it."""
    matrix = table.to_numpy()
    if matrix.dtype.kind in NUMERIC_KINDS and matrix.dtype.itemsize <= 8:  # all columns numpy numbers
        matrix = matrix.astype(float)
        return [matrix[:, j] for j in range(matrix.shape[1])]
    return [as_numeric(table.iloc[:, j])[0] for j in range(table.shape[1])]


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
    columns are formatted alone; columns ``zap_ind`` go through :func:`~mlmtools.rstyle.numbers.zapsmall` first.
    A nonzero value printed as zero is reprinted with :math:`d - 1` digits. The last column,
    when it holds p-values, goes through :func:`~mlmtools.rstyle.numbers.format_pval` with ``dig_tst`` digits and
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
    ``"Df"``, are zapped (:func:`~mlmtools.rstyle.numbers.zapsmall` with ``digits``); missing cells print empty.

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

    Each numeric column is formatted on its own by :func:`~mlmtools.rstyle.numbers.format_vector`; text columns
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

    Values share one :func:`~mlmtools.rstyle.numbers.format_vector` layout; every field has the width
    :math:`w = \\max(\\text{value width}, \\text{longest name})`, names right-justified above
    values, each field followed by one space; :math:`\\lfloor 80/(w+1) \\rfloor` fields a line.
    ``names`` defaults to the index of a :class:`pandas.Series`.
    """
    if names is None:
        if not isinstance(values, pd.Series):
            raise ValueError("names are required unless values is a pandas Series")
        names = list(values.index)
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
    index labels, one common :func:`~mlmtools.rstyle.numbers.format_vector` layout, lines wrapped at ``width``."""
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

    lme4 prints :func:`~mlmtools.rstyle.numbers.zapsmall` of the quantiles with ``digits + 1`` as a named vector
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
