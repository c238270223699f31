"""The HTML report: one self-contained page per run, and one per comparison of two runs.

The page needs no server and no network: CSS, the script and the 2x2 chart (SVG) are inline,
and a Content-Security-Policy lets it fetch nothing and run only its own script (by hash), so a
report opens the same from disk, a CI artifact or an e-mail. Everything taken from the results
is escaped here; the word diff of two answers is computed here (difflib), not in the browser.

The case list is a sequence of ``Row``s, each with one ``Cell`` per answer column. A run page
has two columns (base, fine-tuned), chosen in ``answer_columns``; a comparison page has the
fine-tuned answers of run A and run B. Filters, search, sort and the URL-hash state are one
small script shared by both pages.
"""

from __future__ import annotations

import base64
import difflib
import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from evals.records import ArmScore, Case, PairedBlock, RunResults, ScoredCase, Stats
from evals.reports.charts import BASE_COLOR, FINETUNED_COLOR, VERDICT_COLORS
from evals.reports.compare import CaseChange, Comparison, compare_runs
from evals.verdict import (
    THRESHOLDS_TEXT,
    category_stats,
    format_pct,
    recommendations,
    significance_sentence,
    verdict_of,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STATUSES: tuple[str, ...] = ("regression", "improvement", "unchanged")
# A fine-tuned relevance "flips" between two runs when it crosses this value (half right).
FLIP_AT = 0.5


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


# -- the two pages ----------------------------------------------------------------------------


def render_html(results: RunResults, *, chart: str | None = None, curve: str | None = None) -> str:
    """Return the HTML report of a run; ``chart`` and ``curve`` are its inline SVGs (drawn here when not given)."""
    if chart is None:
        from evals.reports.charts import build_figure

        chart = chart_svg(build_figure(results))
    if curve is None and results.robustness is not None:
        from evals.reports.charts import build_robustness_figure

        curve = chart_svg(build_robustness_figure(results), CURVE_LABEL)
    m = results.metadata
    columns = answer_columns(results)
    rows = [
        Row(case=c.case, cells=tuple(Cell(label, css, get(c)) for label, css, get in columns), delta=c.relevance_delta)
        for c in results.pairs()
    ]
    sections = [
        _run_header(results),
        *([_leaderboard_section(results)] if results.leaderboard is not None else []),
        _identity_section(results),
        _section("Charts", f'<div class="chart">{chart}</div>', open_=True, id_="charts"),
        _category_section(results),
        *([_robustness_section(results, curve)] if curve is not None else []),
        _cases_section(rows, [label for label, _, _ in columns], "Cases", _case_legend(results)),
    ]
    title = f"JARVIS benchmark: {m.model} + {m.adapter}"
    return _page(title, sections)


def answer_columns(results: RunResults) -> tuple[tuple[str, str, Callable[[ScoredCase], ArmScore]], ...]:
    """Return the answer columns of a run page: (heading, CSS class, the arm's score of a case).

    This is the one place columns are chosen; the rows, the diff and the filters handle any
    number. A run of several adapters gets the base and one column per adapter, in leaderboard
    order; a row's status and relevance change stay those of the primary adapter.
    """
    if len(results.adapters) < 2:
        return (("base", "base", lambda c: c.base), ("fine-tuned", "finetuned", lambda c: c.finetuned))
    ranked = [row.name for row in results.leaderboard.rows] if results.leaderboard is not None else []
    names = [n for n in ranked if n in results.adapters] + [n for n in results.adapters if n not in ranked]
    primary = results.primary
    columns: list[tuple[str, str, Callable[[ScoredCase], ArmScore]]] = [("base", "base", lambda c: c.base)]
    for name in names:
        scores = {r.id: r.arms[name] for r in results.results if name in r.arms}
        label = f"{name} (primary)" if name == primary else name
        columns.append((label, "finetuned", _lookup(scores)))
    return tuple(columns)


def _lookup(scores: Mapping[str, ArmScore]) -> Callable[[ScoredCase], ArmScore]:
    """Return the function giving a case's score among ``scores`` (one adapter's arm)."""
    return lambda case: scores[case.id]


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
        _cases_section(
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
    return _page(f"JARVIS run comparison: {label_b} vs {label_a}", sections)


def flipped(change: CaseChange) -> bool:
    """Whether a case's fine-tuned relevance crossed ``FLIP_AT`` or its regression status changed."""
    a, b = change.a, change.b
    return (a.finetuned.relevance >= FLIP_AT) != (b.finetuned.relevance >= FLIP_AT) or a.regression != b.regression


CHART_LABEL = "Relevance and keyword match per category, distribution of per-case relevance, statistical summary"
CURVE_LABEL = "Relevance and valid calls per speech-recognition noise level, base and fine-tuned, with confidence bands"


def chart_svg(figure: Figure, label: str = CHART_LABEL) -> str:
    """Return a figure as an inline ``<svg>`` element: text drawn as paths, no prolog, no URL."""
    import io

    import matplotlib

    buf = io.BytesIO()
    # Glyphs as paths: the chart looks the same whatever fonts the reader has. A fixed salt
    # keeps the element ids, and so the page, a function of the results.
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "jarvis-evals"}):
        figure.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)  # the text of each label, already drawn
    # An <svg> inside HTML needs no namespace declarations; dropping them leaves the page URL-free.
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    return re.sub(
        r'<svg\s+width="[^"]*"\s+height="[^"]*"',
        f'<svg role="img" aria-label="{label}"',
        svg,
        count=1,
    ).strip()


