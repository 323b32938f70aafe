"""Stage 1 of the pipeline: lme4 formulas read as text, never evaluated.

``formula -> model frame -> deviance -> optimizer -> result``: this subpackage turns a
formula such as ``"Reaction ~ Days + (1 + Days | Subject)"`` into a
:class:`~mlmtools.formula.terms.ParsedFormula` (response, fixed-effects terms, random-effects
terms), as R's ``terms.formula`` and lme4's ``findbars`` expand it.

=================  ===========================================================
module             holds
=================  ===========================================================
``syntax``         the syntax tree and errors with a caret under the column
``labels``         R's text for expressions (``deparse``, numbers, backquoted names)
``functions``      the allowed functions with R's arguments, and R's argument matching
``terms``          expansion into fixed and random terms
``tokens``         the tokenizer (numbers, names, strings, operators)
``parser``         recursive-descent parser, :func:`parse_formula`
=================  ===========================================================

May import: :mod:`mlmtools.exceptions` only (the bottom layer).
"""

from mlmtools.exceptions import FormulaError
from mlmtools.formula.functions import (
    ALLOWED_FUNCTIONS,
    bound_arguments,
    canonical_name,
    contrast_argument,
    data_arguments,
)
from mlmtools.formula.labels import deparse, format_r_number, quote_name
from mlmtools.formula.parser import parse_formula
from mlmtools.formula.syntax import (
    COMPARISONS,
    Bar,
    Binary,
    Call,
    Logical,
    Name,
    Node,
    Num,
    Paren,
    Str,
    Unary,
    is_logical,
)
from mlmtools.formula.terms import FixedSpec, ParsedFormula, RandomSpec

__all__ = [
    "ALLOWED_FUNCTIONS",
    "COMPARISONS",
    "Bar",
    "Binary",
    "Call",
    "FixedSpec",
    "FormulaError",
    "Logical",
    "Name",
    "Node",
    "Num",
    "Paren",
    "ParsedFormula",
    "RandomSpec",
    "Str",
    "Unary",
    "bound_arguments",
    "canonical_name",
    "contrast_argument",
    "data_arguments",
    "deparse",
    "format_r_number",
    "is_logical",
    "parse_formula",
    "quote_name",
]
