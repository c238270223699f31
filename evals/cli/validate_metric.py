"""``jarvis-evals validate-metric``: check the relevance metric and task success against answers a person labelled.

LABELS.tsv is UTF-8, tab-separated, with one header row and no quoting. Columns ``prompt``,
``expected_tools`` (tool ids joined by commas), ``answer`` and ``label`` (1 = the answer routes
the request to the expected tools, 0 = it does not) are required; other columns are ignored,
except ``class``: when present, the agreement is also given per class. The metric routes an
answer when its relevance is at least 0.5. Rows are named by their line in the file (the
header is line 1).

Task success (``evals.runtime.verdict.judge``) is checked on a second file, TASK.tsv
(``--task-labels``, by default the shipped ``tests/data/task_labels.tsv``): the same columns plus
``setup``, ``history`` and ``expect`` (compact JSON; ``expect`` may be the word ``nothing``), where
``label`` 1 = running the answer's calls does what was asked. ``expected_tools`` may be empty (a
request where nothing is to be done, with ``expect`` nothing).

The output is, for each, the confusion matrix and every disagreement; then
``task-success agreement: K/N = P %`` and, as the last line, the relevance ``agreement: K/N = P %``.
The exit status is 1 when either agreement is below ``--min-agreement``.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.errors import JarvisError
from evals.metrics import METRIC_VERSION, ROUTED_THRESHOLD, iter_flags, score_answer
from evals.parsers import parse_fraction
from evals.records import ArmScore, Case, Suite, Turn
from evals.runtime.verdict import TaskScore
from evals.suite import load_suite

REQUIRED = ("prompt", "expected_tools", "answer", "label")
CLASS_COLUMN = "class"
TASK_REQUIRED = ("prompt", "expected_tools", "setup", "history", "expect", "answer", "label")
# The shipped corpora, next to the tests of a source checkout (absent from an installed wheel).
DATA = Path(__file__).resolve().parents[2] / "tests" / "data"
DEFAULT_LABELS = DATA / "relevance_labels.tsv"
DEFAULT_TASK_LABELS = DATA / "task_labels.tsv"
ROLES = ("user", "assistant", "tool")


class LabelsError(JarvisError, ValueError):
    """A labels file that cannot be used; the message names the file, the line and the fix."""


@dataclass(frozen=True)
class LabelledAnswer:
    """One row of a labels file: a request, the tools it needs, an answer and a person's label."""

    line: int
    prompt: str
    expected_tools: tuple[str, ...]
    answer: str
    label: int
    label_class: str | None = None


@dataclass(frozen=True)
class Judged:
    """A labelled answer with the metric's score of it."""

    row: LabelledAnswer
    score: ArmScore

    @property
    def routed(self) -> int:
        """1 when the metric says the answer routes the request (relevance >= 0.5), else 0."""
        return int(self.score.relevance >= ROUTED_THRESHOLD)

    @property
    def agrees(self) -> bool:
        return self.routed == self.row.label


