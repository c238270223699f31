"""The sha256 of a weights file, computed once per version of the file and remembered.

A local model folder of up to 1 GiB is fingerprinted by its weights' full contents
(``evals.fingerprints``): about a second per gigabyte on every run, cached or not. The digest is
remembered in ``file-digests.sqlite`` in the cache folder under the file's path, size,
``st_mtime_ns``, ``st_ctime_ns`` and inode: any write to the file moves its ctime (which no tool
can set back), a replacement changes its inode, so a changed file is hashed again and still
changes the key. Only the time is saved, never a different answer.

A memo that cannot be read or written (a read-only cache folder, a damaged file) costs the
hashing, never the run: it is a cache of a pure function.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sqlite3
from pathlib import Path

from evals.models import cache_root

MEMO_FILE = "file-digests.sqlite"
_CHUNK = 1 << 20
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS digests (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER,"
    " ctime_ns INTEGER, inode INTEGER, sha256 TEXT NOT NULL)"
)


def sha256_file(path: Path) -> str:
    """The sha256 of ``path``'s bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _stamp(path: Path) -> tuple[str, int, int, int, int]:
    st = path.stat()
    return str(path.resolve()), st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino


def remembered_sha256(path: Path, memo: Path | None = None) -> str:
    """``sha256_file(path)``, read from the memo while the file is unchanged (``memo``: default in the cache folder)."""
    stamp = _stamp(path)
    memo = memo or cache_root() / MEMO_FILE
    conn = open_memo(memo, _SCHEMA)
    if conn is not None:
        with contextlib.suppress(sqlite3.Error):
            row = conn.execute(
                "SELECT sha256 FROM digests WHERE path=? AND size=? AND mtime_ns=? AND ctime_ns=? AND inode=?", stamp
            ).fetchone()
            if row is not None:
                conn.close()
                return str(row[0])
    digest = sha256_file(path)
    if conn is not None:
        with contextlib.suppress(sqlite3.Error), conn:
            conn.execute("INSERT OR REPLACE INTO digests VALUES (?, ?, ?, ?, ?, ?)", (*stamp, digest))
        conn.close()
    return digest


def open_memo(memo: Path, schema: str, retry: bool = True) -> sqlite3.Connection | None:
    """A connection to the memo database ``memo`` with its table made (``schema``), or None when unusable.

    A file that is not a database (damaged) is removed and started again, once.
    """
    conn = None
    try:
        memo.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(memo, timeout=5.0)
        conn.execute(schema)
        return conn
    except sqlite3.DatabaseError:
        if conn is not None:
            conn.close()
        if retry:
            with contextlib.suppress(OSError):
                os.remove(memo)
                return open_memo(memo, schema, retry=False)
        return None
    except (OSError, sqlite3.Error):
        if conn is not None:
            conn.close()
        return None
