"""The summary of a linear mixed model: tables computed once, laid out as lmerTest prints.

:meth:`LmerSummary.from_fit` computes every number (lme4's ``summary.merMod`` with
lmerTest's coefficient table); the ``_format_*`` functions only turn those tables into
text, one function per printed block (lme4's ``.prt.*`` helpers), all numbers going
through :mod:`mlmtools.rformat`.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from mlmtools import rformat

if TYPE_CHECKING:
    from mlmtools.lmer import LmerResult

DIGITS = 4  # lme4's max(3, getOption("digits") - 3)
CORRELATION_MAX = 12  # lme4's options(lme4.summary.cor.max = 12)
CLASS_NAME = "lmerModLmerTest"


class TextReport:
    """A result shown as the text of its ``format()``: printed, in the REPL and in
    notebooks (as preformatted HTML)."""

    def format(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.format()

    def __repr__(self) -> str:
        return self.format()

    def _repr_html_(self) -> str:
        return "<pre>" + html.escape(self.format()) + "</pre>"


@dataclass(repr=False)
class LmerSummary(TextReport):
    """Everything ``summary(fit)`` shows, as data.

    Attributes
    ----------
    REML : bool
    ddf : str
        ``"satterthwaite"``, ``"residual"`` or ``"none"``.
    formula, data_name : str
    call_extras : list of (str, str)
        ``("Weights:", name)`` / ``(" Offset:", name)`` lines of the call.
    reml_criterion : float
    likelihood : pandas.Series
        AIC, BIC, logLik, -2*log(L), df.resid (shown for ML fits).
    residual_quantiles : numpy.ndarray
        Min, 1Q, median, 3Q, max of the scaled Pearson residuals.
    varcorr : pandas.DataFrame
        As :meth:`LmerResult.varcorr`.
    term_columns : list of (str, tuple of str)
        Each random term's printed group label and column names.
    ngroups : dict
    nobs : int
    coefficients : pandas.DataFrame
        Fixed-effects table (Estimate, Std. Error, [df], t/z value, p-value).
    correlation : pandas.DataFrame
        Correlation of the fixed effects.
    messages : list of str
        Optimizer notes printed at the end (singular fit, convergence).
    """

    REML: bool
    ddf: str
    formula: str
    data_name: str
    call_extras: list[tuple[str, str]]
    reml_criterion: float
    likelihood: pd.Series
    residual_quantiles: np.ndarray
    varcorr: pd.DataFrame
    term_columns: list[tuple[str, tuple[str, ...]]]
    ngroups: dict[str, int]
    nobs: int
    coefficients: pd.DataFrame
    correlation: pd.DataFrame
    messages: list[str] = field(default_factory=list)
    optimizer: str = "nloptwrap"

    @classmethod
    def from_fit(cls, fit: LmerResult, ddf: str = "satterthwaite",
                 derivatives: str | None = None) -> LmerSummary:
        """Compute the summary tables of a fit (``derivatives``: how Satterthwaite's
        derivatives are taken, see :mod:`mlmtools.satterthwaite`)."""
        from mlmtools.lmer import check_ddf

        ddf = check_ddf(ddf)
        vcov = fit._vcov_array()
        sd = np.sqrt(np.diag(vcov))
        names = list(fit.fixef.index)
        correlation = pd.DataFrame(vcov / np.outer(sd, sd), index=names, columns=names)
        likelihood = pd.Series(
            {"AIC": fit.aic, "BIC": fit.bic, "logLik": fit.loglik, "-2*log(L)": -2 * fit.loglik,
             "df.resid": fit.df_resid})
        messages = []
        if fit.is_singular:
            messages.append("boundary (singular) fit: see help('isSingular')")
        if not fit.converged:
            messages.extend(m for m in fit.optinfo.messages if m.startswith("Model failed"))
        extras = []
        if getattr(fit, "weights_label", None):
            extras.append(("Weights:", fit.weights_label))
        if getattr(fit, "offset_label", None):
            extras.append((" Offset:", fit.offset_label))
        return cls(
            REML=fit.REML,
            ddf=ddf,
            formula=fit.formula,
            data_name=fit.data_name,
            call_extras=extras,
            reml_criterion=fit.reml_criterion,
            likelihood=likelihood,
            residual_quantiles=np.quantile(fit.residuals(type="pearson", scaled=True).to_numpy(),
                                           [0, 0.25, 0.5, 0.75, 1]),
            varcorr=fit.varcorr(),
            term_columns=[(label, t.columns) for label, t in zip(fit._group_labels, fit._problem.terms)],
            ngroups=fit.ngroups,
            nobs=fit.nobs,
            coefficients=fit.coef_table(ddf, derivatives),
            correlation=correlation,
            messages=messages,
            optimizer=fit.optinfo.optimizer,
        )

    # -- text ---------------------------------------------------------------------------
    def format(self) -> str:
        """The printed summary, as lmerTest's ``print(summary(m))``."""
        blocks = [
            _format_title(self.REML, self.ddf),
            _format_call(self.formula, self.data_name, self.call_extras) + "\n",
            _format_criterion(self.REML, self.reml_criterion, self.likelihood) + "\n",
            "Scaled residuals: \n" + rformat.print_quantiles(self.residual_quantiles, DIGITS) + "\n",
            "Random effects:\n" + _format_random_effects(self.varcorr, self.term_columns, DIGITS),
            _format_groups(self.nobs, self.ngroups),
        ]
        if len(self.coefficients):
            blocks.append("\nFixed effects:\n" + _format_coefficients(self.coefficients))
            if 1 < len(self.coefficients) <= CORRELATION_MAX:
                blocks.append("\nCorrelation of Fixed Effects:\n" + _format_correlation(self.correlation))
        if self.messages:
            blocks.append(f"optimizer ({self.optimizer}) convergence code: 0 (OK) \n"
                          + "\n".join(self.messages))
        return "\n".join(blocks)


