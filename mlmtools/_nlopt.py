"""NLopt, the optimizer library lme4 uses: whether it is there and recent enough.

lme4's default optimizer is NLopt's BOBYQA (through nloptr); with it mlmtools stops where lme4
stops and prints R's digits.  NLopt 2.8 is the oldest release this was checked with (2.7.1,
the last release built for numpy 1, changes two of the course's printed results), so the
package requires ``nlopt>=2.8``.  Without NLopt, or with an older one, fits still run (with
SciPy's COBYQA instead, or with the old NLopt) and :func:`nlopt_available` warns, once per
calling line, that the results will differ from R's.
"""

from __future__ import annotations

import warnings

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import NloptWarning

#: The oldest NLopt whose results match R's in the course's checks.
MINIMUM_NLOPT = (2, 8)


def installed_nlopt_version() -> tuple[int, int, int] | None:
    """NLopt's version as ``(major, minor, bugfix)``, or None when it cannot be imported."""
    try:
        import nlopt
    except ImportError:
        return None
    return int(nlopt.version_major()), int(nlopt.version_minor()), int(nlopt.version_bugfix())


def nlopt_available() -> bool:
    """Whether NLopt can be used (installed, whatever its version).

    Warns
    -----
    NloptWarning
        When NLopt is missing (the caller falls back to SciPy's COBYQA) or older than
        :data:`MINIMUM_NLOPT`: in both cases the results will differ from R's.
    """
    version = installed_nlopt_version()
    if version is None:
        warnings.warn("NLopt is not installed, so mlmtools fits with SciPy's COBYQA instead of lme4's BOBYQA: "
                      "estimates agree to about 6 digits but results will differ from R's in the printed digits; "
                      "install it with pip install 'nlopt>=2.8'", NloptWarning, stacklevel=user_stacklevel())
        return False
    if version[:2] < MINIMUM_NLOPT:
        warnings.warn(f"NLopt {'.'.join(map(str, version))} is older than "
                      f"{'.'.join(map(str, MINIMUM_NLOPT))}: its BOBYQA stops at slightly different points, so "
                      "some results will differ from R's; upgrade with pip install 'nlopt>=2.8'", NloptWarning,
                      stacklevel=user_stacklevel())
    return True
