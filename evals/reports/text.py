"""The human-readable text report of a run: what ran, the numbers, the cases, the verdict.

``render_text`` is a pure function of ``RunResults`` (the ``gains`` section stored in a
results JSON is ignored and recomputed), so ``jarvis-evals report`` re-renders a saved run
byte for byte. The sections later stages of a run add (paired statistics, baseline, gate,
noise, robustness, ...) are in ``text_sections``, the building blocks in ``text_blocks``.
"""

from __future__ import annotations

from evals.records import ArmScore, RunResults, ScoredCase, Stats
from evals.reports.task import measured
from evals.reports.text_blocks import WIDTH, field_lines, section_title, table_lines, wrap_lines
from evals.reports.text_sections import later_sections, leaderboard_section
from evals.reports.text_task import (
    CATEGORY_HEADERS,
    arm_fields,
    category_cells,
    context_fields,
    expect_fields,
    failures,
    failures_title,
    header_lines,
    stats_lines,
    stats_rows,
    verdict_fields,
)
from evals.verdict import (
    THRESHOLDS_TEXT,
    category_stats,
    format_pct,
    gains_section,
    significance_sentence,
    verdict_of,
)

__all__ = ["TOP_N", "WIDTH", "field_lines", "render_text", "section_title", "table_lines", "wrap_lines"]

TOP_N = 5
_RULE = "=" * WIDTH


def render_text(results: RunResults) -> str:
    """Return the full text report of a run, ending with a newline."""
    sections: list[list[str]] = [
        _header(results),
        _run_section(results),
        _global_section(results),
        _category_sections(results),
    ]
    if results.leaderboard is not None:
        sections.append(leaderboard_section(results))
    sections += [s for s in later_sections(results) if s]
    sections += [
        _improvements_section(results),
        _worst_section(results),
        _regressions_section(results),
        _task_failures_section(results),
        _echo_section(results),
        _all_cases_section(results),
        _custom_checks_section(results),
        _verdict_section(results),
    ]
    lines: list[str] = []
    for section in sections:
        if section:  # an optional section with nothing to say adds no blank line
            lines += section
            lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


# -- sections -----------------------------------------------------------------------------


def _header(results: RunResults) -> list[str]:
    overall = results.summary().overall
    verdict = verdict_of(overall)
    bottom = (
        f"Bottom line: {verdict.upper()}: mean relevance {overall.base.relevance:.3f} -> "
        f"{overall.finetuned.relevance:.3f} "
        f"({format_pct(overall.relevance_gain_pct, overall.finetuned.relevance)}) over {overall.n_cases} cases."
    )
    if overall.has_valid_call:  # metric version 2 (docs/metrics.md)
        metrics = [
            "Metrics (higher is better): relevance = F1 of the tools an answer routes to (its calls, else",
            "its free-text mentions) vs the expected tools, 0 for a refusal, a recited tool list or an echo;",
            "valid call = share of answers with parseable calls of exactly the expected tools; keyword match",
            "= share of the case's keywords in the answer; cosine = TF-IDF similarity of the two arms'",
            "answers (how much the fine-tune changed the answer, not a quality score).",
        ]
    else:
        metrics = [
            "Metrics (higher is better): relevance = F1 of the tools an answer names vs the expected tools;",
            "keyword match = share of the case's keywords in the answer; cosine = TF-IDF similarity of the",
            "two arms' answers (how much the fine-tune changed the answer, not a quality score).",
        ]
    task, task_metrics = header_lines(results) if measured(results) else ([], [])
    return [
        _RULE,
        "JARVIS BENCHMARK REPORT: base model vs LoRA fine-tune".center(WIDTH).rstrip(),
        _RULE,
        *wrap_lines(bottom, indent=0),
        *task,
        *metrics,
        *task_metrics,
    ]


