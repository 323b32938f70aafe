"""Stage 1 of the pipeline: lme4 formulas read as text, never evaluated.

``formula -> model frame -> deviance -> optimizer -> result``: this subpackage turns a
formula such as ``"Reaction ~ Days + (1 + Days | Subject)"`` into a
:class:`~mlmtools.formula.terms.ParsedFormula` (response, fixed-effects terms, random-effects
terms), as R's ``terms.formula`` and lme4's ``findbars`` expand it.

=================  ===========================================================
module             holds
=================  ===========================================================
``syntax``         the syntax tree and errors with a caret under the column
``labels``         R's text for expressions (``deparse``, numbers)
``terms``          expansion into fixed and random terms
``parser``         tokenizer, recursive-descent parser, :func:`parse_formula`
=================  ===========================================================

May import: :mod:`mlmtools.exceptions` only (the bottom layer).
"""

from mlmtools.exceptions import FormulaError
from mlmtools.formula.labels import deparse, format_r_number
from mlmtools.formula.parser import ALLOWED_FUNCTIONS, parse_formula
from mlmtools.formula.syntax import Bar, Binary, Call, Name, Node, Num, Paren, Unary
from mlmtools.formula.terms import FixedSpec, ParsedFormula, RandomSpec

__all__ = [
    "ALLOWED_FUNCTIONS",
    "Bar",
    "Binary",
    "Call",
    "FixedSpec",
    "FormulaError",
    "Name",
    "Node",
    "Num",
    "Paren",
    "ParsedFormula",
    "RandomSpec",
    "Unary",
    "deparse",
    "format_r_number",
    "parse_formula",
]