def _read_table(path: Path, required: Sequence[str]) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Read a labels TSV: its header and its non-blank rows (line number, fields), checked for shape."""
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not part of the first column's name
    except FileNotFoundError:
        raise LabelsError(f"labels file {path} not found: pass the path of a TSV with {', '.join(required)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LabelsError(f"labels file {path} cannot be read ({reason}): it must be a UTF-8 text file") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    header = lines[0].split("\t") if lines and lines[0].strip() else []
    missing = [c for c in required if c not in header]
    if missing:
        raise LabelsError(
            f"labels file {path}, line 1: missing column(s) {', '.join(missing)}; "
            f"the header must name {', '.join(required)}, separated by tabs"
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise LabelsError(f"labels file {path}, line 1: column(s) {', '.join(duplicated)} appear twice; name each once")
    rows: list[tuple[int, list[str]]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue  # blank lines (the file's last newline among them) are not rows
        fields_ = line.split("\t")
        if len(fields_) != len(header):
            raise LabelsError(
                f"labels file {path}, line {number}: {len(fields_)} fields, the header has {len(header)}; "
                "separate columns by exactly one tab and keep tabs out of the fields"
            )
        rows.append((number, fields_))
    if not rows:
        raise LabelsError(f"labels file {path} has no rows: add one labelled answer per line under the header")
    return header, rows


def _label(where: str, value: str, meaning: str) -> int:
    label = value.strip()
    if label not in ("0", "1"):
        raise LabelsError(f"{where}label {label!r} is not 0 or 1 ({meaning})")
    return int(label)


def _tools(where: str, value: str, tool_ids: frozenset[str], allow_empty: bool = False) -> tuple[str, ...]:
    expected = tuple(t.strip() for t in value.split(",") if t.strip())
    if not expected and not allow_empty:
        raise LabelsError(f"{where}no expected tool; list tool ids separated by commas")
    unknown = [t for t in expected if t not in tool_ids]
    if unknown:
        known = ", ".join(sorted(tool_ids))
        raise LabelsError(
            f"{where}unknown tool id(s) {', '.join(unknown)} in expected_tools; use ids of the suite ({known})"
        )
    return expected


def read_labels(path: str | Path, tool_ids: frozenset[str]) -> list[LabelledAnswer]:
    """Read a labels file; raise ``LabelsError`` naming the file and the line of the first bad row."""
    path = Path(path)
    header, table = _read_table(path, REQUIRED)
    at = {name: header.index(name) for name in (*REQUIRED, CLASS_COLUMN) if name in header}
    rows: list[LabelledAnswer] = []
    for number, fields_ in table:
        where = f"labels file {path}, line {number}: "
        prompt, answer = fields_[at["prompt"]].strip(), fields_[at["answer"]].strip()
        if not prompt:
            raise LabelsError(f"{where}empty prompt; write the request the answer replies to")
        label = _label(where, fields_[at["label"]], "1 = routes to the expected tools, 0 = does not")
        expected = _tools(where, fields_[at["expected_tools"]], tool_ids)
        label_class = fields_[at[CLASS_COLUMN]].strip() if CLASS_COLUMN in at else None
        rows.append(LabelledAnswer(number, prompt, expected, answer, label, label_class))
    return rows


def judge(rows: Sequence[LabelledAnswer], suite: Suite) -> list[Judged]:
    """Score every labelled answer with the metric, against the suite's tools."""
    return [
        Judged(
            row,
            score_answer(
                row.answer,
                Case(
                    id=f"line{row.line}",
                    category="routing",
                    prompt=row.prompt,
                    expected_tools=row.expected_tools,
                    keywords=(),
                ),
                suite.tools,
            ),
        )
        for row in rows
    ]


def agreement(judged: Sequence[Judged]) -> float:
    """Return the share of labelled answers on which the metric and the label agree."""
    return sum(1 for j in judged if j.agrees) / len(judged)


def agreement_line(judged: Sequence[Judged]) -> str:
    agree = sum(1 for j in judged if j.agrees)
    return f"agreement: {agree}/{len(judged)} = {100 * agree / len(judged):.1f} %"


def disagreement_lines(judged: Sequence[Judged]) -> list[str]:
    """Return every disagreement: line, label, metric, relevance, routed tools, flags, then the row."""
    lines: list[str] = []
    for j in judged:
        if j.agrees:
            continue
        flags = ", ".join(iter_flags(j.score)) or "none"
        routed = ", ".join(j.score.tools_named) or "none"
        lines += [
            f"  line {j.row.line}: label {j.row.label}, metric {j.routed} (relevance {j.score.relevance:.3f}; "
            f"routed: {routed}; flags: {flags})",
            f"    prompt:   {j.row.prompt}",
            f"    expected: {', '.join(j.row.expected_tools)}",
            f"    answer:   {j.row.answer}",
        ]
    return lines


# -- task success -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TaskLabelledAnswer:
    """One row of a task labels file: a request in its context, an answer and a person's label."""

    line: int
    prompt: str
    expected_tools: tuple[str, ...]
    setup: Mapping[str, Any] | None
    history: tuple[Mapping[str, str], ...]
    expect: Any  # the JSON mapping, or the word "nothing"
    answer: str
    label: int
    label_class: str | None = None


