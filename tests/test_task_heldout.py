"""The held-out task corpus, tests/data/task_heldout.tsv: rows no task-success rule was fitted to.

Labelled by reading each row against tests/data/task_labels.README.md, committed, and only then
judged by ``evals.runtime.verdict.judge`` (docs/metrics.md gives the first and only measurement).
The floor below catches a broken rule; it is not a target to tune the rules towards.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from evals.cli import main
from evals.cli.validate_metric import judge_tasks, read_task_labels, task_agreement_line, task_disagreement_lines
from evals.suite import load_suite

HELDOUT = Path(__file__).parent / "data" / "task_heldout.tsv"
MIN_HELDOUT_AGREEMENT = 0.90


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def _notes() -> list[str]:
    lines = HELDOUT.read_text(encoding="utf-8").splitlines()
    return [line.split("\t")[-1] for line in lines[1:] if line]


def test_the_heldout_corpus_parses_in_validate_metric(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["validate-metric", "--task-labels", str(HELDOUT)])
    out = capsys.readouterr()
    assert status in (0, 1), out.out + out.err
    assert "Traceback" not in out.out + out.err
    assert any(line.startswith("task-success agreement: ") for line in out.out.splitlines())


def test_the_heldout_corpus_has_its_coverage(suite) -> None:
    rows = read_task_labels(HELDOUT, suite.tool_ids)
    assert len(rows) >= 100
    labels = Counter(r.label for r in rows)
    assert labels[1] >= 20 and labels[0] >= 20
    real = [n for n in _notes() if n.startswith(("real_base", "real_lora"))]
    assert len(real) >= 40
    assert sum(1 for r in rows if not r.expected_tools) >= 10  # requests where nothing is to be done
    assert sum(1 for r in rows if r.history) >= 10  # follow-ups
    assert sum(1 for r in rows if len(r.expected_tools) == 2) >= 5  # two-tool requests


def test_the_heldout_prompts_are_new(suite) -> None:
    shipped = Path(__file__).parent / "data" / "task_labels.tsv"
    seen = {line.split("\t")[0] for line in shipped.read_text(encoding="utf-8").splitlines()[1:] if line}
    suites = Path(__file__).parent.parent / "evals" / "suites"
    suite_prompts = {c.prompt for name in ("jarvis.yaml", "jarvis_full.yaml") for c in load_suite(suites / name).cases}
    held = {r.prompt for r in read_task_labels(HELDOUT, suite.tool_ids)}
    assert not held & seen
    assert not held & suite_prompts


def test_the_rule_agrees_with_the_heldout_labels(suite) -> None:
    """A floor, not a target: a failure lists every disagreement."""
    judged = judge_tasks(read_task_labels(HELDOUT, suite.tool_ids), suite)
    agree = sum(1 for j in judged if j.agrees)
    report = "\n".join([*task_disagreement_lines(judged), task_agreement_line(judged)])
    print(report)
    assert agree / len(judged) >= MIN_HELDOUT_AGREEMENT, report
