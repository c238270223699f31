"""The CI gate: does this run's fine-tuned arm hold up against the blessed baseline?

Pure: it reads a run's results, a baseline and a config, and returns an outcome; the
pytest plugin decides what to print and turns a failed outcome into exit status 1.

What is compared: the fine-tuned arm's mean relevance over the cases that ran **and** are
in the baseline, against the baseline's fine-tuned mean over the same cases, globally and
per category. Restricting both sides to the common cases makes a partial run
(``-m "jarvis and routing"``, ``-k``) gate only what it ran, like for like.
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass, field
from statistics import fmean
from types import MappingProxyType
from typing import Any, Iterable, Mapping, Sequence

from evals.baseline import DEFAULT_BASELINE_PATH, Baseline
from evals.errors import JarvisError
from evals.records import CATEGORIES, RunResults
from evals.stats import (
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    Interval,
    baseline_diffs,
    count_signs,
    is_significant,
    paired_bootstrap,
    sign_test,
)

GATE_MODES: tuple[str, ...] = ("tolerance", "significant")
STATUSES: tuple[str, ...] = ("passed", "failed", "no_baseline")
DEFAULT_TOLERANCE = 0.02
# The significant mode tests at 5 %: the 95 % bootstrap interval and the sign test at 0.05.
SIGNIFICANCE_CONFIDENCE = 0.95
# A drop of exactly the tolerance passes; the margin keeps 0.70 - 0.02 vs 0.68 from
# failing on the last bit of a float subtraction.
_EPS = 1e-9


class GateConfigError(JarvisError, ValueError):
    """A gate setting that cannot be used; the message says which and what to write instead."""


# --- option parsing (``type=`` functions for argparse / pytest) -----------------------------


def _tolerance_problem(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"must be a number, got {value!r}"
    if not 0.0 <= value <= 1.0:
        return f"must be between 0 and 1 (an absolute relevance difference, e.g. 0.02), got {value!r}"
    return None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse_tolerance(value: str) -> float:
    """Parse an absolute relevance tolerance such as ``0.02``."""
    number = _number(str(value).strip())
    if number is None or _tolerance_problem(number):
        raise argparse.ArgumentTypeError(
            f"tolerance must be an absolute relevance difference between 0 and 1, e.g. 0.02; got {value!r}"
        )
    return number


def parse_min_gain(value: str) -> float:
    """Parse a minimum relative gain of fine-tuned over base: ``0.10`` or ``10%``."""
    text = str(value).strip()
    percent = text.endswith("%")
    number = _number(text[:-1] if percent else text)
    if number is not None and percent:
        number /= 100.0
    if number is None or number < 0:
        raise argparse.ArgumentTypeError(
            f"minimum gain must be a relative gain >= 0 of fine-tuned over base, e.g. 0.10 or 10%; got {value!r}"
        )
    return number


def parse_gate_mode(value: str) -> str:
    """Parse ``tolerance`` or ``significant`` (case-insensitive)."""
    mode = str(value).strip().lower()
    if mode not in GATE_MODES:
        raise argparse.ArgumentTypeError(f"gate mode must be 'tolerance' or 'significant'; got {value!r}")
    return mode


def parse_category_tolerances(lines: str | Iterable[str]) -> dict[str, float]:
    """Parse ``category=value`` lines (the ini ``jarvis_category_tolerances``); blanks and ``#`` lines skip.

    A single string may also separate entries with commas: ``routing=0.05, commands=0.03``.
    """
    if isinstance(lines, str):
        lines = [part for line in lines.splitlines() if not line.strip().startswith("#") for part in line.split(",")]
    out: dict[str, float] = {}
    for raw in lines:
        line = str(raw).strip()
        if not line or line.startswith("#"):
            continue
        category, sep, number = (part.strip() for part in line.partition("="))
        if not sep or not category:
            raise argparse.ArgumentTypeError(f"category tolerance {line!r} is not category=value, e.g. routing=0.05")
        if category not in CATEGORIES:
            raise argparse.ArgumentTypeError(
                f"category tolerance {line!r}: unknown category {category!r}; use one of {', '.join(CATEGORIES)}"
            )
        if category in out:
            raise argparse.ArgumentTypeError(f"category tolerance for {category!r} is given twice; keep one line")
        value = _number(number)
        if value is None or _tolerance_problem(value):
            raise argparse.ArgumentTypeError(
                f"category tolerance {line!r}: the value must be between 0 and 1, e.g. {category}=0.05"
            )
        out[category] = value
    return out


# --- config and outcome records -------------------------------------------------------------


@dataclass(frozen=True)
class GateConfig:
    """How strict the gate is; built once from the command line and ini by the plugin."""

    tolerance: float = DEFAULT_TOLERANCE
    category_tolerances: Mapping[str, float] = field(default_factory=dict)
    min_gain: float | None = None
    mode: str = "tolerance"
    require_baseline: bool = False
    baseline_path: str = DEFAULT_BASELINE_PATH
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def __post_init__(self) -> None:
        problem = _tolerance_problem(self.tolerance)
        if problem:
            raise GateConfigError(f"gate tolerance {problem}")
        for category, value in dict(self.category_tolerances).items():
            if category not in CATEGORIES:
                raise GateConfigError(
                    f"gate tolerance for unknown category {category!r}: use one of {', '.join(CATEGORIES)}"
                )
            problem = _tolerance_problem(value)
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
        if self.mode not in GATE_MODES:
            raise GateConfigError(f"gate mode must be 'tolerance' or 'significant', got {self.mode!r}")
        if not isinstance(self.baseline_path, str) or not self.baseline_path:
            raise GateConfigError(f"gate baseline path must be a non-empty path, got {self.baseline_path!r}")
        if isinstance(self.resamples, bool) or not isinstance(self.resamples, int) or self.resamples < 1:
            raise GateConfigError(f"gate bootstrap resamples must be a whole number >= 1, got {self.resamples!r}")
        object.__setattr__(self, "category_tolerances", MappingProxyType(dict(self.category_tolerances)))

    def tolerance_for(self, category: str) -> float:
        """Return the category's own tolerance if set, else the global one."""
        return self.category_tolerances.get(category, self.tolerance)


