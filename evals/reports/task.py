"""What the tool runtime measured, as every report words it: task success, false activation, what ran.

A run measures task success when one of its answers has it (its case has an `expect:`); results
files of earlier rounds have none, and every report then reads exactly as it did before. These
helpers are the one place the reports decide that, and write a call, a state change or a rate.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from evals.records import ArmScore, Case, ExecutedCall, RunResults, Stats

# How the reports name the runtime's metrics; false activation is the one where lower is better.
TASK = "task success"
FALSE_ACTIVATION = "false activation"


def measured(results: RunResults) -> bool:
    """True when an answer of the run has task success (its case says what should happen)."""
    return any(arm.task_success is not None for r in results.results for arm in r.arms.values())


def stats_measured(s: Stats) -> bool:
    """True when either arm of the group has task success."""
    return s.base.task_success is not None or s.finetuned.task_success is not None


def share(value: float | None, missing: str = "-") -> str:
    return missing if value is None else f"{value:.3f}"


def gain(base: float | None, tuned: float | None, missing: str = "-") -> str:
    return missing if base is None or tuned is None else f"{tuned - base:+.3f}"


def arrow(base: float | None, tuned: float | None, missing: str = "-", sep: str = " -> ") -> str:
    """``0.400 -> 0.800``; ``-`` when neither arm has it."""
    if base is None and tuned is None:
        return missing
    return f"{share(base, missing)}{sep}{share(tuned, missing)}"


def arguments_text(arguments: str) -> str:
    """A call's arguments as the answer shape writes them: ``step=10, app="firefox"`` (raw text otherwise)."""
    try:
        value: Any = json.loads(arguments) if arguments else {}
    except ValueError:
        return arguments
    if not isinstance(value, Mapping):
        return arguments
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in value.items())


def call_head(call: ExecutedCall) -> str:
    """``volume_up(step=10)``."""
    return f"{call.name}({arguments_text(call.arguments)})"


def call_text(call: ExecutedCall) -> str:
    """``volume_up(step=10) ok: Volume à 60 %.`` or ``open_fire() failed (unknown_tool): unknown tool ...``."""
    if call.ok:
        return f"{call_head(call)} ok" + (f": {call.result}" if call.result else "")
    kind = f" ({call.error_kind})" if call.error_kind else ""
    return f"{call_head(call)} failed{kind}" + (f": {call.result}" if call.result else "")


def expect_text(case: Case) -> str:
    """The case's `expect:` on one line: ``nothing``, or ``volume: "+10"; muted: false``."""
    expect = case.expect
    if expect is None:
        return ""
    if isinstance(expect, str):
        return expect
    return "; ".join(f"{k}: {json.dumps(v, ensure_ascii=False)}" for k, v in expect.items())


def outcome_word(arm: ArmScore) -> str:
    """``1`` / ``0`` for task success, with the no-tool outcome: ``1 (abstained)``, ``0 (false activation)``."""
    if arm.task_success is None:
        return "-"
    word = f"{arm.task_success:g}"
    if arm.false_activation is True:
        word += f" ({FALSE_ACTIVATION})"
    elif arm.false_activation is False:
        word += " (abstained)"
    return word
