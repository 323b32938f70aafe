"""Stage 2 of the pipeline: model frames, the arrays a model is fitted to (lme4's ``lFormula``).

``formula -> model frame -> deviance -> optimizer -> result``: :func:`build_model` evaluates a
parsed formula on a data frame and returns a :class:`ModelFrame` (response, fixed-effects
design with R's column names, random-effects terms, weights, offset, kept rows and the
encodings that rebuild the same columns for new data).

=================  ===============================================================
module             holds
=================  ===============================================================
``inputs``         data frames other than pandas (polars, pyarrow) through narwhals
``dates``          dates and date-times as R's numbers (days, seconds) and labels
``columns``        column kinds and R's factor coding
``contrasts``      R's contrast matrices (``contr.treatment``, ``contr.sum``, ...)
``polynomials``    ``poly()``: orthogonal (R's recurrence) and raw
``splines``        ``bs()`` and ``ns()`` bases with R's knots
``evaluation``     evaluating formula variables (transforms, factors, bases)
``model_matrix``   R's ``model.matrix`` (contrasts) and lme4's rank check
``random_terms``   the grouping factor and raw matrix of each random-effects term
``checks``         columns present, unique and finite; missing rows
``model_frame``    :class:`ModelFrame` and :func:`build_model`
=================  ===============================================================

May import: :mod:`mlmtools.formula` and :mod:`mlmtools.exceptions`.
"""

from mlmtools.frame.checks import ColumnNotFoundError
from mlmtools.frame.contrasts import contr_helmert, contr_poly, contr_sum, contr_treatment
from mlmtools.frame.inputs import as_pandas
from mlmtools.frame.model_frame import ModelFrame, build_model
from mlmtools.frame.random_terms import RandomTerm

__all__ = ["ColumnNotFoundError", "ModelFrame", "RandomTerm", "as_pandas", "build_model", "contr_helmert",
           "contr_poly", "contr_sum", "contr_treatment"]
