"""The course's figures: one colour-blind-safe style for every chapter.

================  ==============================================================
module            holds
================  ==============================================================
``course_style``  the palette, :func:`use_course_style`, figure and panel helpers
================  ==============================================================

Plots of fitted models (residuals, random effects, profiles) belong in new modules here;
they may read any model's public API. May import: everything below the top layer
(:mod:`mlmtools.broom` and the compatibility modules excepted).
"""

from mlmtools.plotting.course_style import (
    COLOR_CYCLE,
    COURSE_RCPARAMS,
    FIGURE_DPI,
    FIGURE_SIZE,
    OKABE_ITO,
    label_axes,
    new_figure,
    new_panels,
    save_figure,
    use_course_style,
)

__all__ = [
    "COLOR_CYCLE",
    "COURSE_RCPARAMS",
    "FIGURE_DPI",
    "FIGURE_SIZE",
    "OKABE_ITO",
    "label_axes",
    "new_figure",
    "new_panels",
    "save_figure",
    "use_course_style",
]
