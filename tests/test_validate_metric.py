"""The relevance metric against the hand-labelled corpus, and ``jarvis-evals validate-metric``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evals.cli import main
from evals.cli.validate_metric import LabelsError, agreement_line, disagreement_lines, judge, read_labels
from evals.suite import load_suite

CORPUS = Path(__file__).parent / "data" / "relevance_labels.tsv"
MIN_AGREEMENT = 0.97
# Written and labelled blind; measured once with metric version 2 (114/120 = 95.0 %) before version 3
# was fitted to its disagreements, so it is no longer held out: this guards, it does not estimate.
HELDOUT = Path(__file__).parent / "data" / "relevance_heldout.tsv"
MIN_HELDOUT_AGREEMENT = 0.95
HEADER = "prompt\texpected_tools\tanswer\tlabel"
LAST_LINE = re.compile(r"^agreement: (\d+)/(\d+) = \d+\.\d %$")


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def test_the_metric_agrees_with_the_hand_labels(suite) -> None:
    """Labels were written before any metric ran; a failure lists every disagreement."""
    judged = judge(read_labels(CORPUS, suite.tool_ids), suite)
    agree = sum(1 for j in judged if j.agrees)
    report = "\n".join([*disagreement_lines(judged), agreement_line(judged)])
    print(report)
    assert len(judged) == 488
    assert agree / len(judged) >= MIN_AGREEMENT, report


def test_the_metric_agrees_with_the_blind_labels(suite) -> None:
    """The second corpus, labelled by someone who never saw the metric; a failure lists every disagreement."""
    judged = judge(read_labels(HELDOUT, suite.tool_ids), suite)
    agree = sum(1 for j in judged if j.agrees)
    report = "\n".join([*disagreement_lines(judged), agreement_line(judged)])
    print(report)
    assert len(judged) == 120
    assert agree / len(judged) >= MIN_HELDOUT_AGREEMENT, report


def test_the_shipped_corpus_passes_the_cli_gate(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate-metric", str(CORPUS), "--no-task-labels", "--min-agreement", str(MIN_AGREEMENT)]) == 0
    out = capsys.readouterr().out
    assert LAST_LINE.match(out.rstrip("\n").splitlines()[-1])
    assert "confusion matrix" in out and "agreement per class:" in out and "typo_id" in out


def _tsv(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "labels.tsv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def test_report_shows_the_matrix_every_disagreement_and_ends_with_the_agreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _tsv(
        tmp_path,
        "monte le son\tvolume_up\tvolume_up — ok\t1",
        "monte le son\tvolume_up\tMonte le son.\t1",  # an echo labelled 1: a disagreement
        "ferme la fenêtre\tclose_window\tJe ne peux pas.\t0",
    )
    assert main(["validate-metric", str(path), "--no-task-labels"]) == 0  # no minimum: never fails
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert lines[-1] == "agreement: 2/3 = 66.7 %"
    assert "  label 1          1           1" in lines
    assert "  label 0          0           1" in lines
    assert "disagreements (1):" in lines
    assert "  line 3: label 1, metric 0 (relevance 0.000; routed: none; flags: echo)" in lines
    assert "    answer:   Monte le son." in lines
    assert "agreement per class:" not in lines  # no class column


def test_below_the_minimum_exits_1_and_still_ends_with_the_agreement(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _tsv(tmp_path, "monte le son\tvolume_up\tvolume_up\t1", "monte le son\tvolume_up\tvolume_down\t1")
    assert main(["validate-metric", str(path), "--no-task-labels", "--min-agreement", "0.97"]) == 1
    lines = capsys.readouterr().out.rstrip("\n").splitlines()
    assert lines[-2:] == ["minimum agreement 97.0 %: NOT reached", "agreement: 1/2 = 50.0 %"]
    assert main(["validate-metric", str(path), "--no-task-labels", "--min-agreement", "0.5"]) == 0


def test_extra_columns_are_ignored_and_a_class_column_gives_agreement_per_class(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _tsv(
        tmp_path,
        "note\tmonte le son\tvolume_up\tvolume_up\t1\tcall",
        "x\tmonte le son\tvolume_up\tJe ne peux pas.\t1\trefusal",
        header="note\tprompt\texpected_tools\tanswer\tlabel\tclass",
    )
    assert main(["validate-metric", str(path), "--no-task-labels"]) == 0
    out = capsys.readouterr().out
    assert "  call       1/1   = 100.0 %" in out
    assert "  refusal    0/1   =   0.0 %" in out


def test_a_suite_can_be_given(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    suite = tmp_path / "suite.yaml"
    suite.write_text(
        'version: "1"\nsystem_prompt: x\n'
        "tools:\n  - {id: lights_on, description: Lights., phrases: [lumière allumée]}\n"
        "cases:\n  - {id: a, category: commands, prompt: allume, expected_tools: [lights_on], keywords: [x]}\n",
        encoding="utf-8",
    )
    path = _tsv(tmp_path, "allume\tlights_on\tLumière allumée.\t1", "allume\tlights_on\tlights_onn\t1")
    assert main(["validate-metric", str(path), "--suite", str(suite)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("agreement: 2/2 = 100.0 %")


BAD_ROWS = [
    pytest.param(
        [HEADER, "monte le son\tvolume_upp\tvolume_up\t1"],
        "line 2: unknown tool id(s) volume_upp in expected_tools",
        id="unknown-tool-id",
    ),
    pytest.param([HEADER, "monte le son\t\tvolume_up\t1"], "line 2: no expected tool", id="empty-expected-tools"),
    pytest.param(
        [HEADER, "monte le son\tvolume_up\tvolume_up\t1", "monte le son\tvolume_up\tvolume_up\toui"],
        "line 3: label 'oui' is not 0 or 1",
        id="label-not-0-or-1",
    ),
    pytest.param(
        [HEADER, "monte le son\tvolume_up\tvolume_up\t1\textra"],
        "line 2: 5 fields, the header has 4",
        id="too-many-fields",
    ),
    pytest.param([HEADER, "monte le son\tvolume_up\t1"], "line 2: 3 fields, the header has 4", id="too-few-fields"),
    pytest.param([HEADER, "\tvolume_up\tvolume_up\t1"], "line 2: empty prompt", id="empty-prompt"),
    pytest.param(
        ["prompt\texpected_tools\tanswer", "monte le son\tvolume_up\tvolume_up"],
        "line 1: missing column(s) label",
        id="missing-column",
    ),
    pytest.param(
        ["prompt,expected_tools,answer,label", "monte le son,volume_up,volume_up,1"],
        "line 1: missing column(s) prompt, expected_tools, answer, label",
        id="commas-not-tabs",
    ),
    pytest.param([f"{HEADER}\tlabel"], "line 1: column(s) label appear twice", id="duplicate-column"),
    pytest.param([HEADER], "has no rows", id="no-rows"),
]


@pytest.mark.parametrize(("lines", "message"), BAD_ROWS)
def test_a_bad_row_is_one_line_naming_the_file_and_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], lines: list[str], message: str
) -> None:
    path = tmp_path / "labels.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(LabelsError):
        read_labels(path, load_suite().tool_ids)
    assert main(["validate-metric", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith(f"jarvis-evals validate-metric: error: labels file {path}")
    assert message in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(lambda p: None, "not found", id="missing"),
        pytest.param(lambda p: p.write_bytes(b"prompt\t\xff\n"), "cannot be read", id="not-utf8"),
        pytest.param(lambda p: p.mkdir(), "cannot be read", id="directory"),
    ],
)
def test_an_unreadable_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str], make, message: str) -> None:
    path = tmp_path / "labels.tsv"
    make(path)
    assert main(["validate-metric", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and message in err, err


@pytest.mark.parametrize("value", ["1.5", "-0.1", "97%", "abc"])
def test_min_agreement_must_be_a_fraction(capsys: pytest.CaptureFixture[str], value: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(["validate-metric", str(CORPUS), "--min-agreement", value])
    assert info.value.code == 2
    assert "--min-agreement" in capsys.readouterr().err
