"""What N sampled answers per case say, as every report words it: rates, pass^N, pass@k/pass^k, unstable cases.

A run has samples when its results carry a stability section (``RunResults.stability``, filled only
for N > 1); a greedy run, or a results file of an earlier round, has none and every report reads
exactly as before. These helpers are the one place the reports decide that and write the figures.
"""

from __future__ import annotations

from evals.records import BASE_ARM, METRIC_LABELS, ArmScore, ArmStability, RunResults, ScoredCase, StabilitySection
from evals.sampling import all_pass, case_cell, unstable

CLUSTERED = "clustered by case"
# The per-case metrics whose rate a sampled run shows, by the column prefix the text table gives them.
CASE_METRICS = (("rel", "relevance"), ("vc", "valid_call"), ("ts", "task_success"))
PASS_ALL_TEXT = (
    "pass^N = every one of the case's N answers scored full marks (relevance 1 and, where the case is "
    "judged, task success 1): what a voice assistant that must work every time needs"
)


def stability(results: RunResults) -> StabilitySection | None:
    """The primary adapter's stability section; None for one answer per case."""
    return results.stability_for()


def arm_label(results: RunResults, arm: str) -> str:
    return "base" if arm == BASE_ARM else "fine-tuned" if arm == results.primary else arm


def pass_all(arm: ArmScore) -> bool | None:
    """pass^N of one case: every sample scored full marks on relevance and, where judged, task success."""
    flags = [flag for metric in ("relevance", "task_success") if (flag := all_pass(arm, metric)) is not None]
    return all(flags) if flags else None


def case_unstable(arm: ArmScore) -> bool:
    """True when the case's answers sometimes score full marks and sometimes not, on any metric it measures."""
    for metric in ("relevance", "task_success"):
        flags = arm.successes(metric)
        if flags is not None and unstable(sum(flags) / len(flags)):
            return True
    return False


def case_cells(case: ScoredCase) -> list[str]:
    """Per metric, then per arm, ``0.60 (3/5)``; then pass^N of each arm (``yes``/``no``)."""
    cells = [case_cell(case.arm(side), metric) for _, metric in CASE_METRICS for side in ("base", "finetuned")]
    return cells + [_yes(pass_all(case.base)), _yes(pass_all(case.finetuned))]


def case_headers(section: StabilitySection) -> list[str]:
    heads = [f"{short} {side}" for short, _ in CASE_METRICS for side in ("base", "ft")]
    return ["case", *heads, f"pass^{section.samples} base", f"pass^{section.samples} ft"]


def pass_text(section: StabilitySection, stats: ArmStability) -> str:
    """``pass@1 0.600, pass@5 0.889, pass^5 0.556``."""
    k = section.k
    return f"pass@1 {stats.pass_at_1:.3f}, pass@{k} {stats.pass_at_k:.3f}, pass^{k} {stats.pass_all_k:.3f}"


def unstable_text(stats: ArmStability) -> str:
    """``arg_timer_90s 0.80, nt_merci_jarvis 0.40``; ``none`` when every case is stable."""
    return ", ".join(f"{case} {rate:.2f}" for case, rate in stats.unstable) or "none"


def metric_label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric)


def summary_line(results: RunResults) -> str | None:
    """The terminal's and CI summary's stability sentence: pass^k and unstable cases of both arms; None when greedy."""
    section = stability(results)
    if section is None or not section.metrics:
        return None
    metric = "task_success" if "task_success" in section.metrics else next(iter(section.metrics))
    arms = section.metrics[metric]
    base, tuned = arms.get(BASE_ARM), arms.get(results.primary)
    parts = [
        f"{arm_label(results, name)} {s.pass_all_k:.3f} ({len(s.unstable)} unstable cases)"
        for name, s in ((BASE_ARM, base), (results.primary, tuned))
        if s is not None
    ]
    return (
        f"{section.samples} sampled answers per case; {metric_label(metric)} pass^{section.k} (all right) "
        f"{', '.join(parts)}; paired intervals {CLUSTERED}"
    )


def _yes(flag: bool | None) -> str:
    return "-" if flag is None else "yes" if flag else "no"
