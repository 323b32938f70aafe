"""A safe parser for lme4 model formulas.

This module is the first stage of the pipeline ``formula -> model frame -> deviance ->
optimizer -> result``. It reads a formula such as ``"Reaction ~ Days + (1 + Days | Subject)"``
with a tokenizer and a recursive-descent parser (nothing is ever evaluated by Python), and
expands it the way R's ``terms.formula`` and lme4's ``findbars``/``expandDoubleVerts``/
``expandSlash`` do:

* the fixed part becomes an intercept flag and a list of terms (sets of variables),
  ordered by degree as R orders them (main effects, then two-way interactions, ...);
* every ``(expr | group)`` becomes a :class:`RandomSpec`; ``(expr || g)`` is split into
  uncorrelated terms and ``(expr | a/b)`` into ``(expr | b:a)`` and ``(expr | a)``.

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
access, strings, subscripts, keywords, dunder names) raises :class:`FormulaError` with the
column of the offending token and a caret under it.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field
from typing import Union

from mlmtools.exceptions import FormulaError

__all__ = [
    "ALLOWED_FUNCTIONS",
    "Bar",
    "Binary",
    "Call",
    "FixedSpec",
    "FormulaError",
    "Name",
    "Num",
    "Paren",
    "ParsedFormula",
    "RandomSpec",
    "Unary",
    "deparse",
    "format_r_number",
    "parse_formula",
]

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
# Syntax tree
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Num:
    """A numeric literal."""

    value: float
    column: int = field(compare=False)


@dataclass(frozen=True)
class Name:
    """A variable (a column of the data)."""

    name: str
    column: int = field(compare=False)


@dataclass(frozen=True)
class Call:
    """A call of an allowed function, e.g. ``log(x)``."""

    func: str
    args: tuple["Node", ...]
    column: int = field(compare=False)


@dataclass(frozen=True)
class Unary:
    """A unary ``-`` or ``+``."""

    op: str
    operand: "Node"
    column: int = field(compare=False)


@dataclass(frozen=True)
class Binary:
    """A binary operator: ``+ - * / ^ :``."""

    op: str
    left: "Node"
    right: "Node"
    column: int = field(compare=False)


@dataclass(frozen=True)
class Paren:
    """An expression in parentheses (kept so that labels deparse as R prints them)."""

    inner: "Node"
    column: int = field(compare=False)


@dataclass(frozen=True)
class Bar:
    """A random-effects term ``expr | group`` (``double`` for ``||``)."""

    effects: "Node"
    group: "Node"
    double: bool
    column: int = field(compare=False)


Node = Union[Num, Name, Call, Unary, Binary, Paren, Bar]


# ---------------------------------------------------------------------------------------
# Expanded formula
# ---------------------------------------------------------------------------------------


class _FrozenDict(dict):
    """A dict that refuses changes: parse results are cached and shared between callers."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("the variables of a parsed formula cannot be changed (the parse is "
                        "shared); copy them with dict(...) first")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple:
        return (_FrozenDict, (dict(self),))


@dataclass(frozen=True)
class FixedSpec:
    """The expansion of a one-sided formula, as R's ``terms()`` object holds it.

    Attributes
    ----------
    intercept : bool
        Whether the model has an intercept.
    terms : tuple of tuple of str
        Each term is a tuple of variable labels in the order the variables first appear in
        the formula (so ``x:z`` and ``z:x`` give the same term). Terms are sorted by degree,
        keeping formula order within a degree.
    variables : dict
        Variable label (R's deparsed expression, e.g. ``"log(x)"``) -> syntax node; read-only,
        since parse results are cached and shared.
    """

    intercept: bool
    terms: tuple[tuple[str, ...], ...]
    variables: dict[str, Node]

    def __post_init__(self) -> None:
        if not isinstance(self.variables, _FrozenDict):
            object.__setattr__(self, "variables", _FrozenDict(self.variables))

    @property
    def labels(self) -> tuple[str, ...]:
        """Term labels as R prints them (``"x"``, ``"x:grp"``)."""
        return tuple(":".join(term) for term in self.terms)


@dataclass(frozen=True)
class RandomSpec:
    """One random-effects term after ``||`` and ``/`` expansion.

    Attributes
    ----------
    effects : FixedSpec
        The model formula of the left-hand side of the bar (``1 + Days``).
    group : tuple of str
        Column names whose interaction is the grouping factor (``("b", "a")`` for ``b:a``).
    text : str
        The term as lme4 prints it, e.g. ``"1 + Days | Subject"``.
    """

    effects: FixedSpec
    group: tuple[str, ...]
    text: str

    @property
    def group_label(self) -> str:
        """The grouping factor as R names it (``"Subject"``, ``"b:a"``)."""
        return ":".join(self.group)


