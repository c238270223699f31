"""``jarvis-evals history``: the run history as a table, and a trend chart of relevance per category.

Reads the history file the plugin appends to after every full run (default
``reports/history.jsonl``); blessed runs are marked (``*`` in the table, a ring in the chart).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evals.atomic import atomic_write_with
from evals.errors import JarvisError
from evals.history import History, HistoryRecord, categories_of, read_history
from evals.reports.charts import DPI

DEFAULT_FILE = Path("reports") / "history.jsonl"
CHART = "history_trend.png"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", type=Path, default=DEFAULT_FILE, help="history file (default: %(default)s)")
    parser.add_argument("--last", type=int, default=20, help="show the last N runs (default: %(default)s)")
    parser.add_argument(
        "--out", type=Path, default=None, help=f"folder for {CHART} (default: the history file's folder)"
    )


def table(records: tuple[HistoryRecord, ...]) -> str:
    """One row per run: when, which commit, relevance overall and per category, the gate."""
    categories = categories_of(records)
    head = ["run", "time", "relevance", "base", *categories, "gate"]
    rows = [
        [
            r.label + (" *" if r.blessed else ""),
            r.time[:16].replace("T", " "),
            f"{r.relevance:.3f}",
            f"{r.relevance_base:.3f}",
            *(f"{r.by_category[c]:.3f}" if c in r.by_category else "-" for c in categories),
            r.gate or "-",
        ]
        for r in records
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows, strict=True)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip() for line in [head, *rows]]
    return "\n".join(lines)


def render_trend(records: tuple[HistoryRecord, ...], path: Path) -> Path:
    """Draw fine-tuned relevance overall and per category against the run; blessed runs ringed."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11.0, 5.0), dpi=DPI, layout="constrained")
    ax = fig.add_subplot()
    x = list(range(len(records)))
    ax.plot(x, [r.relevance for r in records], color="black", linewidth=2.4, marker="o", label="all cases")
    for category in categories_of(records):
        points = [(i, r.by_category[category]) for i, r in enumerate(records) if category in r.by_category]
        ax.plot([p[0] for p in points], [p[1] for p in points], marker=".", linewidth=1.4, label=category)
    blessed = [i for i, r in enumerate(records) if r.blessed]
    ax.scatter(blessed, [records[i].relevance for i in blessed], s=220, facecolors="none", edgecolors="#d62728",
               linewidths=2, zorder=5, label="baseline blessed")  # fmt: skip
    failed = [i for i, r in enumerate(records) if r.gate == "failed"]
    ax.scatter(failed, [records[i].relevance for i in failed], marker="x", s=90, color="#d62728", zorder=6,
               label="gate failed")  # fmt: skip
    ax.set_xticks(x, [r.label for r in records], rotation=45, ha="right", fontsize=8)
    ax.set_ylim(-0.03, 1.03)
    ax.set_ylabel("fine-tuned relevance")
    ax.set_title(f"JARVIS relevance over the last {len(records)} runs")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8, ncols=3)
    return atomic_write_with(path, lambda tmp: fig.savefig(tmp, dpi=DPI, format="png", metadata={"Software": None}))


def run(args: argparse.Namespace) -> int:
    if args.last < 1:
        raise JarvisError(f"--last must be at least 1, got {args.last}")
    history: History = read_history(args.file)
    if not history.records:
        raise JarvisError(
            f"history {args.file} holds no run yet: every full `pytest -m jarvis` run appends one "
            "(--jarvis-history sets where)"
        )
    records = history.records[-args.last :]
    print(table(records))
    if history.skipped:
        print(f"({history.skipped} unreadable line(s) of {args.file} skipped)")
    out = (args.out or args.file.parent) / CHART
    print(f"trend chart: {render_trend(records, out)}")
    return 0