# -- run page sections ------------------------------------------------------------------------


def _run_header(results: RunResults) -> str:
    s = results.summary().overall
    verdict = verdict_of(s)
    kpis = [
        _kpi(
            "Relevance (base → fine-tuned)",
            f"{s.base.relevance:.3f} → {s.finetuned.relevance:.3f}",
            f"{s.relevance_gain:+.3f} ({format_pct(s.relevance_gain_pct, s.finetuned.relevance)}) over "
            f"{s.n_cases} cases",
        )
    ]
    if (p := results.paired_for()) is not None:
        kpis.append(_kpi(f"Paired difference, {100 * p.confidence:g} % CI", *_ci_text(p.overall)))
    else:
        kpis.append(_kpi("Paired difference", "not computed", "this run has no paired statistics"))
    if s.base.valid_call is not None and s.finetuned.valid_call is not None:
        kpis.append(
            _kpi(
                "Valid call (base → fine-tuned)",
                f"{s.base.valid_call:.3f} → {s.finetuned.valid_call:.3f}",
                f"{s.finetuned.valid_call - s.base.valid_call:+.3f}",
            )
        )
    kpis.append(_kpi("Cases", f"{s.improvements} improved · {s.regressions} regressed", _echo_line(s)))
    kpis.append(_gate_kpi(results))
    m = results.metadata
    subtitle = f"{m.model} + LoRA {m.adapter} · suite {m.suite_name} v{m.suite_version} · {m.timestamp}"
    notes = []
    if (paired := results.paired_for()) is not None:
        notes.append(significance_sentence(paired))
    notes.append(f"Verdict thresholds on the relative relevance gain: {THRESHOLDS_TEXT}.")
    gate = results.gate
    reasons = ""
    if gate is not None and gate.reasons:
        items = "".join(f"<li>{_e(r)}</li>" for r in gate.reasons)
        reasons = f'<ul class="reasons gate-{_e(gate.status)}">{items}</ul>'
    warnings = [*results.warnings]
    if results.baseline_error:
        warnings.append(f"Baseline not read: {results.baseline_error}")
    if results.noise is not None and results.noise.warning:
        warnings.append(f"Noise floor: {results.noise.warning}")
    if m.partial:
        warnings.append(f"Partial run ({m.scope or 'a subset of the suite'}): only the cases that ran are shown.")
    if results.environment is not None:
        notes.insert(0, results.environment.line[0].upper() + results.environment.line[1:] + ".")
    recs = "".join(f"<li>{_e(r)}</li>" for r in recommendations(verdict, results))
    return (
        '<header class="top">'
        f'<div class="title-row"><h1>JARVIS benchmark <span class="muted">base vs LoRA fine-tune</span></h1>'
        f'<span class="verdict" style="background:{VERDICT_COLORS.get(verdict, "#555")}">{_e(verdict.upper())}</span>'
        "</div>"
        f'<p class="subtitle">{_e(subtitle)}</p>'
        f'<div class="kpis">{"".join(kpis)}</div>'
        + reasons
        + "".join(f'<p class="warning">{_e(w)}</p>' for w in warnings)
        + "".join(f'<p class="note">{_e(n)}</p>' for n in notes)
        + f'<details class="next"><summary>What to do next</summary><ul>{recs}</ul></details>'
        + "</header>"
    )


def _gate_kpi(results: RunResults) -> str:
    gate = results.gate
    if gate is None:
        return _kpi("Quality gate", "not evaluated", "no gate section in this run", css="gate-none")
    bc = results.comparison_for()
    sub = f"{gate.mode} mode, baseline {gate.baseline}"
    if bc is not None:
        sub += f"; fine-tuned vs baseline {bc.overall.mean_diff:+.3f} [{bc.overall.ci_low:+.3f}, {bc.overall.ci_high:+.3f}]"
    return _kpi("Quality gate", gate.status.replace("_", " ").upper(), sub, css=f"gate-{gate.status}")


def _identity_section(results: RunResults) -> str:
    m = results.metadata
    g = m.generation
    decoding = "greedy" if not g.do_sample and g.num_beams == 1 else "not greedy"
    suite = f"{m.suite_name} version {m.suite_version}" + (f" ({m.suite_path})" if m.suite_path else "")
    categories = ", ".join(category_stats(results)) or "none"
    fields = [
        ("Model", m.model),
        ("Adapter", m.adapter),
        ("Quantization", m.quantization),
        ("Device", m.device),
        ("Suite", suite),
        ("Categories", categories + (f" (partial run: {m.scope or 'selected categories'})" if m.partial else "")),
        ("Metric version", m.metric_version or "not recorded (version 1)"),
        (
            "Generation",
            f"max_new_tokens={g.max_new_tokens}, batch_size={g.batch_size}, do_sample={g.do_sample}, "
            f"num_beams={g.num_beams} ({decoding}), prompt_format={g.template}, "
            f"enable_thinking={g.enable_thinking}",
        ),
        ("Timestamp", m.timestamp),
        (
            "Answers",
            f"{m.n_generate_calls} generate calls, {m.n_cached_answers} answers from the cache; "
            f"load {m.load_seconds:.1f} s, generation {m.generation_seconds:.1f} s",
        ),
    ]
    if m.model_fingerprint:
        fields.append(("Model fingerprint", m.model_fingerprint))
    if m.suite_hash:
        fields.append(("Suite hash", m.suite_hash))
    packages = ", ".join(f"{k} {v}" for k, v in sorted(m.packages.items())) or "not recorded"
    fields.append(("Packages", packages))
    return _section("Run", _dl(fields), open_=False, id_="run")


