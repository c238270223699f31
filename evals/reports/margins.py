"""The routing margins in every report (issue 26): one summary line and a text section (the HTML one: reports/html/margin_parts.py).

Present only when the run probed its cases (``RunResults.margins``): a run with --jarvis-no-probe,
a served run, or a results file of an earlier round renders exactly as before.
"""

from __future__ import annotations

from evals.records import MarginBlock, MarginSection, RunResults
from evals.reports.text_blocks import section_title, table_lines, wrap_lines

EXPLAIN = (
    "margin: log P(best expected tool) - log P(best other tool) as the start of the answer, teacher-forced "
    "on the case's own prompt, in nats (> 0: the forced choice is right); cases where nothing should run "
    "compare 'no call' with every tool"
)


def margins(results: RunResults, adapter: str | None = None) -> MarginSection | None:
    return results.margins.get(adapter or results.primary)


def summary_line(results: RunResults) -> str | None:
    """``base -3.69 -> fine-tuned +1.91 nats (paired +5.60, 95% CI [...]); forced choice 2/30 -> 24/30; near ties 5 -> 8``."""
    section_ = margins(results)
    if section_ is None:
        return None
    o = section_.overall
    d = o.diff
    significance = "significant" if d.significant else "not significant"
    return (
        f"base {o.base_mean:+.2f} -> fine-tuned {o.finetuned_mean:+.2f} nats (paired {d.mean_diff:+.2f}, "
        f"95% CI [{d.ci_low:+.2f}, {d.ci_high:+.2f}], sign test p={d.sign_test_p:.2g}, {significance}); "
        f"forced choice right {o.base_correct}/{o.n} -> {o.finetuned_correct}/{o.n}; "
        f"near ties (|margin| < {section_.near_tie:g}) {o.base_near_ties} -> {o.finetuned_near_ties}"
    )


def case_margins(results: RunResults) -> list[tuple[str, float, float, str]]:
    """(case id, base margin, fine-tuned margin, the fine-tuned forced choice) of every case probed under both arms."""
    return [
        (c.id, c.base.probe.routing_margin, c.finetuned.probe.routing_margin, c.finetuned.probe.predicted)
        for c in results.pairs()
        if c.base.probe is not None and c.finetuned.probe is not None
    ]


def _row(scope: str, b: MarginBlock) -> list[str]:
    d = b.diff
    return [
        scope,
        str(b.n),
        f"{b.base_mean:+.2f}",
        f"{b.finetuned_mean:+.2f}",
        f"{d.mean_diff:+.2f} [{d.ci_low:+.2f}, {d.ci_high:+.2f}]",
        f"{d.sign_test_p:.2g}",
        f"{b.base_correct}/{b.n} -> {b.finetuned_correct}/{b.n}",
        f"{b.base_near_ties} -> {b.finetuned_near_ties}",
    ]


HEADERS = ["scope", "n", "base", "fine-tuned", "paired diff [95% CI]", "sign p", "forced choice", "near ties"]


def rows(section_: MarginSection) -> list[list[str]]:
    return [_row("global", section_.overall), *(_row(cat, b) for cat, b in section_.by_category.items())]


def at_risk_text(section_: MarginSection) -> str:
    if not section_.at_risk:
        return "none"
    return ", ".join(f"{case} {margin:+.2f}" for case, margin in section_.at_risk)


def text_lines(results: RunResults) -> list[str]:
    """The ROUTING MARGINS section of the text report; empty when nothing was probed."""
    section_ = margins(results)
    if section_ is None:
        return []
    lines = section_title("ROUTING MARGINS (nats; the fine-tuned arm against the base, per case)")
    lines += wrap_lines(EXPLAIN + ".", indent=2)
    lines += table_lines(HEADERS, rows(section_), align="lrrrrrrr")
    lines += wrap_lines(
        at_risk_text(section_),
        indent=4,
        first=f"  cases at risk (fine-tuned right, |margin| < {section_.near_tie:g}): ",
    )
    per_case = [
        [
            c.id,
            f"{c.base.probe.routing_margin:+.2f}",
            f"{c.finetuned.probe.routing_margin:+.2f}",
            c.finetuned.probe.predicted,
        ]
        for c in results.pairs()
        if c.base.probe is not None and c.finetuned.probe is not None
    ]
    lines.append("")
    return lines + table_lines(["case", "base", "fine-tuned", "fine-tuned forced choice"], per_case, align="lrrl")


def drift_line(results: RunResults) -> str | None:
    """``mean KL 0.840 nats/token over 24 neutral prompts; fine-tuned log-likelihood of the base's answers ...``."""
    drift = results.drift_for()
    if drift is None:
        return None
    d = drift.summary
    return (
        f"mean KL(base || fine-tuned) {d.mean_kl:.3f} nats/token over {d.prompts} neutral prompts ({drift.neutral_set}); "
        f"the fine-tuned arm's log-likelihood of the base's answers {d.arm_loglik:+.3f} nats/token "
        f"against the base's own {d.base_loglik:+.3f}"
    )


def drift_lines(results: RunResults) -> list[str]:
    """The DRIFT section of the text report: the summary and each neutral prompt; empty when not measured."""
    drift = results.drift_for()
    line = drift_line(results)
    if drift is None or line is None:
        return []
    lines = section_title(
        "DRIFT (outside the task: neutral French prompts, teacher-forced on the base's greedy answer)"
    )
    lines += wrap_lines(line + ". 0 means the adapter changes nothing there; it is a forgetting signal.", indent=2)
    rows = [
        [
            p.prompt_id,
            str(p.answer_tokens),
            f"{p.mean_kl:.3f}",
            f"{p.max_kl:.2f}",
            f"{p.arm_loglik:+.2f}",
            f"{p.base_loglik:+.2f}",
        ]
        for p in drift.prompts
    ]
    headers = ["prompt", "tokens", "mean KL", "max KL", "fine-tuned loglik", "base loglik"]
    return lines + table_lines(headers, rows, align="lrrrrr")
