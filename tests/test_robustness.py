"""The robustness curve (--jarvis-perturb): pure computation, JSON round trip, text report, end to end."""

from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import pytest

from evals.parsers import parse_noise_levels
from evals.records import RunResults, ScoredCase
from evals.reports.terminal import robustness_lines
from evals.reports.text import render_text
from evals.robustness import area_ratio, robustness_section
from tests.factories import make_results, scored
from tests.test_plugin import TEST_FILE


def _variant(source: str, level: int, index: int, base: float, tuned: float) -> ScoredCase:
    case = scored(f"{source}@L{level}.{index}", "commands", base, tuned)
    return replace(case, case=replace(case.case, source=source, level=level, variant=index))


def _curve(base_drop: float, tuned_drop: float, sources: int = 6) -> list[ScoredCase]:
    """Clean relevance 1.0 for both arms; each level loses ``*_drop`` more (two variants per level)."""
    out = []
    for s in range(sources):
        for level in range(4):
            for index in range(2 if level else 1):
                out.append(_variant(f"c{s}", level, index, 1 - base_drop * level, 1 - tuned_drop * level))
    return out


def test_area_ratio_is_one_for_a_flat_curve_and_less_for_a_falling_one() -> None:
    assert area_ratio([(0, 0.8), (1, 0.8), (2, 0.8), (3, 0.8)]) == pytest.approx(1.0)
    assert area_ratio([(0, 1.0), (1, 0.5), (2, 0.0), (3, 0.0)]) == pytest.approx((0.75 + 0.25) / 3)
    assert area_ratio([(0, 0.0), (1, 0.0)]) is None


def test_curve_per_level_and_arm_with_scores_and_paired_test() -> None:
    rob = robustness_section(_curve(base_drop=0.3, tuned_drop=0.1), resamples=500)
    assert rob is not None
    points = {(p.level, p.arm): p for p in rob.points}
    assert sorted(points) == [(lv, arm) for lv in range(4) for arm in ("base", "finetuned")]
    assert points[(3, "base")].relevance == pytest.approx(0.1)
    assert points[(3, "finetuned")].relevance == pytest.approx(0.7)
    assert points[(2, "base")].n == 6 and points[(2, "base")].variants == 12
    assert rob.score["finetuned"] > rob.score["base"]
    # Every clean case loses 0.2 more relevance on the base arm than on the fine-tune.
    assert rob.slower.mean_diff == pytest.approx(0.4) and rob.slower.wins == 6 and rob.slower.significant


def test_equal_degradation_is_not_significant() -> None:
    rob = robustness_section(_curve(base_drop=0.2, tuned_drop=0.2), resamples=500)
    assert rob is not None and not rob.slower.significant and rob.slower.ties == 6


def test_cases_without_levels_give_no_curve() -> None:
    assert robustness_section([scored("a", "commands", 0.5, 1.0)]) is None


def test_the_curve_round_trips_through_json_and_reaches_the_text_report() -> None:
    cases = _curve(0.3, 0.1)
    results = replace(make_results(cases), robustness=robustness_section(cases, resamples=200))
    again = RunResults.from_dict(json.loads(json.dumps(results.to_dict())))
    assert again == results
    text = render_text(again)
    assert "ROBUSTNESS" in text and "Robustness score" in text and "degrades more slowly" in text
    assert "robustness" not in make_results(cases).to_dict()  # earlier runs' JSON is unchanged


def test_a_curve_gets_its_png_and_an_html_section(tmp_path: Path) -> None:
    from evals.reports import ROBUSTNESS_PNG_NAME, write_reports

    cases = _curve(0.3, 0.1)
    with_curve = replace(make_results(cases), robustness=robustness_section(cases, resamples=200))
    written = {p.name for p in write_reports(with_curve, tmp_path / "a")}
    assert ROBUSTNESS_PNG_NAME in written
    assert (tmp_path / "a" / ROBUSTNESS_PNG_NAME).read_bytes().startswith(b"\x89PNG")
    html = (tmp_path / "a" / "benchmark_report.html").read_text(encoding="utf-8")
    assert 'id="robustness"' in html and "Relevance and valid calls per speech-recognition noise level" in html
    plain = {p.name for p in write_reports(make_results(cases), tmp_path / "b")}
    assert ROBUSTNESS_PNG_NAME not in plain
    assert 'id="robustness"' not in (tmp_path / "b" / "benchmark_report.html").read_text(encoding="utf-8")


def test_noise_levels_option_parses_and_refuses() -> None:
    assert parse_noise_levels("3,1,2") == (1, 2, 3)
    assert parse_noise_levels("0,2") == (2,)
    for bad in ("4", "a", "0", ""):
        with pytest.raises(argparse.ArgumentTypeError):
            parse_noise_levels(bad)