def _run_section(results: RunResults) -> list[str]:
    m = results.metadata
    cats = list(category_stats(results))
    if m.scope:  # why the run is partial: quick mode runs every category, one case each
        scope = f"{', '.join(cats) or 'none'} (partial run, {m.scope}: only the cases that ran are reported)"
    elif m.partial:  # results of earlier versions, which did not record why
        scope = f"{', '.join(cats) or 'none'} (partial run: only these categories were selected and are reported)"
    else:
        scope = ", ".join(cats) or "none"
    g = m.generation
    lines = section_title("RUN")
    lines += field_lines(
        [
            ("Model", m.model),
            ("Adapter", m.adapter),
            ("Quantization", m.quantization),
            ("Device", m.device),
            ("Suite", f"{m.suite_name} version {m.suite_version}" + (f" ({m.suite_path})" if m.suite_path else "")),
            ("Categories", scope),
            ("Timestamp", m.timestamp),
            ("Cases", str(results.summary().overall.n_cases)),
            ("Generate calls", str(m.n_generate_calls)),
            ("Cached answers", f"{m.n_cached_answers} (read from the generation cache, not generated)"),
            ("Load time", f"{m.load_seconds:.1f} s"),
            ("Generation time", f"{m.generation_seconds:.1f} s"),
        ]
    )
    lines.append("  Generation settings:")
    lines += field_lines(
        [
            ("max_new_tokens", str(g.max_new_tokens)),
            ("batch_size", str(g.batch_size)),
            ("do_sample", f"{g.do_sample}" + (" (greedy decoding)" if not g.do_sample and g.num_beams == 1 else "")),
            ("num_beams", str(g.num_beams)),
            ("template", g.template),
            # A run from before native tools recorded none: its tools were listed in the system prompt.
            ("prompt_format", g.prompt_format or "system-text"),
            ("enable_thinking", str(g.enable_thinking)),
        ],
        indent=4,
    )
    lines.append("  Packages:")
    if m.packages:
        lines += field_lines(sorted(m.packages.items()), indent=4)
    else:
        lines.append("    (not recorded)")
    return lines


def _global_section(results: RunResults) -> list[str]:
    overall = results.summary().overall
    lines = section_title(f"GLOBAL STATISTICS ({overall.n_cases} cases)")
    lines += _stats_block(overall, measured(results))
    return lines


def _category_sections(results: RunResults) -> list[str]:
    groups = category_stats(results)
    lines = section_title("BY CATEGORY")
    if not groups:
        return lines + ["  No category ran."]
    rows = [
        [
            name,
            str(s.n_cases),
            f"{s.base.relevance:.3f}",
            f"{s.finetuned.relevance:.3f}",
            f"{s.relevance_gain:+.3f}",
            _pct_short(s),
            f"{s.base.keyword_match:.3f}",
            f"{s.finetuned.keyword_match:.3f}",
            f"{s.cosine_similarity:.3f}",
            verdict_of(s),
        ]
        for name, s in groups.items()
    ]
    headers = ["category", "n", "rel base", "rel ft", "gain", "gain %", "kw base", "kw ft", "cosine", "verdict"]
    align = "lrrrrrrrrl"
    if results.summary().overall.has_valid_call:  # metric version 2: valid call before the verdict
        for row, s in zip(rows, groups.values(), strict=True):
            row[-1:-1] = [_share(s.base.valid_call), _share(s.finetuned.valid_call)]
        headers[-1:-1] = ["vc base", "vc ft"]
        align = "lrrrrrrrrrrl"
    if measured(results):  # task success and false activation next to relevance
        for row, s in zip(rows, groups.values(), strict=True):
            row[6:6] = category_cells(s)
        headers[6:6] = CATEGORY_HEADERS
        align = align[:6] + "rrrr" + align[6:]
    lines += table_lines(headers, rows, align=align)
    for name, s in groups.items():
        lines.append("")
        heading = f"Category '{name}' ({s.n_cases} cases)"
        lines += [f"  {heading}", "  " + "-" * len(heading)]
        lines += _stats_block(s, measured(results))
    return lines


def _improvements_section(results: RunResults) -> list[str]:
    improved = sorted((c for c in results.pairs() if c.relevance_delta > 0), key=lambda c: -c.relevance_delta)[:TOP_N]
    lines = section_title(f"TOP {TOP_N} IMPROVEMENTS (largest relevance gain, fine-tuned over base)")
    if not improved:
        return lines + ["  None: no case has a higher fine-tuned relevance than base."]
    for i, case in enumerate(improved, 1):
        lines += _case_block(i, case)
    return lines


def _task_failures_section(results: RunResults) -> list[str]:
    if not measured(results):
        return []
    failed = failures(results)
    lines = failures_title(len(failed))
    if not failed:
        return lines + ["  None: every fine-tuned answer that was judged did its task."]
    for i, case in enumerate(failed, 1):
        lines += _case_block(i, case)
    return lines


def _worst_section(results: RunResults) -> list[str]:
    worst = sorted(results.pairs(), key=lambda c: (c.finetuned.relevance, c.relevance_delta))[:TOP_N]
    lines = section_title(f"{TOP_N} WORST CASES (lowest fine-tuned relevance, then smallest gain)")
    if not worst:
        return lines + ["  None: no case ran."]
    for i, case in enumerate(worst, 1):
        lines += _case_block(i, case)
    return lines


