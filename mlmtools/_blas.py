"""Keep the small dense linear algebra of a mixed-model fit on one BLAS thread.

Fitting a mixed model runs thousands of BLAS and LAPACK calls on small matrices.
OpenBLAS hands medium-sized ones (from about 40 x 40) to its worker threads, and on a
machine whose cores are busy the wake-up of those threads costs milliseconds per call,
far more than the arithmetic.  :func:`single_blas_thread` limits BLAS to one thread for
the duration of a ``with`` block (through ``threadpoolctl`` when it is installed; without
it the block runs unchanged).  The limit is process-wide while the block runs.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext
from functools import lru_cache
from typing import Any

#: Dense blocks up to this size are factored faster on one thread than on several.
SMALL_DENSE_BLOCK = 1000


@lru_cache(maxsize=1)
def _controller() -> Any:
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    return ThreadpoolController()


def suits_one_thread(problem: Any) -> bool:
    """Whether every dense block of a mixed-model problem (an
    :class:`~mlmtools.deviance.LmmProblem`) is small enough for one BLAS thread."""
    return len(problem.terms) == 1 or problem.q <= SMALL_DENSE_BLOCK


def single_blas_thread(enabled: bool = True) -> AbstractContextManager:
    """A context in which BLAS uses one thread (a no-op when ``enabled`` is False or
    ``threadpoolctl`` is not installed)."""
    controller = _controller() if enabled else None
    if controller is None:
        return nullcontext()
    return controller.limit(limits=1, user_api="blas")