@dataclass(frozen=True)
class TaskJudged:
    """A labelled answer with the rule's record of it (``evals.runtime.verdict.judge``)."""

    row: TaskLabelledAnswer
    score: TaskScore

    @property
    def success(self) -> int:
        return int(float(self.score.task_success or 0.0) >= 0.5)

    @property
    def agrees(self) -> bool:
        return self.success == self.row.label


def _json(where: str, column: str, value: str, fix: str) -> Any:
    try:
        return json.loads(value)
    except (ValueError, RecursionError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LabelsError(f"{where}bad JSON in {column} ({reason}); {fix}") from None


def _setup(where: str, value: str) -> Mapping[str, Any] | None:
    from evals.runtime import State

    if not value.strip():
        return None
    fix = 'write a compact JSON object of state fields, e.g. {"volume": 50}, or leave it empty'
    setup = _json(where, "setup", value, fix)
    if not isinstance(setup, dict):
        raise LabelsError(f"{where}setup must be a JSON object of state fields; {fix}")
    try:
        State.from_setup(setup)
    except ValueError as exc:
        raise LabelsError(f"{where}bad setup: {exc}") from None
    return setup


def _history(where: str, value: str) -> tuple[Mapping[str, str], ...]:
    if not value.strip():
        return ()
    fix = 'write a JSON list of {"role": "user"|"assistant"|"tool", "content": "..."}, or leave it empty'
    turns = _json(where, "history", value, fix)
    if not isinstance(turns, list):
        raise LabelsError(f"{where}history must be a JSON list of turns; {fix}")
    for i, turn in enumerate(turns):
        if (
            not isinstance(turn, dict)
            or set(turn) != {"role", "content"}
            or turn["role"] not in ROLES
            or not isinstance(turn["content"], str)
        ):
            raise LabelsError(f"{where}history turn {i + 1} is not a turn; {fix}")
    return tuple(turns)


def _expect(where: str, value: str, expected: tuple[str, ...]) -> Any:
    from evals.runtime import parse_expect

    text = value.strip()
    fix = "write the word nothing or a compact JSON object in the expect grammar (docs/runtime.md)"
    if not text:
        raise LabelsError(f"{where}empty expect; {fix}")
    expect = "nothing" if text == "nothing" else _json(where, "expect", text, fix)
    try:
        parse_expect(expect)
    except ValueError as exc:
        raise LabelsError(f"{where}bad expect: {exc}") from None
    if (expect == "nothing") != (not expected):
        raise LabelsError(
            f"{where}expect nothing goes with an empty expected_tools, and an empty expected_tools with expect "
            "nothing; make the two columns agree"
        )
    return expect


def read_task_labels(path: str | Path, tool_ids: frozenset[str]) -> list[TaskLabelledAnswer]:
    """Read a task labels file; raise ``LabelsError`` naming the file, the line and the fix of the first bad row."""
    path = Path(path)
    header, table = _read_table(path, TASK_REQUIRED)
    at = {name: header.index(name) for name in (*TASK_REQUIRED, CLASS_COLUMN) if name in header}
    rows: list[TaskLabelledAnswer] = []
    for number, fields_ in table:
        where = f"labels file {path}, line {number}: "
        prompt, answer = fields_[at["prompt"]].strip(), fields_[at["answer"]].strip()
        if not prompt:
            raise LabelsError(f"{where}empty prompt; write the request the answer replies to")
        label = _label(where, fields_[at["label"]], "1 = running the answer's calls does what was asked, 0 = not")
        expected = _tools(where, fields_[at["expected_tools"]], tool_ids, allow_empty=True)
        setup = _setup(where, fields_[at["setup"]])
        history = _history(where, fields_[at["history"]])
        expect = _expect(where, fields_[at["expect"]], expected)
        label_class = fields_[at[CLASS_COLUMN]].strip() if CLASS_COLUMN in at else None
        rows.append(TaskLabelledAnswer(number, prompt, expected, setup, history, expect, answer, label, label_class))
    return rows


def task_case(row: TaskLabelledAnswer) -> Case:
    """The suite case a task row stands for (category no_tool, follow_up or routing)."""
    category = "no_tool" if not row.expected_tools else "follow_up" if row.history else "routing"
    return Case(
        id=f"line{row.line}",
        category=category,
        prompt=row.prompt,
        expected_tools=row.expected_tools,
        keywords=(),
        setup=row.setup,
        expect=row.expect,
        history=tuple(Turn(turn["role"], turn["content"]) for turn in row.history),  # type: ignore[arg-type]
    )


def judge_tasks(rows: Sequence[TaskLabelledAnswer], suite: Suite) -> list[TaskJudged]:
    """Judge every labelled answer with the task-success rule, against the suite's tools."""
    from evals.runtime.verdict import judge as task_judge

    return [TaskJudged(row, task_judge(row.answer, task_case(row), suite)) for row in rows]


def task_agreement(judged: Sequence[TaskJudged]) -> float:
    return sum(1 for j in judged if j.agrees) / len(judged)


def task_agreement_line(judged: Sequence[TaskJudged]) -> str:
    agree = sum(1 for j in judged if j.agrees)
    return f"task-success agreement: {agree}/{len(judged)} = {100 * agree / len(judged):.1f} %"


def _compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _call_text(name: str, arguments: str) -> str:
    """``volume_up(step=10)`` from the JSON arguments the record keeps; free text as it was written."""
    try:
        value = json.loads(arguments)
    except ValueError:
        value = None
    if isinstance(value, dict):
        arguments = ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items())
    return f"{name}({arguments})"


