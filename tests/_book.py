"""Build the Jupyter Book for the tests, once per test session and configuration.

Several test modules need the HTML book (content checks, the browser check, the launch buttons). Building it
executes every notebook, so the build is cached per session: the first caller builds, the others reuse the
result. ``build_book(ROOT)`` runs the same command as ``make book`` and writes to ``_build/html``.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
BUILD_TIMEOUT_SECONDS = 1800


@dataclass(frozen=True)
class BuildResult:
    html: Path
    returncode: int
    log: str


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


def jupyter_book_command(source: Path, output_dir: Path, config_file: Path | None = None) -> list[str]:
    """The ``make book`` command line: HTML, warnings as errors, nitpicky references, every warning shown."""
    command = [str(Path(sys.executable).parent / "jupyter-book"), "build", str(source),
               "--path-output", str(output_dir), "--builder", "html", "-W", "-n", "--keep-going"]
    if config_file is not None:
        command += ["--config", str(config_file)]
    return command


@functools.lru_cache(maxsize=None)
def _build(source: str, output_dir: str, extra_config_json: str) -> BuildResult:
    source_path, output_path = Path(source), Path(output_dir)
    config_file = None
    extra_config = json.loads(extra_config_json)
    if extra_config:
        base = yaml.safe_load((source_path / "_config.yml").read_text(encoding="utf-8"))
        base = with_absolute_extension_paths(base, source_path)
        config_file = output_path / "_build" / "_config.override.yml"
        config_file.parent.mkdir(parents=True, exist_ok=True)
        config_file.write_text(yaml.safe_dump(merged_config(base, extra_config)), encoding="utf-8")
    result = subprocess.run(jupyter_book_command(source_path, output_path, config_file), cwd=source_path,
                            capture_output=True, text=True, timeout=BUILD_TIMEOUT_SECONDS)
    return BuildResult(output_path / "_build" / "html", result.returncode, result.stdout + result.stderr)


def build_book(output_dir: Path = ROOT, extra_config: Mapping[str, Any] | None = None,
               source: Path = ROOT) -> Path:
    """Build the book from ``source`` into ``output_dir/_build/html`` (once per session) and return that folder.

    ``extra_config`` is merged into ``_config.yml`` for this build only. A failed build raises
    ``AssertionError`` with the end of the build log, in every test that asks for it.
    """
    key = json.dumps(dict(extra_config or {}), sort_keys=True)
    result = _build(str(Path(source).resolve()), str(Path(output_dir).resolve()), key)
    assert result.returncode == 0, f"book build failed (exit {result.returncode}):\n{result.log[-8000:]}"
    return result.html
