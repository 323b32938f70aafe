"""lmerTest's least-squares means (``ls_means``) and their pairwise differences (``difflsmeans``).

The reference grid is lmerTest's: every combination of the levels of the factors of the fixed
part (the first factor varying fastest, R's ``expand.grid``), with every numeric variable at its
mean over the rows the model used. With :math:`U` the fixed-effects design of the grid (the
model's contrasts), the least-squares mean of level (or cell) :math:`\\ell` of a factor term is
the average of the grid rows in that level,

.. math:: \\hat\\mu_\\ell = \\bar u_\\ell^\\top\\hat\\beta,\\qquad
          \\bar u_\\ell = \\frac{1}{|\\{r : \\text{row } r \\text{ in } \\ell\\}|}\\sum_{r \\in \\ell} U_r,

tested by the t-test of :func:`mlmtools.inference.contrasts.contest1d` (Satterthwaite's or
Kenward and Roger's df) with the limits :math:`\\hat\\mu_\\ell \\mp t_{\\nu,(1+\\text{level})/2}\\,
\\mathrm{SE}`. Factor terms are the terms with no numeric variable. ``difflsmeans`` tests the
differences :math:`\\hat\\mu_a - \\hat\\mu_b` of every pair of levels (``"a - b"``, pairs in R's
``combn`` order).

Factors must be columns of the data; a covariate written as an expression (``log(x)``) is taken
at the mean of its data column (lmerTest takes the mean of the expression). A model whose
fixed-effects design lost columns for rank deficiency is refused (lmerTest reports the means
that are not estimable there as NA).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from mlmtools.formula import Name
from mlmtools.frame import ModelFrame
from mlmtools.frame.checks import column_names_in
from mlmtools.inference.anova_tables import AnovaFit, fitted_data_rows
from mlmtools.inference.contrasts import check_ddf, contest_rows
from mlmtools.rstyle.lmertest_tables import LeastSquaresMeans

LS_MEANS_COLUMNS = ["Estimate", "Std. Error", "df", "t value", "lower", "upper", "Pr(>|t|)"]
LS_MEANS_DDF = ("satterthwaite", "kenward-roger")


def _factor_levels(frame: ModelFrame) -> dict[str, tuple[str, ...]]:
    """The factors of the fixed part with their levels, in the order the formula names them."""
    return {label: frame.encodings[f"levels:{label}"] for label in frame.parsed.fixed.variables
            if f"levels:{label}" in frame.encodings}


def _reference_grid(fit: AnovaFit, levels: dict[str, tuple[str, ...]]) -> pd.DataFrame:
    """lmerTest's reference grid (module docstring) as a data frame of the model's columns."""
    frame = fit.state.frame
    data = fitted_data_rows(fit, "least-squares means")
    spec = frame.parsed.fixed
    for label in levels:
        if not isinstance(spec.variables[label], Name):
            raise ValueError(f"ls_means needs its factors as data columns; make {label!r} a column first")
    numeric = [column for label, node in spec.variables.items() if label not in levels
               for column in column_names_in(node)]
    combos = list(itertools.product(*reversed(levels.values())))
    grid = pd.DataFrame([tuple(reversed(combo)) for combo in combos], columns=list(levels))
    for column in dict.fromkeys(numeric):
        grid[column] = float(np.mean(np.asarray(data[column], dtype=float)))
    return grid


def _term_contrasts(fit: AnovaFit, levels: dict[str, tuple[str, ...]], grid: pd.DataFrame,
                    which: list[str]) -> dict[str, pd.DataFrame]:
    """For each factor term, the averaged design rows :math:`\\bar u_\\ell` of its levels (lmerTest's
    ``lsmeans_contrasts``), rows named as R names the columns of ``model.matrix(~ 0 + term)``."""
    frame = fit.state.frame
    U = frame.fixed_matrix(grid)
    out = {}
    for label in which:
        variables = label.split(":")
        cells = list(itertools.product(*[levels[v] for v in reversed(variables)]))
        rows, row_names = [], []
        for cell in cells:
            cell = tuple(reversed(cell))
            inside = np.logical_and.reduce([grid[v].to_numpy() == level for v, level in zip(variables, cell)])
            rows.append(U[inside].mean(axis=0))
            row_names.append(":".join(f"{v}{level}" for v, level in zip(variables, cell)))
        out[label] = pd.DataFrame(np.vstack(rows), index=row_names, columns=list(frame.fixed_names))
    return out


def _pairs(L: pd.DataFrame) -> pd.DataFrame:
    """The differences of every pair of rows (lmerTest's ``get_pairs``): ``a - b`` in ``combn`` order."""
    pairs = list(itertools.combinations(range(len(L)), 2))
    values = np.vstack([L.iloc[a].to_numpy() - L.iloc[b].to_numpy() for a, b in pairs])
    names = [f"{L.index[a]} - {L.index[b]}" for a, b in pairs]
    return pd.DataFrame(values, index=names, columns=L.columns)


def ls_means(fit: AnovaFit, which: list[str] | None = None, level: float = 0.95, ddf: str = "satterthwaite",
             pairwise: bool = False) -> LeastSquaresMeans:
    """lmerTest's ``ls_means(fit, which, level, ddf, pairwise)`` (module docstring).

    Parameters
    ----------
    fit : ~mlmtools.lmm.result.LmerResult
    which : list of str, optional
        Factor terms to tabulate (all by default).
    level : float
        Confidence level of the limits.
    ddf : {"satterthwaite", "kenward-roger"}
        Denominator df of the t-tests.
    pairwise : bool
        Test the pairwise differences (``difflsmeans``) instead of the means.

    Returns
    -------
    ~mlmtools.rstyle.lmertest_tables.LeastSquaresMeans
        The table (``table``) and the contrast matrix of each term (``contrasts``); print it for
        lmerTest's layout.

    Raises
    ------
    ValueError
        For a term in ``which`` that is not a factor term of the model, a ``level`` outside
        (0, 1), another ``ddf``, a factor that is not a data column, or a rank-deficient design.

    Examples
    --------
    >>> import pandas as pd
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> data = sleepstudy().assign(period=lambda d: pd.cut(d["Days"], [-1, 4, 9], labels=["early", "late"]))
    >>> fit = lmer("Reaction ~ period + (1 | Subject)", data.astype({"period": str}))
    >>> print(ls_means(fit).table.round(2))
                 Estimate  Std. Error     df  t value   lower   upper  Pr(>|t|)
    periodearly    271.63         9.4  19.78    28.90  252.01  291.25       0.0
    periodlate     325.39         9.4  19.78    34.61  305.76  345.01       0.0
    """
    ddf = check_ddf(ddf)
    if ddf not in LS_MEANS_DDF:
        raise ValueError(f"ddf must be one of {LS_MEANS_DDF} for least-squares means, got {ddf!r}")
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1, got {level!r}")
    frame = fit.state.frame
    if frame.dropped_columns:
        raise ValueError("ls_means needs a full-rank fixed-effects design; the model dropped "
                         f"{', '.join(frame.dropped_columns)} for rank deficiency")
    levels = _factor_levels(frame)
    factor_terms = [":".join(term) for term in frame.parsed.fixed.terms if all(v in levels for v in term)]
    which = factor_terms if which is None else list(which)
    unknown = [term for term in which if term not in factor_terms]
    if unknown:
        verb = "is not a factor term" if len(unknown) == 1 else "are not factor terms"
        raise ValueError(f"{', '.join(map(repr, unknown))} {verb} of the model; its factor terms are: "
                         f"{', '.join(factor_terms) or 'none'}")
    contrasts: dict[str, pd.DataFrame] = {}
    tables = []
    if which:
        grid = _reference_grid(fit, levels)
        contrasts = _term_contrasts(fit, levels, grid, which)
        if pairwise:
            contrasts = {label: _pairs(L) for label, L in contrasts.items()}
        tables = [contest_rows(fit, L, ddf=ddf, level=level).set_axis(L.index) for L in contrasts.values()]
    table = pd.concat(tables) if tables else pd.DataFrame(columns=LS_MEANS_COLUMNS, dtype=float)
    return LeastSquaresMeans(table=table, level=level, ddf=ddf, contrasts=contrasts)


def difflsmeans(fit: AnovaFit, which: list[str] | None = None, level: float = 0.95,
                ddf: str = "satterthwaite") -> LeastSquaresMeans:
    """lmerTest's ``difflsmeans``: :func:`ls_means` of the pairwise differences.

    Examples
    --------
    >>> import pandas as pd
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> data = sleepstudy().assign(period=lambda d: pd.cut(d["Days"], [-1, 4, 9], labels=["early", "late"]))
    >>> fit = lmer("Reaction ~ period + (1 | Subject)", data.astype({"period": str}))
    >>> print(difflsmeans(fit).table[["Estimate", "df", "t value"]].round(2))
                              Estimate     df  t value
    periodearly - periodlate    -53.76  161.0   -10.57
    """
    return ls_means(fit, which, level, ddf, pairwise=True)
