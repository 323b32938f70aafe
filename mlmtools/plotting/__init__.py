"""The course's figures: one colour-blind-safe style, and plots of fitted models.

=======================  ====================================================================
module                   holds
=======================  ====================================================================
``course_style``         the palette, :func:`use_course_style`, figure and panel helpers
``layout``               draw on the caller's axes or on a new figure in the course's layout
``random_effects``       caterpillar plot of the conditional modes, their normal QQ plots
``diagnostics``          residuals against fitted values, scale-location, residual QQ plot
``fitted_lines``         each group's fitted line over the data (spaghetti plot)
``profiles``             profile zeta plots (lmer)
``predictions``          marginal-effect plots with confidence bands (lmer, glmer, GEE)
``power_curves``         power of clustered designs against their size
``working_correlation``  a GEE fit's working correlation by lag, with the observed one
=======================  ====================================================================

Every model plot takes ``ax=`` (or ``axes=`` for several panels) and otherwise makes a new
figure; it returns the axes it drew on.  Colours come from the course's Okabe-Ito palette, so
the plots look the same with or without :func:`use_course_style`.

May import: everything below the top layer (:mod:`mlmtools.broom` and the compatibility
modules excepted).
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
from mlmtools.plotting.diagnostics import residual_qq_plot, residuals_fitted_plot, scale_location_plot
from mlmtools.plotting.fitted_lines import group_lines_plot
from mlmtools.plotting.power_curves import power_curve_plot
from mlmtools.plotting.predictions import prediction_plot
from mlmtools.plotting.profiles import profile_zeta_plot
from mlmtools.plotting.random_effects import caterpillar_plot, ranef_qq_plot
from mlmtools.plotting.working_correlation import working_correlation_plot

__all__ = [
    "COLOR_CYCLE",
    "COURSE_RCPARAMS",
    "FIGURE_DPI",
    "FIGURE_SIZE",
    "OKABE_ITO",
    "caterpillar_plot",
    "group_lines_plot",
    "label_axes",
    "new_figure",
    "new_panels",
    "power_curve_plot",
    "prediction_plot",
    "profile_zeta_plot",
    "ranef_qq_plot",
    "residual_qq_plot",
    "residuals_fitted_plot",
    "save_figure",
    "scale_location_plot",
    "use_course_style",
    "working_correlation_plot",
]
