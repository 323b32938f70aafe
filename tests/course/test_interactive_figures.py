"""The chapters' interactive figures (issue 13.6): slider figures that work on the static book, offline.

The first tests read the figure stored in Part II's notebook: its design-effect curve is the formula, and its
approximate OLS type I error rate agrees with simulated rates (the chapter's own study among them). The browser
tests open the built book's chapter pages in Chromium with every request to another host blocked (see
``_browser``), move each ``.slider-figure``'s slider, by keyboard and by setting its value, and check that the
drawn polylines and the readout follow. Part II must have a figure; Part VI (GEE) is checked when it has one.
A screenshot of each figure goes to ``_build/screenshots/``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import nbformat
import numpy as np
import pytest
from bs4 import BeautifulSoup

from mlmtools import simulate_type1
from mlmtools.simulate.clustering import design_effect

from ._book import ROOT
from ._browser import DESKTOP, BrowserUnavailable, PageReport, chromium, open_page

SCREENSHOTS = ROOT / "_build" / "screenshots"
#: The chapters with slider figures, and whether each must have one.
CHAPTERS = {"02-clustered-data": True, "06-gee": True}


def stored_figures(chapter: str) -> list[BeautifulSoup]:
    """The slider figures among the stored outputs of ``notebooks/<chapter>.ipynb``."""
    notebook = nbformat.read(ROOT / "notebooks" / f"{chapter}.ipynb", as_version=4)
    outputs = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs]
    pages = [BeautifulSoup(output["data"]["text/html"], "html.parser") for output in outputs
             if "text/html" in output.get("data", {})]
    return [figure for page in pages for figure in page.find_all("figure", class_="slider-figure")]


def curve_values(points: str, scale: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """The data behind one polyline's ``points``, read back with the curve's ``scale`` from the JSON grid."""
    x_low, x_high, left, right, y_low, y_high, bottom, top = scale
    pixels = np.array([[float(value) for value in pair.split(",")] for pair in points.split()])
    return (x_low + (pixels[:, 0] - left) / (right - left) * (x_high - x_low),
            y_low + (pixels[:, 1] - bottom) / (top - bottom) * (y_high - y_low))


@pytest.fixture(scope="module")
def part_two_grid() -> dict:
    """Part II's figure: ICCs, cluster sizes, design effects and approximate OLS rates, read from its JSON."""
    figures = stored_figures("02-clustered-data")
    assert len(figures) == 1, f"Part II should store one slider figure, found {len(figures)}"
    data = json.loads(figures[0].find("script", type="application/json").string)
    iccs = [float(label.split(":")[0].removeprefix("ρ = ")) for label in data["labels"]]
    (deff_scale, rate_scale), (deff_curve, rate_curve) = data["scales"], data["curves"]
    sizes = curve_values(deff_curve[0], deff_scale)[0]
    return {
        "icc": np.array(iccs),
        "m": np.round(sizes),
        "deff": np.array([curve_values(row, deff_scale)[1] for row in deff_curve]),
        "rate": np.array([curve_values(row, rate_scale)[1] for row in rate_curve]),
        # Data units per pixel on each panel's vertical axis (the points carry 0.1 pixel).
        "pixel": [(scale[5] - scale[4]) / (scale[6] - scale[7]) for scale in data["scales"]],
    }


def test_part_two_figure_draws_the_design_effect(part_two_grid: dict) -> None:
    expected = design_effect(part_two_grid["m"][np.newaxis, :], part_two_grid["icc"][:, np.newaxis])
    np.testing.assert_allclose(part_two_grid["deff"], expected, atol=0.06 * part_two_grid["pixel"][0])
    assert part_two_grid["icc"].min() == 0 and part_two_grid["icc"].max() >= 0.25
    assert 30 in part_two_grid["m"] and part_two_grid["m"].max() >= 100


@pytest.mark.filterwarnings("ignore::mlmtools.exceptions.SingularFitWarning")  # the mixed model's; OLS is used
@pytest.mark.parametrize(
    ("icc", "cluster_size", "n_sims", "seed"),
    [(0.25, 30, 1000, 2026), (0.25, 30, 2000, 1), (0.25, 6, 2000, 2), (0.25, 100, 2000, 3), (0.1, 50, 2000, 4)],
    ids=["chapter study", "chapter design", "small schools", "large schools", "weaker ICC"],
)
def test_part_two_figure_rates_agree_with_simulated_ols_rates(
    part_two_grid: dict, icc: float, cluster_size: int, n_sims: int, seed: int
) -> None:
    """The figure's approximation, at grid points, against ``simulate_type1``'s OLS rate; the first case is
    the chapter's own study (1,000 replicates from seed 2026). Allowed: three Monte Carlo standard errors and
    the 0.01 by which the approximation may miss (it takes the OLS standard error as fixed)."""
    row = np.flatnonzero(np.isclose(part_two_grid["icc"], icc))[0]
    column = np.flatnonzero(part_two_grid["m"] == cluster_size)[0]
    drawn = part_two_grid["rate"][row, column]
    simulated = simulate_type1(n_sims=n_sims, n_clusters=10, cluster_size=cluster_size, sigma_u=math.sqrt(icc),
                               sigma_e=math.sqrt(1 - icc), seed=seed)
    rate = float((simulated["p_ols"] < 0.05).mean())
    allowed = 3 * math.sqrt(rate * (1 - rate) / n_sims) + 0.01
    assert abs(drawn - rate) <= allowed, f"figure {drawn:.3f}, simulation {rate:.3f} (allowed {allowed:.3f})"


