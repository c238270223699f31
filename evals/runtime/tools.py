"""The suite's 20 tools: each one's argument schema and its effect on the state.

Schemas keep the suite's `parameters:` (evals/suites/jarvis.yaml) where it gives them and add
``additionalProperties: false``; the other tools get the optional arguments a voice assistant
would pass. Effects are deterministic: lookups (weather, status, scans, searches) return canned
text and count the lookup in the state, so an expectation can say that one ran.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any

from evals.runtime.schema import validate_schema
from evals.runtime.state import Message, Reminder, State, Timer, WeatherLookup
from evals.runtime.values import read_clock, read_duration

# One press of "plus fort" / "plus de luminosité": a tenth of the range, the usual OS key step.
DEFAULT_STEP = 10

Effect = Callable[[State, Mapping[str, Any]], tuple[State, str]]


class ToolError(Exception):
    """The call was well-formed but the tool cannot do it (nothing to close, unreadable duration)."""

    def __init__(self, text: str, kind: str = "tool_failed") -> None:
        super().__init__(text)
        self.kind = kind


@dataclass(frozen=True)
class ToolSpec:
    """A runnable tool: its id, its arguments' JSON schema and its effect on a state."""

    id: str
    description: str
    schema: Mapping[str, Any]
    apply: Effect

    def __post_init__(self) -> None:
        validate_schema(self.schema, where=f"tool {self.id}")


Registry = Mapping[str, ToolSpec]


