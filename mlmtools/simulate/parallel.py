"""Running independent tasks one after the other or in parallel, through joblib.

Backends: ``"loky"`` (joblib's process pool on this machine; with ``n_jobs=1`` the tasks run
in the calling process) and ``"dask"`` (the workers of a running ``dask.distributed``
client, through joblib's dask backend). Results come back in task order, so a study whose
tasks are fixed in advance gives the same result with any number of workers and any backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = ["BACKENDS", "check_parallel", "run_tasks"]

BACKENDS = ("loky", "dask")
"""Parallel backends (through joblib)."""

Result = TypeVar("Result")


def check_parallel(n_jobs: int, backend: str) -> None:
    """Refuse an unknown backend or ``n_jobs = 0`` with a message naming the problem.

    Raises
    ------
    ValueError
        For a backend not in :data:`BACKENDS` or an ``n_jobs`` that is not a non-zero int.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, int) or n_jobs == 0:
        raise ValueError(f"n_jobs must be a non-zero integer (-1 for all cores), got {n_jobs!r}")


def _check_dask() -> None:
    try:
        from distributed import get_client
    except ImportError as error:
        raise ImportError("backend='dask' needs dask.distributed, which is not installed: "
                          "pip install mlmtools[dask]") from error
    try:
        get_client()
    except ValueError as error:
        raise ValueError("backend='dask' needs a running dask.distributed Client: create one first, "
                         "e.g. client = Client(LocalCluster(n_workers=2))") from error


def run_tasks(function: Callable[..., Result], tasks: Sequence[tuple[Any, ...]], n_jobs: int = 1,
              backend: str = "loky") -> list[Result]:
    """``[function(*task) for task in tasks]``, computed by ``n_jobs`` workers of ``backend``.

    Raises
    ------
    ValueError
        As :func:`check_parallel`, or for ``backend="dask"`` without a running client.
    ImportError
        For ``backend="dask"`` when dask.distributed is not installed.

    Examples
    --------
    >>> run_tasks(pow, [(2, 3), (3, 2)])
    [8, 9]
    """
    check_parallel(n_jobs, backend)
    if backend == "loky" and n_jobs == 1:
        return [function(*task) for task in tasks]
    import joblib

    if backend == "dask":
        _check_dask()
        with joblib.parallel_config(backend="dask"):
            results = joblib.Parallel(n_jobs=n_jobs)(joblib.delayed(function)(*task) for task in tasks)
    else:
        results = joblib.Parallel(n_jobs=n_jobs, backend="loky")(joblib.delayed(function)(*task)
                                                                  for task in tasks)
    return list(results)