def _category_section(results: RunResults) -> str:
    groups = category_stats(results)
    overall = results.summary().overall
    v2 = overall.has_valid_call
    paired = results.paired_for()
    headers = ["category", "n", "relevance base", "relevance fine-tuned", "gain"]
    if paired is not None:
        headers.append(f"{100 * paired.confidence:g} % CI")
    headers.append("keywords base → ft")
    if v2:
        headers.append("valid call base → ft")
    headers += ["improved / regressed", "verdict"]

    def row(name: str, s: Stats, block: PairedBlock | None, css: str = "") -> str:
        cells = [
            f'<th scope="row">{_e(name)}</th>',
            _num(str(s.n_cases)),
            _bar_cell(s.base.relevance, BASE_COLOR),
            _bar_cell(s.finetuned.relevance, FINETUNED_COLOR),
            _num(f"{s.relevance_gain:+.3f} ({_pct_short(s)})", _sign_css(s.relevance_gain)),
        ]
        if paired is not None:
            cells.append(_num("—" if block is None else f"[{block.ci_low:+.3f}, {block.ci_high:+.3f}]"))
        cells.append(_num(f"{s.base.keyword_match:.3f} → {s.finetuned.keyword_match:.3f}"))
        if v2:
            cells.append(_num(f"{_share(s.base.valid_call)} → {_share(s.finetuned.valid_call)}"))
        verdict = verdict_of(s)
        cells += [
            f'<td class="num">{s.improvements} / <span class="{"neg" if s.regressions else ""}">{s.regressions}'
            "</span></td>",
            f'<td><span class="pill" style="background:{VERDICT_COLORS.get(verdict, "#555")}">{_e(verdict)}</span></td>',
        ]
        return f'<tr class="{css}">{"".join(cells)}</tr>'

    body = "".join(row(n, s, paired.by_category.get(n) if paired else None) for n, s in groups.items())
    body += row("global", overall, paired.overall if paired else None, "total")
    table = (
        '<div class="table-wrap"><table class="stats"><thead><tr>'
        + "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
        + f"</tr></thead><tbody>{body}</tbody></table></div>"
    )
    return _section("By category", table, open_=True, id_="categories")


def _leaderboard_section(results: RunResults) -> str:
    board = results.leaderboard
    assert board is not None  # the caller adds this section only to runs of several adapters
    primary = results.primary
    headers = [
        "rank",
        "adapter",
        "path",
        "n",
        "relevance",
        "keywords",
        "valid call",
        "vs base [95 % CI]",
        "wins / losses",
    ]
    body = "".join(
        f'<tr class="{"total" if r.name == primary else ""}"><td class="num">{r.rank}</td>'
        f'<th scope="row">{_e(r.name)}{" (primary)" if r.name == primary else ""}</th>'
        f'<td class="path">{_e(r.adapter)}</td>{_num(str(r.n_cases))}'
        f"{_bar_cell(r.avg_relevance, FINETUNED_COLOR)}{_num(f'{r.avg_keyword_match:.3f}')}"
        f"{_num(_share(r.avg_valid_call))}"
        f"{_num(f'{r.vs_base.mean_diff:+.3f} [{r.vs_base.ci_low:+.3f}, {r.vs_base.ci_high:+.3f}]', _sign_css(r.vs_base.mean_diff))}"
        f"{_num(f'{r.vs_base.wins} / {r.vs_base.losses}')}</tr>"
        for r in board.rows
    )
    table = (
        f'<p class="note">{_e(board.verdict())} The header, chart and category table describe the primary adapter.</p>'
        '<div class="table-wrap"><table class="stats"><thead><tr>'
        + "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
        + f"</tr></thead><tbody>{body}</tbody></table></div>"
    )
    steps = board.training_steps()
    if steps:  # checkpoints of one training: the curve of relevance against the step, as in the PNG
        from evals.reports.charts import build_leaderboard_figure

        table += (
            f'<div class="chart">{chart_svg(build_leaderboard_figure(results), "Relevance by training step")}</div>'
        )
    return _section(
        f"Leaderboard ({len(board.rows)} adapters, same base and cases)", table, open_=True, id_="leaderboard"
    )


