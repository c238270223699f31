"""The run history: one JSON line per full run, appended, so relevance can be followed across commits.

Every results file is replaced by the next run; the history keeps one small record of each:
when, which commit and branch, which model and adapter, the suite and metric versions, the
scores overall and per category, the gate's status and whether the run was blessed. Partial and
quick runs are not recorded (a 3-case smoke check is no point on a trend).

Appends are safe between processes: each record is one ``write`` of one line to a file opened
with ``O_APPEND``, under an exclusive ``flock``, so two runs finishing at once never interleave.
A line that cannot be read (a kill mid-write, a hand edit) is skipped, and counted, not fatal.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evals.errors import JarvisError
from evals.records import RunResults

HISTORY_VERSION = 1
DEFAULT_HISTORY = "history.jsonl"  # in the reports folder


@dataclass(frozen=True)
class HistoryRecord:
    """One full run as the history keeps it."""

    time: str
    relevance: float
    relevance_base: float
    by_category: Mapping[str, float]
    suite: str
    metric_version: str
    model: str
    model_fingerprint: str = ""
    adapter: str = ""
    commit: str = ""
    branch: str = ""
    valid_call: float | None = None
    gate: str = ""
    blessed: bool = False
    n_cases: int = 0
    version: int = HISTORY_VERSION
    extra: Mapping[str, Any] = field(default_factory=dict)  # keys written by a later version, kept as read

    @property
    def label(self) -> str:
        """A short name for the run: its commit, else its time."""
        return self.commit[:8] if self.commit else self.time[:16]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["by_category"] = dict(self.by_category)
        extra = out.pop("extra")
        return {**extra, **out}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> HistoryRecord:
        known = {f for f in cls.__dataclass_fields__ if f != "extra"}
        if not isinstance(data.get("by_category"), Mapping):
            raise ValueError("'by_category' must be an object")
        for key in ("relevance", "relevance_base"):
            if isinstance(data.get(key), bool) or not isinstance(data.get(key), (int, float)):
                raise ValueError(f"'{key}' must be a number")
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["by_category"] = {str(k): float(v) for k, v in data["by_category"].items()}
        return cls(**kwargs, extra={k: v for k, v in data.items() if k not in known})


def git_revision(cwd: Path | None = None) -> tuple[str, str]:
    """Return (commit, branch) of the repository around ``cwd``; empty strings outside one."""

    def git(*args: str) -> str:
        try:
            done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=5, check=False)  # noqa: S603
        except (OSError, subprocess.SubprocessError):
            return ""
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "HEAD")
    branch = git("rev-parse", "--abbrev-ref", "HEAD") if commit else ""
    return commit, "" if branch == "HEAD" else branch  # a detached HEAD has no branch


def record_of(results: RunResults, blessed: bool = False, cwd: Path | None = None) -> HistoryRecord:
    """Summarize a full run as one history record."""
    meta, overall = results.metadata, results.summary().overall
    commit, branch = git_revision(cwd)
    return HistoryRecord(
        time=meta.timestamp,
        relevance=overall.finetuned.relevance,
        relevance_base=overall.base.relevance,
        valid_call=overall.finetuned.valid_call,
        by_category={k: v.finetuned.relevance for k, v in results.summary().by_category.items()},
        suite=f"{meta.suite_name}@{meta.suite_version}",
        metric_version=meta.metric_version,
        model=meta.model,
        model_fingerprint=meta.model_fingerprint,
        adapter=meta.adapter,
        commit=commit,
        branch=branch,
        gate=results.gate.status if results.gate is not None else "",
        blessed=blessed,
        n_cases=overall.n_cases,
    )


@contextlib.contextmanager
def _locked_append(path: Path) -> Iterator[int]:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)  # the umask decides, as for any file
    try:
        try:
            import fcntl

            fcntl.flock(fd, fcntl.LOCK_EX)
        except ImportError:  # Windows: O_APPEND alone keeps one small write whole
            pass
        yield fd
    finally:
        os.close(fd)  # closing releases the lock


def append_history(path: str | Path, record: HistoryRecord) -> Path:
    """Append ``record`` as one line; raise a one-line ``JarvisError`` when the file can't be written."""
    path = Path(path)
    line = (json.dumps(record.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")
    try:
        with _locked_append(path) as fd:
            os.write(fd, line)
            os.fsync(fd)
    except OSError as exc:
        raise JarvisError(
            f"history {path} cannot be written ({exc.strerror or exc}): pass --jarvis-history with a writable file, "
            "or --jarvis-history=none"
        ) from None
    return path


@dataclass(frozen=True)
class History:
    """The records of a history file in file order, and how many lines could not be read."""

    records: tuple[HistoryRecord, ...]
    skipped: int = 0


def read_history(path: str | Path) -> History:
    """Read a history file; a missing file is empty, an unreadable line is skipped and counted."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return History(())
    except OSError as exc:
        raise JarvisError(f"history {path} cannot be read ({exc.strerror or exc}): pass a readable file") from None
    records: list[HistoryRecord] = []
    skipped = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            if not isinstance(data, dict):
                raise ValueError("not an object")
            records.append(HistoryRecord.from_dict(data))
        except (ValueError, TypeError, RecursionError):
            skipped += 1
    return History(tuple(records), skipped)


def categories_of(records: Sequence[HistoryRecord]) -> list[str]:
    """Return every category that appears in ``records``, in first-seen order."""
    return list(dict.fromkeys(c for r in records for c in r.by_category))
