"""The robustness curve: relevance and valid calls per speech-recognition noise level and arm.

Pure functions over scored cases that carry a noise ``level`` (a ``--jarvis-perturb`` run).
The variants of one clean case are not independent evidence, so every mean and interval is
over clean cases: a case contributes the mean of its variants at a level, and the bootstrap
resamples clean cases (a cluster bootstrap), never single variants.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from evals.records import CurvePoint, Robustness, ScoredCase

ARMS = ("base", "finetuned")
# The statistics' defaults (evals.stats imports numpy; the gate imports this module, so it may not).
DEFAULT_RESAMPLES, DEFAULT_CONFIDENCE, DEFAULT_SEED = 10_000, 0.95, 0
# A variant's id (evals.perturb.generator.variant_id): "<clean case id>@L<level>.<index>".
_VARIANT_ID = re.compile(r"^(?P<source>.+)@L(?P<level>[0-3])\.(?P<variant>\d+)$")


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def _by_source(cases: Sequence[ScoredCase]) -> dict[str, dict[int, list[ScoredCase]]]:
    grouped: dict[str, dict[int, list[ScoredCase]]] = {}
    for case in cases:
        if case.case.level is not None:
            source = case.case.source or case.id
            grouped.setdefault(source, {}).setdefault(case.case.level, []).append(case)
    return grouped


def area_ratio(curve: Sequence[tuple[int, float]]) -> float | None:
    """Return the trapezoid area under ``(level, value)`` points over that of a flat line at the first value."""
    points = sorted(curve)
    if len(points) < 2 or points[0][1] <= 0:
        return None
    area = sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(points, points[1:], strict=False))
    return area / ((points[-1][0] - points[0][0]) * points[0][1])


def _curve_of(by_source: Mapping[str, Mapping[int, Sequence[float]]]) -> list[tuple[int, float]]:
    """Return (level, mean over clean cases of the mean of their variants) for each level."""
    levels = sorted({lv for by_level in by_source.values() for lv in by_level})
    return [
        (lv, _mean([_mean(list(by_level[lv])) for by_level in by_source.values() if lv in by_level])) for lv in levels
    ]


def score_of_ids(relevance: Mapping[str, float]) -> float | None:
    """Return one arm's robustness score from case ids and relevance alone (a baseline keeps no levels).

    Variants are recognized by their id; a clean case is level 0 of the variants named after it.
    """
    by_source: dict[str, dict[int, list[float]]] = {}
    for case_id, value in relevance.items():
        match = _VARIANT_ID.match(case_id)
        if match:
            by_source.setdefault(match["source"], {}).setdefault(int(match["level"]), []).append(value)
    for source, by_level in by_source.items():
        if source in relevance:
            by_level.setdefault(0, []).append(relevance[source])
    usable = {s: by_level for s, by_level in by_source.items() if 0 in by_level and len(by_level) > 1}
    return area_ratio(_curve_of(usable)) if usable else None


def robustness_section(
    cases: Sequence[ScoredCase],
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
    seed: int = DEFAULT_SEED,
) -> Robustness | None:
    """Return the curve, scores and paired test of a run with noise levels; None when no case has one.

    Only clean cases scored at level 0 and at least one noisy level count, so every level's
    mean is over the same cases.
    """
    from evals.stats import paired_block, paired_bootstrap

    grouped = {s: levels for s, levels in _by_source(cases).items() if 0 in levels and len(levels) > 1}
    if not grouped:
        return None
    sources = sorted(grouped)
    levels = sorted({lv for by_level in grouped.values() for lv in by_level})
    points: list[CurvePoint] = []
    score: dict[str, float | None] = {}
    for arm in ARMS:
        curve = []
        for level in levels:
            members = [grouped[s][level] for s in sources if level in grouped[s]]
            rel = paired_bootstrap(
                [_mean([c.arm(arm).relevance for c in m]) for m in members], resamples, confidence, seed
            )
            valid = [[c.arm(arm).valid_call for c in m] for m in members]
            known = [[v for v in vs if v is not None] for vs in valid]
            call = (
                paired_bootstrap([_mean(vs) for vs in known], resamples, confidence, seed)
                if all(known)
                else None  # answers scored by metric version 1 carry no valid-call score
            )
            points.append(
                CurvePoint(
                    level=level,
                    arm=arm,
                    n=len(members),
                    variants=sum(len(m) for m in members),
                    relevance=rel.mean,
                    relevance_low=rel.low,
                    relevance_high=rel.high,
                    valid_call=call.mean if call else None,
                    valid_call_low=call.low if call else None,
                    valid_call_high=call.high if call else None,
                )
            )
            curve.append((level, rel.mean))
        score[arm] = area_ratio(curve)
    drops = []
    for source in sources:
        by_level = grouped[source]
        drop = {}
        for arm in ARMS:
            clean = _mean([c.arm(arm).relevance for c in by_level[0]])
            noisy = _mean([_mean([c.arm(arm).relevance for c in by_level[lv]]) for lv in by_level if lv])
            drop[arm] = clean - noisy
        drops.append(drop["base"] - drop["finetuned"])
    slower = paired_block(drops, resamples=resamples, confidence=confidence, seed=seed)
    return Robustness(
        points=tuple(points), score=score, slower=slower, resamples=resamples, confidence=confidence, seed=seed
    )
