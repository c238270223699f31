"""The CI gate: does this run's fine-tuned arm hold up against the blessed baseline?

Pure: it reads a run's results, a baseline and a config, and returns an outcome; the
pytest plugin decides what to print and turns a failed outcome into exit status 1.

What is compared: the fine-tuned arm's mean relevance (or task success, ``--jarvis-gate-metric``)
over the cases that ran **and** are in the baseline, against the baseline's fine-tuned mean over
the same cases, globally and per category; and, with its own tolerance, the false-activation rate
over the cases where nothing should run. Restricting both sides to the common cases makes a partial run
(``-m "jarvis and routing"``, ``-k``) gate only what it ran, like for like.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import fmean
from types import MappingProxyType
from typing import Any

from evals.errors import JarvisError
from evals.gate.baseline import DEFAULT_BASELINE_PATH, Baseline, RunIdentity
from evals.records import (
    CATEGORIES,
    GATE_METRICS,
    METRIC_LABELS,
    BaselineBlock,
    BaselineComparison,
    GateOutcome,
    GateStatus,
    GateViolation,
    RunResults,
    ScoredCase,
)
from evals.robustness import score_of_ids

GATE_MODES: tuple[str, ...] = ("tolerance", "significant")
DEFAULT_TOLERANCE = 0.02
# The significant mode tests at 5 %: the 95 % bootstrap interval and the sign test at 0.05
# (the ``baseline_comparison`` section is computed at that confidence, once per run).
SIGNIFICANCE_CONFIDENCE = 0.95
# A drop of exactly the tolerance passes; the margin keeps 0.70 - 0.02 vs 0.68 from
# failing on the last bit of a float subtraction.
_EPS = 1e-9


class GateConfigError(JarvisError, ValueError):
    """A gate setting that cannot be used; the message says which and what to write instead."""


def tolerance_problem(value: Any) -> str | None:
    """Say what is wrong with a tolerance value, or None when it is a number in [0, 1]."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be a number, got {value!r}"
    if not 0.0 <= value <= 1.0:
        return f"must be between 0 and 1 (an absolute relevance difference, e.g. 0.02), got {value!r}"
    return None


# --- config and outcome records -------------------------------------------------------------


@dataclass(frozen=True)
class GateConfig:
    """How strict the gate is; built once from the command line and ini by the plugin."""

    tolerance: float = DEFAULT_TOLERANCE
    category_tolerances: Mapping[str, float] = field(default_factory=dict)
    min_gain: float | None = None
    mode: str = "tolerance"
    metric: str = "relevance"  # what is compared: relevance or task_success
    false_activation_tolerance: float = 0.0
    # --jarvis-gate-margin: a significant fall of the fine-tuned routing margins (nats, mean per case)
    # beyond this fails the gate; None: a significant fall is a warning only.
    margin_tolerance: float | None = None
    require_baseline: bool = False
    baseline_path: str = DEFAULT_BASELINE_PATH
    blessing: bool = False  # this run replaces the baseline: an unreadable one is not a failure
    accept_mismatch: bool = False  # compare with a baseline of another identity anyway (said in the reasons)

    def __post_init__(self) -> None:
        problem = tolerance_problem(self.tolerance)
        if problem:
            raise GateConfigError(f"gate tolerance {problem}")
        for category, value in dict(self.category_tolerances).items():
            if category not in CATEGORIES:
                raise GateConfigError(
                    f"gate tolerance for unknown category {category!r}: use one of {', '.join(CATEGORIES)}"
                )
            problem = tolerance_problem(value)
            if problem:
                raise GateConfigError(f"gate tolerance for {category} {problem}")
        if self.min_gain is not None and (
            isinstance(self.min_gain, bool)
            or not isinstance(self.min_gain, (int, float))
            or not math.isfinite(self.min_gain)
            or self.min_gain < 0
        ):
            raise GateConfigError(
                f"gate minimum gain must be a relative gain >= 0 (0.10 means +10 % over base), got {self.min_gain!r}"
            )
        if self.metric not in GATE_METRICS:
            raise GateConfigError(f"gate metric must be 'relevance' or 'task_success', got {self.metric!r}")
        problem = tolerance_problem(self.false_activation_tolerance)
        if problem:
            raise GateConfigError(f"false-activation tolerance {problem}")
        if self.mode not in GATE_MODES:
            raise GateConfigError(f"gate mode must be 'tolerance' or 'significant', got {self.mode!r}")
        if not isinstance(self.baseline_path, str) or not self.baseline_path:
            raise GateConfigError(f"gate baseline path must be a non-empty path, got {self.baseline_path!r}")
        object.__setattr__(self, "category_tolerances", MappingProxyType(dict(self.category_tolerances)))

    def tolerance_for(self, category: str) -> float:
        """Return the category's own tolerance if set, else the global one."""
        return self.category_tolerances.get(category, self.tolerance)


