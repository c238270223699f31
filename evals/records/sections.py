"""The sections later stages add to a run: paired statistics, baseline comparison, noise floor,
gate, leaderboard, custom checks, robustness curve and environment change."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, get_args

from evals.records.codec import count, score


@dataclass(frozen=True)
class PairedBlock:
    """Paired differences over one group of cases: mean, bootstrap interval, sign test."""

    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    sign_test_p: float
    wins: int
    losses: int
    ties: int
    significant: bool


@dataclass(frozen=True)
class PairedStats:
    """One adapter's relevance minus the base's, per case: globally and per category that ran."""

    resamples: int
    seed: int
    confidence: float
    overall: PairedBlock
    by_category: Mapping[str, PairedBlock] = field(default_factory=dict)
    metric: str = "relevance"  # the per-case score compared: relevance or task_success
    # Sampled answers (N > 1): the interval resamples cases, then each arm's samples within them.
    clustered: bool = False


@dataclass(frozen=True)
class MarginBlock:
    """The routing probe over one group of cases (evals/margins.py): each arm's margins, and their paired difference.

    Margins are in nats: log P(best expected tool) - log P(best other candidate) as the start of
    the answer; ``diff`` compares the fine-tuned arm's margin with the base's, case by case.
    """

    n: int
    base_mean: float
    finetuned_mean: float
    base_correct: int  # cases whose forced choice is right
    finetuned_correct: int
    base_near_ties: int  # |margin| below the section's near-tie band
    finetuned_near_ties: int
    diff: PairedBlock


@dataclass(frozen=True)
class MarginSection:
    """One adapter's routing margins against the base's: globally, per category, and the cases at risk."""

    near_tie: float  # nats
    overall: MarginBlock
    by_category: Mapping[str, MarginBlock] = field(default_factory=dict)
    # Fine-tuned cases whose forced choice is right but within the near-tie band: (case id, margin).
    at_risk: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class PowerBlock:
    """What one group of cases can detect (evals/power.py): the smallest drop caught at the section's power."""

    n: int
    can_drop: int  # cases scoring above 0: a drop can only take from them
    mean: float
    detectable_drop: float | None  # None: no drop, however large, is caught at that power
    miss_at_example: float  # the chance a real drop of the section's example size is not significant
    cases_for_tolerance: int | None  # cases like these needed to detect a drop of the tolerance
    # Sampled answers (N > 1): samples per case needed, at these cases, to detect a drop of the tolerance.
    samples_for_tolerance: int | None = None


@dataclass(frozen=True)
class PowerSection:
    """One adapter's power: the minimum detectable relevance drop, globally and per category."""

    alpha: float
    power: float
    example_drop: float
    min_losses: int  # lost cases the sign test needs to reject at alpha
    tolerance: float
    overall: PowerBlock
    by_category: Mapping[str, PowerBlock] = field(default_factory=dict)
    samples: int = 1  # answers per case; above 1 the figures come from a seeded simulation


@dataclass(frozen=True)
class ArmStability:
    """One arm's pass rates on one metric over the cases, from N sampled answers each (evals/sampling.py).

    ``pass_at_1`` is the mean per-case success rate; ``pass_at_k`` the mean chance that at least one of
    k answers succeeds; ``pass_all_k`` (pass^k) that all k do. ``unstable``: (case id, rate) of the
    cases whose answers sometimes succeed and sometimes fail, in run order.
    """

    n_cases: int = count()
    pass_at_1: float = score()
    pass_at_k: float = score()
    pass_all_k: float = score()
    unstable: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class StabilitySection:
    """One adapter and the base over sampled answers: N samples per case, k, and per metric and arm the pass rates.

    ``metrics`` maps "relevance" and "task_success" (where measured) to each arm's ``ArmStability``,
    keyed by arm name (``base``, then the adapter).
    """

    samples: int = count()
    k: int = count()
    metrics: Mapping[str, Mapping[str, ArmStability]] = field(default_factory=dict)


@dataclass(frozen=True)
class BaselineBlock:
    """This run's fine-tuned relevance minus the baseline's, over the cases both have in one scope."""

    n_common: int
    mean_diff: float
    ci_low: float
    ci_high: float
    sign_test_p: float
    significant: bool


@dataclass(frozen=True)
class BaselineComparison:
    """One adapter's relevance minus the baseline's, per common case: globally and per category."""

    baseline: str
    overall: BaselineBlock
    by_category: Mapping[str, BaselineBlock] = field(default_factory=dict)
    metric: str = "relevance"  # the gate's metric (--jarvis-gate-metric)


@dataclass(frozen=True)
class NoiseExample:
    """One answer that differed between two identical greedy generations."""

    case: str
    arm: str
    first: str
    second: str


@dataclass(frozen=True)
class NoiseFloor:
    """What ``jarvis-evals noise`` measured: answers differing between two identical runs of each arm."""

    n_cases: int
    model: str
    adapter: str
    quantization: str
    base_differing: int
    finetuned_differing: int
    warning: str | None = None
    examples: tuple[NoiseExample, ...] = ()
    generate_calls: int = 0


GateStatus = Literal["passed", "failed", "no_baseline"]
GATE_STATUSES: tuple[str, ...] = get_args(GateStatus)


@dataclass(frozen=True)
class GateViolation:
    """One broken gate rule, with the numbers behind it and the one line that explains it."""

    rule: str
    message: str
    scope: str = "global"
    baseline: float | str | None = None
    current: float | str | None = None
    tolerance: float | None = None


