"""Planted records for tests that need scored cases but no model."""

from __future__ import annotations

from evals.records import ArmScore, Case, ScoredCase


def scored(case_id: str, category: str, base: float, tuned: float) -> ScoredCase:
    """A scored case whose arms have the given relevance (base, fine-tuned)."""
    case = Case(id=case_id, category=category, prompt="monte le son", expected_tools=("volume_up",), keywords=("son",))
    return ScoredCase(
        case=case,
        base=ArmScore(answer="b", keyword_hits=0, keyword_total=1, relevance=base),
        finetuned=ArmScore(answer="f", keyword_hits=1, keyword_total=1, relevance=tuned),
        cosine_similarity=0.5,
    )
