"""Which random effects a prediction includes: lme4's ``re.form`` argument of ``predict``.

* ``None`` (R's ``NULL``): every random effect, :math:`X\\hat\\beta + o + Z\\hat b`;
* ``"~0"`` or ``"NA"``: none, the population level :math:`X\\hat\\beta + o`;
* a one-sided formula of random-effects terms, e.g. ``"~(1 | school)"``: only the effects it
  names, :math:`X\\hat\\beta + o + \\sum_{(g, c)} z_{gc}\\hat b_{gc}` over the grouping factors
  :math:`g` and term columns :math:`c` of its terms.

As lme4's ``mkNewReTrms``, a term of ``re_form`` is matched to the fitted model by its grouping
factor (``(1 | school)``, or ``(1 | class:school)`` for the second term of ``(1 | school/class)``)
and by the columns of its left-hand side, which must be columns the fitted model has for that
factor: ``(1 | Subject)`` in a model with ``(Days | Subject)`` keeps the intercepts and drops
the slopes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mlmtools.formula import FixedSpec, parse_formula
from mlmtools.frame import ModelFrame

POPULATION_LEVEL = ("~0", "~ 0", "NA")


@dataclass(frozen=True)
class RandomEffectsSelection:
    """The random effects a prediction includes: for each random-effects term of the fit (lme4's
    order), a boolean mask over the term's columns.

    Attributes
    ----------
    columns : tuple of numpy.ndarray
        One mask per term.
    """

    columns: tuple[np.ndarray, ...]

    def __bool__(self) -> bool:
        """Whether any random effect is included."""
        return any(mask.any() for mask in self.columns)

    def masked(self, term_effects: np.ndarray, term: int) -> np.ndarray:
        """A term's effects (shape ``(levels, columns)``) with the columns left out set to 0."""
        masked: np.ndarray = term_effects * self.columns[term]
        return masked


def _column_terms(columns: tuple[str, ...], effects: FixedSpec) -> list[str | None]:
    """For each column of a fitted term, the label of the left-hand-side term it comes from
    (``"(Intercept)"`` for the intercept): the term whose variables begin the column's
    ``:``-separated parts (a factor's columns are its name followed by the level)."""
    owners: list[str | None] = []
    for name in columns:
        if name == "(Intercept)":
            owners.append(name)
            continue
        parts = name.split(":")
        matches = [":".join(term) for term in effects.terms
                   if len(term) == len(parts) and all(part.startswith(var) for part, var in zip(parts, term))]
        owners.append(max(matches, key=len) if matches else None)
    return owners


def select_random_effects(re_form: str | None, frame: ModelFrame) -> RandomEffectsSelection:
    """The selection ``re_form`` asks for (see the module docstring).

    Parameters
    ----------
    re_form : str or None
        None, ``"~0"``/``"NA"``, or a one-sided formula of random-effects terms.
    frame : ~mlmtools.frame.model_frame.ModelFrame
        The fit's model frame (its random terms, in lme4's order).

    Returns
    -------
    RandomEffectsSelection

    Raises
    ------
    ValueError
        For a formula with a fixed part or without random-effects terms, a grouping factor the
        model does not have, or a column its terms for that factor do not have.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.lmm import lmer
    >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
    >>> [mask.tolist() for mask in select_random_effects("~(1 | Subject)", fit.state.frame).columns]
    [[True, False]]
    >>> fit.predict(re_form="~(1 | Subject)").round(2).head(2).tolist()
    [253.66, 264.13]
    """
    n_columns = [len(term.columns) for term in frame.terms]
    if re_form is None:
        return RandomEffectsSelection(tuple(np.ones(k, dtype=bool) for k in n_columns))
    if not isinstance(re_form, str):
        raise TypeError(f"re_form must be None, '~0', 'NA' or a formula string, got {type(re_form).__name__}")
    if re_form.strip() in POPULATION_LEVEL:
        return RandomEffectsSelection(tuple(np.zeros(k, dtype=bool) for k in n_columns))
    parsed = parse_formula(re_form)
    if parsed.response is not None or parsed.fixed.terms or not parsed.random:
        raise ValueError(f"re_form must be None, '~0', 'NA' or a one-sided formula of random-effects terms "
                         f"such as '~(1 | group)', got {re_form!r}")
    masks = [np.zeros(k, dtype=bool) for k in n_columns]
    groups = {term.group for term in frame.terms}
    for spec in parsed.random:
        if spec.group_label not in groups:
            raise ValueError(f"re_form names the grouping factor {spec.group_label!r}, which the model does not "
                             f"have; its grouping factors are: {', '.join(sorted(groups))}")
        wanted = (["(Intercept)"] if spec.effects.intercept else []) + list(spec.effects.labels)
        found: set[str] = set()
        for i, (term, fitted) in enumerate(zip(frame.terms, frame.random_specs)):
            if term.group != spec.group_label:
                continue
            for j, owner in enumerate(_column_terms(term.columns, fitted.effects)):
                if owner in wanted:
                    masks[i][j] = True
                    found.add(owner)
        missing = [label for label in wanted if label not in found]
        if missing:
            raise ValueError(f"re_form asks for random effects the model does not have for "
                             f"{spec.group_label!r}: {', '.join(missing)}")
    return RandomEffectsSelection(tuple(masks))
