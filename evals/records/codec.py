"""One codec for every record: frozen dataclasses to JSON values and back, checked against their types.

``encode`` writes every field, in declaration order. ``decode`` builds a record from JSON and
checks each value against the field's annotation, so a ``null`` model name or a text where a
count goes fails at the file, naming the field, not deep in a renderer. A field may carry
``metadata={"range": (low, high)}`` for numbers that must stay in bounds (a score in [0, 1]).
Keys a later version added are ignored; a missing field takes its default, else it is an error.
Files of earlier formats are brought to this shape first, in one place (``records.migrate``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, TypeVar

T = TypeVar("T")


def encode(value: Any) -> Any:
    """Return ``value`` (a record, or a tree of them) as plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value) if f.init}
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (tuple, list)):
        return [encode(v) for v in value]
    return value


def decode(cls: type[T], data: Any, where: str = "") -> T:
    """Build a ``cls`` record from JSON values; ``ValueError`` names the first field that is wrong."""
    return typing.cast(T, _decode(cls, data, where, None))


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _decode(hint: Any, value: Any, where: str, bounds: tuple[float, float] | None) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors: list[ValueError] = []
        for option in options:
            try:
                return _decode(option, value, where, bounds)
            except ValueError as exc:
                errors.append(exc)
        raise errors[0]
    if origin is typing.Literal:
        if value not in args:
            raise ValueError(f"'{where}' must be one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if hint is type(None):
        if value is not None:
            raise ValueError(f"'{where}' must be null, got {_shown(value)}")
        return None
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"'{where}' must be true or false, got {_shown(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"'{where}' must be a whole number, got {_shown(value)}")
        if bounds is not None and not bounds[0] <= value <= bounds[1]:
            raise ValueError(f"'{where}' must be from {bounds[0]:g} to {bounds[1]:g}, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"'{where}' must be a number, got {_shown(value)}")
        if bounds is not None and not bounds[0] - 1e-9 <= value <= bounds[1] + 1e-9:  # float rounding
            raise ValueError(f"'{where}' must be a number from {bounds[0]:g} to {bounds[1]:g}, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"'{where}' must be text, got {_shown(value)}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"'{where}' must be a list, got {_shown(value)}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v, f"{where}[{i}]", bounds) for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"'{where}' must have {len(args)} items, got {len(value)}")
        return tuple(_decode(a, v, f"{where}[{i}]", bounds) for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin in (dict, Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            raise ValueError(f"'{where}' must be an object, got {_shown(value)}")
        key_hint, item_hint = args or (str, Any)
        return {
            _decode(key_hint, k, f"{where} key", None): _decode(item_hint, v, f"{where}.{k}", bounds)
            for k, v in value.items()
        }
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        if not isinstance(value, Mapping):
            raise ValueError(f"'{where}' must be an object, got {_shown(value)}" if where else "not a JSON object")
        hints = _hints(hint)
        kwargs: dict[str, Any] = {}
        for f in dataclasses.fields(hint):
            if not f.init:
                continue
            path = f"{where}.{f.name}" if where else f.name
            if f.name in value:
                kwargs[f.name] = _decode(hints[f.name], value[f.name], path, f.metadata.get("range"))
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ValueError(f"'{path}' is missing")
        return hint(**kwargs)
    raise TypeError(f"the codec cannot read a {hint!r} ({where})")  # a record this module does not know: a bug


def _shown(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def score(low: float = 0.0, high: float = 1.0) -> Any:
    """A field of a number that must stay in ``[low, high]``, checked on read."""
    return dataclasses.field(metadata={"range": (low, high)})


def count(default: int | None = None) -> Any:
    """A field of a whole number >= 0, checked on read (``default`` when absent)."""
    if default is None:
        return dataclasses.field(metadata={"range": (0, math.inf)})
    return dataclasses.field(default=default, metadata={"range": (0, math.inf)})
