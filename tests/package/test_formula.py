"""Tests of mlmtools.formula: parsing and expanding lme4 formulas without evaluating them.

Expected term labels follow R's ``terms.formula`` (and lme4's expansions of ``||`` and
``/``); the end-to-end comparison with R's fitted models is in test_modelframe.py.
"""

import builtins
import os

import numpy as np
import pytest

from mlmtools.exceptions import FormulaError
from mlmtools.formula import deparse, format_r_number, parse_formula


def labels(formula):
    return parse_formula(formula).fixed.labels


# --------------------------------------------------------------------------- fixed part


@pytest.mark.parametrize(
    ("formula", "expected"),
    [
        ("y ~ x", ("x",)),
        ("y ~ x + f", ("x", "f")),
        ("y ~ x * z", ("x", "z", "x:z")),
        ("y ~ x:z", ("x:z",)),
        ("y ~ x:z + x", ("x", "x:z")),
        ("y ~ z:x + x", ("x", "z:x")),  # variables keep their order of first appearance
        ("y ~ x + z:x", ("x", "x:z")),
        ("y ~ x * z * w", ("x", "z", "w", "x:z", "x:w", "z:w", "x:z:w")),
        ("y ~ (a + b + c)^2", ("a", "b", "c", "a:b", "a:c", "b:c")),
        ("y ~ (a + b):(c + d)", ("a:c", "b:c", "a:d", "b:d")),
        ("y ~ a/b", ("a", "a:b")),
        ("y ~ x * z - x:z", ("x", "z")),
        ("y ~ x + x", ("x",)),
        ("y ~ 1", ()),
    ],
)
def test_fixed_terms_follow_r_terms_formula(formula, expected):
    assert labels(formula) == expected


@pytest.mark.parametrize(
    ("with_stars", "with_caret"),
    [("y ~ (a + b + c)**2", "y ~ (a + b + c)^2"), ("y ~ (a+b)**2", "y ~ (a+b)^2"),
     ("y ~ x + I(x**2) + (1 + x | g)", "y ~ x + I(x^2) + (1 + x | g)")],
)
def test_double_star_is_read_as_a_power(with_stars, with_caret):
    stars, caret = parse_formula(with_stars), parse_formula(with_caret)
    assert stars.fixed.labels == caret.fixed.labels
    assert [r.effects.labels for r in stars.random] == [r.effects.labels for r in caret.random]


def test_double_star_quadratic_fit_matches_r(lmer_cases, case_data):
    from mlmtools.lmm import lmer

    case = lmer_cases["cases"]["sleep_log_quadratic"]
    assert "I(Days^2)" in case["formula"]
    fit = lmer(case["formula"].replace("^", "**"), case_data(case["data"]))
    assert list(fit.fixef.index) == list(case["fixef"])
    np.testing.assert_allclose(fit.fixef.to_numpy(), list(case["fixef"].values()), rtol=1e-6)


@pytest.mark.parametrize(
    ("formula", "intercept"),
    [("y ~ x", True), ("y ~ 1 + x", True), ("y ~ 0 + x", False), ("y ~ x - 1", False),
     ("y ~ -1 + x", False), ("y ~ x + 0", False)],
)
def test_intercept_flag(formula, intercept):
    assert parse_formula(formula).fixed.intercept is intercept


@pytest.mark.parametrize(
    ("formula", "label"),
    [
        ("y ~ I(Days^2)", "I(Days^2)"),
        ("y ~ log(x)", "log(x)"),
        ("y ~ log(x+1)", "log(x + 1)"),
        ("y ~ I((x+1)/2*3)", "I((x + 1)/2 * 3)"),
        ("y ~ I(-x)", "I(-x)"),
        ("y ~ exp(x) ", "exp(x)"),
        ("y ~ sqrt(abs(x))", "sqrt(abs(x))"),
        ("y ~ scale(Days)", "scale(Days)"),
        ("y ~ factor(Days)", "factor(Days)"),
        ("y ~ C(f)", "C(f)"),
        ("y ~ poly(x,2)", "poly(x, 2)"),
        ("y ~ I(x*100000)", "I(x * 1e+05)"),
        ("y ~ I(x^0.5)", "I(x^0.5)"),
        ("y ~ I(Days**2)", "I(Days^2)"),  # R reads ** as ^ and deparses it as ^
        ("y ~ I((x + 1) ** 0.5)", "I((x + 1)^0.5)"),
        ("y ~ log(x**3)", "log(x^3)"),
    ],
)
def test_variable_labels_are_r_deparse(formula, label):
    assert labels(formula) == (label,)


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1"), (0.5, "0.5"), (-2.0, "-2"), (100000.0, "1e+05"), (123456.0, "123456"),
     (0.001, "0.001"), (0.0001, "1e-04"), (2.5e-10, "2.5e-10"), (1 / 3, "0.333333333333333"),
     (0.0, "0")],
)
def test_format_r_number(value, text):
    assert format_r_number(value) == text


