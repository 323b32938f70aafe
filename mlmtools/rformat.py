"""Compatibility path for the chapters: R's number and table formatting is :mod:`mlmtools.rstyle`.

``from mlmtools.rformat import ...`` keeps working; the names are re-exported unchanged.
"""

from mlmtools.rstyle import (
    DBL_EPSILON,
    PRINT_WIDTH,
    QUANTILE_NAMES,
    SIGNIF_LEGEND,
    TextReport,
    format_number,
    format_pval,
    format_rounded,
    format_vector,
    print_anova,
    print_char_matrix,
    print_coefmat,
    print_dataframe,
    print_named_vector,
    print_quantiles,
    print_residual_quantiles,
    print_rounded,
    print_vector,
    round_frame,
    round_r,
    signif,
    zapsmall,
)

__all__ = [
    "DBL_EPSILON",
    "PRINT_WIDTH",
    "QUANTILE_NAMES",
    "SIGNIF_LEGEND",
    "TextReport",
    "format_number",
    "format_pval",
    "format_rounded",
    "format_vector",
    "print_anova",
    "print_char_matrix",
    "print_coefmat",
    "print_dataframe",
    "print_named_vector",
    "print_quantiles",
    "print_residual_quantiles",
    "print_rounded",
    "print_vector",
    "round_frame",
    "round_r",
    "signif",
    "zapsmall",
]
