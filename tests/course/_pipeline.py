"""What the course tests make once per session: the notebooks' fresh runs and the books built from them.

Everything goes to ``_build/tests`` (cleared when the session starts making it):

- ``runs/<chapter>/``: each notebook's fresh run (see ``_fresh_runs``);
- ``jupyter_cache/``: the fresh runs' outputs, cached for the notebooks as they are and as the student
  edition holds them (solution code tagged ``remove-cell``), so that both books find every notebook there;
- ``_build/html``: the book, built with ``make book``'s command from ``_config.yml`` with
  ``execute_notebooks: cache``; a notebook missing from the cache (its fresh run failed) is executed by the
  build, whose ``raise_on_error`` then fails it, as ``make book`` would;
- ``student/html``: the student edition (``scripts/student_book.py --cache``), made the same way.

The book is then served on 127.0.0.1 for the rest of the session and crawled in Chromium (see ``_browser``).

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
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

from _book import ROOT, book_command, override_config
from _browser import Crawl, crawl_book, serve
from _fresh_runs import FreshRun, run_all, with_outputs

sys.path.insert(0, str(ROOT / "scripts"))
import student_book  # noqa: E402

BUILD_TIMEOUT_SECONDS = 1800


class ProcessGroup:
    """``subprocess.run`` for the pipeline's threads, with a ``stop`` that ends every process still running."""

    def __init__(self, stopped: threading.Event) -> None:
        self._running: set[subprocess.Popen] = set()
        self._lock = threading.Lock()
        self._stopped = stopped

    def run(self, command: list[str], *, timeout: float | None = None, **options: Any) -> subprocess.CompletedProcess:
        with self._lock:
            if self._stopped.is_set():
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
        """End every process still running; the caller sets the ``stopped`` event first."""
        with self._lock:
            for process in self._running:
                process.terminate()


def log_tail(completed: subprocess.CompletedProcess) -> str:
    return f"{completed.stdout[-8000:]}\n{completed.stderr[-3000:]}"


class CoursePipeline:
    """The session's fresh runs, jupyter-cache, books and crawl; each ``start_*`` is idempotent, each getter
    waits for its step."""

    #: One thread per step, so that a step waiting for another never holds up a step that could run.
    STEPS = ("runs", "cache", "book", "student", "serve", "crawl")

    def __init__(self, folder: Path = ROOT / "_build" / "tests") -> None:
        self.folder = folder
        self.cache = folder / "jupyter_cache"
        self._stopped = threading.Event()
        self._stop_serving: Callable[[], None] | None = None
        self._processes = ProcessGroup(self._stopped)
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
        return self._step("book", lambda: self._build_book(cached))

    def start_student_book(self) -> Future:
        cached = self.start_cache()
        return self._step("student", lambda: self._build_student_book(cached))

    def start_serving(self) -> Future:
        book = self.start_book()
        return self._step("serve", lambda: self._serve(book.result()))

    def start_crawl(self) -> Future:
        book, served = self.start_book(), self.start_serving()
        return self._step("crawl", lambda: crawl_book(book.result(), served.result(), self._stopped))

    def runs(self) -> dict[str, FreshRun]:
        return self.start_runs().result()

    def book(self) -> Path:
        """The HTML book's folder."""
        return self.start_book().result()

    def student_book(self) -> Path:
        """The student edition's HTML folder."""
        return self.start_student_book().result()

    def book_url(self) -> str:
        """The URL of the HTML book, served on 127.0.0.1 until the session ends."""
        return self.start_serving().result()

    def crawl(self) -> Crawl:
        """The book's crawl in Chromium; raises ``BrowserUnavailable`` when no Chromium could be had."""
        return self.start_crawl().result()

    def stop(self) -> None:
        """End running processes, stop serving the book, start no more steps (the session is over)."""
        self._stopped.set()
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

    def _build_book(self, cached: Future) -> Path:
        cache = cached.result()
        config = override_config(ROOT, {"execute": {"execute_notebooks": "cache", "cache": str(cache)}},
                                 self.folder / "_config.yml")
        completed = self._processes.run(book_command(ROOT, self.folder, config), cwd=ROOT, text=True,
                                        timeout=BUILD_TIMEOUT_SECONDS)
        assert completed.returncode == 0, f"book build failed (exit {completed.returncode}):\n{log_tail(completed)}"
        return self.folder / "_build" / "html"

    def _build_student_book(self, cached: Future) -> Path:
        cache = cached.result()
        output = self.folder / "student"
        completed = self._processes.run(
            [sys.executable, str(ROOT / "scripts" / "student_book.py"), "--output", str(output), "--cache", str(cache)],
            cwd=ROOT, text=True, timeout=BUILD_TIMEOUT_SECONDS)
        assert completed.returncode == 0, f"student book build failed:\n{log_tail(completed)}"
        return output / "html"


PIPELINE = CoursePipeline()
