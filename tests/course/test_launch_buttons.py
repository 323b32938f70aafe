"""Every chapter page offers Binder and Colab launch buttons that open that chapter's learner notebook.

The book is built with the repository URL of ``_config.yml``; the buttons' links are read from the HTML and
checked against the repository settings and the files in the repository: they open the plain notebook of
``learner/`` (``scripts/learner_notebooks.py``), which the download button serves too, not the MyST source
in ``notebooks/``. Binder (repo2docker) must find its environment in the root ``requirements.txt`` and
``runtime.txt``, so there may be no ``binder/`` folder.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
import yaml
from bs4 import BeautifulSoup

from ._book import ROOT


def repository() -> tuple[str, str, str]:
    """``(owner/name, branch, path_to_book)`` from ``_config.yml``."""
    settings = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))["repository"]
    slug = urlparse(settings["url"]).path.strip("/")
    return slug, settings.get("branch", "main"), (settings.get("path_to_book") or "").strip("/")


def chapter_notebooks() -> list[str]:
    """Paths (from the book root, without suffix) of the toc entries that are notebooks."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [chapter["file"] for part in toc.get("parts", []) for chapter in part.get("chapters", [])]
    return [name for name in files if (ROOT / f"{name}.ipynb").exists()]


def learner_notebook(chapter: str) -> str:
    """The repository path of a chapter's learner notebook (``test_student_book`` checks the student edition's)."""
    _, _, path_to_book = repository()
    return "/".join(filter(None, [path_to_book, "learner", f"{Path(chapter).name}.ipynb"]))


def launch_links(html_file: Path) -> list[str]:
    soup = BeautifulSoup(html_file.read_text(encoding="utf-8"), "html.parser")
    return [a["href"] for a in soup.select("a[href]") if "launch" in (a.get("title") or "").lower()
            or "launch" in a.get_text(" ").lower()]


def test_the_toc_has_notebook_chapters() -> None:
    assert chapter_notebooks(), "no chapter in _toc.yml is a notebook, so no page can have launch buttons"


@pytest.mark.parametrize("chapter", chapter_notebooks())
def test_chapter_has_binder_button(book_html: Path, chapter: str) -> None:
    slug, branch, _ = repository()
    links = [link for link in launch_links(book_html / f"{chapter}.html") if "mybinder.org" in link]
    assert len(links) == 1, f"expected one Binder button on {chapter}, found {links}"
    parsed = urlparse(links[0])
    assert parsed.path == f"/v2/gh/{slug}/{branch}"
    notebook = re.sub(r"^(tree|lab/tree|notebooks)/", "", parse_qs(parsed.query)["urlpath"][0])
    assert notebook == learner_notebook(chapter)
    assert (ROOT / notebook).exists(), f"the Binder button opens {notebook}, which is not in the repository"


@pytest.mark.parametrize("chapter", chapter_notebooks())
def test_chapter_has_colab_button(book_html: Path, chapter: str) -> None:
    slug, branch, _ = repository()
    links = [link for link in launch_links(book_html / f"{chapter}.html") if "colab.research.google.com" in link]
    assert len(links) == 1, f"expected one Colab button on {chapter}, found {links}"
    prefix = f"https://colab.research.google.com/github/{slug}/blob/{branch}/"
    assert links[0].startswith(prefix), links[0]
    notebook = links[0].removeprefix(prefix)
    assert notebook == learner_notebook(chapter)
    assert (ROOT / notebook).exists(), f"the Colab button opens {notebook}, which is not in the repository"


@pytest.mark.parametrize("chapter", chapter_notebooks())
def test_chapter_download_is_the_learner_notebook(book_html: Path, chapter: str) -> None:
    soup = BeautifulSoup((book_html / f"{chapter}.html").read_text(encoding="utf-8"), "html.parser")
    downloads = [a["href"] for a in soup.select("a[href]") if a["href"].endswith(".ipynb") and "_sources" in a["href"]]
    assert downloads, f"no notebook download button on {chapter}"
    for href in downloads:
        served = (book_html / f"{chapter}.html").parent / href
        assert served.read_bytes() == (ROOT / learner_notebook(chapter)).read_bytes(), href


def test_pages_that_are_not_notebooks_have_no_launch_buttons(book_html: Path) -> None:
    assert not launch_links(book_html / "book" / "intro.html")


def test_binder_uses_the_root_environment() -> None:
    for folder in ("binder", ".binder"):
        assert not (ROOT / folder).exists(), f"{folder}/ would make repo2docker ignore the root config files"
    requirements = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert any(line.strip() in ("-e .", ".") for line in requirements), "requirements.txt does not install mlmtools"
    pinned = [line for line in requirements if line.strip() and not line.startswith(("#", "-e", "."))]
    assert pinned and all("==" in line for line in pinned), "every requirement should be pinned"
    assert any(line.lower().startswith("jupyter-book==1.") for line in pinned)
    runtime = (ROOT / "runtime.txt").read_text(encoding="utf-8").strip()
    match = re.fullmatch(r"python-3\.(\d+)", runtime)
    assert match, f"runtime.txt should read python-3.X, not {runtime!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    minimum_minor = int(re.search(r">=\s*3\.(\d+)", requires).group(1))
    assert int(match.group(1)) >= minimum_minor, f"runtime.txt ({runtime}) is older than requires-python {requires}"
