"""Planted sampled runs (``--jarvis-samples N``): each case's N answers drawn from its good and bad example."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from evals.records import BASE_ARM, RunResults, Suite
from tests.factories import make_metadata

EXAMPLES_FILE = Path(__file__).parent / "data" / "suite_examples.yaml"


@cache
def examples() -> dict[str, dict[str, str]]:
    """Each new case of jarvis-full: an answer that meets its ``expect:`` (good) and one that does not (bad)."""
    return yaml.safe_load(EXAMPLES_FILE.read_text(encoding="utf-8"))


@cache
def full_suite() -> Suite:
    from evals.suite import load_suite

    return load_suite("jarvis-full")


def answers(case_id: str, good: int, n: int) -> list[str]:
    """``n`` answers to a case, the first ``good`` of them its good example, the rest its bad one."""
    example = examples()[case_id]
    return [example["good"]] * good + [example["bad"]] * (n - good)


def sampled_run(goods: Mapping[str, tuple[int, int]], n: int, *, sections: bool = True, **meta: Any) -> RunResults:
    """A run where case ``id`` has (base, fine-tuned) good answers out of ``n`` samples, scored as a run scores
    them; with ``sections`` the paired, stability and power sections a run adds."""
    from evals.scoring import score_case, score_samples, summarize

    suite = full_suite()
    by_id = {c.id: c for c in suite.cases}
    results_ = []
    for case_id, (base, tuned) in goods.items():
        case = by_id[case_id]
        texts = {BASE_ARM: answers(case_id, base, n), "lora": answers(case_id, tuned, n)}
        first = score_case(case, {arm: t[0] for arm, t in texts.items()}, suite)
        arms = {arm: score_samples(t, case, suite) for arm, t in texts.items()}
        results_.append(replace(first, arms=arms))
    metadata = make_metadata(
        [r.versus("lora") for r in results_],
        **{"suite_name": "jarvis-full", "suite_version": suite.version, **meta},
    )
    results = RunResults(metadata=metadata, statistics=summarize(results_), results=tuple(results_))
    return with_sections(results) if sections else results


def with_sections(results: RunResults) -> RunResults:
    """The sections a run adds from its scored cases (``outcome.with_statistics``), the gate's tolerance at 0.05."""
    from evals.gate import GateConfig
    from evals.outcome import with_statistics

    return with_statistics(results, GateConfig(tolerance=0.05))
