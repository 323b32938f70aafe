"""Shared fixtures: R's reference numbers and fitted models, fitted once per test session.

R's numbers come from ``tests/fixtures/seed-reference.json`` (the lecture's models, made by
``seed-reference.R``) and ``tests/fixtures/lmer_cases.json`` (extra cases, made by
``r/make_lmer_cases.R``).  The lecture's printed summaries are kept verbatim in
``tests/fixtures/lmer_printouts.json``.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

FIXTURES = Path(__file__).parent / "fixtures"


def _read_json(name: str) -> dict:
    with open(FIXTURES / name, encoding="utf-8") as handle:
        return json.load(handle)


def read_case_data(filename: str, text_columns: tuple[str, ...] = ()) -> pd.DataFrame:
    """A fixture CSV with character columns kept as text (R's factors), and the columns named in
    ``text_columns`` read as text too where the file has them (numbers the R script read as text,
    such as sleepstudy's ``Subject``)."""
    data = pd.read_csv(FIXTURES / filename)
    for column in data.columns:
        if not pd.api.types.is_numeric_dtype(data[column]) or column in text_columns:
            data[column] = data[column].astype(str)
    return data


@pytest.fixture(scope="session")
def case_data() -> Callable[[str], pd.DataFrame]:
    """:func:`read_case_data`, for tests: ``case_data("data_random_slope.csv")``."""
    return read_case_data


@pytest.fixture(scope="session")
def seed_reference() -> dict:
    """R's values for the lecture's computations."""
    return _read_json("seed-reference.json")


@pytest.fixture(scope="session")
def lmer_cases() -> dict:
    """R's values for the extra lmer cases (``cases``) and LRT tables (``anova_lrt``)."""
    return _read_json("lmer_cases.json")


@pytest.fixture(scope="session")
def printouts() -> dict:
    """The lecture's printed R output, line by line."""
    return _read_json("lmer_printouts.json")


@pytest.fixture(scope="session")
def sleepstudy() -> pd.DataFrame:
    from mlmtools.datasets import sleepstudy

    return sleepstudy()


@pytest.fixture(scope="session")
def sleep_models(sleepstudy) -> dict:
    """The lecture's sleepstudy models m0, m1, m2, m_cat (REML fits)."""
    from mlmtools.lmm import lmer

    data = sleepstudy.copy()
    data["Days_cat"] = data["Days"].astype(int).astype(str)
    return {
        "m0": lmer("Reaction ~ 1 + (1 | Subject)", sleepstudy, data_name="sleepstudy"),
        "m1": lmer("Reaction ~ Days + (1 | Subject)", sleepstudy, data_name="sleepstudy"),
        "m2": lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy, data_name="sleepstudy"),
        "m_cat": lmer("Reaction ~ factor(Days) + (1 | Subject)", sleepstudy, data_name="sleepstudy"),
    }


@pytest.fixture(scope="session")
def prevention_model():
    """The lecture's empty model for the prevention data (5 communities x 4 schools)."""
    from mlmtools.datasets import prevention
    from mlmtools.lmm import lmer

    return lmer("risk_score ~ 1 + (1 | community)", prevention(), data_name="prevention_data")


@pytest.fixture(scope="session")
def demo_model():
    """The lecture's null-effect demo (10 schools x 30 students), simulated with R's RNG."""
    from mlmtools.lmm import lmer
    from mlmtools.simulate.rng import RRandom

    rng = RRandom(2026)
    school_effects = rng.rnorm(10, 0, np.sqrt(0.25))
    noise = rng.rnorm(300, 0, np.sqrt(0.75))
    data = pd.DataFrame({
        "school": np.repeat(np.arange(1, 11), 30),
        "treatment": np.repeat([0.0, 1.0], 150),
        "y": 50 + np.repeat(school_effects, 30) + noise,
    })
    return lmer("y ~ treatment + (1 | school)", data, data_name="demo_data")


@pytest.fixture(scope="session")
def case_fits(lmer_cases) -> dict:
    """Every case of ``lmer_cases.json`` fitted once (warnings recorded, not raised)."""
    from mlmtools.lmm import lmer

    fits = {}
    for name, case in lmer_cases["cases"].items():
        kwargs = {}
        call = case["call"]
        if "weights = w" in call:
            kwargs["weights"] = "w"
        if "offset = off" in call:
            kwargs["offset"] = "off"
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fit = lmer(case["formula"], read_case_data(case["data"]), REML=case["REML"],
                       data_name="d", **kwargs)
        fits[name] = (fit, [str(w.message) for w in caught], [w.category for w in caught])
    return fits


@pytest.fixture(scope="session")
def contrasts_formulas() -> dict:
    """R's fits with contrasts and formula transforms, the spline bases and contrast matrices
    (``r/make_contrasts_formulas.R``)."""
    return _read_json("contrasts_formulas.json")


@pytest.fixture(scope="session")
def formula_extras() -> dict:
    """R's fits with backquoted names, dates, an ordered factor, contrasts, spline options
    (``r/make_formula_extras.R``)."""
    return _read_json("formula_extras.json")


def as_r_prepares_formula_extras(data: pd.DataFrame) -> pd.DataFrame:
    """What ``make_formula_extras.R`` does to its data: ``exam_date`` as dates, ``exam_time`` as
    date-times (UTC), ``grade_ordered`` the ordered factor low < mid < high."""
    return data.assign(exam_date=pd.to_datetime(data["exam_date"]), exam_time=pd.to_datetime(data["exam_time"]),
                       grade_ordered=pd.Categorical(data["grade"], ["low", "mid", "high"], ordered=True))


@pytest.fixture(scope="session")
def formula_extras_data() -> pd.DataFrame:
    """``data_formula_extras.csv`` prepared as R prepared it."""
    return as_r_prepares_formula_extras(read_case_data("data_formula_extras.csv"))


@pytest.fixture(scope="session")
def formula_extras_newdata(formula_extras) -> pd.DataFrame:
    """The new rows R predicted, prepared as the data."""
    return as_r_prepares_formula_extras(pd.DataFrame(formula_extras["newdata"]["columns"]))
