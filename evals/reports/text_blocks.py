"""The building blocks of the text reports: framed titles, aligned fields, wrapped lines, tables.

Shared by the run report (``text``, ``text_sections``) and the comparison of two runs
(``compare``); every line fits ``WIDTH`` columns unless a word alone is longer.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Sequence

WIDTH = 100
_SUB = "-" * WIDTH


def section_title(text: str) -> list[str]:
    """Return a section heading framed by rules."""
    return [_SUB, text, _SUB]


def field_lines(pairs: Iterable[tuple[str, str]], indent: int = 2) -> list[str]:
    """Return aligned 'key : value' lines, long values wrapped under their start."""
    pairs = list(pairs)
    width = max((len(k) for k, _ in pairs), default=0)
    out: list[str] = []
    for key, value in pairs:
        out += wrap_lines(str(value), indent=indent, first=f"{key:<{width}} : ")
    return out


def wrap_lines(text: str, *, indent: int, first: str = "") -> list[str]:
    """Wrap text at WIDTH; continuation lines line up under the text after ``first``."""
    prefix = " " * indent
    return textwrap.wrap(
        text,
        width=WIDTH,
        initial_indent=prefix + first,
        subsequent_indent=prefix + " " * len(first),
        break_long_words=False,  # a path or a tool id stays whole, even past the margin
        break_on_hyphens=False,
    ) or [(prefix + first).rstrip()]


def table_lines(headers: Sequence[str], rows: Sequence[Sequence[str]], align: str) -> list[str]:
    """Return an aligned text table; ``align`` has one 'l' or 'r' per column."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        parts = [c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, align, strict=True)]
        return ("  " + "  ".join(parts)).rstrip()

    return [line(headers), "  " + "  ".join("-" * w for w in widths)] + [line(r) for r in rows]
