"""Lemmas looked up by an earlier run, kept in the cache folder so a re-run loads no dictionary.

The relevance metric matches words by their lemmas (``evals.metrics.text.word_keys``). simplemma
decompresses a language's whole dictionary on its first lookup: about half a second for French
and English together on 2 cores, most of what a cached re-run spends scoring. The lemmas a run
looked up are kept in ``lemmas.sqlite`` in the cache folder under simplemma's release, the only
other thing a lemma depends on; the next run reads them back in one query, and a word not among
them is looked up as before (and added). Only the time is saved, never a different score.

A memo that cannot be read or written (a read-only cache folder, a damaged file) costs the
lookups, never the run: it is a cache of a pure function.
"""

from __future__ import annotations

import contextlib
import sqlite3
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from evals.digests import open_memo
from evals.metrics.text import looked_up_lemmas, remember_lemmas

MEMO_FILE = "lemmas.sqlite"
_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS lemmas (release TEXT, language TEXT, word TEXT, lemma TEXT NOT NULL,"
    " PRIMARY KEY (release, language, word))"
)


def simplemma_release() -> str:
    """The installed simplemma's version ("" when it is not installed: nothing is kept then)."""
    try:
        return version("simplemma")
    except PackageNotFoundError:
        return ""


def load_lemmas(folder: Path, release: str | None = None) -> int:
    """Give the metric the lemmas kept in ``folder`` for this simplemma release; return how many."""
    release = simplemma_release() if release is None else release
    memo = folder / MEMO_FILE
    # Reading makes nothing: a run that never scores (--collect-only) leaves no folder behind.
    conn = open_memo(memo, _SCHEMA) if release and memo.is_file() else None
    if conn is None:
        return 0
    with contextlib.closing(conn), contextlib.suppress(sqlite3.Error):
        rows = conn.execute("SELECT language, word, lemma FROM lemmas WHERE release=?", (release,)).fetchall()
        remember_lemmas({(str(lang), str(word)): str(lemma) for lang, word, lemma in rows})
        return len(rows)
    return 0


def save_lemmas(folder: Path, release: str | None = None) -> int:
    """Add the lemmas this process looked up to the memo in ``folder``; return how many were written."""
    release = simplemma_release() if release is None else release
    new = looked_up_lemmas()
    conn = open_memo(folder / MEMO_FILE, _SCHEMA) if release and new else None
    if conn is None:
        return 0
    rows = [(release, lang, word, lemma) for (lang, word), lemma in new.items()]
    with contextlib.closing(conn), contextlib.suppress(sqlite3.Error), conn:
        conn.executemany("INSERT OR REPLACE INTO lemmas VALUES (?, ?, ?, ?)", rows)
        return len(rows)
    return 0
