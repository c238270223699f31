"""Task success (``evals.runtime.verdict.judge``) against the hand-labelled task corpus, in ``validate-metric``."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from evals.cli import main
from evals.cli.validate_metric import (
    DEFAULT_TASK_LABELS,
    LabelsError,
    judge_tasks,
    read_task_labels,
    task_agreement_line,
    task_disagreement_lines,
)
from evals.suite import load_suite

CORPUS = Path(__file__).parent / "data" / "task_labels.tsv"
MIN_AGREEMENT = 0.97
HEADER = "prompt\texpected_tools\tsetup\thistory\texpect\tanswer\tlabel"
TASK_LINE = re.compile(r"^task-success agreement: (\d+)/(\d+) = \d+\.\d %$")
LAST_LINE = re.compile(r"^agreement: (\d+)/(\d+) = \d+\.\d %$")


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def test_the_default_task_corpus_is_the_shipped_one() -> None:
    assert CORPUS.resolve() == DEFAULT_TASK_LABELS


def test_the_shipped_corpus_has_the_promised_coverage(suite) -> None:
    rows = read_task_labels(CORPUS, suite.tool_ids)
    assert len(rows) >= 170
    labels = Counter(r.label for r in rows)
    assert labels[1] >= 50 and labels[0] >= 50
    notes = [line.split("\t")[-1] for line in CORPUS.read_text(encoding="utf-8").splitlines()[1:] if line]
    real = [n for n in notes if n.startswith(("real_base", "real_lora"))]
    assert len(real) >= 60
    assert sum(1 for r in rows if not r.expected_tools) >= 10  # requests where nothing is to be done
    assert sum(1 for r in rows if r.history) >= 10  # follow-ups
    assert sum(1 for r in rows if len(r.expected_tools) == 2) >= 10  # two-tool requests


def test_the_rule_agrees_with_the_task_labels(suite) -> None:
    """Labels were written before the rule ran; a failure lists every disagreement."""
    judged = judge_tasks(read_task_labels(CORPUS, suite.tool_ids), suite)
    agree = sum(1 for j in judged if j.agrees)
    report = "\n".join([*task_disagreement_lines(judged), task_agreement_line(judged)])
    print(report)
    assert agree / len(judged) >= MIN_AGREEMENT, report


def test_validate_metric_reports_both_agreements_on_the_shipped_files(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-metric"]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    assert TASK_LINE.match(lines[-2]), lines[-2]
    assert any(line.startswith("task success: ") and str(CORPUS.name) in line for line in lines)
    assert lines.count("confusion matrix (rows: label, columns: rule):") == 1
    assert lines.count("confusion matrix (rows: label, columns: metric):") == 1


def _tsv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "task.tsv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_a_task_file_gives_its_matrix_and_every_disagreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _tsv(
        tmp_path,
        'ouvre chrome\topen_app\t\t\t{"apps_open":["chrome"]}\topen_app(app="chrome") — J\'ouvre Chrome.\t1',
        'ouvre chrome\topen_app\t\t\t{"apps_open":["chrome"]}\tJ\'ouvre Chrome.\t1',  # no call labelled 1
        "merci\t\t\t\tnothing\tDe rien.\t1",
        'encore\tvolume_up\t{"volume":50}\t[{"role":"user","content":"monte le son"},'
        '{"role":"assistant","content":"volume_up(step=10)"}]\t{"volume":70}\tvolume_up(step=10)\t1',
    )
    assert main(["validate-metric", "--task-labels", str(path)]) == 0  # no minimum: never fails
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert lines[-2] == "task-success agreement: 3/4 = 75.0 %"
    assert "  label 1          3           1" in lines
    assert "  label 0          0           0" in lines
    assert any(line.startswith("  line 3: label 1, rule 0 (") for line in lines)
    assert "    answer:   J'ouvre Chrome." in lines
    assert main(["validate-metric", "--task-labels", str(path), "--min-agreement", "0.97"]) == 1
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert lines[-3] == "minimum agreement 97.0 %: relevance reached, task success NOT reached"


def test_without_task_labels_or_with_another_suite_relevance_stands_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["validate-metric", "--no-task-labels"]) == 0
    out = capsys.readouterr().out
    assert "task success" not in out and "task-success" not in out
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        'version: "1"\nsystem_prompt: x\n'
        "tools:\n  - {id: lights_on, description: Lights., phrases: [lumière allumée]}\n"
        "cases:\n  - {id: a, category: commands, prompt: allume, expected_tools: [lights_on], keywords: [x]}\n",
        encoding="utf-8",
    )
    labels = tmp_path / "labels.tsv"
    labels.write_text(
        "prompt\texpected_tools\tanswer\tlabel\nallume\tlights_on\tLumière allumée.\t1\n", encoding="utf-8"
    )
    assert main(["validate-metric", str(labels), "--suite", str(suite)]) == 0
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert lines[-1] == "agreement: 1/1 = 100.0 %"
    assert any(line.startswith("task success: not checked; the shipped task corpus") for line in lines)


GOOD = 'ouvre chrome\topen_app\t\t\t{"apps_open":["chrome"]}\topen_app(app="chrome")\t1'
BAD_ROWS = [
    pytest.param(
        ["prompt\texpected_tools\tsetup\texpect\tanswer\tlabel", "ouvre\topen_app\t\t{}\topen_app\t1"],
        "line 1: missing column(s) history",
        id="missing-column",
    ),
    pytest.param(
        [HEADER, 'ouvre chrome\topen_app\t{volume: 50}\t\t{"apps_open":["chrome"]}\topen_app(app="chrome")\t1'],
        "line 2: bad JSON in setup",
        id="bad-json-setup",
    ),
    pytest.param(
        [HEADER, 'ouvre chrome\topen_app\t\t[{"role":"user"\t{"apps_open":["chrome"]}\topen_app(app="chrome")\t1'],
        "line 2: bad JSON in history",
        id="bad-json-history",
    ),
    pytest.param(
        [HEADER, 'ouvre chrome\topen_app\t\t\t{apps_open: chrome}\topen_app(app="chrome")\t1'],
        "line 2: bad JSON in expect",
        id="bad-json-expect",
    ),
    pytest.param(
        [HEADER, GOOD, 'ouvre chrome\topen_appp\t\t\t{"apps_open":["chrome"]}\topen_app(app="chrome")\t1'],
        "line 3: unknown tool id(s) open_appp in expected_tools",
        id="unknown-tool",
    ),
    pytest.param(
        [HEADER, 'ouvre chrome\topen_app\t\t\t{"apps_opened":["chrome"]}\topen_app(app="chrome")\t1'],
        "line 2: bad expect: expect: unknown key 'apps_opened'",
        id="bad-expect-key",
    ),
    pytest.param(
        [HEADER, 'monte le son\tvolume_up\t\t\t{"volume":+10}\tvolume_up\t1'],
        "line 2: bad JSON in expect",
        id="unquoted-relative",
    ),
    pytest.param(
        [HEADER, 'monte le son\tvolume_up\t\t\t{"volume":-10}\tvolume_up\t1'],
        "line 2: bad expect: expect: volume: -10 is not a level",
        id="negative-level",
    ),
    pytest.param([HEADER, "ouvre chrome\topen_app\t\t\t\topen_app\t1"], "line 2: empty expect", id="empty-expect"),
    pytest.param(
        [HEADER, "ouvre chrome\topen_app\t\t\tnothing\topen_app\t1"],
        "line 2: expect nothing goes with an empty expected_tools",
        id="nothing-with-tools",
    ),
    pytest.param(
        [HEADER, 'merci\t\t\t\t{"volume":50}\tDe rien.\t1'],
        "line 2: expect nothing goes with an empty expected_tools",
        id="no-tool-with-expect",
    ),
    pytest.param(
        [HEADER, 'ouvre chrome\topen_app\t{"volum":50}\t\t{"apps_open":["chrome"]}\topen_app(app="chrome")\t1'],
        "line 2: bad setup: setup: unknown key 'volum'",
        id="bad-setup-key",
    ),
    pytest.param(
        [HEADER, 'ouvre chrome\topen_app\t\t[{"role":"robot","content":"x"}]\t{"apps_open":["chrome"]}\topen_app\t1'],
        "line 2: history turn 1 is not a turn",
        id="bad-turn",
    ),
    pytest.param(
        [HEADER, 'ouvre chrome\topen_app\t\t\t{"apps_open":["chrome"]}\topen_app(app="chrome")\toui'],
        "line 2: label 'oui' is not 0 or 1",
        id="bad-label",
    ),
    pytest.param([HEADER, "ouvre chrome\topen_app\t\t\tnothing"], "line 2: 5 fields, the header has 7", id="fields"),
    pytest.param([HEADER], "has no rows", id="no-rows"),
]


@pytest.mark.parametrize(("lines", "message"), BAD_ROWS)
def test_a_bad_task_file_is_one_line_naming_the_file_the_line_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], message: str
) -> None:
    path = tmp_path / "task.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabelsError):
        read_task_labels(path, load_suite().tool_ids)
    assert main(["validate-metric", "--task-labels", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"jarvis-evals validate-metric: error: labels file {path}")
    assert message in captured.err, captured.err
    assert "Traceback" not in captured.err


def test_a_missing_task_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "nope.tsv"
    assert main(["validate-metric", "--task-labels", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and "not found" in err, err
