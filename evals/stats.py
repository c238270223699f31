"""Paired statistics: is a difference between two arms (or two runs) more than noise?

Both comparisons are paired by case: the fine-tuned arm against the base arm of the same
run (``paired_section``), and this run's fine-tuned arm against the blessed baseline's
(``baseline_section``). Each reports a percentile bootstrap interval of the mean per-case
difference and an exact sign test.

A difference is called *significant* when the bootstrap interval excludes 0 **and** the
sign test rejects at the same level (``1 - confidence``, 5 % by default). The sign test is
exact at any n; it guards the bootstrap where that is known to be over-confident: with very
few cases (n = 1 gives a zero-width interval) or with a handful of non-tied cases among many
ties (4 wins, 0 losses, 26 ties: the interval excludes 0 but the exact p is 0.125).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from evals.records import (
    CATEGORIES,
    BaselineBlock,
    BaselineComparison,
    Leaderboard,
    LeaderboardRow,
    PairedBlock,
    PairedStats,
    RunResults,
    ScoredCase,
)
from evals.sampling import sample_values, sampled

if TYPE_CHECKING:
    from evals.gate.baseline import Baseline

DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95
DEFAULT_SEED = 0

# Relevance is an F1 over small tool sets, so equal scores are bit-identical floats; the
# margin only absorbs rounding from a JSON round trip or an arithmetic path that differs.
_TIE = 1e-12


@dataclass(frozen=True)
class Interval:
    """The mean of paired differences and its percentile bootstrap interval."""

    mean: float
    low: float
    high: float
    n: int
    confidence: float = DEFAULT_CONFIDENCE

    @property
    def excludes_zero(self) -> bool:
        """True when the whole interval lies on one side of 0."""
        return self.n > 0 and (self.low > 0.0 or self.high < 0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"n": self.n, "mean": self.mean, "low": self.low, "high": self.high, "confidence": self.confidence}


def _check(resamples: int, confidence: float) -> None:
    if isinstance(resamples, bool) or not isinstance(resamples, (int, np.integer)) or resamples < 1:
        raise ValueError(f"resamples must be a whole number >= 1, got {resamples!r}")
    if not (isinstance(confidence, (int, float)) and 0.0 < confidence < 1.0):
        raise ValueError(f"confidence must be strictly between 0 and 1 (e.g. 0.95), got {confidence!r}")


def paired_bootstrap(
    diffs: Sequence[float] | np.ndarray,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Return the mean of ``diffs`` and its percentile bootstrap interval (seeded, reproducible).

    n = 0 gives mean 0 and the interval (0, 0): no evidence, never significant. n = 1 gives a
    zero-width interval at the single value (the bootstrap cannot see variance it has no data
    for; ``significant`` relies on the sign test to reject that case).
    """
    _check(resamples, confidence)
    values = np.asarray(diffs, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(values)):
        raise ValueError("paired differences must be finite numbers (got NaN or infinity)")
    n = int(values.size)
    if n == 0:
        return Interval(mean=0.0, low=0.0, high=0.0, n=0, confidence=float(confidence))
    mean = float(values.mean())
    if n == 1:
        return Interval(mean=mean, low=mean, high=mean, n=1, confidence=float(confidence))
    rng = np.random.default_rng(seed)
    # One (resamples, n) index draw: every resample is a row, all means in one reduction.
    # 10 000 x 30 cases is 2.4 MB of indices; a suite of thousands of cases would want chunks.
    indices = rng.integers(0, n, size=(int(resamples), n))
    means = values[indices].mean(axis=1)
    alpha = 1.0 - float(confidence)
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    # The sample mean lies inside any sane percentile interval; min/max only absorbs the
    # last-bit rounding of a constant sample, so low <= mean <= high always holds.
    return Interval(
        mean=mean, low=min(float(low), mean), high=max(float(high), mean), n=n, confidence=float(confidence)
    )