def test_part_two_figure_shows_the_nominal_rate_when_there_is_no_clustering(part_two_grid: dict) -> None:
    no_icc = np.flatnonzero(part_two_grid["icc"] == 0)[0]
    np.testing.assert_allclose(part_two_grid["rate"][no_icc], 0.05, atol=0.002)


# In the browser -----------------------------------------------------------------------------------------------

READ_FIGURE_JS = """
root => ({
  id: root.id,
  value: root.querySelector('input[type=range]').value,
  readout: root.querySelector('output').textContent,
  points: [...root.querySelectorAll('polyline')].map(line => line.getAttribute('points')),
  grid: JSON.parse(root.querySelector("script[type='application/json']").textContent),
  width: root.getBoundingClientRect().width,
})
"""

SET_SLIDER_JS = """
(root, value) => {
  const slider = root.querySelector('input[type=range]');
  slider.value = String(value);
  slider.dispatchEvent(new Event('input', {bubbles: true}));
}
"""


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    try:
        with chromium() as opened:
            yield opened
    except BrowserUnavailable as reason:
        pytest.skip(f"NO BROWSER CHECK: no Chromium could be had ({reason})")


def check_drawn(state: dict) -> None:
    """The polylines and the readout show the slider's position ``state["value"]``, as the JSON grid has it."""
    k = int(state["value"])
    assert state["readout"] == state["grid"]["labels"][k]
    assert state["points"] == [curve[k] for curve in state["grid"]["curves"]]


@pytest.mark.parametrize("chapter", sorted(CHAPTERS))
def test_moving_the_slider_redraws_the_figure_offline(browser, book_url: str, chapter: str) -> None:
    report = PageReport(f"{book_url}notebooks/{chapter}.html")
    page = open_page(browser, report.url, DESKTOP, report)
    figures = page.query_selector_all(".slider-figure")
    if not figures:
        page.context.close()
        assert not CHAPTERS[chapter], f"{chapter} shows no slider figure"
        pytest.skip(f"{chapter} has no slider figure yet")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for index, figure in enumerate(figures):
        figure.scroll_into_view_if_needed()
        figure.screenshot(path=str(SCREENSHOTS / f"slider-{chapter}-{index}.png"))
        first = figure.evaluate(READ_FIGURE_JS)
        assert first["width"] > 300, f"figure {first['id']} is drawn {first['width']} px wide"
        check_drawn(first)
        last = len(first["grid"]["labels"]) - 1
        # By keyboard: Home then End takes the slider to both ends, whatever its first position.
        figure.query_selector("input[type=range]").focus()
        page.keyboard.press("Home")
        at_start = figure.evaluate(READ_FIGURE_JS)
        page.keyboard.press("End")
        at_end = figure.evaluate(READ_FIGURE_JS)
        assert (at_start["value"], at_end["value"]) == ("0", str(last))
        for state in (at_start, at_end):
            check_drawn(state)
        assert at_start["readout"] != at_end["readout"]
        # Some curves may stay put (Part VI's conditional curve does not depend on the SD); one must move.
        assert any(a != b for a, b in zip(at_start["points"], at_end["points"])), "no curve moved"
        # By setting the value, as a script or an assistive tool would.
        figure.evaluate(SET_SLIDER_JS, last // 2)
        middle = figure.evaluate(READ_FIGURE_JS)
        assert middle["value"] == str(last // 2)
        check_drawn(middle)
        assert middle["points"] != at_end["points"]
    page.context.close()
    assert not report.external_requests, f"requests to other hosts (blocked): {report.external_requests}"
    assert not report.console_errors, f"console errors: {report.console_errors}"
    assert not report.failed_requests, f"failed requests: {report.failed_requests}"


def test_every_slider_figure_of_the_book_is_exercised(book_html: Path) -> None:
    pages = sorted(path.relative_to(book_html).as_posix() for path in book_html.rglob("*.html")
                   if 'class="slider-figure"' in path.read_text(encoding="utf-8"))
    assert "notebooks/02-clustered-data.html" in pages
    untested = [page for page in pages if Path(page).stem not in CHAPTERS]
    assert not untested, f"pages with slider figures that no browser test moves: {untested} (add to CHAPTERS)"
