"""Planted records for tests that need scored cases or whole runs but no model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evals.records import ArmScore, Case, GenerationSettings, RunMetadata, RunResults, ScoredCase
from evals.scoring import summarize


def scored(case_id: str, category: str, base: float, tuned: float) -> ScoredCase:
    """A scored case whose arms have the given relevance (base, fine-tuned)."""
    case = Case(id=case_id, category=category, prompt="monte le son", expected_tools=("volume_up",), keywords=("son",))
    return ScoredCase(
        case=case,
        base=ArmScore(answer="b", keyword_hits=0, keyword_total=1, relevance=base),
        finetuned=ArmScore(answer="f", keyword_hits=1, keyword_total=1, relevance=tuned),
        cosine_similarity=0.5,
    )


def make_metadata(cases: Sequence[ScoredCase] = (), **changes: Any) -> RunMetadata:
    """Metadata of a small CPU run on the shipped suite; ``changes`` override any field."""
    fields: dict[str, Any] = {
        "model": "tiny",
        "adapter": "lora",
        "quantization": "none",
        "device": "cpu",
        "generation": GenerationSettings(),
        "suite_name": "jarvis",
        "suite_version": "1.0",
        "suite_path": "jarvis.yaml",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "categories": tuple(dict.fromkeys(c.category for c in cases)),
    }
    return RunMetadata(**{**fields, **changes})


def make_results(
    cases: Sequence[ScoredCase],
    metadata: RunMetadata | None = None,
    sections: Mapping[str, Any] | None = None,
    **metadata_changes: Any,
) -> RunResults:
    """A run of ``cases``; ``sections`` are later sections as JSON (``paired``, ``gate``...), read as a file would be."""
    results = RunResults(
        metadata=metadata or make_metadata(cases, **metadata_changes),
        statistics=summarize(cases),
        results=tuple(cases),
    )
    if not sections:
        return results
    return RunResults.from_dict({**results.to_dict(), **sections})
