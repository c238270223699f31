"""Routing margins over a run (issue 26): each arm's forced-choice margins, their paired difference, near ties.

The probe (evals/probe.py) gives, per case and arm, how strongly the arm prefers the right tool as
the start of its answer. A fine-tune can move a case from a comfortable win to a coin toss without
changing a greedy answer: the margins see it first. Pure functions over the scored cases; the
paired difference uses the same bootstrap and sign test as relevance (``stats.paired_block``).
"""

from __future__ import annotations

from collections.abc import Sequence
from statistics import fmean

from evals.records import CATEGORIES, NEAR_TIE_NATS, MarginBlock, MarginSection, ScoredCase


def probed(cases: Sequence[ScoredCase]) -> list[ScoredCase]:
    """The cases both arms were probed on."""
    return [c for c in cases if c.base.probe is not None and c.finetuned.probe is not None]


def margin_block(cases: Sequence[ScoredCase], near_tie: float = NEAR_TIE_NATS) -> MarginBlock:
    """Both arms' margins over ``cases`` (all probed) and the fine-tuned minus base difference per case."""
    from evals.stats import paired_block

    base = [c.base.probe for c in cases if c.base.probe is not None]
    tuned = [c.finetuned.probe for c in cases if c.finetuned.probe is not None]
    return MarginBlock(
        n=len(cases),
        base_mean=fmean(p.routing_margin for p in base) if base else 0.0,
        finetuned_mean=fmean(p.routing_margin for p in tuned) if tuned else 0.0,
        base_correct=sum(p.forced_choice_correct for p in base),
        finetuned_correct=sum(p.forced_choice_correct for p in tuned),
        base_near_ties=sum(p.is_near_tie(near_tie) for p in base),
        finetuned_near_ties=sum(p.is_near_tie(near_tie) for p in tuned),
        diff=paired_block([t.routing_margin - b.routing_margin for b, t in zip(base, tuned, strict=True)]),
    )


def margin_section(cases: Sequence[ScoredCase], near_tie: float = NEAR_TIE_NATS) -> MarginSection | None:
    """One adapter's ``margins`` section; None when no case was probed under both arms."""
    both = probed(cases)
    if not both:
        return None
    categories = [c for c in CATEGORIES if any(x.category == c for x in both)]
    categories += sorted({x.category for x in both} - set(CATEGORIES))
    at_risk = tuple(
        (c.id, c.finetuned.probe.routing_margin)
        for c in both
        if c.finetuned.probe is not None
        and c.finetuned.probe.forced_choice_correct
        and c.finetuned.probe.is_near_tie(near_tie)
    )
    return MarginSection(
        near_tie=near_tie,
        overall=margin_block(both, near_tie),
        by_category={cat: margin_block([c for c in both if c.category == cat], near_tie) for cat in categories},
        at_risk=at_risk,
    )