def test_response_forms():
    assert parse_formula("log(Reaction) ~ Days").response_label == "log(Reaction)"
    assert parse_formula("cbind(s, f) ~ x").response_label == "cbind(s, f)"
    assert parse_formula("~ x").response is None


def test_offset_terms_are_kept_out_of_the_design():
    parsed = parse_formula("y ~ x + offset(log(n)) + (1 | g)")
    assert parsed.fixed.labels == ("x",)
    assert [deparse(node) for node in parsed.offsets] == ["log(n)"]


# --------------------------------------------------------------------------- random part


def random_terms(formula):
    return [(spec.text, spec.group_label, spec.effects.intercept, spec.effects.labels)
            for spec in parse_formula(formula).random]


def test_random_intercept_and_slope():
    parsed = parse_formula("Reaction ~ Days + (1 + Days | Subject)")
    assert parsed.fixed.labels == ("Days",)
    assert random_terms("Reaction ~ Days + (1 + Days | Subject)") == [
        ("1 + Days | Subject", "Subject", True, ("Days",))]


def test_slope_alone_implies_an_intercept_and_zero_removes_it():
    assert random_terms("y ~ (x | g)") == [("x | g", "g", True, ("x",))]
    assert random_terms("y ~ (0 + x | g)") == [("0 + x | g", "g", False, ("x",))]


def test_double_bar_splits_into_uncorrelated_terms():
    assert random_terms("y ~ x + (1 + x + z || g)") == [
        ("1 | g", "g", True, ()),
        ("0 + x | g", "g", False, ("x",)),
        ("0 + z | g", "g", False, ("z",)),
    ]
    assert random_terms("y ~ (0 + x || g)") == [("0 + x | g", "g", False, ("x",))]


def test_nesting_expands_as_lme4_expandslash():
    # lme4 writes (1 | a/b) as (1 | b:a) + (1 | a); R names the inner factor "b:a"
    assert random_terms("y ~ (1 | a/b)") == [("1 | b:a", "b:a", True, ()),
                                              ("1 | a", "a", True, ())]
    assert [t[1] for t in random_terms("y ~ (1 | a/b/c)")] == ["c:b:a", "b:a", "a"]


def test_interaction_and_crossed_terms():
    assert random_terms("y ~ (1 | a:b) + (1 | c)") == [("1 | a:b", "a:b", True, ()),
                                                        ("1 | c", "c", True, ())]


def test_sum_of_bars_in_parentheses():
    formula = "Reaction ~ Days + ((1 | Subject) + (0 + Days | Subject))"
    assert [t[0] for t in random_terms(formula)] == ["1 | Subject", "0 + Days | Subject"]


# --------------------------------------------------------------------------- errors


def error_of(formula):
    with pytest.raises(FormulaError) as info:
        parse_formula(formula)
    return info.value


