"""The text report's task-success parts: rows, the paired block, what each arm ran, the task failures.

Each part is added only when the run measures task success (``task.measured``), so a results
file of an earlier round renders exactly as it did.
"""

from __future__ import annotations

from evals.records import ArmScore, PairedStats, RunResults, ScoredCase, Stats
from evals.reports.task import (
    FALSE_ACTIVATION,
    call_text,
    expect_text,
    gain,
    outcome_word,
    share,
)
from evals.reports.text_blocks import section_title, wrap_lines
from evals.verdict import significance_sentence

METRICS_TEXT = (
    "task success = the answer's calls, run in the tool runtime from the case's state (after its "
    "history), leave the state the case expects and change nothing else; tool names = the calls are "
    "exactly the expected tools; arguments = the calls to expected tools pass their schemas; "
    "false activation = share of the cases where nothing should run in which a call ran or was "
    "attempted (lower is better)."
)


def header_lines(results: RunResults) -> tuple[list[str], list[str]]:
    """The bottom line's task-success sentence, and the runtime metrics' definitions."""
    s = results.summary().overall
    line = (
        f"Task success {share(s.base.task_success)} -> {share(s.finetuned.task_success)} "
        f"({gain(s.base.task_success, s.finetuned.task_success)}) over {s.finetuned.n_task or s.base.n_task} cases"
    )
    if s.base.false_activation is not None or s.finetuned.false_activation is not None:
        n = s.finetuned.n_no_tool or s.base.n_no_tool
        line += (
            f"; {FALSE_ACTIVATION} {share(s.base.false_activation)} -> {share(s.finetuned.false_activation)} "
            f"over {n} no-tool cases (lower is better)"
        )
    return wrap_lines(line + ".", indent=0), wrap_lines(METRICS_TEXT, indent=0)


def stats_rows(s: Stats) -> list[list[str]]:
    """The runtime's rows of a statistics block (metric, base, fine-tuned, gain, note)."""
    rows = []
    for label, name, note in (
        ("task success", "task_success", ""),
        ("tool names ok", "tool_names_ok", ""),
        ("arguments ok", "arguments_ok", ""),
        (FALSE_ACTIVATION, "false_activation", "lower is better"),
    ):
        base, tuned = getattr(s.base, name), getattr(s.finetuned, name)
        if base is not None or tuned is not None:
            rows.append([label, share(base), share(tuned), gain(base, tuned), note])
    return rows


def stats_lines(s: Stats) -> list[str]:
    """One line under a statistics block: how many cases each runtime metric is measured on."""
    arm = s.finetuned if s.finetuned.task_success is not None else s.base
    line = f"Task success measured on {arm.n_task} of {s.n_cases} cases (those with an expect:)"
    if arm.false_activation is not None:
        line += f"; false activation on the {arm.n_no_tool} where nothing should run"
    return wrap_lines(line + ".", indent=2)


def category_cells(s: Stats) -> list[str]:
    """Task success and false activation of both arms, for the BY CATEGORY table."""
    return [
        share(s.base.task_success),
        share(s.finetuned.task_success),
        share(s.base.false_activation),
        share(s.finetuned.false_activation),
    ]


CATEGORY_HEADERS = ["task base", "task ft", "fa base", "fa ft"]


def task_significance(paired: PairedStats) -> str:
    return significance_sentence(paired, "task success", "the fine-tune does fewer tasks right")


def verdict_fields(results: RunResults) -> list[tuple[str, str]]:
    s = results.summary().overall
    pairs = [
        (
            "Task success",
            f"{share(s.base.task_success)} -> {share(s.finetuned.task_success)} "
            f"({gain(s.base.task_success, s.finetuned.task_success)}) over {s.finetuned.n_task} cases",
        )
    ]
    if s.base.false_activation is not None or s.finetuned.false_activation is not None:
        pairs.append(
            (
                "False activation",
                f"{share(s.base.false_activation)} -> {share(s.finetuned.false_activation)} over "
                f"{s.finetuned.n_no_tool or s.base.n_no_tool} no-tool cases (lower is better)",
            )
        )
    return pairs


def context_fields(case: ScoredCase) -> list[tuple[str, str]]:
    """The turns before the prompt, one field each."""
    return [(f"History {i}", f"{t.role}: {t.content}") for i, t in enumerate(case.case.history, 1)]


def expect_fields(case: ScoredCase) -> list[tuple[str, str]]:
    out = []
    if case.case.expect is not None:
        out.append(("Expect", expect_text(case.case)))
    if case.base.task_success is not None or case.finetuned.task_success is not None:
        out.append(("Task success", f"base {outcome_word(case.base)}, fine-tuned {outcome_word(case.finetuned)}"))
    return out


def arm_fields(arm: ArmScore) -> list[tuple[str, str]]:
    """Under an arm's answer: what ran, the state it changed, and why the task failed."""
    if arm.task_success is None and not arm.executed:
        return []
    out = [("  ran", "; ".join(call_text(c) for c in arm.executed) or "nothing")]
    if arm.state_diff:
        out.append(("  state", "; ".join(arm.state_diff)))
    if arm.task_success == 0 and arm.unmet:
        out.append(("  unmet", "; ".join(arm.unmet)))
    return out


def failures(results: RunResults) -> list[ScoredCase]:
    """The cases whose fine-tuned answer failed its task, in run order."""
    return [c for c in results.pairs() if c.finetuned.task_success == 0]


def failures_title(n: int) -> list[str]:
    return section_title(f"TASK FAILURES ({n}: fine-tuned task success 0; what each arm ran, the state, why)")
