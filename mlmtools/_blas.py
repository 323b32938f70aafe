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
def _blas_libraries() -> tuple[Any, ...]:
    """threadpoolctl's controllers of the loaded BLAS libraries (empty without threadpoolctl)."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return ()
    return tuple(ThreadpoolController().select(user_api="blas").lib_controllers)


class _OneBlasThread(AbstractContextManager["_OneBlasThread"]):
    """Set every BLAS library to one thread on entry and restore its count on exit."""

    def __init__(self, libraries: tuple[Any, ...]):
        self.libraries = libraries
        self.saved: list[int] = []

    def __enter__(self) -> _OneBlasThread:
        self.saved = [lib.get_num_threads() for lib in self.libraries]
        for lib, count in zip(self.libraries, self.saved):
            if count != 1:
                lib.set_num_threads(1)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for lib, count in zip(self.libraries, self.saved):
            if count != 1:
                lib.set_num_threads(count)


def suits_one_thread(problem: Any) -> bool:
    """Whether every dense block of a mixed-model problem (an
    :class:`~mlmtools.lmm.problem.LmmProblem`) is small enough for one BLAS thread."""
    return len(problem.terms) == 1 or problem.q <= SMALL_DENSE_BLOCK


def single_blas_thread(enabled: bool = True) -> AbstractContextManager[object]:
    """A context in which BLAS uses one thread (a no-op when ``enabled`` is False or
    ``threadpoolctl`` is not installed)."""
    libraries = _blas_libraries() if enabled else ()
    if not libraries:
        return nullcontext()
    return _OneBlasThread(libraries)
