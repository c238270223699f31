"""A run's reports: JSON, text, CSV, PNG and HTML, each written atomically, and a saved run read back.

- ``text``: the human-readable report; ``tables``: the per-case CSV; ``charts``: the 2x2 PNG;
- ``html``: the self-contained page with both arms' answers side by side (and a comparison page);
- ``terminal``: pytest's summary section; ``compare``: two saved runs side by side;
- ``ci``: the Markdown summary for ``$GITHUB_STEP_SUMMARY`` and per-case JUnit properties.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.atomic import atomic_write_all, recover_reports
from evals.errors import JarvisError
from evals.jsonio import JsonFileError, read_json_file
from evals.records import RunResults
from evals.reports.text import render_text
from evals.verdict import gains_section

JSON_NAME = "benchmark_results.json"
TEXT_NAME = "benchmark_report.txt"
CSV_NAME = "benchmark_results.csv"
PNG_NAME = "benchmark_charts.png"
HTML_NAME = "benchmark_report.html"
LEADERBOARD_CSV_NAME = "benchmark_leaderboard.csv"
LEADERBOARD_PNG_NAME = "benchmark_leaderboard.png"
ROBUSTNESS_PNG_NAME = "benchmark_robustness.png"


class ResultsFileError(JarvisError, ValueError):
    """A results JSON that cannot be read; the message names the file and the fix."""


def results_json(results: RunResults) -> dict[str, Any]:
    """Return the JSON document of a run: its records plus a freshly computed ``gains`` section."""
    data = results.to_dict()
    data["gains"] = gains_section(results)  # derived: recomputed, never read back
    return data


def _derived(
    results: RunResults, out_dir: Path, kept: Path | None = None
) -> dict[Path, bytes | Callable[[Path], None]]:
    from evals.reports.charts import DPI, build_figure, build_leaderboard_figure, build_robustness_figure
    from evals.reports.html import render_html
    from evals.reports.rendered import Renderer
    from evals.reports.tables import leaderboard_rows, results_rows, write_csv

    # One renderer: each figure is built once for its PNG and its SVG, or read back from ``kept``.
    draw = Renderer(results, kept)
    columns, rows = results_rows(results)
    files: dict[Path, bytes | Callable[[Path], None]] = {
        out_dir / TEXT_NAME: render_text(results).encode("utf-8"),
        out_dir / CSV_NAME: draw.table("results", columns, rows, lambda: write_csv(columns, rows)),
        out_dir / PNG_NAME: draw.png("chart", lambda: build_figure(results), DPI),
        out_dir / HTML_NAME: render_html(results, renderer=draw).encode("utf-8"),
    }
    if results.leaderboard is not None:  # several adapters
        board = leaderboard_rows(results.leaderboard)
        files[out_dir / LEADERBOARD_CSV_NAME] = draw.table("leaderboard", *board, lambda: write_csv(*board))
        files[out_dir / LEADERBOARD_PNG_NAME] = draw.png("leaderboard", lambda: build_leaderboard_figure(results))
    if results.robustness is not None:  # a --jarvis-perturb run
        files[out_dir / ROBUSTNESS_PNG_NAME] = draw.png("robustness", lambda: build_robustness_figure(results))
    return files


def write_derived(results: RunResults, out_dir: str | Path, kept: Path | None = None) -> list[Path]:
    """Write the text report, the per-case CSV, the chart and the HTML page, all or nothing; return their paths.

    ``kept``: a folder of charts and tables drawn before (``evals.reports.rendered``); None draws every one.
    """
    return atomic_write_all(_derived(results, Path(out_dir), kept))


def write_reports(results: RunResults, out_dir: str | Path, kept: Path | None = None) -> list[Path]:
    """Write every report of a run, all or nothing: a failure leaves the previous reports as they were."""
    out_dir = Path(out_dir)
    data = (json.dumps(results_json(results), indent=2, ensure_ascii=False) + "\n").encode("utf-8")
    return atomic_write_all({out_dir / JSON_NAME: data, **_derived(results, out_dir, kept)})


def _unreadable(path: Path, exc: JsonFileError, rerun: str) -> str:
    if exc.kind == "missing":
        return f"results file {path} not found: run the benchmark first, or pass the path of an existing {JSON_NAME}"
    if exc.kind == "folder":
        return f"results file {path} is a directory: pass the {JSON_NAME} inside it"
    if exc.kind in ("unreadable", "not_utf8"):
        return f"results file {path} cannot be read ({exc.detail}): check the path and permissions"
    if exc.kind == "malformed":
        return f"results file {path} is not valid JSON ({exc.detail}); it may be truncated: {rerun}"
    if exc.kind == "too_large":
        return f"results file {path} is {exc.detail}: {rerun}"
    return f"results file {path} is not a results JSON ({exc.detail}): {rerun}"  # valid JSON outside the limits


def load_results(path: str | Path) -> RunResults:
    """Read a results JSON written by a run; raise ``ResultsFileError`` naming the file and the fix."""
    path = Path(path)
    rerun = "re-run the benchmark to write it again"
    with contextlib.suppress(OSError):  # a set whose writer was killed mid-swap: finish it before reading
        recover_reports(path.parent)
    try:
        data = read_json_file(path)
    except JsonFileError as exc:
        raise ResultsFileError(_unreadable(path, exc, rerun)) from None
    if not isinstance(data, dict):
        raise ResultsFileError(
            f"results file {path} is not a benchmark results object: pass the {JSON_NAME} a run wrote"
        )
    missing = [k for k in ("metadata", "statistics", "results") if k not in data]
    if missing:
        raise ResultsFileError(
            f"results file {path} is not a benchmark results file (missing {', '.join(repr(k) for k in missing)}): "
            f"pass the {JSON_NAME} a run wrote"
        )
    try:
        return RunResults.from_dict(data)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError) as exc:
        if isinstance(exc, KeyError):
            detail = f"missing field {exc}"
        else:
            detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ResultsFileError(f"results file {path} has an unexpected shape ({detail}): {rerun}") from None
