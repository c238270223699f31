"""Tabular views of a run: one CSV row per case, and the compact pytest terminal summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from evals.records import RunResults, Stats
from evals.verdict import category_stats, format_pct, verdict_of, weakest_category

if TYPE_CHECKING:  # pandas is imported where a frame is built, not by the terminal summary
    import pandas as pd

# Columns of the per-case CSV, in order; lists are joined with ';' so a cell stays one value.
COLUMNS: tuple[str, ...] = (
    "id",
    "category",
    "prompt",
    "intended",
    "expected_tools",
    "base_answer",
    "finetuned_answer",
    "keyword_match_base",
    "keyword_match_finetuned",
    "relevance_base",
    "relevance_finetuned",
    "relevance_delta",
    "regression",
    "cosine_similarity",
    "tools_named_base",
    "tools_named_finetuned",
    "echo_base",
    "echo_finetuned",
)


def results_frame(results: RunResults) -> pd.DataFrame:
    """Return one row per scored case with both arms' answers and every score."""
    import pandas as pd

    rows = [
        {
            "id": c.id,
            "category": c.category,
            "prompt": c.case.prompt,
            "intended": c.case.intended or "",
            "expected_tools": ";".join(c.case.expected_tools),
            "base_answer": c.base.answer,
            "finetuned_answer": c.finetuned.answer,
            "keyword_match_base": c.base.keyword_match,
            "keyword_match_finetuned": c.finetuned.keyword_match,
            "relevance_base": c.base.relevance,
            "relevance_finetuned": c.finetuned.relevance,
            "relevance_delta": c.relevance_delta,
            "regression": c.regression,
            "cosine_similarity": c.cosine_similarity,
            "tools_named_base": ";".join(c.base.tools_named),
            "tools_named_finetuned": ";".join(c.finetuned.tools_named),
            "echo_base": c.base.echo,
            "echo_finetuned": c.finetuned.echo,
        }
        for c in results.results
    ]
    return pd.DataFrame(rows, columns=list(COLUMNS))


def results_csv(results: RunResults) -> str:
    """Return the per-case CSV text (UTF-8, '\\n' line ends, no index column)."""
    return results_frame(results).to_csv(index=False, lineterminator="\n")


def terminal_summary_lines(results: RunResults) -> list[str]:
    """Return a compact per-category table, a global row and the verdict line for pytest."""
    groups = category_stats(results)
    overall = results.statistics.overall
    names = [*groups, "global"]
    width = max(len(n) for n in [*names, "category"])
    header = (
        f"{'category':<{width}}  {'n':>3}  {'relevance base -> ft':>20}  {'keywords base -> ft':>19}  {'cosine':>6}"
    )
    lines = [header]
    for name, s in [*groups.items(), ("global", overall)]:
        lines.append(_row(name, s, width))
    weakest = weakest_category(results)
    lines.append(
        f"verdict: {verdict_of(overall).upper()} (relevance "
        f"{format_pct(overall.relevance_gain_pct, overall.avg_relevance_finetuned)}, "
        f"{overall.regressions} regression(s); weakest category: {weakest or 'none'})"
    )
    return lines


def _row(name: str, s: Stats, width: int) -> str:
    rel = f"{s.avg_relevance_base:.3f} -> {s.avg_relevance_finetuned:.3f}"
    kw = f"{s.avg_keyword_match_base:.3f} -> {s.avg_keyword_match_finetuned:.3f}"
    return f"{name:<{width}}  {s.n_cases:>3}  {rel:>20}  {kw:>19}  {s.avg_cosine_similarity:>6.3f}"
