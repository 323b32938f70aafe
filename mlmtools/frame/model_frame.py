"""Model frames: from a formula and a data frame to the arrays a model is fitted to.

The second stage of the pipeline ``formula -> model frame -> deviance -> optimizer ->
result``. :func:`build_model` turns an lme4-style formula and a :class:`pandas.DataFrame`
into a :class:`ModelFrame`: the response, the fixed-effects design ``X`` with R's column
names, and one :class:`~mlmtools.frame.random_terms.RandomTerm` per random-effects term.

It follows what lme4's ``lFormula`` does in R:

* rows with a missing value in any used column are dropped (``na.omit``);
* ``X`` is R's ``model.matrix``: treatment contrasts with the first level as reference
  (polynomial contrasts for an ordered factor; others given in ``contrasts=``), columns of
  a term with the first variable varying fastest, terms ordered by degree;
* columns that make ``X`` rank deficient are dropped (``chkRank.drop.cols``);
* random terms are sorted by decreasing number of levels (``mkReTrms``).

Data frames other than pandas (polars, pyarrow) are converted first
(:func:`~mlmtools.frame.inputs.as_pandas`). The encodings learned from the data (factor
levels, ``scale()`` centre and scale, ``poly()`` coefficients, spline knots, date units) and
the contrasts are stored on the :class:`ModelFrame`, so that
:meth:`ModelFrame.fixed_matrix` and :meth:`ModelFrame.random_matrices` rebuild the same
columns for new data.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import FormulaError, MissingRowsWarning, MlmtoolsWarning, RankDeficiencyWarning
from mlmtools.formula import Call, FixedSpec, Name, Node, ParsedFormula, RandomSpec, deparse, parse_formula
from mlmtools.frame.checks import (
    check_finite,
    check_numeric_columns,
    check_response_varies,
    check_unique_columns,
    column_names_in,
    missing_mask,
    on_different_scales,
    require_columns,
    resolve_vector,
    spec_columns,
)
from mlmtools.frame.columns import KeptRows, column_kind
from mlmtools.frame.contrasts import ContrastSpec, check_contrast_specs
from mlmtools.frame.evaluation import Evaluator
from mlmtools.frame.inputs import as_pandas
from mlmtools.frame.model_matrix import design_matrix, rank_deficient_columns
from mlmtools.frame.random_terms import RandomTerm, build_random_terms


@dataclass(frozen=True)
class ModelFrame:
    """Everything a mixed model (or a GEE) needs from the formula and the data.

    Attributes
    ----------
    formula : str
        The formula as the user wrote it.
    parsed : ParsedFormula
        The parsed formula the frame was built from.
    response_name : str
        The response as written on the left-hand side.
    y : numpy.ndarray
        Response, shape ``(n,)`` (for a ``cbind(s, f)`` response, the proportion s/(s+f)).
    X : numpy.ndarray
        Fixed-effects design, shape ``(n, p)``, rank-deficient columns already dropped.
    fixed_names : tuple of str
        Column names of ``X`` as R names them (``"(Intercept)"``, ``"grpb"``, ``"x:z"``).
    terms : tuple of ~mlmtools.frame.random_terms.RandomTerm
        Random-effects terms sorted by decreasing number of levels, as lme4 sorts them.
    weights : numpy.ndarray or None
        Prior weights, shape ``(n,)`` (trials times prior weights for a ``cbind`` response).
    offset : numpy.ndarray or None
        Offset, shape ``(n,)``: the ``offset=`` argument plus any ``offset(...)`` terms of
        the formula.
    row_index : pandas.Index
        Index labels of the rows of the caller's data that were kept.
    n_dropped : int
        Number of rows dropped because of missing values.
    dropped_columns : tuple of str
        Fixed-effects columns dropped for rank deficiency.
    extra : dict
        Extra columns requested by the caller (e.g. a GEE ``id``), as arrays aligned with
        the kept rows.
    response_kind : str
        ``"numeric"``, or ``"cbind"`` for a ``cbind(successes, failures)`` response.
    random_specs : tuple of ~mlmtools.formula.terms.RandomSpec
        The formula term behind each entry of ``terms`` (same order).
    random_labels : tuple of str
        Each term as lme4 names it, e.g. ``"1 + Days | Subject"`` (same order as ``terms``).
    encodings : dict
        What was learned from the data to build the columns (factor levels, ``scale()``
        centre and scale, ``poly()`` coefficients, spline knots, date units); reused for new
        data.
    contrasts : dict
        The contrast of each factor of the fixed part, as R's ``attr(X, "contrasts")``: the
        name of R's contrast function (``"contr.treatment"``, ``"contr.poly"``, ...) or the
        matrix given in ``contrasts=``; reused for new data.
    """

    formula: str
    parsed: ParsedFormula
    response_name: str
    y: np.ndarray
    X: np.ndarray
    fixed_names: tuple[str, ...]
    terms: tuple[RandomTerm, ...]
    weights: np.ndarray | None
    offset: np.ndarray | None
    row_index: pd.Index
    n_dropped: int = 0
    dropped_columns: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)
    response_kind: str = "numeric"
    random_specs: tuple[RandomSpec, ...] = ()
    random_labels: tuple[str, ...] = ()
    encodings: dict[str, Any] = field(default_factory=dict)
    contrasts: dict[str, ContrastSpec] = field(default_factory=dict)

    @property
    def n(self) -> int:
        """Number of observations (rows kept)."""
        return int(self.y.shape[0])

    def fixed_matrix(self, newdata: Any) -> np.ndarray:
        """Rebuild the fixed-effects design for new rows with the stored encoding.

        Factor levels and contrasts, ``scale()`` centre and scale, ``poly()`` coefficients,
        spline knots and date units are those learned from the fitting data (R's
        ``makepredictcall``), and columns dropped for rank deficiency stay dropped, so
        ``fixed_matrix(newdata) @ beta`` is the fixed part of a prediction.

        Parameters
        ----------
        newdata : pandas.DataFrame
            New rows; only the columns used by the fixed part are needed.

        Returns
        -------
        numpy.ndarray
            Shape ``(len(newdata), p)``, columns named as :attr:`fixed_names`.

        Raises
        ------
        ColumnNotFoundError
            If a needed column is missing.
        ValueError
            If a factor has a level that did not occur in the fitting data.
        """
        spec = self.parsed.fixed
        newdata = as_pandas(newdata, "newdata")
        require_columns(newdata, spec_columns(spec), "the fixed part", "newdata")
        evaluator = Evaluator(newdata, self.encodings, learning=False)
        matrix, names, _ = design_matrix(spec, evaluator, self.contrasts)
        keep = [i for i, name in enumerate(names) if name not in self.dropped_columns]
        return matrix[:, keep]

    def formula_offset(self, newdata: Any) -> np.ndarray | None:
        """The sum of the formula's ``offset(...)`` terms for new rows (None if it has none).

        An offset given through the ``offset=`` argument of :func:`build_model` is not part
        of the formula and is not included (lme4's ``predict`` ignores it too).
        """
        offsets = self.parsed.offsets
        if not offsets:
            return None
        newdata = as_pandas(newdata, "newdata")
        require_columns(newdata, [name for node in offsets for name in column_names_in(node)],
                         "an offset() term", "newdata")
        evaluator = Evaluator(newdata, self.encodings, learning=False)
        total: np.ndarray = np.sum([evaluator.numeric(node) for node in offsets], axis=0)
        return total

    def random_matrices(self, newdata: Any) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per random-effects term, the level codes and the term's model matrix for new rows.

        Parameters
        ----------
        newdata : pandas.DataFrame
            New rows with the grouping factors and the random-slope variables.

        Returns
        -------
        list of tuple
            Pairs of arrays, in the order of :attr:`terms`: ``codes`` of shape ``(m,)`` indexing the term's
            ``levels`` (``-1`` for a level not seen when fitting, or a missing group), and
            ``X_i`` of shape ``(m, len(columns))``.
        """
        newdata = as_pandas(newdata, "newdata")
        evaluator = Evaluator(newdata, self.encodings, learning=False)
        result = []
        for spec in self.random_specs:
            require_columns(newdata, spec_columns(spec.effects) + list(spec.group),
                             f"the random-effects term ({spec.text})", "newdata")
            codes, _ = evaluator.grouping(spec.group)
            matrix, _, _ = design_matrix(spec.effects, evaluator)
            result.append((codes, matrix))
        return result



# ---------------------------------------------------------------------------------------
# build_model
# ---------------------------------------------------------------------------------------


def _response(parsed: ParsedFormula, evaluator: Evaluator) -> tuple[np.ndarray, np.ndarray | None]:
    """The response and, for ``cbind(s, f)``, the number of trials s + f."""
    node = parsed.response
    if node is None:
        raise FormulaError("the formula has no response (left-hand side)")
    label = deparse(node)
    if isinstance(node, Call) and node.func == "cbind":
        successes, failures = (_numeric_response(arg, evaluator) for arg in node.args)
        if (successes < 0).any() or (failures < 0).any():
            raise ValueError(f"{label}: counts of successes and failures must be non-negative")
        trials = successes + failures
        with np.errstate(invalid="ignore", divide="ignore"):
            proportion = np.where(trials > 0, successes / trials, 0.0)
        return proportion, trials
    return _numeric_response(node, evaluator), None


def _numeric_response(node: Node, evaluator: Evaluator) -> np.ndarray:
    label = deparse(node)
    if isinstance(node, Name) and column_kind(evaluator.data[node.name]) == "categorical":
        series = evaluator.data[node.name]
        example = next((v for v in series if not isinstance(v, (int, float, np.number))), None)
        shown = f" such as {example!r}" if example is not None else ""
        raise TypeError(f"response '{label}' must be numeric, but column '{node.name}' holds "
                        f"{series.dtype} values{shown}; convert it first (e.g. with "
                        "pandas.to_numeric)")
    values = evaluator.numeric(node)
    if not np.isfinite(values).all():
        raise ValueError(f"response '{label}' has infinite or undefined values")
    return values



def _contrast_labels(contrasts: dict[str, ContrastSpec], spec: FixedSpec) -> dict[str, ContrastSpec]:
    """``contrasts=`` keyed by variable label: a key is a label (``"factor(k)"``) or a column
    name (``"hours studied"`` for ```hours studied```, as R's model frame names it)."""
    used = [label for label in spec.variables if any(label in term for term in spec.terms)]
    by_name = {node.name: label for label, node in spec.variables.items()
               if isinstance(node, Name) and label in used}
    labelled: dict[str, ContrastSpec] = {}
    for key, value in contrasts.items():
        label = key if key in used else by_name.get(key)
        if label is None:
            raise ValueError(f"contrasts= names '{key}', which is not a variable of the fixed part "
                             f"(its variables: {', '.join(used) or 'none'})")
        labelled[label] = value
    return labelled


def build_model(
    formula: str,
    data: pd.DataFrame,
    *,
    weights: str | Sequence[float] | np.ndarray | None = None,
    offset: str | Sequence[float] | np.ndarray | None = None,
    extra_columns: Sequence[str] = (),
    require_random: bool = True,
    na_action: str = "omit",
    allow_n_levels: bool = False,
    stacklevel: int | None = None,
    contrasts: Mapping[str, ContrastSpec] | None = None,
) -> ModelFrame:
    r"""Build the response, fixed design and random-effects terms of a mixed model.

    This is lme4's ``lFormula`` step. For the model

    .. math:: y = X\beta + \sum_i Z_i b_i + o + \varepsilon,

    it returns :math:`y`, :math:`X` (R's ``model.matrix`` of the fixed part, rank-deficient
    columns dropped) and, per random term :math:`i`, the grouping factor's level codes and
    the raw term matrix :math:`X_i`, from which :math:`Z_i` has the columns
    :math:`X_i \odot 1[g = \ell]` for each level :math:`\ell`.

    Parameters
    ----------
    formula : str
        An lme4 formula, e.g. ``"Reaction ~ Days + (1 + Days | Subject)"``.
    data : pandas.DataFrame
        The data; a polars or pyarrow frame (or any frame narwhals reads) is converted with
        :func:`~mlmtools.frame.inputs.as_pandas`.
    weights, offset : str or array-like, optional
        A column name, or values aligned with the rows of ``data``.
    extra_columns : sequence of str
        Further columns to carry along (and include in the missing-value check), e.g. a GEE
        cluster id; returned in :attr:`ModelFrame.extra`.
    require_random : bool
        lme4's checks: raise if the formula has no random-effects term, and warn (as lme4's
        ``checkScaleX``) when predictors are on very different scales; GEE passes False.
    na_action : {"omit", "fail"}
        Drop rows with missing values (R's ``na.omit``) with a :class:`~mlmtools.exceptions.MissingRowsWarning`,
        or raise.
    allow_n_levels : bool
        Allow a grouping factor with as many levels as observations (glmer's ``allow.n``);
        lmer forbids it because such a term cannot be told from the residual.
    stacklevel : int, optional
        Passed to :func:`warnings.warn`; by default the warnings point at the first line
        outside mlmtools that led here (the user's call, however deep the package's frames).
    contrasts : dict, optional
        R's ``contrasts`` argument: for a factor of the fixed part (its name, or its label
        such as ``"factor(k)"``), the name of one of R's contrast functions
        (``"contr.treatment"``, ``"contr.sum"``, ``"contr.helmert"``, ``"contr.poly"``,
        ``"contr.SAS"``) or a matrix with one row per level (see
        :func:`~mlmtools.frame.contrasts.coding_of`); other factors get R's defaults.

    Returns
    -------
    ModelFrame

    Raises
    ------
    FormulaError
        Malformed formula, or no random-effects term when one is required.
    ColumnNotFoundError
        A column named in the formula (or in ``weights``/``offset``/``extra_columns``) is not
        in ``data``; the message suggests close names.
    ValueError
        Empty data, no rows left after dropping missing values, infinite values, a constant
        response (unless there is an offset), a grouping factor with fewer than two levels
        or with as many levels as observations; a contrast that is unknown, names no factor
        of the fixed part, or does not fit the factor's levels.
    TypeError
        A non-numeric response; a column of time differences.

    Warns
    -----
    MissingRowsWarning
        When rows with missing values are dropped (with their count).
    RankDeficiencyWarning
        When columns of the fixed-effects design are dropped.
    MlmtoolsWarning
        lme4's "Some predictor variables are on very different scales" (with ``require_random``).
    """
    parsed = parse_formula(formula)
    if parsed.response is None:
        raise FormulaError(f"formula '{formula}' has no response (left-hand side)")
    response_label = deparse(parsed.response)
    if require_random and not parsed.random:
        raise FormulaError("no random effects terms specified in formula")
    if na_action not in ("omit", "fail"):
        raise ValueError(f"na_action must be 'omit' or 'fail', got {na_action!r}")
    data = as_pandas(data)
    contrast_specs = _contrast_labels(check_contrast_specs(contrasts), parsed.fixed)
    if len(data) == 0:
        raise ValueError("data has no rows")

    response_columns = column_names_in(parsed.response)
    fixed_columns = spec_columns(parsed.fixed)
    offset_columns = [name for node in parsed.offsets for name in column_names_in(node)]
    require_columns(data, response_columns, f"the response {parsed.response_label}")
    require_columns(data, fixed_columns, "the fixed part")
    require_columns(data, offset_columns, "an offset() term")
    random_columns: list[str] = []
    for spec in parsed.random:
        slope_columns = spec_columns(spec.effects)
        require_columns(data, slope_columns, f"the random-effects term ({spec.text})")
        require_columns(data, spec.group, f"the grouping factor of ({spec.text})")
        random_columns += slope_columns + list(spec.group)
    require_columns(data, list(extra_columns), "extra_columns")

    used = list(dict.fromkeys(response_columns + fixed_columns + offset_columns
                              + random_columns + list(extra_columns)))
    check_unique_columns(data, used)
    checked: dict[str, Any] = {name: data[name].to_numpy() for name in used}
    weight_values = offset_values = None
    if weights is not None:
        weight_values, weight_name = resolve_vector(weights, data, "weights")
        checked[weight_name] = weight_values
    if offset is not None:
        offset_values, offset_name = resolve_vector(offset, data, "offset")
        checked[offset_name] = offset_values

    missing, culprits = missing_mask(checked, len(data))
    n_dropped = int(missing.sum())
    if n_dropped and na_action == "fail":
        raise ValueError(f"{n_dropped} rows have missing values in: {', '.join(culprits)}")
    if n_dropped == len(data):
        raise ValueError(f"no rows left after dropping rows with missing values in: "
                         f"{', '.join(culprits)}")
    if n_dropped:
        warnings.warn(f"dropped {n_dropped} row{'s' if n_dropped > 1 else ''} with missing values "
                      f"in: {', '.join(culprits)}", MissingRowsWarning,
                      stacklevel=user_stacklevel() if stacklevel is None else stacklevel)
    keep = ~missing
    frame = KeptRows(data, keep, len(data) - n_dropped)
    check_numeric_columns(frame, used)

    encodings: dict[str, Any] = {}
    evaluator = Evaluator(frame, encodings, learning=True)
    y, trials = _response(parsed, evaluator)
    n = y.shape[0]

    if offset is None and not parsed.offsets:
        check_response_varies(y, response_label)

    X, names, used_contrasts = design_matrix(parsed.fixed, evaluator, contrast_specs)
    check_finite(X, names, "the fixed-effects design")
    dropped_idx = rank_deficient_columns(X) if X.shape[1] else []
    dropped = tuple(names[j] for j in dropped_idx)
    if dropped:
        count = len(dropped)
        noun = "column / coefficient" if count == 1 else "columns / coefficients"
        warnings.warn(f"fixed-effect model matrix is rank deficient so dropping {count} {noun}: "
                      f"{', '.join(dropped)}", RankDeficiencyWarning,
                      stacklevel=user_stacklevel() if stacklevel is None else stacklevel)
        kept = [j for j in range(X.shape[1]) if j not in dropped_idx]
        X = X[:, kept]
        names = [names[j] for j in kept]
    if require_random and on_different_scales(X):
        warnings.warn("Some predictor variables are on very different scales: consider rescaling",
                      MlmtoolsWarning, stacklevel=user_stacklevel() if stacklevel is None else stacklevel)

    terms, specs = build_random_terms(parsed, evaluator, n, allow_n_levels)

    prior = None if weight_values is None else weight_values[keep]
    if prior is not None and ((prior < 0).any() or not np.isfinite(prior).all()):
        raise ValueError("weights must be finite and non-negative")
    offset_kept = None if offset_values is None else offset_values[keep]
    for node in parsed.offsets:
        term = evaluator.numeric(node)
        offset_kept = term if offset_kept is None else offset_kept + term
    if offset_kept is not None and not np.isfinite(offset_kept).all():
        raise ValueError("offset has infinite or undefined values")
    if trials is not None:
        prior = trials if prior is None else trials * prior

    return ModelFrame(
        formula=formula,
        parsed=parsed,
        response_name=response_label,
        y=y,
        X=X,
        fixed_names=tuple(names),
        terms=tuple(terms),
        weights=prior,
        offset=offset_kept,
        row_index=data.index[keep],
        n_dropped=n_dropped,
        dropped_columns=dropped,
        extra={name: frame[name].to_numpy() for name in extra_columns},
        response_kind="cbind" if trials is not None else "numeric",
        random_specs=tuple(specs),
        random_labels=tuple(spec.text for spec in specs),
        encodings=encodings,
        contrasts=used_contrasts,
    )
