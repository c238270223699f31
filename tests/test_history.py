"""The run history: appended by full runs, safe with two writers, drawn by `jarvis-evals history`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.cli import main
from evals.history import HistoryRecord, append_history, read_history
from tests.test_gate_e2e import MINI_SUITE
from tests.test_plugin import TEST_FILE


def record(i: int, relevance: float = 0.5, blessed: bool = False, gate: str = "passed") -> HistoryRecord:
    return HistoryRecord(
        time=f"2026-12-0{1 + i % 9}T10:00:00+00:00",
        relevance=relevance,
        relevance_base=0.1,
        by_category={"commands": min(1.0, relevance + 0.1), "corrections": relevance, "routing": relevance - 0.1},
        suite="jarvis@1.2",
        metric_version="3",
        model="embedded:SmolLM2-135M-Instruct",
        commit=f"{i:040x}",
        gate=gate,
        blessed=blessed,
        n_cases=30,
    )


def test_a_record_round_trips_and_keeps_keys_of_a_later_version(tmp_path: Path) -> None:
    path = append_history(tmp_path / "h.jsonl", record(1))
    line = json.loads(path.read_text(encoding="utf-8"))
    line["mde"] = 0.14  # written by a later version
    path.write_text(json.dumps(line) + "\n" + "{not json\n" + '{"relevance": "x"}\n', encoding="utf-8")
    history = read_history(path)
    assert history.skipped == 2 and len(history.records) == 1
    assert history.records[0].extra == {"mde": 0.14}
    assert history.records[0].to_dict() == line


WRITER = """
import sys
from evals.history import HistoryRecord, append_history
for i in range(int(sys.argv[3])):
    append_history(sys.argv[1], HistoryRecord(time=sys.argv[2] + str(i), relevance=0.5, relevance_base=0.1,
        by_category={"routing": 0.5}, suite="s@1", metric_version="3", model="m" * 3000))
"""


def test_two_concurrent_writers_lose_and_interleave_nothing(tmp_path: Path) -> None:
    path = tmp_path / "history.jsonl"
    # Long lines (3 KB, past a pipe's atomic 512 bytes) from two processes at once.
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), name, "150"]) for name in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    history = read_history(path)
    assert history.skipped == 0 and len(history.records) == 300
    assert sorted(r.time for r in history.records) == sorted(f"{n}{i}" for n in "ab" for i in range(150))


def test_history_prints_a_table_and_draws_the_trend(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "history.jsonl"
    for i, (rel, blessed, gate) in enumerate(
        [
            (0.6, True, "passed"),
            (0.7, False, "passed"),
            (0.75, False, "passed"),
            (0.5, False, "failed"),
            (0.8, True, "passed"),
        ]
    ):
        append_history(path, record(i, rel, blessed, gate))
    assert main(["history", str(path), "--out", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["run", "time", "relevance", "base", "commands", "corrections", "routing", "gate"]
    assert len(out) == 1 + 5 + 1
    assert out[1].startswith("00000000 *") and "0.600" in out[1] and out[4].endswith("failed")
    chart = tmp_path / "out" / "history_trend.png"
    assert out[-1] == f"trend chart: {chart}" and chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["history", str(path), "--last", "2", "--out", str(tmp_path)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 2 + 1


def test_an_empty_history_is_one_line_saying_where_runs_append(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", str(tmp_path / "none.jsonl")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "holds no run yet" in err and "--jarvis-history" in err


def test_a_full_run_appends_one_record_and_partial_runs_none(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    suite = pytester.path / "mini.yaml"
    suite.write_text(MINI_SUITE, encoding="utf-8")

    def run(*extra: str) -> pytest.RunResult:
        return pytester.runpytest(
            "-m", "jarvis", f"--jarvis-suite={suite}", f"--jarvis-model={tiny_model_dir}",
            f"--jarvis-adapter={tiny_adapter_dir}", "--jarvis-quant=none", "--jarvis-max-new-tokens=8",
            "--jarvis-assert=none", "-p", "no:cacheprovider", *extra,
        )  # fmt: skip

    history = pytester.path / "reports" / "history.jsonl"
    assert run("--jarvis-save-baseline").ret == 0
    assert run("-k", "firefox").ret == 0  # partial: not a trend point
    assert run("--jarvis-history=none").ret == 0
    result = run()
    assert result.ret == 0
    result.stdout.fnmatch_lines([f"*history: one line appended to {history}*"])
    records = read_history(history).records
    assert [r.blessed for r in records] == [True, False]
    assert [r.gate for r in records] == ["no_baseline", "passed"]
    assert records[1].n_cases == 3 and set(records[1].by_category) == {"commands", "corrections", "routing"}