def cat_fill(items: list[str], width: int = rformat.PRINT_WIDTH) -> str:
    """R's ``cat(..., sep = "", fill = TRUE)``: break the line before an item that would
    reach past ``width`` characters."""
    lines, current = [], ""
    for item in items:
        if current and len(current) + len(item) > width:
            lines.append(current)
            current = ""
        current += item
    lines.append(current)
    return "\n".join(lines)


def _wrap_words(text: str, width: int, exdent: int) -> list[str]:
    """R's ``strwrap(text, width, exdent)`` for a single paragraph."""
    lines, current = [], ""
    for word in text.split():
        candidate = word if not current else current + " " + word
        limit = width - 1 - (exdent if lines else 0)
        if current and len(candidate) > limit:
            lines.append(current)
            current = word
        else:
            current = candidate
    lines.append(current)
    return [lines[0]] + [" " * exdent + line for line in lines[1:]]


def method_title(REML: bool, ddf: str) -> str:
    """lme4's ``methTitle`` (with its trailing blank for ML fits) plus lmerTest's test note."""
    title = "Linear mixed model fit by " + ("REML" if REML else "maximum likelihood ")
    if ddf == "satterthwaite":
        title += ". t-tests use Satterthwaite's method"
    elif ddf == "residual":
        title += ". t-tests use residual degrees of freedom"
    return title


def _format_title(REML: bool, ddf: str) -> str:
    """lme4's ``.prt.methTit``: one line, or wrapped when it would exceed the width."""
    title = method_title(REML, ddf)
    width = rformat.PRINT_WIDTH
    if len(title) + 5 + len(CLASS_NAME) > width:
        lines = _wrap_words(title, width - 2, exdent=2)
        return cat_fill([*lines[:1], *lines[1:], " [", CLASS_NAME, "]"])
    return f"{title} ['{CLASS_NAME}']"


def _format_call(formula: str, data_name: str, extras: list[tuple[str, str]]) -> str:
    lines = [f"Formula: {formula}", f"   Data: {data_name}"]
    lines += [f"{label} {value}" for label, value in extras]
    return "\n".join(lines)


def _format_criterion(REML: bool, reml_criterion: float, likelihood: pd.Series) -> str:
    """lme4's ``.prt.aictab``: the REML criterion, or the ML information criteria."""
    if REML:
        value = rformat.format_number(rformat.round_r(reml_criterion, 1))
        return f"REML criterion at convergence: {value}"
    numbers = likelihood.drop("df.resid").to_numpy(dtype=float)
    texts = rformat.format_vector(np.append(rformat.round_r(numbers, 1), likelihood["df.resid"]))
    texts[-1] = rformat.format_vector([int(likelihood["df.resid"])])[0]
    names = list(likelihood.index)
    field_width = max(len(t) for t in texts + names)
    return ("".join(n.rjust(field_width) + " " for n in names) + "\n"
            + "".join(t.strip().rjust(field_width) + " " for t in texts))