def _regressions_section(results: RunResults) -> list[str]:
    regressed = [c for c in results.pairs() if c.regression]
    lines = section_title(f"REGRESSIONS ({len(regressed)}: fine-tuned relevance below base)")
    if not regressed:
        return lines + ["  None: the fine-tune is at least as relevant as the base model on every case."]
    for i, case in enumerate(regressed, 1):
        lines += _case_block(i, case)
    return lines


def _echo_section(results: RunResults) -> list[str]:
    n = len(results.pairs())
    lines = section_title("ECHOED ANSWERS (the answer only repeats the request instead of calling a tool)")
    for label, arm in (("Base", "base"), ("Fine-tuned", "finetuned")):
        ids = [c.id for c in results.pairs() if c.arm(arm).echo]
        lines.append(f"  {label:<11}: {len(ids)} of {n}")
        if ids:
            lines += wrap_lines(", ".join(ids), indent=4)
    return lines


def _all_cases_section(results: RunResults) -> list[str]:
    version_2 = results.summary().overall.has_valid_call
    task = measured(results)
    if task:
        lines = section_title(
            "ALL CASES (vc valid call, ts task success; R regression, E echo, X refusal, L recital, M malformed, "
            "A false activation: b base, f ft)"
        )
    elif version_2:
        lines = section_title(
            "ALL CASES (vc = valid call; R regression, E echo, X refusal, L recital, M malformed: b base, f ft)"
        )
    else:
        lines = section_title("ALL CASES (R = regression, E = echoed answer: b base, f fine-tuned)")
    if not results.pairs():
        return lines + ["  None: no case ran."]
    rows = [
        [
            c.id,
            c.category,
            f"{c.base.relevance:.3f}",
            f"{c.finetuned.relevance:.3f}",
            f"{c.relevance_delta:+.3f}",
            f"{c.base.keyword_hits}/{c.base.keyword_total}",
            f"{c.finetuned.keyword_hits}/{c.finetuned.keyword_total}",
            f"{c.cosine_similarity:.3f}",
            _flags(c),
        ]
        for c in results.pairs()
    ]
    headers = ["case", "category", "rel base", "rel ft", "delta", "kw base", "kw ft", "cosine", "flags"]
    align = "llrrrrrrl"
    if version_2:
        for row, c in zip(rows, results.pairs(), strict=True):
            row[-1:-1] = [f"{c.base.valid_call or 0:.0f}", f"{c.finetuned.valid_call or 0:.0f}"]
        headers[-1:-1] = ["vc base", "vc ft"]
        align = "llrrrrrrrrl"
    if task:
        for row, c in zip(rows, results.pairs(), strict=True):
            row[-1:-1] = [_task_cell(c.base.task_success), _task_cell(c.finetuned.task_success)]
        headers[-1:-1] = ["ts base", "ts ft"]
        align = align[:-1] + "rrl"
    return lines + table_lines(headers, rows, align=align)


def _custom_checks_section(results: RunResults) -> list[str]:
    if not results.custom_checks:
        return []
    lines = section_title(
        f"CUSTOM CHECKS ({len(results.custom_checks)}: your own tests on the same models; not in the statistics or the gate)"
    )
    for check in results.custom_checks:
        lines += wrap_lines(f"{check.outcome.upper()}  {check.name}", indent=2)
        if check.message:
            lines += wrap_lines(check.message, indent=6)
    return lines


def _verdict_section(results: RunResults) -> list[str]:
    overall = results.summary().overall
    gains = gains_section(results)
    lines = section_title("VERDICT")
    relative = format_pct(overall.relevance_gain_pct, overall.finetuned.relevance)
    pairs = [
        ("Relevance gain", f"{overall.relevance_gain:+.3f} absolute, {relative} relative"),
        ("Keyword gain", f"{overall.keyword_gain:+.3f} absolute"),
        ("Thresholds", f"relative relevance gain {THRESHOLDS_TEXT}"),
        ("Verdict", str(gains["verdict"]).upper()),
        ("Weakest category", gains["weakest_category"] or "none"),
    ]
    if measured(results):
        pairs[2:2] = verdict_fields(results)
    if results.gate is not None:
        pairs.append(("Quality gate", f"{results.gate.status.upper().replace('_', ' ')} (see QUALITY GATE)"))
    lines += field_lines(pairs)
    paired = results.paired_for()
    sentence = significance_sentence(paired) if paired is not None else None
    if sentence:
        lines += wrap_lines(sentence, indent=2)
    lines.append("  Recommendations:")
    for rec in gains["recommendations"]:
        lines += wrap_lines(rec, indent=4, first="- ")
    return lines


