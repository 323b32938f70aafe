"""Propagate the repository URL from ``_config.yml`` to the files that need it.

The URL is set once, as ``repository.url`` in ``_config.yml``. This script rewrites the Binder badge in
``README.md`` and the package-install line in the first cell of every notebook so that they point at it, then
regenerates the learner notebooks (``scripts/learner_notebooks.py``), which copy those cells and link to the
book published from the repository. ``tests/course/test_repository_url.py`` fails when they disagree.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from urllib.parse import urlparse

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))

import learner_notebooks

ROOT = Path(__file__).resolve().parent.parent
#: The install line of a notebook's setup cell, extras allowed (``"mlmtools[course] @ git+<url>"``).
INSTALL_LINE = re.compile(r'(%pip install --quiet "mlmtools(?:\[[\w,-]+\])? @ git\+)([^"]+)(")')
BADGE_BLOCK = re.compile(r"(<!-- repository-badges:[^\n]*-->\n)(.*?)(<!-- end repository-badges -->)", re.S)


def repository_settings(root: Path = ROOT) -> tuple[str, str]:
    """Return ``(url, branch)`` of the repository as configured in ``_config.yml``."""
    config = yaml.safe_load((root / "_config.yml").read_text())
    repository = config["repository"]
    return repository["url"].rstrip("/"), repository.get("branch", "main")


def binder_badge(url: str, branch: str) -> str:
    """Markdown for a Binder launch badge of a GitHub repository."""
    slug = urlparse(url).path.strip("/")
    return f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)](https://mybinder.org/v2/gh/{slug}/{branch})\n"


def notebook_paths(root: Path = ROOT) -> list[Path]:
    """The chapters' notebooks."""
    return sorted((root / "notebooks").glob("*.ipynb"))


def sync(root: Path = ROOT) -> list[Path]:
    """Rewrite the README badge and the notebooks' install cells; return the files changed."""
    url, branch = repository_settings(root)
    changed = []
    readme = root / "README.md"
    text = readme.read_text()
    new = BADGE_BLOCK.sub(lambda m: m.group(1) + binder_badge(url, branch) + m.group(3), text)
    if new != text:
        readme.write_text(new)
        changed.append(readme)
    for path in notebook_paths(root):
        notebook = json.loads(path.read_text())
        edited = False
        for cell in notebook["cells"]:
            source = "".join(cell["source"])
            updated = INSTALL_LINE.sub(lambda m: m.group(1) + url + m.group(3), source)
            if updated != source:
                cell["source"] = updated.splitlines(keepends=True)
                edited = True
        if edited:
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    if (root / "learner").exists():
        generated = learner_notebooks.generate(root)
        for path in learner_notebooks.stale(generated, root):
            if path in generated:
                path.write_text(generated[path], encoding="utf-8")
                changed.append(path)
    return changed


if __name__ == "__main__":
    for changed_path in sync():
        print(f"updated {changed_path.relative_to(ROOT)}")
