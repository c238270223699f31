"""Progress bars that stay out of pytest's way and turn into a few plain lines in CI logs."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, TextIO


def interactive(stream: TextIO | None = None) -> bool:
    """True when a person watches a terminal (not CI, not a pipe)."""
    stream = stream or sys.stderr
    if os.environ.get("CI") or os.environ.get("JARVIS_EVALS_NO_PROGRESS"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


class _PlainBar:
    """A tqdm stand-in for logs: prints at start, roughly every 25 %, and at the end."""

    def __init__(self, total: int | None, desc: str, unit: str, stream: TextIO) -> None:
        self.total, self.desc, self.unit, self.stream = total, desc, unit, stream
        self.n = 0
        self.postfix = ""
        self._next = 0.25
        self._start = time.perf_counter()
        self._write(f"{desc}: started" + (f" ({total} {unit})" if total else ""))

    def _write(self, line: str) -> None:
        print(f"[jarvis] {line}", file=self.stream, flush=True)

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.total and self.n / self.total >= self._next and self.n < self.total:
            self._write(f"{self.desc}: {self.n}/{self.total} {self.unit}{self.postfix}")
            while self._next <= self.n / self.total:
                self._next += 0.25

    def set_postfix_str(self, text: str, refresh: bool = True) -> None:
        self.postfix = f" ({text})" if text else ""

    def close(self, interrupted: bool = False) -> None:
        elapsed = time.perf_counter() - self._start
        done = f"{self.n}/{self.total} {self.unit}" if self.total else f"{self.n} {self.unit}"
        how = "interrupted after" if interrupted else "done,"
        self._write(f"{self.desc}: {how} {done} in {elapsed:.1f}s{self.postfix}")


@contextmanager
def progress(total: int | None, desc: str, unit: str = "it", stream: TextIO | None = None) -> Iterator[Any]:
    """Yield a tqdm bar on a terminal (stderr, left behind on exit), plain lines otherwise."""
    stream = stream or sys.stderr
    if interactive(stream):
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc=desc, unit=unit, file=stream, leave=False, dynamic_ncols=True)
    else:
        bar = _PlainBar(total, desc, unit, stream)
    try:
        yield bar
    except BaseException:  # Ctrl-C, an error: the log must not say "done"
        if isinstance(bar, _PlainBar):
            bar.close(interrupted=True)
        else:
            bar.close()
        raise
    bar.close()
