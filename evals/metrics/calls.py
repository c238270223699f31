"""The call parser: the tool calls of an answer, read as a runtime would, and what a spelling designates.

rapidfuzz (the edit distance of ``resolve_id``) is imported on first use.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from evals.backends.prompting import strip_think
from evals.metrics.text import APOSTROPHES, SENTENCE_END
from evals.records import Call, CallForm

# -- tool ids and their misspellings ------------------------------------------------------------

# An id-like token: letters, digits, "_" or "-", not glued to other word characters.
ID_TOKEN = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9](?![\w-])")
MIN_TYPO_LENGTH = 5


@dataclass(frozen=True)
class Designation:
    """What a spelling designates: a tool id, and whether it took an edit to get there."""

    tool: str
    malformed: bool


def resolve_id(token: str, tool_ids: Iterable[str]) -> Designation | None:
    """Return the tool a spelling designates, or None.

    The same rule for every spelling, case-insensitive: the exact id designates its tool; a
    token of 5+ characters (letters, digits, "_", "-") within one edit (insertion, deletion,
    substitution or transposition of adjacent characters) of exactly one id designates it,
    malformed; within one edit of several ids, or farther from all, it designates nothing.
    "volume-up", "volumeup", "volum_up", "volume_upp" -> volume_up; "volume" -> None.
    """
    from rapidfuzz.distance import OSA

    lower = token.strip().lower()
    ids = sorted(set(tool_ids))
    for tool_id in ids:
        if lower == tool_id.lower():
            return Designation(tool_id, malformed=False)
    if len(lower) < MIN_TYPO_LENGTH or not re.fullmatch(r"[a-z0-9_-]+", lower):
        return None
    close = [t for t in ids if OSA.distance(lower, t.lower(), score_cutoff=1) <= 1]
    return Designation(close[0], malformed=True) if len(close) == 1 else None


# -- calls ---------------------------------------------------------------------------------------

_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z]*")
_FUNCTION = re.compile(r"(?<![\w-])([A-Za-z][A-Za-z0-9_-]*)\(")
_NAME_KEYS = ("name", "tool", "tool_name", "function", "function_name", "action")
_ARGUMENT_KEYS = ("arguments", "args", "parameters", "params", "input")
# What may precede or separate the bare ids of a leading plan: markup, bullets, numbers, "et"/"and".
LEAD_SKIP = re.compile(r"(?:[\s*`'\"«»>#•\-–—,;+&/]|\d+[.)](?!\w)|\b(?:et|and|puis|then)\b)+", re.IGNORECASE)


@dataclass(frozen=True)
class Found:
    """A call or a mention with where it starts in the answer."""

    tool: str
    start: int
    malformed: bool = False
    call: Call | None = None


def blank(chars: list[str], start: int, end: int) -> None:
    """Space out ``chars[start:end]`` so it is read once; line breaks stay, so sentences and offsets do too."""
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _closing_paren(text: str, start: int) -> int:
    """Return the index of the ")" closing the "(" before ``start`` (quotes respected), or len(text)."""
    depth, quote = 1, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and (i == start or not text[i - 1].isalnum()):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _function_arguments(text: str) -> Any:
    """Parse ``key=value, key2="v"`` into a mapping; anything else stays text."""
    text = text.strip()
    if not text:
        return {}
    parts = re.findall(
        r'\s*([A-Za-z_]\w*)\s*=\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|\[[^\]]*\]|\{[^}]*\}|[^,]*)\s*(?:,|$)', text
    )
    rebuilt = ",".join(f"{k}={v}" for k, v in parts)
    if not parts or re.sub(r"\s", "", rebuilt) != re.sub(r"\s", "", text).rstrip(","):
        return text
    out: dict[str, Any] = {}
    for key, value in parts:
        value = value.strip()
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value.strip("'\"")
    return out


def _json_arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _calls_from_json(value: Any, tool_ids: Sequence[str], form: CallForm) -> list[Call] | None:
    """Return the calls a JSON value holds, or None when it is not call-shaped."""
    if isinstance(value, list):
        if not value:
            return None
        calls: list[Call] = []
        for item in value:
            if isinstance(item, str):
                designation = resolve_id(item, tool_ids)
                if designation is None:
                    return None
                calls.append(Call(designation.tool, {}, form, item, designation.malformed))
                continue
            inner = _calls_from_json(item, tool_ids, form)
            if inner is None:
                return None
            calls += inner
        return calls
    if not isinstance(value, dict):
        return None
    for key in ("tool_calls", "function_call"):
        if key in value:
            return _calls_from_json(value[key], tool_ids, form)
    for key in _NAME_KEYS:
        if key not in value:
            continue
        named = value[key]
        arguments: Any = None
        if isinstance(named, dict):  # OpenAI style: {"function": {"name": ..., "arguments": "..."}}
            inner = next((named[k] for k in _NAME_KEYS if isinstance(named.get(k), str)), None)
            if inner is None:
                return None
            arguments = next((named[k] for k in _ARGUMENT_KEYS if k in named), None)
            named = inner
        if not isinstance(named, str):
            return None
        if arguments is None:
            arguments = next((value[k] for k in _ARGUMENT_KEYS if k in value), None)
        if arguments is None:
            arguments = {k: v for k, v in value.items() if k != key}
        designation = resolve_id(named, tool_ids)
        if designation is None:
            return [Call("", _json_arguments(arguments), form, named, False)]
        return [Call(designation.tool, _json_arguments(arguments), form, named, designation.malformed)]
    return None


def _json_calls(chars: list[str], tool_ids: Sequence[str], form: CallForm, found: list[Found], offset: int = 0) -> None:
    """Find call-shaped JSON values in the text, record their calls and blank them."""
    text = "".join(chars)
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):
        if text[i] not in "{[":
            i += 1
            continue
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        calls = _calls_from_json(value, tool_ids, form)
        if calls is not None:
            found += [Found(c.name, offset + i, c.malformed, c) for c in calls]
            blank(chars, i, end)
        i = end


def _leading_ids(chars: list[str], tool_ids: Sequence[str], found: list[Found]) -> None:
    """Record the bare ids that open the answer or one of its sentences (a plan), and blank them."""
    starts = [0] + [m.end() for m in SENTENCE_END.finditer("".join(chars))]
    for start in starts:
        text = "".join(chars)  # ids taken from an earlier start are blanked: each is read once
        pos = start
        while True:
            skip = LEAD_SKIP.match(text, pos)
            pos = skip.end() if skip else pos
            token = ID_TOKEN.match(text, pos)
            if token is None:
                break
            designation = resolve_id(token.group(), tool_ids)
            if designation is None:
                break
            call = Call(designation.tool, "", "bare", token.group(), designation.malformed)
            found.append(Found(designation.tool, token.start(), designation.malformed, call))
            blank(chars, token.start(), token.end())
            pos = token.end()


def extract_calls(text: str, tool_ids: Sequence[str]) -> tuple[list[Found], str]:
    """Return the calls of an answer (with offsets) and its free text: the answer with the calls blanked."""
    chars = list(text)
    found: list[Found] = []
    for block in _TOOL_CALL_BLOCK.finditer(text):
        inner = list(_FENCE.sub(lambda m: " " * len(m.group()), block.group(1)))
        before = len(found)
        _json_calls(inner, tool_ids, "tool_call", found, offset=block.start())
        if len(found) == before:  # a block that holds no JSON: a bare id inside still is the call
            _leading_ids(inner, tool_ids, found)
            found[before:] = [
                Found(f.tool, block.start(), f.malformed, Call(f.tool, "", "tool_call", f.call.raw_name, f.malformed))
                for f in found[before:]
                if f.call is not None
            ]
        blank(chars, block.start(), block.end())
    for fence in _FENCE.finditer(text):
        blank(chars, fence.start(), fence.end())
    masked = "".join(chars)
    for match in _FUNCTION.finditer(masked):
        if chars[match.start()] == " ":  # already blanked by an earlier, enclosing call
            continue
        designation = resolve_id(match.group(1), tool_ids)
        if designation is None:
            continue
        close = _closing_paren(masked, match.end())
        arguments = _function_arguments(masked[match.end() : close])
        call = Call(designation.tool, arguments, "function", match.group(1), designation.malformed)
        found.append(Found(designation.tool, match.start(), designation.malformed, call))
        blank(chars, match.start(), min(close + 1, len(chars)))
    _json_calls(chars, tool_ids, "json", found)
    _leading_ids(chars, tool_ids, found)
    found.sort(key=lambda f: f.start)
    return found, "".join(chars)


def parse_calls(answer: str, tool_ids: Iterable[str]) -> tuple[Call, ...]:
    """Return the tool calls of an answer in the order they appear, as a runtime would read them.

    Forms: a bare id (or a plan of ids: ``volume_down, music_play — ...``) opening the answer or
    one of its sentences, after markdown, quotes and bullets; ``tool_id(args)``; a JSON object
    naming the tool by ``name``/``tool``/``function``/``action`` (or OpenAI's nested
    ``{"function": {"name", "arguments"}}``), a JSON array of them or of ids, ``{"tool_calls": [...]}``;
    ``<tool_call>...</tool_call>`` blocks; any of these inside code fences. Ids go through
    ``resolve_id``: a call whose name designates no tool has ``name == ""``.
    """
    ids = tuple(sorted(set(tool_ids)))
    found, _ = extract_calls(strip_think(answer).translate(APOSTROPHES), ids)
    return tuple(f.call for f in found if f.call is not None)
