"""``jarvis-evals compare``: what changed between two saved runs, per category and per case.

A case is listed as changed when its fine-tuned relevance changed (which includes the
"right tool" flag flipping: the fine-tuned answer names every expected tool), when its
regression status flipped (the base arm can move too, e.g. after a base-model change), or when
its fine-tuned task success changed (where both runs measure it).
"""

from __future__ import annotations

from dataclasses import dataclass

from evals.records import CATEGORIES, ArmScore, RunResults, ScoredCase, Stats
from evals.reports.text_blocks import WIDTH, field_lines, section_title, table_lines, wrap_lines


@dataclass(frozen=True)
class ScopeRow:
    """Mean fine-tuned relevance of one category (or 'global') in both runs."""

    scope: str
    n_a: int
    n_b: int
    relevance_a: float | None
    relevance_b: float | None
    # Mean fine-tuned task success; None where the run did not measure it (or the scope did not run).
    task_a: float | None = None
    task_b: float | None = None

    @property
    def difference(self) -> float | None:
        """B minus A; None when the scope ran in only one of the two runs."""
        if self.relevance_a is None or self.relevance_b is None:
            return None
        return self.relevance_b - self.relevance_a

    @property
    def task_difference(self) -> float | None:
        """B minus A of fine-tuned task success; None unless both runs measure it in this scope."""
        if self.task_a is None or self.task_b is None:
            return None
        return self.task_b - self.task_a


@dataclass(frozen=True)
class CaseChange:
    """One case whose per-case verdict differs between run A and run B."""

    a: ScoredCase
    b: ScoredCase
    reasons: tuple[str, ...]

    @property
    def id(self) -> str:
        return self.a.id

    @property
    def relevance_difference(self) -> float:
        return self.b.finetuned.relevance - self.a.finetuned.relevance


@dataclass(frozen=True)
class Comparison:
    """Everything that differs between two runs, A (before) and B (after)."""

    label_a: str
    label_b: str
    run_a: str
    run_b: str
    rows: tuple[ScopeRow, ...]
    changed: tuple[CaseChange, ...]
    only_in_a: tuple[str, ...]
    only_in_b: tuple[str, ...]
    n_common: int
    warnings: tuple[str, ...] = ()


def right_tool(arm: ArmScore) -> bool:
    """Whether an answer names every expected tool (extras only lower its relevance)."""
    return arm.relevance > 0 and not arm.tools_missing


def compare_runs(a: RunResults, b: RunResults, label_a: str = "A", label_b: str = "B") -> Comparison:
    """Compare run B with run A: per-scope fine-tuned relevance and the cases that changed."""
    cases_a = {c.id: c for c in a.pairs()}
    cases_b = {c.id: c for c in b.pairs()}
    common = [cid for cid in cases_a if cid in cases_b]
    changed = []
    for cid in common:
        reasons = _case_reasons(cases_a[cid], cases_b[cid])
        if reasons:
            changed.append(CaseChange(a=cases_a[cid], b=cases_b[cid], reasons=reasons))
    changed.sort(key=lambda ch: ch.relevance_difference)  # worst news first
    return Comparison(
        label_a=label_a,
        label_b=label_b,
        run_a=_describe(a),
        run_b=_describe(b),
        rows=_rows(a, b),
        changed=tuple(changed),
        only_in_a=tuple(cid for cid in cases_a if cid not in cases_b),
        only_in_b=tuple(cid for cid in cases_b if cid not in cases_a),
        n_common=len(common),
        warnings=_warnings(a, b, label_a, label_b),
    )


def render_comparison(c: Comparison) -> str:
    """Return the comparison as a text report ending with a newline."""
    lines = ["=" * WIDTH, f"JARVIS RUN COMPARISON: {c.label_b} vs {c.label_a}".center(WIDTH).rstrip(), "=" * WIDTH]
    lines += field_lines([(c.label_a, c.run_a), (c.label_b, c.run_b)])
    for warning in c.warnings:
        lines += wrap_lines(f"WARNING: {warning}", indent=2)
    lines.append("")
    lines += section_title(f"FINE-TUNED RELEVANCE ({c.label_b} minus {c.label_a})")
    rows = [
        [
            r.scope,
            _n(r.n_a, r.relevance_a),
            _rel(r.relevance_a),
            _n(r.n_b, r.relevance_b),
            _rel(r.relevance_b),
            "-" if r.difference is None else f"{r.difference:+.3f}",
        ]
        for r in c.rows
    ]
    headers = ["scope", f"n {c.label_a}", c.label_a, f"n {c.label_b}", c.label_b, "difference"]
    align = "lrrrrr"
    if any(r.task_difference is not None for r in c.rows):  # both runs measure task success
        headers += [f"task {c.label_a}", f"task {c.label_b}", "task diff"]
        align += "rrr"
        for row, r in zip(rows, c.rows, strict=True):
            row += [_rel(r.task_a), _rel(r.task_b), "-" if r.task_difference is None else f"{r.task_difference:+.3f}"]
    lines += table_lines(headers, rows, align)
    lines.append("")
    lines += section_title(f"CASES WHOSE VERDICT CHANGED ({len(c.changed)} of {c.n_common} common cases)")
    if not c.changed:
        lines.append("  None: every common case has the same fine-tuned relevance and regression status.")
    for i, ch in enumerate(c.changed, 1):
        lines += wrap_lines(f"{ch.id} ({ch.a.category}): {'; '.join(ch.reasons)}", indent=2, first=f"{i}. ")
        pairs = [("Prompt", ch.a.case.prompt), ("Expected", ", ".join(ch.a.case.expected_tools) or "none")]
        if ch.a.base.answer != ch.b.base.answer or ch.a.base.relevance != ch.b.base.relevance:
            pairs += [(f"Base {c.label_a}", _answer(ch.a.base)), (f"Base {c.label_b}", _answer(ch.b.base))]
        pairs += [
            (f"Fine-tuned {c.label_a}", _answer(ch.a.finetuned)),
            (f"Fine-tuned {c.label_b}", _answer(ch.b.finetuned)),
        ]
        lines += field_lines(pairs, indent=5)
    lines.append("")
    lines += section_title("CASES IN ONLY ONE RUN")
    for label, ids in ((c.label_a, c.only_in_a), (c.label_b, c.only_in_b)):
        lines.append(f"  Only in {label}: {len(ids)}")
        if ids:
            lines += wrap_lines(", ".join(ids), indent=4)
    return "\n".join(lines) + "\n"


