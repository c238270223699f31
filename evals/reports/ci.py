"""Outputs for CI systems: a Markdown summary for GitHub Actions and per-case JUnit properties.

``markdown_summary`` is what a run appends to ``$GITHUB_STEP_SUMMARY``: the verdict, the
per-category table, the regressions and the gate. ``case_properties`` are the pairs a case's
test records with ``record_property``, so JUnit XML readers (GitLab, Jenkins) show its scores.
"""

from __future__ import annotations

import contextlib
import os
import re
from html import escape

from evals.power import sentence as power_sentence
from evals.records import RunResults, ScoredCase, Stats
from evals.reports.margins import drift_line
from evals.reports.margins import summary_line as margin_line
from evals.reports.stability import summary_line as stability_line
from evals.reports.task import gain, measured
from evals.verdict import category_stats, format_pct, regressions, significance_sentence, verdict_of

# Regressions listed in the summary; the HTML report has all of them.
MAX_REGRESSIONS = 25
_PROMPT_CHARS = 80
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|~#!])")


def markdown_summary(results: RunResults) -> str:
    """Return a GitHub-flavoured Markdown summary of a run, ending with a newline."""
    s = results.summary().overall
    m = results.metadata
    verdict = verdict_of(s)
    lines = [
        f"## JARVIS benchmark: {verdict.upper()}",
        "",
        f"**Relevance** {s.base.relevance:.3f} → {s.finetuned.relevance:.3f} "
        f"({s.relevance_gain:+.3f}, {_md(format_pct(s.relevance_gain_pct, s.finetuned.relevance))}) "
        f"over {s.n_cases} cases: {s.improvements} improved, {s.regressions} regressed.",
    ]
    if measured(results):
        lines += ["", _task_sentence(s)]
    if (paired := results.paired_for()) is not None:
        lines += ["", _md(significance_sentence(paired))]
    if (paired_task := results.paired_task_for()) is not None:
        from evals.reports.text_task import task_significance

        lines += ["", _md(task_significance(paired_task))]
    if (power := results.power_for()) is not None:
        lines += ["", f"**Power:** {_md(power_sentence(power))}."]
    if (stable := stability_line(results)) is not None:  # sampled answers only
        lines += ["", f"**Stability:** {_md(stable)}."]
    if (margin := margin_line(results)) is not None:  # probed runs only
        lines += ["", f"**Routing margin:** {_md(margin)}."]
    if (drift := drift_line(results)) is not None:  # full probed runs only
        lines += ["", f"**Drift:** {_md(drift)}."]
    lines += [
        "",
        f"Model {_code(m.model)} + adapter {_code(m.adapter)} ({_md(m.quantization)}, {_md(m.device)}), "
        f"suite {_md(m.suite_name)} v{_md(m.suite_version)}" + (" (partial run)" if m.partial else "") + ".",
    ]
    lines += ["", *_gate_lines(results)]
    for warning in results.warnings:
        lines += ["", f"> **Warning:** {_md(warning)}"]
    lines += ["", "### By category", "", *_category_table(results)]
    lines += ["", *_regression_lines(results)]
    return "\n".join(lines) + "\n"


def case_properties(scored: ScoredCase) -> list[tuple[str, object]]:
    """Return the (name, value) pairs a case's test records with ``record_property``."""
    props: list[tuple[str, object]] = [
        ("category", scored.category),
        ("expected_tools", ",".join(scored.case.expected_tools)),
        ("relevance_base", round(scored.base.relevance, 4)),
        ("relevance_finetuned", round(scored.finetuned.relevance, 4)),
        ("regression", scored.regression),
    ]
    for arm, score in (("base", scored.base), ("finetuned", scored.finetuned)):
        if score.valid_call is not None:  # metric version 2
            props.append((f"valid_call_{arm}", score.valid_call))
    for arm, score in (("base", scored.base), ("finetuned", scored.finetuned)):
        if score.task_success is not None:  # the case has an expect:
            props.append((f"task_success_{arm}", score.task_success))
        if score.false_activation is not None:  # nothing should run
            props.append((f"false_activation_{arm}", score.false_activation))
    props += [
        ("tools_named_base", ",".join(scored.base.tools_named)),
        ("tools_named_finetuned", ",".join(scored.finetuned.tools_named)),
    ]
    return props


# -- helpers ----------------------------------------------------------------------------------


