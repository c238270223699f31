"""``jarvis-evals validate-metric``: check the relevance metric against answers a person labelled.

LABELS.tsv is UTF-8, tab-separated, with one header row and no quoting. Columns ``prompt``,
``expected_tools`` (tool ids joined by commas), ``answer`` and ``label`` (1 = the answer routes
the request to the expected tools, 0 = it does not) are required; other columns are ignored,
except ``class``: when present, the agreement is also given per class. The metric routes an
answer when its relevance is at least 0.5. Rows are named by their line in the file (the
header is line 1).

The output is the confusion matrix, every disagreement, and as its last line
``agreement: K/N = P %``; the exit status is 1 when the agreement is below ``--min-agreement``.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.errors import JarvisError
from evals.metrics import METRIC_VERSION, ROUTED_THRESHOLD, iter_flags, score_answer
from evals.parsers import parse_fraction
from evals.records import ArmScore, Case, Suite
from evals.suite import load_suite

REQUIRED = ("prompt", "expected_tools", "answer", "label")
CLASS_COLUMN = "class"


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


def read_labels(path: str | Path, tool_ids: frozenset[str]) -> list[LabelledAnswer]:
    """Read a labels file; raise ``LabelsError`` naming the file and the line of the first bad row."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")  # a spreadsheet's BOM is not part of the first column's name
    except FileNotFoundError:
        raise LabelsError(f"labels file {path} not found: pass the path of a TSV with {', '.join(REQUIRED)}") from None
    except (OSError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise LabelsError(f"labels file {path} cannot be read ({reason}): it must be a UTF-8 text file") from None
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    header = lines[0].split("\t") if lines and lines[0].strip() else []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise LabelsError(
            f"labels file {path}, line 1: missing column(s) {', '.join(missing)}; "
            f"the header must name {', '.join(REQUIRED)}, separated by tabs"
        )
    duplicated = sorted({c for c in header if header.count(c) > 1})
    if duplicated:
        raise LabelsError(f"labels file {path}, line 1: column(s) {', '.join(duplicated)} appear twice; name each once")
    at = {name: header.index(name) for name in (*REQUIRED, CLASS_COLUMN) if name in header}
    known = ", ".join(sorted(tool_ids))
    rows: list[LabelledAnswer] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue  # blank lines (the file's last newline among them) are not rows
        where = f"labels file {path}, line {number}: "
        fields = line.split("\t")
        if len(fields) != len(header):
            raise LabelsError(
                f"{where}{len(fields)} fields, the header has {len(header)}; "
                "separate columns by exactly one tab and keep tabs out of the fields"
            )
        prompt, answer = fields[at["prompt"]].strip(), fields[at["answer"]].strip()
        if not prompt:
            raise LabelsError(f"{where}empty prompt; write the request the answer replies to")
        label = fields[at["label"]].strip()
        if label not in ("0", "1"):
            raise LabelsError(f"{where}label {label!r} is not 0 or 1 (1 = routes to the expected tools, 0 = does not)")
        expected = tuple(t.strip() for t in fields[at["expected_tools"]].split(",") if t.strip())
        if not expected:
            raise LabelsError(f"{where}no expected tool; list tool ids separated by commas")
        unknown = [t for t in expected if t not in tool_ids]
        if unknown:
            raise LabelsError(
                f"{where}unknown tool id(s) {', '.join(unknown)} in expected_tools; use ids of the suite ({known})"
            )
        label_class = fields[at[CLASS_COLUMN]].strip() if CLASS_COLUMN in at else None
        rows.append(LabelledAnswer(number, prompt, expected, answer, int(label), label_class))
    if not rows:
        raise LabelsError(f"labels file {path} has no rows: add one labelled answer per line under the header")
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


def report_lines(judged: Sequence[Judged], path: Path, suite: Suite, minimum: float | None) -> list[str]:
    """Return the whole report; its last line is the agreement."""
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
    classes = list(dict.fromkeys(j.row.label_class for j in judged if j.row.label_class is not None))
    if classes:
        lines += ["", "agreement per class:"]
        width = max(len(c) for c in classes)
        for name in classes:
            group = [j for j in judged if j.row.label_class == name]
            agree = sum(1 for j in group if j.agrees)
            lines.append(f"  {name:<{width}}  {agree:>3}/{len(group):<3} = {100 * agree / len(group):5.1f} %")
    disagreements = disagreement_lines(judged)
    lines += ["", f"disagreements ({sum(1 for j in judged if not j.agrees)}):", *(disagreements or ["  none"])]
    if minimum is not None:
        verdict = "reached" if agreement(judged) >= minimum else "NOT reached"
        lines += ["", f"minimum agreement {100 * minimum:.1f} %: {verdict}"]
    lines.append(agreement_line(judged))
    return lines


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "labels", type=Path, metavar="LABELS.tsv", help="tab-separated prompt, expected_tools, answer, label (0/1)"
    )
    parser.add_argument(
        "--suite", type=Path, default=None, help="suite YAML whose tools and lexicons score (default: shipped)"
    )
    parser.add_argument(
        "--min-agreement",
        type=parse_fraction,
        default=None,
        metavar="X",
        help="exit 1 when the agreement is below this fraction (e.g. 0.97)",
    )


def run(args: argparse.Namespace) -> int:
    suite = load_suite(args.suite)
    judged = judge(read_labels(args.labels, suite.tool_ids), suite)
    print("\n".join(report_lines(judged, args.labels, suite, args.min_agreement)))
    return 1 if args.min_agreement is not None and agreement(judged) < args.min_agreement else 0
