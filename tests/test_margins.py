"""Routing margins in the run, the reports and the gate (issue 26); the probe itself: tests/test_probe.py."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from evals.gate import Baseline, GateConfig, evaluate_gate
from evals.margins import margin_section
from evals.records import ArmScore, ProbeCase, ScoredCase
from evals.records.probe import choose
from evals.reports.margins import summary_line, text_lines
from evals.reports.tables import PROBE_COLUMNS, results_rows
from evals.stats import baseline_section
from tests.factories import make_results, scored
from tests.test_plugin import TEST_FILE

PATH = "reports/baseline.json"
TOOLS = ("volume_up", "volume_down", "lock_screen")


def probe(case_id: str, arm: str, right: float, rival: float = 0.0) -> ProbeCase:
    """A probe where the expected volume_up scores ``right`` nats and the best rival ``rival``."""
    logprobs = {"volume_up": right, "volume_down": rival, "lock_screen": rival - 10.0}
    return choose(case_id, arm, "system-text", logprobs, ("volume_up",), -50.0, expects_nothing=False)


def probed(case_id: str, category: str, base_margin: float, tuned_margin: float) -> ScoredCase:
    case = scored(case_id, category, 0.0, 1.0)
    return replace(
        case,
        base=replace(case.base, probe=probe(case_id, "base", base_margin)),
        finetuned=replace(case.finetuned, probe=probe(case_id, "lora", tuned_margin)),
    )


def test_the_margin_is_the_log_odds_of_the_expected_tool_against_the_best_rival() -> None:
    right = probe("c", "lora", -1.0, -3.5)
    assert (right.routing_margin, right.forced_choice_correct, right.rank) == (2.5, True, 1)
    wrong = probe("c", "lora", -4.0, -1.0)
    assert (wrong.routing_margin, wrong.forced_choice_correct, wrong.predicted, wrong.rank) == (
        -3.0,
        False,
        "volume_down",
        2,
    )
    assert probe("c", "lora", -1.0, -1.5).is_near_tie() and not right.is_near_tie()


def test_the_section_pairs_margins_counts_forced_choices_and_lists_cases_at_risk() -> None:
    cases = [probed(f"cmd-{i}", "commands", -3.0, 4.0) for i in range(8)]
    cases += [probed("cmd-8", "commands", -3.0, 0.4), probed("cmd-9", "commands", -3.0, -0.5)]
    section = margin_section(cases)
    assert section is not None
    o = section.overall
    assert (o.n, o.base_correct, o.finetuned_correct, o.base_near_ties, o.finetuned_near_ties) == (10, 0, 9, 0, 2)
    assert o.finetuned_mean == pytest.approx((8 * 4.0 + 0.4 - 0.5) / 10)
    assert o.diff.wins == 10 and o.diff.significant
    assert section.at_risk == (("cmd-8", pytest.approx(0.4)),)  # right, but within 1 nat; cmd-9 is wrong
    assert list(section.by_category) == ["commands"]
    assert margin_section([scored("x", "commands", 0.0, 1.0)]) is None  # nothing probed: no section


def test_reports_show_margins_only_when_probed() -> None:
    plain = make_results([scored(f"c{i}", "commands", 0.0, 1.0) for i in range(3)])
    assert summary_line(plain) is None and text_lines(plain) == []
    assert not set(PROBE_COLUMNS) & set(results_rows(plain)[0])
    cases = [probed(f"c{i}", "commands", -2.0, 3.0) for i in range(3)]
    results = replace(make_results(cases), margins={"lora": margin_section(cases)})
    line = summary_line(results)
    assert line is not None and "base -2.00 -> fine-tuned +3.00 nats" in line and "right 0/3 -> 3/3" in line
    text = "\n".join(text_lines(results))
    assert "ROUTING MARGINS" in text and "c2" in text
    columns, rows = results_rows(results)
    assert columns[-4:] == list(PROBE_COLUMNS)
    assert rows[0]["routing_margin_finetuned"] == 3.0 and rows[0]["near_tie_finetuned"] is False


def _gate(current: list[ScoredCase], blessed: list[ScoredCase], **config: object):  # type: ignore[no-untyped-def]
    baseline = replace(Baseline.from_results(make_results(blessed)), path=PATH)
    results = make_results(current)
    results = replace(results, baseline_comparison={"lora": baseline_section(results.pairs(), baseline)})
    return evaluate_gate(results, baseline, GateConfig(baseline_path=PATH, **config), executed=len(current))


def test_margins_falling_while_relevance_holds_is_a_warning_and_a_failure_with_a_margin_tolerance() -> None:
    blessed = [probed(f"c{i}", "commands", -3.0, 4.0) for i in range(10)]
    fallen = [probed(f"c{i}", "commands", -3.0, 1.5) for i in range(10)]  # every answer still right
    warned = _gate(fallen, blessed)
    assert warned.status == "passed"
    assert any("warning: fine-tuned routing margins fell by 2.50 nats" in r for r in warned.reasons)
    failed = _gate(fallen, blessed, margin_tolerance=1.0)
    assert failed.status == "failed" and [v.rule for v in failed.violations] == ["margin"]
    assert _gate(fallen, blessed, margin_tolerance=3.0).status == "passed"  # a fall within the tolerance
    steady = _gate(blessed, blessed, margin_tolerance=0.0)
    assert steady.status == "passed" and not any("margins" in r for r in steady.reasons)
    unprobed = [replace(c, finetuned=replace(c.finetuned, probe=None)) for c in fallen]
    assert not any("margins" in r for r in _gate(unprobed, blessed, margin_tolerance=0.0).reasons)


def test_arm_scores_round_trip_their_probe() -> None:
    from evals.records import decode, encode

    score = ArmScore("volume_up()", 1, 1, relevance=1.0, probe=probe("c", "lora", -0.5, -2.0))
    assert decode(ArmScore, json.loads(json.dumps(encode(score)))) == score


# --- the run -------------------------------------------------------------------------------------


def tiny_run(pytester: pytest.Pytester, model: Path, adapter: Path, marker: str) -> list[str]:
    """The benchmark's arguments on the tiny model and LoRA, with a cache of the test's own (written once)."""
    pytester.makepyfile(test_bench=TEST_FILE)
    return [
        "-m", marker, f"--jarvis-model={model}", f"--jarvis-adapter={adapter}", "--jarvis-quant=none",
        "--jarvis-max-new-tokens=4", f"--jarvis-cache-dir={pytester.path / 'cache'}", "--jarvis-assert=none",
        "-p", "no:cacheprovider",
    ]  # fmt: skip


def test_a_run_probes_every_case_caches_the_probes_and_no_probe_turns_it_off(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    args = tiny_run(pytester, tiny_model_dir, tiny_adapter_dir, "jarvis and routing")
    path = pytester.path / "reports" / "partial" / "benchmark_results.json"
    cold = pytester.runpytest(*args)
    cold.assert_outcomes(passed=10)
    data = json.loads(path.read_text())
    margins = [(c["arms"]["base"]["probe"], c["arms"][data["metadata"]["primary"]]["probe"]) for c in data["results"]]
    assert all(b is not None and t is not None for b, t in margins)
    # Every tool of the suite is a candidate, but a two-tool case's second tool (neither target nor rival).
    assert [len(b["logprobs"]) for b, _ in margins] == [21 - len(c["case"]["expected_tools"]) for c in data["results"]]
    assert any(b["routing_margin"] != t["routing_margin"] for b, t in margins)  # the adapter moves them
    assert data["margins"] and "routing margin:" in cold.stdout.str()
    warm = pytester.runpytest(*args)
    warm.assert_outcomes(passed=10)
    again = json.loads(path.read_text())
    assert again["metadata"]["load_seconds"] == 0  # answers and probes both from the cache
    assert [c["arms"]["base"]["probe"] for c in again["results"]] == [b for b, _ in margins]
    off = pytester.runpytest(*args, "--jarvis-no-probe")
    off.assert_outcomes(passed=10)
    unprobed = json.loads(path.read_text())
    assert not unprobed.get("margins") and all(c["arms"]["base"]["probe"] is None for c in unprobed["results"])


def test_a_full_run_measures_drift_caches_it_and_the_baseline_keeps_it(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    args = tiny_run(pytester, tiny_model_dir, tiny_adapter_dir, "jarvis")
    cold = pytester.runpytest(*args, "--jarvis-save-baseline")
    cold.assert_outcomes(passed=30)
    data = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
    drift = data["drift"][data["metadata"]["primary"]]
    assert drift["summary"]["prompts"] == len(drift["prompts"]) >= 20
    assert drift["summary"]["mean_kl"] > 0  # the tiny LoRA is not zero: it moves the model everywhere
    assert "drift: mean KL(base || fine-tuned)" in cold.stdout.str()
    blessed = json.loads((pytester.path / "reports" / "baseline.json").read_text())
    assert blessed["drift"] == data["drift"]
    warm = pytester.runpytest(*args)
    warm.assert_outcomes(passed=30)
    again = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
    assert again["metadata"]["load_seconds"] == 0 and again["drift"] == data["drift"]  # all from the cache


def test_an_adapter_drifting_much_more_than_the_baselines_is_flagged() -> None:
    from evals.records import DriftSection, DriftSummary

    def with_drift(cases: list[ScoredCase], kl: float, measured_on: str = "neutral_fr 1.0, 24 tokens"):  # type: ignore[no-untyped-def]
        summary = DriftSummary(arm="lora", prompts=24, tokens=500, mean_kl=kl, token_mean_kl=kl)
        return replace(make_results(cases), drift={"lora": DriftSection(measured_on, summary)})

    cases = [probed(f"c{i}", "commands", -3.0, 4.0) for i in range(10)]
    baseline = replace(Baseline.from_results(with_drift(cases, 0.4)), path=PATH)
    for kl, flagged in ((0.7, False), (0.9, True)):
        results = with_drift(cases, kl)
        results = replace(results, baseline_comparison={"lora": baseline_section(results.pairs(), baseline)})
        outcome = evaluate_gate(results, baseline, GateConfig(baseline_path=PATH), executed=10)
        assert outcome.status == "passed"  # a warning, not a failure
        assert any("drift outside the task 0.900" in r for r in outcome.reasons) == flagged
    # Drift measured on other answers (another set, version or length) is not compared, and the gate says so.
    longer = with_drift(cases, 0.9, "neutral_fr 1.0, 48 tokens")
    longer = replace(longer, baseline_comparison={"lora": baseline_section(longer.pairs(), baseline)})
    reasons = evaluate_gate(longer, baseline, GateConfig(baseline_path=PATH), executed=10).reasons
    assert not any("drift outside" in r for r in reasons)
    assert any("drift not compared" in r and "48 tokens" in r for r in reasons)


def test_a_fall_of_numerical_size_is_not_reported_even_on_every_case() -> None:
    blessed = [probed(f"c{i}", "commands", -3.0, 4.0) for i in range(30)]
    nudged = [probed(f"c{i}", "commands", -3.0, 3.96) for i in range(30)]  # 0.04 lower everywhere: p ~ 2e-9
    outcome = _gate(nudged, blessed, margin_tolerance=0.0)
    assert outcome.status == "passed" and not any("margins" in r for r in outcome.reasons)
