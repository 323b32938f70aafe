"""Crossed random effects at scale: mlmtools against mixedlm, statsmodels and lme4 / lmerTest in one run.

Tasks (issue 17), each a REML fit, then the same fit followed by lmerTest's summary (Satterthwaite's df for
every coefficient) where the tool has it:

1. InstEval, ``y ~ service + (1 | s) + (1 | d) + (1 | dept)``: 73,421 ratings, 2,972 students x 1,128
   lecturers x 14 departments (``tests/fixtures/data_insteval.csv.gz``);
2. two crossed factors of 2,000 and 1,200 levels observed on 20,000 random pairs, ``y ~ x + (1 | a) + (1 | b)``.

lme4 (fit) and lmerTest (fit + summary) are timed by ``Rscript`` in the same run when R has them (inside R,
so R's start-up is not counted; one repeat, they take tens of seconds); otherwise, and with
``BENCH_QUICK=1``, the table shows their figures stored in ``r_stored.json`` with the date and machine they
were measured on (``python benchmarks/bench_crossed.py --store-r`` measures and stores them again).
statsmodels' MixedLM needs crossed factors as variance components of one group holding every row, and works
with that group's dense matrices (73,421 x 4,114 for InstEval): it is not run here (at 400 x 400 levels and
4,000 rows it takes 8 s and grows faster than the square of the levels; ``bench_scaling.py`` has its curve).
Every measurement runs in a fresh process after a warm-up fit of a small design (``measure.py``), and its
peak memory is the resident memory the fit adds to that process (R's the same way). Each tool's REML
criterion is printed, to show the tools fit the same model.
"""

from __future__ import annotations

import json
import sys

import numpy as np
from harness import HERE, QUICK, Timing, machine, quick_or, report, save_results
from measure import measure, r_measure

STORED = HERE / "r_stored.json"
CASES = {"InstEval": "insteval", "crossed 2,000 x 1,200": "crossed:2000:1200:20000"}
DESCRIPTIONS = {"InstEval": "`y ~ service + (1 | s) + (1 | d) + (1 | dept)`: 73,421 ratings, 2,972 students x 1,128 "
                            "lecturers x 14 departments",
                "crossed 2,000 x 1,200": "`y ~ x + (1 | a) + (1 | b)`: 2,000 x 1,200 crossed levels, 20,000 rows"}
TASKS = {"fit": "fit", "summary": "fit + Satterthwaite summary"}
PYTHON_REPEATS = {"mlmtools": 5, "mixedlm": 3}
R_TOOLS = {"fit": "lme4", "summary": "lmerTest"}


def label(case: str, task: str) -> str:
    return f"{case}: {TASKS[task]}"


def as_timing(case: str, task: str, implementation: str, record: dict) -> Timing:
    return Timing(label(case, task), implementation, tuple(np.atleast_1d(record["seconds"])), record["peak_mib"])


def criterion_of(record: dict) -> float | None:
    value = record.get("criterion")
    return float(value) if isinstance(value, (int, float)) else None


def r_timings() -> tuple[list[Timing], dict[str, float], str]:
    """lme4's and lmerTest's times, measured now (one fresh R process each) or as stored, their REML
    criteria, and a note saying which."""
    if not QUICK:
        timings, criteria, why = [], {}, ""
        for case, spec in CASES.items():
            for task, tool in R_TOOLS.items():
                record = r_measure(spec, task, 1)
                if isinstance(record, str):
                    why = record
                    break
                timings.append(as_timing(case, task, f"{tool} (R, this run)", record))
                if criterion_of(record) is not None:
                    criteria[case] = criterion_of(record)
            if why:
                break
        if not why:
            return timings, criteria, "lme4 and lmerTest timed in this run (one repeat each)"
        print(f"(R not timed: {why}; R's stored figures are shown)")
    stored = json.loads(STORED.read_text(encoding="utf-8"))
    when = stored["machine"]
    note = (f"lme4 and lmerTest: figures stored on {when['date_utc']} UTC ({when['cpu']}, {when['cores']} cores, "
            f"load average {when['load_average'][0]})")
    timings = [Timing(t["task"], f"{t['implementation']} (R, stored)", tuple(t["seconds"]), t["peak_mib"])
               for t in stored["timings"]]
    return timings, {}, note


def python_timings() -> tuple[list[Timing], dict[tuple[str, str], float]]:
    timings: list[Timing] = []
    criteria: dict[tuple[str, str], float] = {}
    for case, spec in CASES.items():
        for task in TASKS:
            for tool, repeats in PYTHON_REPEATS.items():
                record = measure(tool, spec, task, quick_or(repeats))
                if isinstance(record, str):
                    print(f"({tool}, {label(case, task)}: {record})")
                    continue
                timings.append(as_timing(case, task, tool, record))
                if criterion_of(record) is not None:
                    criteria[(case, tool)] = criterion_of(record)
    return timings, criteria


def main() -> None:
    timings, criteria = python_timings()
    r, r_criteria, note = r_timings()
    order = [t for case in CASES for task in TASKS for t in timings + r if t.task == label(case, task)]
    print(report(order))
    print("(peak MiB: the resident memory one fit adds to a fresh process; statsmodels MixedLM is not run, see the "
          "module docstring)")
    print(note)
    for case in CASES:
        values = [f"{who} {value:.10g}" for (c, who), value in criteria.items() if c == case]
        if case in r_criteria:
            values.append(f"lme4 {r_criteria[case]:.10g}")
        print(f"REML criterion, {case}: " + ", ".join(values))
    save_results("crossed", {"title": "Crossed random effects at scale", "timings": [t.as_record() for t in order],
                             "note": note, "descriptions": DESCRIPTIONS,
                             "criteria": {f"{c}: {who}": v for (c, who), v in criteria.items()}
                             | {f"{c}: lme4": v for c, v in r_criteria.items()}})


def store_r() -> None:
    """Time lme4 and lmerTest now and store their figures in ``r_stored.json`` (for machines without R)."""
    when = machine()
    records = []
    for case, spec in CASES.items():
        for task, tool in R_TOOLS.items():
            record = r_measure(spec, task, 1)
            if isinstance(record, str):
                raise SystemExit(record)
            records.append(as_timing(case, task, tool, record).as_record())
    STORED.write_text(json.dumps({"machine": when, "timings": records}, indent=1) + "\n", encoding="utf-8")
    print(f"stored {len(records)} R timings in {STORED.name}")


if __name__ == "__main__":
    if "--store-r" in sys.argv:
        store_r()
    else:
        main()