@dataclass(frozen=True)
class ParsedFormula:
    """A parsed and expanded lme4 formula.

    Attributes
    ----------
    text : str
        The formula as written.
    response : Node or None
        The left-hand side (``None`` for a one-sided formula).
    fixed : FixedSpec
        The fixed-effects part (all random terms removed, as lme4's ``nobars``).
    random : tuple of RandomSpec
        Random-effects terms in formula order (not yet sorted by number of levels).
    offsets : tuple of Node
        Arguments of ``offset(...)`` terms; R adds them to the linear predictor and
        leaves them out of the design matrix.
    """

    text: str
    response: Node | None
    fixed: FixedSpec
    random: tuple[RandomSpec, ...]
    offsets: tuple[Node, ...] = ()

    @property
    def response_label(self) -> str | None:
        """The response as R deparses it (``"log(y)"``, ``"cbind(s, f)"``)."""
        return None if self.response is None else deparse(self.response)


# ---------------------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------------------


def _fail(message: str, text: str, column: int) -> FormulaError:
    """A FormulaError whose message shows the formula with a caret under ``column`` (1-based)."""
    caret = " " * (column - 1) + "^"
    error = FormulaError(f"{message}\n  {text}\n  {caret}")
    error.column = column
    return error


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
                raise _fail(f"malformed number at column {column}", text, column)
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
            raise _fail(f"name '{word}' at column {column} is not allowed", text, column)
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
        raise _fail(f"'.' (all other columns) at column {column} is not supported; list the "
                    "predictors explicitly", text, column)
    if "__" in word or word.startswith("_"):
        raise _fail(f"name '{word}' at column {column} is not allowed", text, column)
    if word in _RESERVED:
        raise _fail(f"'{word}' at column {column} is a reserved word and cannot be used in a "
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
        return _fail(message, self.text, token.column)

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
            raise _fail("formula has no '~'; write it as 'response ~ predictors'", self.text,
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
        if name.text == "poly" and not _is_positive_integer(args[1]):
            raise self._error(f"the degree of poly() at column {name.column} must be a positive "
                              "whole number", name)
        return Call(name.text, tuple(args), name.column)


def _is_positive_integer(node: Node) -> bool:
    return (isinstance(node, Num) and math.isfinite(node.value) and node.value >= 1
            and node.value == int(node.value))


# ---------------------------------------------------------------------------------------
# Deparsing (R's labels)
# ---------------------------------------------------------------------------------------


def format_r_number(value: float) -> str:
    """Format a number as R's ``as.character``/``deparse`` do (15 significant digits).

    R writes the shorter of the fixed and the scientific notation, preferring fixed on a
    tie: ``1`` -> ``"1"``, ``0.5`` -> ``"0.5"``, ``1e5`` -> ``"1e+05"``, ``0.001`` -> ``"0.001"``.

    Parameters
    ----------
    value : float
        The number.

    Returns
    -------
    str
        R's text for the number.
    """
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value == 0:
        return "0"
    sci = f"{value:.14e}"
    mantissa, exponent = sci.split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    exp_value = int(exponent)
    sci_text = f"{mantissa}e{'-' if exp_value < 0 else '+'}{abs(exp_value):02d}"
    digits = len(mantissa.replace("-", "").replace(".", ""))
    decimals = max(0, digits - 1 - exp_value)
    fixed_text = f"{value:.{decimals}f}"
    return fixed_text if len(fixed_text) <= len(sci_text) else sci_text


_SPACED_OPERATORS = {"+", "-", "*", "~", "|", "||"}


def deparse(node: Node) -> str:
    """The expression as R's ``deparse`` prints it (the name of a variable or a column).

    ``+``, ``-`` and ``*`` get spaces around them, ``/``, ``^`` and ``:`` do not, and
    parentheses written by the user are kept: ``I((x + 1)^2)``, ``log(x/2)``.

    Parameters
    ----------
    node : Node
        A syntax node from :func:`parse_formula`.

    Returns
    -------
    str
        R's text for the expression.
    """
    if isinstance(node, Num):
        return format_r_number(node.value)
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Call):
        return f"{node.func}({', '.join(deparse(arg) for arg in node.args)})"
    if isinstance(node, Unary):
        return f"{node.op}{deparse(node.operand)}"
    if isinstance(node, Paren):
        return f"({deparse(node.inner)})"
    if isinstance(node, Bar):
        op = "||" if node.double else "|"
        return f"{deparse(node.effects)} {op} {deparse(node.group)}"
    if node.op in _SPACED_OPERATORS:
        return f"{deparse(node.left)} {node.op} {deparse(node.right)}"
    return f"{deparse(node.left)}{node.op}{deparse(node.right)}"


# ---------------------------------------------------------------------------------------
# Expansion into terms (R's terms.formula)
# ---------------------------------------------------------------------------------------


class _TermExpander:
    """Expands a right-hand side into an intercept flag and terms, as R's terms.formula."""

    def __init__(self, text: str, allow_random: bool):
        self.text = text
        self.allow_random = allow_random
        self.variables: dict[str, Node] = {}
        self.random_bars: list[Bar] = []
        self.offsets: list[Node] = []

    def expand(self, node: Node) -> FixedSpec:
        signed: list[tuple[bool, frozenset[str]]] = []
        self._additive(node, negate=False, out=signed)
        intercept = True
        kept: dict[frozenset[str], None] = {}
        for negate, term in signed:
            if not term:
                intercept = not negate
            elif negate:
                kept.pop(term, None)
            else:
                kept.setdefault(term, None)
        order = {label: i for i, label in enumerate(self.variables)}
        terms = sorted(kept, key=len)  # stable: formula order within a degree
        ordered = tuple(tuple(sorted(term, key=order.__getitem__)) for term in terms)
        return FixedSpec(intercept, ordered, dict(self.variables))

    def _additive(self, node: Node, negate: bool, out: list) -> None:
        if isinstance(node, Binary) and node.op in "+-":
            self._additive(node.left, negate, out)
            self._additive(node.right, negate if node.op == "+" else not negate, out)
        elif isinstance(node, Unary):
            self._additive(node.operand, negate if node.op == "+" else not negate, out)
        elif isinstance(node, Paren) and isinstance(node.inner, Bar):
            if not self.allow_random:
                raise _fail(f"a random-effects term at column {node.column} is not allowed here",
                            self.text, node.column)
            if negate:
                raise _fail(f"a random-effects term at column {node.column} cannot be removed "
                            "with '-'", self.text, node.column)
            self.random_bars.append(node.inner)
        elif isinstance(node, Paren):
            self._additive(node.inner, negate, out)
        elif isinstance(node, Num) and node.value in (0.0, 1.0):
            out.append((negate if node.value == 1.0 else not negate, frozenset()))
        elif isinstance(node, Call) and node.func == "offset":
            if negate or not self.allow_random:
                raise _fail(f"offset() at column {node.column} can only be added to the fixed "
                            "part", self.text, node.column)
            self.offsets.append(node.args[0])
        else:
            out.extend((negate, term) for term in self._terms(node))

    def _terms(self, node: Node) -> list[frozenset[str]]:
        if isinstance(node, Paren):
            if isinstance(node.inner, Bar):
                raise _fail(f"the random-effects term at column {node.column} must be added "
                            "with '+', not combined with other operators", self.text, node.column)
            return self._terms(node.inner)
        if isinstance(node, Binary):
            if node.op == "+":
                return _unique(self._terms(node.left) + self._terms(node.right))
            if node.op == ":":
                return _interact(self._terms(node.left), self._terms(node.right))
            if node.op == "*":
                left, right = self._terms(node.left), self._terms(node.right)
                return _unique(left + right + _interact(left, right))
            if node.op == "/":
                left, right = self._terms(node.left), self._terms(node.right)
                everything = frozenset().union(*left)
                return _unique(left + _interact([everything], right))
            if node.op == "^":
                return self._power(node)
            raise _fail(f"'-' at column {node.column} can only remove terms from a sum",
                        self.text, node.column)
        if isinstance(node, Num):
            raise _fail(f"the number {deparse(node)} at column {node.column} is not a valid term "
                        "(only 0 and 1, for the intercept)", self.text, node.column)
        if isinstance(node, Unary):
            raise _fail(f"'{node.op}' at column {node.column} can only be applied to a whole "
                        "term", self.text, node.column)
        if isinstance(node, Call) and node.func == "cbind":
            raise _fail(f"cbind() at column {node.column} is only allowed as the response",
                        self.text, node.column)
        if isinstance(node, Call) and node.func == "offset":
            raise _fail(f"offset() at column {node.column} cannot be part of an interaction "
                        "or a product", self.text, node.column)
        label = deparse(node)
        self.variables.setdefault(label, node)
        return [frozenset({label})]

    def _power(self, node: Binary) -> list[frozenset[str]]:
        if not _is_positive_integer(node.right):
            raise _fail(f"the power at column {node.column} must be a positive whole number",
                        self.text, node.column)
        base = self._terms(node.left)
        result = list(base)
        for _ in range(int(node.right.value) - 1):
            expanded = _unique(result + _interact(result, base))
            if expanded == result:  # every interaction is already there: higher powers add nothing
                break
            result = expanded
        return result


def _unique(terms: list[frozenset[str]]) -> list[frozenset[str]]:
    return list(dict.fromkeys(terms))


def _interact(left: list[frozenset[str]], right: list[frozenset[str]]) -> list[frozenset[str]]:
    return _unique([a | b for b in right for a in left])


# ---------------------------------------------------------------------------------------
# Random terms (lme4's findbars, expandDoubleVerts, expandSlash)
# ---------------------------------------------------------------------------------------


def _random_specs(bar: Bar, text: str) -> list[RandomSpec]:
    specs: list[RandomSpec] = []
    for group in _group_chains(bar.group, text):
        if bar.double:
            specs.extend(_uncorrelated_specs(bar, group, text))
            continue
        effects = _TermExpander(text, allow_random=False).expand(bar.effects)
        if not effects.intercept and not effects.terms:
            raise _fail(f"the random-effects term at column {bar.column} has no columns",
                        text, bar.column)
        specs.append(RandomSpec(effects, group, f"{deparse(bar.effects)} | {':'.join(group)}"))
    return specs


def _uncorrelated_specs(bar: Bar, group: tuple[str, ...], text: str) -> list[RandomSpec]:
    expander = _TermExpander(text, allow_random=False)
    effects = expander.expand(bar.effects)
    group_label = ":".join(group)
    specs = []
    if effects.intercept:
        specs.append(RandomSpec(FixedSpec(True, (), {}), group, f"1 | {group_label}"))
    for term in effects.terms:
        variables = {label: effects.variables[label] for label in term}
        specs.append(RandomSpec(FixedSpec(False, (term,), variables), group,
                                f"0 + {':'.join(term)} | {group_label}"))
    if not specs:
        raise _fail(f"the random-effects term at column {bar.column} has no columns", text,
                    bar.column)
    return specs


def _group_chains(node: Node, text: str) -> list[tuple[str, ...]]:
    """Grouping factors of a bar.

    ``g`` -> [(g,)], ``a:b`` -> [(a, b)], ``a/b`` -> [(b, a), (a,)] (lme4's ``expandSlash``).
    """
    nested = _slash_parts(node, text)
    chains = []
    for depth in range(len(nested), 0, -1):
        chain: tuple[str, ...] = ()
        for part in reversed(nested[:depth]):
            chain += part
        chains.append(chain)
    return chains


def _slash_parts(node: Node, text: str) -> list[tuple[str, ...]]:
    if isinstance(node, Paren):
        return _slash_parts(node.inner, text)
    if isinstance(node, Binary) and node.op == "/":
        return _slash_parts(node.left, text) + _slash_parts(node.right, text)
    return [_interaction_names(node, text)]


def _interaction_names(node: Node, text: str) -> tuple[str, ...]:
    if isinstance(node, Paren):
        return _interaction_names(node.inner, text)
    if isinstance(node, Name):
        return (node.name,)
    if isinstance(node, Binary) and node.op == ":":
        return _interaction_names(node.left, text) + _interaction_names(node.right, text)
    column = getattr(node, "column", 1)
    raise _fail(f"grouping factor '{deparse(node)}' at column {column} must be a column name, "
                "an interaction (a:b) or a nesting (a/b) of column names", text, column)


# ---------------------------------------------------------------------------------------
# Public entry point
# ---------------------------------------------------------------------------------------


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
            raise _fail(f"cbind() at column {node.column} is only allowed as the whole "
                        "response, cbind(successes, failures)", text, node.column)
        if node.func == "offset":
            raise _fail(f"offset() at column {node.column} is only allowed as a term of the "
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
        raise _fail(f"'|' at column {node.column} is only allowed in a random-effects term",
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
    expander = _TermExpander(text, allow_random=True)
    fixed = expander.expand(rhs)
    _check_variables(fixed, text)
    for node in expander.offsets:
        _check_arithmetic(node, text)
    random: list[RandomSpec] = []
    for bar in expander.random_bars:
        for spec in _random_specs(bar, text):
            _check_variables(spec.effects, text)
            random.append(spec)
    return ParsedFormula(text, response, fixed, tuple(random), tuple(expander.offsets))
