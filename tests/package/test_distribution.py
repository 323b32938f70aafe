"""What a user installs: the declared dependencies are what the package imports, and the built
wheel works on its own.

The fast tests read pyproject.toml and the package's imports.  The slow one builds the sdist
and the wheel (``python -m build``, setuptools from PyPI), installs the wheel into a fresh
virtual environment with the runtime dependencies only (at the versions requirements.txt
pins), runs the README's example there and reports the environment's size.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tarfile
import tomllib
import zipfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]

#: Import name -> distribution, for the third-party modules mlmtools imports.
DISTRIBUTIONS = {"numpy": "numpy", "scipy": "scipy", "pandas": "pandas", "nlopt": "nlopt",
                 "threadpoolctl": "threadpoolctl", "matplotlib": "matplotlib", "cycler": "cycler",
                 "joblib": "joblib", "tqdm": "tqdm", "distributed": "dask", "narwhals": "narwhals"}


def requirement_name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower()


def imported_distributions() -> dict[str, set[str]]:
    """Distribution -> the mlmtools modules importing it (anywhere in the module)."""
    stdlib = set(sys.stdlib_module_names)
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "mlmtools").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                     else [])
            for name in names:
                top = name.split(".")[0]
                if top in stdlib or top in ("mlmtools", "__future__"):
                    continue
                assert top in DISTRIBUTIONS, f"{path.relative_to(ROOT)} imports {top}, which no requirement covers"
                found.setdefault(DISTRIBUTIONS[top], set()).add(str(path.relative_to(ROOT)))
    return found


def test_runtime_dependencies_are_what_the_package_always_imports() -> None:
    runtime = {requirement_name(r) for r in PROJECT["dependencies"]}
    assert runtime == {"numpy", "scipy", "pandas", "nlopt", "threadpoolctl", "narwhals"}
    optional = {name for extra in PROJECT["optional-dependencies"].values() for name in map(requirement_name, extra)}
    imported = imported_distributions()
    assert set(imported) <= runtime | optional
    assert runtime <= set(imported)


def test_optional_dependencies_are_imported_only_where_their_extra_is_needed() -> None:
    imported = imported_distributions()
    assert all(path.startswith("mlmtools/plotting/") for name in ("matplotlib", "cycler") for path in imported[name])
    for name in ("joblib", "tqdm", "dask"):
        for path in imported.get(name, ()):  # imported inside the functions that need them, never at the top
            tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
            top_level = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)
                         for alias in getattr(node, "names", [])}
            top_level |= {node.module.split(".")[0] for node in tree.body
                          if isinstance(node, ast.ImportFrom) and node.module}
            assert not top_level & {"joblib", "tqdm", "distributed"}, path


def test_extras_cover_the_optional_imports_and_the_course() -> None:
    extras = {name: {requirement_name(r) for r in reqs} for name, reqs in PROJECT["optional-dependencies"].items()}
    assert {"matplotlib", "cycler"} <= extras["plot"]
    assert {"joblib", "tqdm"} <= extras["parallel"]
    assert "dask" in extras["dask"]
    assert {"statsmodels", "myst-nb", "mlmtools"} <= extras["course"]


def test_nlopt_floor_and_numpy_floor_agree() -> None:
    pins = dict(requirement.split(">=") for requirement in PROJECT["dependencies"])
    assert pins["nlopt"] == "2.8"  # nlopt 2.8 wheels need numpy 2
    assert int(pins["numpy"].split(".")[0]) >= 2


def test_metadata_names_the_repository_of_the_book() -> None:
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    url = config["repository"]["url"].rstrip("/")
    assert PROJECT["urls"]["Repository"] == url
    assert all(link.startswith(url) for link in PROJECT["urls"].values())


def test_licence_covers_the_bundled_data() -> None:
    assert PROJECT["license"] == "MIT AND GPL-2.0-or-later"
    assert (ROOT / "LICENSES" / "GPL-2.0-or-later.txt").read_text(encoding="utf-8").startswith(
        "                    GNU GENERAL PUBLIC LICENSE\n                       Version 2, June 1991")
    assert (ROOT / "mlmtools" / "py.typed").exists()


def test_changelog_names_the_current_version() -> None:
    import mlmtools

    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## [{mlmtools.__version__}]" in changelog or "## [Unreleased]" in changelog
    assert "Semantic Versioning" in changelog


def readme_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The package in one example", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)


@pytest.mark.slow
def test_the_wheel_works_alone_in_a_fresh_environment(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "build", "--outdir", str(dist), str(ROOT)], check=True,
                   capture_output=True, text=True)
    wheel = next(dist.glob("mlmtools-*.whl"))
    sdist = next(dist.glob("mlmtools-*.tar.gz"))
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert "mlmtools/py.typed" in names and "mlmtools/datasets/data/sleepstudy.csv" in names
    assert any(n.endswith("licenses/LICENSES/GPL-2.0-or-later.txt") for n in names)
    assert "License-Expression: MIT AND GPL-2.0-or-later" in metadata
    required = [line.split(": ", 1)[1] for line in metadata.splitlines() if line.startswith("Requires-Dist: ")]
    assert sorted(r for r in required if "extra ==" not in r) == sorted(PROJECT["dependencies"])
    with tarfile.open(sdist) as archive:
        members = [m.name.split("/", 1)[1] for m in archive.getmembers() if "/" in m.name]
    # the sdist is the library (tests need the repository's R fixtures and course files)
    assert not any(m.startswith(("tests/", "notebooks/", "book/")) for m in members)
    assert "LICENSES/GPL-2.0-or-later.txt" in members and "mlmtools/py.typed" in members

    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("\n".join(line for line in (ROOT / "requirements.txt").read_text().splitlines()
                                     if "==" in line) + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--constraint", str(constraints), str(wheel)],
                   check=True, capture_output=True, text=True)
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], check=True,
                               capture_output=True, text=True).stdout
    names_installed = {line.split("==")[0].lower() for line in installed.splitlines()}
    assert not names_installed & {"matplotlib", "statsmodels", "formulaic", "joblib", "tqdm"}
    script = tmp_path / "readme_example.py"
    script.write_text(readme_example(), encoding="utf-8")
    run = subprocess.run([str(python), "-W", "error::UserWarning", str(script)], cwd=tmp_path,
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "Linear mixed model fit by REML" in run.stdout and "geeglm" in run.stdout
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    size = sum(f.stat().st_size for f in Path(site).rglob("*") if f.is_file())
    print(f"library-only environment: {size / 2**20:.0f} MiB in {site}")
