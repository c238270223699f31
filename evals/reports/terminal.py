"""The jarvis-evals section of pytest's terminal summary: a compact table, the verdict, the gate, the files."""

from __future__ import annotations

from pathlib import Path

from evals.power import sentence as power_sentence
from evals.records import GateOutcome, Leaderboard, PairedBlock, PairedStats, Robustness, RunResults, Stats
from evals.reports.margins import drift_line
from evals.reports.margins import summary_line as margin_line
from evals.reports.stability import CLUSTERED
from evals.reports.stability import summary_line as stability_line
from evals.reports.task import FALSE_ACTIVATION, arrow, measured, share
from evals.verdict import category_stats, format_pct, verdict_of, weakest_category


def terminal_summary_lines(results: RunResults) -> list[str]:
    """Return a compact per-category table, a global row and the verdict line for pytest."""
    groups = category_stats(results)
    overall = results.summary().overall
    names = [*groups, "global"]
    width = max(len(n) for n in [*names, "category"])
    task = measured(results)
    header = f"{'category':<{width}}  {'n':>3}  {'relevance base -> ft':>20}"
    if task:  # task success and false activation next to relevance
        header += f"  {'task success base -> ft':>23}  {'false activation base -> ft':>27}"
    header += f"  {'keywords base -> ft':>19}  {'cosine':>6}"
    if overall.has_valid_call:  # metric version 2
        header += f"  {'valid call base -> ft':>21}"
    lines = [header]
    for name, s in [*groups.items(), ("global", overall)]:
        lines.append(_row(name, s, width, task))
    if overall.has_valid_call:
        lines.append(
            f"refusals: base {overall.base.refusal}, fine-tuned {overall.finetuned.refusal}; "
            f"recited tool lists: base {overall.base.recited}, fine-tuned {overall.finetuned.recited}"
        )
    if task:
        lines.append(task_line(overall))
    if results.leaderboard is not None:
        lines.append(
            f"leaderboard ({len(results.leaderboard.rows)} adapters on one base; the table above is {results.metadata.adapter}):"
        )
        lines.extend(leaderboard_lines(results.leaderboard, primary=results.primary))
    weakest = weakest_category(results)
    lines.append(
        f"verdict: {verdict_of(overall).upper()} (relevance "
        f"{format_pct(overall.relevance_gain_pct, overall.finetuned.relevance)}, "
        f"{overall.regressions} regression(s); weakest category: {weakest or 'none'})"
    )
    return lines


def robustness_lines(rob: Robustness) -> list[str]:
    """Return relevance per noise level and arm, the robustness scores and the paired test, one line each."""
    by_level: dict[int, dict[str, float]] = {}
    for p in rob.points:
        by_level.setdefault(p.level, {})[p.arm] = p.relevance
    levels = ", ".join(
        f"L{lv} {arms.get('base', 0.0):.3f} -> {arms.get('finetuned', 0.0):.3f}"
        for lv, arms in sorted(by_level.items())
    )
    scores = ", ".join(f"{arm} {'n/a' if v is None else f'{v:.3f}'}" for arm, v in rob.score.items())
    s = rob.slower
    return [
        f"robustness, relevance base -> ft per noise level: {levels}",
        f"robustness score (area under the curve / level 0): {scores}; base's drop minus fine-tune's "
        f"{s.mean_diff:+.3f} 95% CI [{s.ci_low:+.3f}, {s.ci_high:+.3f}], sign test p={s.sign_test_p:.3g}: "
        f"{rob.verdict()}",
    ]


