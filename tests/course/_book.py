"""The commands that build the book for the tests: ``make book``'s command, with execution settings overridden.

The tests build the book from the notebooks' outputs of the session's fresh runs, through a jupyter-cache
(see ``_pipeline``): ``book_command`` is the ``make book`` command line, and ``override_config`` writes
``_config.yml`` with extra settings merged into it (``execute_notebooks: cache`` and the cache's path) to a
file that the command reads with ``--config``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
JUPYTER_BOOK = Path(sys.executable).parent / "jupyter-book"


def merged_config(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged into it; nested mappings merge key by key, other values replace."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merged_config(merged[key], value)
        else:
            merged[key] = value
    return merged


def with_absolute_extension_paths(config: Mapping[str, Any], source: Path) -> dict[str, Any]:
    """``config`` with ``sphinx.local_extensions`` paths made absolute (Jupyter Book reads them relative to the
    config file, and an override config lives elsewhere)."""
    local = config.get("sphinx", {}).get("local_extensions") or {}
    absolute = {name: str((source / path).resolve()) for name, path in local.items()}
    return merged_config(config, {"sphinx": {"local_extensions": absolute}}) if absolute else dict(config)


def override_config(source: Path, extra: Mapping[str, Any], config_file: Path) -> Path:
    """Write ``source/_config.yml`` with ``extra`` merged into it to ``config_file``; return ``config_file``."""
    base = yaml.safe_load((source / "_config.yml").read_text(encoding="utf-8"))
    config_file.parent.mkdir(parents=True, exist_ok=True)
    config_file.write_text(yaml.safe_dump(merged_config(with_absolute_extension_paths(base, source), extra)),
                           encoding="utf-8")
    return config_file


def book_command(source: Path, output_dir: Path, config_file: Path | None = None) -> list[str]:
    """The ``make book`` command line (HTML, warnings as errors, nitpicky references, every warning shown),
    writing to ``output_dir/_build/html``."""
    command = [str(JUPYTER_BOOK), "build", str(source), "--path-output", str(output_dir), "--builder", "html",
               "-W", "-n", "--keep-going"]
    if config_file is not None:
        command += ["--config", str(config_file)]
    return command


def notebooks_read_from_cache(log: str) -> set[str]:
    """File names of the notebooks whose outputs a build's log says it took from the jupyter-cache."""
    return {Path(path).name for path in re.findall(r"(\S+\.ipynb): Using cached notebook", log)}


def notebooks_executed(log: str) -> set[str]:
    """File names of the notebooks that a build's log says it executed."""
    return {Path(path).name for path in re.findall(r"(\S+\.ipynb): Execut", log)}
