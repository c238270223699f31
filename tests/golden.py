"""Renders of saved results files, kept as bytes so a restructuring can prove it changed no report.

``python tests/golden.py`` writes them next to each source file (``<stem>.<render>``); only do
that when a report's content is meant to change, and say so in the commit. The charts are left
out: their pixels belong to matplotlib's version, not to this code.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path

from evals.records import RunResults

DATA = Path(__file__).parent / "data"
# Every results file written by an earlier round, by the round that wrote it.
SOURCES = (
    DATA / "round1" / "smollm2_results.json",
    DATA / "round1" / "mini_results.json",
    DATA / "round2" / "multi_results.json",
    DATA / "round2" / "perturb_results.json",
)


def renders(results: RunResults) -> dict[str, Callable[[], str]]:
    """Return every text a saved run renders to, by a short name (the golden file's suffix)."""
    from evals.history import record_of
    from evals.reports.ci import case_properties, markdown_summary
    from evals.reports.html import render_html
    from evals.reports.tables import leaderboard_csv, results_csv
    from evals.reports.terminal import summary_lines
    from evals.reports.text import render_text

    out: dict[str, Callable[[], str]] = {
        "report.txt": lambda: render_text(results),
        "results.csv": lambda: results_csv(results),
        "report.html": lambda: render_html(results),
        "summary.md": lambda: markdown_summary(results),
        "terminal.txt": lambda: "\n".join(summary_lines(results, results.gate, [], [])) + "\n",
        "junit.txt": lambda: "\n".join(f"{n}={v}" for c in results.pairs() for n, v in case_properties(c)) + "\n",
        "history.json": lambda: json.dumps(_history(record_of(results)), indent=1, ensure_ascii=False) + "\n",
    }
    if results.leaderboard is not None:
        board = results.leaderboard
        out["leaderboard.csv"] = lambda: leaderboard_csv(board)
    return out


def _history(record: object) -> object:
    data = record.to_dict()  # type: ignore[attr-defined]
    for key in ("commit", "branch"):  # where it was re-rendered, not what
        data.pop(key, None)
    return data


def golden_path(source: Path, name: str) -> Path:
    return source.with_name(source.name.replace("_results.json", f".golden.{name}"))


def main() -> int:
    from evals.reports import load_results

    for source in SOURCES:
        for name, render in renders(load_results(source)).items():
            golden_path(source, name).write_text(render(), encoding="utf-8")
            print(golden_path(source, name))
    return 0


if __name__ == "__main__":
    sys.exit(main())