# --- evaluation -----------------------------------------------------------------------------


def _shown(current: float, baseline: float, tolerance: float) -> int:
    """Return the fewest decimals (from 2) at which the printed numbers still show the drop."""
    for digits in (2, 3, 4, 6):
        if round(current, digits) < round(baseline, digits) - round(tolerance, digits) - _EPS:
            return digits
    return 6


def _drop_message(scope: str, current: float, baseline: float, tolerance: float, metric: str = "relevance") -> str:
    d = _shown(current, baseline, tolerance)
    label = METRIC_LABELS[metric]
    return f"gate: {scope} {label} {current:.{d}f} < baseline {baseline:.{d}f} - tolerance {tolerance:.{d}f}"


def _evidence(block: BaselineBlock) -> str:
    return (
        f"{SIGNIFICANCE_CONFIDENCE:.0%} CI [{block.ci_low:+.3f}, {block.ci_high:+.3f}], "
        f"sign test p {block.sign_test_p:.3g}, n {block.n_common}"
    )


def _measured(cases: Sequence[ScoredCase], metric: str) -> list[ScoredCase]:
    """The cases that measure ``metric`` on both arms (task success needs an `expect:`)."""
    return [c for c in cases if c.delta(metric) is not None]


def _value(case: ScoredCase, metric: str) -> float:
    value = case.finetuned.value(metric)
    assert value is not None  # callers pass measured cases only
    return value


def _gain_violation(cases: Sequence[ScoredCase], min_gain: float, metric: str = "relevance") -> GateViolation | None:
    label = METRIC_LABELS[metric]
    cases = _measured(cases, metric)
    if not cases:
        return None  # said by the metric check, once
    base = fmean(c.base.value(metric) or 0.0 for c in cases)
    tuned = fmean(_value(c, metric) for c in cases)
    if base > 0:
        gain = (tuned - base) / base
        if gain + _EPS >= min_gain:
            return None
        message = (
            f"gate: fine-tuned {label} {tuned:.2f} is {gain:+.1%} over base {base:.2f}, "
            f"below the required {min_gain:+.1%}"
        )
    else:
        # A relative gain over 0 is unbounded: any fine-tune would pass. The absolute gain is used.
        if tuned - base + _EPS >= min_gain:
            return None
        message = (
            f"gate: base {label} is 0, so the gain is measured absolutely: fine-tuned {label} {tuned:.2f} "
            f"is below the required {min_gain:.2f}"
        )
    return GateViolation(rule="min_gain", baseline=base, current=tuned, tolerance=min_gain, message=message)