def _robustness_section(results: RunResults, curve: str) -> str:
    rob = results.robustness
    assert rob is not None  # the caller adds this section only to --jarvis-perturb runs
    pct = f"{100 * rob.confidence:g} %"

    def ci(mean: float | None, low: float | None, high: float | None) -> str:
        return "n/a" if mean is None else f"{mean:.3f} [{low:.3f}, {high:.3f}]"

    headers = ["level", "arm", "cases", "variants", f"relevance [{pct} CI]", f"valid call [{pct} CI]"]
    body = "".join(
        f'<tr><td class="num">{p.level}</td><th scope="row">{_e(p.arm)}</th>{_num(str(p.n))}{_num(str(p.variants))}'
        f"{_num(ci(p.relevance, p.relevance_low, p.relevance_high))}"
        f"{_num(ci(p.valid_call, p.valid_call_low, p.valid_call_high))}</tr>"
        for p in rob.points
    )
    s = rob.slower
    scores = ", ".join(f"{arm} {'n/a' if v is None else f'{v:.3f}'}" for arm, v in rob.score.items())
    note = (
        f"Robustness score (area under the relevance curve / level 0's): {scores}. Paired test, base's drop minus "
        f"the fine-tune's per clean case: {s.mean_diff:+.3f} [{s.ci_low:+.3f}, {s.ci_high:+.3f}], sign test "
        f"p={s.sign_test_p:.3g} ({'significant' if s.significant else 'not significant'}; > 0: the fine-tune "
        f"degrades more slowly): {rob.verdict()}."
    )
    table = (
        f'<div class="chart">{curve}</div><p class="note">{_e(note)}</p>'
        '<div class="table-wrap"><table class="stats"><thead><tr>'
        + "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
        + f"</tr></thead><tbody>{body}</tbody></table></div>"
    )
    return _section("Robustness to speech-recognition noise", table, open_=True, id_="robustness")


def _case_legend(results: RunResults) -> str:
    v2 = results.summary().overall.has_valid_call
    text = (
        "Words of the base answer missing from the fine-tuned one are struck out; words the fine-tuned "
        "answer added are highlighted. Tools: green = expected and named, red = named but not expected, "
        "struck out = expected but not named."
    )
    if not v2:
        text += " This run was scored by metric version 1: no valid call, refusal, recital, malformed or loop flags."
    return text


# -- comparison page sections -----------------------------------------------------------------


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
    runs = _dl(
        [
            (f"Run {c.label_a}", f"{src[0]}: {c.run_a}" if src[0] else c.run_a),
            (f"Run {c.label_b}", f"{src[1]}: {c.run_b}" if src[1] else c.run_b),
        ]
    )
    glob = c.rows[-1]
    diff = "—" if glob.difference is None else f"{glob.difference:+.3f}"
    kpis = [
        _kpi(
            f"Fine-tuned relevance ({c.label_a} → {c.label_b})",
            f"{_rel(glob.relevance_a)} → {_rel(glob.relevance_b)}",
            f"{diff} over all cases of each run",
        ),
        _kpi("Changed cases", f"{len(c.changed)} of {c.n_common}", f"{n_flipped} flipped"),
        _kpi(
            "Cases in one run only",
            f"{len(c.only_in_a)} / {len(c.only_in_b)}",
            f"only in {c.label_a} / only in {c.label_b}",
        ),
    ]
    only = [
        f'<p class="note">Only in {_e(label)}: {_e(", ".join(ids))}</p>'
        for label, ids in ((c.label_a, c.only_in_a), (c.label_b, c.only_in_b))
        if ids
    ]
    return (
        '<header class="top">'
        f'<div class="title-row"><h1>JARVIS run comparison <span class="muted">{_e(c.label_b)} vs '
        f"{_e(c.label_a)}</span></h1></div>"
        f"{runs}"
        f'<div class="kpis">{"".join(kpis)}</div>'
        + "".join(f'<p class="warning">{_e(w)}</p>' for w in c.warnings)
        + "".join(only)
        + "</header>"
    )


def _comparison_scope_section(c: Comparison) -> str:
    headers = ["scope", f"n {c.label_a}", c.label_a, f"n {c.label_b}", c.label_b, "difference"]
    body = "".join(
        f'<tr class="{"total" if r.scope == "global" else ""}"><th scope="row">{_e(r.scope)}</th>'
        f"{_num('—' if r.relevance_a is None else str(r.n_a))}{_num(_rel(r.relevance_a))}"
        f"{_num('—' if r.relevance_b is None else str(r.n_b))}{_num(_rel(r.relevance_b))}"
        f"{_num('—' if r.difference is None else f'{r.difference:+.3f}', _sign_css(r.difference))}</tr>"
        for r in c.rows
    )
    table = (
        '<div class="table-wrap"><table class="stats"><thead><tr>'
        + "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
        + f"</tr></thead><tbody>{body}</tbody></table></div>"
    )
    return _section(f"Fine-tuned relevance ({c.label_b} minus {c.label_a})", table, open_=True, id_="categories")


# -- the case list ----------------------------------------------------------------------------


