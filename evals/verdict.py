"""The verdict on a fine-tune, from the relative relevance gain, and what to do next.

Pure functions over ``RunResults``: no I/O, no plotting. Every report (text, chart,
terminal summary, JSON ``gains`` section) reads its verdict from here so they never disagree.

Thresholds on the relative gain of mean relevance, ``Stats.relevance_gain_pct``:

- above 10 %            -> ``effective``
- from 5 % to 10 %      -> ``moderate`` (both ends included)
- below 5 %             -> ``insufficient`` (a negative gain too)

The relative gain is undefined when the base mean relevance is 0. Then a fine-tune with any
relevance at all gains without bound over a base that never routes, which is ``effective``;
both at 0 means nothing was learned, which is ``insufficient``. An empty run is
``insufficient``: there is no evidence either way.
"""

from __future__ import annotations

from typing import Any

from evals.records import PairedStats, RunResults, ScoredCase, Stats

EFFECTIVE = "effective"
MODERATE = "moderate"
INSUFFICIENT = "insufficient"

EFFECTIVE_ABOVE_PCT = 10.0
MODERATE_FROM_PCT = 5.0

# Means of a few floats put 10 % at 10.000000000000009 (0.55 vs 0.5); comparing at a
# precision far below what any report prints keeps a boundary on the side it reads as.
_PCT_DIGITS = 9

THRESHOLDS_TEXT = (
    f"> {EFFECTIVE_ABOVE_PCT:g} % effective, {MODERATE_FROM_PCT:g}-{EFFECTIVE_ABOVE_PCT:g} % moderate, "
    f"< {MODERATE_FROM_PCT:g} % insufficient"
)


def classify_gain(gain_pct: float | None, *, finetuned_mean: float = 0.0, n_cases: int = 1) -> str:
    """Return the verdict for a relative relevance gain in percent (None: base mean is 0)."""
    if n_cases <= 0:
        return INSUFFICIENT
    if gain_pct is None:
        return EFFECTIVE if finetuned_mean > 0 else INSUFFICIENT
    pct = round(gain_pct, _PCT_DIGITS)
    if pct > EFFECTIVE_ABOVE_PCT:
        return EFFECTIVE
    if pct >= MODERATE_FROM_PCT:
        return MODERATE
    return INSUFFICIENT


def verdict_of(stats: Stats) -> str:
    """Return the verdict for a group's statistics."""
    return classify_gain(stats.relevance_gain_pct, finetuned_mean=stats.finetuned.relevance, n_cases=stats.n_cases)


def category_stats(results: RunResults) -> dict[str, Stats]:
    """Return the per-category statistics a report shows: only the categories that ran.

    A partial run (``metadata.categories`` set) keeps only the selected categories, in the
    order the summary lists them.
    """
    selected = set(results.metadata.categories)
    return {name: stats for name, stats in results.summary().by_category.items() if not selected or name in selected}


def weakest_category(results: RunResults) -> str | None:
    """Return the category with the lowest fine-tuned relevance; ties go to the smallest gain."""
    groups = {k: v for k, v in category_stats(results).items() if v.n_cases > 0}
    if not groups:
        return None
    return min(groups, key=lambda k: (groups[k].finetuned.relevance, groups[k].relevance_gain))


def regressions(results: RunResults) -> list[ScoredCase]:
    """Return the cases where the fine-tuned relevance is below the base relevance, in run order."""
    return [c for c in results.pairs() if c.regression]


def format_pct(gain_pct: float | None, finetuned_mean: float = 0.0) -> str:
    """Format a relative gain for humans: '+12.5 %', or why it is undefined."""
    if gain_pct is None:
        return "unbounded (base relevance is 0)" if finetuned_mean > 0 else "n/a (both arms at 0)"
    return f"{gain_pct:+.1f} %"


def recommendations(verdict: str, results: RunResults) -> list[str]:
    """Return what to do next for a verdict, naming the weakest category."""
    weakest = weakest_category(results)
    groups = category_stats(results)
    if weakest is not None:
        w = groups[weakest]
        where = (
            f"'{weakest}' (fine-tuned relevance {w.finetuned.relevance:.3f}, gain {w.relevance_gain:+.3f} over base)"
        )
    else:
        where = "none (no case ran)"
    n_reg = len(regressions(results))
    if verdict == EFFECTIVE:
        recs = [
            "Deploy the adapter: the fine-tune routes requests clearly better than the base model.",
            "Monitor it in use, and keep this run as the baseline that later runs are gated against.",
            f"Watch the weakest category {where}: it is the first place a regression will show.",
        ]
    elif verdict == MODERATE:
        recs = [
            f"Look at the weakest category first: {where}.",
            "Add training examples for that category (paraphrases, misrecognised speech, multi-tool requests).",
            "Retrain, then re-run this benchmark and compare the two runs (jarvis-evals compare).",
        ]
    else:
        recs = [
            "Review the training strategy: the fine-tune does not beat the base model by a useful margin.",
            "Check dataset quality: answers must start with the tool id, with no contradictory examples.",
            "Tune the hyper-parameters: learning rate, LoRA rank and alpha, target modules.",
            "Train for more epochs, watching the validation loss for over-fitting.",
            f"Start with the weakest category {where}.",
        ]
    if n_reg:
        recs.append(f"Inspect the {n_reg} per-case regression(s) listed in the report before any deployment.")
    paired = results.paired_for()
    if verdict != INSUFFICIENT and paired is not None and not paired.overall.significant:
        recs.append("The gain is not statistically significant: add cases or confirm it on a second run first.")
    if results.gate is not None and results.gate.failed:
        recs.append("The quality gate failed: fix what it reports before deploying this adapter.")
    return recs


def gains_section(results: RunResults) -> dict[str, Any]:
    """Return the JSON ``gains`` section: gains, verdict, recommendations and regressions."""
    overall = results.summary().overall
    verdict = verdict_of(overall)
    return {
        "relevance_gain_abs": overall.relevance_gain,
        "relevance_gain_pct": overall.relevance_gain_pct,
        "keyword_gain": overall.keyword_gain,
        "verdict": verdict,
        "thresholds": {"effective_above_pct": EFFECTIVE_ABOVE_PCT, "moderate_from_pct": MODERATE_FROM_PCT},
        "recommendations": recommendations(verdict, results),
        "weakest_category": weakest_category(results),
        "regressions": [c.id for c in regressions(results)],
    }


def significance_sentence(paired: PairedStats, metric: str = "relevance", worse: str = "the fine-tune is worse") -> str:
    """Say in words whether the global paired gain of ``metric`` (its label) is significant."""
    glob = paired.overall
    alpha = f"{100 * (1 - paired.confidence):g} %"
    clustered = ", clustered by case" if paired.clustered else ""  # sampled answers: rates, not single scores
    ci = f" ({100 * paired.confidence:g} % CI of the mean difference [{glob.ci_low:+.3f}, {glob.ci_high:+.3f}]{clustered})"
    if not glob.significant:
        return f"The {metric} difference is NOT significant at {alpha}{ci}: it may be noise."
    if glob.mean_diff < 0:
        return f"The {metric} LOSS is significant at {alpha}{ci}: {worse}."
    return f"The {metric} gain is significant at {alpha}{ci}."
