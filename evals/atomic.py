"""Atomic file writes: a reader never sees a half-written report or baseline."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
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


def follow_umask(folder: Path) -> None:
    """Give a folder built under ``tempfile.mkdtemp`` (0700) and its files the modes the umask allows.

    mkdtemp and mkstemp make private folders and files on purpose (nothing is read half-written),
    but an adapter or a converted model renamed into place from there stays 0700/0600: a team that
    shares ``output/`` or the cache could not read it. Published, it follows the umask, as a plain
    ``mkdir`` or ``open`` would.
    """
    mask = _umask()
    for path in (folder, *folder.rglob("*")):
        if path.is_symlink():
            continue
        os.chmod(path, (0o777 if path.is_dir() else 0o666) & ~mask)


def _publish(tmp: str | Path, path: Path) -> None:
    """Give the temporary file normal permissions (mkstemp makes it 0600), then rename it."""
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to a temporary file beside ``path`` and rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".tmp", dir=path.parent)
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
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=path.suffix + ".tmp", dir=path.parent)
    os.close(fd)
    try:
        writer(Path(tmp))
        _publish(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# A report set is staged in a hidden folder of the reports folder, then renamed to a "commit"
# folder (one atomic rename: the commit point), then its files are moved into place. A kill
# before the commit leaves the old set whole; a kill after it leaves a commit folder that the
# next writer or reader (``recover_reports``) finishes moving, so no one reads a set half old
# and half new for longer than it takes to notice.
STAGING_PREFIX = ".reports-staging-"
COMMIT_PREFIX = ".reports-commit-"
# A temporary of a dead writer is removed once this old: a live writer on another machine (a
# shared folder) renames its temporaries within seconds, and its process id means nothing here.
STALE_AFTER_S = 60.0
# Any temporary this old is an orphan whoever wrote it (and names written before process ids were).
ORPHAN_AFTER_S = 24 * 3600.0
_LEGACY_PREFIXES = (".benchmark_", ".baseline", ".comparison")  # our temporaries before names had a pid
_OURS = re.compile(r"^\.(?:.+\.)?(\d+)-[^/]*\.tmp$|^\.reports-(?:staging|commit)-(\d+)-.+$")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True
    return True


def clean_stale(folder: Path) -> list[Path]:
    """Remove temporaries left by killed writers in ``folder`` (never a live writer's); return them.

    A temporary's name carries its writer's process id (``.benchmark_results.1234-x1y2.json.tmp``,
    ``.reports-staging-1234-x1y2``): it is stale when that process is gone and it is older than
    ``STALE_AFTER_S``, or whatever its name once it is older than ``ORPHAN_AFTER_S``.
    """
    removed: list[Path] = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        name = entry.name
        if not name.startswith(".") or name.startswith(COMMIT_PREFIX):  # commits are finished, never dropped
            continue
        match = _OURS.match(name)
        legacy = match is None and name.endswith(".tmp") and name.startswith(_LEGACY_PREFIXES)
        if match is None and not legacy:
            continue
        try:
            age = now - entry.lstat().st_mtime
        except OSError:
            continue
        pid = int(next(g for g in match.groups() if g)) if match else None
        if age < ORPHAN_AFTER_S and (pid is None or age < STALE_AFTER_S or _pid_alive(pid)):
            continue
        with contextlib.suppress(OSError):
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
            removed.append(entry)
    return removed


def recover_reports(folder: Path) -> None:
    """Finish moving a report set whose writer was killed after its commit point; drop stale temporaries."""
    try:
        # Oldest first: of two sets killed after their commits, the newer one must end up in place.
        commits = sorted((p for p in folder.glob(COMMIT_PREFIX + "*") if p.is_dir()), key=_mtime_then_name)
    except OSError:
        return
    for commit in commits:
        for staged in sorted(commit.iterdir()):
            with contextlib.suppress(FileNotFoundError):  # another process finishing the same commit
                os.replace(staged, folder / staged.name)
        with contextlib.suppress(OSError):
            commit.rmdir()
    clean_stale(folder)


def _mtime_then_name(path: Path) -> tuple[float, str]:
    try:
        return path.stat().st_mtime, path.name
    except OSError:
        return 0.0, path.name


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}.{os.getpid()}-"


def atomic_write_all(files: Mapping[Path, bytes | Callable[[Path], None]]) -> list[Path]:
    """Write several files of one folder as one set: all of them replace the old ones, or none does.

    A value is the file's bytes, or a writer that fills the temporary path it is given. Every file
    is written into a staging folder first; a failure there (a full disk, Ctrl-C, a kill) leaves
    the old set untouched. Then one rename commits the set and its files are moved into place;
    a kill during the moves is finished by the next writer or reader (``recover_reports``).
    """
    folders = {path.parent for path in files}
    if len(folders) != 1:
        raise ValueError("atomic_write_all writes the files of one folder")
    folder = folders.pop()
    folder.mkdir(parents=True, exist_ok=True)
    recover_reports(folder)
    for path in files:  # before anything is written: a folder where a report goes is the user's to move
        if path.is_dir() and not path.is_symlink():
            raise JarvisError(f"{path} is a folder where a report goes: move it away or pick another reports folder")
    staging = Path(tempfile.mkdtemp(prefix=f"{STAGING_PREFIX}{os.getpid()}-", dir=folder))
    try:
        for path, content in files.items():
            tmp = staging / path.name
            if callable(content):
                content(tmp)
            else:
                with open(tmp, "wb") as fh:
                    fh.write(content)
                    fh.flush()
                    os.fsync(fh.fileno())
            os.chmod(tmp, 0o666 & ~_umask())
        os.chmod(staging, 0o777 & ~_umask())
        commit = folder / (COMMIT_PREFIX + staging.name.removeprefix(STAGING_PREFIX))
        os.rename(staging, commit)  # the commit point
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    recover_reports(folder)  # moves this set's files into place
    return list(files)
