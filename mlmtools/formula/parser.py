"""A safe parser for lme4 model formulas: the first stage of the pipeline.

The pipeline is ``formula -> model frame -> deviance -> optimizer -> result``. This module
reads a formula such as ``"Reaction ~ Days + (1 + Days | Subject)"`` with a tokenizer and a
recursive-descent parser (nothing is ever evaluated by Python); :mod:`mlmtools.formula.terms`
expands the tree into terms.

Grammar (R's operator precedence, lowest first)::

    formula := [expr] "~" expr
    bar     := sum [("|" | "||") sum]          (only directly inside parentheses)
    sum     := product (("+" | "-") product)*
    product := colon (("*" | "/") colon)*
    colon   := unary (":" unary)*
    unary   := ("-" | "+") unary | power
    power   := primary [("^" | "**") unary]   (``**`` is read as ``^``, as R does)
    primary := NUMBER | NAME | NAME "(" args ")" | "(" bar ")"

Only the functions in :data:`ALLOWED_FUNCTIONS` may be called; anything else (attribute
access, strings, subscripts, keywords, dunder names) raises
:class:`~mlmtools.exceptions.FormulaError` with the column of the offending token and a caret
under it.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from mlmtools.exceptions import FormulaError
from mlmtools.formula.syntax import (
    Bar,
    Binary,
    Call,
    Name,
    Node,
    Num,
    Paren,
    Unary,
    is_positive_integer,
    located_error,
)
from mlmtools.formula.terms import FixedSpec, ParsedFormula, RandomSpec, TermExpander, random_specs

#: Functions a formula may call, with their number of arguments.
ALLOWED_FUNCTIONS: dict[str, int] = {
    "C": 1,
    "factor": 1,
    "log": 1,
    "exp": 1,
    "sqrt": 1,
    "abs": 1,
    "I": 1,
    "scale": 1,
    "poly": 2,
    "offset": 1,
}
_RESPONSE_ONLY_FUNCTIONS: dict[str, int] = {"cbind": 2}
# R's reserved words, and the Python statements that could only mean an attempt at code
# (other Python keywords, such as ``class``, are ordinary column names here).
_RESERVED = frozenset(
    {"if", "else", "repeat", "while", "function", "for", "in", "next", "break", "TRUE",
     "FALSE", "NULL", "Inf", "NaN", "NA", "lambda", "import", "def", "del", "global",
     "nonlocal", "yield", "await", "async"}
)


# ---------------------------------------------------------------------------------------
# Tokenizer
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "name", "op", "end", or "bad" (refused when the parser reaches it)
    text: str
    column: int
    reason: str = ""


_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z.][A-Za-z0-9._]*")
_OPERATORS = ("||", "~", "+", "-", "**", "*", "/", "^", ":", "|", "(", ")", ",")
_SPELLINGS = {"**": "^"}  # R's parser reads ``**`` as ``^`` (and deparses it as ``^``)
_FORBIDDEN_CHARS = {
    "'": "strings are not allowed in a formula",
    '"': "strings are not allowed in a formula",
    "`": "backquoted names are not supported; rename the column",
    "[": "subscripts are not allowed in a formula",
    "]": "subscripts are not allowed in a formula",
    "=": "'=' is not allowed in a formula (named arguments are not supported)",
    "%": "'%' operators (such as %in%) are not supported",
}


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i = 0
    while i < len(text):
        char = text[i]
        column = i + 1
        if char.isspace():
            i += 1
            continue
        number = _NUMBER.match(text, i)
        if number and not (char == "." and number.end() == i + 1):
            following = text[number.end():number.end() + 1]
            if following.isalpha() or following == "_":
                raise located_error(f"malformed number at column {column}", text, column)
            tokens.append(_Token("num", number.group(0), column))
            i = number.end()
            continue
        name = _NAME.match(text, i)
        if name:
            word = name.group(0)
            _check_name(word, text, column)
            tokens.append(_Token("name", word, column))
            i = name.end()
            continue
        if char == "_":
            word = re.match(r"[A-Za-z0-9._]+", text[i:]).group(0)
            raise located_error(f"name '{word}' at column {column} is not allowed", text, column)
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator:
            tokens.append(_Token("op", _SPELLINGS.get(operator, operator), column))
            i += len(operator)
            continue
        reason = _FORBIDDEN_CHARS.get(char, f"unexpected character {char!r}")
        end = i + 1
        if char in "'\"":
            closing = text.find(char, i + 1)
            end = len(text) if closing < 0 else closing + 1
        tokens.append(_Token("bad", text[i:end], column, f"{reason} (column {column})"))
        i = end
    tokens.append(_Token("end", "", len(text) + 1))
    return tokens


def _check_name(word: str, text: str, column: int) -> None:
    if word == ".":
        raise located_error(f"'.' (all other columns) at column {column} is not supported; list the "
                            "predictors explicitly", text, column)
    if "__" in word or word.startswith("_"):
        raise located_error(f"name '{word}' at column {column} is not allowed", text, column)
    if word in _RESERVED:
        raise located_error(f"'{word}' at column {column} is a reserved word and cannot be used in a "
                            "formula", text, column)


# ---------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0

    @property
    def current(self) -> _Token:
        return self.tokens[self.pos]

    def _advance(self) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _at(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.text in ops

    def _error(self, message: str, token: _Token | None = None) -> FormulaError:
        token = token or self.current
        return located_error(message, self.text, token.column)

    def _unexpected(self) -> FormulaError:
        token = self.current
        if token.kind == "bad":
            return self._error(token.reason)
        if token.kind == "end":
            return self._error(f"formula ends unexpectedly at column {token.column}")
        if token.text == "|" or token.text == "||":
            return self._error(f"'{token.text}' at column {token.column} is outside parentheses; "
                               "write random-effects terms as (expr | group)")
        if token.text == "~":
            return self._error(f"a second '~' at column {token.column}")
        if token.text == ")":
            return self._error(f"unbalanced parentheses: ')' at column {token.column} has no "
                               "matching '('")
        return self._error(f"unexpected '{token.text}' at column {token.column}")

    def parse(self) -> tuple[Node | None, Node]:
        tilde = [t for t in self.tokens if t.kind == "op" and t.text == "~"]
        if not tilde:
            raise located_error("formula has no '~'; write it as 'response ~ predictors'", self.text,
                                len(self.text) + 1)
        response = None
        if not self._at("~"):
            response = self._sum(allow_bar=False)
            if not self._at("~"):
                raise self._unexpected()
        self._advance()
        if self.current.kind == "end":
            raise self._error(f"nothing after '~' (column {self.current.column})")
        rhs = self._sum(allow_bar=True)
        if self.current.kind != "end":
            raise self._unexpected()
        return response, rhs

    def _bar(self, allow_bar: bool) -> Node:
        start = self.current
        if self._at("|", "||"):
            raise self._error(f"empty random-effects term: nothing before '{start.text}' at "
                              f"column {start.column}")
        left = self._sum(allow_bar)
        if allow_bar and self._at("|", "||"):
            bar = self._advance()
            if self._at(")") or self.current.kind == "end":
                raise self._error(f"empty random-effects term: no grouping factor after "
                                  f"'{bar.text}' at column {bar.column}", bar)
            group = self._sum(allow_bar=False)
            return Bar(left, group, bar.text == "||", bar.column)
        return left

    def _sum(self, allow_bar: bool) -> Node:
        node = self._product(allow_bar)
        while self._at("+", "-"):
            op = self._advance()
            node = Binary(op.text, node, self._product(allow_bar), op.column)
        return node

    def _product(self, allow_bar: bool) -> Node:
        node = self._colon(allow_bar)
        while self._at("*", "/"):
            op = self._advance()
            node = Binary(op.text, node, self._colon(allow_bar), op.column)
        return node

    def _colon(self, allow_bar: bool) -> Node:
        node = self._unary(allow_bar)
        while self._at(":"):
            op = self._advance()
            node = Binary(":", node, self._unary(allow_bar), op.column)
        return node

    def _unary(self, allow_bar: bool) -> Node:
        if self._at("-", "+"):
            op = self._advance()
            return Unary(op.text, self._unary(allow_bar), op.column)
        return self._power(allow_bar)

    def _power(self, allow_bar: bool) -> Node:
        node = self._primary(allow_bar)
        if self._at("^"):
            op = self._advance()
            node = Binary("^", node, self._unary(allow_bar), op.column)
        return node

    def _primary(self, allow_bar: bool) -> Node:
        token = self.current
        if token.kind == "num":
            self._advance()
            return Num(float(token.text), token.column)
        if token.kind == "name":
            self._advance()
            if self._at("("):
                return self._call(token)
            return Name(token.text, token.column)
        if self._at("("):
            self._advance()
            if self._at(")"):
                raise self._error(f"empty parentheses at column {token.column}", token)
            inner = self._bar(allow_bar)
            if not self._at(")"):
                if self.current.kind == "end":
                    raise self._error(f"unbalanced parentheses: '(' at column {token.column} "
                                      "is never closed", token)
                raise self._unexpected()
            self._advance()
            return Paren(inner, token.column)
        raise self._unexpected()

    def _call(self, name: _Token) -> Call:
        allowed = {**ALLOWED_FUNCTIONS, **_RESPONSE_ONLY_FUNCTIONS}
        if name.text not in allowed:
            raise self._error(f"unknown function '{name.text}' at column {name.column}; allowed: "
                              f"{', '.join(ALLOWED_FUNCTIONS)}", name)
        open_paren = self._advance()
        args: list[Node] = []
        if not self._at(")"):
            args.append(self._sum(allow_bar=False))
            while self._at(","):
                self._advance()
                args.append(self._sum(allow_bar=False))
        if not self._at(")"):
            if self.current.kind == "end":
                raise self._error(f"unbalanced parentheses: '(' at column {open_paren.column} "
                                  "is never closed", open_paren)
            raise self._unexpected()
        self._advance()
        expected = allowed[name.text]
        if len(args) != expected:
            raise self._error(f"{name.text}() at column {name.column} takes {expected} "
                              f"argument{'s' if expected > 1 else ''}, got {len(args)}", name)
        if name.text == "poly" and not is_positive_integer(args[1]):
            raise self._error(f"the degree of poly() at column {name.column} must be a positive "
                              "whole number", name)
        return Call(name.text, tuple(args), name.column)


def _check_response(node: Node, text: str) -> None:
    if isinstance(node, Call) and node.func == "cbind":
        for arg in node.args:
            _check_arithmetic(arg, text)
        return
    _check_arithmetic(node, text)


def _check_arithmetic(node: Node, text: str) -> None:
    """Reject cbind() anywhere but at the top of the response, and bars in expressions."""
    if isinstance(node, Call):
        if node.func == "cbind":
            raise located_error(f"cbind() at column {node.column} is only allowed as the whole "
                                "response, cbind(successes, failures)", text, node.column)
        if node.func == "offset":
            raise located_error(f"offset() at column {node.column} is only allowed as a term of the "
                                "fixed part", text, node.column)
        for arg in node.args:
            _check_arithmetic(arg, text)
    elif isinstance(node, Unary):
        _check_arithmetic(node.operand, text)
    elif isinstance(node, Binary):
        _check_arithmetic(node.left, text)
        _check_arithmetic(node.right, text)
    elif isinstance(node, Paren):
        _check_arithmetic(node.inner, text)
    elif isinstance(node, Bar):
        raise located_error(f"'|' at column {node.column} is only allowed in a random-effects term",
                            text, node.column)


def _check_variables(spec: FixedSpec, text: str) -> None:
    for node in spec.variables.values():
        _check_arithmetic(node, text)


def parse_formula(text: str) -> ParsedFormula:
    """Parse and expand an lme4 formula without evaluating anything.

    The fixed part is expanded as R's ``terms.formula``: ``a*b = a + b + a:b``,
    ``(a + b)^2 = a + b + a:b``, ``a/b = a + a:b``, ``- 1`` or ``0 +`` drops the intercept,
    and terms are ordered by degree. Random terms follow lme4:
    ``(x || g) = (1 | g) + (0 + x | g)`` and ``(x | a/b) = (x | b:a) + (x | a)``.

    Parameters
    ----------
    text : str
        The formula, e.g. ``"Reaction ~ Days + (1 + Days | Subject)"``.

    Returns
    -------
    ParsedFormula
        Response, fixed-effects terms and random-effects terms.

    Raises
    ------
    FormulaError
        If the formula is malformed or uses anything outside the allowed syntax; the
        message gives the column and shows the formula with a caret.
    """
    if not isinstance(text, str):
        raise TypeError(f"formula must be a string, got {type(text).__name__}")
    try:
        return _parse_and_expand(str(text))
    except RecursionError:
        raise FormulaError(f"formula is too deeply nested or too long to parse "
                           f"({len(text)} characters)") from None


@functools.lru_cache(maxsize=256)
def _parse_and_expand(text: str) -> ParsedFormula:
    response, rhs = _Parser(text).parse()
    if response is not None:
        _check_response(response, text)
    expander = TermExpander(text, allow_random=True)
    fixed = expander.expand(rhs)
    _check_variables(fixed, text)
    for node in expander.offsets:
        _check_arithmetic(node, text)
    random: list[RandomSpec] = []
    for bar in expander.random_bars:
        for spec in random_specs(bar, text):
            _check_variables(spec.effects, text)
            random.append(spec)
    return ParsedFormula(text, response, fixed, tuple(random), tuple(expander.offsets))
