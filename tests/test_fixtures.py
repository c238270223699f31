"""Public fixtures for a team's own tests on the same models (issue 18), end to end on the tiny Llama."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_plugin import TEST_FILE

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "test_my_jarvis_checks.py"

OWN_TESTS = """
def test_answers_come_from_the_same_models(jarvis_base, jarvis_finetuned, jarvis_adapters, jarvis_score):
    prompts = ["monte le son", "ferme la fenetre"]
    base = jarvis_base.answer_many(prompts)
    tuned = jarvis_finetuned.answer_many(prompts)
    assert base != tuned  # the arms differ: the adapter is active in one only
    assert jarvis_finetuned.answer("monte le son") == tuned[0]  # the same greedy answer, from the cache
    assert list(jarvis_adapters) == [jarvis_finetuned.name]
    assert jarvis_score("volume_up", ["volume_up"], "monte le son").relevance == 1.0

def test_that_fails(jarvis_finetuned):
    answer = jarvis_finetuned.answer("coupe le son")
    assert answer == "volume_mute"
"""


@pytest.fixture
def bench(pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path):
    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest(
            f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={tiny_adapter_dir}", "--jarvis-quant=none",
            "--jarvis-max-new-tokens=6", f"--jarvis-cache-dir={pytester.path / 'cache'}", "--jarvis-assert=none",
            "-p", "no:cacheprovider", *args,
        )  # fmt: skip

    return run


def test_own_tests_share_the_models_and_are_reported_apart(bench, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=TEST_FILE, test_own=OWN_TESTS)
    result = bench("-m", "jarvis")
    result.assert_outcomes(passed=31, failed=1)
    # A failing own test shows the prompt and both arms' answers, like a suite case.
    result.stdout.fnmatch_lines(
        ["*jarvis answers*", "prompt:     'coupe le son'", "  base:*", "  fine-tuned:*"]
    )  # fmt: skip
    data = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
    checks = {c["name"].split("::")[-1]: c for c in data["custom_checks"]}
    assert checks["test_answers_come_from_the_same_models"]["outcome"] == "passed"
    assert checks["test_that_fails"]["outcome"] == "failed" and "volume_mute" in checks["test_that_fails"]["message"]
    assert data["statistics"]["overall"]["n_cases"] == 30, "own tests are not suite cases"
    text = (pytester.path / "reports" / "benchmark_report.txt").read_text()
    assert (
        "CUSTOM CHECKS (2: your own tests on the same models" in text and "FAILED  test_own.py::test_that_fails" in text
    )
    result.stdout.fnmatch_lines(["custom checks: 2 (1 passed, 1 failed); not part of the statistics or the gate"])


def test_mixing_own_tests_adds_no_generate_call_for_the_suite(bench, pytester: pytest.Pytester) -> None:
    """The suite's 30 cases are answered in the same batches with or without own tests beside them."""
    pytester.makepyfile(test_bench=TEST_FILE)
    alone = bench("-m", "jarvis", "--jarvis-no-cache")
    assert alone.ret == 0
    suite_calls = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())["metadata"]
    pytester.makepyfile(test_own="def test_one(jarvis_finetuned):\n    jarvis_finetuned.answer('allume')\n")
    mixed = bench("-m", "jarvis", "--jarvis-no-cache")
    assert mixed.ret == 0
    meta = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())["metadata"]
    assert suite_calls["n_generate_calls"] == 2
    assert meta["n_generate_calls"] == 3, "the suite's two batches, plus one for the own test's prompt"


def test_not_jarvis_never_loads_a_model_for_own_tests(bench, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_own=OWN_TESTS, test_unit="def test_unit():\n    assert True\n")
    result = bench("-m", "not jarvis")
    result.assert_outcomes(passed=1, deselected=2)
    assert "jarvis answers" not in result.stdout.str() and not (pytester.path / "reports").exists()
    only_own = bench("-m", "jarvis", "-k", "same_models")
    only_own.assert_outcomes(passed=1, deselected=2)
    only_own.stdout.fnmatch_lines(["note: no suite case ran: no report and no gate; custom checks: 1 passed"])
    assert only_own.ret == 0


def test_the_shipped_example_runs_on_the_tiny_model(bench, pytester: pytest.Pytester) -> None:
    """The example's checks are real: on a random tiny model they run, and some fail with the evidence."""
    pytester.makepyfile(test_my_jarvis_checks=EXAMPLE.read_text(encoding="utf-8"))
    result = bench("-m", "jarvis")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 3, result.stdout.str()
    assert "error" not in outcomes
    if outcomes.get("failed"):
        result.stdout.fnmatch_lines(["*jarvis answers*", "prompt:*"])