def _why(score: TaskScore) -> str:
    """The rule's reasons: what ran (and how each call ended), what changed, what was unmet."""
    ran = "; ".join(
        f"{_call_text(c.name, c.arguments)} {'ok' if c.ok else c.error_kind or 'failed'}" for c in score.executed
    )
    parts = [f"ran: {ran or 'nothing'}"]
    if score.state_diff:
        parts.append(f"changed: {'; '.join(score.state_diff)}")
    if score.unmet:
        parts.append(f"unmet: {'; '.join(score.unmet)}")
    return "; ".join(parts)


def task_disagreement_lines(judged: Sequence[TaskJudged]) -> list[str]:
    """Every disagreement: line, label, rule and its reasons, then the row."""
    lines: list[str] = []
    for j in judged:
        if j.agrees:
            continue
        row = j.row
        lines += [
            f"  line {row.line}: label {row.label}, rule {j.success} ({_why(j.score)})",
            f"    prompt:   {row.prompt}",
            f"    expected: {', '.join(row.expected_tools) or '(no tool)'}",
        ]
        if row.setup:
            lines.append(f"    setup:    {_compact(row.setup)}")
        if row.history:
            lines.append(f"    history:  {_compact(list(row.history))}")
        lines += [f"    expect:   {_compact(row.expect)}", f"    answer:   {row.answer}"]
    return lines


def _per_class(judged: Sequence[Any]) -> list[str]:
    classes = list(dict.fromkeys(j.row.label_class for j in judged if j.row.label_class is not None))
    if not classes:
        return []
    lines = ["", "agreement per class:"]
    width = max(len(c) for c in classes)
    for name in classes:
        group = [j for j in judged if j.row.label_class == name]
        agree = sum(1 for j in group if j.agrees)
        lines.append(f"  {name:<{width}}  {agree:>3}/{len(group):<3} = {100 * agree / len(group):5.1f} %")
    return lines


def task_report_lines(judged: Sequence[TaskJudged], path: Path, suite: Suite) -> list[str]:
    """The task-success section: header, confusion matrix, agreement per class, disagreements."""
    count = {(label, success): 0 for label in (1, 0) for success in (1, 0)}
    for j in judged:
        count[(j.row.label, j.success)] += 1
    lines = [
        f"task success: {len(judged)} labelled answers in {path}; suite {suite.name} {suite.version}; "
        "rule evals.runtime.verdict.judge (success = task_success 1.0)",
        "",
        "confusion matrix (rows: label, columns: rule):",
        f"  {'':<8}  {'success':>8}  {'failure':>10}",
    ]
    for label, name in ((1, "label 1"), (0, "label 0")):
        lines.append(f"  {name:<8}  {count[(label, 1)]:>8}  {count[(label, 0)]:>10}")
    lines += _per_class(judged)
    disagreements = task_disagreement_lines(judged)
    lines += ["", f"disagreements ({sum(1 for j in judged if not j.agrees)}):", *(disagreements or ["  none"])]
    return lines