def test_perturb_run_writes_the_curve(pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    """One clean command and its variants at two levels on the tiny model: a curve in JSON and text."""
    pytester.makepyfile(test_bench=TEST_FILE)
    pytester.makeini("[pytest]\naddopts = --strict-markers\njarvis_perturb_variants = 2\n")
    result = pytester.runpytest(
        f"--jarvis-model={tiny_model_dir}",
        f"--jarvis-adapter={tiny_adapter_dir}",
        "--jarvis-quant=none",
        "--jarvis-max-new-tokens=4",
        "--jarvis-no-cache",
        "--jarvis-assert=none",
        "-p",
        "no:cacheprovider",
        "-m",
        "commands",
        "--jarvis-limit=1",
        "--jarvis-perturb=1,3",
    )
    result.assert_outcomes(passed=1 + 2 * 2)
    folder = pytester.path / "reports"
    data = json.loads(next(folder.rglob("benchmark_results.json")).read_text())
    levels = sorted({(p["level"], p["arm"]) for p in data["robustness"]["points"]})
    assert levels == [(lv, arm) for lv in (0, 1, 3) for arm in ("base", "finetuned")]
    assert {r["case"]["level"] for r in data["results"]} == {0, 1, 3}
    assert "+asr.s0.k2.L13" in data["metadata"]["suite_version"]
    text = next(folder.rglob("benchmark_report.txt")).read_text()
    assert "ROBUSTNESS" in text
    result.stdout.fnmatch_lines(["robustness, relevance base -> ft per noise level: L0 * L1 * L3 *"])


def test_score_from_ids_matches_the_curve_and_the_stats_defaults() -> None:
    from evals import robustness, stats

    cases = _curve(0.3, 0.1)
    rob = robustness_section(cases, resamples=200)
    assert rob is not None
    assert robustness.score_of_ids({c.id: c.finetuned.relevance for c in cases}) == pytest.approx(
        rob.score["finetuned"]
    )
    assert (robustness.DEFAULT_RESAMPLES, robustness.DEFAULT_CONFIDENCE, robustness.DEFAULT_SEED) == (
        stats.DEFAULT_RESAMPLES,
        stats.DEFAULT_CONFIDENCE,
        stats.DEFAULT_SEED,
    )


def _clean_ids(cases: list[ScoredCase]) -> list[ScoredCase]:
    """Level-0 cases under their own id, as the generator writes them."""
    return [replace(c, case=replace(c.case, id=c.case.source or c.id)) if c.case.level == 0 else c for c in cases]


def test_the_gate_holds_robustness_to_the_baseline() -> None:
    from evals.gate.baseline import Baseline
    from evals.gate.rules import GateConfig, evaluate_gate

    def run(tuned_drop: float) -> RunResults:
        cases = _clean_ids(_curve(0.3, tuned_drop))
        return replace(make_results(cases), robustness=robustness_section(cases, resamples=200))

    blessed = Baseline.from_results(run(0.1))
    held = evaluate_gate(run(0.1), blessed, GateConfig(tolerance=0.02), executed=1)
    assert held.status == "passed" and any("robustness score" in r and "held" in r for r in held.reasons)
    # Clean relevance unchanged, noisy relevance down: the mean relevance drops too, and so does robustness.
    worse = evaluate_gate(run(0.2), blessed, GateConfig(tolerance=0.02), executed=1)
    assert worse.status == "failed"
    assert {v.rule for v in worse.violations} >= {"robustness"}
    robust = next(v for v in worse.violations if v.rule == "robustness")
    assert robust.current is not None and robust.baseline is not None and robust.current < robust.baseline


def test_the_verdict_keeps_the_sign_and_says_when_the_base_has_nothing_to_lose() -> None:
    """The demo run: a fine-tune that degrades against a base at 0 was once called "degrades more slowly by -0.172"."""
    slower = robustness_section(_curve(base_drop=0.3, tuned_drop=0.1), resamples=300)
    faster = robustness_section(_curve(base_drop=0.1, tuned_drop=0.3), resamples=300)
    assert slower is not None and faster is not None
    assert slower.verdict() == "the fine-tune degrades more slowly than the base"
    assert faster.verdict() == "the fine-tune degrades faster than the base"
    floor = [_variant(f"c{s}", lv, 0, 0.0, 1 - 0.3 * lv) for s in range(6) for lv in range(4)]
    at_floor = robustness_section(floor, resamples=300)
    assert at_floor is not None and at_floor.score["base"] is None
    assert (
        at_floor.verdict()
        == "the fine-tune degrades faster than the base (the base scores 0 at level 0: it has nothing to lose)"
    )
    line = robustness_lines(at_floor)[1]
    assert "base's drop minus fine-tune's -0.600" in line and line.endswith("it has nothing to lose)")