@dataclass(frozen=True)
class GateViolation:
    """One broken rule, with the numbers behind it and the one line that explains it."""

    rule: str
    scope: str
    baseline: float | str | None
    current: float | str | None
    tolerance: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "scope": self.scope,
            "baseline": self.baseline,
            "current": self.current,
            "tolerance": self.tolerance,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateViolation:
        return cls(
            rule=str(data["rule"]),
            scope=str(data["scope"]),
            baseline=data.get("baseline"),
            current=data.get("current"),
            tolerance=data.get("tolerance"),
            message=str(data["message"]),
        )


@dataclass(frozen=True)
class GateOutcome:
    """The gate's verdict: ``reasons`` are one-liners (violations first, then notices)."""

    status: str
    mode: str
    baseline: str
    reasons: tuple[str, ...] = ()
    violations: tuple[GateViolation, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"gate status must be one of {', '.join(STATUSES)}, got {self.status!r}")
        # Callers may pass lists; store tuples so the outcome stays immutable.
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "violations", tuple(self.violations))

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "mode": self.mode,
            "baseline": self.baseline,
            "reasons": list(self.reasons),
            "violations": [v.to_dict() for v in self.violations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateOutcome:
        return cls(
            status=data["status"],
            mode=data["mode"],
            baseline=data["baseline"],
            reasons=tuple(data.get("reasons", ())),
            violations=tuple(GateViolation.from_dict(v) for v in data.get("violations", ())),
        )


# --- evaluation -----------------------------------------------------------------------------


def _shown(current: float, baseline: float, tolerance: float) -> int:
    """Return the fewest decimals (from 2) at which the printed numbers still show the drop."""
    for digits in (2, 3, 4, 6):
        if round(current, digits) < round(baseline, digits) - round(tolerance, digits) - _EPS:
            return digits
    return 6


def _drop_message(scope: str, current: float, baseline: float, tolerance: float) -> str:
    d = _shown(current, baseline, tolerance)
    return f"gate: {scope} relevance {current:.{d}f} < baseline {baseline:.{d}f} - tolerance {tolerance:.{d}f}"


def _evidence(interval: Interval, p: float) -> str:
    return (
        f"{interval.confidence:.0%} CI [{interval.low:+.3f}, {interval.high:+.3f}], sign test p {p:.3g}, n {interval.n}"
    )


def _gain_violation(results: RunResults, min_gain: float) -> GateViolation | None:
    base = fmean(c.base.relevance for c in results.results)
    tuned = fmean(c.finetuned.relevance for c in results.results)
    # A base mean of 0 makes the relative gain infinite if the fine-tune scores at all, else 0.
    gain = (tuned - base) / base if base > 0 else (math.inf if tuned > 0 else 0.0)
    if gain + _EPS >= min_gain:
        return None
    return GateViolation(
        rule="min_gain",
        scope="global",
        baseline=base,
        current=tuned,
        tolerance=min_gain,
        message=(
            f"gate: fine-tuned relevance {tuned:.2f} is {gain:+.1%} over base {base:.2f}, "
            f"below the required {min_gain:+.1%}"
        ),
    )


def _relevance_checks(
    results: RunResults, baseline: Baseline, config: GateConfig
) -> tuple[list[GateViolation], list[str], list[str]]:
    """Return (violations, notices, gated scopes) for relevance against the baseline."""
    violations: list[GateViolation] = []
    notices: list[str] = []
    rows = baseline_diffs(results.results, baseline)
    ran = list(dict.fromkeys(c.category for c in results.results))
    covered = list(dict.fromkeys(cat for cat, _ in rows))

    uncovered = [cat for cat in ran if cat not in covered]
    for cat in uncovered:
        message = (
            f"gate: baseline {baseline.path or config.baseline_path} has no {cat} case: "
            f"{cat} was not compared; re-bless the baseline from a full run with --jarvis-save-baseline"
        )
        if config.require_baseline:
            violations.append(
                GateViolation(
                    rule="baseline_coverage", scope=cat, baseline=None, current=None, tolerance=None, message=message
                )
            )
        else:
            notices.append(message)
    unmatched = [c.id for c in results.results if c.id not in baseline.cases and c.category in covered]
    if unmatched:
        notices.append(
            f"gate: {len(unmatched)} case(s) that ran are not in the baseline and were not compared: "
            + ", ".join(unmatched[:5])
            + (" ..." if len(unmatched) > 5 else "")
        )
    if not rows:
        return violations, notices, []

    by_id = {c.id: c for c in results.results}
    common = [c.id for c in results.results if c.id in baseline.cases]
    # With one category the global scope is the same cases again, and the category's own
    # tolerance (set on purpose) must not be overruled by the global one.
    scopes: list[tuple[str, list[str], float]] = [("global", common, config.tolerance)] if len(covered) > 1 else []
    scopes += [(cat, [i for i in common if by_id[i].category == cat], config.tolerance_for(cat)) for cat in covered]
    for scope, ids, tolerance in scopes:
        current = fmean(by_id[i].finetuned.relevance for i in ids)
        reference = fmean(baseline.cases[i].relevance_finetuned for i in ids)
        if current >= reference - tolerance - _EPS:
            continue
        message = _drop_message(scope, current, reference, tolerance)
        if config.mode == "significant":
            diffs = [by_id[i].finetuned.relevance - baseline.cases[i].relevance_finetuned for i in ids]
            interval = paired_bootstrap(
                diffs, resamples=config.resamples, confidence=SIGNIFICANCE_CONFIDENCE, seed=config.seed
            )
            wins, losses, _ = count_signs(diffs)
            p = sign_test(wins, losses)
            if not (is_significant(interval, p) and interval.mean < 0):
                notices.append(f"{message}, but the drop is not significant ({_evidence(interval, p)}): not failing")
                continue
            message = f"{message} (significant: {_evidence(interval, p)})"
        violations.append(
            GateViolation(
                rule="relevance", scope=scope, baseline=reference, current=current, tolerance=tolerance, message=message
            )
        )
    return violations, notices, [s for s, _, _ in scopes]


def evaluate_gate(
    results: RunResults | None, baseline: Baseline | None, config: GateConfig, executed: int
) -> GateOutcome:
    """Apply every gate rule to a run; ``executed`` is the number of JARVIS cases that ran.

    ``results`` may be None when nothing ran (the outcome is then a failure for lack of evidence).
    """
    path = (baseline.path if baseline is not None and baseline.path else "") or config.baseline_path

    def outcome(violations: Sequence[GateViolation], notices: Sequence[str], status: str) -> GateOutcome:
        return GateOutcome(
            status="failed" if violations else status,
            mode=config.mode,
            baseline=path,
            reasons=tuple(v.message for v in violations) + tuple(notices),
            violations=tuple(violations),
        )

    if executed <= 0 or results is None or not results.results:
        return outcome(
            [
                GateViolation(
                    rule="evidence",
                    scope="global",
                    baseline=None,
                    current=0,
                    tolerance=None,
                    message="gate: no JARVIS case ran: the gate has no evidence (check -m/-k and --jarvis-* options)",
                )
            ],
            [],
            "failed",
        )

    violations: list[GateViolation] = []
    notices: list[str] = []
    if config.min_gain is not None:
        gain = _gain_violation(results, config.min_gain)
        if gain is not None:
            violations.append(gain)

    if baseline is None:
        message = f"gate: no baseline at {path}"
        if config.require_baseline:
            violations.append(
                GateViolation(
                    rule="baseline_required",
                    scope="global",
                    baseline=None,
                    current=None,
                    tolerance=None,
                    message=f"{message} and a baseline is required: bless one with "
                    "`pytest -m jarvis --jarvis-save-baseline` and commit it",
                )
            )
        else:
            notices.append(f"{message}: relevance was not compared; bless one with --jarvis-save-baseline")
        return outcome(violations, notices, "no_baseline")

    meta = results.metadata
    if (meta.suite_name, meta.suite_version) != (baseline.suite_name, baseline.suite_version):
        current_suite = f"{meta.suite_name}@{meta.suite_version}"
        violations.append(
            GateViolation(
                rule="suite",
                scope="global",
                baseline=baseline.suite,
                current=current_suite,
                tolerance=None,
                message=f"gate: baseline {path} is for suite {baseline.suite} but this run used {current_suite}: "
                "re-bless it with --jarvis-save-baseline",
            )
        )
        return outcome(violations, notices, "passed")

    relevance, more_notices, gated = _relevance_checks(results, baseline, config)
    violations += relevance
    notices += more_notices
    if not gated:
        # A baseline that shares no case with this run compared nothing: say so in the status.
        return outcome(violations, notices, "no_baseline")
    if not violations:
        held = "held within tolerance" if config.mode == "tolerance" else "had no significant drop beyond tolerance"
        notices.insert(0, f"gate: fine-tuned relevance {held} against {path} in {', '.join(gated)}")
    return outcome(violations, notices, "passed")
