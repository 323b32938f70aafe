"""Load every page of the built book in headless Chromium, as a reader would, with the network cut off.

The book is served from ``_build/html`` on 127.0.0.1 and each page is opened in Debian's Chromium driven by
Playwright. Any request to another host is blocked and reported: the book must work offline. The checks:
no console errors, no failed requests, images load and carry alt text, every equation is typeset by MathJax,
every same-host link resolves (anchors included), headings nest, the search page finds results, and axe-core
finds no contrast or image-alt violations in the text of the pages. Screenshots of the home page and a
chapter at desktop and phone widths go to ``_build/screenshots/``.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urldefrag, urljoin, urlparse

import pytest
import yaml

from _book import ROOT, build_book

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
AXE_CORE_VERSION = "4.14.1"
NPM_FOLDER = ROOT / "_build" / "npm"
SCREENSHOTS = ROOT / "_build" / "screenshots"
PAGE_TIMEOUT_MS = 60_000

pytestmark = pytest.mark.book

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
    rule: v.id, nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary.split('\\n').slice(1).join(' '))}));
}
"""


@dataclass
class PageReport:
    url: str
    console_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    inspection: dict = field(default_factory=dict)


@dataclass
class Crawl:
    pages: dict[str, PageReport]
    other_statuses: dict[str, int]


def can_install_with_apt() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get") is not None


def ensure_chromium() -> str | None:
    """Return why Chromium cannot be had, or None once ``/usr/bin/chromium`` exists (installing it with apt)."""
    if CHROMIUM.exists():
        return None
    if not can_install_with_apt():
        return "/usr/bin/chromium is missing and apt-get cannot install it (not root, or no apt-get)"
    environment = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=1200)
        if result.returncode != 0:
            return f"`{' '.join(command)}` failed: {result.stderr[-1500:]}"
    return None if CHROMIUM.exists() else "apt-get installed chromium but /usr/bin/chromium is still missing"


def ensure_axe_core() -> Path | None:
    """Path of ``axe.min.js``, installed from the npm registry into ``_build/npm`` when missing."""
    script = NPM_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
    if not script.exists() and shutil.which("npm"):
        NPM_FOLDER.mkdir(parents=True, exist_ok=True)
        subprocess.run(["npm", "install", "--prefix", str(NPM_FOLDER), "--no-audit", "--no-fund",
                        "--no-save", f"axe-core@{AXE_CORE_VERSION}"], capture_output=True, text=True, timeout=600)
    return script if script.exists() else None


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def book_html() -> Path:
    return build_book()