def _format_random_effects(varcorr: pd.DataFrame, term_columns: list[tuple[str, tuple[str, ...]]],
                           digits: int) -> str:
    """lme4's ``formatVC``: Groups, Name, Variance, Std.Dev. and the correlations."""
    sdcor = varcorr["sdcor"].to_numpy(dtype=float)
    sds, groups, names, corr_blocks = [], [], [], []
    position = 0
    for label, columns in term_columns:
        k = len(columns)
        sds.extend(sdcor[position:position + k])
        groups.extend([label] + [""] * (k - 1))
        names.extend(columns)
        upper = np.zeros((k, k))
        upper[np.triu_indices(k, 1)] = sdcor[position + k:position + k * (k + 1) // 2]
        corr_blocks.append(np.eye(k) + upper + upper.T)
        position += k * (k + 1) // 2
    if position < len(sdcor):
        sds.append(float(sdcor[position]))
        groups.append("Residual")
        names.append("")
    sds_arr = np.asarray(sds)
    columns = [groups, names, rformat.format_vector(sds_arr**2, digits),
               rformat.format_vector(sds_arr, digits)]
    headers = ["Groups", "Name", "Variance", "Std.Dev."]
    max_k = max(len(c) for _, c in term_columns)
    if max_k > 1:
        corr_digits = max(2, digits - 2)
        corr_cells = []
        for corr in corr_blocks:
            k = corr.shape[0]
            texts = np.asarray(rformat.format_vector(rformat.round_r(corr.ravel(), corr_digits),
                                                     nsmall=corr_digits), dtype=object).reshape(k, k)
            block = np.full((k, max_k), "", dtype=object)
            for a in range(k):
                for c in range(a):
                    block[a, c] = texts[a, c]
            corr_cells.append(block[:, :max_k - 1])
        corr_matrix = np.vstack(corr_cells)
        extra = len(groups) - corr_matrix.shape[0]
        corr_matrix = np.vstack([corr_matrix, np.full((extra, max_k - 1), "", dtype=object)])
        # the lecture's lme4 keeps each correlation column at least as wide as "-0.00"
        min_width = corr_digits + 3
        for j in range(max_k - 1):
            columns.append(list(corr_matrix[:, j]))
            headers.append(("Corr" if j == 0 else "").ljust(min_width))
    cells = np.array(columns, dtype=object).T
    return rformat.print_char_matrix(cells, headers, right=False)


def _format_groups(nobs: int, ngroups: dict[str, int]) -> str:
    """lme4's ``.prt.grps``."""
    groups = "; ".join(f"{name}, {count}" for name, count in ngroups.items())
    return cat_fill([f"Number of obs: {nobs}, groups: ", " ", groups])


def _format_coefficients(table: pd.DataFrame) -> str:
    """``printCoefmat(coefs, digits = 4)``: estimates, standard errors and df share one
    rounding (the lecture's printouts show the df unzapped: ``22.8102``)."""
    return rformat.print_coefmat(table, digits=DIGITS)


def abbreviate(name: str, minlength: int) -> str:
    """R's ``abbreviate(name, minlength)`` (``use.classes = TRUE``, ``method = "left.kept"``).

    Characters are dropped from the right, never the first of a word, in this order until
    the name is short enough: lower-case vowels ending a word, other lower-case vowels,
    lower-case letters ending a word, other lower-case letters, then anything.
    """
    chars = list(name.strip())
    if len(chars) <= minlength:
        return "".join(chars)

    def first_of_word(i: int) -> bool:
        return chars[i - 1].isspace()

    def last_of_word(i: int) -> bool:
        return not chars[i - 1].isspace() and (i + 1 == len(chars) or chars[i + 1].isspace())

    def length() -> int:
        return len([c for c in chars if not c.isspace()])

    rules = [
        lambda i: chars[i] in "aeiou" and last_of_word(i),
        lambda i: chars[i] in "aeiou" and not first_of_word(i),
        lambda i: chars[i].islower() and last_of_word(i),
        lambda i: chars[i].islower() and not first_of_word(i),
        lambda i: not first_of_word(i) and not chars[i].isspace(),
    ]
    for rule in rules:
        i = len(chars) - 1
        while i > 0:
            if rule(i):
                del chars[i]
            if length() <= minlength:
                return "".join(c for c in chars if not c.isspace())
            i -= 1
    return "".join(c for c in chars if not c.isspace())


def abbreviate_unique(names: list[str], minlength: int) -> list[str]:
    """:func:`abbreviate` each name, lengthening the duplicated ones as R does."""
    out = [abbreviate(n, minlength) for n in names]
    length = minlength
    while len(set(out)) < len(out) and length < max(len(n) for n in names):
        length += 1
        seen = {a for a in out if out.count(a) > 1}
        out = [abbreviate(n, length) if a in seen else a for n, a in zip(names, out)]
    return out


def _format_correlation(correlation: pd.DataFrame) -> str:
    """The lower triangle of the fixed-effects correlations, rounded to 3 decimals."""
    names = list(correlation.index)
    p = len(names)
    texts = np.asarray(rformat.format_vector(rformat.round_r(correlation.to_numpy().ravel(), 3), nsmall=3),
                       dtype=object).reshape(p, p)
    cells = np.full((p, p), "", dtype=object)
    for a in range(p):
        for c in range(a):
            cells[a, c] = texts[a, c]
    return rformat.print_char_matrix(cells[1:, :p - 1], abbreviate_unique(names, 6)[:p - 1],
                                     row_names=abbreviate_unique(names, 11)[1:], right=False)
