"""The data sets of the course, shipped with the package.

Each function reads its CSV file from the installed package (through
:mod:`importlib.resources`, so it works from a wheel or a zip too) and returns a
new :class:`pandas.DataFrame` on every call: changing one copy never changes
what the next caller gets.

=============  =========================================================
function       data
=============  =========================================================
sleepstudy     reaction times over 10 days of sleep restriction (lme4)
prevention     risk scores of 20 schools in 5 communities (the lecture)
=============  =========================================================

New data sets go here (a CSV in ``data/`` and a function), with their licence and source.
May import: nothing from mlmtools (every layer may use the data).
"""

from __future__ import annotations

from importlib.resources import files

import pandas as pd

__all__ = ["sleepstudy", "prevention"]


def _read_packaged_csv(filename: str, dtypes: dict[str, str]) -> pd.DataFrame:
    """Read ``data/<filename>`` from this package with the given column types."""
    resource = files(__name__).joinpath("data", filename)
    with resource.open("r", encoding="utf-8") as handle:
        frame = pd.read_csv(handle, dtype=dtypes)
    return frame[list(dtypes)]


def sleepstudy() -> pd.DataFrame:
    """Reaction times in a sleep-deprivation study (180 rows, 18 subjects x 10 days).

    Columns
    -------
    Reaction : float64
        Average reaction time on the day's tests, in milliseconds.
    Days : int64
        Day of the study, 0 to 9. In lme4's description days 0 and 1 were
        adaptation and training, day 2 the baseline, and sleep restriction
        (3 hours in bed per night) began after day 2.
    Subject : str
        Subject identifier, text such as ``"308"`` (an identifier, not a number).

    Returns
    -------
    pandas.DataFrame
        A new copy on every call, in the row order of lme4's ``sleepstudy``.

    Notes
    -----
    Source: Belenky, G., Wesensten, N. J., Thorne, D. R., Thomas, M. L., Sing, H. C.,
    Redmond, D. P., Russo, M. B. and Balkin, T. J. (2003). Patterns of performance
    degradation and restoration during sleep restriction and subsequent recovery: a
    sleep dose-response study. *Journal of Sleep Research* 12, 1-12. The subset used
    here (the most restricted group, first 10 days) is the one distributed as ``sleepstudy`` with
    R's lme4 package, which carries it under the GNU General Public License, version 2
    or later; this copy of the data is redistributed under those same terms.

    Examples
    --------
    >>> df = sleepstudy()
    >>> df.shape
    (180, 3)
    >>> df.Subject.nunique()
    18
    """
    return _read_packaged_csv("sleepstudy.csv", {"Reaction": "float64", "Days": "int64", "Subject": "str"})


def prevention() -> pd.DataFrame:
    """Risk scores of 20 schools in 5 communities: the lecture's Part III example.

    A small invented teaching data set: four schools in each of five communities,
    with community means far apart (strong clustering, an ICC near 0.9).

    Columns
    -------
    community : str
        ``"Community A"`` to ``"Community E"``, four schools each.
    school : int64
        School number, 1 to 20.
    risk_score : int64
        The school's risk score.

    Returns
    -------
    pandas.DataFrame
        A new copy on every call (20 rows).

    Notes
    -----
    Made up for the R lecture this course follows; no real schools are described.

    Examples
    --------
    >>> prevention().groupby("community").risk_score.mean().tolist()
    [43.0, 31.0, 56.0, 37.0, 49.0]
    """
    return _read_packaged_csv("prevention.csv", {"community": "str", "school": "int64", "risk_score": "int64"})