def leaderboard_lines(board: Leaderboard, primary: str = "") -> list[str]:
    """Return the leaderboard as an aligned table and the best-vs-runner-up sentence."""
    headers = ["rank", "adapter", "relevance", "keywords", "valid call", "vs base (95% CI)", "sign p", "wins/losses"]
    rows = [
        [
            str(r.rank),
            r.name + (" *" if r.name == primary else ""),
            f"{r.avg_relevance:.3f}",
            f"{r.avg_keyword_match:.3f}",
            "-" if r.avg_valid_call is None else f"{r.avg_valid_call:.3f}",
            f"{r.vs_base.mean_diff:+.3f} [{r.vs_base.ci_low:+.3f}, {r.vs_base.ci_high:+.3f}]",
            f"{r.vs_base.sign_test_p:.2g}",
            f"{r.vs_base.wins}/{r.vs_base.losses}",
        ]
        for r in board.rows
    ]
    if any(r.avg_task_success is not None for r in board.rows):  # after relevance
        headers.insert(3, "task success")
        for row, r in zip(rows, board.rows, strict=True):
            row.insert(3, share(r.avg_task_success))
    if board.rows and board.best.metric != "relevance":  # what vs base compares
        headers[headers.index("vs base (95% CI)")] = f"vs base, {board.best.metric.replace('_', ' ')} (95% CI)"
    widths = [max(len(h), *(len(row[i]) for row in rows)) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.append(("* primary adapter; " if primary else "") + board.verdict())
    return lines


def task_line(s: Stats) -> str:
    """One line: every runtime metric of both arms, with the counts they are measured on."""
    b, f = s.base, s.finetuned
    line = (
        f"task success: base {share(b.task_success)}, fine-tuned {share(f.task_success)} "
        f"({f.n_task or b.n_task} cases); tool names ok: {arrow(b.tool_names_ok, f.tool_names_ok)}; "
        f"arguments ok: {arrow(b.arguments_ok, f.arguments_ok)}"
    )
    if b.false_activation is not None or f.false_activation is not None:
        line += (
            f"; {FALSE_ACTIVATION}: base {share(b.false_activation)}, fine-tuned {share(f.false_activation)} "
            f"({f.n_no_tool or b.n_no_tool} no-tool cases, lower is better)"
        )
    return line


def _row(name: str, s: Stats, width: int, task: bool = False) -> str:
    rel = f"{s.base.relevance:.3f} -> {s.finetuned.relevance:.3f}"
    kw = f"{s.base.keyword_match:.3f} -> {s.finetuned.keyword_match:.3f}"
    row = f"{name:<{width}}  {s.n_cases:>3}  {rel:>20}"
    if task:
        ts = arrow(s.base.task_success, s.finetuned.task_success)
        fa = arrow(s.base.false_activation, s.finetuned.false_activation)
        row += f"  {ts:>23}  {fa:>27}"
    row += f"  {kw:>19}  {s.cosine_similarity:>6.3f}"
    if s.base.valid_call is not None and s.finetuned.valid_call is not None:
        row += f"  {f'{s.base.valid_call:.3f} -> {s.finetuned.valid_call:.3f}':>21}"
    return row


def _paired_line(metric: str, paired: PairedBlock, extra: str = "") -> str:
    return (
        f"paired {metric} diff (fine-tuned - base): {paired.mean_diff:+.3f} "
        f"95% CI [{paired.ci_low:+.3f}, {paired.ci_high:+.3f}], sign test p={paired.sign_test_p:.3g} "
        f"({'significant' if paired.significant else 'not significant'} at 5%{extra})"
    )


def _clustered(paired: PairedStats) -> str:
    return f", CI {CLUSTERED}" if paired.clustered else ""


def summary_lines(
    results: RunResults | None, gate: GateOutcome | None, written: list[Path], notes: list[str]
) -> list[str]:
    """Return the lines of the terminal summary: table, verdict, paired stats, gate, files."""
    lines: list[str] = []
    if results is not None:
        lines.extend(terminal_summary_lines(results))
        if (paired_stats := results.paired_for()) is not None:
            lines.append(_paired_line("relevance", paired_stats.overall, _clustered(paired_stats)))
        if (task_stats := results.paired_task_for()) is not None:
            n = f", n={task_stats.overall.n}"
            lines.append(_paired_line("task success", task_stats.overall, n + _clustered(task_stats)))
        if (power := results.power_for()) is not None:
            lines.append(f"power: {power_sentence(power)}")
        if (stable := stability_line(results)) is not None:  # sampled answers only
            lines.append(f"stability: {stable}")
        if (margin := margin_line(results)) is not None:  # probed runs only
            lines.append(f"routing margin: {margin}")
        if (drift := drift_line(results)) is not None:  # full probed runs only
            lines.append(f"drift: {drift}")
        if results.robustness is not None:
            lines.extend(robustness_lines(results.robustness))
        meta = results.metadata
        lines.append(
            f"{len(results.pairs())} cases, {meta.n_generate_calls} generate calls, "
            f"{meta.n_cached_answers} answers from cache, generation {meta.generation_seconds:.1f}s"
        )
        lines.extend(f"warning: {w}" for w in results.warnings)
        if results.environment is not None:
            lines.append(f"notice: {results.environment.line}")
        if results.custom_checks:
            outcomes = [c.outcome for c in results.custom_checks]
            counts = ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))
            lines.append(f"custom checks: {len(outcomes)} ({counts}); not part of the statistics or the gate")
    if gate is not None:
        if gate.status != "no_baseline":
            lines.append(f"gate: {gate.status.upper()} ({gate.mode} mode, baseline {gate.baseline})")
        lines.extend(gate.reasons)  # one line per broken rule, each starting with "gate: "
    lines.extend(f"note: {n}" for n in notes)
    lines.extend(f"report: {p}" for p in written)
    return lines
