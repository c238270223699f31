"""How stable an arm is over N sampled answers per case: pass@k, pass^k and the unstable cases.

From ``n`` sampled answers of one case, ``c`` of them successes (full marks, ``ArmScore.successes``),
the unbiased estimators of the chance over ``k`` fresh answers are (Chen et al. 2021, and tau-bench's
pass^k):

- pass@k = 1 - C(n-c, k) / C(n, k): at least one of the k answers succeeds;
- pass^k = C(c, k) / C(n, k): all k succeed, what a voice assistant that must work every time needs.

k defaults to n, so pass^n is 1 exactly when every sample succeeded; pass@1 = pass^1 = c / n. A case
is *unstable* when its rate lies strictly between 0 and 1: the same request sometimes routes and
sometimes does not. Pure Python over the records: no numpy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from evals.records import BASE_ARM, ArmScore, ArmStability, ScoredCase, StabilitySection

STABILITY_METRICS = ("relevance", "task_success")


def _check(n: int, c: int, k: int) -> None:
    if not 0 <= c <= n or not 1 <= k <= n:
        raise ValueError(f"need 0 <= successes <= samples and 1 <= k <= samples, got n={n}, c={c}, k={k}")


def pass_at_k(n: int, c: int, k: int) -> float:
    """The chance that at least one of ``k`` answers succeeds, from ``c`` successes in ``n`` samples."""
    _check(n, c, k)
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def pass_all_k(n: int, c: int, k: int) -> float:
    """pass^k: the chance that all ``k`` answers succeed, from ``c`` successes in ``n`` samples."""
    _check(n, c, k)
    return math.comb(c, k) / math.comb(n, k)


def unstable(rate: float) -> bool:
    """True when a case's answers sometimes succeed and sometimes fail."""
    return 0.0 < rate < 1.0


def sampled(cases: Sequence[ScoredCase]) -> bool:
    """True when an arm of a case carries more than one sampled answer."""
    return any(c.base.n_samples > 1 or c.finetuned.n_samples > 1 for c in cases)


def sample_values(arm: ArmScore, metric: str) -> tuple[float, ...] | None:
    """Each sampled answer's score on ``metric`` (the one answer's when there are no samples); None where unmeasured."""
    if not arm.samples:
        single = arm.value(metric)
        return None if single is None else (single,)
    values = [s.relevance if metric == "relevance" else s.task_success for s in arm.samples]
    return None if any(v is None for v in values) else tuple(float(v) for v in values if v is not None)


def arm_stability(arms: Sequence[tuple[str, ArmScore]], metric: str, k: int) -> ArmStability | None:
    """One arm's pass@1, pass@k, pass^k means and unstable cases over (case id, score); None where unmeasured."""
    rows = [(case_id, flags) for case_id, arm in arms if (flags := arm.successes(metric)) is not None]
    if not rows:
        return None
    at_1, at_k, all_k, shaky = [], [], [], []
    for case_id, flags in rows:
        n, c = len(flags), sum(flags)
        kk = min(k, n)  # a case with fewer samples than k: its best estimate is over all it has
        at_1.append(c / n)
        at_k.append(pass_at_k(n, c, kk))
        all_k.append(pass_all_k(n, c, kk))
        if unstable(c / n):
            shaky.append((case_id, c / n))
    return ArmStability(
        n_cases=len(rows),
        pass_at_1=math.fsum(at_1) / len(rows),
        pass_at_k=math.fsum(at_k) / len(rows),
        pass_all_k=math.fsum(all_k) / len(rows),
        unstable=tuple(shaky),
    )


def stability_section(cases: Sequence[ScoredCase], adapter: str, k: int | None = None) -> StabilitySection | None:
    """The ``stability`` section of one adapter and the base; None for one answer per case (nothing to say)."""
    if not sampled(cases):
        return None
    n = max(max(c.base.n_samples, c.finetuned.n_samples) for c in cases)
    k = n if k is None else k
    if not 1 <= k <= n:
        raise ValueError(f"k must be between 1 and the {n} samples per case, got {k}")
    metrics = {}
    for metric in STABILITY_METRICS:
        arms = {
            name: stats
            for name, side in ((BASE_ARM, "base"), (adapter, "finetuned"))
            if (stats := arm_stability([(c.id, c.arm(side)) for c in cases], metric, k)) is not None
        }
        if arms:
            metrics[metric] = arms
    return StabilitySection(samples=n, k=k, metrics=metrics)


def case_cell(arm: ArmScore, metric: str) -> str:
    """A case's rate on ``metric`` and its full-marks samples: ``0.60 (3/5)``; ``-`` where unmeasured."""
    value = arm.value(metric) if metric != "valid_call" else arm.valid_call
    if value is None:
        return "-"
    if metric == "valid_call":
        flags = tuple(s.valid_call is not None and s.valid_call >= 1.0 for s in arm.samples) or (value >= 1.0,)
    else:
        flags = arm.successes(metric) or ()
    return f"{value:.2f} ({sum(flags)}/{len(flags)})" if flags else f"{value:.2f}"


def all_pass(arm: ArmScore, metric: str) -> bool | None:
    """pass^N of one case: every sampled answer succeeded on ``metric``; None where unmeasured."""
    flags = arm.successes(metric)
    return None if flags is None else all(flags)
