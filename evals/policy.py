"""What each per-prompt test asserts (``--jarvis-assert``), beside the verdict it reads.

``check_case`` says why a scored case fails a policy; ``assert_case`` fails the running test
with that line. Both read only the scored case: no pytest state.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Literal

from evals.parsers import parse_fraction
from evals.records import ScoredCase

AssertKind = Literal["no-regression", "min-relevance", "none"]
ASSERT_HELP = "no-regression | min-relevance:X | none"


@dataclass(frozen=True)
class AssertPolicy:
    """What each per-prompt test asserts."""

    kind: AssertKind = "no-regression"
    threshold: float = 0.0

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
    """Return why a per-prompt test fails under ``policy``, or None when it passes."""
    base, ft = scored.base, scored.finetuned
    if policy.kind == "none":
        return None
    if policy.kind == "min-relevance":
        if ft.relevance >= policy.threshold:
            return None
        rule = f"fine-tuned relevance {ft.relevance:.2f} < required {policy.threshold:.2f}"
    else:
        if ft.relevance >= base.relevance:
            return None
        rule = f"regression: fine-tuned relevance {ft.relevance:.2f} < base {base.relevance:.2f}"
    return (
        f"{scored.id} [{scored.category}] {rule}\n"
        f"  prompt:     {scored.case.prompt!r}\n"
        f"  expected:   {', '.join(scored.case.expected_tools)}\n"
        f"  base:       {base.answer!r} -> tools {list(base.tools_named)} relevance {base.relevance:.2f}\n"
        f"  fine-tuned: {ft.answer!r} -> tools {list(ft.tools_named)} relevance {ft.relevance:.2f}"
    )


def assert_case(scored: ScoredCase, policy: AssertPolicy) -> None:
    """Fail the current test when the case breaks ``policy``, showing the prompt and both answers once."""
    failure = check_case(scored, policy)
    if failure is not None:
        import pytest  # the policy itself is importable without pytest

        pytest.fail(failure, pytrace=False)
