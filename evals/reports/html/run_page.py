"""The HTML report of one run: header and verdict, leaderboard, run identity, charts, categories, cases.

The 2x2 chart (and the robustness and leaderboard curves) are inline SVGs drawn by matplotlib,
imported only when a page is rendered. A run page has two answer columns (base, fine-tuned),
or the base and one per adapter in a run of several, chosen in ``answer_columns``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from evals.power import sentence as power_sentence
from evals.records import ArmScore, PairedBlock, RunResults, ScoredCase, Stats
from evals.reports.charts import BASE_COLOR, FINETUNED_COLOR, VERDICT_COLORS
from evals.reports.html.margin_parts import drift_section
from evals.reports.html.margin_parts import html_section as margin_section
from evals.reports.html.parts import Cell, Row, cases_section, dl, esc, kpi, num, page, section, sign_css, stats_table
from evals.reports.html.stability_parts import stability_section
from evals.reports.html.task_parts import css_for
from evals.reports.rendered import Renderer, inline_svg
from evals.reports.stability import CLUSTERED
from evals.reports.task import FALSE_ACTIVATION, arrow, gain, measured
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


def render_html(results: RunResults, *, renderer: Renderer | None = None, chart: str | None = None) -> str:
    """Return the HTML report of a run; its figures come from ``renderer`` (drawn once, or kept:
    ``evals.reports.rendered``). ``chart``: the 2x2 chart's SVG, given (tests pass "" to skip drawing)."""
    from evals.reports.charts import build_figure, build_robustness_figure

    draw = renderer or Renderer(results)
    if chart is None:
        chart = draw.svg("chart", lambda: build_figure(results), CHART_LABEL)
    curve = None
    if results.robustness is not None:
        curve = draw.svg("robustness", lambda: build_robustness_figure(results), CURVE_LABEL)
    m = results.metadata
    columns = answer_columns(results)
    rows = [
        Row(case=c.case, cells=tuple(Cell(label, css, get(c)) for label, css, get in columns), delta=c.relevance_delta)
        for c in results.pairs()
    ]
    sections = [
        _run_header(results),
        *([_leaderboard_section(results, draw)] if results.leaderboard is not None else []),
        _identity_section(results),
        section("Charts", f'<div class="chart">{chart}</div>', open_=True, id_="charts"),
        _category_section(results),
        *([stable] if (stable := stability_section(results)) is not None else []),
        *([margin] if (margin := margin_section(results, draw)) is not None else []),
        *([drift] if (drift := drift_section(results)) is not None else []),
        *([_robustness_section(results, curve)] if curve is not None else []),
        cases_section(rows, [label for label, _, _ in columns], "Cases", _case_legend(results)),
    ]
    title = f"JARVIS benchmark: {m.model} + {m.adapter}"
    return page(title, sections, css_for([cell.score for row in rows for cell in row.cells]))


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


CHART_LABEL = "Relevance and keyword match per category, distribution of per-case relevance, statistical summary"


CURVE_LABEL = "Relevance and valid calls per speech-recognition noise level, base and fine-tuned, with confidence bands"


def chart_svg(figure: Figure, label: str = CHART_LABEL) -> str:
    """Return a figure as an inline ``<svg>`` element: text drawn as paths, no prolog, no URL."""
    return inline_svg(figure, label)


# -- run page sections -------------------------------------------------------------------------