@pytest.mark.parametrize(
    ("formula", "fragment", "column"),
    [
        ("y ~ os.system(1)", "unknown function 'os.system' at column 5; allowed: C, factor, "
                             "log, exp, sqrt, abs, I, scale, poly", 5),
        ("y ~ eval(x)", "unknown function 'eval'", 5),
        ("y ~ x + exp(x, 2)", "takes 1 argument, got 2", 9),
        ("y x", "has no '~'", 4),
        ("y ~ (x", "unbalanced parentheses: '(' at column 5 is never closed", 5),
        ("y ~ x)", "')' at column 6 has no matching '('", 6),
        ("y ~ log(x", "never closed", 8),
        ("y ~ x + ( | g)", "empty random-effects term", 11),
        ("y ~ x + (1 | )", "no grouping factor", 12),
        ("y ~ x + (0 | g)", "has no columns", 12),
        ("y ~ x + 1 | g", "outside parentheses", 11),
        ("y ~ x ~ z", "a second '~'", 7),
        ("y ~ ", "nothing after '~'", 5),
        ("y ~ ()", "empty parentheses", 5),
        ("y ~ 2 + x", "the number 2", 5),
        ("y ~ x[1]", "subscripts are not allowed", 6),
        ("y ~ 'x'", "strings are not allowed", 5),
        ("y ~ x; z", "unexpected character ';'", 6),
        ("y ~ .", "'.' (all other columns)", 5),
        ("y ~ poly(x, 1.5)", "argument 'degree' of poly() at column 13 must be a positive whole "
                             "number", 13),
        ("y ~ (1 | g):x", "must be added with '+'", 5),
        ("y ~ (1 | log(g))", "grouping factor 'log(g)'", 10),
        ("y ~ cbind(a, b)", "only allowed as the response", 5),
        ("y ~ x + 2x", "malformed number", 9),
        ("y ~ a***b", "unexpected '*' at column 8", 8),
        ("y ~ poly(x, 2, TRUE)", "poly() at column 5 takes at most 2 arguments by position, got 3 (give raw by "
                                 "name)", 5),
        ("y ~ ns(x, dof = 3)", "ns() at column 5 has no argument 'dof'; its arguments are x, df, knots, "
                               "intercept, Boundary.knots", 17),
        ("y ~ ns(x, df = 3, df = 4)", "argument 'df' is given twice", 16),
        ("y ~ relevel(f)", "relevel() at column 5 needs the argument 'ref'", 5),
        ("y ~ relevel(f, ref = TRUE)", "argument 'ref' of relevel() at column 22 must be a level", 22),
        ("y ~ poly(x, raw = 1)", "argument 'raw' of poly() at column 19 must be TRUE or FALSE", 19),
        ("y ~ ns(x, knots = c(1, z))", "argument 'knots' of ns() at column 19 must be a number or c(...)", 19),
        ("y ~ C(f, helmet)", "argument 'contr' of C() at column 10 must be a contrast", 10),
        ("y ~ x > 0", "'>' at column 7 is only allowed inside I(), factor() or as.factor()", 7),
        ("y ~ log(x > 0)", "'>' at column 11 is only allowed inside I()", 11),
        ("y ~ I(x == 'a' == 'b')", "comparisons cannot be chained: '==' at column 16", 16),
        ("y ~ x + TRUE", "TRUE at column 9 can only be the value of an option", 9),
        ("y ~ log('x')", "strings are not allowed here (column 9)", 9),
        ("y ~ I('a' == 'b')", "strings are not allowed here (column 7)", 7),
        ("y ~ poly(x, 2,)", "empty argument after ',' at column 14", 14),
        ("y ~ `x + z", "the backquoted name opened at column 5 is never closed", 5),
        ("y ~ ``", "empty backquoted name at column 5", 5),
        ("y ~ `a\\b`", "may not hold backslashes", 5),
        ("y ~ `__x`", "name '__x' at column 5 is not allowed", 5),
        ("y ~ stats::lm(x)", "'stats::lm' at column 5: '::' is only allowed in splines::ns", 5),
        ("y ~ x + c(1, 2)", "unknown function 'c' at column 9", 9),
        ("y ~ log(c(1, 2))", "c() at column 9 is only allowed as the value of knots", 9),
        ("y ~ x = 2", "'=' at column 7 is only allowed to name a function's argument", 7),
    ],
)
def test_malformed_formulas_name_the_place(formula, fragment, column):
    error = error_of(formula)
    assert fragment in str(error)
    assert error.column == column
    lines = str(error).splitlines()
    assert lines[1] == "  " + formula
    assert lines[2] == "  " + " " * (column - 1) + "^"


INJECTIONS = [
    ("__import__('os').system('x')", "__import__"),
    ("os.system(1)", "os.system"),
    ("x.__class__", "x.__class__"),
    ("eval(x)", "eval"),
    ("lambda: 1", "lambda"),
    ("exec('print(1)')", "exec"),
    ("getattr(x, 'y')", "getattr"),
]


@pytest.mark.parametrize(("rhs", "name"), INJECTIONS)
def test_code_is_refused_and_never_run(monkeypatch, rhs, name):
    calls = []
    monkeypatch.setattr(os, "system", lambda *a: calls.append(("system", a)))
    monkeypatch.setattr(builtins, "eval", lambda *a, **k: calls.append(("eval", a)))
    monkeypatch.setattr(builtins, "exec", lambda *a, **k: calls.append(("exec", a)))
    error = error_of(f"y ~ {rhs} + (1 | g)")
    assert f"'{name}'" in str(error)
    assert calls == []


