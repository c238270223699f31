"""The one guarded JSON reader for files from outside (results, baselines): bounded size, depth and numbers.

``json.loads`` alone lets a hostile or damaged file crash the reader with something other than a
``ValueError`` a caller expects: 100,000 nested brackets raise ``RecursionError``, a 5,000-digit
integer raises Python's int-conversion ``ValueError`` (not a ``JSONDecodeError``), and ``NaN``,
``Infinity`` or ``1e999`` read back as floats that no score can be. Every such input becomes one
``UnsafeJson`` (a ``ValueError``) whose message says what is wrong, for the caller to put in its
one-line error naming the file.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

# A results file of 30 cases and a dozen adapters is well under a megabyte; 64 MiB leaves room
# for large suites while refusing to read a multi-gigabyte file into memory.
MAX_JSON_BYTES = 64 << 20
# Our documents nest about 6 levels deep; Python's own recursion limit (1000) is the crash to avoid.
MAX_JSON_DEPTH = 64
# Counts and token numbers fit in 20 digits; far longer integers are never data we wrote.
MAX_INT_DIGITS = 30

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


class UnsafeJson(ValueError):
    """JSON that is malformed or outside the limits; the message says which, in a few words."""


class MalformedJson(UnsafeJson):
    """Not JSON at all (often a truncated file); the message is ``line L, column C: what``."""


def _depth(text: str) -> int:
    """Return the deepest bracket nesting of ``text``, brackets inside strings excluded."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_JSON_DEPTH:  # stop early: the answer is already "too deep"
                return deepest
        else:
            depth -= 1
    return deepest


def _int(token: str) -> int:
    if len(token.lstrip("-")) > MAX_INT_DIGITS:
        raise UnsafeJson(f"an integer of {len(token.lstrip('-'))} digits (at most {MAX_INT_DIGITS})")
    return int(token)


def _float(token: str) -> float:
    value = float(token)
    if not math.isfinite(value):
        raise UnsafeJson(f"the number {token[:20]} is out of range")
    return value


def _constant(token: str) -> Any:
    raise UnsafeJson(f"{token} is not a number JSON allows")


def loads_guarded(text: str) -> Any:
    """Parse ``text`` as strict JSON within the limits above; raise ``UnsafeJson`` saying why not."""
    if len(text) > MAX_JSON_BYTES:
        raise UnsafeJson(f"{len(text)} characters, more than the {MAX_JSON_BYTES >> 20} MiB a results file can be")
    if _depth(text) > MAX_JSON_DEPTH:
        raise UnsafeJson(f"nested more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise MalformedJson(f"line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # unreachable after the depth check; kept so no input can escape as one
        raise UnsafeJson(f"nested more than {MAX_JSON_DEPTH} levels deep") from None


class JsonFileError(ValueError):
    """A JSON file that could not be read: ``kind`` says why (for the caller's one line), ``detail`` in words."""

    def __init__(self, kind: str, detail: str = "") -> None:
        super().__init__(detail or kind)
        self.kind = kind  # missing, folder, too_large, not_utf8, unreadable, malformed, unsafe
        self.detail = detail


def read_json_file(path: Path) -> Any:
    """Read one JSON document from ``path`` within the limits above; ``JsonFileError`` says why not.

    The one reader of results and baselines: each caller turns the error into its own line,
    naming the file and the fix.
    """
    try:
        if path.is_file() and path.stat().st_size > MAX_JSON_BYTES:  # never read gigabytes into memory
            raise JsonFileError("too_large", f"larger than {MAX_JSON_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise JsonFileError("missing") from None
    except IsADirectoryError:
        raise JsonFileError("folder") from None
    except UnicodeDecodeError:
        raise JsonFileError("not_utf8", "not UTF-8 text") from None
    except OSError as exc:
        raise JsonFileError("unreadable", exc.strerror or str(exc).splitlines()[0] or type(exc).__name__) from None
    try:
        return loads_guarded(text)
    except MalformedJson as exc:
        raise JsonFileError("malformed", str(exc)) from None
    except UnsafeJson as exc:
        raise JsonFileError("unsafe", str(exc)) from None