def _cases_section(
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
        f'<option value="{_e(c)}">{_e(c)}</option>' for c in categories
    )
    toolbar = (
        '<div class="toolbar" role="search">'
        f'<label>Category <select id="f-category">{options}</select></label>'
        f'<label class="check"><input type="checkbox" id="f-regressions"> {_e(regressions_only)}</label>'
        '<label class="check"><input type="checkbox" id="f-changed"> changed only</label>'
        '<label class="grow">Search <input type="search" id="f-q" placeholder="prompt, answer or case id"></label>'
        f'<label>Sort <select id="f-sort"><option value="">{_e(order)}</option>'
        '<option value="delta">relevance change, worst first</option>'
        '<option value="-delta">relevance change, best first</option></select></label>'
        '<button type="button" id="f-reset">reset</button>'
        f'<span id="f-count" class="count">{len(rows)} of {len(rows)} cases</span>'
        "</div>"
    )
    head = (
        '<div class="case head" aria-hidden="true"><div>case</div>'
        + "".join(f"<div>{_e(label)}</div>" for label in column_labels)
        + "</div>"
    )
    body = "".join(_case_row(r, status_words) for r in rows)
    empty = '<p id="f-empty" class="empty" hidden>No case matches these filters.</p>'
    if not rows:
        empty = '<p class="empty">No case to show.</p>'
    content = (
        f'<p class="legend">{_e(legend)}</p>{toolbar}'
        f'<div id="cases" class="cases" style="--cols:{len(column_labels)}">{head}{body}</div>{empty}'
    )
    return _section(title, content, open_=True, id_="case-list")


def _case_row(row: Row, status_words: tuple[str, str]) -> str:
    case = row.case
    words = {"regression": status_words[0], "improvement": status_words[1]}
    badges = [(row.status, words[row.status])] if row.status in words else []
    badges += list(row.badges)
    if not row.changed:
        badges.append(("same", "same answer"))
    badge_html = "".join(f'<span class="badge {_e(css)}">{_e(text)}</span>' for css, text in badges)
    intended = (
        f'<p class="intended searchable"><span class="k">meant</span> {_e(case.intended)}</p>' if case.intended else ""
    )
    expected = (
        " ".join(f'<code class="tool">{_e(t)}</code>' for t in case.expected_tools) or '<em class="muted">none</em>'
    )
    info = (
        '<div class="info">'
        f'<div class="id-line"><code class="case-id searchable">{_e(case.id)}</code>'
        f'<span class="cat">{_e(case.category)}</span>'
        f'<span class="delta {_sign_css(row.delta)}" title="relevance change">{_delta(row.delta)}</span></div>'
        f'<p class="prompt searchable">{_e(case.prompt)}</p>{intended}'
        f'<p class="expected"><span class="k">expects</span> {expected}</p>'
        f'<div class="badges">{badge_html}</div>'
        "</div>"
    )
    reference = row.cells[0].score.answer
    other = row.cells[1].score.answer if len(row.cells) > 1 else reference
    cells = [_answer_cell(row.cells[0], word_diff(reference, other)[0], case)]
    cells += [_answer_cell(cell, word_diff(reference, cell.score.answer)[1], case) for cell in row.cells[1:]]
    notes = "".join(f'<p class="note searchable">{_e(n)}</p>' for n in row.notes if n)
    return (
        f'<article class="case" data-case-id="{_e(case.id)}" data-category="{_e(case.category)}" '
        f'data-status="{row.status}" data-changed="{int(row.changed)}" data-delta="{row.delta!r}">'
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
        f'<code class="tool {"ok" if t in expected else "extra"}">{_e(t)}</code>' for t in dict.fromkeys(s.tools_named)
    ]
    tools += [f'<code class="tool missing" title="expected, not named">{_e(t)}</code>' for t in s.tools_missing]
    return (
        f'<div class="answer-cell {_e(cell.css)}">'
        f'<div class="arm-head"><span class="arm">{_e(cell.label)}</span>{"".join(scores)}{badges}</div>'
        f'<div class="answer searchable">{answer_html}</div>'
        f'<p class="tools"><span class="k">tools named</span> {" ".join(tools) or "<em class=muted>none</em>"}</p>'
        "</div>"
    )


def word_diff(a: str, b: str) -> tuple[str, str]:
    """Return both answers as escaped HTML, words only in ``a`` in <del>, words only in ``b`` in <ins>."""
    if not a.strip() and not b.strip():
        empty = '<em class="muted">(empty answer)</em>'
        return empty, empty
    ta, tb = _words(a), _words(b)
    ops = difflib.SequenceMatcher(None, [t.strip() for t in ta], [t.strip() for t in tb], autojunk=False)
    out_a: list[str] = [_e(a[: len(a) - len(a.lstrip())])]
    out_b: list[str] = [_e(b[: len(b) - len(b.lstrip())])]
    for tag, i1, i2, j1, j2 in ops.get_opcodes():
        if tag == "equal":
            out_a.append(_e("".join(ta[i1:i2])))
            out_b.append(_e("".join(tb[j1:j2])))
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
    return f"<{tag}>{_e(core)}</{tag}>{_e(chunk[len(core) :])}" if core else _e(chunk)


# -- page shell -------------------------------------------------------------------------------


def _page(title: str, sections: Iterable[str]) -> str:
    script_hash = base64.b64encode(hashlib.sha256(_SCRIPT.encode("utf-8")).digest()).decode("ascii")
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
        f"<title>{_e(title)}</title><style>{_css()}</style></head>\n"
        f"<body><main>{''.join(sections)}</main>"
        '<footer class="muted">Written by jarvis-evals: a self-contained page (no network access). '
        "Filters, search and sort are kept in the address after #, so a link opens the same view.</footer>"
        f"<script>{_SCRIPT}</script></body></html>\n"
    )


