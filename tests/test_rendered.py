"""Charts and tables drawn once and kept by what they show (evals.reports.rendered): a re-run draws nothing."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from dataclasses import replace
from pathlib import Path

import pytest

from evals.margins import margin_section
from evals.records import RunResults
from evals.reports import CSV_NAME, HTML_NAME, PNG_NAME, write_reports
from evals.reports.charts import build_figure, build_margin_figure
from evals.reports.rendered import KEEP, RUN_FIELDS, Renderer, inline_svg
from tests.factories import make_results
from tests.test_margins import probed
from tests.test_reports import SECTIONS

ROOT = Path(__file__).resolve().parent.parent


def run_results() -> RunResults:
    """A probed run (2x2 chart and margin figure) with the usual later sections."""
    cases = [
        probed("cmd_01", "commands", -1.0, 2.0),
        probed("fix_01", "corrections", 0.5, -0.5),
        probed("route_01", "routing", -2.0, 3.0),
    ]
    results = make_results(cases, sections={k: v for k, v in SECTIONS.items() if k in ("paired", "gate")})
    return replace(results, margins={"lora": margin_section(cases)})


def as_rerun(results: RunResults) -> RunResults:
    """The same findings as a cached re-run reports them: every RUN_FIELDS value changed."""
    changed = {
        "timestamp": "2030-01-01T00:00:00+00:00",
        "device": "cache",
        "n_generate_calls": 0,
        "n_cached_answers": 60,
        "n_fresh_answers": 0,
        "n_new_tokens": 0,
        "generation_seconds": 0.0,
        "load_seconds": 0.0,
    }
    assert set(changed) == set(RUN_FIELDS)
    return replace(results, metadata=replace(results.metadata, **changed))


def test_no_chart_draws_the_fields_a_rerun_changes() -> None:
    """The key leaves RUN_FIELDS out: that is sound only if no figure shows them."""
    results = run_results()
    assert results.margins, "the run must be probed, so that the margin figure is drawn too"
    again = as_rerun(results)
    for build in (build_figure, build_margin_figure):
        assert inline_svg(build(results), "x") == inline_svg(build(again), "x"), build.__name__


def test_a_rerun_reads_every_chart_and_table_back_and_a_change_draws_again(tmp_path: Path) -> None:
    results = run_results()
    kept = tmp_path / "kept"
    first = Renderer(results, kept)
    png = first.png("chart", lambda: build_figure(results), 300)
    svg = first.svg("chart", lambda: build_figure(results), "label")
    assert first.drawn == ["chart.png", "chart.svg"] and len(first._figures) == 1  # one figure for both

    rerun = Renderer(as_rerun(results), kept)
    assert rerun.png("chart", lambda: pytest.fail("drawn again"), 300) == png
    assert rerun.svg("chart", lambda: pytest.fail("drawn again"), "label") == svg
    assert rerun.drawn == []

    cases = list(results.pairs())
    worse = replace(cases[0], finetuned=replace(cases[0].finetuned, relevance=0.0))
    changed = make_results([worse, *cases[1:]], metadata=results.metadata)
    other = Renderer(changed, kept)
    other.png("chart", lambda: build_figure(changed), 300)
    assert other.drawn == ["chart.png"], "other findings: a new key"
    assert Renderer(results, kept).png("chart", lambda: build_figure(results), 150) != png  # the DPI is in the key


def test_a_damaged_entry_is_drawn_again_and_the_folder_keeps_the_newest(tmp_path: Path) -> None:
    results = run_results()
    kept = tmp_path / "kept"
    Renderer(results, kept).table("t", ["a"], [{"a": 1}], lambda: "a\n1\n")
    (entry,) = kept.iterdir()
    entry.write_bytes(b"")  # an empty file (a full disk): not trusted
    again = Renderer(results, kept)
    assert again.table("t", ["a"], [{"a": 1}], lambda: "a\n1\n") == b"a\n1\n" and again.drawn == ["t.csv"]
    for i in range(KEEP + 5):
        again.table("t", ["a"], [{"a": i}], lambda: "x\n")
    assert len(list(kept.iterdir())) == KEEP


def test_a_folder_that_cannot_be_written_costs_the_drawing_not_the_reports(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    written = write_reports(run_results(), tmp_path / "reports", kept=blocker / "rendered")
    assert {p.name for p in written} >= {PNG_NAME, CSV_NAME, HTML_NAME}


def test_a_rerun_writes_the_same_reports_without_importing_matplotlib_or_pandas(tmp_path: Path) -> None:
    """The promise end to end, in fresh processes: the second write imports neither library (numpy it may:
    the statistics use it)."""
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(ROOT)!r})
        from pathlib import Path
        from evals.reports import write_reports
        from tests.test_rendered import as_rerun, run_results
        results = run_results() if sys.argv[1] == "cold" else as_rerun(run_results())
        write_reports(results, Path(sys.argv[2]), kept=Path(sys.argv[3]))
        print(sorted(m for m in ("matplotlib", "pandas") if m in sys.modules))
        """
    )
    kept = tmp_path / "kept"

    def write(kind: str, folder: Path) -> str:
        out = subprocess.run(
            [sys.executable, "-c", script, kind, str(folder), str(kept)], capture_output=True, text=True, check=True
        )
        return out.stdout.strip().splitlines()[-1]

    assert write("cold", tmp_path / "cold") == "['matplotlib', 'pandas']"
    assert write("rerun", tmp_path / "rerun") == "[]"
    for name in (PNG_NAME, CSV_NAME):
        assert (tmp_path / "cold" / name).read_bytes() == (tmp_path / "rerun" / name).read_bytes(), name
    cold_page = (tmp_path / "cold" / HTML_NAME).read_text()
    rerun_page = (tmp_path / "rerun" / HTML_NAME).read_text()
    assert cold_page.count("<svg") == rerun_page.count("<svg") == 2  # the 2x2 chart and the margin figure
    assert "2030-01-01" in rerun_page and "2030-01-01" not in cold_page  # the page itself is the re-run's