def _relevance_checks(
    cases: Sequence[ScoredCase], comparison: BaselineComparison | None, baseline: Baseline, config: GateConfig
) -> tuple[list[GateViolation], list[str], list[str]]:
    """Return (violations, notices, gated scopes) for one adapter's gate metric against the baseline."""
    violations: list[GateViolation] = []
    notices: list[str] = []
    path = baseline.path or config.baseline_path
    metric, label = config.metric, METRIC_LABELS[config.metric]
    if metric != "relevance":
        measured = _measured(cases, metric)
        if not measured:
            violations.append(
                GateViolation(
                    rule=metric,
                    message=f"gate: no case of this run measures {label} (the suite's cases have no 'expect:'): "
                    "add expectations to the suite, or gate on --jarvis-gate-metric relevance",
                )
            )
            return violations, notices, []
        cases = measured
    by_id = {c.id: c for c in cases}
    common = [c.id for c in cases if c.id in baseline.cases and baseline.cases[c.id].delta(metric) is not None]
    missing = [c.id for c in cases if c.id not in baseline.cases]
    if not common:
        violations.append(
            GateViolation(
                rule="baseline_coverage",
                message=f"gate: baseline {path} shares no case with this run, so nothing was compared: "
                "re-bless it from a run of this suite with --jarvis-save-baseline",
            )
        )
        return violations, notices, []
    if missing:
        listed = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
        message = f"gate: {len(missing)} selected case(s) are not in baseline {path} and were not compared: {listed}"
        if config.require_baseline:
            violations.append(
                GateViolation(
                    rule="baseline_coverage",
                    current=len(missing),
                    message=f"{message}; a baseline is required: re-bless it from a full run with --jarvis-save-baseline",
                )
            )
        else:
            notices.append(message)
    if baseline.partial:
        notices.append(
            f"gate: baseline {path} is partial ({baseline.scope or 'a partial run'}: {len(baseline.cases)} cases in "
            f"{', '.join(baseline.categories)}): only the {len(common)} case(s) it covers were compared"
        )

    covered = list(dict.fromkeys(by_id[i].category for i in common))
    # With one category the global scope is the same cases again, and the category's own
    # tolerance (set on purpose) must not be overruled by the global one.
    scopes: list[tuple[str, list[str], float]] = [("global", common, config.tolerance)] if len(covered) > 1 else []
    scopes += [(cat, [i for i in common if by_id[i].category == cat], config.tolerance_for(cat)) for cat in covered]
    if config.mode == "significant" and comparison is None:
        raise ValueError(
            "the significant gate mode needs the run's baseline_comparison section (stats.baseline_section)"
        )
    for scope, ids, tolerance in scopes:
        current = fmean(_value(by_id[i], metric) for i in ids)
        reference = fmean(_value(baseline.cases[i], metric) for i in ids)
        beyond = current < reference - tolerance - _EPS
        message = _drop_message(scope, current, reference, tolerance, metric) if beyond else ""
        if comparison is not None and config.mode == "significant":
            block = comparison.overall if scope == "global" else comparison.by_category[scope]
            if block.significant and block.mean_diff < 0:
                # Significant mode adds a rule: a significant drop fails even within the tolerance.
                if not beyond:
                    message = (
                        f"gate: {scope} {label} {current:.3f} dropped significantly from baseline {reference:.3f} "
                        "(within the tolerance)"
                    )
                message = f"{message} (significant: {_evidence(block)})"
            elif beyond:
                message = f"{message} (not significant: {_evidence(block)})"
        if message:
            violations.append(
                GateViolation(
                    rule=metric,
                    scope=scope,
                    baseline=reference,
                    current=current,
                    tolerance=tolerance,
                    message=message,
                )
            )
    return violations, notices, [s for s, _, _ in scopes]


def _false_activation_check(
    cases: Sequence[ScoredCase], baseline: Baseline, config: GateConfig
) -> tuple[list[GateViolation], list[str]]:
    """Hold the fine-tuned false-activation rate (cases where nothing should run) to the baseline's."""
    common = [
        c
        for c in cases
        if c.id in baseline.cases
        and c.finetuned.false_activation_rate is not None
        and baseline.cases[c.id].finetuned.false_activation_rate is not None
    ]
    if not common:
        return [], []
    # Per case, the share of its answers (samples) that acted: one answer gives 0 or 1.
    current = fmean(c.finetuned.false_activation_rate or 0.0 for c in common)
    reference = fmean(baseline.cases[c.id].finetuned.false_activation_rate or 0.0 for c in common)
    tolerance = config.false_activation_tolerance
    if current > reference + tolerance + _EPS:
        fired = [c.id for c in common if c.finetuned.false_activation_rate]
        message = (
            f"gate: false activation {current:.2f} > baseline {reference:.2f} + tolerance {tolerance:g} "
            f"on {len(common)} case(s) where nothing should run (a call ran on: {', '.join(fired[:5])})"
        )
        return [
            GateViolation(
                rule="false_activation", baseline=reference, current=current, tolerance=tolerance, message=message
            )
        ], []
    return [], [f"gate: false activation {current:.2f} held within tolerance of baseline {reference:.2f}"]


# A mean fall below this many nats is numerics, not the adapter: the same 4-bit model on CPU gave the
# demo's margins 0.04 nats apart between a process that generated first and one that only probed,
# and a shift that small, in the same direction on every case, would pass the sign test.
MARGIN_NOISE = 0.1


