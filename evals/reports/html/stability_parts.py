"""The HTML run page's Stability section: pass rates and unstable cases per arm, and each case's rates.

Added only when the run has N > 1 sampled answers per case (``RunResults.stability``), so a greedy
run's page, or that of a results file of an earlier round, reads exactly as before.
"""

from __future__ import annotations

from evals.records import RunResults
from evals.reports.html.parts import esc, num, section, stats_table
from evals.reports.stability import (
    CLUSTERED,
    PASS_ALL_TEXT,
    arm_label,
    case_cells,
    case_headers,
    metric_label,
    stability,
    unstable_text,
)


def stability_section(results: RunResults) -> str | None:
    """The Stability section; None for one answer per case."""
    section_ = stability(results)
    if section_ is None:
        return None
    n, k = section_.samples, section_.k
    heads = ["metric", "arm", "cases", "pass@1", f"pass@{k}", f"pass^{k}", "unstable cases (rate)"]
    body = "".join(
        f'<tr><th scope="row">{esc(metric_label(metric))}</th><td>{esc(arm_label(results, name))}</td>'
        f"{num(str(s.n_cases))}{num(f'{s.pass_at_1:.3f}')}{num(f'{s.pass_at_k:.3f}')}{num(f'{s.pass_all_k:.3f}')}"
        f"<td>{esc(f'{len(s.unstable)}: {unstable_text(s)}' if s.unstable else 'none')}</td></tr>"
        for metric, arms in section_.metrics.items()
        for name, s in arms.items()
    )
    note = (
        f"{n} sampled answers per case. pass@{k}: at least one of {k} answers right; pass^{k}: all {k} right; "
        "unstable: right sometimes, not always. Paired statistics compare per-case rates: the sign test counts "
        f"rate differences (equal rates are ties), the bootstrap interval is {CLUSTERED}."
    )
    headers = case_headers(section_)
    rows = "".join(
        f'<tr><th scope="row">{esc(c.id)}</th>' + "".join(num(cell) for cell in case_cells(c)) + "</tr>"
        for c in results.pairs()
    )
    cases_note = (
        f"Per case: the rate over the {n} answers and, in brackets, how many scored full marks; {PASS_ALL_TEXT}."
    )
    content = f'<p class="note">{esc(note)}</p>{stats_table(heads, body)}<p class="note">{esc(cases_note)}</p>{stats_table(headers, rows)}'
    return section("Stability over sampled answers", content, open_=True, id_="stability")
