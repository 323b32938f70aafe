"""Expansion of a parsed formula into terms, as R's ``terms.formula`` and lme4 do.

* The fixed part becomes an intercept flag and a list of terms (sets of variables), ordered
  by degree as R orders them (main effects, then two-way interactions, ...): ``a*b = a + b +
  a:b``, ``(a + b)^2 = a + b + a:b``, ``a/b = a + a:b``, ``- 1`` or ``0 +`` drops the intercept.
* Every ``(expr | group)`` becomes a :class:`RandomSpec` (lme4's ``findbars``); ``(expr || g)``
  is split into uncorrelated terms (``expandDoubleVerts``) and ``(expr | a/b)`` into
  ``(expr | b:a)`` and ``(expr | a)`` (``expandSlash``).
"""

from __future__ import annotations

from dataclasses import dataclass

from mlmtools.formula.labels import deparse, quote_name
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


class _FrozenDict(dict[str, Node]):
    """A dict that refuses changes: parse results are cached and shared between callers."""

    def _refuse(self, *args: object, **kwargs: object) -> None:
        raise TypeError("the variables of a parsed formula cannot be changed (the parse is "
                        "shared); copy them with dict(...) first")

    __setitem__ = __delitem__ = __ior__ = clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]

    def __reduce__(self) -> tuple[type[_FrozenDict], tuple[dict[str, Node]]]:
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
        """The grouping factor as R names it (``"Subject"``, ``"b:a"``; lme4 deparses an
        interaction, so non-syntactic names are backquoted in it but not alone)."""
        return self.group[0] if len(self.group) == 1 else group_text(self.group)


def group_text(group: tuple[str, ...]) -> str:
    """The grouping factor as R deparses it: ``"b:a"``, ``"`school id`"``."""
    return ":".join(quote_name(name) for name in group)


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

class TermExpander:
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

    def _additive(self, node: Node, negate: bool, out: list[tuple[bool, frozenset[str]]]) -> None:
        if isinstance(node, Binary) and node.op in "+-":
            self._additive(node.left, negate, out)
            self._additive(node.right, negate if node.op == "+" else not negate, out)
        elif isinstance(node, Unary):
            self._additive(node.operand, negate if node.op == "+" else not negate, out)
        elif isinstance(node, Paren) and isinstance(node.inner, Bar):
            if not self.allow_random:
                raise located_error(f"a random-effects term at column {node.column} is not allowed here",
                                    self.text, node.column)
            if negate:
                raise located_error(f"a random-effects term at column {node.column} cannot be removed "
                                    "with '-'", self.text, node.column)
            self.random_bars.append(node.inner)
        elif isinstance(node, Paren):
            self._additive(node.inner, negate, out)
        elif isinstance(node, Num) and node.value in (0.0, 1.0):
            out.append((negate if node.value == 1.0 else not negate, frozenset()))
        elif isinstance(node, Call) and node.func == "offset":
            if negate or not self.allow_random:
                raise located_error(f"offset() at column {node.column} can only be added to the fixed "
                                    "part", self.text, node.column)
            self.offsets.append(node.args[0])
        else:
            out.extend((negate, term) for term in self._terms(node))

    def _terms(self, node: Node) -> list[frozenset[str]]:
        if isinstance(node, Paren):
            if isinstance(node.inner, Bar):
                raise located_error(f"the random-effects term at column {node.column} must be added "
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
            raise located_error(f"'-' at column {node.column} can only remove terms from a sum",
                                self.text, node.column)
        if isinstance(node, Num):
            raise located_error(f"the number {deparse(node)} at column {node.column} is not a valid term "
                                "(only 0 and 1, for the intercept)", self.text, node.column)
        if isinstance(node, Unary):
            raise located_error(f"'{node.op}' at column {node.column} can only be applied to a whole "
                                "term", self.text, node.column)
        if isinstance(node, Call) and node.func == "cbind":
            raise located_error(f"cbind() at column {node.column} is only allowed as the response",
                                self.text, node.column)
        if isinstance(node, Call) and node.func == "offset":
            raise located_error(f"offset() at column {node.column} cannot be part of an interaction "
                                "or a product", self.text, node.column)
        label = deparse(node)
        self.variables.setdefault(label, node)
        return [frozenset({label})]

    def _power(self, node: Binary) -> list[frozenset[str]]:
        if not is_positive_integer(node.right):
            raise located_error(f"the power at column {node.column} must be a positive whole number",
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


def random_specs(bar: Bar, text: str) -> list[RandomSpec]:
    """The random-effects terms of one bar, after ``||`` and ``/`` expansion."""
    specs: list[RandomSpec] = []
    for group in _group_chains(bar.group, text):
        if bar.double:
            specs.extend(_uncorrelated_specs(bar, group, text))
            continue
        effects = TermExpander(text, allow_random=False).expand(bar.effects)
        if not effects.intercept and not effects.terms:
            raise located_error(f"the random-effects term at column {bar.column} has no columns",
                                text, bar.column)
        specs.append(RandomSpec(effects, group, f"{deparse(bar.effects)} | {group_text(group)}"))
    return specs


def _uncorrelated_specs(bar: Bar, group: tuple[str, ...], text: str) -> list[RandomSpec]:
    expander = TermExpander(text, allow_random=False)
    effects = expander.expand(bar.effects)
    group_label = group_text(group)
    specs = []
    if effects.intercept:
        specs.append(RandomSpec(FixedSpec(True, (), {}), group, f"1 | {group_label}"))
    for term in effects.terms:
        variables = {label: effects.variables[label] for label in term}
        specs.append(RandomSpec(FixedSpec(False, (term,), variables), group,
                                f"0 + {':'.join(term)} | {group_label}"))
    if not specs:
        raise located_error(f"the random-effects term at column {bar.column} has no columns", text,
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
    raise located_error(f"grouping factor '{deparse(node)}' at column {column} must be a column name, "
                        "an interaction (a:b) or a nesting (a/b) of column names", text, column)