TaskSection = tuple[list[TaskJudged], Path] | str  # judged rows and their file, or why none were judged


def report_lines(
    judged: Sequence[Judged], path: Path, suite: Suite, minimum: float | None, task: TaskSection | None = None
) -> list[str]:
    """Return the whole report; its last line is the relevance agreement, the line before it task success's."""
    count = {(label, routed): 0 for label in (1, 0) for routed in (1, 0)}
    for j in judged:
        count[(j.row.label, j.routed)] += 1
    lines = [
        f"{len(judged)} labelled answers in {path}; suite {suite.name} {suite.version}; metric version "
        f"{METRIC_VERSION}; routed = relevance >= {ROUTED_THRESHOLD}",
        "",
        "confusion matrix (rows: label, columns: metric):",
        f"  {'':<8}  {'routed':>8}  {'not routed':>10}",
    ]
    for label, name in ((1, "label 1"), (0, "label 0")):
        lines.append(f"  {name:<8}  {count[(label, 1)]:>8}  {count[(label, 0)]:>10}")
    lines += _per_class(judged)
    disagreements = disagreement_lines(judged)
    lines += ["", f"disagreements ({sum(1 for j in judged if not j.agrees)}):", *(disagreements or ["  none"])]
    tasks = task[0] if isinstance(task, tuple) else None
    if isinstance(task, tuple):
        lines += ["", *task_report_lines(task[0], task[1], suite)]
    elif task:
        lines += ["", task]
    if minimum is not None:
        verdict = "reached" if agreement(judged) >= minimum else "NOT reached"
        if tasks is not None:
            task_verdict = "reached" if task_agreement(tasks) >= minimum else "NOT reached"
            verdict = f"relevance {verdict}, task success {task_verdict}"
        lines += ["", f"minimum agreement {100 * minimum:.1f} %: {verdict}"]
    if tasks is not None:
        lines.append(task_agreement_line(tasks))
    lines.append(agreement_line(judged))
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "labels",
        type=Path,
        nargs="?",
        default=DEFAULT_LABELS,
        metavar="LABELS.tsv",
        help="tab-separated prompt, expected_tools, answer, label (0/1) (default: the shipped relevance corpus)",
    )
    parser.add_argument(
        "--task-labels",
        type=Path,
        default=None,
        metavar="TASK.tsv",
        help="task-success labels: prompt, expected_tools, setup, history, expect, answer, label "
        "(default: the shipped tests/data/task_labels.tsv, with the shipped suite)",
    )
    parser.add_argument(
        "--no-task-labels", action="store_true", help="check relevance alone, without the task-success corpus"
    )
    parser.add_argument(
        "--suite", type=Path, default=None, help="suite YAML whose tools and lexicons score (default: shipped)"
    )
    parser.add_argument(
        "--min-agreement",
        type=parse_fraction,
        default=None,
        metavar="X",
        help="exit 1 when an agreement is below this fraction (e.g. 0.97)",
    )


def _task_section(args: argparse.Namespace, suite: Suite) -> TaskSection | None:
    """The task-success rows judged, or the line that says why there are none."""
    if args.no_task_labels:
        return None
    path = args.task_labels
    if path is None:
        if args.suite is not None:
            return (
                "task success: not checked; the shipped task corpus is written for the shipped suite "
                "(pass --task-labels TASK.tsv to check one with this suite)"
            )
        if not DEFAULT_TASK_LABELS.is_file():
            return f"task success: not checked; no {DEFAULT_TASK_LABELS} here (pass --task-labels TASK.tsv)"
        path = DEFAULT_TASK_LABELS
    return judge_tasks(read_task_labels(path, suite.tool_ids), suite), path


def run(args: argparse.Namespace) -> int:
    suite = load_suite(args.suite)
    rows = read_labels(args.labels, suite.tool_ids)
    task = _task_section(args, suite)  # a bad file is an error before anything is printed
    judged = judge(rows, suite)
    print("\n".join(report_lines(judged, args.labels, suite, args.min_agreement, task)))
    if args.min_agreement is None:
        return 0
    below = agreement(judged) < args.min_agreement
    if isinstance(task, tuple):
        below = below or task_agreement(task[0]) < args.min_agreement
    return 1 if below else 0