@dataclass(frozen=True)
class GateOutcome:
    """The gate's decision: ``reasons`` are one-liners (violations first, then notices)."""

    status: GateStatus
    mode: str
    baseline: str
    reasons: tuple[str, ...] = ()
    violations: tuple[GateViolation, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in GATE_STATUSES:
            raise ValueError(f"gate status must be one of {', '.join(GATE_STATUSES)}, got {self.status!r}")
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "violations", tuple(self.violations))

    @property
    def failed(self) -> bool:
        return self.status == "failed"


@dataclass(frozen=True)
class LeaderboardRow:
    """One adapter's standing: its means and its paired comparison with the base arm."""

    rank: int
    name: str
    adapter: str
    n_cases: int
    avg_relevance: float
    avg_keyword_match: float
    avg_valid_call: float | None
    vs_base: PairedBlock
    avg_task_success: float | None = None
    metric: str = "relevance"  # what the ranking and vs_base compare


# A training checkpoint's folder, as transformers' Trainer names them.
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Leaderboard:
    """Adapters ranked by mean relevance, and whether the best really beats the runner-up.

    ``best_vs_runner_up`` holds the paired differences best minus runner-up over the same
    cases (bootstrap interval and sign test): the question a team choosing a checkpoint asks.
    """

    rows: tuple[LeaderboardRow, ...]
    best_vs_runner_up: PairedBlock | None = None

    @property
    def best(self) -> LeaderboardRow:
        return self.rows[0]

    @property
    def runner_up(self) -> LeaderboardRow | None:
        return self.rows[1] if len(self.rows) > 1 else None

    def training_steps(self) -> list[tuple[int, LeaderboardRow]] | None:
        """Return (step, row) in step order when every adapter is a ``checkpoint-<step>`` folder, else None."""
        steps = []
        for row in self.rows:
            match = _CHECKPOINT.search(Path(row.adapter).name) or _CHECKPOINT.search(row.name)
            if match is None:
                return None
            steps.append((int(match.group(1)), row))
        return sorted(steps, key=lambda pair: pair[0]) if len(steps) > 1 else None

    def verdict(self) -> str:
        """Say in one sentence whether the best adapter is significantly better than the runner-up."""
        best, second, block = self.best, self.runner_up, self.best_vs_runner_up
        if second is None or block is None:
            return f"{best.name} is the only adapter."
        ci = f"{block.mean_diff:+.3f}, 95 % CI [{block.ci_low:+.3f}, {block.ci_high:+.3f}], sign test p={block.sign_test_p:.3g}"
        if block.significant and block.mean_diff > 0:
            return f"{best.name} is significantly better than the runner-up {second.name} ({ci})."
        return (
            f"{best.name} ranks first, but it is NOT significantly better than the runner-up {second.name} ({ci}): "
            "add cases or compare them on more runs before choosing."
        )


@dataclass(frozen=True)
class CustomCheck:
    """The outcome of one of the team's own tests on the session's models (``jarvis_base``...)."""

    name: str
    outcome: str  # passed, failed, skipped, error
    message: str = ""


@dataclass(frozen=True)
class CurvePoint:
    """One arm's means at one noise level, over the clean cases (each the mean of its variants)."""

    level: int
    arm: str
    n: int  # clean cases (clusters); each contributes the mean of its variants at this level
    variants: int
    relevance: float
    relevance_low: float
    relevance_high: float
    valid_call: float | None
    valid_call_low: float | None
    valid_call_high: float | None


@dataclass(frozen=True)
class Robustness:
    """The robustness curve of a run with speech-recognition variants (``--jarvis-perturb``).

    ``score``: per arm, the area under the relevance curve over levels 0..max divided by the
    area of a flat curve at the level-0 relevance (1.0 = no loss; None when level 0 scores 0).
    ``slower``: per clean case, the base's relevance drop minus the fine-tune's (level 0 minus
    the mean over the noisy levels); positive means the fine-tune degrades more slowly.
    """

    points: tuple[CurvePoint, ...]
    score: Mapping[str, float | None]
    slower: PairedBlock
    resamples: int
    confidence: float
    seed: int

    def verdict(self) -> str:
        """Say which arm degrades faster, in words that keep the sign's meaning, and when the base has nothing to lose."""
        s = self.slower
        if not s.significant:
            said = "no significant difference in how fast the arms degrade"
        elif s.mean_diff > 0:
            said = "the fine-tune degrades more slowly than the base"
        else:
            said = "the fine-tune degrades faster than the base"
        if self.score.get("base") is None:  # level 0 at 0: a floor cannot drop, so this is no robustness contest
            said += " (the base scores 0 at level 0: it has nothing to lose)"
        return said


@dataclass(frozen=True)
class EnvironmentChange:
    """Package versions that differ from the baseline's, and whether the answers moved with them.

    A notice, never a failure: the gate judges the scores as always. ``changed`` lists
    ``case_id (arm)`` for every answer that differs from the one the baseline stores.
    """

    packages: tuple[tuple[str, str, str], ...]  # (name, baseline version, this run's version)
    compared: int  # answers compared (cases both have × 2 arms)
    changed: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        moved = ", ".join(f"{name} {old} → {new}" for name, old, new in self.packages)
        if not self.changed:
            answers = f"{self.compared}/{self.compared} answers identical"
        else:
            shown = ", ".join(self.changed[:8]) + (
                f" and {len(self.changed) - 8} more" if len(self.changed) > 8 else ""
            )
            answers = f"{len(self.changed)} of {self.compared} answers changed: {shown}"
        return f"environment changed since the baseline: {moved}; {answers}"