def _object(properties: Mapping[str, Any] | None = None, required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": dict(properties or {}), "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def _text(description: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"type": "string", "minLength": 1}
    if description:
        out["description"] = description
    return out


_STEP = {"type": "integer", "minimum": 1, "maximum": 100, "description": f"how much to change, default {DEFAULT_STEP}"}
_LEVEL = {"type": "integer", "minimum": 0, "maximum": 100, "description": "the level to set, 0-100 (instead of step)"}
_LEVEL_SCHEMA = _object({"step": _STEP, "level": _LEVEL})


def _clamp(value: int) -> int:
    return max(0, min(100, value))


def _target(current: int, arguments: Mapping[str, Any], sign: int) -> int:
    """The new level: ``level`` as given, or the current one moved by ``step`` and clamped to 0-100."""
    if "step" in arguments and "level" in arguments:
        raise ToolError("give step or level, not both", kind="bad_value")
    if "level" in arguments:
        return int(arguments["level"])  # an explicit level is what the user asked, whichever tool says it
    return _clamp(current + sign * int(arguments.get("step", DEFAULT_STEP)))


def _volume(sign: int) -> Effect:
    def apply(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
        volume = _target(state.volume, arguments, sign)
        # Raising the volume unmutes, as OS volume keys do; lowering it leaves mute as it was.
        muted = False if sign > 0 else state.muted
        return replace(state, volume=volume, muted=muted), f"Volume à {volume} %."

    return apply


def _brightness(sign: int) -> Effect:
    def apply(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
        brightness = _target(state.brightness, arguments, sign)
        return replace(state, brightness=brightness), f"Luminosité à {brightness} %."

    return apply


def _mute(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    muted = bool(arguments.get("mute", True))
    return replace(state, muted=muted), "Son coupé." if muted else "Son rétabli."


def _open_app(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    app = str(arguments["app"]).strip()
    apps = state.apps_open if app in state.apps_open else (*state.apps_open, app)
    # Opening an open app brings its window to the front (the last window is the active one).
    windows = tuple(w for w in state.windows if w != app) + (app,)
    return replace(state, apps_open=apps, windows=windows), f"{app} est ouvert."


def _close_window(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    if not state.windows:
        raise ToolError("no window is open")
    *rest, active = state.windows
    # An app whose last window closes quits, as on Linux and Windows.
    apps = state.apps_open if active in rest else tuple(a for a in state.apps_open if a != active)
    return replace(state, windows=tuple(rest), apps_open=apps), f"Fenêtre {active} fermée."


def _screenshot(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    n = state.screenshots + 1
    return replace(state, screenshots=n), f"Capture enregistrée : capture-{n}.png."


def _lock(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    return replace(state, locked=True), "Écran verrouillé."


def _timer(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    duration = str(arguments["duration"]).strip()
    seconds = read_duration(duration)
    if seconds is None:
        raise ToolError(f"cannot read {duration!r} as a duration", kind="bad_value")
    return replace(state, timers=(*state.timers, Timer(duration, seconds))), f"Minuteur de {seconds} s lancé."


def _reminder(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    text, time = str(arguments["text"]).strip(), str(arguments["time"]).strip()
    # A time the runtime cannot read as a clock ("demain matin") is kept as said, with at = "".
    reminder = Reminder(text, time, read_clock(time) or "")
    return replace(state, reminders=(*state.reminders, reminder)), f"Rappel « {text} » à {time}."


def _message(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    message = Message(str(arguments["contact"]).strip(), str(arguments["text"]).strip())
    return replace(state, messages=(*state.messages, message)), f"Message envoyé à {message.contact}."


def _music_play(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    # Without a query, play resumes what was playing.
    query = str(arguments.get("query", state.music_query)).strip()
    return replace(state, music="playing", music_query=query), f"Lecture : {query or 'musique'}."


def _music_pause(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    if state.music == "stopped":
        raise ToolError("no music is playing")
    return replace(state, music="paused"), "Musique en pause."


def _weather(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    lookup = WeatherLookup(str(arguments["city"]).strip(), str(arguments.get("day", "")).strip())
    forecast = f"{lookup.day or 'Aujourd’hui'} à {lookup.city} : 21 °C, ensoleillé."
    return replace(state, weather_lookups=(*state.weather_lookups, lookup)), forecast


def _web_search(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    query = str(arguments["query"]).strip()
    return replace(state, web_searches=(*state.web_searches, query)), f"5 résultats pour « {query} »."


def _log_search(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    query = str(arguments["query"]).strip()
    return replace(state, log_searches=(*state.log_searches, query)), f"3 lignes de journal pour « {query} »."


def _cluster(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    return replace(state, cluster_checks=state.cluster_checks + 1), "Cluster : 3 nœuds sur 3 en ligne."


def _system(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    return replace(state, system_checks=state.system_checks + 1), "CPU 23 %, mémoire 41 %, disque 63 %."


def _mexc(state: State, arguments: Mapping[str, Any]) -> tuple[State, str]:
    return replace(state, mexc_scans=state.mexc_scans + 1), "MEXC : 2 opportunités (BTC/USDT, ETH/USDT)."


_QUERY = _object({"query": _text("what to look for")}, required=("query",))

_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec("volume_up", "Raise the system volume.", _LEVEL_SCHEMA, _volume(+1)),
    ToolSpec("volume_down", "Lower the system volume.", _LEVEL_SCHEMA, _volume(-1)),
    ToolSpec(
        "volume_mute",
        "Mute the sound.",
        _object({"mute": {"type": "boolean", "description": "false unmutes; default true"}}),
        _mute,
    ),
    ToolSpec(
        "open_app",
        "Open an application by name.",
        _object({"app": _text("the application to open")}, ("app",)),
        _open_app,
    ),
    ToolSpec("close_window", "Close the active window.", _object(), _close_window),
    ToolSpec("cluster_status", "Report the health of the compute cluster.", _object(), _cluster),
    ToolSpec("mexc_scan", "Scan the MEXC exchange for market opportunities.", _object(), _mexc),
    ToolSpec("log_search", "Search the system and application logs.", _QUERY, _log_search),
    ToolSpec("brightness_up", "Raise the screen brightness.", _LEVEL_SCHEMA, _brightness(+1)),
    ToolSpec("brightness_down", "Lower the screen brightness.", _LEVEL_SCHEMA, _brightness(-1)),
    ToolSpec("screenshot", "Capture the screen.", _object(), _screenshot),
    ToolSpec("lock_screen", "Lock the computer.", _object(), _lock),
    ToolSpec(
        "weather",
        "Give the weather forecast for a place and day.",
        _object({"city": _text(), "day": {"type": "string", "description": "e.g. demain"}}, ("city",)),
        _weather,
    ),
    ToolSpec(
        "timer_set",
        "Start a countdown timer.",
        _object({"duration": _text("e.g. 5 minutes")}, ("duration",)),
        _timer,
    ),
    ToolSpec(
        "music_play",
        "Play music.",
        _object({"query": {"type": "string", "description": "an artist, a playlist or a service"}}),
        _music_play,
    ),
    ToolSpec("music_pause", "Pause the music.", _object(), _music_pause),
    ToolSpec("web_search", "Search the web.", _QUERY, _web_search),
    ToolSpec(
        "send_message",
        "Send a text message to a contact.",
        _object({"contact": _text(), "text": _text()}, ("contact", "text")),
        _message,
    ),
    ToolSpec("system_status", "Report CPU, memory and disk load of this computer.", _object(), _system),
    ToolSpec(
        "reminder_create",
        "Create a reminder at a given time.",
        _object({"text": _text(), "time": _text("e.g. 18:00")}, ("text", "time")),
        _reminder,
    ),
)

REGISTRY: Registry = MappingProxyType({tool.id: tool for tool in _TOOLS})
