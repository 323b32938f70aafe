"""Warning and error classes raised by mlmtools.

Every warning that mlmtools emits is a subclass of :class:`MlmtoolsWarning`, so a
reader can filter all of them, or one kind, with :mod:`warnings`. They are raised
with ``stacklevel`` pointing at the caller's line, never swallowed.
"""


class MlmtoolsWarning(UserWarning):
    """Base class of every warning emitted by mlmtools."""


class SingularFitWarning(MlmtoolsWarning):
    """The fitted random-effects covariance is singular (a variance on its boundary of zero,
    or a correlation of +/-1), as lme4's ``isSingular()`` reports."""


class ConvergenceWarning(MlmtoolsWarning):
    """The optimizer stopped without meeting its convergence criteria."""


class MissingRowsWarning(MlmtoolsWarning):
    """Rows with missing values in a used column were dropped (R's ``na.omit``)."""


class NloptWarning(MlmtoolsWarning):
    """NLopt (lme4's optimizer) is missing or older than 2.8, so results will differ from R's."""


class RankDeficiencyWarning(MlmtoolsWarning):
    """The fixed-effects design is rank deficient; columns were dropped as lme4 does."""


class FormulaError(ValueError):
    """A model formula could not be parsed, or uses something outside the allowed set."""

    #: The 1-based column of the formula the error is about, when it points at one.
    column: int | None = None
