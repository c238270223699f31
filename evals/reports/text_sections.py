"""The sections of the text report that later stages of a run add, and the leaderboard.

Warnings, environment, noise floor, paired statistics, robustness, baseline comparison and
quality gate each appear only when the run has them; ``later_sections`` returns them in the
report's order. The leaderboard appears only in runs of several adapters.
"""

from __future__ import annotations

from typing import Any

from evals.power import sentence as power_sentence
from evals.records import (
    METRIC_LABELS,
    BaselineBlock,
    BaselineComparison,
    GateOutcome,
    NoiseFloor,
    PairedBlock,
    PairedStats,
    PowerSection,
    Robustness,
    RunResults,
)
from evals.reports.margins import drift_lines
from evals.reports.margins import text_lines as margin_lines
from evals.reports.stability import CLUSTERED
from evals.reports.text_blocks import section_title, table_lines, wrap_lines
from evals.reports.text_stability import stability_lines
from evals.reports.text_task import task_significance
from evals.verdict import significance_sentence


def leaderboard_section(results: RunResults) -> list[str]:
    from evals.reports.terminal import leaderboard_lines

    assert results.leaderboard is not None
    board = results.leaderboard
    metric = METRIC_LABELS.get(board.best.metric, board.best.metric) if board.rows else "relevance"
    lines = section_title(
        f"LEADERBOARD ({len(board.rows)} adapters on the same base and cases; ranked by mean fine-tuned {metric})"
    )
    table = leaderboard_lines(board, primary=results.primary)
    lines += ["  " + line for line in table[:-1]]
    lines += wrap_lines(table[-1], indent=2)
    lines.append("  The statistics above and below describe the primary adapter (*).")
    return lines


def later_sections(results: RunResults) -> list[list[str]]:
    out = [_warnings_section(results)]
    if results.environment is not None:
        out.append([*section_title("ENVIRONMENT"), *wrap_lines(results.environment.line, indent=2, first="- ")])
    if results.noise is not None:
        out.append(_noise_section(results.noise))
    if (paired := results.paired_for()) is not None:
        out.append(_paired_section(paired))
    if (paired_task := results.paired_task_for()) is not None:
        out.append(_task_paired_section(paired_task))
    if (power := results.power_for()) is not None:
        out.append(_power_section(power, results.noise))
    out.append(stability_lines(results))  # empty for one answer per case
    out.append(margin_lines(results))  # empty when nothing was probed
    out.append(drift_lines(results))  # empty when drift was not measured
    if results.robustness is not None:
        out.append(_robustness_section(results.robustness))
    if (comparison := results.comparison_for()) is not None:
        out.append(_baseline_section(comparison))
    if results.gate is not None:
        out.append(_gate_section(results.gate))
    return out


def _warnings_section(results: RunResults) -> list[str]:
    """Render the run's warnings and a baseline that could not be read; empty when there are none."""
    items = list(results.warnings)
    if results.baseline_error:
        items.append(f"baseline not used: {results.baseline_error}")
    if not items:
        return []
    lines = section_title(f"WARNINGS ({len(items)})")
    for item in items:
        lines += wrap_lines(item, indent=2, first="- ")
    return lines


def _noise_section(noise: NoiseFloor) -> list[str]:
    lines = section_title("NOISE FLOOR (each arm generated twice on the same prompts)")
    lines.append(
        f"  Cases: {noise.n_cases}; answers that differ between the two generations: "
        f"base {noise.base_differing}, fine-tuned {noise.finetuned_differing}."
    )
    if noise.warning:
        lines += wrap_lines(f"WARNING: {noise.warning}", indent=2)
    else:
        lines.append("  Generation is deterministic: differences between the arms are not decoding noise.")
    return lines


def _robustness_section(rob: Robustness) -> list[str]:
    pct = f"{100 * rob.confidence:g} %"
    lines = section_title(
        f"ROBUSTNESS (speech-recognition noise, levels = edits per request; means over clean cases, "
        f"{pct} cluster-bootstrap CIs, {rob.resamples} resamples, seed {rob.seed})"
    )

    def ci(mean: float | None, low: float | None, high: float | None) -> str:
        return "n/a" if mean is None else f"{mean:.3f} [{low:.3f}, {high:.3f}]"

    rows = [
        [str(p.level), p.arm, str(p.n), str(p.variants), ci(p.relevance, p.relevance_low, p.relevance_high)]
        + [ci(p.valid_call, p.valid_call_low, p.valid_call_high)]
        for p in rob.points
    ]
    lines += table_lines(["level", "arm", "cases", "variants", "relevance", "valid call"], rows, align="llrrrr")
    scores = ", ".join(f"{arm} {'n/a' if v is None else f'{v:.3f}'}" for arm, v in rob.score.items())
    lines += wrap_lines(f"Robustness score (area under the relevance curve / level 0's): {scores}.", indent=2)
    s = rob.slower
    verdict = rob.verdict()
    lines += wrap_lines(
        f"Paired test (base's drop minus fine-tune's, per clean case; > 0: the fine-tune degrades more slowly): "
        f"mean {s.mean_diff:+.3f}, {pct} CI [{s.ci_low:+.3f}, {s.ci_high:+.3f}], sign test p={s.sign_test_p:.3g} "
        f"({s.wins}/{s.losses}/{s.ties} wins/losses/ties, n={s.n}): {verdict}.",
        indent=2,
    )
    return lines


