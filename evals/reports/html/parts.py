"""The parts both HTML pages share: the case list, the answer cells and their word diff, the page shell.

The case list is a sequence of ``Row``s, each with one ``Cell`` per answer column; ``cells[0]``
is the answer the others are diffed against (difflib, here, not in the browser). Everything
taken from the results is escaped here (``esc``), and ``page`` wraps the sections in a
self-contained document whose Content-Security-Policy lets it fetch nothing and run only its
own script.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

from evals.records import ArmScore, Case
from evals.reports.html.assets import SCRIPT, stylesheet
from evals.reports.html.task_parts import expect_line, history_block, runtime_block, task_badges

STATUSES: tuple[str, ...] = ("regression", "improvement", "unchanged")


@dataclass(frozen=True)
class Cell:
    """One answer column of a case row: its heading, a CSS class, and the scored answer."""

    label: str
    css: str
    score: ArmScore


@dataclass(frozen=True)
class Row:
    """One case as the page lists it; ``cells[0]`` is the answer the others are diffed against."""

    case: Case
    cells: tuple[Cell, ...]
    delta: float  # relevance change shown and sorted on: last column minus first
    badges: tuple[tuple[str, str], ...] = ()  # (css class, text) about the case as a whole
    notes: tuple[str, ...] = ()  # plain-text lines under the case (escaped when rendered)

    @property
    def status(self) -> str:
        if self.delta < 0:
            return "regression"
        return "improvement" if self.delta > 0 else "unchanged"

    @property
    def changed(self) -> bool:
        """Whether the answers differ between the columns."""
        return any(c.score.answer != self.cells[0].score.answer for c in self.cells[1:])


# -- the case list -----------------------------------------------------------------------------


def cases_section(
    rows: Sequence[Row],
    column_labels: Sequence[str],
    title: str,
    legend: str,
    *,
    order: str = "suite order",
    status_words: tuple[str, str] = ("regression", "improvement"),
    regressions_only: str = "regressions only",
) -> str:
    """Return the case list: the toolbar, a heading row, then one row per case in the given order."""
    categories = list(dict.fromkeys(r.case.category for r in rows))
    options = '<option value="">all categories</option>' + "".join(
        f'<option value="{esc(c)}">{esc(c)}</option>' for c in categories
    )
    toolbar = (
        '<div class="toolbar" role="search">'
        f'<label>Category <select id="f-category">{options}</select></label>'
        f'<label class="check"><input type="checkbox" id="f-regressions"> {esc(regressions_only)}</label>'
        '<label class="check"><input type="checkbox" id="f-changed"> changed only</label>'
        '<label class="grow">Search <input type="search" id="f-q" placeholder="prompt, answer or case id"></label>'
        f'<label>Sort <select id="f-sort"><option value="">{esc(order)}</option>'
        '<option value="delta">relevance change, worst first</option>'
        '<option value="-delta">relevance change, best first</option></select></label>'
        '<button type="button" id="f-reset">reset</button>'
        f'<span id="f-count" class="count">{len(rows)} of {len(rows)} cases</span>'
        "</div>"
    )
    head = (
        '<div class="case head" aria-hidden="true"><div>case</div>'
        + "".join(f"<div>{esc(label)}</div>" for label in column_labels)
        + "</div>"
    )
    body = "".join(_case_row(r, status_words) for r in rows)
    empty = '<p id="f-empty" class="empty" hidden>No case matches these filters.</p>'
    if not rows:
        empty = '<p class="empty">No case to show.</p>'
    content = (
        f'<p class="legend">{esc(legend)}</p>{toolbar}'
        f'<div id="cases" class="cases" style="--cols:{len(column_labels)}">{head}{body}</div>{empty}'
    )
    return section(title, content, open_=True, id_="case-list")


def _case_row(row: Row, status_words: tuple[str, str]) -> str:
    case = row.case
    words = {"regression": status_words[0], "improvement": status_words[1]}
    badges = [(row.status, words[row.status])] if row.status in words else []
    badges += list(row.badges)
    if not row.changed:
        badges.append(("same", "same answer"))
    badge_html = "".join(f'<span class="badge {esc(css)}">{esc(text)}</span>' for css, text in badges)
    intended = (
        f'<p class="intended searchable"><span class="k">meant</span> {esc(case.intended)}</p>' if case.intended else ""
    )
    expected = (
        " ".join(f'<code class="tool">{esc(t)}</code>' for t in case.expected_tools) or '<em class="muted">none</em>'
    )
    info = (
        '<div class="info">'
        f'<div class="id-line"><code class="case-id searchable">{esc(case.id)}</code>'
        f'<span class="cat">{esc(case.category)}</span>'
        f'<span class="delta {sign_css(row.delta)}" title="relevance change">{_delta(row.delta)}</span></div>'
        f'{history_block(case)}<p class="prompt searchable">{esc(case.prompt)}</p>{intended}'
        f'<p class="expected"><span class="k">expects</span> {expected}</p>{expect_line(case)}'
        f'<div class="badges">{badge_html}</div>'
        "</div>"
    )
    reference = row.cells[0].score.answer
    other = row.cells[1].score.answer if len(row.cells) > 1 else reference
    cells = [_answer_cell(row.cells[0], word_diff(reference, other)[0], case)]
    cells += [_answer_cell(cell, word_diff(reference, cell.score.answer)[1], case) for cell in row.cells[1:]]
    notes = "".join(f'<p class="note searchable">{esc(n)}</p>' for n in row.notes if n)
    task = row.cells[-1].score.task_success
    task_attr = "" if task is None else f' data-task-success="{task:g}"'  # the last column's
    return (
        f'<article class="case" data-case-id="{esc(case.id)}" data-category="{esc(case.category)}" '
        f'data-status="{row.status}" data-changed="{int(row.changed)}" data-delta="{row.delta!r}"{task_attr}>'
        f"{info}{''.join(cells)}" + (f'<div class="notes">{notes}</div>' if notes else "") + "</article>"
    )


def _answer_cell(cell: Cell, answer_html: str, case: Case) -> str:
    s = cell.score
    scores = [
        f'<span class="score rel {_level_css(s.relevance)}">relevance {s.relevance:.2f}</span>',
        f'<span class="score">keywords {s.keyword_hits}/{s.keyword_total}</span>',
    ]
    if s.valid_call is not None:
        scores.append(f'<span class="score">valid call {s.valid_call:g}</span>')
    flags = [
        (s.echo, "echo", "echo"),
        (s.refusal, "refusal", "refusal"),
        (s.recited, "recited", "recited"),
        (s.malformed, "malformed", "malformed"),
        (s.loop, "loop", "loop"),
        (s.valid_call is not None and s.valid_call >= 1.0, "valid", "valid call"),
    ]
    badges = "".join(f'<span class="badge {css}">{text}</span>' for on, css, text in flags if on)
    expected = set(case.expected_tools)
    tools = [
        f'<code class="tool {"ok" if t in expected else "extra"}">{esc(t)}</code>' for t in dict.fromkeys(s.tools_named)
    ]
    tools += [f'<code class="tool missing" title="expected, not named">{esc(t)}</code>' for t in s.tools_missing]
    return (
        f'<div class="answer-cell {esc(cell.css)}">'
        f'<div class="arm-head"><span class="arm">{esc(cell.label)}</span>{"".join(scores)}{badges}{task_badges(s)}</div>'
        f'<div class="answer searchable">{answer_html}</div>'
        f'<p class="tools"><span class="k">tools named</span> {" ".join(tools) or "<em class=muted>none</em>"}</p>'
        f"{runtime_block(s)}</div>"
    )


def word_diff(a: str, b: str) -> tuple[str, str]:
    """Return both answers as escaped HTML, words only in ``a`` in <del>, words only in ``b`` in <ins>."""
    if not a.strip() and not b.strip():
        empty = '<em class="muted">(empty answer)</em>'
        return empty, empty
    ta, tb = _words(a), _words(b)
    ops = difflib.SequenceMatcher(None, [t.strip() for t in ta], [t.strip() for t in tb], autojunk=False)
    out_a: list[str] = [esc(a[: len(a) - len(a.lstrip())])]
    out_b: list[str] = [esc(b[: len(b) - len(b.lstrip())])]
    for tag, i1, i2, j1, j2 in ops.get_opcodes():
        if tag == "equal":
            out_a.append(esc("".join(ta[i1:i2])))
            out_b.append(esc("".join(tb[j1:j2])))
            continue
        out_a.append(_marked("del", ta[i1:i2]))
        out_b.append(_marked("ins", tb[j1:j2]))
    html_a = "".join(out_a) if a.strip() else '<em class="muted">(empty answer)</em>'
    html_b = "".join(out_b) if b.strip() else '<em class="muted">(empty answer)</em>'
    return html_a, html_b


def _words(text: str) -> list[str]:
    return re.findall(r"\S+\s*", text)


def _marked(tag: str, tokens: Sequence[str]) -> str:
    chunk = "".join(tokens)
    core = chunk.rstrip()
    return f"<{tag}>{esc(core)}</{tag}>{esc(chunk[len(core) :])}" if core else esc(chunk)


# -- page shell --------------------------------------------------------------------------------


def page(title: str, sections: Iterable[str], css: str = "") -> str:
    """The document: ``sections`` in order; ``css`` is added to the stylesheet (the task-success parts')."""
    script_hash = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    # Fetch nothing, run nothing but the script below: an answer that slipped through escaping
    # could neither load a resource nor execute.
    csp = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{csp}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="jarvis-evals">'
        f"<title>{esc(title)}</title><style>{stylesheet()}{css}</style></head>\n"
        f"<body><main>{''.join(sections)}</main>"
        '<footer class="muted">Written by jarvis-evals: a self-contained page (no network access). '
        "Filters, search and sort are kept in the address after #, so a link opens the same view.</footer>"
        f"<script>{SCRIPT}</script></body></html>\n"
    )