def _run_header(results: RunResults) -> str:
    s = results.summary().overall
    verdict = verdict_of(s)
    kpis = [
        kpi(
            "Relevance (base → fine-tuned)",
            f"{s.base.relevance:.3f} → {s.finetuned.relevance:.3f}",
            f"{s.relevance_gain:+.3f} ({format_pct(s.relevance_gain_pct, s.finetuned.relevance)}) over "
            f"{s.n_cases} cases",
        )
    ]
    if (p := results.paired_for()) is not None:
        clustered = f", {CLUSTERED}" if p.clustered else ""
        kpis.append(kpi(f"Paired difference, {100 * p.confidence:g} % CI{clustered}", *_ci_text(p.overall)))
    else:
        kpis.append(kpi("Paired difference", "not computed", "this run has no paired statistics"))
    if s.base.valid_call is not None and s.finetuned.valid_call is not None:
        kpis.append(
            kpi(
                "Valid call (base → fine-tuned)",
                f"{s.base.valid_call:.3f} → {s.finetuned.valid_call:.3f}",
                f"{s.finetuned.valid_call - s.base.valid_call:+.3f}",
            )
        )
    if measured(results):
        kpis += _task_kpis(results)
    kpis.append(kpi("Cases", f"{s.improvements} improved · {s.regressions} regressed", _echo_line(s)))
    kpis.append(_gate_kpi(results))
    m = results.metadata
    subtitle = f"{m.model} + LoRA {m.adapter} · suite {m.suite_name} v{m.suite_version} · {m.timestamp}"
    notes = []
    if (paired := results.paired_for()) is not None:
        notes.append(significance_sentence(paired))
    if (paired_task := results.paired_task_for()) is not None:
        from evals.reports.text_task import task_significance

        notes.append(task_significance(paired_task))
    if (power := results.power_for()) is not None:
        notes.append("Power: " + power_sentence(power) + ".")
    notes.append(f"Verdict thresholds on the relative relevance gain: {THRESHOLDS_TEXT}.")
    gate = results.gate
    reasons = ""
    if gate is not None and gate.reasons:
        items = "".join(f"<li>{esc(r)}</li>" for r in gate.reasons)
        reasons = f'<ul class="reasons gate-{esc(gate.status)}">{items}</ul>'
    warnings = [*results.warnings]
    if results.baseline_error:
        warnings.append(f"Baseline not read: {results.baseline_error}")
    if results.noise is not None and results.noise.warning:
        warnings.append(f"Noise floor: {results.noise.warning}")
    if m.partial:
        warnings.append(f"Partial run ({m.scope or 'a subset of the suite'}): only the cases that ran are shown.")
    if results.environment is not None:
        notes.insert(0, results.environment.line[0].upper() + results.environment.line[1:] + ".")
    recs = "".join(f"<li>{esc(r)}</li>" for r in recommendations(verdict, results))
    return (
        '<header class="top">'
        f'<div class="title-row"><h1>JARVIS benchmark <span class="muted">base vs LoRA fine-tune</span></h1>'
        f'<span class="verdict" style="background:{VERDICT_COLORS.get(verdict, "#555")}">{esc(verdict.upper())}</span>'
        "</div>"
        f'<p class="subtitle">{esc(subtitle)}</p>'
        f'<div class="kpis">{"".join(kpis)}</div>'
        + reasons
        + "".join(f'<p class="warning">{esc(w)}</p>' for w in warnings)
        + "".join(f'<p class="note">{esc(n)}</p>' for n in notes)
        + f'<details class="next"><summary>What to do next</summary><ul>{recs}</ul></details>'
        + "</header>"
    )


def _task_kpis(results: RunResults) -> list[str]:
    """Task success (with its paired interval) and false activation, base → fine-tuned."""
    s = results.summary().overall
    b, f = s.base, s.finetuned
    sub = f"{gain(b.task_success, f.task_success)} over {f.n_task or b.n_task} cases that say what should happen"
    if (p := results.paired_task_for()) is not None:
        sub += f"; paired {100 * p.confidence:g} % CI [{p.overall.ci_low:+.3f}, {p.overall.ci_high:+.3f}]"
    out = [kpi("Task success (base → fine-tuned)", arrow(b.task_success, f.task_success, "—", " → "), sub)]
    if b.false_activation is not None or f.false_activation is not None:
        out.append(
            kpi(
                f"{FALSE_ACTIVATION.capitalize()} (base → fine-tuned)",
                arrow(b.false_activation, f.false_activation, "—", " → "),
                f"calls where nothing should run, over {f.n_no_tool or b.n_no_tool} cases; lower is better",
            )
        )
    return out


def _gate_kpi(results: RunResults) -> str:
    gate = results.gate
    if gate is None:
        return kpi("Quality gate", "not evaluated", "no gate section in this run", css="gate-none")
    bc = results.comparison_for()
    sub = f"{gate.mode} mode, baseline {gate.baseline}"
    if bc is not None:
        sub += f"; fine-tuned vs baseline {bc.overall.mean_diff:+.3f} [{bc.overall.ci_low:+.3f}, {bc.overall.ci_high:+.3f}]"
    return kpi("Quality gate", gate.status.replace("_", " ").upper(), sub, css=f"gate-{gate.status}")


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
            f"num_beams={g.num_beams} ({decoding}), template={g.template}, prompt_format={g.prompt_format or 'system-text'}, "
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
    return section("Run", dl(fields), open_=False, id_="run")


