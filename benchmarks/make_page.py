"""Write the book's benchmarks page, ``book/benchmarks.md``, from the results ``make bench`` saved.

``python benchmarks/make_page.py`` (run by ``benchmarks/run.py`` after the benchmarks) reads every
``benchmarks/results/*.json`` (``harness.save_results``) and writes the page with the date, machine and load
they were measured on: a summary of every task (mlmtools against its fastest peer), the crossed-design
table, the scaling curves (the figure is copied next to the page as ``book/benchmarks_scaling.png``) and
one table per other saved benchmark. The page is generated; edit this script, not the page.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

from harness import RESULTS, format_duration

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "book" / "benchmarks.md"
FIGURE = ROOT / "book" / "benchmarks_scaling.png"
TOOLS = ("mlmtools", "mixedlm", "statsmodels", "lme4")


def load() -> dict[str, dict[str, Any]]:
    return {path.stem: json.loads(path.read_text(encoding="utf-8")) for path in sorted(RESULTS.glob("*.json"))}


def describe(machine: dict[str, Any]) -> str:
    """When, on what and how loaded a result was measured."""
    load_average = ", ".join(f"{value:.2f}" for value in machine["load_average"])
    quick = " (a short run, `BENCH_QUICK=1`)" if machine.get("quick") else ""
    return f"{machine['date_utc']} UTC, load average {load_average}{quick}"


def describe_machine(machine: dict[str, Any]) -> str:
    return (f"{machine['cpu']}, {machine['cores']} cores, {machine['memory_gib']} GiB, {machine['system']}; "
            f"Python {machine['python']}, NumPy {machine['numpy']}, SciPy {machine['scipy']}, "
            f"mlmtools {machine['mlmtools']}")


def markdown_table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table; a ``|`` inside a cell (a formula's bar) is escaped."""
    def line(cells: list[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    return [line(header), "|" + "|".join(" --- " for _ in header) + "|"] + [line(row) for row in rows]


def memory(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}"


def is_ours(implementation: str) -> bool:
    return implementation.split(" (")[0] == "mlmtools"


def summary_rows(results: dict[str, dict[str, Any]]) -> list[list[str]]:
    """One row per task of every saved table: mlmtools, its fastest peer, and the ratio."""
    rows = []
    for result in results.values():
        for task in dict.fromkeys(t["task"] for t in result.get("timings", [])):
            entries = [t for t in result["timings"] if t["task"] == task]
            ours = next((t for t in entries if is_ours(t["implementation"])), None)
            peers = [t for t in entries if not is_ours(t["implementation"])]
            if ours is None or not peers:
                continue
            best = min(peers, key=lambda t: t["median"])
            rows.append([task, format_duration(ours["median"]), f"{best['implementation']} "
                         f"{format_duration(best['median'])}", f"{best['median'] / ours['median']:.2f}x"])
    return rows


def timing_table(result: dict[str, Any]) -> list[str]:
    """A saved table: every implementation's median, its ratio to mlmtools and its peak memory."""
    rows = []
    for task in dict.fromkeys(t["task"] for t in result["timings"]):
        entries = [t for t in result["timings"] if t["task"] == task]
        base = next((t["median"] for t in entries if is_ours(t["implementation"])), None)
        for entry in entries:
            ratio = f"{entry['median'] / base:.2f}x" if base else "-"
            rows.append([task, entry["implementation"], format_duration(entry["median"]), ratio,
                         memory(entry.get("peak_mib"))])
    return markdown_table(["task", "implementation", "median", "time / mlmtools", "peak MiB"], rows)


def scaling_section(result: dict[str, Any]) -> list[str]:
    records = result["records"]
    lines = ["## Scaling with groups and levels", "", f"Measured {describe(result['machine'])}.", "",
             "One REML fit per point, each in a fresh process after a warm-up fit; time (median of three fits "
             "under a second) and the peak resident memory the fit adds, in MiB. Nested: "
             f"`y ~ x + (1 | g)` with {result['rows_per_group']} rows per group; crossed: `y ~ x + (1 | a) + (1 | b)` "
             "with 10 rows per level of each factor. A tool stops before the size at which its fit is predicted "
             f"to take more than {result['limit_seconds']:.0f} s.", ""]
    if FIGURE.exists():
        lines += [f"![Time and peak memory of one fit against size, log-log]({FIGURE.name})", ""]
    for design in dict.fromkeys(r["design"] for r in records):
        chosen = [r for r in records if r["design"] == design]
        tools = [t for t in TOOLS if any(r["tool"] == t for r in chosen)]
        rows = []
        for size in sorted({r["size"] for r in chosen}):
            cells = [f"{size:,}"]
            for tool in tools:
                record = next((r for r in chosen if r["tool"] == tool and r["size"] == size), None)
                cells.append("-" if record is None else "skipped" if "skipped" in record else
                             f"{format_duration(record['median'])} ({memory(record.get('peak_mib'))} MiB)")
            rows.append(cells)
        lines += [f"**{design}**", ""] + markdown_table(["size", *tools], rows) + [""]
        skipped = sorted({f"{r['tool']} from {r['size']:,}: {r['skipped']}" for r in chosen if "skipped" in r
                          and not any(o["tool"] == r["tool"] and "skipped" in o and o["size"] < r["size"]
                                      for o in chosen)})
        if skipped:
            lines += ["Skipped: " + "; ".join(skipped) + ".", ""]
    return lines


def page(results: dict[str, dict[str, Any]]) -> str:
    dates = sorted(result["machine"]["date_utc"] for result in results.values())
    first = next(iter(results.values()))["machine"]
    lines = ["# Benchmarks", "",
             "<!-- Generated by benchmarks/make_page.py from benchmarks/results/*.json (make bench); do not edit. -->",
             "",
             f"Measured with `make bench` from {dates[0]} to {dates[-1]} UTC on {describe_machine(first)}.", "",
             "Every tool is timed in the same run on the same machine; times are medians of repeated fits, and the "
             "ratios compare tools within one run. Nothing in the test suite depends on these numbers.", "",
             "## Summary", ""]
    lines += markdown_table(["task", "mlmtools", "fastest peer", "peer / mlmtools"], summary_rows(results)) + [""]
    for name, result in results.items():
        if name == "scaling":
            continue
        lines += [f"## {result.get('title', name)}", "", f"Measured {describe(result['machine'])}.", ""]
        for key, text in result.get("descriptions", {}).items():
            lines.append(f"- {key}: {text}")
        lines += ([""] if result.get("descriptions") else []) + timing_table(result) + [""]
        if result.get("note"):
            lines += [result["note"] + ".", ""]
        if result.get("criteria"):
            lines += ["REML criteria: " + "; ".join(f"{k} {v:.10g}" for k, v in result["criteria"].items()) + ".", ""]
    if "scaling" in results:
        lines += scaling_section(results["scaling"])
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    results = load()
    if not results:
        sys.exit("no saved results: run `make bench` first")
    if (RESULTS / "scaling.png").exists():
        shutil.copyfile(RESULTS / "scaling.png", FIGURE)
    PAGE.write_text(page(results), encoding="utf-8")
    print(f"wrote {PAGE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
