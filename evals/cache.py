"""A generation cache that can't go stale: every answer is keyed by everything that shaped it.

An entry's key is the sha256 of a canonical JSON of the run's ``CacheContext`` (the backend's
identity: its kind, the model fingerprint, which covers the weights, config, tokenizer and
chat-template files, the quantization, package versions and device type; and the decoding
settings), the arm's identity (its adapter's fingerprint) and the prompt as data: the system
prompt and the request, not the rendered template, so a run whose answers are all cached
needs no tokenizer and imports neither torch nor transformers. Change any of them and the key
changes, so a stale answer is never served; nothing needs invalidating by hand.

The store is one SQLite file in WAL mode, so two processes (two pytest runs, xdist workers) can
read and write it at once. It is opened on first use; a corrupt file (or one of another schema
version) is moved aside and rebuilt with a warning, and a file locked for longer than the timeout
only costs a warning and an uncached run, because a cache must never fail a benchmark run. Only
a location that can't be written is an error, since then every run would silently miss.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sqlite3
import time
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, cast

from evals.errors import JarvisError
from evals.models import cache_root, embedded_model_dir, inspect_adapter, is_embedded
from evals.records import GenerationSettings, encode

if TYPE_CHECKING:
    from evals.backends import Answer, Prompt

# 2: a JSON ``meta`` column (the truncation flag) beside each answer.
SCHEMA_VERSION = 2
# Bump when the key derivation changes, so old entries simply stop matching.
# 2: the prompt as data (system prompt + request) under the backend's identity.
KEY_VERSION = 2
NO_ADAPTER = "no-adapter"
CACHE_FILE = "generations.sqlite"
# Folders whose weights total more than this are fingerprinted by name, size and mtime_ns only:
# hashing a 60 GB checkpoint would take minutes on every run.
FULL_HASH_LIMIT = 1 << 30
# Decoding settings that do not change a greedy answer: with left padding and an attention mask
# each row is computed on its own, and tests/test_batching.py checks on the tiny Llama (fp32, CPU,
# base and LoRA arm) that batches of 1, 4 and 6 give identical token ids. On CUDA in bf16 a kernel
# may reduce in another order for another batch shape and flip a near-tie; that answer is still
# one the model gives under these settings, like GPU run-to-run noise, so the batch size stays out
# and a re-run with another batch size still hits. ``template`` (chat template or plain)
# follows from the tokenizer files, which the model fingerprint covers. Every other setting is
# part of the key, so a setting added later is keyed by default.
ANSWER_NEUTRAL_SETTINGS = frozenset({"batch_size", "template"})

# Files that shape what a model folder answers besides its weights: config, decoding defaults,
# tokenizer, chat templates and remote code (trust_remote_code runs the *.py files).
_MODEL_METADATA_GLOBS = (
    "config.json",
    "generation_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.*",
    "merges.txt",
    "*.model",
    "chat_template*",
    "additional_chat_templates/*",
    "*.index.json",
    "*.py",
)
_MODEL_WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin", "*.gguf")
_CHUNK = 1 << 20
# SQLite's historical limit on bound parameters is 999; stay well below it.
_SQL_BATCH = 500
_CORRUPT_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB
_READONLY_CODES = {8, 14}  # SQLITE_READONLY, SQLITE_CANTOPEN


class CacheWarning(UserWarning):
    """The cache could not be used as is (corrupt, locked); the run goes on without it."""


# ---------------------------------------------------------------------------------------
# Fingerprints


def _sha256_file(path: Path, digest: Any) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    _sha256_file(path, digest)
    return digest.hexdigest()


def _matching(folder: Path, patterns: Iterable[str]) -> list[Path]:
    found = {p for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Keys that library releases write into JSON model files without changing a single answer:
# a fingerprint that hashed them broke every baseline on a transformers minor release.
_METADATA_KEYS = frozenset({"transformers_version", "_name_or_path", "_commit_hash", "_attn_implementation_autoset"})
# Keys one release renamed: the same setting must give the same fingerprint under either name.
_RENAMED_KEYS = {"torch_dtype": "dtype"}
# 2: JSON files hashed as canonical data without library metadata (1 hashed their bytes).
FINGERPRINT_SCHEME = 2


def _json_file_digest(path: Path) -> str:
    """Hash a JSON model file as data: what changes the computation, not how a release wrote it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _file_digest(path)  # not JSON after all: its bytes are what a loader would read
    if isinstance(data, dict):
        data = {_RENAMED_KEYS.get(k, k): v for k, v in data.items() if k not in _METADATA_KEYS}
        if isinstance(data.get("architectures"), list):  # the list's order is not read by any loader
            data["architectures"] = sorted(map(str, data["architectures"]))
    return _sha256_text(_canonical(data))


def fingerprint_model(model: str) -> str:
    """Return a string that changes whenever the model would answer differently, and only then.

    A local folder: the sha256 of its weights files (``*.safetensors``, ``pytorch_model*.bin``,
    ``*.gguf``), tokenizer files, chat templates, ``generation_config.json``, ``config.json``,
    shard index and remote-code files. JSON files are hashed as canonical data without the
    metadata a library release writes (``transformers_version``, ``_name_or_path``...;
    ``_METADATA_KEYS``), so re-saving the same model under another transformers keeps its
    fingerprint. When the weights total at most ``FULL_HASH_LIMIT`` (1 GiB) their full contents
    are hashed (about a second); above that each weights file contributes only its name, size
    and ``st_mtime_ns``, because hashing a large checkpoint would take minutes on every run.
    Result: ``dir2:<sha256>`` (``dir:`` was scheme 1, see ``fingerprint_model_v1``).

    A single file (a GGUF) is fingerprinted as a one-file folder.

    A hub id: the id plus the commit the local Hugging Face cache resolves ``main`` to, found
    offline with ``huggingface_hub.try_to_load_from_cache`` (``hub:<id>@<commit>``). When the
    model is not in the cache yet (or huggingface_hub is missing) it is the id alone
    (``hub:<id>``): the hub may then serve a newer commit under the same key, so compute the
    fingerprint after the model has been loaded, once the download has pinned a commit.
    """
    return _fingerprint(model, scheme=FINGERPRINT_SCHEME)