# --------------------------------------------------------------------------- R's further syntax


@pytest.mark.parametrize(
    ("formula", "label"),
    [
        ("y ~ `hours studied`", "`hours studied`"),
        ("y ~ `Days`", "Days"),  # a syntactic name needs no backquotes: R drops them
        ("y ~ log(`x 1` + 1)", "log(`x 1` + 1)"),
        ("y ~ `if`", "`if`"),
        ("y ~ `2nd`", "`2nd`"),
        ("y ~ relevel(factor(recipe), ref='B')", 'relevel(factor(recipe), ref = "B")'),
        ("y ~ poly(Days,2,raw=TRUE)", "poly(Days, 2, raw = TRUE)"),
        ("y ~ poly(Days, raw = FALSE, degree = 2)", "poly(Days, raw = FALSE, degree = 2)"),
        ("y ~ ns(x, knots=c(2,5.5), Boundary.knots = c(-1, 1e5))",
         "ns(x, knots = c(2, 5.5), Boundary.knots = c(-1, 1e+05))"),
        ("y ~ splines::bs(x, df = 4)", "splines::bs(x, df = 4)"),
        ("y ~ I(Days>4)", "I(Days > 4)"),
        ("y ~ I(x>=0&z!=2|!w)", "I(x >= 0 & z != 2 | !w)"),
        ("y ~ I(f == 'a \"b\"')", 'I(f == "a \\"b\\"")'),
        ("y ~ factor(x < -1)", "factor(x < -1)"),
        ("y ~ log(x, base = 2)", "log(x, base = 2)"),
        ("y ~ C(f, sum)", "C(f, sum)"),
        ("y ~ as.factor(k)", "as.factor(k)"),
    ],
)
def test_new_syntax_labels_are_r_deparse(formula, label):
    assert labels(formula) == (label,)


def test_backquoted_grouping_factors_are_named_as_lme4_names_them():
    terms = random_terms("y ~ x + (1 + `hours studied` | `school id`) + (1 | `school id`:class)")
    assert terms[0][:2] == ("1 + `hours studied` | `school id`", "school id")
    assert terms[0][3] == ("`hours studied`",)
    assert terms[1][:2] == ("1 | `school id`:class", "`school id`:class")
    assert parse_formula("y ~ (1 | `school id`)").random[0].group == ("school id",)


def test_arguments_are_matched_as_r_matches_them():
    from mlmtools.formula import bound_arguments

    for text in ("poly(x, 2, raw = TRUE)", "poly(raw = TRUE, x, 2)", "poly(x, raw = TRUE, degree = 2)",
                 "poly(degree = 2, raw = TRUE, x = x)"):
        call = parse_formula(f"y ~ {text}").fixed.variables[text]
        bound = bound_arguments(call)
        assert sorted(bound) == ["degree", "raw", "x"]
        assert deparse(bound["x"]) == "x" and deparse(bound["degree"]) == "2"


def test_python_keywords_that_are_not_code_are_ordinary_names():
    assert random_terms("y ~ (1 | school/class)")[0][1] == "class:school"


def test_formula_must_be_a_string():
    with pytest.raises(TypeError, match="formula must be a string"):
        parse_formula(None)


# --------------------------------------------------------------------------- caching


def test_parse_results_are_cached_and_read_only():
    first = parse_formula("Reaction ~ Days + (1 + Days | Subject)")
    assert parse_formula("Reaction ~ Days + (1 + Days | Subject)") is first
    with pytest.raises(TypeError, match="cannot be changed"):
        first.fixed.variables["Days"] = None
    with pytest.raises(TypeError, match="cannot be changed"):
        first.random[0].effects.variables.pop("Days")
    assert list(first.fixed.variables) == ["Days"]


def test_cached_parse_results_survive_pickling_and_copying():
    import copy
    import pickle

    parsed = parse_formula("y ~ log(x) * g + (x || s)")
    for clone in (pickle.loads(pickle.dumps(parsed)), copy.deepcopy(parsed)):
        assert clone == parsed
        assert clone.fixed.labels == parsed.fixed.labels
        with pytest.raises(TypeError):
            clone.fixed.variables.clear()


def test_malformed_formulas_raise_every_time():
    for _ in range(2):  # errors are not cached
        with pytest.raises(FormulaError):
            parse_formula("y ~ x +")
