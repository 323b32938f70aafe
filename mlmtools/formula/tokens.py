"""The tokenizer of formulas: numbers, names (backquoted as R allows), strings, operators.

Nothing is evaluated: a token is a piece of text with its kind and 1-based column. Names
follow R (letters, digits, ``.`` and ``_``, not starting with a digit or ``_``); a backquoted
name (```hours studied```) may hold any printable characters but a backquote. Names with
``__`` are refused in either form, and so are R's reserved words other than ``TRUE`` and
``FALSE``. Characters that could only mean an attempt at code (``[``, ``;``, ``$``, ``@``,
``%``, ...) become ``"bad"`` tokens, refused with their reason when the parser reaches them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mlmtools.formula.functions import QUALIFIED_FUNCTIONS
from mlmtools.formula.syntax import R_RESERVED_WORDS, located_error


@dataclass(frozen=True)
class Token:
    """A piece of a formula.

    ``kind`` is ``"num"``, ``"name"``, ``"str"`` (a string's content), ``"logical"``
    (``TRUE``/``FALSE``), ``"op"``, ``"end"``, or ``"bad"`` (refused with ``reason`` when the
    parser reaches it).
    """

    kind: str
    text: str
    column: int
    reason: str = ""


_NUMBER = re.compile(r"(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_NAME = re.compile(r"[A-Za-z.][A-Za-z0-9._]*")
_OPERATORS = ("||", "**", ">=", "<=", "==", "!=", "~", "+", "-", "*", "/", "^", ":", "|", "(", ")",
              ",", ">", "<", "!", "&", "=")
_SPELLINGS = {"**": "^"}  # R's parser reads ``**`` as ``^`` (and deparses it as ``^``)
_FORBIDDEN_CHARS = {
    "[": "subscripts are not allowed in a formula",
    "]": "subscripts are not allowed in a formula",
    "%": "'%' operators (such as %in%) are not supported",
    "$": "'$' (element access) is not allowed in a formula",
    "@": "'@' (slot access) is not allowed in a formula",
}
_LOGICALS = {"TRUE", "FALSE"}
# R's reserved words (but the values TRUE and FALSE), and the Python statements that could only
# mean an attempt at code (other Python keywords, such as ``class``, are ordinary column names here).
RESERVED = (R_RESERVED_WORDS - _LOGICALS) | {"lambda", "import", "def", "del", "global", "nonlocal", "yield",
                                             "await", "async"}


def tokenize(text: str) -> list[Token]:
    """Split a formula into tokens, ending with an ``"end"`` token after the last column.

    Raises
    ------
    FormulaError
        For a malformed number, a name that is not allowed, a reserved word, an unclosed
        string or backquote.
    """
    tokens: list[Token] = []
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
            tokens.append(Token("num", number.group(0), column))
            i = number.end()
            continue
        name = _NAME.match(text, i)
        if name:
            word, i = _qualified(text, name.group(0), name.end(), column)
            _check_name(word, text, column)
            tokens.append(Token("logical" if word in _LOGICALS else "name", word, column))
            continue
        if char == "`":
            word, i = _quoted(text, i, "`")
            _check_name(word, text, column, quoted=True)
            tokens.append(Token("name", word, column))
            continue
        if char in "'\"":
            content, i = _quoted(text, i, char)
            tokens.append(Token("str", content, column))
            continue
        if char == "_":
            word = re.split(r"[^A-Za-z0-9._]", text[i:], maxsplit=1)[0]
            raise located_error(f"name '{word}' at column {column} is not allowed", text, column)
        operator = next((op for op in _OPERATORS if text.startswith(op, i)), None)
        if operator:
            tokens.append(Token("op", _SPELLINGS.get(operator, operator), column))
            i += len(operator)
            continue
        reason = _FORBIDDEN_CHARS.get(char, f"unexpected character {char!r}")
        tokens.append(Token("bad", char, column, f"{reason} (column {column})"))
        i += 1
    tokens.append(Token("end", "", len(text) + 1))
    return tokens


def _qualified(text: str, word: str, end: int, column: int) -> tuple[str, int]:
    """A name, or ``namespace::name`` when one of the allowed qualified functions follows."""
    if not text.startswith("::", end):
        return word, end
    rest = _NAME.match(text, end + 2)
    qualified = word + "::" + (rest.group(0) if rest else "")
    if rest is None or qualified not in QUALIFIED_FUNCTIONS or text.startswith(":::", end):
        raise located_error(f"'{qualified}' at column {column}: '::' is only allowed in "
                            f"{', '.join(QUALIFIED_FUNCTIONS)}", text, column)
    return qualified, rest.end()


def _quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """The content of a string or backquoted name opening at ``start``, and the index after it."""
    column = start + 1
    what = "backquoted name" if quote == "`" else "string"
    closing = text.find(quote, start + 1)
    if closing < 0:
        raise located_error(f"the {what} opened at column {column} is never closed", text, column)
    content = text[start + 1:closing]
    if "\\" in content or not content.isprintable():
        raise located_error(f"the {what} at column {column} may not hold backslashes or control "
                            "characters", text, column)
    if not content and quote == "`":
        raise located_error(f"empty backquoted name at column {column}", text, column)
    return content, closing + 1


def _check_name(word: str, text: str, column: int, quoted: bool = False) -> None:
    if word == "." and not quoted:
        raise located_error(f"'.' (all other columns) at column {column} is not supported; list the "
                            "predictors explicitly", text, column)
    if "__" in word or (word.startswith("_") and not quoted):
        raise located_error(f"name '{word}' at column {column} is not allowed", text, column)
    if word in RESERVED and not quoted:
        raise located_error(f"'{word}' at column {column} is a reserved word and cannot be used in a "
                            "formula", text, column)
