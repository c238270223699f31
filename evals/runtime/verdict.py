"""Judge an answer by what its calls do: task success and its BFCL-style parts, for one case and arm.

The calls are those relevance reads (``evals.metrics.parse_calls``). They run in a fresh runtime
from the case's `setup:`, after the calls of its `history:` (a follow-up acts on the state its
earlier turns left). A runtime dispatches exact names, so a misspelt or invented tool is a failed
call; it is still a call, never an abstention. Pure: no file, no model.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields

from evals.backends.prompting import strip_think
from evals.metrics import parse_calls
from evals.metrics.relevance import analyse
from evals.records import Call, Case, ExecutedCall, Suite, Tool
from evals.runtime.execute import Execution, execute
from evals.runtime.expect import check_expect, parse_expect
from evals.runtime.state import State

# Errors that say the arguments were wrong, not the tool or the state (BFCL's AST checks).
ARGUMENT_ERRORS = frozenset(
    {"raw_arguments", "bad_arguments", "unexpected_argument", "missing_argument", "bad_type", "bad_value"}
)
# What an expectation on one field lets change with it, because one action changes both: an app
# opens with its window (and quits with its last one), play sets what plays, raising the volume
# unmutes. One way only: "remets le son" (muted) does not allow a louder volume.
COVERS: dict[str, frozenset[str]] = {
    "apps_open": frozenset({"windows"}),
    "windows": frozenset({"apps_open"}),
    "music": frozenset({"music_query"}),
    "music_query": frozenset({"music"}),
    "volume": frozenset({"muted"}),
}


# What a runtime would try to dispatch though no tool has that name: ``nom_outil(...)`` anywhere, or
# an invented id opening the answer or a sentence ("open_firefox — ..."). The call parser keeps only
# names near a tool id (for relevance); a runtime tries every call it is handed, and fails it.
_ATTEMPT = re.compile(
    r"(?<![\w.])([a-z][a-z0-9]*(?:_[a-z0-9]+)+)\s*\("
    r"|(?:^|(?<=[.!?\n]))\s*[`*\"']*([a-z][a-z0-9]*(?:_[a-z0-9]+)+)[`*\"']*\s*(?:[—–:-]|$)",
    re.IGNORECASE | re.MULTILINE,
)


def attempted_calls(answer: str, calls: Sequence[Call], tool_ids: Iterable[str]) -> tuple[Call, ...]:
    """Calls to no tool that the parser left out: an unknown name is still a call, never an abstention."""
    ids = {t.lower() for t in tool_ids}
    seen = {(c.raw_name or c.name).lower() for c in calls} | ids
    out: list[Call] = []
    for match in _ATTEMPT.finditer(answer):
        name = match.group(1) or match.group(2)
        if name.lower() not in seen:
            seen.add(name.lower())
            out.append(Call(name="", arguments="", form="function" if match.group(1) else "bare", raw_name=name))
    return tuple(out)


@dataclass(frozen=True)
class TaskScore:
    """What an answer's calls did to a case: the verdict, its parts, and what ran."""

    task_success: float | None  # None: the case has no `expect:`
    tool_names_ok: bool
    arguments_ok: bool | None  # None: no expected tool was called
    abstained: bool | None  # None: the case expects a call
    executed: tuple[ExecutedCall, ...] = ()
    state_diff: tuple[str, ...] = ()
    unmet: tuple[str, ...] = ()


def state_before(case: Case, tool_ids: Iterable[str]) -> State:
    """The state the case's answer acts on: its setup, then the calls of its history's answers."""
    state = State.from_setup(case.setup)
    ids = tuple(tool_ids)
    for turn in case.history:
        if turn.role == "assistant":
            state = execute(parse_calls(turn.content, ids), state).after
    return state


def _covered(keys: Iterable[str]) -> frozenset[str]:
    covered = set(keys)
    for key in list(covered):
        covered |= COVERS.get(key, frozenset())
    return frozenset(covered)


def _changed(before: State, after: State) -> list[str]:
    return [f.name for f in fields(State) if getattr(before, f.name) != getattr(after, f.name)]


def _shown(value: object) -> str:
    return json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value


