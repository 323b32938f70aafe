"""What the course tests make once per session: the notebooks' fresh runs and the books built from them.

Everything goes to ``_build/tests`` (cleared when the session starts making it):

- ``runs/<chapter>/``: each notebook's fresh run (see ``_fresh_runs``);
- ``jupyter_cache/``: the fresh runs' outputs, cached for the notebooks as they are and as the student
  edition holds them (solution code tagged ``remove-cell``), so that both books find every notebook there;
- ``_build/html``: the book, built with ``make book``'s command from ``_config.yml`` with
  ``execute_notebooks: cache``; a notebook missing from the cache (its fresh run failed) is executed by the
  build, whose ``raise_on_error`` then fails it, as ``make book`` would;
- ``student/html``: the student edition (``scripts/student_book.py --cache``), made the same way, after the
  book (so that the crawl, which needs only the book, starts as early as it can).

The book is then served on 127.0.0.1 for the rest of the session and crawled in Chromium, in a process of its
own (see ``_browser``), which writes its report to ``crawl.json``.

The steps run in background threads, started by ``tests/course/conftest.py`` as soon as collection shows
which of them the selected tests need, so they overlap the tests that run before the course tests (the
package tests and nbval). Fixtures wait for the step they need. A failed step raises in every test that
needs it. ``PIPELINE`` is the session's pipeline.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat
from ._book import ROOT, book_command, override_config
from ._browser import Crawl, crawl_in_own_process, serve
from ._fresh_runs import FreshRun, run_all, with_outputs
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

sys.path.insert(0, str(ROOT / "scripts"))
import student_book

BUILD_TIMEOUT_SECONDS = 1800


class ProcessGroup:
    """``subprocess.run`` for the pipeline's threads (output always captured), with a ``stop`` that ends every
    process still running."""

    def __init__(self) -> None:
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopped = False

    def run(self, command: list[str], *, timeout: float | None = None, **options: Any) -> subprocess.CompletedProcess:
        with self._lock:
            if self._stopped:
                raise RuntimeError("the test session ended before this step started")
            process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       **{key: value for key, value in options.items() if key != "capture_output"})
            self._running.add(process)
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        finally:
            with self._lock:
                self._running.discard(process)
        return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)

    def stop(self) -> None:
        """End every process still running, and start no more."""
        with self._lock:
            self._stopped = True
            for process in self._running:
                process.terminate()


@dataclass(frozen=True)
class BookBuild:
    """A built book: its HTML folder and the build's log (standard output, then standard error)."""

    html: Path
    log: str


def built_book(completed: subprocess.CompletedProcess, html: Path, edition: str) -> BookBuild:
    """The build that ``completed`` made in ``html``; raise with the end of its log if it failed."""
    log = f"{completed.stdout}\n{completed.stderr}"
    assert completed.returncode == 0, f"{edition} build failed (exit {completed.returncode}):\n{log[-10000:]}"
    return BookBuild(html, log)


class CoursePipeline:
    """The session's fresh runs, jupyter-cache, books and crawl; each ``start_*`` is idempotent, each getter
    waits for its step."""

    #: One thread per step, so that a step waiting for another never holds up a step that could run.
    STEPS = ("runs", "cache", "book", "student", "serve", "crawl")

    def __init__(self, folder: Path = ROOT / "_build" / "tests") -> None:
        self.folder = folder
        self.cache = folder / "jupyter_cache"
        self._stop_serving: Callable[[], None] | None = None
        self._processes = ProcessGroup()
        self._pool = ThreadPoolExecutor(max_workers=len(self.STEPS), thread_name_prefix="course-pipeline")
        self._steps: dict[str, Future] = {}
        self._lock = threading.Lock()

    def _step(self, name: str, work: Callable[[], Any]) -> Future:
        assert name in self.STEPS, name
        with self._lock:
            if name not in self._steps:
                if not self._steps and self.folder.exists():
                    shutil.rmtree(self.folder)
                self._steps[name] = self._pool.submit(work)
            return self._steps[name]

    def start_runs(self) -> Future:
        return self._step("runs", lambda: run_all(self.folder / "runs", self._processes.run))

    def start_cache(self) -> Future:
        runs = self.start_runs()
        return self._step("cache", lambda: self._fill_cache(runs.result()))

    def start_book(self) -> Future:
        cached = self.start_cache()
        return self._step("book", lambda: self._build_book(cached.result()))

    def start_student_book(self) -> Future:
        cached, book = self.start_cache(), self.start_book()
        return self._step("student", lambda: self._build_student_book(cached.result(), after=book))

    def start_serving(self) -> Future:
        book = self.start_book()
        return self._step("serve", lambda: self._serve(book.result().html))

    def start_crawl(self) -> Future:
        book, served = self.start_book(), self.start_serving()
        return self._step("crawl", lambda: crawl_in_own_process(book.result().html, served.result(),
                                                                self.folder / "crawl.json", self._processes.run))

    def runs(self) -> dict[str, FreshRun]:
        return self.start_runs().result()

    def book(self) -> BookBuild:
        return self.start_book().result()

    def student_book(self) -> BookBuild:
        return self.start_student_book().result()

    def book_url(self) -> str:
        """The URL of the HTML book, served on 127.0.0.1 until the session ends."""
        return self.start_serving().result()

    def crawl(self) -> Crawl:
        """The book's crawl in Chromium; raises ``BrowserUnavailable`` when no Chromium could be had."""
        return self.start_crawl().result()

    def stop(self) -> None:
        """End running processes, stop serving the book, start no more steps (the session is over)."""
        self._processes.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self._stop_serving is not None:
            self._stop_serving()

    def _serve(self, html: Path) -> str:
        url, self._stop_serving = serve(html)
        return url

    def _fill_cache(self, runs: dict[str, FreshRun]) -> Path:
        cache = get_cache(self.cache)
        for fresh_run in runs.values():
            if not fresh_run.succeeded:
                continue
            source = nbformat.read(fresh_run.source, as_version=4)
            executed = with_outputs(source, nbformat.read(fresh_run.executed, as_version=4))
            for edition, notebook in (("book", executed), ("student", student_book.student_notebook(executed))):
                cache.cache_notebook_bundle(CacheBundleIn(notebook, f"{edition}:{fresh_run.source.name}"),
                                            check_validity=False, overwrite=True)
        return self.cache

    def _build_book(self, cache: Path) -> BookBuild:
        config = override_config(ROOT, {"execute": {"execute_notebooks": "cache", "cache": str(cache)}},
                                 self.folder / "_config.yml")
        completed = self._processes.run(book_command(ROOT, self.folder, config), cwd=ROOT, text=True,
                                        timeout=BUILD_TIMEOUT_SECONDS)
        return built_book(completed, self.folder / "_build" / "html", "book")

    def _build_student_book(self, cache: Path, after: Future) -> BookBuild:
        """Build the student edition once the ``after`` step (the book) is over, so that the book, and the
        crawl that needs it, get the machine first."""
        wait([after])
        output = self.folder / "student"
        completed = self._processes.run(
            [sys.executable, str(ROOT / "scripts" / "student_book.py"), "--output", str(output), "--cache", str(cache)],
            cwd=ROOT, text=True, timeout=BUILD_TIMEOUT_SECONDS)
        return built_book(completed, output / "html", "student book")


PIPELINE = CoursePipeline()
