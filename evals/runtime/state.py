"""The JARVIS world a tool call acts on: a deterministic, immutable, in-memory state.

Immutable (frozen dataclasses holding tuples) so that every execution starts from the same
value and a tool returns a new state instead of editing a shared one: two answers to the same
case can never see each other's effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from evals.runtime.values import read_clock, read_duration

# The defaults a case starts from when its `setup:` says nothing: a mid-level mixer and screen.
DEFAULT_VOLUME = 50
DEFAULT_BRIGHTNESS = 50
MUSIC_STATES: tuple[str, ...] = ("stopped", "playing", "paused")


@dataclass(frozen=True)
class Timer:
    """A countdown as asked (``duration``) and as the runtime read it (``seconds``)."""

    duration: str
    seconds: int


@dataclass(frozen=True)
class Reminder:
    """A reminder; ``at`` is ``time`` read as HH:MM, "" when it is not a clock time ("demain")."""

    text: str
    time: str
    at: str = ""


@dataclass(frozen=True)
class Message:
    contact: str
    text: str


@dataclass(frozen=True)
class WeatherLookup:
    city: str
    day: str = ""


# The record type behind each field of tuples of records (for `setup:` and `expect:`).
RECORDS: dict[str, type] = {
    "timers": Timer,
    "reminders": Reminder,
    "messages": Message,
    "weather_lookups": WeatherLookup,
}


@dataclass(frozen=True)
class State:
    """Everything a JARVIS tool can change; each field is also a `setup:`/`expect:` key."""

    volume: int = DEFAULT_VOLUME  # 0-100
    muted: bool = False
    brightness: int = DEFAULT_BRIGHTNESS  # 0-100
    apps_open: tuple[str, ...] = ()
    windows: tuple[str, ...] = ()  # one entry per window, named by its app; the last one is active
    locked: bool = False
    screenshots: int = 0
    timers: tuple[Timer, ...] = ()
    reminders: tuple[Reminder, ...] = ()
    messages: tuple[Message, ...] = ()
    music: str = "stopped"  # one of MUSIC_STATES
    music_query: str = ""  # what music_play was last asked to play
    web_searches: tuple[str, ...] = ()
    log_searches: tuple[str, ...] = ()
    weather_lookups: tuple[WeatherLookup, ...] = ()
    cluster_checks: int = 0
    system_checks: int = 0
    mexc_scans: int = 0

    @classmethod
    def from_setup(cls, setup: Mapping[str, Any] | None) -> State:
        """Build the state a case starts from; a key or value the runtime cannot model is a ValueError."""
        if setup is None:
            return cls()
        if not isinstance(setup, Mapping):
            raise ValueError(f"setup: expected a mapping of state fields, got {type(setup).__name__}")
        values: dict[str, Any] = {}
        for key, value in setup.items():
            kind = FIELD_KINDS.get(str(key))
            if kind is None:
                raise ValueError(f"setup: unknown key {key!r} (known: {', '.join(FIELD_KINDS)})")
            values[str(key)] = _setup_value(str(key), kind, value)
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """The state as plain JSON-ready values (records as mappings), for reports and diffs."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in RECORDS:
                value = [{g.name: getattr(r, g.name) for g in fields(r)} for r in value]
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


# What each field holds; the setup reader and the expect grammar both dispatch on it.
#   level: an integer 0-100; count: an integer >= 0; flag: a boolean; choice: one of MUSIC_STATES;
#   text: a string; names: a tuple of strings; records: a tuple of RECORDS[field].
FIELD_KINDS: dict[str, str] = {
    "volume": "level",
    "muted": "flag",
    "brightness": "level",
    "apps_open": "names",
    "windows": "names",
    "locked": "flag",
    "screenshots": "count",
    "timers": "records",
    "reminders": "records",
    "messages": "records",
    "music": "choice",
    "music_query": "text",
    "web_searches": "names",
    "log_searches": "names",
    "weather_lookups": "records",
    "cluster_checks": "count",
    "system_checks": "count",
    "mexc_scans": "count",
}
assert set(FIELD_KINDS) == {f.name for f in fields(State)}, "FIELD_KINDS must name every State field"


def is_int(value: Any) -> bool:
    """True for an integer; bool is not one (Python's bool subclasses int, JSON's does not)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _setup_value(key: str, kind: str, value: Any) -> Any:
    if kind in ("level", "count"):
        high = 100 if kind == "level" else None
        if not is_int(value) or value < 0 or (high is not None and value > high):
            bounds = "0-100" if high else ">= 0"
            raise ValueError(f"setup: {key} must be an integer {bounds}, got {value!r}")
        return value
    if kind == "flag":
        if not isinstance(value, bool):
            raise ValueError(f"setup: {key} must be true or false, got {value!r}")
        return value
    if kind == "choice":
        if value not in MUSIC_STATES:
            raise ValueError(f"setup: {key} must be one of {', '.join(MUSIC_STATES)}, got {value!r}")
        return value
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"setup: {key} must be text, got {value!r}")
        return value
    if not isinstance(value, list | tuple):
        raise ValueError(f"setup: {key} must be a list, got {value!r}")
    if kind == "names":
        if not all(isinstance(v, str) for v in value):
            raise ValueError(f"setup: {key} must be a list of strings, got {value!r}")
        return tuple(value)
    return tuple(_setup_record(key, i, item) for i, item in enumerate(value))


def _setup_record(key: str, index: int, item: Any) -> Any:
    record = RECORDS[key]
    where = f"setup: {key}[{index}]"
    if not isinstance(item, Mapping):
        raise ValueError(f"{where} must be a mapping, got {item!r}")
    known = {f.name: f for f in fields(record)}
    for name, value in item.items():
        if name not in known:
            raise ValueError(f"{where}: unknown key {name!r} (known: {', '.join(known)})")
        wanted = int if known[name].type == "int" else str
        if not (is_int(value) if wanted is int else isinstance(value, str)):
            raise ValueError(f"{where}.{name} must be {'an integer' if wanted is int else 'text'}, got {value!r}")
    values = dict(item)
    # Derived fields are read as the tools read them, so a set-up record equals a created one.
    if record is Reminder and "at" not in values and isinstance(values.get("time"), str):
        values["at"] = read_clock(values["time"]) or ""
    if record is Timer and "seconds" not in values and isinstance(values.get("duration"), str):
        seconds = read_duration(values["duration"])
        if seconds is None:
            raise ValueError(f"{where}.duration: cannot read {values['duration']!r} as a duration")
        values["seconds"] = seconds
    try:
        return record(**values)
    except TypeError as exc:  # a required field left out
        raise ValueError(f"{where}: {exc}") from None
