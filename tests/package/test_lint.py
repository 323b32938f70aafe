"""The package passes its linter and its type checker, as configured in pyproject.toml.

``ruff check`` (rules in ``[tool.ruff]``) and ``mypy --strict`` (``[tool.mypy]``) run on
``mlmtools/`` as subprocesses with the versions pinned in requirements.txt, so ``make test``
fails on a new lint error or type error.  mypy keeps its cache in ``.mypy_cache`` (which it
tells git to ignore); a cold run takes about 40 s, hence the ``slow`` mark.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)


def test_ruff_finds_nothing() -> None:
    result = run_tool(str(BIN / "ruff"), "check", "--no-fix", "--output-format", "concise", "mlmtools")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
def test_mypy_strict_finds_nothing() -> None:
    result = run_tool(sys.executable, "-m", "mypy", "--config-file", "pyproject.toml")
    assert result.returncode == 0, result.stdout + result.stderr
