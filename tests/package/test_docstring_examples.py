"""The ``Examples`` sections of the package run and print what they show.

The API reference page renders these docstrings, so running them here keeps the printed
numbers in the book in step with the code. Every module of the package is run; the main
entry points must have examples.
"""

import doctest
import importlib
import pkgutil

import pytest

import mlmtools

MODULES = sorted(info.name for info in pkgutil.walk_packages(mlmtools.__path__, "mlmtools."))

ENTRY_POINTS = [
    ("mlmtools.lmm.model", "lmer"),
    ("mlmtools.lmm.model", "LinearMixedModel"),
    ("mlmtools.glmm.model", "glmer"),
    ("mlmtools.gee.model", "geeglm"),
    ("mlmtools.inference.anova_tables", "anova"),
    ("mlmtools.broom", "tidy"),
    ("mlmtools.broom", "glance"),
    ("mlmtools.broom", "augment"),
    ("mlmtools.plotting", "caterpillar_plot"),
    ("mlmtools.plotting", "prediction_plot"),
    ("mlmtools.inference.contrasts", "contest"),
    ("mlmtools.simulate.type1", "simulate_type1"),
    ("mlmtools.simulate.power", "power_simulation"),
    ("mlmtools.simulate.power", "power_analytic"),
    ("mlmtools.simulate.power", "power_curve"),
    ("mlmtools.lmm.intervals", "confint"),
    # lme4's, lmerTest's and geepack's other tools (issue 16)
    ("mlmtools.inference.random_effects_tests", "ranova"),
    ("mlmtools.inference.term_deletion", "drop1"),
    ("mlmtools.inference.least_squares_means", "ls_means"),
    ("mlmtools.inference.least_squares_means", "difflsmeans"),
    ("mlmtools.simulate.mixed_responses", "simulate"),
    ("mlmtools.simulate.parametric_bootstrap", "bootstrap"),
    ("mlmtools.simulate.parametric_bootstrap", "bootstrap_confint"),
    ("mlmtools.lmm.re_form", "select_random_effects"),
    ("mlmtools.glmm.negative_binomial", "glmer_nb"),
    ("mlmtools.frame.contrasts", "contr_sum"),
    ("mlmtools.frame.contrasts", "contr_treatment"),
    ("mlmtools.frame.contrasts", "contr_helmert"),
    ("mlmtools.frame.contrasts", "contr_poly"),
    ("mlmtools.inference.wald", "fixed_part_predictions"),
]


@pytest.mark.parametrize("name", MODULES)
def test_module_examples_pass(name):
    outcome = doctest.testmod(importlib.import_module(name),
                              optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS, verbose=False)
    assert outcome.failed == 0, f"{outcome.failed} of {outcome.attempted} examples failed in {name}"


@pytest.mark.parametrize(("module", "function"), ENTRY_POINTS)
def test_entry_point_has_example(module, function):
    obj = getattr(importlib.import_module(module), function)
    examples = doctest.DocTestFinder(recurse=False).find(obj, function)
    assert examples and examples[0].examples, f"{module}.{function} has no Examples section"
    assert "Examples\n" in obj.__doc__
