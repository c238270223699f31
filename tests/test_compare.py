"""``jarvis-evals compare``: per-category differences and the cases that changed between two runs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from evals.atomic import atomic_write_json
from evals.cli import main
from evals.records import RunResults
from evals.reports import JSON_NAME, results_json
from evals.reports.compare import Comparison, compare_runs, render_comparison
from tests.test_reports import make_case, make_results, sample_cases


def with_case(results: RunResults, case_id: str, base_rel: float, ft_rel: float) -> RunResults:
    """Return a copy of a run where one case's relevances are replaced (statistics recomputed)."""
    cases = [make_case(c.id, c.category, base_rel, ft_rel) if c.id == case_id else c for c in results.pairs()]
    return make_results(cases)


def test_compare_finds_a_planted_change() -> None:
    a = make_results()
    b = with_case(a, "cmd_04", 1.0, 0.0)  # was 1.0 -> 1.0: now the fine-tune lost the right tool
    c = compare_runs(a, b)
    assert isinstance(c, Comparison)
    assert [ch.id for ch in c.changed] == ["cmd_04"]
    assert c.changed[0].reasons == (
        "right tool yes -> no",
        "regression no -> yes",
        "fine-tuned relevance 1.000 -> 0.000 (-1.000)",
    )
    rows = {r.scope: r for r in c.rows}
    assert list(rows) == ["commands", "corrections", "routing", "global"]
    assert rows["commands"].difference == pytest.approx(-0.1)
    assert rows["corrections"].difference == 0
    assert rows["global"].difference == pytest.approx(-1 / 30)
    assert c.only_in_a == c.only_in_b == () and c.n_common == 30 and c.warnings == ()

    text = render_comparison(c)
    assert "CASES WHOSE VERDICT CHANGED (1 of 30 common cases)" in text
    assert "1. cmd_04 (commands): right tool yes -> no; regression no -> yes" in text
    assert "Fine-tuned A : open_app fine-tuned answer to cmd_04  [relevance 1.000" in text
    assert "Fine-tuned B : open_app fine-tuned answer to cmd_04  [relevance 0.000" in text
    assert "  commands      10  0.850   10  0.750      -0.100" in text
    assert "WARNING" not in text


def test_a_flipped_regression_alone_is_a_change() -> None:
    a = make_results()
    b = with_case(a, "cmd_08", 1.0, 0.5)  # fine-tuned relevance unchanged (0.5), base moved up
    (change,) = compare_runs(a, b).changed
    assert change.id == "cmd_08" and change.reasons == ("regression no -> yes",)
    assert "Base A" in render_comparison(compare_runs(a, b))  # base answers shown when they differ


def test_identical_runs_have_no_change() -> None:
    a = make_results()
    c = compare_runs(a, a)
    assert c.changed == () and all(r.difference == 0 for r in c.rows)
    assert "None: every common case has the same fine-tuned relevance" in render_comparison(c)


def test_cases_in_one_run_only_and_suite_version_warning() -> None:
    a = make_results()
    cases = [c for c in sample_cases() if c.id != "route_10"] + [make_case("route_11", "routing", 0.0, 1.0)]
    b = make_results(cases, suite_version="1.1")
    c = compare_runs(a, b)
    assert c.only_in_a == ("route_10",) and c.only_in_b == ("route_11",) and c.n_common == 29
    assert any("suites differ" in w and "v1.0" in w and "v1.1" in w for w in c.warnings)
    text = render_comparison(c)
    assert "Only in A: 1\n    route_10" in text and "Only in B: 1\n    route_11" in text
    assert "WARNING: the suites differ" in text


def test_partial_run_shows_missing_categories_as_dashes() -> None:
    c = compare_runs(make_results(), make_results(categories=("commands",)))
    rows = {r.scope: r for r in c.rows}
    assert rows["routing"].relevance_b is None and rows["routing"].difference is None
    assert len(c.only_in_a) == 20


def test_compare_command_prints_and_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = make_results()
    b = with_case(a, "fix_01", 0.0, 1.0)
    path_a = atomic_write_json(tmp_path / "a" / JSON_NAME, results_json(a))
    path_b = atomic_write_json(tmp_path / "b" / JSON_NAME, results_json(b))
    out = tmp_path / "cmp" / "comparison.txt"
    assert main(["compare", str(path_a), str(path_b), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    written = out.read_text(encoding="utf-8")
    assert written in printed and f"wrote {out}" in printed
    assert "1. fix_01 (corrections): right tool no -> yes; fine-tuned relevance 0.000 -> 1.000 (+1.000)" in written
    assert f"A : {path_a}:" in written and f"B : {path_b}:" in written


def test_compare_command_reports_a_corrupt_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    good = atomic_write_json(tmp_path / JSON_NAME, results_json(make_results()))
    bad = tmp_path / "broken.json"
    bad.write_text('{"metadata": ', encoding="utf-8")
    assert main(["compare", str(good), str(bad), "--out", str(tmp_path / "cmp.txt")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"results file {bad} is not valid JSON" in err
    assert not (tmp_path / "cmp.txt").exists()


def test_changed_cases_are_listed_worst_first() -> None:
    a = make_results()
    b = with_case(with_case(a, "cmd_05", 0.0, 1.0), "cmd_09", 0.5, 0.0)
    assert [ch.id for ch in compare_runs(a, b).changed] == ["cmd_09", "cmd_05"]
    assert replace(a) == a  # the inputs are untouched records
