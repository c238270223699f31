"""What a run will cost before it runs: the generations to come, and the time they took last time.

``--jarvis-samples N`` multiplies generation by N, so ``jarvis-evals check`` and the run's first
line say how many answers are to be generated and, from the last run's measured rate (its
results file: fresh answers, their tokens and the seconds they took on this machine), about how
long that will take. No rate is made up: without an earlier run the time is left unsaid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Rate:
    """How fast the last run generated: seconds per answer and tokens per second, and where it was measured."""

    seconds_per_answer: float
    tokens_per_second: float | None
    source: str


def measured_rate(results: Path) -> Rate | None:
    """The generation rate of the run that wrote ``results`` (benchmark_results.json), or None if it generated nothing."""
    try:
        meta = json.loads(results.read_text(encoding="utf-8"))["metadata"]
        seconds = float(meta.get("generation_seconds") or 0.0)
        fresh = int(meta.get("n_fresh_answers") or 0)
        tokens = int(meta.get("n_new_tokens") or 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if seconds <= 0 or fresh <= 0:
        return None
    device = meta.get("device", "")
    return Rate(
        seconds_per_answer=seconds / fresh,
        tokens_per_second=tokens / seconds if tokens else None,
        source=f"{results} ({device})" if device else str(results),
    )


def shape(cases: int, arms: int, samples: int) -> str:
    """``30 cases x 2 arms x 5 samples = 300 answers``."""
    product = f"{cases} cases x {arms} arms" + (f" x {samples} samples" if samples > 1 else "")
    return f"{product} = {cases * arms * samples} answers"


def budget_line(answers: int, described: str, rate: Rate | None) -> str:
    """``300 answers to generate (...); about 6 min at the last run's 1.20 s per answer, 40 tok/s (where)``."""
    line = f"{answers} answers to generate ({described})"
    if rate is None:
        return line + "; no earlier run on record to estimate the time from"
    speed = f", {rate.tokens_per_second:.0f} tok/s" if rate.tokens_per_second else ""
    return line + (
        f"; about {_duration(answers * rate.seconds_per_answer)} at the last run's "
        f"{rate.seconds_per_answer:.2f} s per answer{speed} ({rate.source})"
    )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
