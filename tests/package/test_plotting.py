"""Tests of the course figure style (mlmtools.plotting)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_hex

from mlmtools.plotting import (
    COLOR_CYCLE,
    FIGURE_SIZE,
    OKABE_ITO,
    label_axes,
    new_figure,
    new_panels,
    save_figure,
    use_course_style,
)

# Okabe & Ito (2008), "Color Universal Design", as RGB triples out of 255.
OKABE_ITO_RGB = {
    "black": (0, 0, 0),
    "orange": (230, 159, 0),
    "sky blue": (86, 180, 233),
    "bluish green": (0, 158, 115),
    "yellow": (240, 228, 66),
    "blue": (0, 114, 178),
    "vermillion": (213, 94, 0),
    "reddish purple": (204, 121, 167),
}


@pytest.fixture(autouse=True)
def _fresh_matplotlib():
    with matplotlib.rc_context():
        matplotlib.rcdefaults()
        yield
    plt.close("all")


def test_palette_is_the_okabe_ito_set():
    expected = {name: "#%02x%02x%02x" % rgb for name, rgb in OKABE_ITO_RGB.items()}
    assert {name: hex_code.lower() for name, hex_code in OKABE_ITO.items()} == expected


def test_colour_cycle_uses_each_okabe_ito_colour_once():
    assert sorted(COLOR_CYCLE) == sorted(OKABE_ITO.values())


def test_palette_cannot_be_changed_by_a_chapter():
    with pytest.raises(TypeError):
        OKABE_ITO["blue"] = "#0000ff"  # type: ignore[index]


def test_use_course_style_sets_the_shared_look():
    use_course_style()
    params = matplotlib.rcParams
    assert not params["axes.spines.top"]
    assert not params["axes.spines.right"]
    assert tuple(params["figure.figsize"]) == FIGURE_SIZE
    assert params["font.size"] >= 11
    assert params["savefig.dpi"] == params["figure.dpi"] >= 100
    cycle = [to_hex(c) for c in params["axes.prop_cycle"].by_key()["color"]]
    assert cycle == [c.lower() for c in COLOR_CYCLE]


def test_new_lines_take_the_palette_in_cycle_order():
    use_course_style()
    fig, ax = new_figure("t", "x", "y")
    first, second = ax.plot([0, 1], [0, 1])[0], ax.plot([0, 1], [1, 0])[0]
    assert to_hex(first.get_color()) == COLOR_CYCLE[0].lower()
    assert to_hex(second.get_color()) == COLOR_CYCLE[1].lower()


def test_new_figure_sets_title_and_labels():
    use_course_style()
    fig, ax = new_figure("Scores", "First score", "Second score")
    assert ax.get_title() == "Scores"
    assert ax.get_xlabel() == "First score"
    assert ax.get_ylabel() == "Second score"
    assert tuple(fig.get_size_inches()) == pytest.approx(FIGURE_SIZE)
    assert not ax.spines["top"].get_visible()
    assert not ax.spines["right"].get_visible()


def test_new_figure_accepts_a_size():
    fig, _ = new_figure("t", "x", "y", figsize=(3.0, 2.0))
    assert tuple(fig.get_size_inches()) == pytest.approx((3.0, 2.0))


@pytest.mark.parametrize("empty_role", ["title", "xlabel", "ylabel"])
def test_empty_labels_are_refused(empty_role):
    texts = {"title": "t", "xlabel": "x", "ylabel": "y", empty_role: "  "}
    with pytest.raises(ValueError, match=empty_role):
        new_figure(**texts)


def test_new_panels_labels_the_panels_and_shares_scales():
    use_course_style()
    fig, axes = new_panels(["Left", "Right"], "x", "y", suptitle="Both")
    assert [ax.get_title() for ax in axes] == ["Left", "Right"]
    assert [ax.get_xlabel() for ax in axes] == ["x", "x"]
    assert [ax.get_ylabel() for ax in axes] == ["y", ""]
    assert fig.get_suptitle() == "Both"
    axes[0].set_ylim(-3, 7)
    assert axes[1].get_ylim() == (-3, 7)
    assert tuple(fig.get_size_inches()) == pytest.approx(FIGURE_SIZE)


def test_new_panels_with_separate_scales_label_every_vertical_axis():
    _, axes = new_panels(["A", "B", "C"], "x", "y", sharey=False)
    assert [ax.get_ylabel() for ax in axes] == ["y", "y", "y"]
    axes[0].set_ylim(-3, 7)
    assert axes[1].get_ylim() != (-3, 7)


def test_new_panels_needs_a_title():
    with pytest.raises(ValueError, match="at least one"):
        new_panels([], "x", "y")


def test_label_axes_returns_the_axes():
    _, ax = plt.subplots()
    assert label_axes(ax, "t", "x", "y") is ax


@pytest.mark.parametrize("suffix", ["svg", "png", "pdf"])
def test_saved_files_are_byte_identical_and_carry_no_date(tmp_path, suffix):
    use_course_style()
    fig, ax = new_figure("Deterministic", "x", "y")
    ax.plot([0, 1, 2], [2, 0, 1])
    first = save_figure(fig, tmp_path / f"first.{suffix}").read_bytes()
    second = save_figure(fig, tmp_path / f"second.{suffix}").read_bytes()
    assert first == second
    assert b"CreationDate" not in first
    assert b"<dc:date>" not in first
    assert matplotlib.__version__.encode() not in first


def test_save_figure_names_the_bad_suffix(tmp_path):
    fig, _ = new_figure("t", "x", "y")
    with pytest.raises(ValueError, match=r"figure\.docx"):
        save_figure(fig, tmp_path / "figure.docx")
