"""Charts and tables drawn once per run, and kept on disk by what they show: a cached re-run draws nothing.

The 2x2 chart at 300 DPI, the HTML page's SVGs and the CSV need matplotlib and pandas: seconds
of imports and drawing for every report written. A run whose results are those of an earlier run
(a cached re-run, ``jarvis-evals report`` on the same file) reads the bytes back instead.

An entry's key is a sha256 of what went into it: the output's name and format, the code that
draws it (the source of the whole ``evals`` package, a few milliseconds to read), the versions of
matplotlib, numpy and pandas, and the data shown. For a chart that is the whole results record less the few fields that describe how the run
went rather than what it found (``RUN_FIELDS``: the time it started, its timings, how many answers
came from the cache), which no chart draws (``tests/test_reports.py`` checks it); for a table, its
rows. Change anything drawn and the key changes, so a stale picture is never served.

Entries are written atomically; one that cannot be read is drawn again; the folder keeps the
``KEEP`` entries used last. A folder that cannot be written only costs the drawing, never the run.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import re
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.records import RunResults

if TYPE_CHECKING:
    from matplotlib.figure import Figure

# Metadata of how a run went, not of what it found: a cached re-run differs from its cold run only here.
RUN_FIELDS = (
    "timestamp",
    "device",
    "n_generate_calls",
    "n_cached_answers",
    "n_fresh_answers",
    "n_new_tokens",
    "generation_seconds",
    "load_seconds",
)
KEEP = 64  # entries kept: a few runs' charts, SVGs and tables
_PACKAGE = Path(__file__).resolve().parent.parent  # evals/


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "none"


def _digest(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def _code() -> str:
    """The drawing code and libraries: every module of ``evals`` (a chart reads helpers from many) and their versions."""
    digest = hashlib.sha256()
    for path in sorted(_PACKAGE.rglob("*.py")):
        digest.update(path.relative_to(_PACKAGE).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return _digest(digest.hexdigest(), *(_version(p) for p in ("matplotlib", "numpy", "pandas")))


def inline_svg(figure: Figure, label: str) -> str:
    """Return a figure as an inline ``<svg>`` element: text drawn as paths, no prolog, no URL."""
    import matplotlib

    buf = io.BytesIO()
    # Glyphs as paths: the chart looks the same whatever fonts the reader has. A fixed salt
    # keeps the element ids, and so the page, a function of the results.
    with matplotlib.rc_context({"svg.fonttype": "path", "svg.hashsalt": "jarvis-evals"}):
        figure.savefig(buf, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buf.getvalue().decode("utf-8")
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.DOTALL)  # the text of each label, already drawn
    # An <svg> inside HTML needs no namespace declarations; dropping them leaves the page URL-free.
    svg = re.sub(r'\s+xmlns(:xlink)?="[^"]*"', "", svg)
    return re.sub(
        r'<svg\s+width="[^"]*"\s+height="[^"]*"',
        f'<svg role="img" aria-label="{label}"',
        svg,
        count=1,
    ).strip()


def drawn_data(results: RunResults) -> dict[str, Any]:
    """The results as charts see them: the whole record less ``RUN_FIELDS``."""
    data = results.to_dict()
    data["metadata"] = {k: v for k, v in data["metadata"].items() if k not in RUN_FIELDS}
    return data


class Renderer:
    """Draws a run's figures (each built once, for the PNG and the SVG alike) and tables, through a folder of kept outputs.

    ``folder`` None keeps nothing: every output is drawn (still once per figure).
    """

    def __init__(self, results: RunResults, folder: Path | None = None) -> None:
        self.results = results
        self.folder = folder
        self._figures: dict[str, Figure] = {}
        self._code = _code() if folder else ""
        self._data = _digest(drawn_data(results)) if folder else ""
        self.drawn: list[str] = []  # what this renderer had to draw (for the tests and speed.py)

    def figure(self, name: str, build: Callable[[], Figure]) -> Figure:
        if name not in self._figures:
            self._figures[name] = build()
        return self._figures[name]

    def png(self, name: str, build: Callable[[], Figure], dpi: float | None = None) -> bytes:
        """The figure ``name`` as PNG bytes, with no 'Software' chunk: they depend only on what is drawn."""

        def draw() -> bytes:
            buffer = io.BytesIO()
            self.figure(name, build).savefig(buffer, dpi=dpi or "figure", format="png", metadata={"Software": None})
            return buffer.getvalue()

        return self._kept(f"{name}.png", (dpi, self._data), draw)

    def svg(self, name: str, build: Callable[[], Figure], label: str) -> str:
        """The figure ``name`` as an inline ``<svg>`` element for the HTML page."""

        def draw() -> bytes:
            return inline_svg(self.figure(name, build), label).encode("utf-8")

        return self._kept(f"{name}.svg", (label, self._data), draw).decode("utf-8")

    def table(self, name: str, columns: list[str], rows: list[dict[str, object]], write: Callable[[], str]) -> bytes:
        """A CSV written by ``write`` (pandas), kept by its columns and rows."""
        return self._kept(f"{name}.csv", (columns, rows), lambda: write().encode("utf-8"))

    def _kept(self, name: str, inputs: tuple[object, ...], draw: Callable[[], bytes]) -> bytes:
        if self.folder is None:
            self.drawn.append(name)
            return draw()
        key = _digest(name, self._code, *inputs)
        path = self.folder / f"{key}-{name}"
        with contextlib.suppress(OSError):
            data = path.read_bytes()
            if data:
                os.utime(path)  # used: kept longer
                return data
        self.drawn.append(name)
        data = draw()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:  # a folder that cannot be written costs the drawing, not the run
            self.folder.mkdir(parents=True, exist_ok=True)
            tmp.write_bytes(data)
            os.replace(tmp, path)
            self._prune()
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
        return data

    def _prune(self) -> None:
        assert self.folder is not None
        entries = [p for p in self.folder.iterdir() if not p.name.startswith(".")]
        if len(entries) <= KEEP:
            return
        entries.sort(key=lambda p: p.stat().st_mtime_ns, reverse=True)
        for old in entries[KEEP:]:
            with contextlib.suppress(OSError):
                old.unlink()
