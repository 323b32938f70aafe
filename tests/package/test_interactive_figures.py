"""The slider figures of ``mlmtools.plotting.interactive``: validated input, fixed axes, a JSON grid that gives
back the curves, the same bytes on every call, and nothing loaded from elsewhere."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from bs4 import BeautifulSoup

from mlmtools.plotting.interactive import Panel, SliderFigure, slider_figure, slider_panels

X = np.arange(1.0, 11.0)
SLIDER = np.array([0.0, 0.1, 0.2, 0.3])
RISING = 1 + np.outer(SLIDER, X - 1)
FALLING = 3 - np.outer(SLIDER, np.sqrt(X))


def one_panel(**options) -> SliderFigure:
    arguments = {
        "x": X,
        "slider_values": SLIDER,
        "curves": {"rising": RISING, "falling": FALLING},
        "slider_label": "ICC",
        "x_label": "m",
        "y_label": "y",
        "description": "Two curves against m.",
    }
    return slider_figure(**(arguments | options))


def two_panels(**options) -> SliderFigure:
    panels = [
        Panel({"rising": RISING}, "DEFF"),
        Panel({"falling": FALLING}, "rate", y_limits=(-1, 4), y_reference=(0.05, "nominal 5%")),
    ]
    return slider_panels(X, SLIDER, panels, slider_label="ICC", x_label="m", description="Two panels.", **options)


def parsed(figure: SliderFigure) -> BeautifulSoup:
    return BeautifulSoup(figure.data, "html.parser")


def grid(figure: SliderFigure) -> dict:
    return json.loads(parsed(figure).find("script", type="application/json").string)


def values_from_points(points: str, scale: list[float]) -> tuple[np.ndarray, np.ndarray]:
    """Invert the pixel mapping of one polyline, with the curve's ``scale`` from the JSON grid."""
    x_low, x_high, left, right, y_low, y_high, bottom, top = scale
    pixels = np.array([[float(v) for v in pair.split(",")] for pair in points.split()])
    x = x_low + (pixels[:, 0] - left) / (right - left) * (x_high - x_low)
    y = y_low + (pixels[:, 1] - bottom) / (top - bottom) * (y_high - y_low)
    return x, y


