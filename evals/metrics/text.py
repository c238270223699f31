"""Words: accent folding, tokens, keywords, sentences, and the lemma/stem keys of the lexicons.

The lemmatizer's dictionaries (simplemma) and the stemmers (snowballstemmer) are imported on
first use and their results cached: importing this module stays cheap. Lemmas known from an
earlier run (``remember_lemmas``, fed by ``evals.lemmas`` from the cache folder) are used as they
are, so a run whose words were all seen before loads no dictionary.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from evals.records import Tool

_NON_WORD = re.compile(r"[^a-z0-9_]+")
# "18h" must yield the word "18": French writes times glued to their unit.
_DIGIT_LETTER = re.compile(r"(?<=[0-9])(?=[a-z])|(?<=[a-z])(?=[0-9])")
# Ligatures do not decompose under NFKD; without this "cœur" would split into "c" + "ur".
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})

# Typographic apostrophes and quotes, one character for one so offsets stay valid.
APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"'})
SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)|[;\n]+")


def fold(text: str) -> str:
    """Lower-case and strip accents: "Luminosité" -> "luminosite", "cœur" -> "coeur"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Split folded text into words; underscores, punctuation and digit/letter changes separate words."""
    spaced = _DIGIT_LETTER.sub(" ", _NON_WORD.sub(" ", fold(text)).replace("_", " "))
    return spaced.split()


def _contains_phrase(haystack: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    if n == 0 or n > len(haystack):
        return False
    return any(list(haystack[i : i + n]) == list(phrase) for i in range(len(haystack) - n + 1))


def keyword_hits(answer: str, keywords: Iterable[str]) -> int:
    """Count the keywords found as whole words in the answer, ignoring case and accents."""
    words = tokens(answer)
    return sum(1 for kw in keywords if _contains_phrase(words, tokens(kw)))


def keyword_match(answer: str, keywords: Sequence[str]) -> float:
    """Return keyword hits / number of keywords (0.0 when the case has none)."""
    return keyword_hits(answer, keywords) / len(keywords) if keywords else 0.0


def spans_at(text: str, boundaries: Iterable[int]) -> list[tuple[int, int]]:
    """Cut the text at the boundaries into (start, end) spans; the whole text when nothing cuts it."""
    cuts = sorted({0, *boundaries, len(text)})
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if a < b] or [(0, len(text))]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each sentence: cut after ".", "!", "?", "…" and at ";" or a line break."""
    return spans_at(text, (m.end() for m in SENTENCE_END.finditer(text)))


# -- words: lemmas and stems ------------------------------------------------------------------


@cache
def _stemmer(language: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer(language)


# (language, word) -> lemma. Loading a language's dictionary costs about half a second (most of a
# cached re-run's scoring), so lemmas from earlier runs are given here; the lemma of a word is
# a function of the word and simplemma's release alone, which is what the memo is keyed by.
_KNOWN_LEMMAS: dict[tuple[str, str], str] = {}
_LOOKED_UP: dict[tuple[str, str], str] = {}


def remember_lemmas(known: Mapping[tuple[str, str], str]) -> None:
    """Use these (language, word) -> lemma pairs, from this simplemma release, instead of its dictionaries."""
    _KNOWN_LEMMAS.update(known)


def looked_up_lemmas() -> dict[tuple[str, str], str]:
    """The (language, word) -> lemma pairs this process took from simplemma's dictionaries."""
    return dict(_LOOKED_UP)


@lru_cache(maxsize=1 << 16)
def _lemma(word: str, language: str) -> str:
    known = _KNOWN_LEMMAS.get((language, word))
    if known is not None:
        return known
    import simplemma

    lemma = _LOOKED_UP[(language, word)] = str(simplemma.lemmatize(word, lang=language))
    return lemma


SHORT_WORD = 2


@lru_cache(maxsize=1 << 16)
def word_keys(word: str) -> frozenset[str]:
    """Return the keys a word is matched by: its French and English lemmas and their Snowball stems.

    Two words match when their keys meet: "monté", "montons" and "monte" all meet "monter";
    "closed" meets "close". Keys are accent-folded, so "luminosite" meets "luminosité". Words
    of one or two letters are their own only key: lemmatizers map pronouns onto articles ("te" -> "le").
    """
    lower = word.lower()
    forms = {lower, fold(lower)}
    if len(lower) <= SHORT_WORD:
        return frozenset(forms)
    forms |= {_lemma(f, lang) for f in tuple(forms) for lang in ("fr", "en")}
    stems = {_stemmer(lang).stemWord(f) for f in forms for lang in ("french", "english")}
    return frozenset(fold(k) for k in forms | stems if k)


# Words of the lexicon and of answers: letters and digits, plus the units that make a result ("%", "°").
_LEX_WORD = re.compile(r"[^\W_]+|[%°]")


def lex_words(text: str) -> list[str]:
    """The words of a lexicon entry or an answer, lower-cased (accents kept: ``word_keys`` folds)."""
    return _LEX_WORD.findall(text.lower())


@dataclass(frozen=True)
class Entry:
    """One lexicon entry: the keys of each of its words."""

    words: tuple[frozenset[str], ...]


def _entry(text: str) -> Entry:
    return Entry(tuple(word_keys(w) for w in lex_words(text)))


@dataclass(frozen=True)
class _CompiledIntent:
    actions: tuple[Entry, ...]
    objects: tuple[Entry, ...]


@dataclass(frozen=True)
class Lexicon:
    """A tool's lexicon as keys: its phrases and aliases, and its intents (actions, objects)."""

    tool: str
    phrases: tuple[Entry, ...]
    intents: tuple[_CompiledIntent, ...]


@lru_cache(maxsize=256)
def compile_lexicon(tool: Tool) -> Lexicon:
    phrases = tuple(_entry(p) for p in (*tool.phrases, *tool.aliases) if lex_words(p))
    intents = tuple(
        _CompiledIntent(tuple(_entry(a) for a in i.actions if lex_words(a)), tuple(_entry(o) for o in i.objects))
        for i in tool.intents
    )
    return Lexicon(tool.id, phrases, intents)
