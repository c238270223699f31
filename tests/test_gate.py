"""The CI gate and the baseline file, on planted results (no model)."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from evals.errors import JarvisError
from evals.gate import GateConfig, GateConfigError, NoBaseline, evaluate_gate
from evals.gate.baseline import Baseline, BaselineError, load_baseline, save_baseline
from evals.parsers import parse_category_tolerances, parse_gate_mode, parse_min_gain, parse_tolerance
from evals.records import BASELINE_SECTIONS, GateOutcome, GenerationSettings, RunResults, ScoredCase, decode, encode
from evals.stats import baseline_section
from tests.factories import make_results, scored

PATH = "reports/baseline.json"


def run(cases: Sequence[ScoredCase], *, version: str = "1.0", name: str = "jarvis") -> RunResults:
    return make_results(cases, suite_name=name, suite_version=version)


def flat(category: str, tuned: float, n: int = 10, base: float = 0.3) -> list[ScoredCase]:
    """``n`` cases of one category, every fine-tuned answer scoring ``tuned``."""
    return [scored(f"{category}-{i}", category, base, tuned) for i in range(n)]


def blessed(cases: Sequence[ScoredCase], **kwargs: str) -> Baseline:
    return replace(Baseline.from_results(run(cases, **kwargs)), path=PATH)


def gate(cases: Sequence[ScoredCase], baseline: Baseline | None, **config: object) -> GateOutcome:
    results = run(cases)
    if baseline is not None:  # the run computes this section once, before the gate reads it
        results = replace(results, baseline_comparison={"lora": baseline_section(results.pairs(), baseline)})
    return evaluate_gate(
        results, baseline or NoBaseline(PATH), GateConfig(baseline_path=PATH, **config), executed=len(cases)
    )


ALL = ("commands", "corrections", "routing")


def full(tuned: dict[str, float]) -> list[ScoredCase]:
    return [case for cat in ALL for case in flat(cat, tuned.get(cat, 0.7))]


# --- tolerance mode -------------------------------------------------------------------------


def test_a_drop_beyond_tolerance_fails_with_one_line_per_rule() -> None:
    current = full({"commands": 0.74, "corrections": 0.74, "routing": 0.62})  # global mean holds at 0.70
    outcome = gate(current, blessed(full({})))
    assert outcome.failed and outcome.status == "failed"
    (violation,) = outcome.violations
    assert violation.scope == "routing"
    assert violation.message == "gate: routing relevance 0.62 < baseline 0.70 - tolerance 0.02"
    assert (violation.rule, violation.baseline, violation.current, violation.tolerance) == (
        "relevance",
        pytest.approx(0.70),
        pytest.approx(0.62),
        0.02,
    )
    assert outcome.reasons[0] == violation.message


def test_a_global_drop_is_its_own_violation() -> None:
    outcome = gate(full(dict.fromkeys(ALL, 0.6)), blessed(full({})))
    assert [v.scope for v in outcome.violations] == ["global", *ALL]
    assert outcome.violations[0].message == "gate: global relevance 0.60 < baseline 0.70 - tolerance 0.02"


def test_a_drop_within_tolerance_passes() -> None:
    outcome = gate(full({"routing": 0.69}), blessed(full({})))
    assert outcome.status == "passed" and not outcome.failed
    assert outcome.violations == ()
    assert (
        outcome.reasons[0]
        == f"gate: fine-tuned relevance held within tolerance against {PATH} in global, {', '.join(ALL)}"
    )


def test_a_drop_of_exactly_the_tolerance_passes() -> None:
    assert gate(full(dict.fromkeys(ALL, 0.68)), blessed(full({}))).status == "passed"


def test_messages_show_enough_decimals_to_show_the_drop() -> None:
    outcome = gate(flat("routing", 0.679), blessed(flat("routing", 0.70)))
    assert outcome.violations[-1].message == "gate: routing relevance 0.679 < baseline 0.700 - tolerance 0.020"


def test_a_category_drop_fails_even_when_the_global_mean_holds() -> None:
    current = full({"commands": 0.80, "routing": 0.60})  # global mean unchanged at 0.70
    outcome = gate(current, blessed(full({})))
    assert [(v.scope, v.rule) for v in outcome.violations] == [("routing", "relevance")]


def test_a_category_tolerance_overrides_the_global_one() -> None:
    current = full({"commands": 0.80, "routing": 0.60})
    assert gate(current, blessed(full({})), category_tolerances={"routing": 0.15}).status == "passed"
    outcome = gate(current, blessed(full({})), tolerance=0.2, category_tolerances={"routing": 0.05})
    assert outcome.violations[0].message == "gate: routing relevance 0.60 < baseline 0.70 - tolerance 0.05"


def test_a_partial_run_gates_only_its_categories() -> None:
    # The baseline's global mean (0.9, 0.9, 0.5 -> 0.77) would fail a routing-only run at 0.5;
    # restricted to the cases that ran it is 0.5 vs 0.5.
    baseline = blessed(full({"commands": 0.9, "corrections": 0.9, "routing": 0.5}))
    outcome = gate(flat("routing", 0.5), baseline)
    assert outcome.status == "passed"
    assert outcome.reasons[0] == f"gate: fine-tuned relevance held within tolerance against {PATH} in routing"
    outcome = gate(flat("routing", 0.4), baseline)
    assert [v.scope for v in outcome.violations] == ["routing"]  # one category: global is the same cases
    assert outcome.violations[0].baseline == pytest.approx(0.5)


def test_a_single_category_run_uses_its_own_tolerance() -> None:
    outcome = gate(flat("routing", 0.66), blessed(flat("routing", 0.7)), category_tolerances={"routing": 0.05})
    assert outcome.status == "passed"


def test_a_k_selected_subset_is_compared_case_by_case() -> None:
    baseline = blessed([scored("a", "routing", 0.0, 1.0), scored("b", "routing", 0.0, 0.0)])
    assert gate([scored("b", "routing", 0.0, 0.0)], baseline).status == "passed"


def test_cases_missing_from_the_baseline_are_a_notice_or_a_failure_when_required() -> None:
    """Gate path 2: with --jarvis-require-baseline, selected cases the baseline lacks fail the gate."""
    baseline = blessed(flat("routing", 0.7))
    outcome = gate(full({}), baseline)
    assert outcome.status == "passed"
    assert any(r.startswith(f"gate: 20 selected case(s) are not in baseline {PATH}") for r in outcome.reasons)
    strict = gate(full({}), baseline, require_baseline=True)
    assert strict.failed
    assert [(v.rule, v.scope, v.current) for v in strict.violations] == [("baseline_coverage", "global", 20)]
    assert "a baseline is required: re-bless it from a full run" in strict.reasons[0]


def test_a_baseline_sharing_no_case_fails() -> None:
    """Gate path 4: a baseline that compares nothing is not "no baseline", it is a failure."""
    outcome = gate(flat("routing", 0.1), blessed(flat("commands", 0.9)))
    assert outcome.failed
    assert outcome.violations[0].rule == "baseline_coverage"
    assert outcome.reasons[0] == (
        f"gate: baseline {PATH} shares no case with this run, so nothing was compared: "
        "re-bless it from a run of this suite with --jarvis-save-baseline"
    )


def test_cases_not_in_the_baseline_are_reported() -> None:
    outcome = gate([*flat("routing", 0.7), scored("routing-new", "routing", 0.0, 0.0)], blessed(flat("routing", 0.7)))
    assert outcome.status == "passed"
    assert any("1 selected case(s) are not in baseline" in r and "routing-new" in r for r in outcome.reasons)


def test_a_partial_baseline_says_so_in_the_reasons() -> None:
    partial = make_results(flat("routing", 0.7), partial=True, scope="-m 'jarvis and routing'")
    baseline = replace(Baseline.from_results(partial), path=PATH)
    outcome = gate(flat("routing", 0.7), baseline)
    assert outcome.status == "passed"
    assert any(
        r == f"gate: baseline {PATH} is partial (-m 'jarvis and routing': 10 cases in routing): "
        "only the 10 case(s) it covers were compared"
        for r in outcome.reasons
    )


# --- missing baseline, suite mismatch, no evidence, min gain --------------------------------


def test_a_missing_baseline_passes_with_a_notice() -> None:
    outcome = gate(full({}), None)
    assert outcome.status == "no_baseline" and not outcome.failed
    assert outcome.baseline == PATH
    assert outcome.reasons == (
        f"gate: no baseline at {PATH}: relevance was not compared; bless one with --jarvis-save-baseline",
    )


def test_a_missing_baseline_fails_when_required() -> None:
    outcome = gate(full({}), None, require_baseline=True)
    assert outcome.failed
    assert outcome.violations[0].rule == "baseline_required"
    assert "--jarvis-save-baseline" in outcome.reasons[0]


def test_a_baseline_from_another_suite_version_fails() -> None:
    outcome = gate(full({}), blessed(full({}), version="0.9"))
    assert outcome.failed
    (violation,) = outcome.violations
    assert violation.rule == "identity"
    assert violation.message == (
        f"gate: baseline {PATH} was made on another setup (suite version 0.9 (baseline) vs 1.0 (this run)): "
        "re-bless it with --jarvis-save-baseline, or compare anyway with --jarvis-accept-baseline-mismatch"
    )


def test_a_baseline_from_another_suite_name_fails() -> None:
    assert gate(full({}), blessed(full({}), name="other")).violations[0].rule == "identity"


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"model": "Qwen/Qwen3-30B-A3B"}, "model tiny (baseline) vs Qwen/Qwen3-30B-A3B (this run)"),
        ({"model_fingerprint": "dir:other"}, "model fingerprint dir:abc (baseline) vs dir:other (this run)"),
        ({"quantization": "4bit"}, "quantization none (baseline) vs 4bit (this run)"),
        ({"generation": GenerationSettings(max_new_tokens=24)}, "max_new_tokens 64 (baseline) vs 24 (this run)"),
        ({"generation": GenerationSettings(template="plain")}, "template chat_template (baseline) vs plain"),
        ({"suite_hash": "sha256:edited"}, "suite content changed without a version bump"),
    ],
)
def test_a_baseline_of_another_identity_is_refused_naming_the_difference(change: dict, named: str) -> None:
    """Gate path 3: model, weights, quantization, settings, prompt format, suite content must match."""
    cases = full({})
    baseline = replace(
        Baseline.from_results(make_results(cases, model_fingerprint="dir:abc", suite_hash="sha256:s")), path=PATH
    )
    current = make_results(cases, **{"model_fingerprint": "dir:abc", "suite_hash": "sha256:s", **change})
    current = replace(current, baseline_comparison={"lora": baseline_section(current.pairs(), baseline)})
    outcome = evaluate_gate(current, baseline, GateConfig(baseline_path=PATH), executed=len(cases))
    assert outcome.failed and [v.rule for v in outcome.violations] == ["identity"]
    assert named in outcome.reasons[0] and len(outcome.reasons[0].splitlines()) == 1
    accepted = evaluate_gate(current, baseline, GateConfig(baseline_path=PATH, accept_mismatch=True), len(cases))
    assert accepted.status == "passed"
    assert any(r.startswith("gate: compared with a baseline made on another setup") for r in accepted.reasons)


def test_the_adapter_is_expected_to_differ() -> None:
    cases = full({})
    baseline = replace(Baseline.from_results(make_results(cases, adapter="output/old/final")), path=PATH)
    assert gate(cases, baseline).status == "passed"


def test_zero_executed_cases_fail() -> None:
    config = GateConfig(baseline_path=PATH)
    for outcome in (
        evaluate_gate(run(full({})), blessed(full({})), config, executed=0),
        evaluate_gate(run([]), NoBaseline(PATH), config, executed=3),
        evaluate_gate(None, NoBaseline(PATH), config, executed=0),
    ):
        assert outcome.failed
        assert [v.rule for v in outcome.violations] == ["evidence"]
        assert "no JARVIS case ran: the gate has no evidence" in outcome.reasons[0]


def test_min_gain_fails_below_and_passes_above() -> None:
    low = flat("routing", 0.52, base=0.5)  # +4 %
    outcome = gate(low, None, min_gain=0.10)
    assert outcome.failed
    (violation,) = outcome.violations
    assert (violation.rule, violation.tolerance) == ("min_gain", 0.10)
    assert violation.message == "gate: fine-tuned relevance 0.52 is +4.0% over base 0.50, below the required +10.0%"
    assert gate(flat("routing", 0.6, base=0.5), None, min_gain=0.10).status == "no_baseline"
    assert gate(flat("routing", 0.55, base=0.5), blessed(flat("routing", 0.55)), min_gain=0.10).status == "passed"


def test_min_gain_with_a_zero_base_arm_uses_the_absolute_gain() -> None:
    """Gate path 6: a relative gain over 0 is unbounded; the absolute gain is compared, and said."""
    outcome = gate(flat("routing", 0.05, base=0.0), None, min_gain=0.10)
    assert outcome.failed
    assert outcome.reasons[0] == (
        "gate: base relevance is 0, so the gain is measured absolutely: "
        "fine-tuned relevance 0.05 is below the required 0.10"
    )
    assert not gate(flat("routing", 0.2, base=0.0), None, min_gain=0.10).failed
    assert gate(flat("routing", 0.0, base=0.0), None, min_gain=0.1).failed


# --- significant mode -----------------------------------------------------------------------


def test_significant_mode_still_fails_a_drop_beyond_tolerance() -> None:
    """Gate path 5: 5 of 10 routing cases falling from 1 to 0 is not significant by a sign test alone."""
    baseline = blessed(flat("routing", 1.0))
    new = [scored(f"routing-{i}", "routing", 0.3, 0.0 if i < 5 else 1.0) for i in range(10)]
    outcome = gate(new, baseline, mode="significant")
    assert outcome.failed and outcome.mode == "significant"
    assert outcome.reasons[0].startswith(
        "gate: routing relevance 0.50 < baseline 1.00 - tolerance 0.02 (not significant"
    )
    single = gate(
        [scored("routing-0", "routing", 0.0, 0.0)],
        blessed([scored("routing-0", "routing", 0.0, 1.0)]),
        mode="significant",
    )
    assert single.failed  # a single-case run can fail too


def test_significant_mode_also_fails_a_significant_drop_within_tolerance() -> None:
    baseline = blessed(flat("routing", 0.70, n=30))
    new = flat("routing", 0.69, n=30)  # every case 0.01 lower: within 0.02, but 30 losses out of 30
    assert gate(new, baseline).status == "passed"
    outcome = gate(new, baseline, mode="significant")
    assert outcome.failed
    assert outcome.reasons[0].startswith(
        "gate: routing relevance 0.690 dropped significantly from baseline 0.700 (within the tolerance) (significant:"
    )


def test_significant_mode_passes_a_drop_within_tolerance_that_is_not_significant() -> None:
    baseline = blessed(flat("routing", 0.5, n=30))
    new = [scored(f"routing-{i}", "routing", 0.3, 0.5 if i else 0.2) for i in range(30)]  # one case down: -0.01
    outcome = gate(new, baseline, mode="significant")
    assert outcome.status == "passed"
    assert outcome.reasons[0] == (
        f"gate: fine-tuned relevance held within tolerance, with no significant drop against {PATH} in routing"
    )


def test_significant_mode_fails_a_large_consistent_drop() -> None:
    outcome = gate(full({"routing": 0.3}), blessed(full({})), mode="significant")
    assert outcome.failed
    routing = [v for v in outcome.violations if v.scope == "routing"][0]
    assert routing.message.startswith(
        "gate: routing relevance 0.30 < baseline 0.70 - tolerance 0.02 (significant: 95% CI"
    )
    assert "sign test p 0.00195" in routing.message


# --- outcome and config records -------------------------------------------------------------


def test_outcome_to_dict_schema_round_trips_through_json() -> None:
    outcome = gate(full({"routing": 0.5}), blessed(full({})))
    data = json.loads(json.dumps(encode(outcome)))
    assert set(data) == {"status", "mode", "baseline", "reasons", "violations"}
    assert set(data["violations"][0]) == {"rule", "scope", "baseline", "current", "tolerance", "message"}
    assert decode(GateOutcome, data) == outcome


def test_outcome_accepts_lists_and_stays_immutable() -> None:
    outcome = GateOutcome(status="failed", mode="tolerance", baseline=PATH, reasons=["x"], violations=[])
    assert outcome.reasons == ("x",) and outcome.failed
    with pytest.raises(ValueError, match="status"):
        GateOutcome(status="ok", mode="tolerance", baseline=PATH)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"tolerance": -0.1}, "between 0 and 1"),
        ({"tolerance": float("nan")}, "must be a number"),
        ({"category_tolerances": {"routin": 0.05}}, "unknown category 'routin'"),
        ({"category_tolerances": {"routing": 2}}, "gate tolerance for routing"),
        ({"min_gain": -0.1}, "minimum gain"),
        ({"mode": "strict"}, "'tolerance' or 'significant'"),
        ({"baseline_path": ""}, "baseline path"),
    ],
)
def test_config_says_what_is_wrong(kwargs: dict[str, object], words: str) -> None:
    with pytest.raises(GateConfigError, match=words) as info:
        GateConfig(**kwargs)  # type: ignore[arg-type]
    assert isinstance(info.value, JarvisError)


def test_config_is_frozen_including_its_mapping() -> None:
    config = GateConfig(category_tolerances={"routing": 0.05})
    assert config.tolerance_for("routing") == 0.05 and config.tolerance_for("commands") == 0.02
    with pytest.raises(TypeError):
        config.category_tolerances["routing"] = 0.5  # type: ignore[index]


def test_option_parsers() -> None:
    assert parse_tolerance(" 0.05 ") == 0.05
    assert parse_min_gain("0.10") == 0.10 and parse_min_gain("10%") == pytest.approx(0.10)
    assert parse_gate_mode("Significant") == "significant"
    assert parse_category_tolerances(["routing=0.05", "", "# why: routing is noisier", "commands = 0.1"]) == {
        "routing": 0.05,
        "commands": 0.1,
    }
    assert parse_category_tolerances("routing=0.05, corrections=0.03") == {"routing": 0.05, "corrections": 0.03}


@pytest.mark.parametrize(
    ("parse", "value", "words"),
    [
        (parse_tolerance, "abc", "e.g. 0.02"),
        (parse_tolerance, "1.5", "between 0 and 1"),
        (parse_tolerance, "nan", "between 0 and 1"),
        (parse_min_gain, "-5%", "e.g. 0.10 or 10%"),
        (parse_gate_mode, "strict", "'tolerance' or 'significant'"),
        (parse_category_tolerances, ["routing:0.05"], "is not category=value"),
        (parse_category_tolerances, ["routin=0.05"], "unknown category 'routin'"),
        (parse_category_tolerances, ["routing=0.05", "routing=0.1"], "given twice"),
        (parse_category_tolerances, ["routing=2"], "between 0 and 1"),
    ],
)
def test_option_parsers_explain_bad_values(parse, value, words) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=words):
        parse(value)


# --- baseline file --------------------------------------------------------------------------


def test_baseline_round_trips(tmp_path: Path) -> None:
    results = run(full({"routing": 0.5}))
    path = save_baseline(results, tmp_path / "reports" / "baseline.json")
    loaded = load_baseline(path)
    assert loaded == Baseline.from_results(results)
    assert loaded is not None and loaded.path == str(path)
    assert loaded.suite == "jarvis@1.0" and loaded.categories == ALL
    case = loaded.cases["routing-0"]
    assert (case.category, case.base.answer, case.finetuned.answer) == ("routing", "b", "f")
    assert (case.base.relevance, case.finetuned.relevance, case.base.keyword_match, case.finetuned.keyword_match) == (
        0.3,
        0.5,
        0.0,
        1.0,
    )
    assert loaded.statistics.by_category["routing"].finetuned.relevance == pytest.approx(0.5)
    neutral = ("batch_size", "template", "samples")  # samples: a baseline of rates compares with single answers
    settings = {k: v for k, v in encode(GenerationSettings()).items() if k not in neutral}
    assert loaded.identity.generation == {**settings, "prompt_format": "system-text"}
    # The baseline file is the results' declared subset, in the same format.
    assert set(json.loads(path.read_text(encoding="utf-8"))) == {"format_version", "kind", *BASELINE_SECTIONS}
    assert os.listdir(path.parent) == ["baseline.json"]  # no temporary left behind


def test_missing_baseline_loads_as_none(tmp_path: Path) -> None:
    assert load_baseline(tmp_path / "nope.json") is None


def test_baseline_is_never_replaced_silently(tmp_path: Path) -> None:
    path = save_baseline(run(full({})), tmp_path / "baseline.json")
    before = path.read_bytes()
    with pytest.raises(JarvisError, match=r"already exists and was not replaced: pass --jarvis-save-baseline"):
        save_baseline(run(full({"routing": 0.1})), path)
    assert path.read_bytes() == before
    save_baseline(run(full({"routing": 0.1})), path, overwrite=True)
    loaded = load_baseline(path)
    assert loaded is not None and loaded.cases["routing-0"].finetuned.relevance == 0.1


def test_a_failed_write_keeps_the_old_baseline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = save_baseline(run(full({})), tmp_path / "baseline.json")
    before = path.read_bytes()

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("evals.atomic.os.replace", broken_replace)
    with pytest.raises(BaselineError, match="cannot be written \\(No space left on device\\)"):
        save_baseline(run(full({"routing": 0.1})), path, overwrite=True)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["baseline.json"]


def test_an_empty_run_is_not_blessed(tmp_path: Path) -> None:
    with pytest.raises(JarvisError, match="no JARVIS case ran"):
        save_baseline(run([]), tmp_path / "baseline.json")
    assert not (tmp_path / "baseline.json").exists()


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        ("{not json", "invalid JSON at line 1, column 2"),
        ("[]", "the top level must be an object"),
        ('{"schema_version": 2}', "missing field 'identity'"),
        ('{"format_version": 2}', "'metadata' is missing"),
        ("\udcff", "not UTF-8 text"),
    ],
)
def test_a_corrupt_baseline_names_the_file_and_the_fix(tmp_path: Path, content: str, detail: str) -> None:
    path = tmp_path / "baseline.json"
    path.write_bytes(content.encode("utf-8", "surrogateescape"))
    with pytest.raises(JarvisError) as info:
        load_baseline(path)
    message = str(info.value)
    assert message.startswith(f"baseline {path} is corrupt (")
    assert detail in message
    assert message.endswith("re-bless it with --jarvis-save-baseline or restore it from git")


def test_a_baseline_with_a_bad_case_or_a_newer_schema_is_rejected(tmp_path: Path) -> None:
    data = Baseline.from_results(run(full({}))).to_dict()
    path = tmp_path / "baseline.json"
    data["results"][20]["arms"]["lora"]["relevance"] = "high"
    path.write_text(json.dumps(data))
    with pytest.raises(JarvisError, match=r"'results\[20\]\.arms\.lora\.relevance' must be a number, got str"):
        load_baseline(path)
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(JarvisError, match="format_version 99 is newer"):
        load_baseline(path)


def test_a_baseline_of_an_earlier_schema_is_refused_with_the_way_to_re_bless(tmp_path: Path) -> None:
    """Round-1 baselines hold no answers to re-score and no identity: one line says how to re-bless."""
    path = tmp_path / "baseline.json"
    path.write_text(json.dumps({"schema_version": 1, "suite_name": "jarvis", "cases": {}}))
    with pytest.raises(BaselineError) as info:
        load_baseline(path)
    assert str(info.value) == (
        f"baseline {path} was written by an earlier jarvis-evals (schema 1: no answers to re-score and no run "
        "identity to compare): re-bless it with `pytest -m jarvis --jarvis-save-baseline`"
    )


def test_a_baseline_is_re_scored_from_its_answers() -> None:
    """A baseline scored by another metric version is scored again from the answers it stores."""
    from evals.suite import load_suite

    suite = load_suite()
    case = next(c for c in suite.cases if c.id == "route_volume_up")
    planted = scored("route_volume_up", "routing", 0.0, 0.0)  # scored 0 by "version 0", though it routes
    planted = replace(planted, case=case, finetuned=replace(planted.finetuned, answer="volume_up"))
    stale = Baseline.from_results(make_results([planted], metric_version="0"))
    fresh = stale.rescored(suite, "2")
    assert fresh.metric_version == "2"
    assert fresh.cases["route_volume_up"].finetuned.relevance == 1.0
    assert fresh.statistics.overall.finetuned.relevance == 1.0


def test_a_baseline_with_an_older_kind_of_fingerprint_says_so_and_how_to_rebless() -> None:
    cases = [scored("c1", "routing", base=0.0, tuned=1.0)]
    baseline = replace(Baseline.from_results(make_results(cases, model_fingerprint="dir:abc")), path=PATH)
    current = make_results(cases, model_fingerprint="gguf:model.gguf@sha256:0+conversion-1")
    outcome = evaluate_gate(current, baseline, GateConfig(baseline_path=PATH), executed=1)
    assert outcome.failed and [v.rule for v in outcome.violations] == ["identity"]
    line = outcome.reasons[0]
    assert "model fingerprint dir:abc (baseline, an older fingerprint that hashed library metadata) vs gguf:" in line
    assert "re-bless it with --jarvis-save-baseline" in line and len(line.splitlines()) == 1
