"""A safe parser for lme4 model formulas: the first stage of the pipeline.

The pipeline is ``formula -> model frame -> deviance -> optimizer -> result``. This module
reads a formula such as ``"Reaction ~ Days + (1 + Days | Subject)"`` with a tokenizer
(:mod:`mlmtools.formula.tokens`) and a recursive-descent parser (nothing is ever evaluated by
Python); :mod:`mlmtools.formula.terms` expands the tree into terms.

Grammar (R's operator precedence, lowest first)::

    formula := [expr] "~" expr
    bar     := sum [("|" | "||") sum]          (only directly inside parentheses)
    sum     := product (("+" | "-") product)*
    product := colon (("*" | "/") colon)*
    colon   := unary (":" unary)*
    unary   := ("-" | "+") unary | power
    power   := primary [("^" | "**") unary]   (``**`` is read as ``^``, as R does)
    primary := NUMBER | NAME | NAME "(" args ")" | "(" bar ")"
    args    := [arg ("," arg)*]
    arg     := [NAME "="] either
    either  := both ("|" both)*               (inside a function's arguments only)
    both    := negation ("&" negation)*
    negation := "!" negation | compare
    compare := sum [(">" | "<" | ">=" | "<=" | "==" | "!=") sum]

A NAME may be backquoted (```hours studied```), strings and ``TRUE``/``FALSE`` are values of
arguments, and only the functions in :data:`~mlmtools.formula.functions.ALLOWED_FUNCTIONS` may
be called, with R's arguments (:mod:`mlmtools.formula.functions`); comparisons are allowed
inside ``I()``, ``factor()`` and ``as.factor()``. Anything else (attribute access,
subscripts, unknown functions or arguments, dunder names) raises
:class:`~mlmtools.exceptions.FormulaError` with the column of the offending token and a caret
under it.
"""

from __future__ import annotations

import functools

from mlmtools.exceptions import FormulaError
from mlmtools.formula.functions import (
    ALLOWED_FUNCTIONS,
    QUALIFIED_FUNCTIONS,
    RESPONSE_ONLY_FUNCTIONS,
    VECTOR,
    canonical_name,
    check_call,
    check_data_expression,
    data_arguments,
    signature_of,
)
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
    located_error,
)
from mlmtools.formula.terms import FixedSpec, ParsedFormula, RandomSpec, TermExpander, random_specs
from mlmtools.formula.tokens import Token, tokenize

__all__ = ["ALLOWED_FUNCTIONS", "parse_formula"]


