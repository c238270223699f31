"""Run an answer's parsed calls, in order, against a state: what each call did or why it failed.

Nothing here raises on a bad call: a runtime answers the model with an error and goes on, and the
benchmark needs every failure recorded, not the first one. A failed call leaves the state as it
was, so the calls after it run on the state the failed one found.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from evals.records import Call
from evals.runtime.schema import check_arguments, required_arguments
from evals.runtime.state import State
from evals.runtime.tools import REGISTRY, Registry, ToolError

# Why a call can fail, from the earliest check to the latest.
ERROR_KINDS: tuple[str, ...] = (
    "unknown_tool",  # no tool of that name (or, by default, a misspelt one)
    "raw_arguments",  # free text where the tool needs named arguments
    "bad_arguments",  # arguments that are neither a mapping nor text (a list, a number)
    "unexpected_argument",
    "missing_argument",
    "bad_type",
    "bad_value",  # the right type but out of range, empty, or unreadable ("bientôt" as a duration)
    "tool_failed",  # valid, but the state forbids it (no window to close, no music to pause)
)


@dataclass(frozen=True)
class CallResult:
    """One call as the runtime ran it: ``ok`` with the tool's ``result`` text, or the ``error``."""

    call: Call
    ok: bool
    result: str = ""
    error: str = ""
    error_kind: str = ""  # one of ERROR_KINDS when not ok


@dataclass(frozen=True)
class Execution:
    """An answer's calls run in order: the state before, after, and each call's result."""

    before: State
    after: State
    results: tuple[CallResult, ...] = ()

    @property
    def errors(self) -> tuple[CallResult, ...]:
        return tuple(r for r in self.results if not r.ok)

    @property
    def ok(self) -> bool:
        """True when every call ran (also when there were none)."""
        return not self.errors


def _arguments(call: Call, required: tuple[str, ...]) -> tuple[dict[str, Any] | None, CallResult | None]:
    """The call's arguments as a mapping, or the failed result when they are not one.

    Text is what a bare id or ``tool(free text)`` leaves. Empty text (a bare id) runs a tool with
    nothing required; any other text is refused as a schema-checking runtime refuses it, since
    ``volume_down(step, 10)`` or ``music_play("jazz")`` names no argument (BFCL's AST check).
    """
    value = call.arguments
    if value is None:  # JSON null: no arguments
        return {}, None
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}, None
    if isinstance(value, str):
        if not value.strip() and not required:
            return {}, None
        if not value.strip():
            missing = ", ".join(repr(r) for r in required)
            return None, CallResult(
                call, False, error=f"missing required argument {missing}", error_kind="missing_argument"
            )
        return None, CallResult(
            call, False, error=f"arguments are free text {value!r}, not named arguments", error_kind="raw_arguments"
        )
    kind = "array" if isinstance(value, list | tuple) else type(value).__name__
    return None, CallResult(call, False, error=f"arguments must be an object, got {kind}", error_kind="bad_arguments")


def run_call(
    call: Call, state: State, registry: Registry = REGISTRY, accept_malformed: bool = False
) -> tuple[State, CallResult]:
    """Run one call; on failure return the state unchanged with the reason."""
    tool = registry.get(call.name) if call.name else None
    if tool is None or (call.malformed and not accept_malformed):
        spelt = call.raw_name or call.name
        hint = f" (one edit from {call.name}; a runtime calls exact names)" if tool is not None else ""
        return state, CallResult(call, False, error=f"unknown tool {spelt!r}{hint}", error_kind="unknown_tool")
    arguments, failed = _arguments(call, required_arguments(tool.schema))
    if failed is not None or arguments is None:
        return state, failed or CallResult(call, False, error="no arguments", error_kind="bad_arguments")
    checked, problems = check_arguments(tool.schema, arguments)
    if problems:
        return state, CallResult(call, False, error="; ".join(p.text for p in problems), error_kind=problems[0].kind)
    try:
        after, result = tool.apply(state, checked)
    except ToolError as exc:
        return state, CallResult(call, False, error=str(exc), error_kind=exc.kind)
    return after, CallResult(call, True, result=result)


def execute(
    calls: Iterable[Call], state: State, registry: Registry = REGISTRY, accept_malformed: bool = False
) -> Execution:
    """Run ``calls`` in order from ``state`` (never modified: states are immutable).

    ``accept_malformed``: run a call whose name was one edit from a tool id (``Call.malformed``)
    as that tool; off by default, since a real runtime dispatches on the exact name.
    """
    current = state
    results: list[CallResult] = []
    for call in calls:
        current, result = run_call(call, current, registry, accept_malformed)
        results.append(result)
    return Execution(before=state, after=current, results=tuple(results))
