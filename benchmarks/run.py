"""Run every benchmark (``benchmarks/bench_*.py``), print its tables, then write the book's benchmarks page
from the results they saved (``make_page.py``): ``make bench`` (``make bench BENCH_QUICK=1`` for a short run).
``python benchmarks/run.py glmm gee`` runs only the named benchmarks (``bench_glmm.py``, ``bench_gee.py``).

A benchmark that fails is reported and the others still run; the run then ends with an error.
"""

from __future__ import annotations

import argparse
import os
import runpy
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent


def chosen_benchmarks(argv: list[str]) -> list[Path]:
    """The benchmark scripts named on the command line (all of them when none is named)."""
    available = {path.stem.removeprefix("bench_"): path for path in sorted(HERE.glob("bench_*.py"))}
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="name",
                        help=f"benchmarks to run (default: all): {', '.join(available)}")
    names = parser.parse_args(argv).names
    unknown = sorted(set(names) - set(available))
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}; choose from {', '.join(available)}")
    return [available[name] for name in names] if names else list(available.values())


def main() -> None:
    paths = chosen_benchmarks(sys.argv[1:])
    sys.argv[1:] = []  # the benchmark scripts read their own options from sys.argv
    sys.path.insert(0, str(HERE))
    start, failed = time.perf_counter(), []
    print(f"load average at the start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    for path in paths:
        print(f"\n== {path.stem} ==", flush=True)
        began = time.perf_counter()
        try:
            runpy.run_path(str(path), run_name="__main__")
        except Exception:  # a failing benchmark must not hide the others' tables
            traceback.print_exc()
            failed.append(path.stem)
        print(f"({path.stem}: {time.perf_counter() - began:.0f} s)", flush=True)
    print("\n== make_page ==", flush=True)
    runpy.run_path(str(HERE / "make_page.py"), run_name="__main__")
    print(f"\nall benchmarks: {time.perf_counter() - start:.0f} s; load average at the end: "
          f"{' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if failed:
        sys.exit(f"failed: {', '.join(failed)}")


if __name__ == "__main__":
    main()