def _margin_check(
    cases: Sequence[ScoredCase], baseline: Baseline, config: GateConfig
) -> tuple[list[GateViolation], list[str]]:
    """Compare the fine-tuned routing margins with the baseline's, case by case (paired test over cases).

    A significant fall is reported even while relevance holds: the cases are getting closer to
    flipping. With ``margin_tolerance`` it fails the gate once the mean fall exceeds it.
    """
    from evals.stats import paired_block

    pairs = [
        (c.finetuned.probe.routing_margin, baseline.cases[c.id].finetuned.probe.routing_margin)  # type: ignore[union-attr]
        for c in cases
        if c.id in baseline.cases and c.finetuned.probe is not None and baseline.cases[c.id].finetuned.probe is not None
    ]
    if not pairs:
        return [], []
    block = paired_block([now - then for now, then in pairs])
    if not (block.significant and block.mean_diff < -MARGIN_NOISE):
        return [], []
    fall = -block.mean_diff
    told = (
        f"fine-tuned routing margins fell by {fall:.2f} nats per case against the baseline "
        f"(95% CI [{block.ci_low:+.2f}, {block.ci_high:+.2f}], sign test p={block.sign_test_p:.2g}, "
        f"{block.losses} of {block.n} cases lower)"
    )
    tolerance = config.margin_tolerance
    if tolerance is not None and fall > tolerance + _EPS:
        message = f"gate: {told}, beyond --jarvis-gate-margin {tolerance:g}"
        return [GateViolation(rule="margin", baseline=0.0, current=-fall, tolerance=tolerance, message=message)], []
    return [], [f"gate: warning: {told}; the answers may not have changed yet, but these cases are nearer to flipping"]


# Drift beyond this multiple of the baseline's (and this far above it, in nats per token) is flagged.
DRIFT_FACTOR, DRIFT_MARGIN = 2.0, 0.05


def _drift_check(results: RunResults, baseline: Baseline, adapter: str | None) -> list[str]:
    """Flag an adapter that moved the model on neutral prompts much more than the baseline's adapter did."""
    now, then = results.drift_for(adapter), baseline.results.drift_for()
    if now is None or then is None:
        return []
    if now.neutral_set != then.neutral_set:
        return [
            f"gate: drift not compared: the baseline measured it on {then.neutral_set}, this run on "
            f"{now.neutral_set}; bless a run to compare it"
        ]
    current, reference = now.summary.mean_kl, then.summary.mean_kl
    if current <= max(DRIFT_FACTOR * reference, reference + DRIFT_MARGIN):
        return []
    return [
        f"gate: warning: drift outside the task {current:.3f} nats/token on the neutral prompts, "
        f"{current / reference:.1f} times the baseline's {reference:.3f}"
        if reference > 0
        else f"gate: warning: drift outside the task {current:.3f} nats/token on the neutral prompts, the baseline's was 0"
    ]


def _robustness_check(
    cases: Sequence[ScoredCase], baseline: Baseline, config: GateConfig
) -> tuple[list[GateViolation], list[str]]:
    """Hold the fine-tuned robustness score (--jarvis-perturb) to the baseline's, on the cases both have."""
    path = baseline.path or config.baseline_path
    common = [c for c in cases if c.id in baseline.cases]
    current = score_of_ids({c.id: c.finetuned.relevance for c in common})
    reference = score_of_ids({c.id: baseline.cases[c.id].finetuned.relevance for c in common})
    if current is None or reference is None:
        return [], [
            f"gate: baseline {path} has no noise levels in common with this run: robustness was not compared; "
            "bless a --jarvis-perturb run to gate it"
        ]
    if current < reference - config.tolerance - _EPS:
        message = (
            f"gate: fine-tuned robustness score {current:.3f} dropped below baseline {reference:.3f} "
            f"- tolerance {config.tolerance:g}"
        )
        violation = GateViolation(
            rule="robustness",
            baseline=reference,
            current=current,
            tolerance=config.tolerance,
            message=message,
        )
        return [violation], []
    return [], [f"gate: fine-tuned robustness score {current:.3f} held within tolerance of baseline {reference:.3f}"]


@dataclass(frozen=True)
class NoBaseline:
    """Why the gate has no baseline: the file is absent, or ``error`` says why it is unusable."""

    path: str
    error: str | None = None