# ---------------------------------------------------------------------------------------
# Parser
# ---------------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.argument_depth = 0  # inside how many calls' arguments
        self.logical_depth = 0  # inside how many calls that allow comparisons (I, factor, ...)

    @property
    def current(self) -> Token:
        return self.tokens[self.pos]

    def _advance(self) -> Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def _at(self, *ops: str) -> bool:
        return self.current.kind == "op" and self.current.text in ops

    def _error(self, message: str, token: Token | None = None) -> FormulaError:
        token = token or self.current
        return located_error(message, self.text, token.column)

    def _unexpected(self) -> FormulaError:
        token = self.current
        if token.kind == "bad":
            return self._error(token.reason)
        if token.kind == "end":
            return self._error(f"formula ends unexpectedly at column {token.column}")
        if token.kind == "str":
            return self._error(f"strings are not allowed here (column {token.column})")
        if token.text in ("|", "||") and not self.argument_depth:
            return self._error(f"'{token.text}' at column {token.column} is outside parentheses; "
                               "write random-effects terms as (expr | group)")
        if token.text in COMPARISONS and self.logical_depth:
            return self._error(f"comparisons cannot be chained: '{token.text}' at column {token.column}; "
                               "add parentheses, as in (a > b) == c")
        if token.text in COMPARISONS or token.text in ("&", "!", "|", "||"):
            return self._error(f"'{token.text}' at column {token.column} is only allowed inside I(), "
                               "factor() or as.factor(), e.g. I(x > 0)")
        if token.text == "=":
            return self._error(f"'=' at column {token.column} is only allowed to name a function's "
                               "argument, as in poly(x, 2, raw = TRUE)")
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

    # -- inside a function's arguments: R's logical operators and comparisons -------------

    def _either(self) -> Node:
        node = self._both()
        while self._at("|"):
            op = self._advance()
            node = Binary("|", node, self._both(), op.column)
        return node

    def _both(self) -> Node:
        node = self._negation()
        while self._at("&"):
            op = self._advance()
            node = Binary("&", node, self._negation(), op.column)
        return node

    def _negation(self) -> Node:
        if self._at("!"):
            op = self._advance()
            return Unary("!", self._negation(), op.column)
        node = self._sum(allow_bar=False)
        if self._at(*COMPARISONS):
            op = self._advance()
            node = Binary(op.text, node, self._sum(allow_bar=False), op.column)
        return node

    # -- arithmetic and terms ---------------------------------------------------------------

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
            if token.text in QUALIFIED_FUNCTIONS:
                raise self._error(f"'{token.text}' at column {token.column} must be called", token)
            return Name(token.text, token.column)
        if token.kind in ("str", "logical") and self.argument_depth:
            self._advance()
            return Str(token.text, token.column) if token.kind == "str" else \
                Logical(token.text == "TRUE", token.column)
        if token.kind == "logical":
            raise self._error(f"{token.text} at column {token.column} can only be the value of an "
                              "option, as in poly(x, 2, raw = TRUE)")
        if self._at("("):
            self._advance()
            if self._at(")"):
                raise self._error(f"empty parentheses at column {token.column}", token)
            inner = self._either() if self.argument_depth else self._bar(allow_bar)
            if not self._at(")"):
                if self.current.kind == "end":
                    raise self._error(f"unbalanced parentheses: '(' at column {token.column} "
                                      "is never closed", token)
                raise self._unexpected()
            self._advance()
            return Paren(inner, token.column)
        raise self._unexpected()

    def _call(self, name: Token) -> Call:
        func = name.text
        known = canonical_name(func) in ALLOWED_FUNCTIONS or func in RESPONSE_ONLY_FUNCTIONS
        if not known and not (func == VECTOR and self.argument_depth):
            raise self._error(f"unknown function '{func}' at column {name.column}; allowed: "
                              f"{', '.join(ALLOWED_FUNCTIONS)}", name)
        open_paren = self._advance()
        logical = known and signature_of(func).logical
        self.argument_depth += 1
        self.logical_depth += logical
        args, names = self._arguments(func)
        self.argument_depth -= 1
        self.logical_depth -= logical
        if not self._at(")"):
            if self.current.kind == "end":
                raise self._error(f"unbalanced parentheses: '(' at column {open_paren.column} "
                                  "is never closed", open_paren)
            raise self._unexpected()
        self._advance()
        call = Call(func, tuple(args), name.column, tuple(names) if any(names) else ())
        if func != VECTOR:
            check_call(call, self.text, logical_allowed=self.logical_depth > 0)
        return call

    def _arguments(self, func: str) -> tuple[list[Node], list[str | None]]:
        args: list[Node] = []
        names: list[str | None] = []
        while not self._at(")") and self.current.kind != "end":
            if args:
                if not self._at(","):
                    raise self._unexpected()
                comma = self._advance()
                if self._at(")"):
                    raise self._error(f"empty argument after ',' at column {comma.column}", comma)
            argument_name = None
            following = self.tokens[self.pos + 1]
            if self.current.kind == "name" and following.kind == "op" and following.text == "=":
                if func == VECTOR:
                    raise self._error(f"c() at column {self.current.column} takes numbers only, not "
                                      "named arguments")
                argument_name = self._advance().text
                self._advance()
            names.append(argument_name)
            args.append(self._either())
        return args, names


def _check_response(node: Node, text: str) -> None:
    if isinstance(node, Call) and node.func == "cbind":
        for arg in node.args:
            _check_arithmetic(arg, text)
        return
    _check_arithmetic(node, text)


def _check_arithmetic(node: Node, text: str) -> None:
    """Reject cbind() anywhere but at the top of the response, bars in expressions, and what
    may only be an option's value (strings, TRUE/FALSE, c())."""
    check_data_expression(node, text, logical_allowed=False)
    _check_placement(node, text)


def _check_placement(node: Node, text: str) -> None:
    if isinstance(node, Call):
        if node.func == "cbind":
            raise located_error(f"cbind() at column {node.column} is only allowed as the whole "
                                "response, cbind(successes, failures)", text, node.column)
        if node.func == "offset":
            raise located_error(f"offset() at column {node.column} is only allowed as a term of the "
                                "fixed part", text, node.column)
        for arg in data_arguments(node):
            _check_placement(arg, text)
    elif isinstance(node, Unary):
        _check_placement(node.operand, text)
    elif isinstance(node, Binary):
        _check_placement(node.left, text)
        _check_placement(node.right, text)
    elif isinstance(node, Paren):
        _check_placement(node.inner, text)
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
