"""A case's `expect:`: the state change its answer's calls must make, parsed up front and checked after.

Grammar (a YAML mapping of State fields, or the word ``nothing``):

- levels and counts (volume, brightness, screenshots, *_checks, mexc_scans): ``30`` (absolute),
  ``"+10"`` / ``"-10"`` or ``{by: 10}`` (change from the setup), ``{min: 20, max: 40}``,
  ``{any_of: [20, 30]}``. YAML reads an unquoted ``+10`` as the integer 10: quote it or use ``by``;
  a negative absolute level is refused for that reason.
- flags (muted, locked): ``true`` / ``false``.
- texts (music, music_query): ``chrome`` (equal), ``{any_of: [...]}``, ``{contains: crêpes}``.
  Strings compare case-insensitively with accents folded.
- lists (apps_open, windows, web_searches, log_searches, and the records timers, reminders,
  messages, weather_lookups): a list of items that must be present afterwards (each by a
  different element; a record item is a subset of fields, each a text or number matcher), or a
  mapping ``{includes: [...], excludes: [...], count: <level spec>}``.
- ``nothing``: no call at all; a malformed or failing call is not an abstention.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from evals.runtime.execute import Execution
from evals.runtime.state import FIELD_KINDS, MUSIC_STATES, RECORDS, State, is_int
from evals.runtime.values import fold

_RELATIVE = re.compile(r"^[+-]\d+$")


@dataclass(frozen=True)
class NumberSpec:
    """``mode``: absolute (value), relative (value is the change), range (low..high), any_of (values)."""

    mode: str
    value: int = 0
    low: int | None = None
    high: int | None = None
    values: tuple[int, ...] = ()

    def wanted(self, before: int) -> str:
        if self.mode == "relative":
            return f"{self.value:+d} from {before} ({before + self.value})"
        if self.mode == "range":
            return f"between {'-inf' if self.low is None else self.low} and {'inf' if self.high is None else self.high}"
        if self.mode == "any_of":
            return f"one of {list(self.values)}"
        return str(self.value)

    def matches(self, before: int, after: int) -> bool:
        if self.mode == "relative":
            return after == before + self.value
        if self.mode == "range":
            return (self.low is None or after >= self.low) and (self.high is None or after <= self.high)
        if self.mode == "any_of":
            return after in self.values
        return after == self.value


@dataclass(frozen=True)
class TextSpec:
    """``mode``: equals or any_of (a folded value in ``values``), contains (``values[0]`` inside)."""

    mode: str
    values: tuple[str, ...]

    def matches(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        if self.mode == "contains":
            return self.values[0] in fold(value)
        return fold(value) in self.values

    def wanted(self) -> str:
        if self.mode == "contains":
            return f"containing {self.values[0]!r}"
        return repr(self.values[0]) if self.mode == "equals" else f"one of {list(self.values)}"


@dataclass(frozen=True)
class FlagSpec:
    value: bool


@dataclass(frozen=True)
class RecordSpec:
    """A record that has these fields (a subset of its fields) matching."""

    fields: tuple[tuple[str, TextSpec | NumberSpec], ...]

    def matches(self, record: Any) -> bool:
        for name, spec in self.fields:
            value = getattr(record, name)
            if not (spec.matches(value, value) if isinstance(spec, NumberSpec) else spec.matches(value)):
                return False
        return True

    def wanted(self) -> str:
        parts = (f"{n}: {s.wanted(0) if isinstance(s, NumberSpec) else s.wanted()}" for n, s in self.fields)
        return "{" + ", ".join(parts) + "}"


Item = TextSpec | RecordSpec


@dataclass(frozen=True)
class CollectionSpec:
    includes: tuple[Item, ...] = ()
    excludes: tuple[Item, ...] = ()
    count: NumberSpec | None = None


Spec = NumberSpec | TextSpec | FlagSpec | CollectionSpec


@dataclass(frozen=True)
class Expect:
    """A parsed `expect:`: ``nothing`` (no call may run), or the ``parts`` the state must meet."""

    nothing: bool = False
    parts: tuple[tuple[str, Spec], ...] = ()


@dataclass(frozen=True)
class ExpectResult:
    ok: bool
    unmet: tuple[str, ...] = ()  # one line per unmet part


# -- parsing ------------------------------------------------------------------------------------


def parse_expect(spec: Any) -> Expect:
    """Read and validate an `expect:` value; a ValueError names the key it cannot accept."""
    if isinstance(spec, Expect):
        return spec
    if isinstance(spec, str) and spec.strip() == "nothing":
        return Expect(nothing=True)
    if not isinstance(spec, Mapping):
        raise ValueError(f"expect: must be a mapping of state fields or 'nothing', got {spec!r}")
    if not spec:
        raise ValueError("expect: is empty; write 'nothing' or name at least one state field")
    parts: list[tuple[str, Spec]] = []
    for key, value in spec.items():
        kind = FIELD_KINDS.get(str(key))
        if kind is None:
            raise ValueError(f"expect: unknown key {key!r} (known: {', '.join(FIELD_KINDS)})")
        parts.append((str(key), _parse_field(f"expect: {key}", str(key), kind, value)))
    return Expect(parts=tuple(parts))


def _parse_field(where: str, key: str, kind: str, value: Any) -> Spec:
    if kind in ("level", "count"):
        return _parse_number(where, value, high=100 if kind == "level" else None, relative=True)
    if kind == "flag":
        if not isinstance(value, bool):
            raise ValueError(f"{where}: expected true or false, got {value!r}")
        return FlagSpec(value)
    if kind in ("text", "choice"):
        text = _parse_text(where, value)
        if kind == "choice" and (text.mode == "contains" or not set(text.values) <= set(MUSIC_STATES)):
            raise ValueError(f"{where}: expected one of {', '.join(MUSIC_STATES)} (or any_of them), got {value!r}")
        return text
    return _parse_collection(where, key, kind, value)


def _parse_number(where: str, value: Any, high: int | None, relative: bool) -> NumberSpec:
    bounds = f"0-{high}" if high is not None else ">= 0"
    if isinstance(value, str) and _RELATIVE.match(value.strip()) and relative:
        return NumberSpec("relative", int(value))
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if is_int(value):
        if value < 0:
            raise ValueError(
                f"{where}: {value} is not a level; for a change write '{value}' (quoted) or {{by: {value}}}"
            )
        if high is not None and value > high:
            raise ValueError(f"{where}: {value} is out of range {bounds}")
        return NumberSpec("absolute", value)
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{where}: expected a number, '+N'/'-N', {{by}}, {{min, max}} or {{any_of}}, got {value!r}")
    keys = set(value)
    if unknown := keys - {"by", "min", "max", "any_of"}:
        raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: by, min, max, any_of)")
    if len([k for k in ("by", "any_of") if k in keys]) + bool(keys & {"min", "max"}) > 1:
        raise ValueError(f"{where}: use one of by, any_of or min/max")
    if "by" in value:
        if not relative:
            raise ValueError(f"{where}.by: a record field has no before value to change from")
        if not is_int(value["by"]):
            raise ValueError(f"{where}.by: expected an integer, got {value['by']!r}")
        return NumberSpec("relative", value["by"])
    if "any_of" in value:
        values = value["any_of"]
        if not isinstance(values, list) or not values or not all(is_int(v) for v in values):
            raise ValueError(f"{where}.any_of: expected a non-empty list of integers, got {values!r}")
        return NumberSpec("any_of", values=tuple(values))
    low, top = value.get("min"), value.get("max")
    for name, bound in (("min", low), ("max", top)):
        if bound is not None and not is_int(bound):
            raise ValueError(f"{where}.{name}: expected an integer, got {bound!r}")
    if low is not None and top is not None and low > top:
        raise ValueError(f"{where}: min {low} is above max {top}")
    return NumberSpec("range", low=low, high=top)


def _parse_text(where: str, value: Any) -> TextSpec:
    if isinstance(value, str) and value.strip():
        return TextSpec("equals", (fold(value),))
    if isinstance(value, Mapping) and len(value) == 1:
        ((key, inner),) = value.items()
        if key == "any_of":
            if not isinstance(inner, list) or not inner or not all(isinstance(v, str) and v.strip() for v in inner):
                raise ValueError(f"{where}.any_of: expected a non-empty list of strings, got {inner!r}")
            return TextSpec("any_of", tuple(fold(v) for v in inner))
        if key == "contains":
            if not isinstance(inner, str) or not inner.strip():
                raise ValueError(f"{where}.contains: expected a non-empty string, got {inner!r}")
            return TextSpec("contains", (fold(inner),))
        raise ValueError(f"{where}: unknown key {key!r} (known: any_of, contains)")
    hint = " (YAML reads an unquoted 18:00 as 1080: quote times)" if is_int(value) else ""
    raise ValueError(f"{where}: expected a non-empty string, {{any_of}} or {{contains}}, got {value!r}{hint}")


def _parse_item(where: str, key: str, kind: str, value: Any) -> Item:
    if kind == "names":
        return _parse_text(where, value)
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{where}: expected a mapping of {key} fields, got {value!r}")
    known = {f.name: f for f in fields(RECORDS[key])}
    parsed: list[tuple[str, TextSpec | NumberSpec]] = []
    for name, inner in value.items():
        if name not in known:
            raise ValueError(f"{where}: unknown key {name!r} (known: {', '.join(known)})")
        if known[name].type == "int":
            parsed.append((name, _parse_number(f"{where}.{name}", inner, high=None, relative=False)))
        else:
            parsed.append((name, _parse_text(f"{where}.{name}", inner)))
    return RecordSpec(tuple(parsed))


def _parse_collection(where: str, key: str, kind: str, value: Any) -> CollectionSpec:
    if isinstance(value, list):
        value = {"includes": value}
    if not isinstance(value, Mapping) or not value:
        raise ValueError(f"{where}: expected a list of items or {{includes, excludes, count}}, got {value!r}")
    if unknown := set(value) - {"includes", "excludes", "count"}:
        raise ValueError(f"{where}: unknown key {sorted(unknown)[0]!r} (known: includes, excludes, count)")
    lists: dict[str, tuple[Item, ...]] = {}
    for name in ("includes", "excludes"):
        items = value.get(name, [])
        if not isinstance(items, list):
            raise ValueError(f"{where}.{name}: expected a list, got {items!r}")
        lists[name] = tuple(_parse_item(f"{where}.{name}[{i}]", key, kind, v) for i, v in enumerate(items))
    count = _parse_number(f"{where}.count", value["count"], high=None, relative=True) if "count" in value else None
    return CollectionSpec(lists["includes"], lists["excludes"], count)


# -- checking -----------------------------------------------------------------------------------


def check_expect(
    expect: Expect | Mapping[str, Any] | str,
    before: State,
    after: State,
    execution: Execution,
    allow_errors: bool = False,
) -> ExpectResult:
    """Check the state change and the calls against ``expect``; every unmet part gets one line.

    A failed call fails the expectation unless ``allow_errors``: a runtime would have answered
    the model with an error, which is not what the case asks for.
    """
    parsed = parse_expect(expect)
    unmet: list[str] = []
    if parsed.nothing:
        if execution.results:
            names = ", ".join(r.call.raw_name or r.call.name or "?" for r in execution.results)
            unmet.append(f"expected no call, got {len(execution.results)}: {names}")
        if after != before:
            unmet.append("expected the state unchanged")
        return ExpectResult(not unmet, tuple(unmet))
    if not allow_errors:
        for i, result in enumerate(execution.results, 1):
            if not result.ok:
                unmet.append(f"call {i} {result.call.raw_name or result.call.name or '?'}: {result.error}")
    for key, spec in parsed.parts:
        unmet += _check_part(key, spec, getattr(before, key), getattr(after, key))
    return ExpectResult(not unmet, tuple(unmet))


def _check_part(key: str, spec: Spec, before: Any, after: Any) -> list[str]:
    if isinstance(spec, NumberSpec):
        return [] if spec.matches(before, after) else [f"{key}: expected {spec.wanted(before)}, got {after}"]
    if isinstance(spec, FlagSpec):
        return [] if after == spec.value else [f"{key}: expected {str(spec.value).lower()}, got {str(after).lower()}"]
    if isinstance(spec, TextSpec):
        return [] if spec.matches(after) else [f"{key}: expected {spec.wanted()}, got {after!r}"]
    return _check_collection(key, spec, before, after)


def _describe(item: Any) -> str:
    if isinstance(item, str):
        return repr(item)
    return "{" + ", ".join(f"{f.name}: {getattr(item, f.name)!r}" for f in fields(item)) + "}"


def _check_collection(key: str, spec: CollectionSpec, before: Sequence[Any], after: Sequence[Any]) -> list[str]:
    unmet: list[str] = []
    have = "[" + ", ".join(_describe(a) for a in after) + "]"
    missing = [item for item in spec.includes if not any(item.matches(a) for a in after)]
    unmet += [f"{key}: nothing matches {item.wanted()} in {have}" for item in missing]
    if not missing and not _distinct(spec.includes, after):
        unmet.append(f"{key}: {len(spec.includes)} distinct items wanted, not all found in {have}")
    for item in spec.excludes:
        if any(item.matches(a) for a in after):
            unmet.append(f"{key}: expected no {item.wanted()} in {have}")
    if spec.count is not None and not spec.count.matches(len(before), len(after)):
        unmet.append(f"{key}: expected a count {spec.count.wanted(len(before))}, got {len(after)}")
    return unmet


def _distinct(items: Sequence[Item], elements: Sequence[Any], used: frozenset[int] = frozenset()) -> bool:
    """True when each item matches a different element (a small backtracking search)."""
    if not items:
        return True
    first, rest = items[0], items[1:]
    return any(
        j not in used and first.matches(e) and _distinct(rest, elements, used | {j}) for j, e in enumerate(elements)
    )
