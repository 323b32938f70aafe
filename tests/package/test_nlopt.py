"""NLopt missing or too old: fits still run, and a warning says the results will differ from R's."""

from __future__ import annotations

import sys
import types
import warnings

import pytest

from mlmtools._nlopt import MINIMUM_NLOPT, installed_nlopt_version, nlopt_available
from mlmtools.exceptions import NloptWarning
from mlmtools.lmm import lmer


def fake_nlopt(version: tuple[int, int, int]) -> types.ModuleType:
    module = types.ModuleType("nlopt")
    module.version_major = lambda: version[0]  # type: ignore[attr-defined]
    module.version_minor = lambda: version[1]  # type: ignore[attr-defined]
    module.version_bugfix = lambda: version[2]  # type: ignore[attr-defined]
    return module


def test_the_installed_nlopt_is_recent_enough_and_silent() -> None:
    version = installed_nlopt_version()
    assert version is not None and version[:2] >= MINIMUM_NLOPT
    with warnings.catch_warnings():
        warnings.simplefilter("error", NloptWarning)
        assert nlopt_available()


def test_a_missing_nlopt_falls_back_with_a_warning(monkeypatch, sleepstudy) -> None:
    monkeypatch.setitem(sys.modules, "nlopt", None)  # makes ``import nlopt`` raise ImportError
    with pytest.warns(NloptWarning, match=r"not installed.*differ from R's.*nlopt>=2.8"):
        assert not nlopt_available()
    with pytest.warns(NloptWarning, match="COBYQA"):
        fit = lmer("Reaction ~ Days + (1 | Subject)", sleepstudy)
    assert fit.optinfo.optimizer == "cobyqa"


def test_an_old_nlopt_is_used_with_a_warning(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "nlopt", fake_nlopt((2, 7, 1)))
    assert installed_nlopt_version() == (2, 7, 1)
    with pytest.warns(NloptWarning, match=r"NLopt 2\.7\.1 is older than 2\.8.*differ from R's"):
        assert nlopt_available()
