"""Scaling curves: time and peak memory of one REML fit against the number of groups and levels, for mlmtools
and each peer (mixedlm, statsmodels' MixedLM, lme4), measured in one run.

Designs (``measure.py``):

* nested, ``y ~ x + (1 | g)``: 100 to 100,000 groups of 5 rows;
* crossed, ``y ~ x + (1 | a) + (1 | b)``: 100 to 5,000 levels per factor, observed on 10 random pairs per
  level (so 1,000 to 50,000 rows).

Each point is one fresh process: a warm-up fit of a small design, then the fit, timed (the median of three
when a fit takes under a second) with the peak resident memory it adds. A tool stops before a size at which
its fit is predicted, from its last two points, to take more than a minute, and the table says so; lme4 is
left out when R is not installed (and with ``BENCH_QUICK=1``, which also uses fewer sizes and stops a tool
at 15 s). The results are
saved in ``results/scaling.json`` and drawn, log-log, in ``results/scaling.png``.
"""

from __future__ import annotations

import math
from typing import Any

from harness import QUICK, RESULTS, format_duration, save_results
from measure import ROWS_PER_GROUP, measure, r_measure

SIZES = {"nested": [100, 300, 1_000, 3_000, 10_000, 30_000, 100_000],
         "crossed": [100, 200, 500, 1_000, 2_000, 5_000]}
QUICK_SIZES = {"nested": [100, 1_000, 10_000], "crossed": [100, 300, 1_000]}
AXES = {"nested": "groups", "crossed": "levels per factor"}
TOOLS = ("mlmtools", "mixedlm", "statsmodels", "lme4")
#: Seconds above which a tool's next size is not attempted (15 in a short run).
LIMIT = 15.0 if QUICK else 60.0
#: Below this many seconds a point is the median of three fits.
REPEAT_BELOW = 1.0


def spec(design: str, size: int) -> str:
    return f"nested:{size}" if design == "nested" else f"crossed:{size}:{size}:{10 * size}"


def predicted_seconds(points: list[dict[str, Any]], size: int) -> float:
    """The time at ``size`` extrapolated from the last two points on a log-log line (slope at least 1);
    from one point, proportional to the size; 0 without points."""
    if not points:
        return 0.0
    last = points[-1]
    slope = 1.0
    if len(points) > 1:
        before = points[-2]
        slope = max(1.0, math.log(last["median"] / before["median"]) / math.log(last["size"] / before["size"]))
    return float(last["median"] * (size / last["size"]) ** slope)


def measure_point(tool: str, design: str, size: int, repeats: int) -> dict[str, Any] | str:
    if tool == "lme4":
        return r_measure(spec(design, size), "fit", repeats)
    return measure(tool, spec(design, size), "fit", repeats)


def curves(design: str, sizes: list[int]) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    for tool in TOOLS:
        if tool == "lme4" and QUICK:
            continue
        points: list[dict[str, Any]] = []
        stopped = ""
        for size in sizes:
            expected = predicted_seconds(points, size)
            if stopped or expected > LIMIT:
                stopped = stopped or f"predicted {format_duration(expected)} > {LIMIT:.0f} s"
                records.append({"design": design, "tool": tool, "size": size, "skipped": stopped})
                continue
            result = measure_point(tool, design, size, 3 if expected < REPEAT_BELOW else 1)
            if isinstance(result, str):
                stopped = result
                records.append({"design": design, "tool": tool, "size": size, "skipped": stopped})
                continue
            point = {"design": design, "tool": tool, "size": size, **result}
            points.append(point)
            records.append(point)
            print(f"  {design} {tool:<12} {size:>7} {format_duration(point['median']):>9} "
                  f"{point['peak_mib'] or 0:8.1f} MiB", flush=True)
    return records


def table(records: list[dict[str, Any]], design: str) -> str:
    """Median seconds and peak MiB per size (rows) and tool (columns)."""
    tools = [t for t in TOOLS if any(r["tool"] == t for r in records)]
    header = f"{AXES[design]:>18} {'rows':>8} " + " ".join(f"{t:>24}" for t in tools)
    lines = [f"{design}: time (peak MiB)", header]
    for size in sorted({r["size"] for r in records}):
        rows = size * ROWS_PER_GROUP if design == "nested" else 10 * size
        cells = []
        for tool in tools:
            record = next(r for r in records if r["tool"] == tool and r["size"] == size)
            cells.append("skipped" if "skipped" in record else
                         f"{format_duration(record['median'])} ({record['peak_mib'] or 0:.0f})")
        lines.append(f"{size:>18,} {rows:>8,} " + " ".join(f"{c:>24}" for c in cells))
    reasons = sorted({f"{r['tool']}: {r['skipped']}" for r in records if "skipped" in r})
    return "\n".join(lines + [f"  skipped ({reason})" for reason in reasons])


def figure(records: list[dict[str, Any]]) -> None:
    """Time and peak memory against size, log-log, one panel per design and measure."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 7.5), constrained_layout=True)
    for column, design in enumerate(SIZES):
        for tool in TOOLS:
            points = [r for r in records if r["design"] == design and r["tool"] == tool and "skipped" not in r]
            if not points:
                continue
            sizes = [p["size"] for p in points]
            axes[0, column].plot(sizes, [p["median"] for p in points], marker="o", label=tool)
            axes[1, column].plot(sizes, [max(p["peak_mib"] or 0, 0.1) for p in points], marker="o", label=tool)
        axes[0, column].set_title(f"{design}: " + ("y ~ x + (1 | g)" if design == "nested" else
                                                   "y ~ x + (1 | a) + (1 | b)"))
        axes[0, column].set_ylabel("seconds per fit")
        axes[1, column].set_ylabel("peak memory added (MiB)")
        for row in range(2):
            axes[row, column].set_xscale("log")
            axes[row, column].set_yscale("log")
            axes[row, column].set_xlabel(AXES[design])
            axes[row, column].grid(True, which="major", alpha=0.3)
        axes[0, column].legend()
    RESULTS.mkdir(exist_ok=True)
    fig.savefig(RESULTS / "scaling.png", dpi=110)
    plt.close(fig)


def main() -> None:
    sizes = QUICK_SIZES if QUICK else SIZES
    records = [r for design in sizes for r in curves(design, sizes[design])]
    for design in sizes:
        print(table([r for r in records if r["design"] == design], design))
    save_results("scaling", {"title": "Scaling with the number of groups and levels", "records": records,
                             "limit_seconds": LIMIT, "rows_per_group": ROWS_PER_GROUP})
    figure(records)
    print(f"saved {RESULTS / 'scaling.json'} and {RESULTS / 'scaling.png'}")


if __name__ == "__main__":
    main()
