"""R's printed output: number formatting, tables, and the printed summary of every model.

One place turns doubles into the text R shows; models compute their tables and hand them to
the classes here, which only lay them out (lme4's ``summary.merMod`` computes,
``print.summary.merMod`` formats).

==================  ==============================================================
module              holds
==================  ==============================================================
``numbers``         ``round``, ``signif``, ``zapsmall``, ``format``, ``format.pval``
``tables``          ``printCoefmat``, ``print.anova``, ``print.data.frame``, vectors
``rounding``        ``round`` of a table, then printed
``report``          :class:`~mlmtools.rstyle.report.TextReport`, the base of every printout
``summary_blocks``  lme4's ``.prt.*`` blocks (title, call, random effects, ...)
``summaries``       the summaries of lmer, glmer and GEE fits, ANOVA tables
==================  ==============================================================

May import: :mod:`mlmtools.exceptions` only; never a model subpackage (models import this).
"""

from mlmtools.rstyle.numbers import (
    DBL_EPSILON,
    PRINT_WIDTH,
    format_number,
    format_pval,
    format_vector,
    round_r,
    signif,
    zapsmall,
)
from mlmtools.rstyle.report import TextReport
from mlmtools.rstyle.rounding import format_rounded, print_rounded, round_frame
from mlmtools.rstyle.tables import (
    QUANTILE_NAMES,
    SIGNIF_LEGEND,
    print_anova,
    print_char_matrix,
    print_coefmat,
    print_dataframe,
    print_named_vector,
    print_quantiles,
    print_residual_quantiles,
    print_vector,
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
