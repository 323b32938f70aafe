"""The printed blocks of lme4's model summaries, shared by lmer and glmer.

lme4 formats ``summary(m)`` through small ``.prt.*`` helpers, one per printed block; these
are their counterparts.  Each takes tables already computed (by the model's ``summary()``)
and only lays them out, every number going through :mod:`mlmtools.rstyle.numbers`:

==========================  ==================================  ==========================
block                       function                            lme4
==========================  ==================================  ==========================
title line                  :func:`format_title`                ``.prt.methTit``
formula, data, weights      :func:`format_call`                 ``.prt.call``
REML criterion or AIC/BIC   :func:`format_criterion`            ``.prt.aictab``
random effects              :func:`format_variance_components`  ``.prt.VC`` / ``formatVC``
number of obs and groups    :func:`format_groups`               ``.prt.grps``
fixed effects               :func:`format_coefficients`         ``printCoefmat``
their correlation           :func:`format_correlation_matrix`   ``print.summary.merMod``
optimizer notes             :func:`format_convergence`          ``.prt.warn``
==========================  ==================================  ==========================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache

import numpy as np
import pandas as pd

from mlmtools.rstyle.numbers import PRINT_WIDTH, format_number, format_vector, round_r
from mlmtools.rstyle.tables import print_char_matrix, print_coefmat

DIGITS = 4  # lme4's max(3, getOption("digits") - 3)
CORRELATION_MAX = 12  # lme4's options(lme4.summary.cor.max = 12)


def cat_fill(items: list[str], width: int = PRINT_WIDTH) -> str:
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


def wrap_words(text: str, width: int, exdent: int) -> list[str]:
    """R's ``strwrap(text, width, exdent)`` for a single paragraph."""
    lines: list[str] = []
    current = ""
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


def format_title(title: str, class_name: str) -> str:
    """lme4's ``.prt.methTit``: ``title ['class']`` on one line, or the title wrapped (and the
    class unquoted) when that line would be wider than R's print width."""
    width = PRINT_WIDTH
    if len(title) + 5 + len(class_name) > width:
        lines = wrap_words(title, width - 2, exdent=2)
        return cat_fill([*lines, " [", class_name, "]"])
    return f"{title} ['{class_name}']"


def format_call(formula: str, data_name: str, extras: list[tuple[str, str]]) -> str:
    """lme4's ``.prt.call``: the formula, the data and any weights or offset lines."""
    lines = [f"Formula: {formula}", f"   Data: {data_name}"]
    lines += [f"{label} {value}" for label, value in extras]
    return "\n".join(lines)


def format_criterion(REML: bool, reml_criterion: float, likelihood: Mapping[str, float]) -> str:
    """lme4's ``.prt.aictab``: the REML criterion, or the ML information criteria
    (``likelihood``: a Series or dict of AIC, BIC, logLik, -2*log(L) and df.resid)."""
    if REML:
        value = format_number(round_r(reml_criterion, 1))
        return f"REML criterion at convergence: {value}"
    names = list(likelihood.keys())
    numbers = np.array([likelihood[name] for name in names if name != "df.resid"], dtype=float)
    texts = format_vector(np.append(round_r(numbers, 1), likelihood["df.resid"]))
    texts[-1] = format_vector([int(likelihood["df.resid"])])[0]
    field_width = max(len(t) for t in texts + names)
    return ("".join(n.rjust(field_width) + " " for n in names) + "\n"
            + "".join(t.strip().rjust(field_width) + " " for t in texts))


def format_variance_components(sdcor: np.ndarray, term_columns: list[tuple[str, tuple[str, ...]]],
                               digits: int) -> str:
    """lme4's ``formatVC``: Groups, Name, Variance, Std.Dev. and the correlations, from the
    ``sdcor`` column of a variance-component table (standard deviations, then correlations,
    term by term, then the residual standard deviation)."""
    sds: list[float] = []
    groups: list[str] = []
    names: list[str] = []
    corr_blocks: list[np.ndarray] = []
    position = 0
    for label, term_names in term_columns:
        k = len(term_names)
        sds.extend(sdcor[position:position + k])
        groups.extend([label] + [""] * (k - 1))
        names.extend(term_names)
        upper = np.zeros((k, k))
        upper[np.triu_indices(k, 1)] = sdcor[position + k:position + k * (k + 1) // 2]
        corr_blocks.append(np.eye(k) + upper + upper.T)
        position += k * (k + 1) // 2
    if position < len(sdcor):
        sds.append(float(sdcor[position]))
        groups.append("Residual")
        names.append("")
    sds_arr = np.asarray(sds)
    columns: list[list[str]] = [groups, names, format_vector(sds_arr**2, digits),
                                format_vector(sds_arr, digits)]
    headers = ["Groups", "Name", "Variance", "Std.Dev."]
    max_k = max(len(c) for _, c in term_columns)
    if max_k > 1:
        corr_digits = max(2, digits - 2)
        corr_cells = []
        for corr in corr_blocks:
            k = corr.shape[0]
            texts = np.asarray(format_vector(round_r(corr.ravel(), corr_digits),
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
    return print_char_matrix(cells, headers, right=False)


def format_groups(nobs: int, ngroups: dict[str, int]) -> str:
    """lme4's ``.prt.grps``."""
    groups = "; ".join(f"{name}, {count}" for name, count in ngroups.items())
    return cat_fill([f"Number of obs: {nobs}, groups: ", " ", groups])


def format_coefficients(table: pd.DataFrame) -> str:
    """``printCoefmat(coefs, digits = 4)``: estimates, standard errors and df share one
    rounding (the lecture's printouts show the df unzapped: ``22.8102``)."""
    return print_coefmat(table, digits=DIGITS)


@lru_cache(maxsize=1024)
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

    rules: list[Callable[[int], bool]] = [
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


def format_correlation_matrix(correlation: np.ndarray, names: list[str]) -> str:
    """The lower triangle of the fixed-effects correlations, rounded to 3 decimals, with rows and
    columns labelled by ``names`` abbreviated as R abbreviates them."""
    p = len(names)
    texts = np.asarray(format_vector(round_r(np.ravel(correlation), 3), nsmall=3),
                       dtype=object).reshape(p, p)
    cells = np.full((p, p), "", dtype=object)
    for a in range(p):
        for c in range(a):
            cells[a, c] = texts[a, c]
    return print_char_matrix(cells[1:, :p - 1], abbreviate_unique(names, 6)[:p - 1],
                                     row_names=abbreviate_unique(names, 11)[1:], right=False)


def format_convergence(optimizer: str, code: int, messages: Sequence[str]) -> str:
    """lme4's ``.prt.warn`` in a summary: the optimizer's name and convergence code, then the
    messages (nothing when there are no messages and the code is 0)."""
    if not messages and code == 0:
        return ""
    status = "OK" if code == 0 else "see ?lme4::convergence"
    return f"optimizer ({optimizer}) convergence code: {code} ({status}) \n" + "\n".join(messages)
