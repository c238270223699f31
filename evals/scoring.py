"""Turn answers into scored cases (every arm at once), and scored cases into per-category statistics."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from statistics import fmean

from evals.metrics import cosine_similarity, score_answer
from evals.records import (
    BASE_ARM,
    CATEGORIES,
    ArmScore,
    ArmStats,
    Case,
    CaseResult,
    GroupStats,
    PairStats,
    SampleScore,
    ScoredCase,
    Statistics,
    Suite,
)
from evals.runtime.verdict import judge_calls


def score_arm(answer: str, case: Case, suite: Suite) -> ArmScore:
    """One answer's relevance and keywords, and what its calls do in the tool runtime."""
    score = score_answer(answer, case, suite.tools)
    task = judge_calls(score.calls, case, suite.tool_ids, recited=score.recited, answer=answer)
    return replace(
        score,
        task_success=task.task_success,
        tool_names_ok=task.tool_names_ok if task.task_success is not None else None,
        arguments_ok=task.arguments_ok if task.task_success is not None else None,
        abstained=task.abstained,
        executed=task.executed,
        state_diff=task.state_diff,
        unmet=task.unmet,
    )


def score_samples(answers: Sequence[str], case: Case, suite: Suite) -> ArmScore:
    """Score an arm's answers to one case: one answer as ``score_arm``; N samples as their rates.

    With samples, relevance, valid call and task success become the means over the samples (the
    per-case rates every statistic and the gate compare), each sample's scores are kept in
    ``samples``, and the answer, calls and flags shown are sample 0's.
    """
    scores = [score_arm(text, case, suite) for text in answers]
    if len(scores) == 1:
        return scores[0]

    def mean(values: list[float | None]) -> float | None:
        return None if any(v is None for v in values) else fmean(v for v in values if v is not None)

    first = scores[0]
    return replace(
        first,
        relevance=fmean(s.relevance for s in scores),
        valid_call=mean([s.valid_call for s in scores]),
        task_success=mean([s.task_success for s in scores]),
        samples=tuple(
            SampleScore(
                answer=s.answer,
                relevance=s.relevance,
                valid_call=s.valid_call,
                task_success=s.task_success,
                tool_names_ok=s.tool_names_ok,
                arguments_ok=s.arguments_ok,
                abstained=s.abstained,
            )
            for s in scores
        ),
    )


Similarity = Callable[[str, str], float]


def score_case(
    case: Case, answers: Mapping[str, str | Sequence[str]], suite: Suite, similarity: Similarity = cosine_similarity
) -> CaseResult:
    """Score every arm's answer to one case (``answers``: the base's first, then each adapter's by name).

    An arm may give several sampled answers: its scores are then their rates (``score_samples``),
    and the cosine similarity compares sample 0's answers. ``similarity`` is the cosine, or a
    function that returns it from a cache (``EvalRun``: a cached run then imports no scikit-learn).
    """
    texts = {name: [given] if isinstance(given, str) else list(given) for name, given in answers.items()}
    base = texts[BASE_ARM][0]
    return CaseResult(
        case=case,
        arms={name: score_samples(given, case, suite) for name, given in texts.items()},
        similarity={name: similarity(base, given[0]) for name, given in texts.items() if name != BASE_ARM},
    )


def score_pair(
    case: Case,
    base_answer: str | Sequence[str],
    finetuned_answer: str | Sequence[str],
    suite: Suite,
    similarity: Similarity = cosine_similarity,
) -> ScoredCase:
    """Score one adapter's answer(s) against the base's (the view a single comparison reads)."""
    answers = {BASE_ARM: base_answer, "finetuned": finetuned_answer}
    return score_case(case, answers, suite, similarity).versus("finetuned")


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return fmean(values) if values else 0.0


def arm_stats(scores: Sequence[ArmScore]) -> ArmStats:
    """One arm's means and counts; the version-2 flags are None when an answer was scored by version 1."""
    v2 = bool(scores) and all(s.valid_call is not None for s in scores)

    def flagged(flag: str) -> int | None:
        return sum(1 for s in scores if getattr(s, flag)) if v2 else None

    # Per case, the rate over its samples (the answer itself when there is one): a mean of rates.
    task = [s.task_success for s in scores if s.task_success is not None]
    measured = [s for s in scores if s.task_success is not None]
    names = [s.rate("tool_names_ok") or 0.0 for s in measured]
    arguments = [a for a in (s.rate("arguments_ok") for s in measured) if a is not None]
    silent = [f for f in (s.false_activation_rate for s in scores) if f is not None]
    return ArmStats(
        task_success=_mean(task) if task else None,
        tool_names_ok=_mean(names) if measured else None,
        arguments_ok=_mean(arguments) if arguments else None,
        false_activation=_mean(silent) if silent else None,
        n_task=len(task),
        n_no_tool=len(silent),
        relevance=_mean(s.relevance for s in scores),
        keyword_match=_mean(s.keyword_match for s in scores),
        echo=sum(1 for s in scores if s.echo),
        valid_call=_mean(s.valid_call or 0.0 for s in scores) if v2 else None,
        refusal=flagged("refusal"),
        recited=flagged("recited"),
        loop=flagged("loop"),
    )


def group_stats(results: Sequence[CaseResult]) -> GroupStats:
    """Every arm's statistics over a group of cases, and every adapter's against the base."""
    names = list(dict.fromkeys(name for r in results for name in r.arms))
    pairs = {}
    for name in names:
        if name == BASE_ARM:
            continue
        both = [r.versus(name) for r in results if name in r.arms]
        pairs[name] = PairStats(
            n_cases=len(both),
            cosine_similarity=_mean(c.cosine_similarity for c in both),
            regressions=sum(1 for c in both if c.regression),
            improvements=sum(1 for c in both if c.relevance_delta > 0),
        )
    return GroupStats(
        n_cases=len(results),
        arms={name: arm_stats([r.arms[name] for r in results if name in r.arms]) for name in names},
        pairs=pairs,
    )


def summarize(results: Sequence[CaseResult]) -> Statistics:
    """Return global statistics and one entry per category that has cases, in suite order."""
    categories = [c for c in CATEGORIES if any(r.category == c for r in results)]
    extra = sorted({r.category for r in results} - set(CATEGORIES))
    return Statistics(
        overall=group_stats(results),
        by_category={cat: group_stats([r for r in results if r.category == cat]) for cat in [*categories, *extra]},
    )