def fingerprint_model_v1(model: str | None) -> str:
    """Return the scheme-1 fingerprint (JSON files by their bytes), to read baselines blessed with it.

    Scheme 1 fingerprinted the embedded model by its converted folder, so ``embedded`` means that folder.
    """
    return _fingerprint(str(embedded_model_dir()) if is_embedded(model) else str(model), scheme=1)


def _fingerprint(model: str, scheme: int) -> str:
    path = Path(model).expanduser()
    if path.is_file():
        weights, meta, root = [path], [], path.parent
    elif path.is_dir():
        weights, meta, root = _matching(path, _MODEL_WEIGHT_GLOBS), _matching(path, _MODEL_METADATA_GLOBS), path
    else:
        commit = _hub_commit(model)
        return f"hub:{model}@{commit}" if commit else f"hub:{model}"

    def digest(p: Path) -> str:
        return _json_file_digest(p) if scheme >= 2 and p.suffix == ".json" else _file_digest(p)

    manifest: dict[str, Any] = {"files": {p.relative_to(root).as_posix(): digest(p) for p in meta}}
    stats = {p.relative_to(root).as_posix(): p.stat() for p in weights}
    total = sum(st.st_size for st in stats.values())
    if total <= FULL_HASH_LIMIT:
        manifest["weights"] = {name: _file_digest(root / name) for name in stats}
    else:
        manifest["weights_stat"] = {name: [st.st_size, st.st_mtime_ns] for name, st in stats.items()}
    prefix = "dir2:" if scheme >= 2 else "dir:"
    return prefix + _sha256_text(_canonical(manifest))


def _hub_commit(repo_id: str) -> str | None:
    """Return the commit the local HF cache holds for ``repo_id`` without touching the network."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # a malformed id or an old huggingface_hub: fall back to the id alone
        return None
    if not isinstance(found, str):  # None or the "known not to exist" sentinel
        return None
    # .../models--org--name/snapshots/<commit>/config.json
    return Path(found).parent.name or None


def fingerprint_adapter(path: str | Path | None) -> str:
    """Return ``no-adapter`` for None, else the sha256 of adapter_config.json and the weights.

    Contents are hashed, never sizes or dates: adapters are small, and retraining into the same
    folder often writes a weights file of exactly the same size. Result: ``adapter:<sha256>``.
    """
    if path is None:
        return NO_ADAPTER
    info = inspect_adapter(path)  # raises a one-line JarvisError for a missing or broken folder
    digest = hashlib.sha256()
    for part in (info.path / "adapter_config.json", info.weights):
        digest.update(part.name.encode("utf-8") + b"\0")
        _sha256_file(part, digest)
        digest.update(b"\0")
    return "adapter:" + digest.hexdigest()


# ---------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class CacheContext:
    """Everything a run's arms share that changes an answer; with the arm and the prompt, a key.

    ``backend`` is the backend's identity (``Backend.identity()``: model fingerprint,
    quantization, package versions, device type...). The adapter is deliberately not part of
    it: the base arm runs the same model with the adapter disabled, so its entries stay valid
    when an adapter is retrained. Pass the arm's identity to ``entry_key`` instead.

    ``generation`` is the decoding settings mapping (a ``GenerationSettings`` is fine):
    every key but those in ``ANSWER_NEUTRAL_SETTINGS`` is part of the key.
    """

    backend: Mapping[str, Any]
    generation: Mapping[str, Any] | GenerationSettings

    def __post_init__(self) -> None:
        backend = dict(self.backend)
        if not backend.get("model"):
            raise ValueError("CacheContext needs the backend's identity with a model fingerprint")
        if "device" in backend:  # "cuda:1" and "cuda" compute the same answers; only the type matters
            backend["device"] = str(backend["device"]).split(":")[0]
        given = encode(self.generation) if isinstance(self.generation, GenerationSettings) else dict(self.generation)
        settings = {k: v for k, v in given.items() if k not in ANSWER_NEUTRAL_SETTINGS}
        try:
            _canonical({"backend": backend, "generation": settings})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cache context must hold plain JSON values (str, int, float, bool): {exc}") from None
        # Frozen means frozen: copies behind read-only views, so a key can't drift after creation.
        object.__setattr__(self, "backend", MappingProxyType(backend))
        object.__setattr__(self, "generation", MappingProxyType(settings))

    def __hash__(self) -> int:
        return hash(_canonical(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        return {"backend": dict(self.backend), "generation": dict(cast("Mapping[str, Any]", self.generation))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CacheContext:
        return cls(backend=dict(data["backend"]), generation=dict(data.get("generation", {})))


def entry_key(context: CacheContext, arm_identity: str, system: str, user: str, tools: str = "") -> str:
    """Return the sha256 of a canonical JSON of the context, the arm and the prompt (system, request, tools)."""
    payload = {
        "key_version": KEY_VERSION,
        "context": context.to_dict(),
        "arm": arm_identity,
        "system": system,
        "user": user,
    }
    if tools:  # the native-tools format: the function schemas shape the rendered prompt
        payload["tools"] = tools
    return _sha256_text(_canonical(payload))


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
        return [entry_key(self.context, arm_identity, p.system, p.user, p.tools) for p in prompts]

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
