"""The HTML run page's Routing margins section: the table per category, the cases at risk, a bar per case."""

from __future__ import annotations

from evals.records import RunResults
from evals.reports.charts import build_margin_figure
from evals.reports.html.parts import esc, num, section, stats_table
from evals.reports.margins import EXPLAIN, HEADERS, at_risk_text, case_margins, drift_line, margins, rows
from evals.reports.rendered import Renderer


def html_section(results: RunResults, draw: Renderer) -> str | None:
    """The Routing margins section of the HTML page: the table, the cases at risk, the chart, a bar per case."""
    section_ = margins(results)
    if section_ is None:
        return None
    body = "".join(
        f'<tr><th scope="row">{esc(row[0])}</th>' + "".join(num(cell) for cell in row[1:]) + "</tr>"
        for row in rows(section_)
    )
    table = stats_table(HEADERS, body)
    cases = case_margins(results)
    scale = max([abs(m) for _, base, tuned, _ in cases for m in (base, tuned)] + [1.0])
    bars = "".join(
        f'<tr><th scope="row">{esc(case)}</th>'
        + "".join(_bar(margin, scale, section_.near_tie) for margin in (base, tuned))
        + "</tr>"
        for case, base, tuned, _ in cases
    )
    bar_table = stats_table(["case", "base margin", "fine-tuned margin"], bars)
    note = f"{EXPLAIN}. Near tie: |margin| < {section_.near_tie:g} nats, where a small change of the weights could flip the choice."
    risk = f"Cases at risk (fine-tuned right, within the near-tie band): {at_risk_text(section_)}."
    label = "Margin shift: base against fine-tuned routing margin per case"
    chart = draw.svg("margins", lambda: build_margin_figure(results), label)
    content = (
        f'<p class="note">{esc(note)}</p>{table}<p class="note">{esc(risk)}</p>'
        f'<div class="chart">{chart}</div>{bar_table}'
    )
    return section("Routing margins", content, open_=True, id_="margins")


def _bar(margin: float, scale: float, near_tie: float) -> str:
    """A cell with the margin and a bar from the middle: right of it for a right choice, left for a wrong one."""
    width = 50.0 * min(1.0, abs(margin) / scale)
    left = 50.0 if margin >= 0 else 50.0 - width
    colour = "#b58900" if abs(margin) < near_tie else ("#2e7d32" if margin >= 0 else "#c62828")
    return (
        f'<td class="num"><div style="position:relative;height:0.9em;background:#eee;min-width:8em">'
        f'<div style="position:absolute;left:{left:.1f}%;width:{width:.1f}%;height:100%;background:{colour}"></div>'
        f"</div>{margin:+.2f}</td>"
    )


def drift_section(results: RunResults) -> str | None:
    """The Drift section of the HTML page: the summary line and a row per neutral prompt."""
    drift = results.drift_for()
    line = drift_line(results)
    if drift is None or line is None:
        return None
    heads = ["prompt", "base answer", "tokens", "mean KL", "max KL", "fine-tuned loglik", "base loglik"]
    body = "".join(
        f'<tr><th scope="row">{esc(p.prompt_id)}</th><td>{esc(p.answer)}</td>{num(str(p.answer_tokens))}'
        f"{num(f'{p.mean_kl:.3f}')}{num(f'{p.max_kl:.2f}')}{num(f'{p.arm_loglik:+.2f}')}{num(f'{p.base_loglik:+.2f}')}</tr>"
        for p in drift.prompts
    )
    table = stats_table(heads, body)
    note = f"Outside the task: {line}. 0 means the adapter changes nothing there; it is a forgetting signal."
    return section("Drift outside the task", f'<p class="note">{esc(note)}</p>{table}', open_=False, id_="drift")