def state_diff(before: State, after: State) -> tuple[str, ...]:
    """One line per changed field: ``volume: 50 -> 60``; lists show what was added and removed."""
    old, new = before.to_dict(), after.to_dict()
    lines = []
    for name in _changed(before, after):
        a, b = old[name], new[name]
        if isinstance(a, list) and isinstance(b, list):
            added = [x for x in b if x not in a]
            removed = [x for x in a if x not in b]
            parts = [f"+{_shown(x)}" for x in added] + [f"-{_shown(x)}" for x in removed]
            lines.append(f"{name}: {' '.join(parts) or f'{len(a)} -> {len(b)}'}")
        else:
            lines.append(f"{name}: {_shown(a)} -> {_shown(b)}")
    return tuple(lines)


def _executed(run: Execution) -> tuple[ExecutedCall, ...]:
    out = []
    for r in run.results:
        args = r.call.arguments
        text = args if isinstance(args, str) else json.dumps(args, ensure_ascii=False, sort_keys=True)
        out.append(
            ExecutedCall(
                name=r.call.raw_name or r.call.name or "?",
                arguments=text,
                ok=r.ok,
                result=r.result if r.ok else r.error,
                error_kind=r.error_kind,
            )
        )
    return tuple(out)


def judge_calls(
    calls: Sequence[Call], case: Case, tool_ids: Iterable[str], recited: bool = False, answer: str = ""
) -> TaskScore:
    """Run ``calls`` (an answer's, parsed) for ``case``; ``recited``: the answer recites the tool list.

    ``answer``, when given, adds the calls to unknown names the parser left out (``attempted_calls``).
    """
    ids = tuple(tool_ids)
    if answer:
        calls = (*calls, *attempted_calls(strip_think(answer), calls, ids))
    expected = set(case.expected_tools)
    attempted = tuple(calls)
    # A recital of the tool list names every tool and asks for none; one of the instructions names
    # none. Neither runs anything; only the first fails to abstain.
    names_tools = recited and any(t in answer for t in ids)
    abstained = (not attempted and not names_tools) if case.expects_nothing else None
    calls = () if recited else attempted
    exact = {c.name for c in calls if c.name and not c.malformed}
    names_ok = not names_tools and exact == expected and all(c.name and not c.malformed for c in calls)
    before = state_before(case, ids)
    run = execute(calls, before)
    on_expected = [r for r in run.results if r.call.name in expected and not r.call.malformed]
    arguments_ok = all(r.error_kind not in ARGUMENT_ERRORS for r in on_expected) if on_expected else None
    diff = state_diff(before, run.after)
    executed = _executed(run)
    if case.expect is None:
        return TaskScore(None, names_ok, arguments_ok, abstained, executed, diff)
    spec = parse_expect(case.expect)
    if spec.nothing:
        names = ", ".join(c.raw_name or c.name or "?" for c in attempted)
        unmet: tuple[str, ...] = (f"expected no call, got {len(attempted)}: {names}",) if attempted else ()
        if names_tools:
            unmet += ("expected no call, the answer recites the tool list",)
        return TaskScore(1.0 if abstained else 0.0, names_ok, arguments_ok, abstained, executed, diff, unmet)
    if recited:
        return TaskScore(0.0, False, None, abstained, executed, diff, ("the answer recites the system prompt",))
    unmet_parts = list(check_expect(spec, before, run.after, run).unmet)
    side = [name for name in _changed(before, run.after) if name not in _covered(k for k, _ in spec.parts)]
    unmet_parts += [f"{name}: changed, but the request did not ask for it" for name in side]
    return TaskScore(0.0 if unmet_parts else 1.0, names_ok, arguments_ok, abstained, executed, diff, tuple(unmet_parts))


def judge(answer: str, case: Case, tools: Suite | Sequence[Tool]) -> TaskScore:
    """Judge one answer to ``case`` by what its calls do (the calls and flags relevance reads)."""
    registry = tools.tools if isinstance(tools, Suite) else tuple(tools)
    analysis = analyse(answer, case.prompt, case.expected_tools, registry)
    return judge_calls(analysis.calls, case, (t.id for t in registry), recited=analysis.recited, answer=answer)
