"""The console script's dispatch and the set-up step the README's benchmark command relies on."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from evals.cli import main


def test_train_if_missing_keeps_an_existing_adapter(tmp_path: Path, tiny_adapter_dir: Path, capsys) -> None:
    final = tmp_path / "output" / "20260101-000000" / "final"
    shutil.copytree(tiny_adapter_dir, final)
    before = sorted(p.name for p in (tmp_path / "output").iterdir())
    assert main(["train", "--if-missing", "--output-dir", str(tmp_path / "output")]) == 0
    assert f"adapter found at {final}" in capsys.readouterr().out
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == before  # nothing trained


def test_unknown_subcommand_is_a_usage_error(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["fly"])
    assert exc.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


def test_the_project_runs_show_no_pytest_benchmark_header() -> None:
    """pytest-benchmark times benchmarks/ (make bench); the JARVIS runs keep its header and options out."""
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-m", "jarvis", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "tests collected" in done.stdout or "selected" in done.stdout
    assert "benchmark:" not in done.stdout and "benchmark-" not in done.stdout
    bench = subprocess.run(
        [sys.executable, "-m", "pytest", "-c", "benchmarks/pytest.ini", "benchmarks", "--collect-only", "-q"],
        cwd=root, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert bench.returncode == 0, bench.stdout + bench.stderr
    assert "bench_jarvis.py::test_cold_run" in bench.stdout and "test_cache_lookup_of_a_whole_run" in bench.stdout


def test_no_project_test_outside_the_suite_file_carries_a_marker() -> None:
    """The root conftest skips importing tests/test_*.py under `-m jarvis`: true only while they carry no marker."""
    import re

    allowed = {"parametrize", "skipif", "skip", "xfail", "filterwarnings", "usefixtures"}
    root = Path(__file__).resolve().parent
    found = {
        (path.name, name)
        for path in root.glob("test_*.py")
        if path.name != "test_jarvis.py"
        for groups in re.findall(r"pytest\.mark\.(\w+)|^(pytestmark) =", path.read_text(encoding="utf-8"), re.M)
        for name in groups
        if name and name not in allowed
    }
    assert found == set()