def section(title: str, content: str, *, open_: bool, id_: str) -> str:
    return (
        f'<details class="section" id="{esc(id_)}"{" open" if open_ else ""}>'
        f"<summary><h2>{esc(title)}</h2></summary>{content}</details>"
    )


def kpi(label: str, value: str, sub: str, css: str = "") -> str:
    return (
        f'<div class="kpi {esc(css)}"><div class="k">{esc(label)}</div>'
        f'<div class="v">{esc(value)}</div><div class="s">{esc(sub)}</div></div>'
    )


def dl(fields: Sequence[tuple[str, str]]) -> str:
    return '<dl class="fields">' + "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in fields) + "</dl>"


def _delta(value: float) -> str:
    return f"{value:+.2f}" if value else "±0"


def stats_table(headers: Sequence[str], body: str) -> str:
    """A scrollable statistics table: one header row of ``headers``, then the rows of ``body`` (HTML)."""
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in headers)
    return f'<div class="table-wrap"><table class="stats"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'


def num(text: str, css: str = "") -> str:
    return f'<td class="num {css}">{esc(text)}</td>'


def sign_css(value: float | None) -> str:
    if value is None or value == 0:
        return ""
    return "pos" if value > 0 else "neg"


def _level_css(relevance: float) -> str:
    if relevance >= 1.0:
        return "full"
    return "part" if relevance > 0 else "none"


def esc(value: object) -> str:
    return escape(str(value), quote=True)