def _gate_lines(results: RunResults) -> list[str]:
    gate = results.gate
    if gate is None:
        return ["**Quality gate:** not evaluated."]
    lines = [
        f"**Quality gate: {gate.status.replace('_', ' ')}** ({_md(gate.mode)} mode, baseline {_code(gate.baseline)})"
    ]
    if gate.reasons:
        lines.append("")
        lines += [f"- {_md(reason)}" for reason in gate.reasons]
    return lines


def _category_table(results: RunResults) -> list[str]:
    groups = category_stats(results)
    v2 = results.summary().overall.has_valid_call
    task = measured(results)
    headers = ["category", "n", "relevance base", "relevance fine-tuned", "gain"]
    if task:
        headers += [
            "task success base",
            "task success fine-tuned",
            "false activation base",
            "false activation fine-tuned",
        ]
    if v2:
        headers += ["valid call base", "valid call fine-tuned"]
    headers += ["regressed", "verdict"]

    def row(label: str, s: Stats) -> str:  # label is Markdown already
        cells = [
            str(s.n_cases),
            f"{s.base.relevance:.3f}",
            f"{s.finetuned.relevance:.3f}",
            f"{s.relevance_gain:+.3f}",
        ]
        if task:
            cells += [_share(s.base.task_success), _share(s.finetuned.task_success)]
            cells += [_share(s.base.false_activation), _share(s.finetuned.false_activation)]
        if v2:
            cells += [_share(s.base.valid_call), _share(s.finetuned.valid_call)]
        cells += [str(s.regressions), verdict_of(s)]
        return f"| {label} | " + " | ".join(_md(c) for c in cells) + " |"

    align = ["---"] + ["--:"] * (len(headers) - 2) + ["---"]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(align) + " |"]
    lines += [row(_md(name), s) for name, s in groups.items()]
    lines.append(row("**global**", results.summary().overall))
    return lines


def _regression_lines(results: RunResults) -> list[str]:
    regressed = regressions(results)
    lines = [f"### Regressions ({len(regressed)})", ""]
    if not regressed:
        return lines + ["None: the fine-tune is at least as relevant as the base model on every case."]
    lines += [
        "| case | category | relevance base → fine-tuned | tools named base → fine-tuned | prompt |",
        "| --- | --- | --: | --- | --- |",
    ]
    for c in regressed[:MAX_REGRESSIONS]:
        tools = f"{', '.join(c.base.tools_named) or 'none'} → {', '.join(c.finetuned.tools_named) or 'none'}"
        prompt = " ".join(c.case.prompt.split())
        if len(prompt) > _PROMPT_CHARS:
            prompt = prompt[: _PROMPT_CHARS - 1] + "…"
        rel = f"{c.base.relevance:.3f} → {c.finetuned.relevance:.3f}"
        lines.append(f"| {_code(c.id)} | {_md(c.category)} | {rel} | {_md(tools)} | {_md(prompt)} |")
    if len(regressed) > MAX_REGRESSIONS:
        lines += ["", f"… and {len(regressed) - MAX_REGRESSIONS} more: see the HTML report."]
    return lines


def _task_sentence(s: Stats) -> str:
    b, f = s.base, s.finetuned
    line = (
        f"**Task success** {_share(b.task_success)} → {_share(f.task_success)} "
        f"({gain(b.task_success, f.task_success)}) over {f.n_task or b.n_task} cases"
    )
    if b.false_activation is not None or f.false_activation is not None:
        line += (
            f"; **false activation** {_share(b.false_activation)} → {_share(f.false_activation)} over "
            f"{f.n_no_tool or b.n_no_tool} no-tool cases (lower is better)"
        )
    return line + "."


def _md(text: object) -> str:
    """Return text safe inside Markdown prose or a table cell: one line, HTML and Markdown escaped."""
    one_line = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", escape(one_line, quote=False))


def _code(text: object) -> str:
    """Return text as an inline code span (backticks and pipes would end it early: replaced)."""
    one_line = " ".join(str(text).split()).replace("`", "'").replace("|", "/")
    return f"`{one_line}`"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def append_step_summary(results: RunResults) -> None:
    """Append the run's summary to ``$GITHUB_STEP_SUMMARY`` when set (GitHub Actions shows it on the job's page).

    A summary that cannot be written costs nothing: the reports are the record.
    """
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        with contextlib.suppress(OSError), open(summary, "a", encoding="utf-8") as fh:
            fh.write(markdown_summary(results))