# -- blocks of the sections above ---------------------------------------------------------


def _stats_block(s: Stats, task: bool = False) -> list[str]:
    rows = [
        [
            "keyword match",
            f"{s.base.keyword_match:.3f}",
            f"{s.finetuned.keyword_match:.3f}",
            f"{s.keyword_gain:+.3f}",
            "",
        ],
        [
            "relevance",
            f"{s.base.relevance:.3f}",
            f"{s.finetuned.relevance:.3f}",
            f"{s.relevance_gain:+.3f}",
            format_pct(s.relevance_gain_pct, s.finetuned.relevance),
        ],
    ]
    if s.base.valid_call is not None and s.finetuned.valid_call is not None:  # metric version 2
        rows.append(
            [
                "valid call",
                f"{s.base.valid_call:.3f}",
                f"{s.finetuned.valid_call:.3f}",
                f"{s.finetuned.valid_call - s.base.valid_call:+.3f}",
                "",
            ]
        )
    if task:
        rows += stats_rows(s)
    lines = table_lines(["metric", "base", "fine-tuned", "gain", "relative gain"], rows, align="lrrrl")
    unchanged = s.n_cases - s.improvements - s.regressions
    lines += [
        f"  Mean cosine similarity of the two arms' answers: {s.cosine_similarity:.3f}",
        f"  Cases improved / regressed / unchanged: {s.improvements} / {s.regressions} / {unchanged}",
        f"  Echoed answers: base {s.base.echo}, fine-tuned {s.finetuned.echo}",
    ]
    if s.base.refusal is not None and s.base.recited is not None:
        lines += [
            f"  Refusals: base {s.base.refusal}, fine-tuned {s.finetuned.refusal}; "
            f"recited tool lists: base {s.base.recited}, fine-tuned {s.finetuned.recited}"
        ]
    if task and stats_rows(s):
        lines += stats_lines(s)
    return lines


def _case_block(rank: int, case: ScoredCase) -> list[str]:
    head = (
        f"  {rank}. {case.id} ({case.category}): relevance {case.base.relevance:.3f} -> "
        f"{case.finetuned.relevance:.3f} ({case.relevance_delta:+.3f}), keywords "
        f"{case.base.keyword_hits}/{case.base.keyword_total} -> "
        f"{case.finetuned.keyword_hits}/{case.finetuned.keyword_total}"
    )
    pairs = [*context_fields(case), ("Prompt", case.case.prompt)]
    if case.case.intended:
        pairs.append(("Intended", case.case.intended))
    pairs += [
        ("Expected", ", ".join(case.case.expected_tools) or "none"),
        *expect_fields(case),
        ("Base", _answer(case.base)),
        *arm_fields(case.base),
        ("Fine-tuned", _answer(case.finetuned)),
        *arm_fields(case.finetuned),
    ]
    return [head] + field_lines(pairs, indent=5)


def _answer(arm: ArmScore) -> str:
    text = " ".join(arm.answer.split()) or "(empty answer)"
    tools = ", ".join(arm.tools_named) or "none"
    if arm.valid_call is not None:  # metric version 2
        flags = [name for name in ("refusal", "recited", "echo", "malformed") if getattr(arm, name)]
        shown = f"; flags: {', '.join(flags)}" if flags else ""
        return f"{text}  [tools routed: {tools}; valid call: {'yes' if arm.valid_call else 'no'}{shown}]"
    echo = "; echoed the request" if arm.echo else ""
    return f"{text}  [tools named: {tools}{echo}]"


# Flag letters of the ALL CASES table, in order; X, L and M come with metric version 2, A with task success.
_FLAG_LETTERS = (("E", "echo"), ("X", "refusal"), ("L", "recited"), ("M", "malformed"), ("A", "false_activation"))


def _flags(case: ScoredCase) -> str:
    flags = []
    if case.regression:
        flags.append("R")
    for letter, name in _FLAG_LETTERS:
        arms = ("b" if getattr(case.base, name) else "") + ("f" if getattr(case.finetuned, name) else "")
        if arms:
            flags.append(f"{letter}:{arms}")
    return " ".join(flags)


def _task_cell(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _pct_short(s: Stats) -> str:
    if s.relevance_gain_pct is None:
        return "inf" if s.finetuned.relevance > 0 else "n/a"
    return f"{s.relevance_gain_pct:+.1f}%"
