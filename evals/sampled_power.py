"""How small a relevance drop a run of N sampled answers per case can detect: power, by seeded simulation.

With one greedy answer per case a re-run answers the same, and ``evals.power`` has a closed form.
With N samples each case's rate is itself an estimate: a re-run of the same adapter already moves
rates up and down, so a drop must stand out from that noise. No closed form covers both the sign
test on noisy rates and the clustered interval, so each figure is a simulation of many run pairs:

1. draw the cases with replacement (``cases`` of them, the run's count by default);
2. per drawn case, draw its samples with replacement twice (``per_case`` of them, the case's count
   by default): a "before" run, and an "after" run in which every sample loses its score with
   probability ``q = drop / mean`` (the mean falls by ``drop`` on average, as in ``evals.power``);
3. call the pair significant as the gate does: a loss whose interval excludes 0 and whose exact sign
   test on the per-case rate differences rejects at ``alpha``. The clustered bootstrap interval is
   taken by its normal approximation (between-case variance of the differences plus each arm's
   within-case variance over its samples), which is what makes 300 simulations cheap.

The simulations are seeded and reuse the same draws for every drop size, so the catch rate grows
with the drop and a bisection on it is stable. tests/test_sampled_power.py checks the figures
against runs resampled and tested with the gate's own bootstrap and sign test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import cache
from statistics import NormalDist

import numpy as np

from evals.power import ALPHA, EXAMPLE_DROP, POWER, min_losses
from evals.records import PowerBlock, PowerSection, ScoredCase
from evals.sampling import sample_values
from evals.stats import padded_samples, sign_test

SIMULATIONS = 300
SEED = 0
_TIE = 1e-12
_CHUNK = 2_000_000  # draws per chunk of simulations: a few MB whatever the suite size
_MAX_CASES = 20_000
_MAX_SAMPLES = 256


def catch_rate(
    samples: Sequence[Sequence[float]],
    drop: float,
    alpha: float = ALPHA,
    *,
    cases: int | None = None,
    per_case: int | None = None,
    simulations: int = SIMULATIONS,
    seed: int = SEED,
) -> float:
    """The share of simulated run pairs in which a real drop of ``drop`` is significant; ``samples[i]``: case i's scores."""
    n = len(samples)
    if n == 0:
        return 0.0
    values, counts, rates = padded_samples(samples)
    mean = float(rates.mean())
    q = 0.0 if mean <= 0 or drop <= 0 else min(1.0, drop / mean)
    m = n if cases is None else cases
    width = int(counts.max()) if per_case is None else per_case
    z = NormalDist().inv_cdf(1.0 - alpha / 2.0)
    k_min = min_losses(alpha)
    rng = np.random.default_rng(seed)
    caught = 0
    chunk = max(1, _CHUNK // (m * width))
    for start in range(0, simulations, chunk):
        size = min(chunk, simulations - start)
        drawn = rng.integers(0, n, size=(size, m))
        before, var_before = _rates(values, counts, drawn, width, per_case, rng, None)
        after, var_after = _rates(values, counts, drawn, width, per_case, rng, q)
        diffs = after - before
        # The clustered bootstrap's spread of the mean difference, in closed form.
        spread = np.sqrt((diffs.var(axis=1) + (var_before + var_after).mean(axis=1)) / m)
        excludes = diffs.mean(axis=1) + z * spread < 0.0
        losses = np.count_nonzero(diffs < -_TIE, axis=1)
        wins = np.count_nonzero(diffs > _TIE, axis=1)
        for w, lost, out in zip(wins.tolist(), losses.tolist(), excludes.tolist(), strict=True):
            caught += bool(out) and max(w, lost) >= k_min and _sign_p(w, lost) < alpha
    return caught / simulations


@cache
def _sign_p(wins: int, losses: int) -> float:
    return sign_test(wins, losses)


def _rates(
    values: np.ndarray,
    counts: np.ndarray,
    drawn: np.ndarray,
    width: int,
    per_case: int | None,
    rng: np.random.Generator,
    q: float | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Each drawn case's rate over its samples drawn again (after a planted drop ``q``), and its sampling variance."""
    available = counts[drawn]
    picks = (rng.random((*drawn.shape, width)) * available[..., None]).astype(np.int64)
    scores = values[drawn[..., None], picks]
    if q is not None:  # the same uniforms for every drop size: a larger drop only removes more
        scores = np.where(rng.random(scores.shape) < q, 0.0, scores)
    used_n = available if per_case is None else np.full_like(available, per_case)
    used = np.arange(width) < used_n[..., None]
    scores = np.where(used, scores, 0.0)
    rate = scores.sum(axis=2) / used_n
    within = np.maximum((scores**2).sum(axis=2) / used_n - rate**2, 0.0) / used_n
    return rate, within


def detectable_drop(samples: Sequence[Sequence[float]], alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest drop caught in ``power`` of the simulated runs; None when no drop, however large, is."""
    mean = _mean_rate(samples)
    if mean <= 0 or catch_rate(samples, mean, alpha) < power:
        return None
    low, high = 0.0, mean
    for _ in range(12):  # the simulation's own precision is about 0.01: finer steps would be noise
        middle = (low + high) / 2
        low, high = (low, middle) if catch_rate(samples, middle, alpha) >= power else (middle, high)
    return high


def cases_needed(
    samples: Sequence[Sequence[float]], target: float, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """How many cases like these, with as many samples each, detect a drop of ``target``."""
    if not samples or _mean_rate(samples) <= 0 or target <= 0:
        return None
    return _smallest(lambda m: catch_rate(samples, target, alpha, cases=m) >= power, len(samples), _MAX_CASES)


def samples_needed(
    samples: Sequence[Sequence[float]], target: float, alpha: float = ALPHA, power: float = POWER
) -> int | None:
    """How many samples per case, on these cases, detect a drop of ``target``; None when no number does."""
    if not samples or _mean_rate(samples) <= 0 or target <= 0:
        return None
    return _smallest(lambda k: catch_rate(samples, target, alpha, per_case=k) >= power, 1, _MAX_SAMPLES)


def _smallest(enough: Callable[[int], bool], start: int, limit: int) -> int | None:
    """The smallest whole number from ``start`` at which ``enough`` holds (doubling, then bisecting to 2 %)."""
    high = max(start, 1)
    while not enough(high):
        if high >= limit:
            return None
        high = min(2 * high, limit)
    low = max(start, 1) - 1 if high == max(start, 1) else high // 2
    while high - low > max(1, high // 50):  # "about N cases": 2 % is finer than any plan needs
        middle = (low + high) // 2
        low, high = (low, middle) if enough(middle) else (middle, high)
    return high


def power_block(samples: Sequence[Sequence[float]], tolerance: float) -> PowerBlock:
    """What one group of cases can detect; ``samples[i]`` is the adapter's sampled scores of case i."""
    rates = [math.fsum(s) / len(s) for s in samples]
    return PowerBlock(
        n=len(samples),
        can_drop=sum(1 for r in rates if r > 0),
        mean=_mean_rate(samples),
        detectable_drop=detectable_drop(samples),
        miss_at_example=1.0 - catch_rate(samples, EXAMPLE_DROP),
        cases_for_tolerance=cases_needed(samples, tolerance),
        samples_for_tolerance=samples_needed(samples, tolerance),
    )


def power_section(
    cases: Sequence[ScoredCase], tolerance: float, category_tolerances: Mapping[str, float] | None = None
) -> PowerSection:
    """The power of a sampled run for one adapter, globally and per category (each at its own tolerance)."""
    tolerances = dict(category_tolerances or {})
    rows = [(c.category, v) for c in cases if (v := sample_values(c.finetuned, "relevance")) is not None]
    categories = list(dict.fromkeys(cat for cat, _ in rows))
    return PowerSection(
        alpha=ALPHA,
        power=POWER,
        example_drop=EXAMPLE_DROP,
        min_losses=min_losses(ALPHA),
        tolerance=tolerance,
        overall=power_block([v for _, v in rows], tolerance),
        by_category={
            cat: power_block([v for c, v in rows if c == cat], tolerances.get(cat, tolerance)) for cat in categories
        },
        samples=max((len(v) for _, v in rows), default=1),
    )


def _mean_rate(samples: Sequence[Sequence[float]]) -> float:
    return math.fsum(math.fsum(s) / len(s) for s in samples) / len(samples) if samples else 0.0
