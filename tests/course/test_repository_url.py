"""The repository URL is set once in _config.yml; the README badge and the notebooks' install cells follow it."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import yaml

from ._book import ROOT


def load_sync_module():
    spec = importlib.util.spec_from_file_location("sync_repository_url", ROOT / "scripts" / "sync_repository_url.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_files_agree_with_config() -> None:
    sync = load_sync_module()
    url, branch = sync.repository_settings(ROOT)
    assert sync.binder_badge(url, branch) in (ROOT / "README.md").read_text()
    for path in sync.notebook_paths(ROOT):
        cells = json.loads(path.read_text())["cells"]
        first_code = next(c for c in cells if c["cell_type"] == "code")
        install = sync.INSTALL_LINE.search("".join(first_code["source"]))
        assert install and install.group(2) == url, path.name
        assert "remove-cell" in first_code["metadata"].get("tags", []), path.name


def test_sync_follows_a_changed_setting(tmp_path: Path) -> None:
    sync = load_sync_module()
    for name in ("_config.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks")
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    config["repository"]["url"] = "https://github.com/someone/fork-of-course"
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    changed = sync.sync(tmp_path)
    assert tmp_path / "README.md" in changed
    assert "mybinder.org/v2/gh/someone/fork-of-course/main" in (tmp_path / "README.md").read_text()
    for path in sync.notebook_paths(tmp_path):
        assert "git+https://github.com/someone/fork-of-course" in path.read_text()


def test_sync_regenerates_the_learner_notebooks(tmp_path: Path) -> None:
    sync = load_sync_module()
    published_before = sync.learner_notebooks.book_url(ROOT)
    for name in ("_config.yml", "_toc.yml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    for folder in ("notebooks", "book", "learner"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    config = yaml.safe_load((tmp_path / "_config.yml").read_text())
    config["repository"]["url"] = "https://github.com/someone/fork-of-course"
    (tmp_path / "_config.yml").write_text(yaml.safe_dump(config))
    changed = sync.sync(tmp_path)
    learner = sorted((tmp_path / "learner").rglob("*.ipynb"))
    assert learner and set(learner) <= set(changed)
    for path in learner:
        text = path.read_text()
        assert "git+https://github.com/someone/fork-of-course" in text, path.name
        assert "https://someone.github.io/fork-of-course/notebooks/" in text, path.name
        assert published_before not in text, path.name
