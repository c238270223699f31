"""The HTML page comparing two runs: the cases whose verdict changed, flipped ones first.

Each case row has the fine-tuned answers of run A and run B, B's diffed against A's; a case
"flips" when its fine-tuned relevance crosses ``FLIP_AT`` or its regression status changes.
"""

from __future__ import annotations

from evals.records import RunResults
from evals.reports.compare import CaseChange, Comparison, compare_runs
from evals.reports.html.parts import Cell, Row, cases_section, dl, esc, kpi, num, page, section, sign_css, stats_table
from evals.reports.html.task_parts import css_for

# A fine-tuned relevance "flips" between two runs when it crosses this value (half right).
FLIP_AT = 0.5


def render_comparison_html(
    a: RunResults,
    b: RunResults,
    label_a: str = "A",
    label_b: str = "B",
    *,
    sources: tuple[str, str] | None = None,
) -> str:
    """Return the HTML page of two runs: the cases whose verdict changed, flipped ones first.

    ``sources`` (e.g. the two file paths) are shown before each run's description.
    """
    c = compare_runs(a, b, label_a, label_b)
    changes = sorted(c.changed, key=lambda ch: not flipped(ch))  # stable: worst news first within each group
    rows = [_comparison_row(ch, label_a, label_b) for ch in changes]
    n_flipped = sum(1 for ch in changes if flipped(ch))
    sections = [
        _comparison_header(c, sources, n_flipped),
        _comparison_scope_section(c),
        cases_section(
            rows,
            [f"fine-tuned {label_a}", f"fine-tuned {label_b}"],
            f"Cases whose verdict changed ({len(rows)} of {c.n_common} common cases)",
            f"Flipped cases first (fine-tuned relevance crossed {FLIP_AT:g}, or the regression status changed), "
            f"then the other changes, worst news first. Words of {label_a}'s answer missing from {label_b}'s "
            f"are struck out; words {label_b} added are highlighted.",
            order="flipped first",
            status_words=(f"worse in {label_b}", f"better in {label_b}"),
            regressions_only=f"worse in {label_b} only",
        ),
    ]
    css = css_for([cell.score for row in rows for cell in row.cells])
    return page(f"JARVIS run comparison: {label_b} vs {label_a}", sections, css)


def flipped(change: CaseChange) -> bool:
    """Whether a case's fine-tuned relevance crossed ``FLIP_AT`` or its regression status changed."""
    a, b = change.a, change.b
    return (a.finetuned.relevance >= FLIP_AT) != (b.finetuned.relevance >= FLIP_AT) or a.regression != b.regression


# -- comparison page sections ------------------------------------------------------------------


def _comparison_row(ch: CaseChange, label_a: str, label_b: str) -> Row:
    badges: list[tuple[str, str]] = []
    if flipped(ch):
        badges.append(("flipped", "flipped"))
    notes = ["; ".join(ch.reasons)]
    base_a, base_b = ch.a.base, ch.b.base
    if base_a.answer != base_b.answer or base_a.relevance != base_b.relevance:
        notes.append(f"The base arm moved too: relevance {base_a.relevance:.3f} → {base_b.relevance:.3f}.")
        notes.append(f"Base {label_a}: {_one_line(base_a.answer)}")
        notes.append(f"Base {label_b}: {_one_line(base_b.answer)}")
    return Row(
        case=ch.b.case,
        cells=(
            Cell(f"fine-tuned {label_a}", "run-a", ch.a.finetuned),
            Cell(f"fine-tuned {label_b}", "run-b", ch.b.finetuned),
        ),
        delta=ch.relevance_difference,
        badges=tuple(badges),
        notes=tuple(notes),
    )


def _comparison_header(c: Comparison, sources: tuple[str, str] | None, n_flipped: int) -> str:
    src = sources or ("", "")
    runs = dl(
        [
            (f"Run {c.label_a}", f"{src[0]}: {c.run_a}" if src[0] else c.run_a),
            (f"Run {c.label_b}", f"{src[1]}: {c.run_b}" if src[1] else c.run_b),
        ]
    )
    glob = c.rows[-1]
    diff = "—" if glob.difference is None else f"{glob.difference:+.3f}"
    kpis = [
        kpi(
            f"Fine-tuned relevance ({c.label_a} → {c.label_b})",
            f"{_rel(glob.relevance_a)} → {_rel(glob.relevance_b)}",
            f"{diff} over all cases of each run",
        ),
        kpi("Changed cases", f"{len(c.changed)} of {c.n_common}", f"{n_flipped} flipped"),
        kpi(
            "Cases in one run only",
            f"{len(c.only_in_a)} / {len(c.only_in_b)}",
            f"only in {c.label_a} / only in {c.label_b}",
        ),
    ]
    only = [
        f'<p class="note">Only in {esc(label)}: {esc(", ".join(ids))}</p>'
        for label, ids in ((c.label_a, c.only_in_a), (c.label_b, c.only_in_b))
        if ids
    ]
    return (
        '<header class="top">'
        f'<div class="title-row"><h1>JARVIS run comparison <span class="muted">{esc(c.label_b)} vs '
        f"{esc(c.label_a)}</span></h1></div>"
        f"{runs}"
        f'<div class="kpis">{"".join(kpis)}</div>'
        + "".join(f'<p class="warning">{esc(w)}</p>' for w in c.warnings)
        + "".join(only)
        + "</header>"
    )


def _comparison_scope_section(c: Comparison) -> str:
    headers = ["scope", f"n {c.label_a}", c.label_a, f"n {c.label_b}", c.label_b, "difference"]
    task = any(r.task_difference is not None for r in c.rows)  # both runs measure task success
    if task:
        headers += [f"task success {c.label_a}", f"task success {c.label_b}", "task difference"]
    body = "".join(
        f'<tr class="{"total" if r.scope == "global" else ""}"><th scope="row">{esc(r.scope)}</th>'
        f"{num('—' if r.relevance_a is None else str(r.n_a))}{num(_rel(r.relevance_a))}"
        f"{num('—' if r.relevance_b is None else str(r.n_b))}{num(_rel(r.relevance_b))}"
        f"{num('—' if r.difference is None else f'{r.difference:+.3f}', sign_css(r.difference))}"
        + (
            f"{num(_rel(r.task_a))}{num(_rel(r.task_b))}"
            f"{num('—' if r.task_difference is None else f'{r.task_difference:+.3f}', sign_css(r.task_difference))}"
            if task
            else ""
        )
        + "</tr>"
        for r in c.rows
    )
    table = stats_table(headers, body)
    return section(f"Fine-tuned relevance ({c.label_b} minus {c.label_a})", table, open_=True, id_="categories")


def _rel(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(empty answer)"
