"""What every fitted mixed model shares: estimates, random effects, predictions, summaries.

:class:`MixedModelResult` is the base of :class:`~mlmtools.lmm.result.LmerResult` and
:class:`~mlmtools.glmm.result.GlmerResult`. A result is built from the model it was fitted
from (its data and names) and the read-only fit state (:mod:`mlmtools.lmm.state`); every
property reads that state.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from mlmtools._stacklevel import user_stacklevel
from mlmtools.exceptions import MlmtoolsWarning
from mlmtools.lmm.influence import cooks_distance, hat_diagonal
from mlmtools.lmm.optimizer import OptSummary
from mlmtools.lmm.re_form import RandomEffectsSelection
from mlmtools.lmm.result_api import ResultAliases
from mlmtools.lmm.state import MixedFitState
from mlmtools.rstyle.summaries import VarcorrColumns, varcorr_frame

SINGULAR_TOL = 1e-4


def _unique_names(names: Sequence[str]) -> list[str]:
    """R's ``make.unique``: repeated names get ``.1``, ``.2``, ... appended."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        if name in seen:
            seen[name] += 1
            out.append(f"{name}.{seen[name]}")
        else:
            seen[name] = 0
            out.append(name)
    return out


class MixedModelResult(ResultAliases):
    """What every fitted mixed model (``lmer``, ``glmer``) shares.

    Subclasses provide the log-likelihood (``loglik``), the residual scale (``sigma``), the
    conditional variances used by :meth:`ranef` and the residuals. Random effects are kept
    as :math:`\\hat b = \\Lambda_{\\hat\\theta}\\tilde u`, in the order of
    :mod:`mlmtools.lmm.problem`.

    Attributes
    ----------
    model
        The unfitted model the fit came from (its data, data name and argument labels).
    state : MixedFitState
        The read-only fit state every method reads.
    group_labels : tuple of str
        Each random term's printed group label (repeated grouping factors made unique as
        R's ``make.unique`` does).
    """

    #: Whether the variance components end with a residual row (linear models).
    has_residual = False

    def __init__(self, model: Any, state: MixedFitState):
        self.model = model
        self.state = state
        self.group_labels = tuple(_unique_names([t.group for t in state.problem.terms]))

    # -- basic facts -------------------------------------------------------------------
    @property
    def formula(self) -> str:
        """The model formula as written."""
        return self.state.frame.formula

    @property
    def data_name(self) -> str:
        """Name shown after ``Data:`` in printed output."""
        name: str = self.model.data_name
        return name

    @property
    def weights_label(self) -> str | None:
        """The ``weights`` argument when it named a column (printed in the summary's call)."""
        label: str | None = self.model.weights_label
        return label

    @property
    def offset_label(self) -> str | None:
        """The ``offset`` argument when it named a column (printed in the summary's call)."""
        label: str | None = self.model.offset_label
        return label

    @property
    def optinfo(self) -> OptSummary:
        """The optimizer summary (start, optimum, evaluations, convergence messages)."""
        return self.state.optinfo

    @property
    def sigma(self) -> float:
        """The residual standard deviation (defined by each subclass)."""
        raise NotImplementedError

    @property
    def theta(self) -> np.ndarray:
        """Relative covariance parameters at the optimum (lme4's ``getME(m, "theta")``)."""
        return self.state.optinfo.final.copy()

    @property
    def fixef(self) -> pd.Series:
        """Fixed-effects estimates :math:`\\hat\\beta`, named as R names them."""
        return pd.Series(self.state.beta, index=list(self.state.fixed_names), name="fixef")

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return self.state.problem.n

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor (lme4's ``ngrps``), in term order."""
        out: dict[str, int] = {}
        for t in self.state.problem.terms:
            out.setdefault(t.group, t.n_levels)
        return out

    @property
    def converged(self) -> bool:
        """Whether the optimizer and the gradient check reported convergence."""
        return self.state.optinfo.converged

    @property
    def is_singular(self) -> bool:
        """lme4's ``isSingular(tol = 1e-4)``: a template diagonal below ``1e-4``.

        The diagonal elements of :math:`T_i` have lower bound 0, so the test is
        relative to that bound, not to the scale of the data.
        """
        on_diagonal = self.state.optinfo.lower == 0
        return bool(np.any(self.state.optinfo.final[on_diagonal] < SINGULAR_TOL))

    @property
    def npar(self) -> int:
        """Number of estimated parameters (lme4's ``attr(logLik(m), "df")``)."""
        raise NotImplementedError

    @property
    def loglik(self) -> float:
        """The log-likelihood at the optimum (defined by each subclass)."""
        raise NotImplementedError

    @property
    def aic(self) -> float:
        """:math:`-2\\ell + 2\\,\\mathrm{npar}`."""
        return -2.0 * self.loglik + 2.0 * self.npar

    @property
    def bic(self) -> float:
        """:math:`-2\\ell + \\log(n)\\,\\mathrm{npar}`."""
        return -2.0 * self.loglik + math.log(self.nobs) * self.npar

    # -- random effects ----------------------------------------------------------------
    def _conditional_variances(self) -> list[np.ndarray]:
        raise NotImplementedError

    def _term_groups(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for i, t in enumerate(self.state.problem.terms):
            groups.setdefault(t.group, []).append(i)
        return groups

    def ranef(self, cond_var: bool = False) -> dict[str, pd.DataFrame]:
        """Conditional modes of the random effects, one table per grouping factor.

        .. math::
            \\hat b = \\Lambda_{\\hat\\theta}\\,\\tilde u, \\qquad
            \\operatorname{Var}(b_j \\mid y) = \\sigma^2\\, T\\, [A^{-1}]_{jj}\\, T^\\top,
            \\qquad A = \\Lambda^\\top Z^\\top W Z \\Lambda + I,

        for level :math:`j`, with :math:`T` the term's block of :math:`\\Lambda` and :math:`W`
        the prior weights (for glmer fits the working weights, and :math:`\\sigma^2 = 1`),
        as lme4's ``condVar``.

        Parameters
        ----------
        cond_var : bool
            Also compute the conditional covariance of each level's effects (lme4's
            ``condVar = TRUE``) and attach it to each table as ``attrs["cond_var"]``.

        Returns
        -------
        dict of str to pandas.DataFrame
            ``group -> DataFrame`` with the levels as index and the term's columns, the same
            tables whatever ``cond_var`` is.  With ``cond_var=True`` each table's
            ``attrs["cond_var"]`` holds an array of shape ``(n_levels, k, k)`` ordered like
            the table's rows and columns (R's ``attr(, "postVar")``, with the levels first).
            pandas carries ``attrs`` along but does not reorder it, so read the array before
            sorting or filtering the table.  When several terms share a grouping factor
            (``||``), their columns are joined as lme4 does; the covariance between separate
            terms is not computed by lme4 either, and is NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> modes = fit.ranef(cond_var=True)["Subject"]
        >>> list(modes.columns), modes.index[0], modes.loc["308"].round(2).tolist()
        (['(Intercept)', 'Days'], '308', [2.26, 9.2])
        >>> modes.attrs["cond_var"].shape
        (18, 2, 2)
        >>> conditional_sd = np.sqrt(np.diagonal(modes.attrs["cond_var"], axis1=1, axis2=2))
        >>> conditional_sd[0].round(2).tolist()
        [12.07, 2.3]
        """
        variances = self._conditional_variances() if cond_var else None
        out: dict[str, pd.DataFrame] = {}
        for group, indices in self._term_groups().items():
            terms = [self.state.problem.terms[i] for i in indices]
            frames = []
            for t in terms:
                values = self.state.b[t.b_slice].reshape(t.n_levels, t.k)
                frames.append(pd.DataFrame(values, index=pd.Index(t.levels, name=group),
                                           columns=list(t.columns)))
            modes = pd.concat(frames, axis=1) if len(frames) > 1 else frames[0]
            if variances is not None:
                k_total = modes.shape[1]
                cov = np.full((modes.shape[0], k_total, k_total), np.nan)
                start = 0
                for i, t in zip(indices, terms):
                    cov[:, start:start + t.k, start:start + t.k] = variances[i]
                    start += t.k
                modes.attrs["cond_var"] = cov
            out[group] = modes
        return out

    # -- leverage ----------------------------------------------------------------------
    def _leverage_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """The weights of the penalized system and the prior weights (each subclass)."""
        raise NotImplementedError

    def hatvalues(self) -> pd.Series:
        """The diagonal of the hat matrix :math:`W_p^{1/2} A M^{-1} A^\\top W_p^{1/2}`, as lme4's
        ``hatvalues`` (:mod:`mlmtools.lmm.influence`).

        Warns
        -----
        MlmtoolsWarning
            For a GLMM, as lme4 warns: the hat matrix may not make sense there.

        Examples
        --------
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmm import lmer
        >>> fit = lmer("Reaction ~ Days + (Days | Subject)", sleepstudy())
        >>> fit.hatvalues().round(4).head(2).tolist()
        [0.2293, 0.1697]
        """
        if not self.has_residual:
            warnings.warn("the hat matrix may not make sense for GLMMs", MlmtoolsWarning,
                          stacklevel=user_stacklevel())
        system_weights, prior_weights = self._leverage_weights()
        values = hat_diagonal(self.state.problem, self.theta, np.asarray(self.state.frame.X, dtype=float),
                              system_weights, prior_weights)
        return pd.Series(values, index=self.state.frame.row_index, name="hatvalues")

    def cooks_distance(self) -> pd.Series:
        """Cook's distances :math:`(r_i/(1-h_{ii}))^2\\,h_{ii}/(\\hat\\sigma^2 p)` from the Pearson
        residuals and :meth:`hatvalues`, as lme4's ``cooks.distance``."""
        hat = self.hatvalues().to_numpy()
        values = cooks_distance(self._residual_values("pearson"), hat, self.sigma, len(self.state.beta))
        return pd.Series(values, index=self.state.frame.row_index, name="cooks_distance")

    def coef(self) -> dict[str, pd.DataFrame]:
        """Per-level coefficients: fixed effects plus the level's random effects.

        As R's ``coef.merMod``: columns are the fixed effects (in their order) followed by
        random-only columns (fixed part 0); each random column adds its conditional mode.
        """
        fixef = self.fixef
        out = {}
        for group, modes in self.ranef().items():
            table = pd.DataFrame(np.tile(fixef.to_numpy(), (len(modes), 1)),
                                 index=modes.index, columns=list(fixef.index))
            for col in modes.columns:
                if col not in table.columns:
                    table[col] = 0.0
                table[col] = table[col] + modes[col].to_numpy()
            out[group] = table
        return out

    @staticmethod
    def _include_random(re_form: str | None) -> bool:
        """Whether ``re_form`` asks for the random effects (None) or the population level ("~0", "NA")."""
        if re_form not in (None, "~0", "~ 0", "NA"):
            raise ValueError(f"re_form must be None (all random effects) or '~0'/'NA' (none), "
                             f"got {re_form!r}")
        return re_form is None

    def _new_fixed_design(self, newdata: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """:math:`X_{new}` and the sum of the formula's offsets (None without) for new rows;
        lme4 ignores an ``offset=`` argument with new data."""
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        return self.state.frame.fixed_matrix(newdata), self.state.frame.formula_offset(newdata)

    def _new_linear_predictor(self, newdata: pd.DataFrame, include_random: bool | RandomEffectsSelection,
                              allow_new_levels: bool) -> np.ndarray:
        """:math:`X_{new}\\hat\\beta + o_{new} + Z_{new}\\hat b` for new rows (``o_{new}``: offsets
        written in the formula)."""
        X, formula_offset = self._new_fixed_design(newdata)
        eta: np.ndarray = X @ self.state.beta
        if formula_offset is not None:
            eta = eta + formula_offset
        if include_random:
            selection = include_random if isinstance(include_random, RandomEffectsSelection) else None
            eta = eta + self._random_part(newdata, allow_new_levels, selection)
        return eta

    def _random_part(self, newdata: pd.DataFrame, allow_new_levels: bool,
                     selection: RandomEffectsSelection | None = None) -> np.ndarray:
        """:math:`Z_{new}\\hat b` (only the random effects in ``selection`` when given), with unseen
        levels contributing 0 when allowed."""
        total = np.zeros(len(newdata))
        matrices = self.state.frame.random_matrices(newdata)
        for i, (t, (codes, Xi)) in enumerate(zip(self.state.problem.terms, matrices)):
            if selection is not None and not selection.columns[i].any():
                continue
            unseen = codes < 0
            if unseen.any() and not allow_new_levels:
                raise ValueError(
                    f"newdata has levels of {t.group!r} not seen when fitting (rows "
                    f"{list(newdata.index[unseen][:5])}); pass allow_new_levels=True to predict "
                    "them at the population level")
            effects = self.state.b[t.b_slice].reshape(t.n_levels, t.k)
            if selection is not None:
                effects = selection.masked(effects, i)
            contribution = np.einsum("ij,ij->i", Xi, effects[np.where(unseen, 0, codes)])
            total += np.where(unseen, 0.0, contribution)
        return total

    # -- variance components -----------------------------------------------------------
    def _term_covariances(self) -> list[tuple[str, Any, np.ndarray, np.ndarray]]:
        """Per term: its printed label, layout, covariance :math:`\\hat\\sigma^2 TT^\\top` and
        correlation matrix (NaN where a standard deviation is 0)."""
        out = []
        sigma = self.sigma
        for label, t in zip(self.group_labels, self.state.problem.terms):
            T = t.template(self.theta)
            cov = sigma**2 * T @ T.T
            sd = np.sqrt(np.diag(cov))
            with np.errstate(invalid="ignore", divide="ignore"):
                corr = np.where(np.outer(sd, sd) > 0, cov / np.outer(sd, sd), np.nan)
            out.append((label, t, cov, corr))
        return out

    def _varcorr_columns(self) -> VarcorrColumns:
        """The columns of :meth:`varcorr` as plain sequences."""
        rows = []
        for label, t, cov, corr in self._term_covariances():
            sd = np.sqrt(np.diag(cov))
            for a in range(t.k):
                rows.append((label, t.columns[a], None, cov[a, a], sd[a]))
            for a in range(t.k):
                for c in range(a + 1, t.k):
                    rows.append((label, t.columns[a], t.columns[c], cov[c, a], corr[c, a]))
        if self.has_residual:
            rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        grp, var1, var2, vcov, sdcor = zip(*rows)
        return VarcorrColumns(grp, var1, var2, np.array(vcov, dtype=float), np.array(sdcor, dtype=float))

    def varcorr(self) -> pd.DataFrame:
        """Variance components as R's ``as.data.frame(VarCorr(m))``.

        For each term :math:`\\Sigma_i = \\hat\\sigma^2 T_i T_i^\\top` (:math:`\\sigma = 1` for
        binomial and Poisson models): first the variances (``sdcor`` the standard
        deviations), then the covariances in R's lower-triangle, column-major order
        (``sdcor`` the correlations), then, for linear models, the residual row.
        ``var2`` is None where R has NA.
        """
        return varcorr_frame(self._varcorr_columns())

    # -- summaries ---------------------------------------------------------------------
    def _residual_values(self, type: str, scaled: bool = False) -> np.ndarray:
        """The residuals of the given type as an array (each subclass)."""
        raise NotImplementedError

    def _summary_fields(self, coefficients: pd.DataFrame, notes: Sequence[str] = ()) -> dict[str, Any]:
        """The fields every mixed-model summary shows (lme4's ``summary.merMod``), computed
        from the state: likelihood, scaled Pearson residuals, variance components,
        correlation of the fixed effects and the notes (singular fit, convergence, then
        ``notes``)."""
        vcov = self.state.vcov
        sd = np.sqrt(np.diag(vcov))
        loglik = self.loglik
        messages = []
        if self.is_singular:
            messages.append("boundary (singular) fit: see help('isSingular')")
        if not self.converged:
            messages.extend(m for m in self.state.optinfo.messages if m.startswith("Model failed"))
        messages.extend(notes)
        extras = []
        if self.weights_label:
            extras.append(("Weights:", self.weights_label))
        if self.offset_label:
            extras.append((" Offset:", self.offset_label))
        return dict(
            formula=self.formula,
            data_name=self.data_name,
            call_extras=extras,
            likelihood_values={"AIC": self.aic, "BIC": self.bic, "logLik": loglik, "-2*log(L)": -2 * loglik,
                               "df.resid": float(self.df_resid)},
            residual_quantiles=np.quantile(self._residual_values("pearson", scaled=True),
                                           [0, 0.25, 0.5, 0.75, 1]),
            varcorr_columns=self._varcorr_columns(),
            term_columns=[(label, t.columns) for label, t in zip(self.group_labels, self.state.problem.terms)],
            ngroups=self.ngroups,
            nobs=self.nobs,
            coefficients=coefficients,
            correlation_values=vcov / np.outer(sd, sd),
            messages=messages,
            optimizer=self.state.optinfo.optimizer,
            code=self.state.optinfo.code,
        )

    @property
    def df_resid(self) -> int:
        """``nobs - npar`` (lme4's ``df.residual``)."""
        return self.nobs - self.npar

    # -- what each subclass computes (lme4's generics) -----------------------------------
    @property
    def deviance(self) -> float:
        """lme4's ``deviance()`` (see each subclass)."""
        raise NotImplementedError

    def vcov(self) -> pd.DataFrame:
        """Covariance of the fixed effects."""
        raise NotImplementedError

    def coef_table(self, ddf: str = "none") -> pd.DataFrame:
        """The fixed-effects table, p-values last."""
        raise NotImplementedError

    def fitted(self) -> pd.Series:
        """Fitted values (conditional means)."""
        raise NotImplementedError

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals of a given type."""
        raise NotImplementedError

    def predict(self, newdata: pd.DataFrame | None = None, *, re_form: str | None = None, se_fit: bool = False,
                interval: str | None = None, level: float = 0.95,
                allow_new_levels: bool = False) -> pd.Series | pd.DataFrame:
        """Predictions (see each subclass)."""
        raise NotImplementedError

    def confint(self, *, method: str = "profile", level: float = 0.95) -> pd.DataFrame:
        """Confidence intervals of all parameters (see each subclass)."""
        raise NotImplementedError

    def summary(self) -> Any:
        """The model's summary (each subclass)."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        html: str = self.summary()._repr_html_()
        return html
