"""Bad input end to end (issue 7): one clear line naming the file and the fix, and nothing lost.

Each case drives the plugin with pytester on the tiny Llama. Errors found before any answer
is generated are usage errors (exit 4, "ERROR: ..." on stderr); errors found while answering
are clean test failures; neither shows a Python traceback.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.test_gate_e2e import MINI_SUITE, PROMPTS, SYSTEM
from tests.test_plugin import TEST_FILE
from tests.tiny import make_llama, make_lora, make_trained_lora

REPORT_NAMES = ("benchmark_results.json", "benchmark_report.txt", "benchmark_results.csv", "benchmark_charts.png")


@pytest.fixture
def bench(pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path):
    """Return a function running the mini suite on the tiny model; keyword args override model/adapter/suite."""
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")

    def run(
        *args: str, model: Path = tiny_model_dir, adapter: Path = tiny_adapter_dir, suite: str = "mini.yaml", **kw
    ) -> pytest.RunResult:
        return pytester.runpytest(
            "-m", "jarvis", f"--jarvis-suite={suite}", f"--jarvis-model={model}", f"--jarvis-adapter={adapter}",
            "--jarvis-quant=none", "--jarvis-max-new-tokens=4", "--jarvis-no-cache", "--jarvis-assert=none",
            "-p", "no:cacheprovider", *args, **kw,
        )  # fmt: skip

    return run


def assert_usage_error(result: pytest.RunResult, folder: Path, message: str) -> None:
    """Exit 4, the message as one "ERROR: ..." line on stderr, no traceback, no test run, no report."""
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert not re.search(r"\b\d+ (passed|failed|errors?)\b", result.stdout.str()), "no test ran: nothing was generated"
    assert not (folder / "reports").exists()


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Return every file under ``folder`` (hidden ones included) with its bytes and mtime."""
    return {
        str(p.relative_to(folder)): (p.read_bytes(), p.stat().st_mtime_ns)
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# -- 1. adapter folder, config and weights ---------------------------------------------------


def test_adapter_config_invalid_json(bench, pytester: pytest.Pytester, tiny_adapter_dir: Path) -> None:
    adapter = pytester.path / "broken-config"
    shutil.copytree(tiny_adapter_dir, adapter)
    (adapter / "adapter_config.json").write_text("{ not json", encoding="utf-8")
    result = bench(adapter=adapter)
    assert_usage_error(
        result,
        pytester.path,
        f"adapter config {adapter / 'adapter_config.json'} is unreadable (*): re-save or retrain the adapter",
    )


def test_adapter_weights_truncated(bench, pytester: pytest.Pytester, tiny_adapter_dir: Path) -> None:
    adapter = pytester.path / "broken-weights"
    shutil.copytree(tiny_adapter_dir, adapter)
    weights = adapter / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    result = bench(adapter=adapter)
    assert_usage_error(
        result,
        pytester.path,
        f"adapter weights {weights} are corrupt (truncated tensor data): re-save or retrain the adapter",
    )


# -- 2. adapter trained for another base -------------------------------------------------------


@pytest.fixture(scope="module")
def foreign_adapter(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LoRA made on a tiny Llama of hidden size 32: its matrices do not fit the hidden-64 model."""
    other = make_llama(tmp_path_factory.mktemp("tiny-llama-32"), hidden=32)
    return make_lora(other, tmp_path_factory.mktemp("foreign-lora"))


def test_adapter_for_another_base_stops_the_run(
    bench, pytester: pytest.Pytester, foreign_adapter: Path, tiny_model_dir: Path
) -> None:
    earlier = pytester.path / "reports"
    earlier.mkdir()
    (earlier / "benchmark_results.json").write_text('{"earlier": true}\n', encoding="utf-8")
    before = snapshot(earlier)
    result = bench(adapter=foreign_adapter)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out  # a failed run, not an interrupted one
    result.assert_outcomes(errors=1)  # stops after the first case instead of repeating the line per case
    result.stdout.fnmatch_lines(
        [
            f"adapter {foreign_adapter} (trained for *tiny-llama-32*) does not fit model {tiny_model_dir}: "
            "model.layers.0.self_attn.q_proj.lora_A.weight is [[]4, 32[]] in the adapter but [[]4, 64[]] in the model; "
            "pass the adapter trained for this model",
            "note: no report was written: the run stopped on the error above; earlier reports and the baseline are untouched",
            "*jarvis-evals: stopping, the model cannot answer (see the error above)*",
        ]
    )
    # One error line, not one per case (the short summary repeats it, truncated or not when CI is set).
    assert sum(1 for line in out.splitlines() if line.startswith("adapter ")) == 1
    assert "Traceback" not in out and "During handling" not in out
    assert snapshot(earlier) == before, "earlier reports untouched"


def test_adapter_with_most_tensors_deleted_stops_the_run(
    bench, pytester: pytest.Pytester, tiny_adapter_dir: Path, tiny_model_dir: Path
) -> None:
    """peft only warns about missing LoRA tensors (they stay at zero): a damaged adapter must not pass as a weak one."""
    from safetensors.torch import load_file, save_file

    adapter = pytester.path / "partial"
    shutil.copytree(tiny_adapter_dir, adapter)
    weights = adapter / "adapter_model.safetensors"
    tensors = load_file(weights)
    kept = dict(sorted(tensors.items())[: len(tensors) // 10])  # 90 % of the tensors deleted
    save_file(kept, weights)
    result = bench(adapter=adapter)
    out = result.stdout.str()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, out
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(
        [
            f"adapter {adapter} does not match model {tiny_model_dir}: {len(kept)} of {len(tensors)} LoRA tensors "
            f"matched ({len(tensors) - len(kept)} missing from the adapter, 0 the model has no place for); "
            "pass the complete adapter trained for this model",
        ]
    )
    assert sum(1 for line in out.splitlines() if line.startswith("adapter ")) == 1
    assert "Traceback" not in out and "INSUFFICIENT" not in out and not (pytester.path / "reports").exists()


# -- 3. model folder without weights -------------------------------------------------------------


def test_model_folder_without_weights_fails_at_collection(
    bench, pytester: pytest.Pytester, tiny_model_dir: Path
) -> None:
    model = pytester.path / "no-weights"
    model.mkdir()
    for name in os.listdir(tiny_model_dir):
        if not name.endswith(".safetensors"):
            shutil.copy(tiny_model_dir / name, model / name)
    result = bench(model=model)
    assert_usage_error(
        result, pytester.path, f"model folder {model} has no weights (*): copy the weights there or pass another folder"
    )


# -- 4. suite file -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda s: s.replace("cases:", "cases: [", 1), "line 9, column 3: malformed YAML (*); fix the syntax there"),
        (
            lambda s: s.replace(
                "expected_tools: [open_app], keywords: [open_app, firefox]",
                "expected_tools: [open_ap], keywords: [firefox]",
            ),
            "case 'cmd_firefox': unknown tool id open_ap; add it to 'tools' or fix the spelling",
        ),
        (
            lambda s: s.replace("id: fix_chrome", "id: cmd_firefox"),
            "case 'cmd_firefox': duplicate case id; give each case a unique id",
        ),
    ],
    ids=["malformed", "unknown-tool", "duplicate-id"],
)
def test_bad_suite_is_a_usage_error(bench, pytester: pytest.Pytester, edit, message: str) -> None:
    suite = pytester.path / "bad.yaml"
    suite.write_text(edit(MINI_SUITE), encoding="utf-8")
    result = bench(suite="bad.yaml")
    assert_usage_error(result, pytester.path, f"suite file {suite}: {message}")


# -- 5. option values ----------------------------------------------------------------------------------


def test_bad_ini_value_names_the_ini_option(bench, pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\njarvis_max_new_tokens = lots\n")
    result = pytester.runpytest("-m", "jarvis", "-p", "no:cacheprovider")
    ini = pytester.path / "tox.ini"
    assert_usage_error(
        result,
        pytester.path,
        f"ini option jarvis_max_new_tokens = 'lots' in {ini}: 'lots' is not a whole number; fix it there or pass --jarvis-max-new-tokens",
    )


# -- 6. reports folder not writable --------------------------------------------------------------------


def test_unwritable_reports_folder_fails_before_generation(bench, pytester: pytest.Pytester) -> None:
    blocker = pytester.path / "a-file"
    blocker.write_text("not a folder\n", encoding="utf-8")
    result = bench(f"--jarvis-reports={blocker / 'sub'}")
    assert_usage_error(
        result,
        pytester.path,
        f"reports folder {blocker / 'sub'} is not writable ({blocker} is a file, not a folder): "
        "pass --jarvis-reports DIR with a writable folder",
    )


# -- 7. corrupt baseline ------------------------------------------------------------------------------------


def test_corrupt_baseline_fails_the_gate_and_stays_untouched(bench, pytester: pytest.Pytester) -> None:
    baseline = pytester.path / "reports" / "baseline.json"
    baseline.parent.mkdir()
    baseline.write_text('{"schema_version": 1, "cases": {', encoding="utf-8")
    before = baseline.read_bytes(), baseline.stat().st_mtime_ns
    result = bench()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    message = (
        f"gate: baseline {baseline} is corrupt (invalid JSON at line 1, column 33: Expecting property name enclosed "
        "in double quotes): re-bless it with --jarvis-save-baseline or restore it from git"
    )
    result.stdout.fnmatch_lines(["gate: FAILED *", message])
    assert result.stdout.str().count("is corrupt") == 1, "one line, not repeated as a note"
    assert (baseline.read_bytes(), baseline.stat().st_mtime_ns) == before, "the baseline is left untouched"

    # The fix the line gives works: re-blessing replaces the file and the run passes.
    blessed = bench("--jarvis-save-baseline")
    assert blessed.ret == 0, blessed.stdout.str()
    blessed.stdout.fnmatch_lines(
        [f"note: baseline {baseline} was unreadable; this run replaces it", f"note: baseline blessed: {baseline}"]
    )
    assert json.loads(baseline.read_text())["format_version"] == 2


# -- 8. an empty answer ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def silent_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA trained to answer end-of-sequence at once: the fine-tuned arm returns an empty answer."""
    return make_trained_lora(tiny_model_dir, tmp_path_factory.mktemp("silent"), "", PROMPTS, SYSTEM, steps=30)


def test_empty_answer_scores_zero(bench, pytester: pytest.Pytester, silent_adapter: Path) -> None:
    """Each empty answer scores 0; an arm that is all empty also fails the run (it compared nothing)."""
    result = bench(adapter=silent_adapter)
    assert result.ret == 1, result.stdout.str()
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["note: error: 3 of 3 fine-tuned answers are empty: nothing was compared*"])
    from evals.reports import load_results

    for case in load_results(pytester.path / "reports" / "benchmark_results.json").pairs():
        ft = case.finetuned
        assert ft.answer == "", ft
        assert ft.relevance == 0.0 and ft.keyword_match == 0.0
        assert case.base.answer != "" and case.cosine_similarity == 0.0


# -- 9. a prompt longer than the context ------------------------------------------------------------------------


def test_over_long_prompt_is_truncated_with_a_warning(bench, pytester: pytest.Pytester, tmp_path: Path) -> None:
    short = make_llama(tmp_path / "short-context", max_positions=128)
    adapter = make_lora(short, tmp_path / "short-lora")
    long_prompt = "monte le son " * 40
    suite = MINI_SUITE.replace('prompt: "lance le navigateur"', f'prompt: "{long_prompt.strip()}"')
    (pytester.path / "long.yaml").write_text(suite, encoding="utf-8")
    result = bench(model=short, adapter=adapter, suite="long.yaml")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=3)
    warning = "case route_browser: prompt longer than the model's context, truncated from the left"
    data = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
    assert data["warnings"] == [warning]
    result.stdout.fnmatch_lines([f"warning: {warning}"])


