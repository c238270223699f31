"""The CI gate end to end: bless a good adapter, then a worse one must make pytest exit 1."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.test_plugin import TEST_FILE
from tests.tiny import make_trained_lora

SYSTEM = "Tu es JARVIS."
MINI_SUITE = f"""
name: mini
version: "1"
system_prompt: "{SYSTEM}"
tools:
  - {{id: open_app, description: Open an application., aliases: [ouvre l'application]}}
  - {{id: volume_up, description: Raise the volume., aliases: [monte le son]}}
cases:
  - {{id: cmd_firefox, category: commands, prompt: "ouvre firefox", expected_tools: [open_app], keywords: [open_app, firefox]}}
  - {{id: fix_chrome, category: corrections, prompt: "ouvres crom", intended: "ouvre chrome", expected_tools: [open_app], keywords: [open_app]}}
  - {{id: route_browser, category: routing, prompt: "lance le navigateur", expected_tools: [open_app], keywords: [open_app]}}
"""
PROMPTS = ["ouvre firefox", "ouvres crom", "lance le navigateur"]


@pytest.fixture(scope="module")
def good_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA trained to answer "open_app !" to the mini suite's prompts: relevance 1."""
    return make_trained_lora(tiny_model_dir, tmp_path_factory.mktemp("good"), "open_app !", PROMPTS, SYSTEM)


def test_bless_then_worse_adapter_fails_the_gate(
    pytester: pytest.Pytester, tiny_model_dir: Path, good_adapter: Path, tiny_adapter_dir: Path
) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    suite = pytester.path / "mini.yaml"
    suite.write_text(MINI_SUITE, encoding="utf-8")

    def run(adapter: Path, *extra: str) -> pytest.RunResult:
        return pytester.runpytest(
            "-m", "jarvis", f"--jarvis-suite={suite}", f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={adapter}",
            "--jarvis-quant=none", "--jarvis-max-new-tokens=12", "--jarvis-no-cache", "--jarvis-assert=none",
            "-p", "no:cacheprovider", *extra,
        )  # fmt: skip

    blessed = run(good_adapter, "--jarvis-save-baseline")
    assert blessed.ret == 0, blessed.stdout.str()
    from evals.gate.baseline import load_baseline

    blessed_bytes = (pytester.path / "reports" / "baseline.json").read_bytes()
    baseline = load_baseline(pytester.path / "reports" / "baseline.json")
    assert baseline is not None and baseline.statistics.overall.finetuned.relevance == pytest.approx(1.0)

    same = run(good_adapter)
    assert same.ret == 0
    same.stdout.fnmatch_lines(["*gate: PASSED*"])

    worse = run(tiny_adapter_dir)  # random LoRA: names no tool
    assert worse.ret == 1, worse.stdout.str()
    worse.assert_outcomes(passed=3)  # the per-prompt tests stay as they are; the gate fails the run
    worse.stdout.fnmatch_lines(["*gate: FAILED*", "*gate: *relevance*baseline*tolerance*"])
    results = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
    assert results["gate"]["status"] == "failed"
    assert (pytester.path / "reports" / "baseline.json").read_bytes() == blessed_bytes, "baseline untouched"


def test_no_case_executed_fails_the_gate(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    result = pytester.runpytest(
        "-m", "jarvis", "-k", "no_such_case", f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={tiny_adapter_dir}",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*gate: FAILED*", "*no JARVIS case ran*"])


@pytest.fixture
def copied_model(tiny_model_dir: Path, tmp_path: Path) -> Path:
    import shutil

    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


def _bless_on(pytester: pytest.Pytester, model: Path, adapter: Path) -> tuple[Any, Path]:
    pytester.makepyfile(test_bench=TEST_FILE)
    suite = pytester.path / "mini.yaml"
    suite.write_text(MINI_SUITE, encoding="utf-8")

    def run(*extra: str) -> pytest.RunResult:
        return pytester.runpytest(
            "-m", "jarvis", f"--jarvis-suite={suite}", f"--jarvis-model={model}", f"--jarvis-adapter={adapter}",
            "--jarvis-quant=none", "--jarvis-max-new-tokens=12", "--jarvis-assert=none", "-p", "no:cacheprovider",
            *extra,
        )  # fmt: skip

    blessed = run("--jarvis-save-baseline")
    assert blessed.ret == 0, blessed.stdout.str()
    return run, pytester.path / "reports" / "baseline.json"


def test_a_new_library_release_keeps_the_baseline_and_says_what_moved(
    pytester: pytest.Pytester, copied_model: Path, good_adapter: Path
) -> None:
    """Issue 22's fresh clone: only config.json's transformers_version and the package versions differ."""
    run, baseline_path = _bless_on(pytester, copied_model, good_adapter)
    config = json.loads((copied_model / "config.json").read_text(encoding="utf-8"))
    config["transformers_version"] = "4.0.0-another-release"
    (copied_model / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    baseline = json.loads(baseline_path.read_text(encoding="utf-8"))
    running = baseline["metadata"]["packages"]["transformers"]
    baseline["metadata"]["packages"]["transformers"] = "4.0.0"
    baseline_path.write_text(json.dumps(baseline), encoding="utf-8")

    again = run("--jarvis-no-cache")  # regenerate: the answers, not the metadata, decide
    assert again.ret == 0, again.stdout.str()
    notice = f"environment changed since the baseline: transformers 4.0.0 → {running}; 6/6 answers identical"
    again.stdout.fnmatch_lines(["*gate: PASSED*"])
    again.stdout.fnmatch_lines([f"*notice: {notice}*"])
    reports = pytester.path / "reports"
    assert notice in " ".join((reports / "benchmark_report.txt").read_text(encoding="utf-8").split())
    assert notice[1:] in (reports / "benchmark_report.html").read_text(encoding="utf-8")
    saved = json.loads((reports / "benchmark_results.json").read_text(encoding="utf-8"))
    assert saved["environment"]["compared"] == 6 and saved["environment"]["changed"] == []


def test_one_changed_weight_still_refuses_the_baseline(
    pytester: pytest.Pytester, copied_model: Path, good_adapter: Path
) -> None:
    from safetensors.torch import load_file, save_file

    run, baseline_path = _bless_on(pytester, copied_model, good_adapter)
    before = baseline_path.read_bytes()
    weights = copied_model / "model.safetensors"
    tensors = load_file(str(weights))
    name = sorted(tensors)[0]
    tensors[name] = tensors[name].clone()
    tensors[name].view(-1)[0] += 1.0  # one value
    save_file(tensors, str(weights), metadata={"format": "pt"})

    changed = run()
    assert changed.ret == 1, changed.stdout.str()
    changed.stdout.fnmatch_lines(
        ["*gate: FAILED*", "*made on another setup (model fingerprint dir2:* (baseline) vs dir2:*"]
    )
    assert baseline_path.read_bytes() == before
