"""``RunResults``: everything a run produced, the single input of every report and of the gate."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from evals.records.codec import decode, encode
from evals.records.migrate import FORMAT_VERSION, migrate
from evals.records.probe import DriftSection
from evals.records.scores import CaseResult, RunMetadata, ScoredCase, Statistics, Summary
from evals.records.sections import (
    BaselineComparison,
    CustomCheck,
    EnvironmentChange,
    GateOutcome,
    Leaderboard,
    MarginSection,
    NoiseFloor,
    PairedStats,
    PowerSection,
    Robustness,
    StabilitySection,
)

# What a baseline file keeps of a run's results: enough to compare, re-score and gate against.
BASELINE_SECTIONS = ("metadata", "statistics", "results")
# Kept in a baseline when the blessed run has them: the drift a later adapter is compared with.
BASELINE_OPTIONAL = ("drift",)


@dataclass(frozen=True)
class RunResults:
    """Everything a run produced, every record keyed by arm.

    ``results`` holds each case with every arm's scored answer; ``statistics`` every arm's means.
    Sections keyed by adapter (``paired``, ``baseline_comparison``) hold each adapter against the
    base or the baseline; the primary adapter (``metadata.primary``) is the one the single-adapter
    views describe (``pairs()``, ``summary()``). Later stages fill the optional sections.
    """

    metadata: RunMetadata
    statistics: Statistics
    results: tuple[CaseResult, ...]
    paired: Mapping[str, PairedStats] = field(default_factory=dict)
    # Keyed by adapter: task success minus the base's, where the suite's cases say what should happen.
    paired_task: Mapping[str, PairedStats] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    noise: NoiseFloor | None = None
    baseline_error: str | None = None
    baseline_comparison: Mapping[str, BaselineComparison] = field(default_factory=dict)
    gate: GateOutcome | None = None
    leaderboard: Leaderboard | None = None  # several adapters
    # The team's own tests on the same models: reported, never part of the statistics or the gate.
    custom_checks: tuple[CustomCheck, ...] = ()
    # Package versions changed since the baseline, and how many answers changed with them.
    environment: EnvironmentChange | None = None
    # --jarvis-perturb: the primary adapter's and the base's relevance per noise level (evals/robustness.py).
    robustness: Robustness | None = None
    # Keyed by adapter: the smallest relevance drop the run can detect (evals/power.py).
    power: Mapping[str, PowerSection] = field(default_factory=dict)
    # Keyed by adapter: the routing probe's margins against the base's (evals/margins.py); empty unprobed.
    margins: Mapping[str, MarginSection] = field(default_factory=dict)
    # Keyed by adapter: how far it moved the model on neutral French prompts (evals/drift.py).
    drift: Mapping[str, DriftSection] = field(default_factory=dict)
    # Keyed by adapter, sampled runs only (N > 1): pass@k, pass^k and unstable cases (evals/sampling.py).
    stability: Mapping[str, StabilitySection] = field(default_factory=dict)

    @property
    def primary(self) -> str:
        return self.metadata.primary

    @property
    def adapters(self) -> tuple[str, ...]:
        """Every adapter's name, in the run's order."""
        return tuple(self.metadata.adapters)

    def pairs(self, adapter: str | None = None) -> tuple[ScoredCase, ...]:
        """Every case as ``adapter`` (the primary by default) against the base arm, in run order."""
        name = adapter or self.primary
        return tuple(r.versus(name) for r in self.results if name in r.arms)

    def summary(self, adapter: str | None = None) -> Summary:
        """The statistics of ``adapter`` (the primary by default) against the base arm."""
        return self.statistics.versus(adapter or self.primary)

    def paired_for(self, adapter: str | None = None) -> PairedStats | None:
        return self.paired.get(adapter or self.primary)

    def paired_task_for(self, adapter: str | None = None) -> PairedStats | None:
        return self.paired_task.get(adapter or self.primary)

    def comparison_for(self, adapter: str | None = None) -> BaselineComparison | None:
        return self.baseline_comparison.get(adapter or self.primary)

    def power_for(self, adapter: str | None = None) -> PowerSection | None:
        return self.power.get(adapter or self.primary)

    def drift_for(self, adapter: str | None = None) -> DriftSection | None:
        return self.drift.get(adapter or self.primary)

    def stability_for(self, adapter: str | None = None) -> StabilitySection | None:
        return self.stability.get(adapter or self.primary)

    def to_dict(self) -> dict[str, Any]:
        """The results file's document: the format version, then every section that is not empty."""
        out: dict[str, Any] = {"format_version": FORMAT_VERSION}
        for name, value in encode(self).items():
            if value not in (None, [], {}):  # absent sections stay absent
                out[name] = value
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResults:
        """Read a results document of any format (``records.migrate`` brings older ones to this one)."""
        return decode(cls, migrate(data))

    def as_baseline(self) -> dict[str, Any]:
        """The baseline file's document: the declared subset of the results (``BASELINE_SECTIONS``)."""
        data = self.to_dict()
        kept = [*BASELINE_SECTIONS, *(k for k in BASELINE_OPTIONAL if k in data)]
        return {"format_version": FORMAT_VERSION, "kind": "baseline", **{k: data[k] for k in kept}}
