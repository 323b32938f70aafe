"""lme4's bounded Nelder-Mead, the optimizer of glmer's second stage, replayed step for step.

lme4 reports the best point its own Nelder-Mead (``lme4::Nelder_Mead``, after NLopt's
``nldrmd``) evaluated, a little short of the exact optimum, so the path matters: this is
that algorithm with lme4's rules for the first simplex, the moves and the stopping test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from mlmtools.lmm.optimizer import RunResult


def _close(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-13 * (abs(a) + abs(b))


def nelder_mead(objective: Callable[[np.ndarray], float], start: np.ndarray, lower: np.ndarray,
                step: np.ndarray, xtol_abs: np.ndarray, maxeval: int = 10_000
                ) -> RunResult:
    """lme4's bounded Nelder-Mead (``lme4::Nelder_Mead``, after NLopt's ``nldrmd``), step for step.

    The first simplex is ``start`` plus ``step[i]`` along each axis (pushed back inside the
    bounds).  Each round reflects the worst vertex :math:`x_h` through the centroid :math:`c`
    of the others, :math:`x_r = c + (c - x_h)`, expands (:math:`c + 2(c - x_h)`) after a new
    best value, accepts :math:`x_r` when it beats the worst value, else contracts
    (:math:`c \\mp \\tfrac12(c - x_h)`) and, if that fails too, shrinks the simplex halfway
    towards its best vertex.  Points are clipped to the bounds.  It stops when every
    coordinate of every vertex is within ``xtol_abs`` of the centroid.  Replaying lme4's exact
    path matters because lme4 reports the best point it evaluated, not the exact optimum.

    Returns
    -------
    ~mlmtools.lmm.optimizer.RunResult
        The best point evaluated and its value; ``code`` is 0, or -1 when ``maxeval``
        evaluations did not suffice.
    """
    n = len(start)
    upper = np.full(n, np.inf)
    x0 = np.asarray(start, dtype=float)
    pts = np.tile(x0[:, None], (1, n + 1))
    for i in range(n):
        size = abs(step[i])
        pts[i, i + 1] += step[i]
        if pts[i, i + 1] < lower[i]:
            pts[i, i + 1] = lower[i] if x0[i] - lower[i] > 0.1 * size else x0[i] + size
        if _close(pts[i, i + 1], x0[i]):
            raise ValueError("cannot generate a feasible Nelder-Mead simplex")
    best = _Best(x0.copy(), np.inf, 0)

    def evaluate(x: np.ndarray) -> float:
        value = float(objective(x))
        best.evals += 1
        if value < best.f:
            best.x, best.f = x.copy(), value
        if best.evals > maxeval:
            raise _EvaluationLimit
        return value

    def reflect(center: np.ndarray, scale: float, old: np.ndarray,
                centroid: np.ndarray) -> tuple[np.ndarray, bool]:
        new = np.minimum(np.maximum(center + scale * (center - old), lower), upper)
        same_as_centroid = all(_close(a, b) for a, b in zip(new, centroid))
        same_as_old = all(_close(a, b) for a, b in zip(new, old))
        return new, not (same_as_centroid or same_as_old)

    def result(message: str, ok: bool = True) -> RunResult:
        return RunResult(best.x, best.f, ok, message, 0 if ok else -1, best.evals)

    try:
        vals = np.array([evaluate(pts[:, k]) for k in range(n + 1)])
        while True:
            low, high = int(np.argmin(vals)), int(np.argmax(vals))
            f_low, f_high = vals[low], vals[high]
            centroid = (pts.sum(axis=1) - pts[:, high]) / n
            spread = np.max(np.abs(pts - centroid[:, None]), axis=1)
            if np.all((spread < xtol_abs) | (spread == 0)):
                return result("parameter values converged to within tolerance")
            reflected, ok = reflect(centroid, 1.0, pts[:, high], centroid)
            if not ok:
                return result("parameter values converged to within tolerance")
            f_reflected = evaluate(reflected)
            if f_reflected < f_low:
                expanded, ok = reflect(centroid, 2.0, pts[:, high], centroid)
                if not ok:
                    return result("parameter values converged to within tolerance")
                f_expanded = evaluate(expanded)
                if f_expanded < vals[high]:
                    pts[:, high], vals[high] = expanded, f_expanded
                else:
                    pts[:, high], vals[high] = reflected, f_reflected
                continue
            if f_reflected < f_high:
                pts[:, high], vals[high] = reflected, f_reflected
                continue
            contracted, ok = reflect(centroid, -0.5 if f_high <= f_reflected else 0.5, pts[:, high],
                                     centroid)
            if not ok:
                return result("parameter values converged to within tolerance")
            f_contracted = evaluate(contracted)
            if f_contracted < f_reflected and f_contracted < f_high:
                pts[:, high], vals[high] = contracted, f_contracted
                continue
            for k in range(n + 1):
                if k != low:
                    pts[:, k], ok = reflect(pts[:, low], -0.5, pts[:, k], centroid)
                    if not ok:
                        return result("parameter values converged to within tolerance")
            vals = np.array([evaluate(pts[:, k]) for k in range(n + 1)])
    except _EvaluationLimit:
        return result(f"failure to converge in {maxeval} evaluations", ok=False)


@dataclass
class _Best:
    """The best point evaluated so far, its value, and the number of evaluations."""

    x: np.ndarray
    f: float
    evals: int


class _EvaluationLimit(Exception):
    pass