# Input validation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"curves": {"rising": RISING[:, :-1]}}, r"'rising' has shape \(4, 9\); expected \(4, 10\)"),
        ({"curves": {"rising": RISING.T}}, r"expected \(4, 10\) \(len\(slider_values\), len\(x\)\)"),
        ({"curves": {}}, "at least one curve"),
        ({"curves": {"rising": np.where(RISING > 2, np.nan, RISING)}}, "'rising' has values that are not finite"),
        ({"x": [1.0]}, "x needs at least two values"),
        ({"slider_values": [[0.0, 0.1]]}, "both 1-D"),
        ({"x": np.append(X[:-1], np.inf)}, "x and slider_values must be finite"),
        ({"y_limits": (0, 2)}, r"do not cover the panel's values, which run from 1.* to 3.7"),
        ({"y_limits": (5, 0)}, "must be increasing"),
        ({"readouts": ["a", "b"]}, "readouts has 2 texts; expected one per slider value \\(4\\)"),
        ({"initial_value": 0.15}, "initial_value 0.15 is not one of slider_values"),
        ({"x_reference": (11.5, "beyond")}, r"x_reference 11.5 lies outside x \(1 to 10\)"),
    ],
)
def test_bad_input_is_refused_with_a_message_that_names_it(options: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        one_panel(**options)


def test_a_figure_needs_a_panel() -> None:
    with pytest.raises(ValueError, match="at least one panel"):
        slider_panels(X, SLIDER, [], slider_label="s", x_label="x", description="d")


# Fixed axes ---------------------------------------------------------------------------------------------------


def static_part(figure: SliderFigure) -> str:
    """The SVG without the polylines' points: what must not depend on the slider's position."""
    svg = str(parsed(figure).find("svg"))
    return re.sub(r' points="[^"]*"', "", svg)


@pytest.mark.parametrize("make", [one_panel, two_panels])
def test_axes_do_not_depend_on_the_slider_position(make) -> None:
    figures = [make(initial_value=value) for value in SLIDER]
    assert len({static_part(figure) for figure in figures}) == 1
    assert len({str(parsed(figure).find("polyline")["points"]) for figure in figures}) == len(SLIDER)


@pytest.mark.parametrize("make", [one_panel, two_panels])
def test_every_curve_at_every_position_stays_inside_its_plot_area(make) -> None:
    data = grid(make())
    for curve, scale in zip(data["curves"], data["scales"]):
        _, _, left, right, _, _, bottom, top = scale
        pixels = np.array([[float(v) for v in pair.split(",")] for row in curve for pair in row.split()])
        assert pixels[:, 0].min() == pytest.approx(left) and pixels[:, 0].max() == pytest.approx(right)
        assert top - 0.05 <= pixels[:, 1].min() and pixels[:, 1].max() <= bottom + 0.05


def test_default_vertical_limits_are_the_extremes_of_the_whole_grid() -> None:
    scales = grid(one_panel())["scales"]
    low, high = min(RISING.min(), FALLING.min()), max(RISING.max(), FALLING.max())
    assert [scale[4:6] for scale in scales] == [[low, high], [low, high]]
    assert grid(two_panels())["scales"][1][4:6] == [-1, 4]


def test_a_reference_line_widens_the_default_limits_to_show_it() -> None:
    figure = slider_panels(X, SLIDER, [Panel({"rising": RISING}, "y", y_reference=(0.5, "half"))],
                           slider_label="s", x_label="x", description="d")
    assert grid(figure)["scales"][0][4] == 0.5
    assert "half" in parsed(figure).find("svg").get_text()


def test_ticks_are_round_numbers_inside_the_axis() -> None:
    texts = parsed(two_panels()).find_all("text")
    y_ticks = [text.get_text() for text in texts if text.get("x") == "58"]  # right-aligned left of the y axis
    x_ticks = [text.get_text() for text in texts if text.get("text-anchor") == "middle" and text.get("y")]
    # The first panel runs from 1 to 3.7 (the grid), the second from -1 to 4 (its y_limits).
    assert y_ticks == ["1", "2", "3", "-1", "0", "1", "2", "3", "4"]
    assert x_ticks == ["2", "4", "6", "8", "10", "m"] * 2


# The JSON grid ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [one_panel, two_panels])
def test_the_json_grid_gives_back_the_computed_curves(make) -> None:
    data = grid(make())
    expected = [RISING, FALLING]
    assert len(data["curves"]) == 2
    for curve, scale, values in zip(data["curves"], data["scales"], expected):
        assert len(curve) == len(SLIDER)
        for row, points in zip(values, curve):
            x, y = values_from_points(points, scale)
            pixel_size = (scale[5] - scale[4]) / (scale[6] - scale[7])
            np.testing.assert_allclose(x, X, atol=0.05 * (X.max() - X.min()) / (scale[3] - scale[2]))
            np.testing.assert_allclose(y, row, atol=0.051 * pixel_size)


def test_the_first_drawing_and_the_readout_match_the_initial_position() -> None:
    figure = one_panel(initial_value=0.2, readouts=[f"ρ is {value:g}" for value in SLIDER])
    page = parsed(figure)
    data = grid(figure)
    assert page.find("input", type="range")["value"] == "2"
    assert page.find("input", type="range")["max"] == "3"
    assert page.find("output").get_text() == "ρ is 0.2" == data["labels"][2]
    assert [line["points"] for line in page.find_all("polyline")] == [curve[2] for curve in data["curves"]]


def test_readouts_default_to_the_formatted_slider_values() -> None:
    assert grid(one_panel(value_format="{:.2f}"))["labels"] == ["0.00", "0.10", "0.20", "0.30"]


def test_text_that_would_end_the_script_element_survives_the_round_trip() -> None:
    readouts = ["</script><b>a & b</b>", "<", ">", "&amp;"]
    figure = one_panel(readouts=readouts)
    assert figure.data.count("</script>") == 2
    assert grid(figure)["labels"] == readouts
    assert parsed(figure).find("output").get_text() == readouts[0]


# Determinism and self-containment -----------------------------------------------------------------------------


@pytest.mark.parametrize("make", [one_panel, two_panels])
def test_two_calls_give_the_same_bytes(make) -> None:
    assert make().data == make().data
    assert make()._repr_html_() == make().data


def test_different_figures_get_different_element_ids() -> None:
    ids = {parsed(figure).find("figure")["id"] for figure in (one_panel(), two_panels(), one_panel(y_label="z"))}
    assert len(ids) == 3


@pytest.mark.parametrize("make", [one_panel, two_panels])
def test_nothing_is_loaded_from_elsewhere(make) -> None:
    page = parsed(make())
    assert not page.find_all(attrs={"src": True}) and not page.find_all(attrs={"href": True})
    assert "://" not in make().data
    scripts = page.find_all("script")
    assert [script.get("type") for script in scripts] == ["application/json", None]
    assert page.find("figure")["id"] in scripts[1].string


def test_the_figure_describes_itself_for_screen_readers_and_in_plain_text() -> None:
    figure = one_panel()
    assert parsed(figure).find("svg")["aria-label"] == "Two curves against m."
    assert parsed(figure).find("svg")["role"] == "img"
    assert "<svg" not in repr(figure)


def test_labels_outside_ascii_survive_a_page_that_declares_no_encoding() -> None:
    figure = one_panel(slider_label="ICC ρ", readouts=["ρ = 0", "ρ = 0.1", "σ²", "—"], x_label="m ≥ 2")
    assert figure.data.isascii()
    page = parsed(figure)
    assert page.find("label").get_text().strip() == "ICC ρ"
    assert page.find("output").get_text() == "ρ = 0"
    assert grid(figure)["labels"] == ["ρ = 0", "ρ = 0.1", "σ²", "—"]
    assert "m ≥ 2" in page.find("svg").get_text()
