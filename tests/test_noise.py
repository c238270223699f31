"""``jarvis-evals noise`` on the tiny model: greedy decoding is repeatable, so 0 answers differ."""

from __future__ import annotations

import json
from pathlib import Path

from evals.cli import main


def test_noise_floor_is_zero_for_greedy(tmp_path: Path, tiny_model_dir: Path, tiny_adapter_dir: Path, capsys) -> None:
    code = main(
        ["noise", "--model", str(tiny_model_dir), "--adapter", str(tiny_adapter_dir), "--quant", "none",
         "--max-new-tokens", "6", "--limit", "2", "--reports", str(tmp_path)]
    )  # fmt: skip
    assert code == 0
    data = json.loads((tmp_path / "noise.json").read_text())
    assert data["n_cases"] == 6  # 2 per category
    assert (data["base_differing"], data["finetuned_differing"], data["warning"]) == (0, 0, None)
    assert data["generate_calls"] == 4  # each arm twice, one batch each
    out = capsys.readouterr().out
    assert "base arm:       0 answer(s) differ" in out and "noise.json" in out


def test_reports_show_the_noise_floor_of_the_same_setup(pytester, tiny_model_dir: Path, tiny_adapter_dir: Path) -> None:
    from tests.test_plugin import TEST_FILE

    pytester.makepyfile(test_bench=TEST_FILE)
    reports = pytester.path / "reports"
    reports.mkdir()
    common = [
        f"--model={tiny_model_dir}",
        f"--adapter={tiny_adapter_dir}",
        "--quant=none",
        "--max-new-tokens=4",
        "--limit=1",
    ]
    assert main(["noise", *common, f"--reports={reports}"]) == 0
    result = pytester.runpytest(
        "-m", "jarvis", "-k", "cmd_open_chrome", f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={tiny_adapter_dir}",
        "--jarvis-quant=none", "--jarvis-max-new-tokens=4", "--jarvis-no-cache", "--jarvis-assert=none", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 0
    written = reports / "partial"  # a -k run: reports/partial/, the noise floor still read from reports/
    data = json.loads((written / "benchmark_results.json").read_text())
    assert data["noise"]["base_differing"] == 0 and data["noise"]["n_cases"] == 3
    assert "noise floor" in (written / "benchmark_report.txt").read_text().lower()
