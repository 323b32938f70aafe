"""The ``Examples`` sections of the public API run and print what they show.

The API reference page renders these docstrings, so running them here keeps the printed
numbers in the book in step with the code.
"""

import doctest
import importlib

import pytest

MODULES = ["lmer", "glmer", "gee", "anova", "tidy", "satterthwaite", "simulation", "power", "confint"]

ENTRY_POINTS = [
    ("lmer", "lmer"),
    ("glmer", "glmer"),
    ("gee", "geeglm"),
    ("anova", "anova"),
    ("tidy", "tidy"),
    ("satterthwaite", "contest"),
    ("simulation", "simulate_type1"),
    ("power", "power_simulation"),
    ("power", "power_analytic"),
    ("power", "power_curve"),
    ("confint", "confint"),
]


def _module(name: str):
    # import_module, not attribute access: mlmtools' lazy top level maps e.g. ``mlmtools.anova``
    # to the function of that name.
    return importlib.import_module(f"mlmtools.{name}")


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_pass(name):
    outcome = doctest.testmod(_module(name), optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS,
                              verbose=False)
    assert outcome.attempted > 0, f"mlmtools.{name} has no docstring examples"
    assert outcome.failed == 0, f"{outcome.failed} of {outcome.attempted} examples failed in mlmtools.{name}"


@pytest.mark.parametrize(("module", "function"), ENTRY_POINTS)
def test_entry_point_has_example(module, function):
    obj = getattr(_module(module), function)
    examples = doctest.DocTestFinder(recurse=False).find(obj, function)
    assert examples and examples[0].examples, f"mlmtools.{module}.{function} has no Examples section"
    assert "Examples\n" in obj.__doc__