# -- 10. Ctrl-C during generation --------------------------------------------------------------------------------

# Patch the class the run will import: pytester's in-process runs re-import evals.generation,
# so the dotted-string form of setattr could reach a stale module object.
INTERRUPT = """
import pytest
from evals.backends.hf import BatchGenerator

@pytest.fixture(scope="session", autouse=True)
def ctrl_c_in_generation():
    def interrupted(self, texts, seeds=()):
        raise KeyboardInterrupt
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BatchGenerator, "__call__", interrupted)
        yield
"""


def test_ctrl_c_during_generation_loses_nothing(bench, pytester: pytest.Pytester) -> None:
    first = bench("--jarvis-save-baseline")
    assert first.ret == 0, first.stdout.str()
    reports = pytester.path / "reports"
    before = snapshot(reports)
    assert {*REPORT_NAMES, "baseline.json"} <= set(before)
    pytester.makeconftest(INTERRUPT)
    interrupted = bench("--jarvis-save-baseline", no_reraise_ctrlc=True)
    assert interrupted.ret == pytest.ExitCode.INTERRUPTED, interrupted.stdout.str()
    interrupted.stdout.fnmatch_lines(
        ["note: interrupted: no report was written; earlier reports and the baseline are untouched*"]
    )
    assert snapshot(reports) == before, "reports and baseline byte-identical, same mtimes"
    assert not list(reports.glob(".*.tmp")) and not list(reports.glob(".*"))


# -- 11. an interrupted training run ---------------------------------------------------------------------------------


def test_auto_detection_skips_a_final_folder_without_weights(tmp_path: Path, tiny_adapter_dir: Path) -> None:
    from evals.adapters import find_latest_adapter

    complete = tmp_path / "20240101-000000" / "final"
    shutil.copytree(tiny_adapter_dir, complete)
    os.utime(complete, (1, 1))  # the oldest
    half = tmp_path / "20240102-000000" / "final"  # newer, but only its config was written
    half.mkdir(parents=True)
    shutil.copy(tiny_adapter_dir / "adapter_config.json", half)
    # evals.train saves into a hidden temporary beside final/ and renames it: never a candidate.
    shutil.copytree(tiny_adapter_dir, tmp_path / "20240103-000000" / ".final-abc123")
    assert find_latest_adapter(tmp_path) == complete
    shutil.rmtree(complete)
    assert find_latest_adapter(tmp_path) is None, "a half-written final/ is never picked"