def clustered_bootstrap(
    base: Sequence[Sequence[float]],
    tuned: Sequence[Sequence[float]],
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Interval:
    """Return the mean per-case difference of rates (tuned minus base) and its two-level bootstrap interval.

    ``base[i]`` and ``tuned[i]`` are case i's sampled scores in each arm. Each resample draws cases
    with replacement, then each arm's samples within every drawn case, independently: a case's rate
    is itself an estimate from a few answers, and the interval has to carry that noise too (one
    sample per case gives back the plain paired bootstrap's distribution).
    """
    _check(resamples, confidence)
    if len(base) != len(tuned):
        raise ValueError(f"both arms need the same cases, got {len(base)} and {len(tuned)}")
    n = len(base)
    if n == 0:
        return Interval(mean=0.0, low=0.0, high=0.0, n=0, confidence=float(confidence))
    arms = [padded_samples(base), padded_samples(tuned)]
    mean = float(np.mean(arms[1][2] - arms[0][2]))
    if n == 1 and all(counts[0] == 1 for _, counts, _ in arms):
        return Interval(mean=mean, low=mean, high=mean, n=1, confidence=float(confidence))
    rng = np.random.default_rng(seed)
    means = np.empty(int(resamples))
    # Chunks of resamples keep the (chunk, cases, samples) draws a few MB at any suite size.
    chunk = max(1, 2_000_000 // (n * max(arms[0][0].shape[1], arms[1][0].shape[1])))
    for start in range(0, int(resamples), chunk):
        size = min(chunk, int(resamples) - start)
        cases = rng.integers(0, n, size=(size, n))
        rates = [_resampled_rates(values, counts, cases, rng) for values, counts, _ in arms]
        means[start : start + size] = (rates[1] - rates[0]).mean(axis=1)
    alpha = 1.0 - float(confidence)
    bounds: np.ndarray = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    low, high = float(bounds[0]), float(bounds[1])
    return Interval(mean=mean, low=min(low, mean), high=max(high, mean), n=n, confidence=float(confidence))


def padded_samples(samples: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ragged samples as a zero-padded (cases, most samples) array, the count and the rate of each case."""
    counts = np.array([len(s) for s in samples], dtype=np.int64)
    if np.any(counts == 0):
        raise ValueError("every case needs at least one sampled score per arm")
    values = np.zeros((len(samples), int(counts.max())))
    for i, row in enumerate(samples):
        values[i, : len(row)] = row
    if not np.all(np.isfinite(values)):
        raise ValueError("sampled scores must be finite numbers (got NaN or infinity)")
    return values, counts, values.sum(axis=1) / counts


def _resampled_rates(values: np.ndarray, counts: np.ndarray, cases: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Each drawn case's rate over its samples drawn again with replacement: shape (resamples, cases)."""
    width = values.shape[1]
    drawn = counts[cases]  # (size, n): how many samples each drawn case has
    picks = (rng.random((*cases.shape, width)) * drawn[..., None]).astype(np.int64)
    used = np.arange(width) < drawn[..., None]  # a case with fewer samples ignores the padding
    scores = values[cases[..., None], picks]
    return np.where(used, scores, 0.0).sum(axis=2) / drawn


def sign_test(wins: int, losses: int) -> float:
    """Return the exact two-sided binomial (p = 1/2) p-value of wins vs losses; ties are not counted.

    No wins and no losses -> 1.0 (no evidence either way).
    """
    for name, value in (("wins", wins), ("losses", losses)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"{name} must be a whole number >= 0, got {value!r}")
    n = int(wins) + int(losses)
    if n == 0:
        return 1.0
    k = min(int(wins), int(losses))
    tail = sum(math.comb(n, i) for i in range(k + 1))
    # Integer numerator and denominator: Python divides big ints exactly, then rounds once.
    return min(1.0, 2 * tail / 2**n)


def count_signs(diffs: Sequence[float] | np.ndarray) -> tuple[int, int, int]:
    """Return (wins, losses, ties) of paired differences; |d| <= 1e-12 is a tie."""
    values = np.asarray(diffs, dtype=np.float64).reshape(-1)
    wins = int(np.count_nonzero(values > _TIE))
    losses = int(np.count_nonzero(values < -_TIE))
    return wins, losses, int(values.size) - wins - losses


def is_significant(interval: Interval, sign_p: float) -> bool:
    """True when the bootstrap interval excludes 0 and the sign test rejects at the same level."""
    return interval.excludes_zero and sign_p < 1.0 - interval.confidence


def paired_block(
    diffs: Sequence[float],
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
    interval: Interval | None = None,
) -> PairedBlock:
    """Return the mean, bootstrap interval, sign counts and test of one group's paired differences.

    ``interval``: one computed otherwise (the clustered bootstrap of sampled answers); the sign
    test still counts the per-case differences.
    """
    if interval is None:
        interval = paired_bootstrap(diffs, resamples=resamples, confidence=confidence, seed=seed)
    wins, losses, ties = count_signs(diffs)
    p = sign_test(wins, losses)
    return PairedBlock(
        n=interval.n,
        mean_diff=interval.mean,
        ci_low=interval.low,
        ci_high=interval.high,
        sign_test_p=p,
        wins=wins,
        losses=losses,
        ties=ties,
        significant=is_significant(interval, p),
    )


def _categories(categories: Sequence[str]) -> list[str]:
    """Return the distinct categories in canonical order, unknown ones after, sorted."""
    present = set(categories)
    return [c for c in CATEGORIES if c in present] + sorted(present - set(CATEGORIES))


T = TypeVar("T")


def _grouped(rows: Sequence[tuple[str, float]], block: Callable[[list[float]], T]) -> tuple[T, dict[str, T]]:
    overall = block([d for _, d in rows])
    by_category = {cat: block([d for c, d in rows if c == cat]) for cat in _categories([c for c, _ in rows])}
    return overall, by_category


def paired_section(
    cases: Sequence[ScoredCase],
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    metric: str = "relevance",
) -> PairedStats:
    """Return the ``paired`` section: fine-tuned minus base ``metric``, globally and per category that ran.

    Cases that do not measure the metric (task success without `expect:`) are left out. With
    sampled answers (N > 1) the differences are of per-case rates, the sign test counts them as
    always, and the interval is the clustered bootstrap (cases, then samples within each).
    """
    _check(resamples, confidence)
    if not sampled(cases):
        rows = [(c.category, d) for c in cases if (d := c.delta(metric)) is not None]
        overall, by_category = _grouped(rows, lambda d: paired_block(d, resamples, confidence, seed))
    else:
        measured = [
            (c, b, t)
            for c in cases
            if (b := sample_values(c.base, metric)) and (t := sample_values(c.finetuned, metric))
        ]

        def block(group: Sequence[tuple[ScoredCase, tuple[float, ...], tuple[float, ...]]]) -> PairedBlock:
            interval = clustered_bootstrap(
                [b for _, b, _ in group], [t for _, _, t in group], resamples, confidence, seed
            )
            diffs = [float(np.mean(t)) - float(np.mean(b)) for _, b, t in group]
            return paired_block(diffs, resamples, confidence, seed, interval=interval)

        overall = block(measured)
        by_category = {
            cat: block([m for m in measured if m[0].category == cat])
            for cat in _categories([m[0].category for m in measured])
        }
    return PairedStats(
        resamples=int(resamples),
        seed=int(seed),
        confidence=float(confidence),
        overall=overall,
        by_category=by_category,
        metric=metric,
        clustered=sampled(cases),
    )


def measures(cases: Sequence[ScoredCase], metric: str) -> bool:
    """True when at least one case has ``metric`` for both arms."""
    return any(c.delta(metric) is not None for c in cases)


def baseline_diffs(
    current: Sequence[ScoredCase], baseline: Baseline, metric: str = "relevance"
) -> list[tuple[str, float]]:
    """Return (category, current − baseline fine-tuned ``metric``) for the cases both have and measure, in run order."""
    rows = []
    for c in current:
        if c.id not in baseline.cases:
            continue
        now, then = c.finetuned.value(metric), baseline.cases[c.id].finetuned.value(metric)
        if now is not None and then is not None:
            rows.append((c.category, now - then))
    return rows


def _baseline_block(diffs: Sequence[float], resamples: int, confidence: float, seed: int) -> BaselineBlock:
    full = paired_block(diffs, resamples, confidence, seed)
    return BaselineBlock(
        n_common=full.n,
        mean_diff=full.mean_diff,
        ci_low=full.ci_low,
        ci_high=full.ci_high,
        sign_test_p=full.sign_test_p,
        significant=full.significant,
    )


def baseline_section(
    current: Sequence[ScoredCase],
    baseline: Baseline,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
    confidence: float = DEFAULT_CONFIDENCE,
    metric: str = "relevance",
) -> BaselineComparison:
    """Return the ``baseline_comparison`` section: this run's fine-tuned ``metric`` minus the baseline's, per common case."""
    _check(resamples, confidence)
    rows = baseline_diffs(current, baseline, metric)
    overall, by_category = _grouped(rows, lambda d: _baseline_block(d, resamples, confidence, seed))
    return BaselineComparison(baseline=baseline.path, overall=overall, by_category=by_category, metric=metric)


def leaderboard(
    results: RunResults, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED, metric: str = "relevance"
) -> Leaderboard:
    """Rank a run's adapters by mean ``metric``; test the best against the runner-up on the same cases.

    Ties rank by relevance, valid-call rate, then keyword match, then name (so the order is stable).
    """

    def key(name: str) -> tuple[float, float, float, float, str]:
        s = results.summary(name).overall.finetuned
        return (-(s.value(metric) or 0.0), -s.relevance, -(s.valid_call or 0.0), -s.keyword_match, name)

    ranked = sorted(results.adapters, key=key)
    rows = []
    for i, name in enumerate(ranked, 1):
        overall = results.summary(name).overall
        rows.append(
            LeaderboardRow(
                rank=i,
                name=name,
                adapter=results.metadata.adapters[name],
                n_cases=overall.n_cases,
                avg_relevance=overall.finetuned.relevance,
                avg_keyword_match=overall.finetuned.keyword_match,
                avg_valid_call=overall.finetuned.valid_call,
                # The paired section's own global block: clustered when the cases carry samples.
                vs_base=paired_section(results.pairs(name), resamples, seed, DEFAULT_CONFIDENCE, metric).overall,
                avg_task_success=overall.finetuned.task_success,
                metric=metric,
            )
        )
    duel = None
    if len(ranked) > 1:
        best, second = (
            {c.id: v for c in results.pairs(name) if (v := c.finetuned.value(metric)) is not None}
            for name in ranked[:2]
        )
        diffs = [best[i] - second[i] for i in best if i in second]
        interval = None
        if sampled(results.pairs()):  # both adapters' rates are estimates: the clustered interval
            arms = [{c.id: sample_values(c.finetuned, metric) for c in results.pairs(name)} for name in ranked[:2]]
            common = [i for i in best if i in second]
            interval = clustered_bootstrap(
                [arms[1][i] or () for i in common], [arms[0][i] or () for i in common], resamples, seed=seed
            )
        duel = paired_block(diffs, resamples, DEFAULT_CONFIDENCE, seed, interval=interval)
    return Leaderboard(rows=tuple(rows), best_vs_runner_up=duel)