def evaluate_gate(
    results: RunResults | None,
    baseline: Baseline | NoBaseline,
    config: GateConfig,
    executed: int,
    adapter: str | None = None,
) -> GateOutcome:
    """Apply every gate rule to one adapter of a run (the primary by default); the only place an outcome is made.

    ``executed`` is the number of JARVIS cases that ran; ``results`` may be None when nothing
    ran (a failure for lack of evidence). The significant mode reads the run's
    ``baseline_comparison`` section instead of resampling again.
    """
    path = baseline.path or config.baseline_path

    def outcome(violations: Sequence[GateViolation], notices: Sequence[str], status: GateStatus) -> GateOutcome:
        return GateOutcome(
            status="failed" if violations else status,
            mode=config.mode,
            baseline=path,
            reasons=tuple(v.message for v in violations) + tuple(notices),
            violations=tuple(violations),
        )

    cases = results.pairs(adapter) if results is not None else ()
    if executed <= 0 or results is None or not cases:
        return outcome(
            [
                GateViolation(
                    rule="evidence",
                    current=0,
                    message="gate: no JARVIS case ran: the gate has no evidence (check -m/-k and --jarvis-* options)",
                )
            ],
            [],
            "failed",
        )
    if isinstance(baseline, NoBaseline) and baseline.error is not None and not config.blessing:
        # One line, like every other gate reason; re-blessing is the asked-for fix, not a failure.
        return GateOutcome(status="failed", mode=config.mode, baseline=path, reasons=(f"gate: {baseline.error}",))

    violations: list[GateViolation] = []
    notices: list[str] = []
    if config.min_gain is not None:
        gain = _gain_violation(cases, config.min_gain, config.metric)
        if gain is not None:
            violations.append(gain)

    if isinstance(baseline, NoBaseline):
        message = f"gate: no baseline at {path}"
        if config.blessing:
            # Only the fact: whether this run is then blessed (it is not when its answers are
            # empty, or its reports could not be written) is said by the note that does it.
            if baseline.error is not None:
                notices.append(f"gate: baseline {path} is unreadable: relevance was not compared")
            else:
                notices.append(f"{message} yet: relevance was not compared")
        elif config.require_baseline:
            violations.append(
                GateViolation(
                    rule="baseline_required",
                    message=f"{message} and a baseline is required: bless one with "
                    "`pytest -m jarvis --jarvis-save-baseline` and commit it",
                )
            )
        else:
            notices.append(f"{message}: relevance was not compared; bless one with --jarvis-save-baseline")
        return outcome(violations, notices, "no_baseline")

    differences = baseline.identity.differences(RunIdentity.of(results.metadata))
    if differences and not config.accept_mismatch:
        violations.append(
            GateViolation(
                rule="identity",
                message=f"gate: baseline {path} was made on another setup ({'; '.join(differences)}): re-bless it "
                "with --jarvis-save-baseline, or compare anyway with --jarvis-accept-baseline-mismatch",
            )
        )
        return outcome(violations, notices, "passed")
    if differences:
        notices.append(
            f"gate: compared with a baseline made on another setup ({'; '.join(differences)}) "
            "because --jarvis-accept-baseline-mismatch was given"
        )

    relevance, more_notices, gated = _relevance_checks(cases, results.comparison_for(adapter), baseline, config)
    violations += relevance
    notices += more_notices
    silent, silent_notices = _false_activation_check(cases, baseline, config)
    violations += silent
    notices += silent_notices
    margin, margin_notices = _margin_check(cases, baseline, config)
    violations += margin
    notices += margin_notices
    notices += _drift_check(results, baseline, adapter)
    if results.robustness is not None and adapter in (None, results.primary):  # the primary's curve
        robust, robust_notices = _robustness_check(cases, baseline, config)
        violations += robust
        notices += robust_notices
    if not violations:
        held = (
            "held within tolerance" if config.mode == "tolerance" else "held within tolerance, with no significant drop"
        )
        notices.insert(
            0, f"gate: fine-tuned {METRIC_LABELS[config.metric]} {held} against {path} in {', '.join(gated)}"
        )
    return outcome(violations, notices, "passed")


def evaluate_gate_all(
    results: RunResults, baseline: Baseline | NoBaseline, config: GateConfig, executed: int
) -> GateOutcome:
    """Gate every adapter of a run (``--jarvis-gate-all``): failed when any one fails.

    Each adapter is compared with the baseline exactly as the primary one is; reasons of the
    other adapters start with their name in brackets.
    """
    primary = results.primary
    outcomes = {name: evaluate_gate(results, baseline, config, executed, name) for name in results.adapters}
    ordered = [primary, *(name for name in outcomes if name != primary)]
    reasons: list[str] = []
    violations: list[GateViolation] = []
    for name in ordered:
        label = "" if name == primary else f"[{name}] "
        outcome = outcomes[name]
        reasons += [r.replace("gate: ", f"gate: {label}", 1) if label else r for r in outcome.reasons]
        violations += [replace(v, scope=f"{name}:{v.scope}") if label else v for v in outcome.violations]
    statuses = {o.status for o in outcomes.values()}
    status: GateStatus = "failed" if "failed" in statuses else ("passed" if "passed" in statuses else "no_baseline")
    return GateOutcome(
        status=status,
        mode=config.mode,
        baseline=outcomes[primary].baseline,
        reasons=tuple(reasons),
        violations=tuple(violations),
    )
