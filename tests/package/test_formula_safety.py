"""Formulas are parsed, never evaluated: the allowed transforms work, and everything else is
refused with FormulaError before any of it can run.

Each attempt at code embeds a command that would create a sentinel file in ``tmp_path`` if
Python ever executed it (through ``eval``, ``exec``, ``os.system``, ``open`` or ``__import__``);
the tests check that the file was never created and that none of those functions was called.
"""

from __future__ import annotations

import builtins
import os
import subprocess

import numpy as np
import pandas as pd
import pytest

from mlmtools.exceptions import FormulaError
from mlmtools.formula import ALLOWED_FUNCTIONS, parse_formula
from mlmtools.frame import build_model
from mlmtools.gee import geeglm
from mlmtools.glmm import glmer
from mlmtools.lmm import lmer


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    rng = np.random.default_rng(20260)
    n = 48
    x = np.round(rng.uniform(0.5, 4.0, n), 3)
    return pd.DataFrame({
        "y": np.round(2 + 0.5 * x + np.repeat(rng.normal(0, 2, 8), n // 8)
                      + rng.normal(0, 1, n), 4),
        "x": x,
        "z": np.round(rng.normal(0, 1, n), 3),
        "k": np.tile([1, 2, 3], n // 3),
        "f": np.tile(["a", "b", "c", "d"], n // 4),
        "exposure": np.round(rng.uniform(1, 3, n), 2),
        "s": rng.integers(0, 6, n),
        "fails": rng.integers(0, 6, n),
        "g": np.repeat([f"g{i}" for i in range(8)], n // 8),
    })


def column(frame, name: str) -> np.ndarray:
    return frame.X[:, list(frame.fixed_names).index(name)]


# -- every allowed transform works -------------------------------------------------------------

def test_the_allowed_set_is_the_documented_one():
    assert set(ALLOWED_FUNCTIONS) == {"C", "factor", "log", "exp", "sqrt", "abs", "I", "scale",
                                      "poly", "offset", "as.factor", "relevel", "log10", "log2",
                                      "log1p", "ns", "bs"}


@pytest.mark.parametrize("term, expected", [
    ("log(x)", lambda d: np.log(d["x"])),
    ("exp(z)", lambda d: np.exp(d["z"])),
    ("sqrt(x)", lambda d: np.sqrt(d["x"])),
    ("abs(z)", lambda d: np.abs(d["z"])),
    ("I(x^2)", lambda d: d["x"] ** 2),
    ("I((x + 1)/2)", lambda d: (d["x"] + 1) / 2),
    ("I(x * z - 3)", lambda d: d["x"] * d["z"] - 3),
    ("log(exp(z) + abs(x))", lambda d: np.log(np.exp(d["z"]) + np.abs(d["x"]))),
    ("scale(x)", lambda d: (d["x"] - d["x"].mean()) / d["x"].std(ddof=1)),
])
def test_numeric_transforms(data, term, expected):
    frame = build_model(f"y ~ {term} + (1 | g)", data)
    assert frame.fixed_names == ("(Intercept)", term)
    np.testing.assert_allclose(column(frame, term), expected(data).to_numpy(), rtol=1e-14)


def test_factor_and_C_code_levels_as_treatment_contrasts(data):
    frame = build_model("y ~ factor(k) + C(f) + (1 | g)", data)
    assert frame.fixed_names == ("(Intercept)", "factor(k)2", "factor(k)3", "C(f)b", "C(f)c",
                                 "C(f)d")
    np.testing.assert_array_equal(column(frame, "factor(k)3"), (data["k"] == 3).astype(float))
    np.testing.assert_array_equal(column(frame, "C(f)c"), (data["f"] == "c").astype(float))


def test_poly_gives_orthonormal_polynomial_columns(data):
    frame = build_model("y ~ poly(x, 2) + (1 | g)", data)
    assert frame.fixed_names == ("(Intercept)", "poly(x, 2)1", "poly(x, 2)2")
    P = frame.X[:, 1:]
    np.testing.assert_allclose(P.T @ P, np.eye(2), atol=1e-12)
    np.testing.assert_allclose(P.sum(axis=0), 0.0, atol=1e-12)
    raw = np.column_stack([np.ones(len(data)), data["x"], data["x"] ** 2])
    projection = raw @ np.linalg.lstsq(raw, P, rcond=None)[0]
    np.testing.assert_allclose(projection, P, atol=1e-12)  # same span as 1, x, x^2


def test_offset_enters_the_linear_predictor_not_the_design(data):
    frame = build_model("y ~ x + offset(log(exposure)) + (1 | g)", data)
    assert frame.fixed_names == ("(Intercept)", "x")
    np.testing.assert_allclose(frame.offset, np.log(data["exposure"]), rtol=1e-14)


def test_cbind_response_gives_proportions_and_trials(data):
    frame = build_model("cbind(s, fails) ~ x + (1 | g)", data)
    trials = (data["s"] + data["fails"]).to_numpy(dtype=float)
    assert frame.response_kind == "cbind"
    np.testing.assert_allclose(frame.weights, trials)
    expected = np.divide(data["s"], trials, out=np.zeros(len(data)), where=trials > 0)
    np.testing.assert_allclose(frame.y, expected)


def test_transforms_work_in_fitted_models(data):
    """The transforms reach the fitted coefficients with R's names."""
    fit = lmer("log(y + 10) ~ scale(x) + I(z^2) + factor(k) + (1 | g)", data)
    assert list(fit.fixef.index) == ["(Intercept)", "scale(x)", "I(z^2)", "factor(k)2",
                                     "factor(k)3"]
    gee = geeglm("y ~ poly(x, 2) + offset(log(exposure))", data, id="k")
    assert list(gee.coefficients.index) == ["(Intercept)", "poly(x, 2)1", "poly(x, 2)2"]


# -- everything else is refused, and nothing runs -------------------------------------------------

def attempts(sentinel: str) -> dict[str, str]:
    """Formulas that would create ``sentinel`` if any part of them were executed."""
    command = f"touch {sentinel}"
    return {
        "__import__": f"y ~ __import__('os').system('{command}') + (1 | g)",
        "os.system": f"y ~ os.system('{command}') + (1 | g)",
        "eval": f"y ~ eval('open(\"{sentinel}\", \"w\")') + (1 | g)",
        "exec": f"y ~ exec('import os; os.system(\"{command}\")') + (1 | g)",
        "open": f"y ~ open('{sentinel}', 'w') + (1 | g)",
        "open without quotes": f"y ~ x + open({sentinel}) + (1 | g)",
        "compile": f"y ~ compile('{command}', 'f', 'exec') + (1 | g)",
        "getattr": "y ~ getattr(x, '__class__') + (1 | g)",
        "attribute of a column": "y ~ x.__class__ + (1 | g)",
        "attribute of a parenthesis": "y ~ (x).real + (1 | g)",
        "attribute chain on a call": f"y ~ log(x).__globals__['os'].system('{command}') + (1 | g)",
        "dunder name": "y ~ __builtins__ + (1 | g)",
        "leading underscore": "y ~ _x + (1 | g)",
        "subscript": "y ~ x[0] + (1 | g)",
        "subscript inside I()": "y ~ I(x[0]) + (1 | g)",
        "lambda": "y ~ (lambda: 0) + (1 | g)",
        "import statement": "y ~ x; import os + (1 | g)",
        "statement separator": f"y ~ x + (1 | g); __import__('os').system('{command}')",
        "code as a named argument": f"y ~ poly(x, degree = __import__('os').system('{command}')) + (1 | g)",
        "code as a level": f"y ~ relevel(f, ref = open('{sentinel}', 'w')) + (1 | g)",
        "named argument a function does not have": f"y ~ log(x, file = '{sentinel}') + (1 | g)",
        "named argument of a transform without options": "y ~ exp(x, base = 2) + (1 | g)",
        "string as data": f"y ~ log('{sentinel}') + (1 | g)",
        "string as a number": "y ~ ns(x, df = '3') + (1 | g)",
        "string with escapes": "y ~ relevel(f, ref = '\\x5f\\x5f') + (1 | g)",
        "TRUE as a term": "y ~ TRUE + (1 | g)",
        "named argument of c()": "y ~ ns(x, knots = c(a = 1)) + (1 | g)",
        "c() as data": "y ~ log(c(x, z)) + (1 | g)",
        "c() as a term": "y ~ c(x, z) + (1 | g)",
        "comparison outside I()": "y ~ x > 0 + (1 | g)",
        "comparison in a transform": "y ~ log(x > 0) + (1 | g)",
        "logical operator chaining a call": f"y ~ I(x > 0 | system('{command}')) + (1 | g)",
        "negation outside I()": "y ~ !x + (1 | g)",
        "assignment": "y ~ I((x = 1)) + (1 | g)",
        "assignment at the top": "y ~ x = 1 + (1 | g)",
        "namespace other than the allowed ones": f"y ~ base::eval('{command}') + (1 | g)",
        "module path with ::": f"y ~ os::system('{command}') + (1 | g)",
        "triple colon": "y ~ splines:::ns(x, 3) + (1 | g)",
        "namespaced name not called": "y ~ splines::ns + (1 | g)",
        "element access": "y ~ x$real + (1 | g)",
        "f-string": "y ~ f'{x}' + (1 | g)",
        "backquoted dunder name": f"y ~ `__import__('os').system('{command}')` + (1 | g)",
        "unclosed backquote": "y ~ `x + (1 | g)",
        "empty backquotes": "y ~ `` + (1 | g)",
        "comment": "y ~ x + (1 | g) # and more",
        "walrus": "y ~ (a := x) + (1 | g)",
        "set literal": "y ~ {x} + (1 | g)",
        "numpy through a module name": "y ~ np.log(x) + (1 | g)",
        "transform of a transform's attribute": "y ~ scale(x.mean) + log(x).T + (1 | g)",
        "unknown function": "y ~ sin(x) + (1 | g)",
        "cbind outside the response": "y ~ cbind(x, z) + (1 | g)",
        "deeply nested parentheses": "y ~ " + "(" * 3000 + "x" + ")" * 3000 + " + (1 | g)",
        "unbounded power": "y ~ x^1e400 + (1 | g)",
    }


@pytest.fixture
def spies(monkeypatch):
    """Record any call of the functions an attack would need."""
    calls = []

    def spy(name, original):
        def recorder(*args, **kwargs):
            calls.append(name)
            return original(*args, **kwargs)
        return recorder

    for name in ("eval", "exec", "compile"):
        monkeypatch.setattr(builtins, name, spy(name, getattr(builtins, name)))
    monkeypatch.setattr(os, "system", spy("os.system", os.system))
    monkeypatch.setattr(subprocess, "Popen", spy("subprocess.Popen", subprocess.Popen))
    return calls


@pytest.mark.parametrize("name", list(attempts("SENTINEL")))
def test_code_in_a_formula_is_refused_and_never_run(tmp_path, data, spies, name):
    sentinel = tmp_path / "executed"
    formula = attempts(str(sentinel))[name]
    with pytest.raises(FormulaError) as excinfo:
        parse_formula(formula)
    assert spies == []
    for fit in (lambda: lmer(formula, data), lambda: glmer(formula, data, family="poisson")):
        with pytest.raises(FormulaError):
            fit()
    with pytest.raises(FormulaError):
        geeglm(formula.replace(" + (1 | g)", ""), data, id="g")
    assert not sentinel.exists()
    assert spies == []
    message = str(excinfo.value)
    assert "column" in message or "too deeply nested" in message  # says where, or why


def test_error_message_shows_where_the_problem_is():
    with pytest.raises(FormulaError) as excinfo:
        parse_formula("y ~ x + os.system(1) + (1 | g)")
    text = str(excinfo.value)
    assert "unknown function 'os.system' at column 9" in text
    lines = text.splitlines()
    assert lines[1].strip() == "y ~ x + os.system(1) + (1 | g)"
    assert lines[2].index("^") == lines[1].index("os.system")
    assert excinfo.value.column == 9


def test_column_names_that_look_like_code_are_only_names(data, tmp_path):
    """A dotted R-style name is a column name: looked up, never resolved as an attribute."""
    with pytest.raises(KeyError, match=r"column 'os.system' .*not found in data"):
        lmer("y ~ os.system + (1 | g)", data)
    renamed = data.rename(columns={"x": "os.system"})
    fit = lmer("y ~ os.system + (1 | g)", renamed)
    assert list(fit.fixef.index) == ["(Intercept)", "os.system"]


def test_strings_and_backquoted_names_are_only_looked_up(data, tmp_path, spies):
    """A level or a backquoted name holding code is compared or looked up as text, never run."""
    sentinel = tmp_path / "executed"
    with pytest.raises(ValueError, match=r"ref = .* is not a level of f"):
        lmer(f"y ~ relevel(f, ref = \"open('{sentinel}', 'w')\") + (1 | g)", data)
    with pytest.raises(KeyError, match=r"column 'os.system\('touch .*'\)' .*not found in data"):
        lmer(f"y ~ `os.system('touch {sentinel}')` + (1 | g)", data)
    code = f"os.system('touch {sentinel}')"
    text = data.assign(f=np.where(np.arange(len(data)) % 2 == 0, code, "b"))
    frame = build_model(f'y ~ I(f == "{code}") + (1 | g)', text)
    assert frame.fixed_names == ("(Intercept)", f'I(f == "{code}")TRUE')
    np.testing.assert_array_equal(frame.X[:, 1], (text["f"] == code).to_numpy(dtype=float))
    assert not sentinel.exists()
    assert spies == []


def test_large_power_of_a_sum_expands_quickly():
    """(a + b)^n saturates at a:b; a huge n must not loop n times."""
    parsed = parse_formula("y ~ (a + b + c)^1000000000 + (1 | g)")
    assert parsed.fixed.labels == ("a", "b", "c", "a:b", "a:c", "b:c", "a:b:c")


def test_formula_must_be_text():
    for value in (b"y ~ x + (1 | g)", 3, ["y", "x"]):
        with pytest.raises(TypeError, match="formula must be a string"):
            parse_formula(value)