# -- helpers ------------------------------------------------------------------------------


def _case_reasons(a: ScoredCase, b: ScoredCase) -> tuple[str, ...]:
    reasons = []
    if right_tool(a.finetuned) != right_tool(b.finetuned):
        reasons.append(f"right tool {_yes(right_tool(a.finetuned))} -> {_yes(right_tool(b.finetuned))}")
    if a.regression != b.regression:
        reasons.append(f"regression {_yes(a.regression)} -> {_yes(b.regression)}")
    if a.finetuned.relevance != b.finetuned.relevance:
        reasons.append(
            f"fine-tuned relevance {a.finetuned.relevance:.3f} -> {b.finetuned.relevance:.3f} "
            f"({b.finetuned.relevance - a.finetuned.relevance:+.3f})"
        )
    task_a, task_b = a.finetuned.task_success, b.finetuned.task_success
    if task_a is not None and task_b is not None and task_a != task_b:
        reasons.append(f"fine-tuned task success {task_a:g} -> {task_b:g}")
    return tuple(reasons)


def _rows(a: RunResults, b: RunResults) -> tuple[ScopeRow, ...]:
    cats_a, cats_b = a.summary().by_category, b.summary().by_category
    names = [c for c in CATEGORIES if c in cats_a or c in cats_b]
    names += sorted((set(cats_a) | set(cats_b)) - set(CATEGORIES))
    rows = [_row(name, cats_a.get(name), cats_b.get(name)) for name in names]
    rows.append(_row("global", a.summary().overall, b.summary().overall))
    return tuple(rows)


def _row(scope: str, sa: Stats | None, sb: Stats | None) -> ScopeRow:
    return ScopeRow(
        scope=scope,
        n_a=sa.n_cases if sa else 0,
        n_b=sb.n_cases if sb else 0,
        relevance_a=sa.finetuned.relevance if sa else None,
        relevance_b=sb.finetuned.relevance if sb else None,
        task_a=sa.finetuned.task_success if sa else None,
        task_b=sb.finetuned.task_success if sb else None,
    )


def _warnings(a: RunResults, b: RunResults, label_a: str, label_b: str) -> tuple[str, ...]:
    ma, mb = a.metadata, b.metadata
    out = []
    if ma.suite_version != mb.suite_version or ma.suite_name != mb.suite_name:
        out.append(
            f"the suites differ ({label_a}: {ma.suite_name} v{ma.suite_version}, {label_b}: {mb.suite_name} "
            f"v{mb.suite_version}): cases with the same id may not ask the same thing."
        )
    if ma.model != mb.model:
        out.append(f"the base models differ ({ma.model} vs {mb.model}): base answers are not comparable.")
    if ma.generation != mb.generation:
        out.append("the generation settings differ: part of the change may come from decoding, not the adapter.")
    if ma.partial or mb.partial:
        out.append("at least one run is partial: categories missing from a run show '-'.")
    return tuple(out)


def _describe(r: RunResults) -> str:
    m = r.metadata
    return (
        f"{m.model} + {m.adapter} ({m.quantization}, {m.device}), suite {m.suite_name} v{m.suite_version}, "
        f"{m.timestamp}, {r.summary().overall.n_cases} cases"
    )


def _answer(arm: ArmScore) -> str:
    text = " ".join(arm.answer.split()) or "(empty answer)"
    task = "" if arm.task_success is None else f"; task success {arm.task_success:g}"
    return f"{text}  [relevance {arm.relevance:.3f}{task}; tools named: {', '.join(arm.tools_named) or 'none'}]"


def _rel(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _n(n: int, value: float | None) -> str:
    return "-" if value is None else str(n)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"
