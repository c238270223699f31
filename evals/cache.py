"""A generation cache that can't go stale: every answer is keyed by everything that shaped it.

An entry's key is the sha256 of a canonical JSON of the run's ``CacheContext`` (the backend's
identity: its kind, the model fingerprint, which covers the weights, config, tokenizer and
chat-template files, the quantization, package versions and device type; and the decoding
settings), the arm's identity (its adapter's fingerprint) and the prompt as data: the system
prompt and the request, not the rendered template, so a run whose answers are all cached
needs no tokenizer and imports neither torch nor transformers. Change any of them and the key
changes, so a stale answer is never served; nothing needs invalidating by hand.

Keys and fingerprints live in ``evals.fingerprints``. The store is one SQLite file in WAL mode, so two processes (two pytest runs, xdist workers) can
read and write it at once. It is opened on first use; a corrupt file (or one of another schema
version) is moved aside and rebuilt with a warning, and a file locked for longer than the timeout
only costs a warning and an uncached run, because a cache must never fail a benchmark run. Only
a location that can't be written is an error, since then every run would silently miss.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.errors import JarvisError
from evals.fingerprints import (  # noqa: F401 (re-exported: the cache's keys and fingerprints)
    ANSWER_NEUTRAL_SETTINGS,
    KEY_VERSION,
    NO_ADAPTER,
    CacheContext,
    _canonical,
    entry_key,
    fingerprint_adapter,
    fingerprint_model,
    fingerprint_model_v1,
)
from evals.models import cache_root

if TYPE_CHECKING:
    from evals.backends import Answer, Prompt

# 2: a JSON ``meta`` column (the truncation flag) beside each answer.
SCHEMA_VERSION = 2
CACHE_FILE = "generations.sqlite"
# SQLite's historical limit on bound parameters is 999; stay well below it.
_SQL_BATCH = 500
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_READONLY_CODES = {8, 14}  # SQLITE_READONLY, SQLITE_CANTOPEN


class CacheWarning(UserWarning):
    """The cache could not be used as is (corrupt, locked); the run goes on without it."""


# ---------------------------------------------------------------------------------------
# Store


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass(frozen=True)
class CachedAnswer:
    """One stored answer: its text, how many tokens were generated, and when (UTC, ISO 8601)."""

    text: str
    new_tokens: int
    created: str = field(default_factory=_now)
    truncated_prompt: bool = False
    # What the backend found while answering (e.g. "the chat template ignores `tools`"), kept with
    # the answer so that a run served from the cache reports exactly what the first run did.
    notices: tuple[str, ...] = ()


@dataclass(frozen=True)
class CacheStats:
    """What the cache file holds, and how this instance used it."""

    path: Path
    entries: int
    size_bytes: int
    hits: int
    misses: int
    writes: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "entries": self.entries,
            "size_bytes": self.size_bytes,
            "hits": self.hits,
            "misses": self.misses,
            "writes": self.writes,
        }


class _SchemaMismatch(sqlite3.DatabaseError):
    """The file was written with another schema version: as unusable to us as a corrupt one."""


def _code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)  # Python >= 3.11
    return code & 0xFF if isinstance(code, int) else None


def _is_corrupt(exc: BaseException) -> bool:
    if isinstance(exc, _SchemaMismatch):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    if _code(exc) in _CORRUPT_CODES:
        return True
    message = str(exc).lower()
    return "not a database" in message or "malformed" in message


def _is_unwritable(exc: BaseException) -> bool:
    if isinstance(exc, OSError):
        return True
    if _code(exc) in _READONLY_CODES:
        return True
    message = str(exc).lower()
    return "readonly" in message or "unable to open" in message or "read-only" in message


class GenerationCache:
    """Answers keyed by ``entry_key``, stored in one SQLite file shared by concurrent runs.

    Nothing touches the disk until the first call (``open()`` forces it, to fail early). A
    connection belongs to the thread and process that opened it: open one cache per process.
    """

    def __init__(self, path: str | Path | None = None, timeout: float = 30.0) -> None:
        self.path = Path(path).expanduser() if path is not None else cache_root() / CACHE_FILE
        self.timeout = timeout
        self._conn: sqlite3.Connection | None = None
        self._hits = self._misses = self._writes = 0

    # -- lifecycle ------------------------------------------------------------------

    def open(self) -> GenerationCache:
        """Open (creating or repairing) the file now; raise JarvisError when it can't be written."""
        self._run("open", lambda conn: None, None)
        return self

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> GenerationCache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _unwritable(self, exc: BaseException) -> JarvisError:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JarvisError(
            f"generation cache {self.path} cannot be written ({reason}): "
            "pass --jarvis-cache-dir with a writable folder, or --jarvis-no-cache"
        )

    def _connection(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        try:
            self._conn = self._connect()
        except sqlite3.DatabaseError as exc:
            if not _is_corrupt(exc):
                raise  # _run turns it into a JarvisError (unwritable) or a warning (locked)
            self._move_aside(exc)
            self._conn = self._connect()
        return self._conn

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise self._unwritable(exc) from None
        conn = None
        try:
            # isolation_level=None: we issue BEGIN IMMEDIATE ourselves, so a writer takes the lock
            # up front instead of failing to upgrade a read lock when another process writes.
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
            _set_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
            self._ensure_schema(conn)
            if conn.execute("PRAGMA quick_check").fetchone()[0] != "ok":
                raise sqlite3.DatabaseError("database disk image is malformed (quick_check)")
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        return conn

    def _ensure_schema(self, conn: sqlite3.Connection) -> None:
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = conn.execute("SELECT version FROM schema_version").fetchone()
            if row is None:
                conn.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row[0] == 1:
                # Version 1 keys can never match again (KEY_VERSION 2): drop them, add the column.
                conn.execute("DELETE FROM generations")
                conn.execute("ALTER TABLE generations ADD COLUMN meta TEXT NOT NULL DEFAULT '{}'")
                conn.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))
            elif row[0] != SCHEMA_VERSION:
                raise _SchemaMismatch(f"schema version {row[0]}, this jarvis-evals uses {SCHEMA_VERSION}")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS generations (key TEXT PRIMARY KEY, text TEXT NOT NULL,"
                " new_tokens INTEGER NOT NULL, created TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}')"
            )
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    def _move_aside(self, exc: BaseException) -> None:
        """Rename a corrupt (or other-schema) file and its WAL files so a fresh one can be built."""
        self.close()
        # Another process may have rebuilt it since we looked: only move it if it is still bad
        # (a file that is merely locked is healthy and must stay).
        try:
            self._connect().close()
            return
        except sqlite3.DatabaseError as again:
            if not _is_corrupt(again):
                raise
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{os.getpid()}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            try:
                os.replace(source, f"{aside}{suffix}")
            except FileNotFoundError:
                pass
            except OSError as err:
                raise self._unwritable(err) from None
        warnings.warn(
            f"generation cache {self.path} was unusable ({exc}); moved it to {aside.name} and started an empty one",
            CacheWarning,
            stacklevel=4,
        )

    def _run(self, action: str, op: Any, default: Any) -> Any:
        """Run ``op(conn)``; rebuild once on corruption; degrade to ``default`` when locked."""
        for attempt in (0, 1):
            try:
                return op(self._connection())
            except sqlite3.DatabaseError as exc:
                if _is_corrupt(exc) and attempt == 0:
                    self._move_aside(exc)
                    continue
                if _is_unwritable(exc) and not _is_corrupt(exc):
                    raise self._unwritable(exc) from None
                # Locked past the timeout, disk full...: the run goes on, just uncached.
                warnings.warn(f"generation cache {self.path}: could not {action} ({exc})", CacheWarning, stacklevel=3)
                return default
        return default

    # -- public API -----------------------------------------------------------------

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        """Return the cached answers among ``keys`` (missing keys are simply absent)."""
        wanted = list(dict.fromkeys(keys))
        if not wanted:
            return {}

        bad: dict[str, str] = {}

        def op(conn: sqlite3.Connection) -> dict[str, CachedAnswer]:
            found: dict[str, CachedAnswer] = {}
            for chunk in _chunks(wanted, _SQL_BATCH):
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, text, new_tokens, created, meta FROM generations WHERE key IN ({marks})", chunk
                )
                for key, *values in rows:
                    try:
                        found[key] = _answer_of_row(*values)
                    except ValueError as exc:
                        bad[key] = str(exc)
            return found

        found = self._run("read", op, {})
        if bad:
            self._drop(bad)
        self._hits += len(found)
        self._misses += len(wanted) - len(found)
        return found

    def _drop(self, bad: Mapping[str, str]) -> None:
        """Delete rows whose values are unusable (edited by hand, written by a broken tool), with one warning.

        SQLite checks neither types nor JSON, so a file it reads fine can hold a row no answer can
        be built from. Such a row is a miss: it is answered again and replaced, and the run goes on.
        """
        keys = list(bad)

        def op(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for chunk in _chunks(keys, _SQL_BATCH):
                    conn.execute(f"DELETE FROM generations WHERE key IN ({','.join('?' * len(chunk))})", chunk)
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            return len(keys)

        self._run("drop unusable rows", op, 0)
        warnings.warn(
            f"generation cache {self.path}: dropped {len(keys)} unusable row(s) ({next(iter(bad.values()))}): "
            "their answers are generated again",
            CacheWarning,
            stacklevel=3,
        )

    def put_many(self, items: Mapping[str, CachedAnswer]) -> None:
        """Store ``items`` in one transaction (all or nothing); an existing key is replaced."""
        rows = [(key, a.text, int(a.new_tokens), a.created, _meta(a)) for key, a in items.items()]
        if not rows:
            return

        def op(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(
                    "INSERT INTO generations (key, text, new_tokens, created, meta) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(key) DO UPDATE SET text=excluded.text, new_tokens=excluded.new_tokens, "
                    "created=excluded.created, meta=excluded.meta",
                    rows,
                )
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            return len(rows)

        self._writes += self._run("write", op, 0)

    def stats(self) -> CacheStats:
        """Return the number of entries, the file size and this instance's hits, misses and writes."""
        entries = self._run("count", lambda c: c.execute("SELECT COUNT(*) FROM generations").fetchone()[0], 0)
        size = sum(Path(f"{self.path}{s}").stat().st_size for s in ("", "-wal") if Path(f"{self.path}{s}").exists())
        return CacheStats(self.path, int(entries), size, self._hits, self._misses, self._writes)

    def clear(self) -> int:
        """Delete every entry; return how many there were."""

        def op(conn: sqlite3.Connection) -> int:
            conn.execute("BEGIN IMMEDIATE")
            try:
                removed = conn.execute("DELETE FROM generations").rowcount
                conn.execute("COMMIT")
            except BaseException:
                _rollback(conn)
                raise
            conn.execute("VACUUM")  # give the space back; outside the transaction by necessity
            return removed

        return int(self._run("clear", op, 0))


def _meta(answer: CachedAnswer) -> str:
    meta: dict[str, Any] = {"truncated_prompt": answer.truncated_prompt}
    if answer.notices:  # absent when empty: rows written before notices existed read back the same
        meta["notices"] = list(answer.notices)
    return _canonical(meta)


def _answer_of_row(text: Any, new_tokens: Any, created: Any, meta: Any) -> CachedAnswer:
    """Build an answer from a row's values, or raise ``ValueError`` saying which value is unusable."""
    if not isinstance(text, str):
        raise ValueError(f"text is {type(text).__name__}, not text")
    if isinstance(new_tokens, bool) or not isinstance(new_tokens, int) or new_tokens < 0:
        raise ValueError(f"new_tokens is {new_tokens!r}, not a count")
    if not isinstance(created, str):
        raise ValueError(f"created is {type(created).__name__}, not a date")
    try:
        extra = json.loads(meta or "{}") if isinstance(meta, str) else None
    except (ValueError, RecursionError):
        extra = None
    if not isinstance(extra, dict) or not isinstance(extra.get("truncated_prompt", False), bool):
        raise ValueError("meta is not the JSON object this jarvis-evals writes")
    notices = extra.get("notices", [])
    if not isinstance(notices, list) or not all(isinstance(n, str) for n in notices):
        raise ValueError("meta notices are not a list of text")
    return CachedAnswer(
        text=text,
        new_tokens=new_tokens,
        created=created,
        truncated_prompt=extra.get("truncated_prompt", False),
        notices=tuple(notices),
    )


def _rollback(conn: sqlite3.Connection) -> None:
    """Roll back if a transaction is open; a failed rollback must not hide the original error."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")


def _set_wal(conn: sqlite3.Connection, attempts: int = 8) -> None:
    """Switch to WAL; retried because two processes creating the file at once can get
    "database is locked" immediately (the journal-mode switch does not wait on the busy timeout)."""
    for attempt in range(attempts):
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or attempt == attempts - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


# ---------------------------------------------------------------------------------------
# One run's view of the cache


@dataclass
class AnswerCache:
    """Keys and stores one run's answers under its context; each arm is keyed by its own identity."""

    store: GenerationCache
    context: CacheContext

    def keys(self, arm_identity: str, prompts: Sequence[Prompt]) -> list[str]:
        return [entry_key(self.context, arm_identity, p.system, p.user, p.tools, p.history, p.sample) for p in prompts]

    def get(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        return self.store.get_many(list(keys))

    def put(self, answers: Mapping[str, Answer]) -> None:
        self.store.put_many(
            {
                k: CachedAnswer(
                    text=a.text, new_tokens=a.new_tokens, truncated_prompt=a.truncated_prompt, notices=a.notices
                )
                for k, a in answers.items()
            }
        )