def _section(title: str, content: str, *, open_: bool, id_: str) -> str:
    return (
        f'<details class="section" id="{_e(id_)}"{" open" if open_ else ""}>'
        f"<summary><h2>{_e(title)}</h2></summary>{content}</details>"
    )


def _kpi(label: str, value: str, sub: str, css: str = "") -> str:
    return (
        f'<div class="kpi {_e(css)}"><div class="k">{_e(label)}</div>'
        f'<div class="v">{_e(value)}</div><div class="s">{_e(sub)}</div></div>'
    )


def _dl(fields: Sequence[tuple[str, str]]) -> str:
    return '<dl class="fields">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in fields) + "</dl>"


def _ci_text(block: PairedBlock) -> tuple[str, str]:
    verdict = "significant" if block.significant else "not significant"
    return (
        f"{block.mean_diff:+.3f} [{block.ci_low:+.3f}, {block.ci_high:+.3f}]",
        f"{verdict}; sign test p = {block.sign_test_p:.3g}; {block.wins} wins, {block.losses} losses, "
        f"{block.ties} ties",
    )


def _echo_line(s: Stats) -> str:
    line = f"echoed: base {s.base.echo}, fine-tuned {s.finetuned.echo}"
    if s.base.refusal is not None and s.finetuned.refusal is not None:
        line += f"; refusals: {s.base.refusal}, {s.finetuned.refusal}"
    if s.base.recited is not None and s.finetuned.recited is not None:
        line += f"; recitals: {s.base.recited}, {s.finetuned.recited}"
    if s.base.loop is not None and s.finetuned.loop is not None:
        line += f"; loops: {s.base.loop}, {s.finetuned.loop}"
    return line


def _bar_cell(value: float, color: str) -> str:
    width = max(0.0, min(1.0, value)) * 100
    return (
        f'<td class="num bar"><span class="bar-track"><span class="bar-fill" '
        f'style="width:{width:.1f}%;background:{color}"></span></span>{value:.3f}</td>'
    )


def _delta(value: float) -> str:
    return f"{value:+.2f}" if value else "±0"


def _num(text: str, css: str = "") -> str:
    return f'<td class="num {css}">{_e(text)}</td>'


