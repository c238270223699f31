"""A strict validator for the subset of JSON Schema the JARVIS tools use (no third-party dependency).

Supported: an ``object`` with ``properties``, ``required`` and ``additionalProperties`` (false
when absent: an argument the tool does not take is an error, as in BFCL), and properties of type
``string``, ``integer``, ``number`` or ``boolean`` with ``enum``, ``minimum``, ``maximum`` and
``minLength``. ``validate_schema`` refuses any other keyword, so a tool can never be silently
under-checked.

Types are strict: "30" is not an integer and 1 is not a boolean. The one liberty is JSON Schema's
own: a number with no fractional part (30.0) is an integer, and is passed on as 30.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from evals.runtime.state import is_int

_OBJECT_KEYS = frozenset({"type", "properties", "required", "additionalProperties", "description"})
_PROPERTY_KEYS = frozenset({"type", "description", "enum", "minimum", "maximum", "minLength", "default"})
_TYPES = ("string", "integer", "number", "boolean")


@dataclass(frozen=True)
class Problem:
    """One reason a call's arguments are refused; ``kind`` is one of execute.ERROR_KINDS."""

    kind: str
    text: str


def validate_schema(schema: Mapping[str, Any], where: str = "schema") -> None:
    """Raise ValueError (naming the key) when the schema uses what ``check_arguments`` cannot check."""
    if schema.get("type") != "object":
        raise ValueError(f"{where}: type must be 'object'")
    if unknown := set(schema) - _OBJECT_KEYS:
        raise ValueError(f"{where}: unsupported keyword {sorted(unknown)[0]!r}")
    properties = schema.get("properties", {})
    if not isinstance(properties, Mapping):
        raise ValueError(f"{where}: properties must be a mapping")
    for name, prop in properties.items():
        if not isinstance(prop, Mapping):
            raise ValueError(f"{where}.properties.{name}: must be a mapping")
        if unknown := set(prop) - _PROPERTY_KEYS:
            raise ValueError(f"{where}.properties.{name}: unsupported keyword {sorted(unknown)[0]!r}")
        if prop.get("type") not in _TYPES:
            raise ValueError(f"{where}.properties.{name}: type must be one of {', '.join(_TYPES)}")
    for name in schema.get("required", []):
        if name not in properties:
            raise ValueError(f"{where}.required: {name!r} is not a property")


def required_arguments(schema: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(schema.get("required", ()))


def check_arguments(schema: Mapping[str, Any], arguments: Mapping[str, Any]) -> tuple[dict[str, Any], list[Problem]]:
    """Return the arguments as the tool receives them and every problem with them (none: valid)."""
    properties: Mapping[str, Any] = schema.get("properties", {})
    problems: list[Problem] = []
    if not schema.get("additionalProperties", False):
        for key in arguments:
            if key not in properties:
                expected = ", ".join(properties) or "none"
                problems.append(Problem("unexpected_argument", f"unexpected argument {key!r} (takes: {expected})"))
    for key in required_arguments(schema):
        if key not in arguments:
            problems.append(Problem("missing_argument", f"missing required argument {key!r}"))
    out: dict[str, Any] = {}
    for key, value in arguments.items():
        if key not in properties:
            continue
        checked, problem = _check_value(key, properties[key], value)
        if problem is not None:
            problems.append(problem)
        out[key] = checked
    return out, problems


def _check_value(key: str, prop: Mapping[str, Any], value: Any) -> tuple[Any, Problem | None]:
    kind = prop["type"]
    if kind == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)  # JSON Schema's rule, not a coercion: 30.0 is the integer 30
    ok = {
        "string": isinstance(value, str),
        "integer": is_int(value),
        "number": is_int(value) or isinstance(value, float),
        "boolean": isinstance(value, bool),
    }[kind]
    if not ok:
        return value, Problem("bad_type", f"argument {key!r} must be {_article(kind)}, got {_describe(value)}")
    if "enum" in prop and value not in prop["enum"]:
        return value, Problem("bad_value", f"argument {key!r} must be one of {list(prop['enum'])}, got {value!r}")
    if "minimum" in prop and value < prop["minimum"]:
        return value, Problem("bad_value", f"argument {key!r} must be >= {prop['minimum']}, got {value!r}")
    if "maximum" in prop and value > prop["maximum"]:
        return value, Problem("bad_value", f"argument {key!r} must be <= {prop['maximum']}, got {value!r}")
    if "minLength" in prop and len(value.strip()) < prop["minLength"]:
        return value, Problem("bad_value", f"argument {key!r} must not be empty")
    return value, None


def _article(kind: str) -> str:
    return "an integer" if kind == "integer" else f"a {kind}"


def _describe(value: Any) -> str:
    """The JSON type of a value and the value: "the string '30'", "null"."""
    if value is None:
        return "null"
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array", dict: "object"}
    return f"the {names.get(type(value), type(value).__name__)} {value!r}"
