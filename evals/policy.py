"""What each per-prompt test asserts (``--jarvis-assert``), beside the verdict it reads.

``check_case`` says why a scored case fails a policy; ``assert_case`` fails the running test
with that line. Both read only the scored case: no pytest state.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

from evals.parsers import parse_fraction
from evals.records import METRIC_LABELS, ScoredCase

AssertKind = Literal["no-regression", "min-relevance", "none"]
ASSERT_HELP = "no-regression | min-relevance:X | none"


@dataclass(frozen=True)
class AssertPolicy:
    """What each per-prompt test asserts."""

    kind: AssertKind = "no-regression"
    threshold: float = 0.0
    metric: str = "relevance"  # --jarvis-gate-metric: what each case's test compares

    def __str__(self) -> str:
        return f"min-relevance:{self.threshold:g}" if self.kind == "min-relevance" else self.kind


def parse_assert(value: str) -> AssertPolicy:
    value = str(value).strip().lower()
    if value == "no-regression":
        return AssertPolicy("no-regression")
    if value == "none":
        return AssertPolicy("none")
    if value.startswith("min-relevance:"):
        return AssertPolicy("min-relevance", parse_fraction(value.split(":", 1)[1]))
    raise argparse.ArgumentTypeError(f"{value!r} is not an assertion; use {ASSERT_HELP}")


def check_case(scored: ScoredCase, policy: AssertPolicy) -> str | None:
    """Return why a per-prompt test fails under ``policy``, or None when it passes.

    The metric is relevance, or task success where the case measures it (``--jarvis-gate-metric``).
    """
    base, ft = scored.base, scored.finetuned
    if policy.kind == "none":
        return None
    metric = policy.metric if scored.delta(policy.metric) is not None else "relevance"
    label = METRIC_LABELS[metric]
    tuned_value, base_value = ft.value(metric) or 0.0, base.value(metric) or 0.0
    if policy.kind == "min-relevance":
        if tuned_value >= policy.threshold:
            return None
        rule = f"fine-tuned {label} {tuned_value:.2f} < required {policy.threshold:.2f}"
    else:
        if tuned_value >= base_value:
            return None
        rule = f"regression: fine-tuned {label} {tuned_value:.2f} < base {base_value:.2f}"
    lines = [
        f"{scored.id} [{scored.category}] {rule}",
        f"  prompt:     {scored.case.prompt!r}",
        f"  expected:   {', '.join(scored.case.expected_tools) or 'no call'}",
    ]
    for name, arm in (("base", base), ("fine-tuned", ft)):
        lines.append(
            f"  {name + ':':<11} {arm.answer!r} -> tools {list(arm.tools_named)} relevance {arm.relevance:.2f}"
        )
        if arm.task_success is not None:
            ran = ", ".join(f"{c.name}({c.arguments}){'' if c.ok else ' failed: ' + c.result}" for c in arm.executed)
            lines.append(f"  {'':<11} ran: {ran or 'nothing'}; task success {arm.task_success:.0f}")
            lines.extend(f"  {'':<11} unmet: {u}" for u in arm.unmet)
    return "\n".join(lines)


def assert_case(scored: ScoredCase, policy: AssertPolicy) -> None:
    """Fail the current test when the case breaks ``policy``, showing the prompt and both answers once."""
    failure = check_case(scored, policy)
    if failure is not None:
        import pytest  # the policy itself is importable without pytest

        pytest.fail(failure, pytrace=False)