def _category_section(results: RunResults) -> str:
    groups = category_stats(results)
    overall = results.summary().overall
    v2 = overall.has_valid_call
    paired = results.paired_for()
    task = measured(results)
    headers = ["category", "n", "relevance base", "relevance fine-tuned", "gain"]
    if paired is not None:
        headers.append(f"{100 * paired.confidence:g} % CI")
    if task:
        headers += ["task success base → ft", "false activation base → ft"]
    headers.append("keywords base → ft")
    if v2:
        headers.append("valid call base → ft")
    headers += ["improved / regressed", "verdict"]

    def row(name: str, s: Stats, block: PairedBlock | None, css: str = "") -> str:
        cells = [
            f'<th scope="row">{esc(name)}</th>',
            num(str(s.n_cases)),
            _bar_cell(s.base.relevance, BASE_COLOR),
            _bar_cell(s.finetuned.relevance, FINETUNED_COLOR),
            num(f"{s.relevance_gain:+.3f} ({_pct_short(s)})", sign_css(s.relevance_gain)),
        ]
        if paired is not None:
            cells.append(num("—" if block is None else f"[{block.ci_low:+.3f}, {block.ci_high:+.3f}]"))
        if task:
            b, f = s.base, s.finetuned
            cells.append(
                num(arrow(b.task_success, f.task_success, "—", " → "), _better(b.task_success, f.task_success))
            )
            # Fewer false activations is better: the fine-tune's rate below the base's shows green.
            cells.append(
                num(
                    arrow(b.false_activation, f.false_activation, "—", " → "),
                    _better(f.false_activation, b.false_activation),
                )
            )
        cells.append(num(f"{s.base.keyword_match:.3f} → {s.finetuned.keyword_match:.3f}"))
        if v2:
            cells.append(num(f"{_share(s.base.valid_call)} → {_share(s.finetuned.valid_call)}"))
        verdict = verdict_of(s)
        cells += [
            f'<td class="num">{s.improvements} / <span class="{"neg" if s.regressions else ""}">{s.regressions}'
            "</span></td>",
            f'<td><span class="pill" style="background:{VERDICT_COLORS.get(verdict, "#555")}">{esc(verdict)}</span></td>',
        ]
        return f'<tr class="{css}">{"".join(cells)}</tr>'

    body = "".join(row(n, s, paired.by_category.get(n) if paired else None) for n, s in groups.items())
    body += row("global", overall, paired.overall if paired else None, "total")
    table = stats_table(headers, body)
    return section("By category", table, open_=True, id_="categories")


def _leaderboard_section(results: RunResults, draw: Renderer) -> str:
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
    task = any(r.avg_task_success is not None for r in board.rows)
    if task:
        headers.insert(5, "task success")
    if board.rows and board.best.metric != "relevance":
        headers[headers.index("vs base [95 % CI]")] = f"vs base, {board.best.metric.replace('_', ' ')} [95 % CI]"
    body = "".join(
        f'<tr class="{"total" if r.name == primary else ""}"><td class="num">{r.rank}</td>'
        f'<th scope="row">{esc(r.name)}{" (primary)" if r.name == primary else ""}</th>'
        f'<td class="path">{esc(r.adapter)}</td>{num(str(r.n_cases))}'
        f"{_bar_cell(r.avg_relevance, FINETUNED_COLOR)}"
        + (num(_share(r.avg_task_success)) if task else "")
        + f"{num(f'{r.avg_keyword_match:.3f}')}"
        f"{num(_share(r.avg_valid_call))}"
        f"{num(f'{r.vs_base.mean_diff:+.3f} [{r.vs_base.ci_low:+.3f}, {r.vs_base.ci_high:+.3f}]', sign_css(r.vs_base.mean_diff))}"
        f"{num(f'{r.vs_base.wins} / {r.vs_base.losses}')}</tr>"
        for r in board.rows
    )
    table = (
        f'<p class="note">{esc(board.verdict())} The header, chart and category table describe the primary adapter.</p>'
        + stats_table(headers, body)
    )
    steps = board.training_steps()
    if steps:  # checkpoints of one training: the curve of relevance against the step, as in the PNG
        from evals.reports.charts import build_leaderboard_figure

        table += f'<div class="chart">{draw.svg("leaderboard", lambda: build_leaderboard_figure(results), "Relevance by training step")}</div>'
    return section(
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
        f'<tr><td class="num">{p.level}</td><th scope="row">{esc(p.arm)}</th>{num(str(p.n))}{num(str(p.variants))}'
        f"{num(ci(p.relevance, p.relevance_low, p.relevance_high))}"
        f"{num(ci(p.valid_call, p.valid_call_low, p.valid_call_high))}</tr>"
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
    table = f'<div class="chart">{curve}</div><p class="note">{esc(note)}</p>' + stats_table(headers, body)
    return section("Robustness to speech-recognition noise", table, open_=True, id_="robustness")


def _case_legend(results: RunResults) -> str:
    v2 = results.summary().overall.has_valid_call
    text = (
        "Words of the base answer missing from the fine-tuned one are struck out; words the fine-tuned "
        "answer added are highlighted. Tools: green = expected and named, red = named but not expected, "
        "struck out = expected but not named."
    )
    if not v2:
        text += " This run was scored by metric version 1: no valid call, refusal, recital, malformed or loop flags."
    if measured(results):
        text += (
            " Under each answer: the calls the tool runtime ran (green ok, red failed, with the error), the "
            "state they changed, and why the task failed; a follow-up's earlier turns are listed above its prompt."
        )
    return text


# -- small formatters --------------------------------------------------------------------------


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


def _better(low: float | None, high: float | None) -> str:
    return "" if low is None or high is None else sign_css(high - low)


def _pct_short(s: Stats) -> str:
    if s.relevance_gain_pct is None:
        return "n/a"
    return f"{s.relevance_gain_pct:+.1f} %"


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"
