"""How small a relevance drop a run of this size can detect: power, in closed form.

The gate's significance (``stats.paired_block``) needs the bootstrap interval to exclude 0 *and*
the exact sign test to reject. A drop in relevance shows up as cases that stop routing, so the
model of a real drop of size ``d`` is: each case that scores above 0 loses its score with
probability ``q = d / mean`` (the mean falls by ``d`` on average). With only losses, the sign test
rejects at level ``alpha`` once ``k_min`` cases are lost (6 at 5 %: p = 2 / 2**6 = 0.031), and the
bootstrap interval then already excludes 0. So the chance of catching the drop is the binomial tail
``P(Binomial(m, q) >= k_min)`` over the ``m`` cases that can drop: a closed form, checked against
resampled runs with planted drops in tests/test_power.py. Runs of N sampled answers per case have
noisy per-case rates; their power is simulated instead (``evals.sampled_power``).

Everything here is pure Python (no numpy): the numbers are small and exact.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from evals.records import PowerBlock, PowerSection, ScoredCase

ALPHA = 0.05
POWER = 0.80
# The drop a report states its miss rate for: small enough to matter to a voice assistant (one
# routing failure in twenty requests), large enough to be about the suite, not one case.
EXAMPLE_DROP = 0.05
_MAX_CASES = 1_000_000


def min_losses(alpha: float = ALPHA) -> int:
    """The fewest cases lost, none gained, for the exact two-sided sign test to reject at ``alpha``."""
    k = 1
    while 2.0 / 2**k >= alpha:  # stats.sign_test(0, k) = min(1, 2 / 2**k)
        k += 1
    return k


def catch_probability(relevance: Sequence[float], drop: float, alpha: float = ALPHA) -> float:
    """The chance that a real drop of ``drop`` in mean relevance is significant, on cases scoring ``relevance``."""
    return _tail(sum(1 for r in relevance if r > 0), _q(relevance, drop), min_losses(alpha))


def detectable_drop(relevance: Sequence[float], alpha: float = ALPHA, power: float = POWER) -> float | None:
    """The smallest drop caught with probability ``power``; None when no drop, however large, is."""
    mean = _mean(relevance)
    if mean <= 0 or catch_probability(relevance, mean, alpha) < power:
        return None
    low, high = 0.0, mean
    for _ in range(50):  # bisection to far below the 3 decimals a report prints
        middle = (low + high) / 2
        if catch_probability(relevance, middle, alpha) >= power:
            high = middle
        else:
            low = middle
    return high


def cases_needed(relevance: Sequence[float], target: float, alpha: float = ALPHA, power: float = POWER) -> int | None:
    """How many cases like these (same share that can drop, same mean) detect a drop of ``target``."""
    n, mean = len(relevance), _mean(relevance)
    if n == 0 or mean <= 0 or target <= 0:
        return None
    share = sum(1 for r in relevance if r > 0) / n
    q, k_min = min(1.0, target / mean), min_losses(alpha)

    def caught(cases: int) -> bool:
        return _tail(round(share * cases), q, k_min) >= power

    high = max(n, 1)
    while not caught(high):
        high *= 2
        if high > _MAX_CASES:
            return None
    low = high // 2
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if caught(middle) else (middle, high)
    return high


def power_block(relevance: Sequence[float], tolerance: float, alpha: float = ALPHA, power: float = POWER) -> PowerBlock:
    """What one group of cases can detect; ``relevance`` is the adapter's score of each case."""
    return PowerBlock(
        n=len(relevance),
        can_drop=sum(1 for r in relevance if r > 0),
        mean=_mean(relevance),
        detectable_drop=detectable_drop(relevance, alpha, power),
        miss_at_example=1.0 - catch_probability(relevance, EXAMPLE_DROP, alpha),
        cases_for_tolerance=cases_needed(relevance, tolerance, alpha, power),
    )


def power_section(
    cases: Sequence[ScoredCase], tolerance: float, category_tolerances: Mapping[str, float] | None = None
) -> PowerSection:
    """The power of a run for one adapter, globally and per category (each at its own tolerance)."""
    tolerances = dict(category_tolerances or {})
    categories = list(dict.fromkeys(c.category for c in cases))
    return PowerSection(
        alpha=ALPHA,
        power=POWER,
        example_drop=EXAMPLE_DROP,
        min_losses=min_losses(ALPHA),
        tolerance=tolerance,
        overall=power_block([c.finetuned.relevance for c in cases], tolerance),
        by_category={
            cat: power_block(
                [c.finetuned.relevance for c in cases if c.category == cat], tolerances.get(cat, tolerance)
            )
            for cat in categories
        },
    )


def sentence(section: PowerSection) -> str:
    """The report's one sentence: what the run can detect, against the gate's tolerance."""
    block, tol = section.overall, section.tolerance
    if block.detectable_drop is None:
        return (
            f"this run cannot detect a relevance drop of any size at {100 * section.power:g} % power: only {block.can_drop} "
            f"case(s) score above 0, and the sign test needs {section.min_losses} lost cases to reject at "
            f"{100 * section.alpha:g} %; add cases"
        )
    mde = block.detectable_drop
    said = f"this run can detect a relevance drop of {mde:.2f} or more as significant ({100 * section.power:g} % power)"
    if section.samples > 1:
        said = said[:-1] + f", simulated over {section.samples} samples per case)"
    if mde <= tol:
        return f"{said}; the gate's tolerance {tol:g} is above it"
    said += (
        f"; the gate's tolerance {tol:g} is below it: a real drop of {section.example_drop:g} would {_caught(block)}, "
        f"so a gate failure by less than {mde:.2f} shows these {block.n} cases dropped, not that the adapter did"
    )
    if block.cases_for_tolerance is not None:
        said += f"; about {block.cases_for_tolerance} cases like these would detect a drop of {tol:g}"
    if section.samples > 1:  # sampled answers: more samples per case is the other lever
        said += f" (at {section.samples} samples each)"
        if block.samples_for_tolerance is not None:
            said += f", or about {block.samples_for_tolerance} samples per case on these {block.n} cases"
    return said


def _caught(block: PowerBlock) -> str:
    """How often a drop of the example size is significant, in words a reader can picture."""
    caught = 1.0 - block.miss_at_example
    tenths = round(10 * caught)
    if tenths <= 0:
        return f"almost never be significant ({100 * caught:.1f} % of runs)"
    if tenths >= 10:
        return f"almost always be significant ({100 * caught:.1f} % of runs)"
    return f"be significant only about {tenths} time{'s' if tenths != 1 else ''} in 10"


def _mean(values: Sequence[float]) -> float:
    return math.fsum(values) / len(values) if values else 0.0


def _q(relevance: Sequence[float], drop: float) -> float:
    mean = _mean(relevance)
    return 0.0 if mean <= 0 or drop <= 0 else min(1.0, drop / mean)


def _tail(m: int, q: float, k_min: int) -> float:
    """P(Binomial(m, q) >= k_min)."""
    if m < k_min or q <= 0:
        return 0.0
    if q >= 1:
        return 1.0
    below = math.fsum(math.comb(m, k) * q**k * (1 - q) ** (m - k) for k in range(k_min))
    return max(0.0, 1.0 - below)