@pytest.fixture(scope="module")
def base_url(book_html: Path) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(QuietHandler, directory=str(book_html)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    reason = ensure_chromium()
    if reason is not None:
        pytest.skip(f"NO BROWSER CHECK: no Chromium could be had ({reason})")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def is_local(url: str) -> bool:
    parsed = urlparse(url)
    return parsed.scheme in ("data", "blob", "about") or parsed.hostname == "127.0.0.1"


def open_page(browser, url: str, viewport: dict, report: PageReport | None = None):
    """A new page in its own context, with every non-local request blocked (and recorded in ``report``)."""
    context = browser.new_context(viewport=viewport)
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
    if report is not None:
        page.on("console", lambda message: report.console_errors.append(message.text)
                if message.type == "error" else None)
        page.on("pageerror", lambda error: report.console_errors.append(str(error)))
        page.on("requestfailed", lambda request: None if not is_local(request.url)
                else report.failed_requests.append(f"{request.url} ({request.failure})"))
        page.on("response", lambda response: report.failed_requests.append(
            f"{response.url} (HTTP {response.status})") if response.status >= 400 else None)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return page


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


@pytest.fixture(scope="module")
def crawl(book_html: Path, base_url: str, browser) -> Crawl:
    """Open every HTML page of the build, and every same-host page linked from one, once."""
    queue = [base_url + path.relative_to(book_html).as_posix() for path in sorted(book_html.rglob("*.html"))
             if not path.relative_to(book_html).parts[0].startswith("_")]
    reports: dict[str, PageReport] = {}
    other_statuses: dict[str, int] = {}
    while queue:
        url = queue.pop(0)
        if url in reports or url in other_statuses:
            continue
        if not urlparse(url).path.endswith(".html"):
            other_statuses[url] = http_status(url)
            continue
        report = PageReport(url)
        page = open_page(browser, url, DESKTOP, report)
        report.inspection = page.evaluate(INSPECT_PAGE_JS)
        page.context.close()
        reports[url] = report
        queue += [page_url(link) for link in report.inspection["links"] if link.startswith(base_url)]
    return Crawl(reports, other_statuses)


def describe(problems: dict[str, list]) -> str:
    return "\n".join(f"{url}: {items}" for url, items in problems.items() if items)


def test_every_chapter_in_the_toc_is_crawled(crawl: Crawl, base_url: str) -> None:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [toc["root"]]
    for part in toc.get("parts", []):
        files += [chapter["file"] for chapter in part.get("chapters", [])]
    missing = [name for name in files if f"{base_url}{name}.html" not in crawl.pages]
    assert not missing, f"toc pages not served or not reached: {missing}"


def test_no_console_errors(crawl: Crawl) -> None:
    problems = {url: report.console_errors for url, report in crawl.pages.items()}
    assert not any(problems.values()), "console errors:\n" + describe(problems)


def test_book_works_offline(crawl: Crawl) -> None:
    problems = {url: sorted(set(report.external_requests)) for url, report in crawl.pages.items()}
    assert not any(problems.values()), "pages request other hosts (blocked):\n" + describe(problems)


def test_no_failed_requests(crawl: Crawl) -> None:
    problems = {url: report.failed_requests for url, report in crawl.pages.items()}
    assert not any(problems.values()), "failed requests:\n" + describe(problems)


def test_images_load_and_have_alt_text(crawl: Crawl) -> None:
    broken = {url: [image["src"] for image in report.inspection["images"] if image["width"] == 0]
              for url, report in crawl.pages.items()}
    no_alt = {url: [image["src"][:120] for image in report.inspection["images"] if not (image["alt"] or "").strip()]
              for url, report in crawl.pages.items()}
    assert not any(broken.values()), "images that did not load:\n" + describe(broken)
    assert not any(no_alt.values()), "images without alt text:\n" + describe(no_alt)


def test_chapters_show_their_figures(crawl: Crawl, base_url: str) -> None:
    chapters = [url for url in crawl.pages if url.startswith(base_url + "notebooks/")]
    assert chapters, "no chapter page was crawled"
    assert all(crawl.pages[url].inspection["images"] for url in chapters), "a chapter page shows no figure"


def test_math_is_typeset(crawl: Crawl) -> None:
    with_math = {url: report.inspection for url, report in crawl.pages.items() if report.inspection["mathCount"]}
    assert with_math, "no page has math, so the MathJax check checks nothing"
    untypeset = {url: page["untypesetMath"] for url, page in with_math.items()}
    assert not any(untypeset.values()), "math left untypeset:\n" + describe(untypeset)
    assert all(page["mjxCount"] >= page["mathCount"] for page in with_math.values())
    raw = {url: [marker for marker in ("$$", "\\[", "\\(", "\\begin{") if marker in report.inspection["prose"]]
           for url, report in crawl.pages.items()}
    assert not any(raw.values()), "raw TeX left in the text:\n" + describe(raw)


def test_internal_links_resolve(crawl: Crawl, base_url: str) -> None:
    statuses = {url: 200 for url in crawl.pages} | crawl.other_statuses
    not_found = sorted(url for url, status in statuses.items() if status >= 400)
    assert not not_found, f"same-host links that fail: {not_found}"
    assert all(report.inspection["ids"] for report in crawl.pages.values())
    missing_anchors = {}
    for url, report in crawl.pages.items():
        for link in report.inspection["links"]:
            target, fragment = urldefrag(link)
            target = page_url(target)
            if fragment and target in crawl.pages:
                if fragment not in crawl.pages[target].inspection["ids"]:
                    missing_anchors.setdefault(url, []).append(link)
    assert not missing_anchors, "links to anchors that do not exist:\n" + describe(missing_anchors)


def test_headings_nest(crawl: Crawl) -> None:
    jumps = {}
    for url, report in crawl.pages.items():
        levels = [level for level, _ in report.inspection["headings"]]
        for (previous, _), (level, text) in zip(report.inspection["headings"], report.inspection["headings"][1:]):
            if level > previous + 1:
                jumps.setdefault(url, []).append(f"h{previous} -> h{level} at {text!r}")
        if levels and levels[0] != 1 and not url.endswith(("search.html", "genindex.html")):
            jumps.setdefault(url, []).append(f"the page starts at h{levels[0]}")
    assert not jumps, "headings skip levels:\n" + describe(jumps)


def test_search_finds_clusters(browser, base_url: str, book_html: Path) -> None:
    page = open_page(browser, base_url + "search.html?q=cluster", DESKTOP)
    page.wait_for_selector("#search-results ul.search li", timeout=PAGE_TIMEOUT_MS)
    results = page.eval_on_selector_all("#search-results ul.search li a", "links => links.map(a => a.href)")
    page.context.close()
    assert any("/notebooks/" in link for link in results), f"search for 'cluster' found no chapter: {results}"


def test_screenshots_at_desktop_and_phone_width(browser, base_url: str, crawl: Crawl) -> None:
    chapter = sorted(url for url in crawl.pages if url.startswith(base_url + "notebooks/"))[0]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    overflowing = []
    for name, url in (("intro", base_url + "book/intro.html"), ("chapter", chapter)):
        for width_name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page = open_page(browser, url, viewport)
            path = SCREENSHOTS / f"{name}-{width_name}.png"
            page.screenshot(path=str(path))
            if page.evaluate("() => document.documentElement.scrollWidth > window.innerWidth + 1"):
                overflowing.append(f"{name} at {width_name} width")
            page.context.close()
            assert path.stat().st_size > 10_000, f"{path.name} looks empty"
    assert not overflowing, f"pages scroll sideways: {overflowing}"


def test_axe_finds_no_contrast_or_alt_problems(browser, crawl: Crawl) -> None:
    axe_script = ensure_axe_core()
    if axe_script is None:
        pytest.skip("NO AXE CHECK: axe-core could not be installed from the npm registry (is npm on PATH?)")
    violations = {}
    for url in crawl.pages:
        page = open_page(browser, url, DESKTOP)
        page.add_script_tag(path=str(axe_script))
        found = page.evaluate(AXE_JS)
        page.context.close()
        if found:
            violations[url] = found
    assert not violations, "axe-core violations:\n" + describe(violations)
