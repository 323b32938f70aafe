"""Random-effects terms: each ``(expr | group)`` as its grouping factor and raw matrix.

lme4's ``mkReTrms``: per term the level codes of the grouping factor and the term's model
matrix :math:`X_i` (from which :math:`Z_i` has the columns :math:`X_i \\odot 1[g = \\ell]`),
terms sorted by decreasing number of levels.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import numpy as np

from mlmtools.formula import ParsedFormula, RandomSpec
from mlmtools.frame.checks import check_finite
from mlmtools.frame.evaluation import Evaluator
from mlmtools.frame.model_matrix import design_matrix


@dataclass(frozen=True)
class RandomTerm:
    """One random-effects term ``(expr | group)`` after expansion.

    Attributes
    ----------
    group : str
        The grouping factor as R prints it (``"Subject"``, ``"a:b"`` for an interaction).
    levels : tuple of str
        Level labels in R's order (``factor()`` sorts them).
    codes : numpy.ndarray
        Integer array of shape ``(n,)``: the level index of each row.
    columns : tuple of str
        Names of the term's model-matrix columns as R names them
        (``"(Intercept)"``, ``"Days"``).
    X : numpy.ndarray
        The term's raw model matrix, shape ``(n, len(columns))``.
    """

    group: str
    levels: tuple[str, ...]
    codes: np.ndarray
    columns: tuple[str, ...]
    X: np.ndarray



def build_random_terms(parsed: ParsedFormula, evaluator: Evaluator, n: int, allow_n_levels: bool
                  ) -> tuple[list[RandomTerm], list[RandomSpec]]:
    terms, specs = [], []
    for spec in parsed.random:
        codes, levels = evaluator.grouping(spec.group)
        if len(levels) < 2:
            raise ValueError(f"grouping factor '{spec.group_label}' has only one level "
                             f"({', '.join(levels)}); a random effect needs at least two")
        too_many = len(levels) > n if allow_n_levels else len(levels) >= n
        if too_many:
            relation = "<=" if allow_n_levels else "<"
            raise ValueError(f"number of levels of each grouping factor must be {relation} number "
                             f"of observations (problems: {spec.group_label} has {len(levels)} "
                             f"levels for {n} observations)")
        matrix, names, _ = design_matrix(spec.effects, evaluator)
        check_finite(matrix, names, f"the random-effects term ({spec.text})")
        terms.append(RandomTerm(spec.group_label, levels, codes, tuple(names), matrix))
        specs.append(spec)
    counts = [len(term.levels) for term in terms]
    if any(later > earlier for earlier, later in pairwise(counts)):
        # lme4's mkReTrms: rev(order(nl)), i.e. decreasing, ties in reverse formula order
        ascending = sorted(range(len(terms)), key=counts.__getitem__)
        order = ascending[::-1]
        terms = [terms[i] for i in order]
        specs = [specs[i] for i in order]
    return terms, specs
