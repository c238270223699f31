"""Turn generations into scored cases, and scored cases into per-category statistics."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from statistics import fmean

from evals.metrics import cosine_similarity, score_answer
from evals.records import CATEGORIES, Case, ScoredCase, Stats, Suite, Summary


def score_case(case: Case, base_answer: str, finetuned_answer: str, suite: Suite) -> ScoredCase:
    """Score both arms' answers to one case."""
    return ScoredCase(
        case=case,
        base=score_answer(base_answer, case, suite.tools),
        finetuned=score_answer(finetuned_answer, case, suite.tools),
        cosine_similarity=cosine_similarity(base_answer, finetuned_answer),
    )


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return fmean(values) if values else 0.0


def _valid_call_mean(cases: Sequence[ScoredCase], arm: str) -> float | None:
    """Mean valid_call of one arm; None without cases or when one was scored by metric version 1."""
    values = [c.arm(arm).valid_call for c in cases]
    if not values or any(v is None for v in values):
        return None
    return _mean(v for v in values if v is not None)


def _count(cases: Sequence[ScoredCase], arm: str, flag: str) -> int | None:
    """Cases whose answer raised a version-2 flag; None without cases or when one was scored by version 1."""
    if not cases or any(c.arm(arm).valid_call is None for c in cases):
        return None
    return sum(1 for c in cases if getattr(c.arm(arm), flag))


def stats(cases: Sequence[ScoredCase]) -> Stats:
    """Return the means of every metric over a group of scored cases."""
    return Stats(
        n_cases=len(cases),
        avg_cosine_similarity=_mean(c.cosine_similarity for c in cases),
        avg_keyword_match_base=_mean(c.base.keyword_match for c in cases),
        avg_keyword_match_finetuned=_mean(c.finetuned.keyword_match for c in cases),
        avg_relevance_base=_mean(c.base.relevance for c in cases),
        avg_relevance_finetuned=_mean(c.finetuned.relevance for c in cases),
        regressions=sum(1 for c in cases if c.regression),
        improvements=sum(1 for c in cases if c.relevance_delta > 0),
        echo_base=sum(1 for c in cases if c.base.echo),
        echo_finetuned=sum(1 for c in cases if c.finetuned.echo),
        avg_valid_call_base=_valid_call_mean(cases, "base"),
        avg_valid_call_finetuned=_valid_call_mean(cases, "finetuned"),
        refusal_base=_count(cases, "base", "refusal"),
        refusal_finetuned=_count(cases, "finetuned", "refusal"),
        recited_base=_count(cases, "base", "recited"),
        recited_finetuned=_count(cases, "finetuned", "recited"),
        loop_base=_count(cases, "base", "loop"),
        loop_finetuned=_count(cases, "finetuned", "loop"),
    )


def summarize(cases: Sequence[ScoredCase]) -> Summary:
    """Return global statistics and one entry per category that has cases, in suite order."""
    categories = [c for c in CATEGORIES if any(s.category == c for s in cases)]
    extra = sorted({s.category for s in cases} - set(CATEGORIES))
    return Summary(
        overall=stats(cases),
        by_category={cat: stats([s for s in cases if s.category == cat]) for cat in [*categories, *extra]},
    )
