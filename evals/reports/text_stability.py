"""The text report's STABILITY section: pass rates and unstable cases per arm, and each case's rates.

Added only when the run has N > 1 sampled answers per case (``RunResults.stability``), so a greedy
run, or a results file of an earlier round, renders exactly as it did.
"""

from __future__ import annotations

from evals.records import RunResults
from evals.reports.stability import (
    CLUSTERED,
    PASS_ALL_TEXT,
    arm_label,
    case_cells,
    case_headers,
    metric_label,
    pass_text,
    stability,
    unstable_text,
)
from evals.reports.text_blocks import section_title, table_lines, wrap_lines


def stability_lines(results: RunResults) -> list[str]:
    """The STABILITY section; empty for one answer per case."""
    section = stability(results)
    if section is None:
        return []
    n, k = section.samples, section.k
    lines = section_title(
        f"STABILITY ({n} sampled answers per case; pass@{k}: at least one of {k} answers right, "
        f"pass^{k}: all {k} right; unstable: right sometimes, not always)"
    )
    for metric, arms in section.metrics.items():
        lines.append(f"  {metric_label(metric).capitalize()}:")
        for name, stats in arms.items():
            label = arm_label(results, name)
            lines += wrap_lines(f"{pass_text(section, stats)} over {stats.n_cases} cases", indent=4, first=f"{label}: ")
            lines += wrap_lines(unstable_text(stats), indent=6, first=f"unstable ({len(stats.unstable)}): ")
    lines += wrap_lines(
        f"Paired statistics compare per-case rates: the sign test counts rate differences (equal rates are ties), "
        f"the bootstrap interval is {CLUSTERED} (cases, then each arm's samples within them).",
        indent=2,
    )
    lines.append("")
    lines += wrap_lines(
        f"Per case: the rate over the {n} answers and, in brackets, how many scored full marks; {PASS_ALL_TEXT}.",
        indent=2,
    )
    rows = [[c.id, *case_cells(c)] for c in results.pairs()]
    headers = case_headers(section)
    return lines + table_lines(headers, rows, align="l" + "r" * (len(headers) - 1))
