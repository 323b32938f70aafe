"""Linear mixed models with lme4's syntax and numbers: :func:`lmer` and its result.

:func:`lmer` only glues the pipeline (lme4's ``lmer()`` does the same)::

    build_model(formula, data)          -> ModelFrame      (mlmtools.modelframe)
    make_problem(frame)                 -> LmmProblem      (mlmtools.deviance)
    optimize_theta(deviance, start)     -> OptSummary      (mlmtools.optimizer)
    LmerResult(frame, problem, summary) -> the fitted model

The parameterization (theta, Lambda, u, b) is documented once, in :mod:`mlmtools.deviance`.
Inference on the fixed effects (Satterthwaite degrees of freedom) lives in
:mod:`mlmtools.satterthwaite`, printing in :mod:`mlmtools.lmer_summary`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pandas as pd

from mlmtools._blas import single_blas_thread, suits_one_thread
from mlmtools._stacklevel import user_stacklevel
from mlmtools.deviance import (
    LmmProblem,
    TermLayout,
    PlsSolution,
    conditional_variances,
    criterion,
    deviance_function,
    make_problem,
    solve,
    start_theta,
)
from mlmtools.exceptions import ConvergenceWarning, SingularFitWarning
from mlmtools.modelframe import ModelFrame
from mlmtools.optimizer import OptSummary, gradient_check, optimize_theta
from mlmtools.varpar_derivatives import (
    ThetaDerivatives,
    analytic_available,
    profiled_derivatives,
    theta_derivatives,
)

if TYPE_CHECKING:
    from mlmtools.lmer_summary import LmerSummary
    from mlmtools.satterthwaite import VarparInformation

SINGULAR_TOL = 1e-4
DDF_METHODS = ("satterthwaite", "residual", "none")


def check_ddf(ddf: str) -> str:
    """Normalise a ``ddf`` argument (case-insensitive) or raise ValueError naming the choices."""
    if not isinstance(ddf, str) or ddf.lower() not in DDF_METHODS:
        raise ValueError(f"ddf must be one of {DDF_METHODS}, got {ddf!r}")
    return ddf.lower()


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


class VarcorrColumns(NamedTuple):
    """The columns of a variance-component table (R's ``as.data.frame(VarCorr(m))``):
    group, first and second term column (None where R has NA), variance or covariance, and
    standard deviation or correlation."""

    grp: tuple[str, ...]
    var1: tuple[str | None, ...]
    var2: tuple[str | None, ...]
    vcov: np.ndarray
    sdcor: np.ndarray


def varcorr_frame(columns: VarcorrColumns) -> pd.DataFrame:
    """The variance-component table as a DataFrame (text columns of dtype object)."""
    return pd.DataFrame({"grp": pd.Series(columns.grp, dtype=object),
                         "var1": pd.Series(columns.var1, dtype=object),
                         "var2": pd.Series(columns.var2, dtype=object),
                         "vcov": columns.vcov, "sdcor": columns.sdcor})


class MixedModelResult:
    """What every fitted mixed model (``lmer``, later ``glmer``) shares.

    Subclasses provide the log-likelihood (``loglik``) and the conditional variances used by
    :meth:`ranef`. Random effects are kept as :math:`\\hat b = \\Lambda_{\\hat\\theta}\\tilde u`,
    in the order of :mod:`mlmtools.deviance`.
    """

    def __init__(self, frame: ModelFrame, problem: LmmProblem, optinfo: OptSummary,
                 beta: np.ndarray, b: np.ndarray, data_name: str):
        self._frame = frame
        self._problem = problem
        self.optinfo = optinfo
        self._beta = np.asarray(beta, dtype=float)
        self._b = np.asarray(b, dtype=float)
        self.data_name = data_name
        self._group_labels = _unique_names([t.group for t in problem.terms])

    # -- basic facts -------------------------------------------------------------------
    @property
    def formula(self) -> str:
        """The model formula as written."""
        return self._frame.formula

    @property
    def theta(self) -> np.ndarray:
        """Relative covariance parameters at the optimum (lme4's ``getME(m, "theta")``)."""
        return self.optinfo.final.copy()

    @property
    def fixef(self) -> pd.Series:
        """Fixed-effects estimates :math:`\\hat\\beta`, named as R names them."""
        return pd.Series(self._beta, index=list(self._frame.fixed_names), name="fixef")

    @property
    def nobs(self) -> int:
        """Number of observations used."""
        return self._problem.n

    @property
    def ngroups(self) -> dict[str, int]:
        """Number of levels of each grouping factor (lme4's ``ngrps``), in term order."""
        out: dict[str, int] = {}
        for t in self._problem.terms:
            out.setdefault(t.group, t.n_levels)
        return out

    @property
    def converged(self) -> bool:
        """Whether the optimizer and the gradient check reported convergence."""
        return self.optinfo.converged

    @property
    def is_singular(self) -> bool:
        """lme4's ``isSingular(tol = 1e-4)``: a template diagonal below ``1e-4``.

        The diagonal elements of :math:`T_i` have lower bound 0, so the test is
        relative to that bound, not to the scale of the data.
        """
        on_diagonal = self.optinfo.lower == 0
        return bool(np.any(self.optinfo.final[on_diagonal] < SINGULAR_TOL))

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
        return -2.0 * self.loglik + np.log(self.nobs) * self.npar

    # -- random effects ----------------------------------------------------------------
    def _conditional_variances(self) -> list[np.ndarray]:
        raise NotImplementedError

    def _term_groups(self) -> dict[str, list[int]]:
        groups: dict[str, list[int]] = {}
        for i, t in enumerate(self._problem.terms):
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
            sorting or filtering the table.  When several terms share a grouping factor (``||``), their columns are joined as
            lme4 does; the covariance between separate terms is not computed by lme4 either,
            and is NaN.

        Examples
        --------
        >>> import numpy as np
        >>> from mlmtools.datasets import sleepstudy
        >>> from mlmtools.lmer import lmer
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
            terms = [self._problem.terms[i] for i in indices]
            frames = []
            for t in terms:
                values = self._b[t.b_slice].reshape(t.n_levels, t.k)
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

    def _new_linear_predictor(self, newdata: pd.DataFrame, include_random: bool,
                              allow_new_levels: bool) -> np.ndarray:
        """:math:`X_{new}\\hat\\beta + o_{new} + Z_{new}\\hat b` for new rows (``o_{new}``: offsets
        written in the formula; lme4 ignores an ``offset=`` argument with new data)."""
        if not isinstance(newdata, pd.DataFrame):
            raise TypeError(f"newdata must be a pandas DataFrame, got {type(newdata).__name__}")
        eta = self._frame.fixed_matrix(newdata) @ self._beta
        formula_offset = self._frame.formula_offset(newdata)
        if formula_offset is not None:
            eta = eta + formula_offset
        if include_random:
            eta = eta + self._random_part(newdata, allow_new_levels)
        return eta

    def _random_part(self, newdata: pd.DataFrame, allow_new_levels: bool) -> np.ndarray:
        """:math:`Z_{new}\\hat b`, with unseen levels contributing 0 when allowed."""
        total = np.zeros(len(newdata))
        matrices = self._frame.random_matrices(newdata)
        for t, (codes, Xi) in zip(self._problem.terms, matrices):
            unseen = codes < 0
            if unseen.any() and not allow_new_levels:
                raise ValueError(
                    f"newdata has levels of {t.group!r} not seen when fitting (rows "
                    f"{list(newdata.index[unseen][:5])}); pass allow_new_levels=True to predict "
                    "them at the population level")
            effects = self._b[t.b_slice].reshape(t.n_levels, t.k)
            contribution = np.einsum("ij,ij->i", Xi, effects[np.where(unseen, 0, codes)])
            total += np.where(unseen, 0.0, contribution)
        return total

    def _tidy(self, effects: str | Sequence[str] = ("fixed", "ran_pars"), conf_int: bool = False,
              conf_level: float = 0.95, ddf: str | None = None) -> pd.DataFrame:
        """broom.mixed's ``tidy()`` of the fit (:func:`mlmtools.tidy.tidy_mixed`)."""
        from mlmtools.tidy import tidy_mixed

        return tidy_mixed(self, effects, conf_int, conf_level, ddf)


class LmerResult(MixedModelResult):
    """A fitted linear mixed model (the counterpart of lmerTest's ``lmerModLmerTest``).

    Create with :func:`lmer`.  Estimates follow lme4; ``summary()``, ``contest`` and
    ``anova`` follow lmerTest (Satterthwaite's degrees of freedom).
    """

    def __init__(self, frame: ModelFrame, problem: LmmProblem, optinfo: OptSummary,
                 data_name: str = "data"):
        self._solution: PlsSolution = solve(problem, optinfo.final, optinfo.REML)
        self._vcov: np.ndarray | None = None
        self._exact: ThetaDerivatives | None = None
        super().__init__(frame, problem, optinfo, self._solution.beta, self._solution.b,
                         data_name)
        self._satterthwaite: dict[str, Any] = {}
        self._data: pd.DataFrame | None = None  # kept by reference for type III contrasts
        self.weights_label: str | None = None
        self.offset_label: str | None = None

    # -- likelihood --------------------------------------------------------------------
    @property
    def REML(self) -> bool:
        """Whether the model was fitted by REML."""
        return self.optinfo.REML

    @property
    def sigma(self) -> float:
        """The residual standard deviation, :math:`\\sqrt{\\mathrm{pwrss}/(n-p)}` (REML) or
        :math:`\\sqrt{\\mathrm{pwrss}/n}` (ML)."""
        return self._solution.sigma

    def devcrit(self, REML: bool) -> float:
        """lme4's ``devCrit``: the REML criterion or the ML deviance at the fitted theta
        (no refit), whichever ``REML`` asks for."""
        s = self._solution
        return criterion(self.nobs, self._problem.p, s.ldL2, s.ldRX2,
                         self._problem.log_det_w, s.pwrss, REML)

    @property
    def reml_criterion(self) -> float:
        """REML criterion at the fitted theta (``REMLcrit``)."""
        return self.devcrit(True)

    @property
    def deviance(self) -> float:
        """``-2 log L`` of the fit: the ML deviance for an ML fit; for a REML fit the REML
        criterion, as lme4's ``deviance()`` returns it (lme4 also warns there)."""
        return self.devcrit(self.REML)

    @property
    def loglik(self) -> float:
        """The log-likelihood :math:`-d/2` (the REML one for REML fits)."""
        return -0.5 * self.devcrit(self.REML)

    @property
    def npar(self) -> int:
        """:math:`p + \\mathrm{length}(\\theta) + 1` (the 1 is :math:`\\sigma`)."""
        return self._problem.p + self._problem.n_theta + 1

    @property
    def df_resid(self) -> int:
        """``nobs - npar`` (lme4's ``df.residual``)."""
        return self.nobs - self.npar

    # -- fixed effects -----------------------------------------------------------------
    def _vcov_array(self) -> np.ndarray:
        """:math:`\\hat\\sigma^2 (R_X^\\top R_X)^{-1}` as an array (computed once)."""
        if self._vcov is None:
            RX_inv = np.linalg.inv(self._solution.RX)
            self._vcov = self.sigma**2 * RX_inv @ RX_inv.T
        return self._vcov

    def vcov(self) -> pd.DataFrame:
        """Covariance of :math:`\\hat\\beta`: :math:`\\hat\\sigma^2 (R_X^\\top R_X)^{-1}`."""
        names = list(self._frame.fixed_names)
        return pd.DataFrame(self._vcov_array().copy(), index=names, columns=names)

    # -- variance components -----------------------------------------------------------
    def _term_covariances(self) -> list[tuple[str, TermLayout, np.ndarray, np.ndarray]]:
        """Per term: its printed label, layout, covariance :math:`\\hat\\sigma^2 TT^\\top` and
        correlation matrix (NaN where a standard deviation is 0)."""
        out = []
        for label, t in zip(self._group_labels, self._problem.terms):
            T = t.template(self.theta)
            cov = self.sigma**2 * T @ T.T
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
        rows.append(("Residual", None, None, self.sigma**2, self.sigma))
        grp, var1, var2, vcov, sdcor = zip(*rows)
        return VarcorrColumns(grp, var1, var2, np.array(vcov, dtype=float), np.array(sdcor, dtype=float))

    def varcorr(self) -> pd.DataFrame:
        """Variance components as R's ``as.data.frame(VarCorr(m))``.

        For each term :math:`\\Sigma_i = \\hat\\sigma^2 T_i T_i^\\top`: first the variances
        (``sdcor`` the standard deviations), then the covariances in R's lower-triangle,
        column-major order (``sdcor`` the correlations), then the residual row.
        ``var2`` is None where R has NA.
        """
        return varcorr_frame(self._varcorr_columns())

    def _conditional_variances(self) -> list[np.ndarray]:
        return conditional_variances(self._problem, self.theta, self.sigma)

    # -- fitted values, residuals, predictions -----------------------------------------
    def _linear_predictor(self, include_random: bool = True) -> np.ndarray:
        frame = self._frame
        eta = frame.X @ self._beta
        if include_random:
            eta = eta + self._problem.z_times(self._b)
        if frame.offset is not None:
            eta = eta + frame.offset
        return eta

    def fitted(self) -> pd.Series:
        """Conditional fitted values :math:`X\\hat\\beta + Z\\hat b + o`, indexed like the
        caller's kept rows."""
        return pd.Series(self._linear_predictor(), index=self._frame.row_index, name="fitted")

    def _residual_values(self, type: str = "response", scaled: bool = False) -> np.ndarray:
        """The values of :meth:`residuals` as an array."""
        if type not in ("response", "pearson"):
            raise ValueError(f"type must be 'response' or 'pearson', got {type!r}")
        res = self._frame.y - self._linear_predictor()
        if type == "pearson" and self._frame.weights is not None:
            res = res * np.sqrt(self._frame.weights)
        if scaled:
            res = res / self.sigma
        return np.asarray(res, dtype=float)

    def residuals(self, type: str = "response", scaled: bool = False) -> pd.Series:
        """Residuals :math:`y - \\hat\\mu` (``"response"``) or
        :math:`\\sqrt{w}(y - \\hat\\mu)` (``"pearson"``), divided by :math:`\\hat\\sigma` when
        ``scaled`` (lme4's ``residuals(m, type, scaled)``)."""
        return pd.Series(self._residual_values(type, scaled), index=self._frame.row_index,
                         name="residuals")

    def predict(self, newdata: pd.DataFrame | None = None, re_form: str | None = None,
                allow_new_levels: bool = False) -> pd.Series:
        """Predictions, as lme4's ``predict.merMod``.

        .. math:: \\hat y = X_{new}\\hat\\beta + o + Z_{new}\\hat b

        Parameters
        ----------
        newdata : DataFrame, optional
            Rows to predict; the fitted rows when None.
        re_form : {None, "~0", "NA"}
            None: include all random effects; ``"~0"`` or ``"NA"``: population level.
        allow_new_levels : bool
            Levels not seen in the fit contribute 0 when True; otherwise they raise
            ValueError.
        """
        include_random = self._include_random(re_form)
        if newdata is None:
            values = self._linear_predictor(include_random)
            return pd.Series(values, index=self._frame.row_index, name="predicted")
        eta = self._new_linear_predictor(newdata, include_random, allow_new_levels)
        return pd.Series(eta, index=newdata.index, name="predicted")

    # -- inference ---------------------------------------------------------------------
    def _theta_derivatives(self) -> ThetaDerivatives:
        """Exact derivatives over theta at the optimum (computed once; see
        :mod:`mlmtools.varpar_derivatives`)."""
        if self._exact is None:
            self._exact = theta_derivatives(self._problem, self._solution)
        return self._exact

    def satterthwaite(self, derivatives: str | None = None) -> VarparInformation:
        """The quantities lmerTest stores at fit time (computed once per ``derivatives``
        choice, then cached; see :mod:`mlmtools.satterthwaite`).

        Warns
        -----
        ConvergenceWarning
            Once, when first computed, if lmerTest would warn that the Hessian of the
            variance parameters has negative or near-zero eigenvalues (the messages are
            also shown by :meth:`summary`).
        """
        from mlmtools.satterthwaite import check_derivatives, varpar_information

        derivatives = check_derivatives(derivatives)
        if derivatives not in self._satterthwaite:
            with single_blas_thread(suits_one_thread(self._problem)):
                info = varpar_information(self, derivatives)
            self._satterthwaite[derivatives] = info
            if info.messages:
                warnings.warn("; ".join(info.messages), ConvergenceWarning, stacklevel=user_stacklevel())
        return self._satterthwaite[derivatives]

    def coef_table(self, ddf: str = "satterthwaite", derivatives: str | None = None) -> pd.DataFrame:
        """Fixed-effects table: Estimate, Std. Error, [df], t value / z value, p-value.

        ``derivatives`` (``"analytic"`` or ``"numerical"``) chooses how Satterthwaite's
        derivatives are taken (:mod:`mlmtools.satterthwaite`).
        """
        from mlmtools.satterthwaite import coefficient_table

        return coefficient_table(self, check_ddf(ddf), derivatives)

    def summary(self, ddf: str = "satterthwaite", derivatives: str | None = None) -> LmerSummary:
        """lmerTest's summary (a :class:`~mlmtools.lmer_summary.LmerSummary`); see
        :meth:`coef_table` for ``derivatives``."""
        from mlmtools.lmer_summary import LmerSummary

        return LmerSummary.from_fit(self, check_ddf(ddf), derivatives)

    def confint(self, method: str = "profile", level: float = 0.95, **kwargs: Any) -> pd.DataFrame:
        """Confidence intervals, by likelihood profile unless ``method="wald"`` (as lme4's
        ``confint.merMod``); see :func:`mlmtools.confint.confint`."""
        from mlmtools.confint import confint

        return confint(self, method=method, level=level, **kwargs)

    def refit_ml(self) -> LmerResult:
        """Refit by maximum likelihood starting from this fit's theta (as lme4's
        ``refitML``); returns self for an ML fit."""
        if not self.REML:
            return self
        refit = fit_frame(self._frame, REML=False, data_name=self.data_name,
                          start=self.theta, optimizer=self.optinfo.optimizer)
        refit._data = self._data
        return refit

    def __repr__(self) -> str:
        return str(self.summary())

    def _repr_html_(self) -> str:
        return self.summary()._repr_html_()


def fit_frame(frame: ModelFrame, REML: bool = True, *, data_name: str = "data",
              start: np.ndarray | None = None, optimizer: str | None = None,
              stacklevel: int = 1) -> LmerResult:
    """Fit a linear mixed model to a prepared :class:`ModelFrame`.

    Minimises the profiled deviance :math:`d(\\theta)` (REML criterion when ``REML``)
    over :math:`\\theta \\ge \\ell`, starting from lme4's start values.
    """
    problem = make_problem(frame)
    theta0 = start_theta(problem, frame) if start is None else np.asarray(start, dtype=float)

    objective = deviance_function(problem, REML)
    with single_blas_thread(suits_one_thread(problem)):
        summary = optimize_theta(objective, theta0, problem.lower, REML=REML, optimizer=optimizer)
        fit = LmerResult(frame, problem, summary, data_name=data_name)
        exact = None
        if analytic_available(problem):
            exact = profiled_derivatives(problem, fit._solution, fit._theta_derivatives())
        message = gradient_check(objective, summary, derivatives=exact)
    if message is not None:
        summary.messages.append(message)
        summary.converged = False
    if not summary.converged:
        warnings.warn("the optimizer did not converge: " + "; ".join(summary.messages),
                      ConvergenceWarning, stacklevel=stacklevel + 1)
    if fit.is_singular:
        warnings.warn("boundary (singular) fit: see help('isSingular')", SingularFitWarning,
                      stacklevel=stacklevel + 1)
    return fit


def lmer(formula: str, data: pd.DataFrame, REML: bool = True, weights: Any = None,
         offset: Any = None, *, data_name: str = "data", start: Sequence[float] | None = None,
         optimizer: str | None = None) -> LmerResult:
    """Fit a linear mixed model with lme4's formula syntax.

    The model is :math:`y = X\\beta + Zb + o + \\varepsilon`, with
    :math:`b \\sim N(0, \\sigma^2\\Lambda_\\theta\\Lambda_\\theta^\\top)` and
    :math:`\\varepsilon \\sim N(0, \\sigma^2 W^{-1})`; :math:`\\theta` is estimated by
    minimising the profiled REML criterion (or ML deviance), then :math:`\\beta`,
    :math:`\\sigma` and the conditional modes :math:`\\hat b` follow in closed form
    (see :mod:`mlmtools.deviance`).

    Parameters
    ----------
    formula : str
        lme4 formula, e.g. ``"Reaction ~ Days + (1 + Days | Subject)"``.
    data : pandas.DataFrame
        The data.
    REML : bool
        Fit by REML (default) or maximum likelihood.
    weights, offset : str or array_like, optional
        Prior weights and offset (a column name or one value per row).
    data_name : str
        Name shown after ``Data:`` in printed output.
    start : sequence of float, optional
        Start values for theta (lme4's start values by default).
    optimizer : {"nloptwrap", "cobyqa"}, optional
        ``"nloptwrap"`` (NLopt BOBYQA with lme4's settings; default when ``nlopt`` is
        installed) or SciPy's ``"cobyqa"``.

    Returns
    -------
    LmerResult

    Warns
    -----
    SingularFitWarning
        If a template diagonal is below 1e-4 (``isSingular``).
    ConvergenceWarning
        If the optimizer or lme4's gradient check reports a problem.

    Examples
    --------
    >>> from mlmtools.datasets import sleepstudy
    >>> from mlmtools.rformat import format_number, print_named_vector
    >>> fit = lmer("Reaction ~ Days + (1 + Days | Subject)", sleepstudy())
    >>> print(print_named_vector(fit.fixef))
    (Intercept)        Days
      251.40510    10.46729
    >>> print(format_number(fit.reml_criterion))
    1743.628
    """
    if not isinstance(REML, (bool, np.bool_)):
        raise TypeError(f"REML must be True or False, got {REML!r}")
    from mlmtools.modelframe import build_model

    frame = build_model(formula, data, weights=weights, offset=offset, stacklevel=3)
    fit = fit_frame(frame, bool(REML), data_name=data_name, start=start, optimizer=optimizer,
                    stacklevel=2)
    fit._data = data
    fit.weights_label = weights if isinstance(weights, str) else None
    fit.offset_label = offset if isinstance(offset, str) else None
    return fit
