"""Atomic file writes: a reader never sees a half-written report or baseline."""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from evals.errors import JarvisError


def check_file_target(path: Path, option: str) -> None:
    """Refuse, in one line, an output file path that names a folder (or whose parent is a file)."""
    if path.is_dir():
        raise JarvisError(f"{option} {path} is a folder: pass a file path, e.g. {path / 'out'}")
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise JarvisError(f"{option} {path}: {parent} is a file, not a folder; pass another path")
            break


def check_folder_target(path: Path, option: str) -> None:
    """Refuse, in one line, an output folder path that names an existing file."""
    for candidate in (path, *path.parents):
        if candidate.exists():
            if not candidate.is_dir():
                raise JarvisError(f"{option} {path}: {candidate} is a file, not a folder; pass a folder path")
            break


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _publish(tmp: str | Path, path: Path) -> None:
    """Give the temporary file normal permissions (mkstemp makes it 0600), then rename it."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        _publish(tmp, path)
    except BaseException:  # includes KeyboardInterrupt: never leave the temporary behind
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, data: Any) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def atomic_write_with(path: str | Path, writer: Callable[[Path], None]) -> Path:
    """Let ``writer`` fill a temporary path (e.g. matplotlib's savefig), then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_all(files: Mapping[Path, bytes | Callable[[Path], None]]) -> list[Path]:
    """Write several files all or nothing: every one to a temporary file first, then rename them all.

    A value is the file's bytes, or a writer that fills the temporary path it is given. If any
    write fails (a full disk, Ctrl-C), every temporary is removed and no file is replaced, so a
    reader never sees a mix of this run's reports and the previous run's. The renames at the end
    cannot run out of space.
    """
    staged: list[tuple[str, Path]] = []
    try:
        for path, content in files.items():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix + ".tmp", dir=path.parent)
            staged.append((tmp, path))
            if callable(content):
                os.close(fd)
                content(Path(tmp))
            else:
                with os.fdopen(fd, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
        for tmp, path in staged:
            _publish(tmp, path)
    except BaseException:
        for tmp, _ in staged:
            Path(tmp).unlink(missing_ok=True)
        raise
    return [path for _, path in staged]