def _pct_short(s: Stats) -> str:
    if s.relevance_gain_pct is None:
        return "n/a"
    return f"{s.relevance_gain_pct:+.1f} %"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _rel(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _sign_css(value: float | None) -> str:
    if value is None or value == 0:
        return ""
    return "pos" if value > 0 else "neg"


def _level_css(relevance: float) -> str:
    if relevance >= 1.0:
        return "full"
    return "part" if relevance > 0 else "none"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "(empty answer)"


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _css() -> str:
    return _CSS.replace("@BASE@", BASE_COLOR).replace("@FT@", FINETUNED_COLOR)


_CSS = """
:root{--fg:#1d232b;--muted:#5d6875;--line:#dde2e8;--bg:#f5f7fa;--card:#fff;--base:@BASE@;--ft:@FT@;
--pos:#2e7d32;--neg:#c62828;--warn:#9a6700;--mono:ui-monospace,SFMono-Regular,Menlo,Consolas,"DejaVu Sans Mono",monospace}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",sans-serif}
main{max-width:1480px;margin:0 auto;padding:20px 24px 8px}
footer{max-width:1480px;margin:0 auto;padding:8px 24px 24px;font-size:12px}
h1{font-size:22px;margin:0}h2{font-size:17px;margin:0;display:inline}
.muted{color:var(--muted);font-weight:normal}
code{font-family:var(--mono);font-size:12.5px}
.top{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:18px 20px;margin-bottom:16px}
.title-row{display:flex;align-items:center;gap:14px;flex-wrap:wrap}
.verdict{color:#fff;font-weight:700;letter-spacing:.06em;padding:4px 12px;border-radius:999px;font-size:14px}
.subtitle{margin:4px 0 14px;color:var(--muted);word-break:break-all}
.kpis{display:grid;grid-template-columns:repeat(auto-fit,minmax(210px,1fr));gap:10px;margin:12px 0}
.kpi{border:1px solid var(--line);border-radius:8px;padding:10px 12px;background:#fbfcfd}
.kpi .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.04em}
.kpi .v{font-size:19px;font-weight:650;margin:2px 0;font-variant-numeric:tabular-nums}
.kpi .s{font-size:12.5px;color:var(--muted)}
.kpi.gate-passed{border-color:#a5d6a7;background:#f1f8f1}.kpi.gate-passed .v{color:var(--pos)}
.kpi.gate-failed{border-color:#ef9a9a;background:#fdf1f1}.kpi.gate-failed .v{color:var(--neg)}
.kpi.gate-no_baseline .v,.kpi.gate-none .v{color:var(--muted)}
.reasons{margin:6px 0;padding-left:20px}.reasons.gate-failed li{color:var(--neg)}
.warning{margin:6px 0;padding:6px 10px;border-left:3px solid var(--warn);background:#fff8e6}
.note{margin:4px 0;color:var(--muted)}
details.next summary{cursor:pointer;color:var(--muted);margin-top:6px}
.section{background:var(--card);border:1px solid var(--line);border-radius:10px;padding:12px 20px;margin-bottom:16px}
.section>summary{cursor:pointer;padding:2px 0 8px;list-style-position:outside}
.fields{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:4px 0}
.fields dt{color:var(--muted)}.fields dd{margin:0;word-break:break-word}
.chart svg{display:block;width:100%;max-width:1180px;height:auto;margin:0 auto}
.table-wrap{overflow-x:auto}
table.stats{border-collapse:collapse;font-variant-numeric:tabular-nums}
.stats th,.stats td{padding:6px 10px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
.stats thead th{font-size:12px;color:var(--muted);font-weight:600;text-transform:uppercase;letter-spacing:.03em}
.stats td.num{text-align:right}.stats tr.total{font-weight:650;background:#f7f9fb}
.bar-track{display:inline-block;width:48px;height:8px;background:#edf0f3;border-radius:4px;margin-right:8px;
vertical-align:middle;overflow:hidden}.bar-fill{display:block;height:100%}
.pos{color:var(--pos)}.neg{color:var(--neg)}
.pill{color:#fff;padding:1px 9px;border-radius:999px;font-size:12px}
.legend{color:var(--muted);margin:2px 0 10px}
.toolbar{position:sticky;top:0;z-index:2;display:flex;flex-wrap:wrap;gap:10px 16px;align-items:center;
background:#fff;border:1px solid var(--line);border-radius:8px;padding:8px 12px;margin-bottom:10px;
box-shadow:0 2px 6px rgba(0,0,0,.05)}
.toolbar label{display:flex;align-items:center;gap:6px;color:var(--muted)}
.toolbar .grow{flex:1 1 220px}.toolbar .grow input{flex:1}
.toolbar select,.toolbar input[type=search]{font:inherit;padding:4px 6px;border:1px solid #c5ccd4;border-radius:6px}
.toolbar button{font:inherit;padding:4px 10px;border:1px solid #c5ccd4;border-radius:6px;background:#f5f7fa;cursor:pointer}
.count{margin-left:auto;color:var(--muted);font-variant-numeric:tabular-nums}
.cases{display:flex;flex-direction:column;gap:8px}
.case{display:grid;grid-template-columns:minmax(200px,.8fr) repeat(var(--cols),minmax(0,1.3fr));gap:0;
border:1px solid var(--line);border-radius:8px;background:var(--card);overflow:hidden}
article.case{border-left:4px solid var(--line)}
.case[data-status=regression]{border-left-color:var(--neg)}.case[data-status=improvement]{border-left-color:var(--pos)}
.case.head{background:transparent;border:0;font-size:12px;color:var(--muted);text-transform:uppercase;
letter-spacing:.04em;padding:0 0 0 4px}.case.head>div{padding:0 12px}
.info,.answer-cell{padding:10px 12px;min-width:0}
.answer-cell{border-left:1px solid var(--line)}
.answer-cell.base,.answer-cell.run-a{background:#fafbfc}
.id-line{display:flex;gap:8px;align-items:center;flex-wrap:wrap}
.case-id{font-weight:600}
.cat{font-size:12px;color:var(--muted);border:1px solid var(--line);border-radius:999px;padding:0 8px}
.delta{margin-left:auto;font-weight:650;color:var(--muted);font-variant-numeric:tabular-nums}
.delta.pos{color:var(--pos)}.delta.neg{color:var(--neg)}
.prompt{margin:6px 0 4px;font-size:15px;font-weight:550}
.prompt::before{content:"\\201C"}.prompt::after{content:"\\201D"}
.intended,.expected,.tools{margin:3px 0;font-size:13px}
.k{color:var(--muted);font-size:12px;margin-right:4px}
.tool{background:#eef1f4;border-radius:4px;padding:0 5px}
.tool.ok{background:#e3f2e4;color:#1b5e20}.tool.extra{background:#fde7e7;color:#9f1c1c}
.tool.missing{background:transparent;color:var(--muted);text-decoration:line-through}
.badges{display:flex;flex-wrap:wrap;gap:4px;margin-top:6px}
.badge{font-size:11.5px;padding:1px 7px;border-radius:999px;border:1px solid transparent;white-space:nowrap}
.badge.regression{background:#fde7e7;color:#9f1c1c;border-color:#f3b6b6}
.badge.improvement{background:#e3f2e4;color:#1b5e20;border-color:#b3d9b5}
.badge.flipped{background:#ede7f6;color:#4527a0;border-color:#c9b8ea}
.badge.same{background:#f0f2f4;color:var(--muted)}
.badge.echo,.badge.recited,.badge.loop{background:#fff3e0;color:#8a4b00;border-color:#f5d09a}
.badge.refusal,.badge.malformed{background:#fce4ec;color:#8e1945;border-color:#f1b4c8}
.badge.valid{background:#e3f2e4;color:#1b5e20;border-color:#b3d9b5}
.arm-head{display:flex;flex-wrap:wrap;gap:4px 8px;align-items:center;margin-bottom:6px}
.arm{font-weight:650;text-transform:uppercase;font-size:12px;letter-spacing:.04em}
.base .arm,.run-a .arm{color:#55626f}.finetuned .arm,.run-b .arm{color:var(--ft)}
.score{font-size:12px;color:var(--muted);font-variant-numeric:tabular-nums}
.score.rel{font-weight:650}.rel.full{color:var(--pos)}.rel.part{color:var(--warn)}.rel.none{color:var(--neg)}
.answer{font-family:var(--mono);font-size:12.5px;white-space:pre-wrap;overflow-wrap:anywhere;background:#fff;
border:1px solid #e8ebef;border-radius:6px;padding:6px 8px;max-height:16em;overflow-y:auto}
del{background:#fde2e2;color:#8d1d1d;text-decoration:line-through;text-decoration-color:#d88}
ins{background:#d8f3dc;color:#14532d;text-decoration:none}
.notes{grid-column:1/-1;border-top:1px dashed var(--line);padding:6px 12px;font-size:12.5px}
.empty{color:var(--muted);text-align:center;padding:20px}
[hidden]{display:none!important}
@media (max-width:900px){.case{grid-template-columns:1fr}.answer-cell{border-left:0;border-top:1px solid var(--line)}
.case.head{display:none}}
"""

# Filters, search, sort; their state lives in the URL hash (#category=routing&regressions=1&q=volume&sort=delta).
_SCRIPT = """
(function () {
  "use strict";
  var list = document.getElementById("cases");
  if (!list) { return; }
  var rows = Array.prototype.slice.call(list.querySelectorAll("article.case"));
  var text = rows.map(function (row) {
    return Array.prototype.map.call(row.querySelectorAll(".searchable"), function (el) {
      return el.textContent;
    }).join("\\n").toLowerCase();
  });
  var order = rows.map(function (row, i) { return i; });
  var el = {
    category: document.getElementById("f-category"),
    regressions: document.getElementById("f-regressions"),
    changed: document.getElementById("f-changed"),
    q: document.getElementById("f-q"),
    sort: document.getElementById("f-sort"),
    count: document.getElementById("f-count"),
    empty: document.getElementById("f-empty"),
    reset: document.getElementById("f-reset")
  };
  function hasOption(select, value) {
    return Array.prototype.some.call(select.options, function (o) { return o.value === value; });
  }
  function readHash() {
    var p = new URLSearchParams(window.location.hash.replace(/^#/, ""));
    var category = p.get("category") || "";
    var sort = p.get("sort") || "";
    return {
      category: hasOption(el.category, category) ? category : "",
      regressions: p.get("regressions") === "1",
      changed: p.get("changed") === "1",
      q: p.get("q") || "",
      sort: hasOption(el.sort, sort) ? sort : ""
    };
  }
  function readControls() {
    return {
      category: el.category.value,
      regressions: el.regressions.checked,
      changed: el.changed.checked,
      q: el.q.value,
      sort: el.sort.value
    };
  }
  function setControls(s) {
    el.category.value = s.category;
    el.regressions.checked = s.regressions;
    el.changed.checked = s.changed;
    el.q.value = s.q;
    el.sort.value = s.sort;
  }
  function writeHash(s) {
    var p = new URLSearchParams();
    if (s.category) { p.set("category", s.category); }
    if (s.regressions) { p.set("regressions", "1"); }
    if (s.changed) { p.set("changed", "1"); }
    if (s.q) { p.set("q", s.q); }
    if (s.sort) { p.set("sort", s.sort); }
    var hash = p.toString();
    var url = window.location.href.split("#")[0] + (hash ? "#" + hash : "");
    if (url === window.location.href) { return; }
    try { window.history.replaceState(null, "", url); } catch (e) { window.location.replace(url); }
  }
  function apply(s) {
    var q = s.q.trim().toLowerCase();
    var shown = 0;
    rows.forEach(function (row, i) {
      var ok = (!s.category || row.getAttribute("data-category") === s.category) &&
        (!s.regressions || row.getAttribute("data-status") === "regression") &&
        (!s.changed || row.getAttribute("data-changed") === "1") &&
        (!q || text[i].indexOf(q) !== -1);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    var sorted = order.slice();
    if (s.sort === "delta" || s.sort === "-delta") {
      var sign = s.sort === "delta" ? 1 : -1;
      sorted.sort(function (a, b) {
        var d = sign * (parseFloat(rows[a].getAttribute("data-delta")) - parseFloat(rows[b].getAttribute("data-delta")));
        return d !== 0 ? d : a - b;
      });
    }
    sorted.forEach(function (i) { list.appendChild(rows[i]); });
    el.count.textContent = shown + " of " + rows.length + " cases";
    if (el.empty) { el.empty.hidden = shown !== 0; }
  }
  function onControl() {
    var s = readControls();
    writeHash(s);
    apply(s);
  }
  function onHash() {
    var s = readHash();
    setControls(s);
    apply(s);
  }
  [el.category, el.regressions, el.changed, el.sort].forEach(function (c) {
    c.addEventListener("change", onControl);
  });
  el.q.addEventListener("input", onControl);
  el.reset.addEventListener("click", function () {
    setControls({category: "", regressions: false, changed: false, q: "", sort: ""});
    onControl();
  });
  window.addEventListener("hashchange", onHash);
  onHash();
})();
"""
