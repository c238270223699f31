"""Adapters to evaluate: their names, the ``--jarvis-adapter`` syntax, and which one is the newest.

``newest_adapter`` is the one definition of "newest" used everywhere (the plan's default
adapter and primary, ``jarvis-evals check`` and ``train``): the most recently written *file*
inside the folder, not the folder's own modification time. A folder's mtime changes only when
an entry is added, removed or renamed in it: retraining into the same folder (the weights file
rewritten in place) or copying a folder (``cp -r`` gives it a new mtime, its files keep theirs
with ``-p``) makes the folder date lie, while the weights' date says when they were written.
"""

from __future__ import annotations

import argparse
import glob
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from evals.models import ADAPTER_WEIGHTS
from evals.records import NAME_CHARS, RESERVED_NAMES, default_adapter_name  # noqa: F401 (default_adapter_name re-exported)


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter to evaluate: the name its arm, tests and reports use, and its folder."""

    name: str
    path: Path


def _natural_key(path: Path) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", str(path)) if part]


def parse_adapter_entry(entry: str, base: Path) -> list[AdapterSpec]:
    """Read one ``--jarvis-adapter`` value: ``PATH``, ``NAME=PATH`` or a glob of adapter folders."""
    name, sep, raw = entry.partition("=")
    if not sep:
        name, raw = "", entry
    name, raw = name.strip(), raw.strip()
    if name and (NAME_CHARS.search(name) or name in RESERVED_NAMES):
        raise argparse.ArgumentTypeError(
            f"adapter name {name!r} in {entry!r}: use letters, digits, '.', '_' or '-', and not 'base'"
        )
    if any(ch in raw for ch in "*?["):
        pattern = str(base / Path(raw).expanduser())
        # Numbers compare as numbers: checkpoint-500 after checkpoint-90 (training order), not before it.
        matches = sorted(
            (Path(p) for p in glob.glob(pattern) if (Path(p) / "adapter_config.json").is_file()), key=_natural_key
        )
        if not matches:
            raise argparse.ArgumentTypeError(f"no adapter folder (with adapter_config.json) matches {raw!r}")
        if name and len(matches) > 1:
            raise argparse.ArgumentTypeError(
                f"{entry!r} names {len(matches)} adapters {name!r}: drop NAME= to name each after its folder"
            )
        return [AdapterSpec(name or default_adapter_name(m), m) for m in matches]
    path = base / Path(raw).expanduser()
    return [AdapterSpec(name or default_adapter_name(path), path)]


def written_at(folder: Path) -> float:
    """When the newest file inside ``folder`` was written (0.0 when it cannot be read)."""
    try:
        return max(p.stat().st_mtime for p in folder.iterdir())
    except (OSError, ValueError):
        return 0.0


def newest_adapter(folders: Iterable[Path]) -> Path | None:
    """Return the most recently written folder (see the module's note), ties broken by path."""
    return max(folders, key=lambda p: (written_at(p), str(p)), default=None)


def complete_finals(output_dir: str | Path) -> list[Path]:
    """The complete ``*/final/`` adapter folders under ``output_dir`` (config and weights present).

    A folder left half-written by an interrupted save is skipped rather than picked and failing the run.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return []
    return [
        p
        for p in root.glob("*/final")
        if p.is_dir() and (p / "adapter_config.json").is_file() and any((p / w).is_file() for w in ADAPTER_WEIGHTS)
    ]


def find_latest_adapter(output_dir: str | Path) -> Path | None:
    """Return the newest complete ``*/final/`` folder under ``output_dir``, if any."""
    return newest_adapter(complete_finals(output_dir))
