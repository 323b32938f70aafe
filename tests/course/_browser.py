"""The book in headless Chromium, as a reader opens it, with the network cut off: the crawl behind ``test_browser``.

``crawl_book`` opens every HTML page of a served book, and every same-host page linked from one, once, each
in Debian's Chromium driven by Playwright. Any request to another host is blocked and recorded. On each page
it records console errors and failed requests, then, once the page's images and equations are in, what the
checks read (images, math, prose, headings, links, anchors), then axe-core's contrast and image-alt
violations (axe-core is installed from the npm registry into ``_build/npm``). The session's pipeline runs the
crawl in the background, in a process of its own, as soon as the book is built (see ``_pipeline``);
``test_browser`` checks its report.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urlparse

from ._book import ROOT
from ._layout import LAYOUT_JS, PHONE_DEVICE, SCREENSHOTS, WIDE_DESKTOP, layout_arguments

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
AXE_CORE_VERSION = "4.14.1"
NPM_FOLDER = ROOT / "_build" / "npm"
#: The folder of the built book where ``slides/slide_decks.py`` puts the decks and their PDFs.
SLIDES_FOLDER = "slides"
#: The folder of the built book that holds the chapters (photographed whole by the crawl).
CHAPTERS_FOLDER = "notebooks"
PAGE_TIMEOUT_MS = 60_000
QUIET_NETWORK_SECONDS = 0.5
CRAWL_TIMEOUT_SECONDS = 1800
#: The exit status of ``python -m course._browser`` when no Chromium could be had.
NO_BROWSER_EXIT = 3

# Runs in the page after it has loaded: waits for images and MathJax, then reads what the checks need.
INSPECT_PAGE_JS = """
async () => {
  for (const img of document.images) { img.loading = 'eager'; }
  await Promise.all([...document.images].map(img => img.decode().catch(() => null)));
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) { await MathJax.startup.promise; }
  const article = document.querySelector('article') || document.body;
  const skipped = 'pre, code, script, style, textarea, mjx-container, .math';
  const walker = document.createTreeWalker(article, NodeFilter.SHOW_TEXT);
  const prose = [];
  while (walker.nextNode()) {
    if (!walker.currentNode.parentElement.closest(skipped)) { prose.push(walker.currentNode.textContent); }
  }
  const mathElements = [...document.querySelectorAll('.math')];
  return {
    images: [...document.images].map(img => ({
      src: img.currentSrc || img.src, width: img.naturalWidth, alt: img.getAttribute('alt')})),
    mathCount: mathElements.length,
    untypesetMath: mathElements.filter(el => !el.querySelector('mjx-container'))
                               .map(el => el.textContent.slice(0, 80)),
    mjxCount: document.querySelectorAll('mjx-container').length,
    prose: prose.join(' '),
    headings: [...article.querySelectorAll('h1, h2, h3, h4, h5, h6')]
                .map(h => [Number(h.tagName[1]), h.textContent.trim().slice(0, 60)]),
    links: [...document.querySelectorAll('a[href], link[href]')].map(el => el.href),
    resources: [...document.querySelectorAll('img[src], script[src], source[src]')].map(el => el.src),
    ids: [...document.querySelectorAll('[id], a[name]')].map(el => el.id || el.getAttribute('name')),
  };
}
"""

AXE_JS = """
async () => {
  const exclude = [['pre'], ['.highlight'], ['.cell_output'], ['mjx-container']];
  const context = document.querySelector('article') ? {include: [['article']], exclude} : {exclude};
  const result = await axe.run(context,
    {runOnly: {type: 'rule', values: ['color-contrast', 'image-alt']}});
  return result.violations.map(v => ({
    rule: v.id,
    nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n').slice(1).join(' '))}));
}
"""


class BrowserUnavailable(Exception):
    """No Chromium could be had; the message says why."""


@dataclass
class PageReport:
    url: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    inspection: dict = field(default_factory=dict)
    axe_violations: list[dict] = field(default_factory=list)
    layout: dict = field(default_factory=dict)


@dataclass
class Crawl:
    pages: dict[str, PageReport]
    other_statuses: dict[str, int]
    axe_checked: bool


def can_install_with_apt() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


#: The pipeline's crawl and the tests' own browser may both ask for Chromium; apt installs it once.
CHROMIUM_INSTALL = threading.Lock()


def ensure_chromium() -> None:
    """Make sure ``/usr/bin/chromium`` exists (installing it with apt); raise ``BrowserUnavailable`` if it cannot."""
    with CHROMIUM_INSTALL:
        if CHROMIUM.exists():
            return
        if not can_install_with_apt():
            raise BrowserUnavailable("/usr/bin/chromium is missing and apt-get cannot install it "
                                     "(not root, or no apt-get)")
        environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
            result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=1200)
            if result.returncode != 0:
                raise BrowserUnavailable(f"`{' '.join(command)}` failed: {result.stderr[-1500:]}")
        if not CHROMIUM.exists():
            raise BrowserUnavailable("apt-get installed chromium but /usr/bin/chromium is still missing")


@contextmanager
def chromium(show_scrollbars: bool = False) -> Iterator[object]:
    """A headless Chromium (Playwright's ``Browser``), for use in the thread that opened it; with
    ``show_scrollbars``, scrollbars are drawn as in a desktop or phone browser (headless hides them)."""
    ensure_chromium()
    from playwright.sync_api import sync_playwright

    ignored_defaults = ["--hide-scrollbars"] if show_scrollbars else []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True,
                                             ignore_default_args=ignored_defaults)
        yield browser
        browser.close()


def ensure_axe_core() -> Path | None:
    """Path of ``axe.min.js``, installed from the npm registry into ``_build/npm`` when missing."""
    script = NPM_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists() and shutil.which("npm"):
        NPM_FOLDER.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(NPM_FOLDER), "--no-audit", "--no-fund",
                        "--no-save", f"axe-core@{AXE_CORE_VERSION}"], capture_output=True, text=True, timeout=600)
    return script if script.exists() else None


def serve(folder: Path) -> tuple[str, Callable[[], None]]:
    """Serve ``folder`` on 127.0.0.1 with Python's ``http.server``, in a process apart from the test session's
    threads; return its URL and the function that stops it."""
    server = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory", str(folder)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    banner = server.stdout.readline()
    port = re.search(r" port (\d+) ", banner)
    if port is None:
        server.kill()
        raise RuntimeError(f"http.server did not say where it serves: {banner!r}")

    def stop() -> None:
        server.terminate()
        server.wait()

    return f"http://127.0.0.1:{port.group(1)}/", stop


def is_slides(path: Path) -> bool:
    """Whether ``path`` (relative to the book's folder) is in the slide decks' folder: the decks are reveal.js
    pages with a layout of their own, checked by ``test_slides_layout``; the crawl only checks that links to them
    resolve."""
    return path.parts[:1] == (SLIDES_FOLDER,)


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1"


def open_page(browser, url: str, viewport: dict, report: PageReport | None = None, **device: object):
    """A new page in its own context (``device``: Playwright's other context options), with every non-local
    request blocked (and recorded in ``report``)."""
    context = browser.new_context(viewport=viewport, **device)
    context.set_default_timeout(PAGE_TIMEOUT_MS)

    def route(route_request) -> None:
        if is_local(route_request.request.url):
            route_request.continue_()
        else:
            if report is not None:
                report.external_requests.append(route_request.request.url)
            route_request.abort()

    context.route("**/*", route)
    page = context.new_page()
    network = NetworkActivity(page)
    if report is not None:
        page.on("console", lambda message: report.console_errors.append(message.text)
                if message.type == "error" else None)
        page.on("pageerror", lambda error: report.console_errors.append(str(error)))
        page.on("requestfailed", lambda request: None if not is_local(request.url)
                else report.failed_requests.append(f"{request.url} ({request.failure})"))
        page.on("response", lambda response: report.failed_requests.append(
            f"{response.url} (HTTP {response.status})") if response.status >= 400 else None)
    page.goto(url, wait_until="load")
    network.wait_until_quiet()
    return page


class NetworkActivity:
    """A page's requests still running, and when one last started or ended, kept from the page's events.

    ``wait_until_quiet`` waits for what Playwright's ``networkidle`` means (no request for half a second).
    ``networkidle`` itself waits for Chromium's network-idle signal, which, on a loaded machine, was sometimes
    never sent although every request had finished (about one first load of the API page in five).
    """

    def __init__(self, page) -> None:
        self.page = page
        self.in_flight: set = set()
        self.last_change = time.monotonic()
        page.on("request", self._started)
        page.on("requestfinished", self._ended)
        page.on("requestfailed", self._ended)

    def _started(self, request) -> None:
        self.in_flight.add(request)
        self.last_change = time.monotonic()

    def _ended(self, request) -> None:
        self.in_flight.discard(request)
        self.last_change = time.monotonic()

    def wait_until_quiet(self) -> None:
        """Return once no request has run for ``QUIET_NETWORK_SECONDS``; raise ``TimeoutError`` naming the
        requests still running after ``PAGE_TIMEOUT_MS``."""
        deadline = time.monotonic() + PAGE_TIMEOUT_MS / 1000
        while self.in_flight or time.monotonic() - self.last_change < QUIET_NETWORK_SECONDS:
            if time.monotonic() > deadline:
                running = sorted(request.url for request in self.in_flight)
                raise TimeoutError(f"{self.page.url}: requests still running after {PAGE_TIMEOUT_MS} ms: {running}")
            self.page.wait_for_timeout(100)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def page_url(url: str) -> str:
    """``url`` without its fragment, with a trailing ``/`` read as the folder's index page."""
    address = urldefrag(url)[0]
    return address + "index.html" if address.endswith("/") else address


def inspect_page(browser, url: str, axe_script: Path | None, screenshot_name: str | None = None) -> PageReport:
    """Open ``url`` and record what the checks read, the layout at 1280 px, then axe-core's violations (with
    ``axe_script``); open it again at 1366 px and as a phone and record the layout there (see ``_layout``). With
    ``screenshot_name``, the page is photographed whole at 1366 px and as a phone into ``SCREENSHOTS``."""
    report = PageReport(url)
    try:
        page = open_page(browser, url, DESKTOP, report)
        report.inspection = page.evaluate(INSPECT_PAGE_JS)
        report.layout["laptop"] = page.evaluate(LAYOUT_JS, layout_arguments())
        if axe_script is not None:
            page.add_script_tag(path=str(axe_script))
            report.axe_violations = page.evaluate(AXE_JS)
        page.context.close()
        for size, viewport, device in (("desktop", WIDE_DESKTOP, {}), ("phone", PHONE, PHONE_DEVICE)):
            page = open_page(browser, url, viewport, None, **device)
            report.layout[size] = page.evaluate(LAYOUT_JS, layout_arguments())
            if screenshot_name is not None:
                SCREENSHOTS.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOTS / f"{screenshot_name}-{size}.png"), full_page=True)
            page.context.close()
    except Exception as error:
        raise RuntimeError(f"{url} could not be inspected: {error}\n{report}") from error
    return report


def crawl_book(html: Path, base_url: str) -> Crawl:
    """Open every HTML page of ``html`` (served at ``base_url``), and every same-host page linked from one, once;
    inspect it, then run axe-core on it (when axe-core could be installed)."""
    axe_script = ensure_axe_core()
    queue = [base_url + path.relative_to(html).as_posix() for path in sorted(html.rglob("*.html"))
             if not path.relative_to(html).parts[0].startswith("_") and not is_slides(path.relative_to(html))]
    reports: dict[str, PageReport] = {}
    other_statuses: dict[str, int] = {}
    with chromium(show_scrollbars=True) as browser:
        while queue:
            url = queue.pop(0)
            if url in reports or url in other_statuses:
                continue
            path = Path(urlparse(url).path).relative_to(urlparse(base_url).path)
            if path.suffix != ".html" or is_slides(path):
                other_statuses[url] = http_status(url)
                continue
            chapter = path.stem if path.parts[:1] == (CHAPTERS_FOLDER,) else None
            reports[url] = report = inspect_page(browser, url, axe_script, chapter)
            queue += [page_url(link) for link in report.inspection["links"] if link.startswith(base_url)]
    return Crawl(reports, other_statuses, axe_checked=axe_script is not None)


def crawl_in_own_process(html: Path, base_url: str, report_file: Path,
                         run: Callable[..., subprocess.CompletedProcess]) -> Crawl:
    """``crawl_book`` in a process of its own (Playwright's synchronous API driven from that process's main
    thread, apart from the test session's threads), through ``run`` (``subprocess.run`` or a stand-in, which
    can end it)."""
    ensure_chromium()
    completed = run([sys.executable, "-m", f"{__package__}._browser", str(html), base_url, str(report_file)],
                    cwd=Path(__file__).resolve().parents[1], text=True, timeout=CRAWL_TIMEOUT_SECONDS)
    if completed.returncode == NO_BROWSER_EXIT:
        raise BrowserUnavailable(completed.stderr.strip())
    assert completed.returncode == 0, f"the crawl failed (exit {completed.returncode}):\n{completed.stderr[-8000:]}"
    report = json.loads(report_file.read_text(encoding="utf-8"))
    return Crawl({url: PageReport(**page) for url, page in report["pages"].items()}, report["other_statuses"],
                 report["axe_checked"])


def main(argv: list[str]) -> int:
    """``python -m course._browser HTML_FOLDER BASE_URL REPORT_JSON`` (from ``tests/``): crawl the served book,
    write the report."""
    html, base_url, report_file = argv
    try:
        crawl = crawl_book(Path(html), base_url)
    except BrowserUnavailable as reason:
        sys.stderr.write(f"{reason}\n")
        return NO_BROWSER_EXIT
    Path(report_file).write_text(json.dumps(asdict(crawl)), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