def _paired_table(paired: PairedStats, title: str) -> list[str]:
    """A paired section's title and its table: one row per scope (global, then each category)."""
    clustered = f", {CLUSTERED}" if paired.clustered else ""
    lines = section_title(f"{title}; bootstrap {paired.resamples} resamples{clustered}, seed {paired.seed})")
    rows = [paired_row(scope, block) for scope, block in [("global", paired.overall), *paired.by_category.items()]]
    return lines + table_lines(
        ["scope", "n", "mean diff", f"{100 * paired.confidence:g} % CI", "sign p", "wins/losses/ties", "significant"],
        rows,
        align="lrrrrrl",
    )


def _paired_section(paired: PairedStats) -> list[str]:
    lines = _paired_table(paired, "PAIRED STATISTICS (fine-tuned minus base relevance per case")
    sentence = significance_sentence(paired)
    if sentence:
        lines += wrap_lines(sentence, indent=2)
    return lines


def _task_paired_section(paired: PairedStats) -> list[str]:
    """The TASK SUCCESS (paired) block: fine-tuned minus base task success per judged case."""
    lines = _paired_table(paired, "TASK SUCCESS (paired: fine-tuned minus base task success per judged case")
    return lines + wrap_lines(task_significance(paired), indent=2)


def _power_section(power: PowerSection, noise: NoiseFloor | None) -> list[str]:
    lines = section_title(
        f"POWER (the smallest drop of fine-tuned relevance this run would show as significant: sign test at "
        f"{100 * power.alpha:g} %, {100 * power.power:g} % power; a drop takes cases that score above 0 down to 0)"
    )
    rows = [
        [
            scope,
            str(b.n),
            str(b.can_drop),
            "none" if b.detectable_drop is None else f"{b.detectable_drop:.3f}",
            f"{100 * b.miss_at_example:.1f} %",
            "-" if b.cases_for_tolerance is None else str(b.cases_for_tolerance),
        ]
        for scope, b in [("global", power.overall), *power.by_category.items()]
    ]
    lines += table_lines(
        [
            "scope",
            "n",
            "can drop",
            "detectable drop",
            f"a drop of {power.example_drop:g} missed",
            "cases for tolerance",
        ],
        rows,
        align="lrrrrr",
    )
    lines += wrap_lines(power_sentence(power)[0].upper() + power_sentence(power)[1:] + ".", indent=2)
    if power.samples > 1:
        lines += wrap_lines(
            f"With {power.samples} sampled answers per case a re-run moves each case's rate: the figures come from "
            "a seeded simulation of run pairs (cases and samples drawn again, the drop planted, the gate's test).",
            indent=2,
        )
    elif noise is not None:
        lines += wrap_lines(
            f"Repeated-run noise floor (jarvis-evals noise): {noise.base_differing} base and "
            f"{noise.finetuned_differing} fine-tuned answers of {noise.n_cases} differed between two identical "
            "runs; the figures above assume a re-run answers the same.",
            indent=2,
        )
    return lines


def paired_row(scope: str, s: PairedBlock) -> list[str]:
    return [
        scope,
        str(s.n),
        f"{s.mean_diff:+.3f}",
        f"[{s.ci_low:+.3f}, {s.ci_high:+.3f}]",
        _p(s.sign_test_p),
        f"{s.wins}/{s.losses}/{s.ties}",
        "yes" if s.significant else "no",
    ]


def _baseline_section(comp: BaselineComparison) -> list[str]:
    lines = section_title("BASELINE COMPARISON (this run's fine-tuned relevance minus the baseline's)")
    lines.append(f"  Baseline: {comp.baseline}; common cases: {comp.overall.n_common}")
    rows = [_baseline_row(scope, block) for scope, block in [("global", comp.overall), *comp.by_category.items()]]
    lines += table_lines(["scope", "n", "mean diff", "CI", "significant"], rows, align="lrrrl")
    if comp.overall.significant:
        direction = "better" if comp.overall.mean_diff > 0 else "worse"
        lines.append(f"  This run is significantly {direction} than the baseline.")
    else:
        lines.append("  No significant difference from the baseline.")
    return lines


def _baseline_row(scope: str, s: BaselineBlock) -> list[str]:
    return [
        scope,
        str(s.n_common),
        f"{s.mean_diff:+.3f}",
        f"[{s.ci_low:+.3f}, {s.ci_high:+.3f}]",
        "yes" if s.significant else "no",
    ]


def _gate_section(gate: GateOutcome) -> list[str]:
    lines = section_title("QUALITY GATE")
    lines.append(
        f"  Status: {gate.status.upper().replace('_', ' ')} (mode {gate.mode}, baseline {gate.baseline or 'none'})"
    )
    for reason in gate.reasons:
        lines += wrap_lines(reason, indent=4, first="- ")
    if gate.violations:
        rows = [[v.rule, v.scope, _fmt(v.baseline), _fmt(v.current), _fmt(v.tolerance)] for v in gate.violations]
        lines += table_lines(["rule", "scope", "baseline", "current", "tolerance"], rows, align="llrrr")
    if gate.status == "no_baseline":
        lines.append("  No baseline to compare with: this run can be saved as the first baseline.")
    elif not gate.reasons and not gate.violations:
        lines.append("  Every rule holds.")
    return lines


# -- small formatters ---------------------------------------------------------------------


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    try:
        return f"{float(value):.3f}"
    except (TypeError, ValueError):
        return str(value)


def _p(p: float) -> str:
    return "<0.001" if p < 0.001 else f"{p:.3f}"
