"""Sounds to letters and back, for words the lexicon does not know: names, brands, numbers.

A recognizer that hears "Spotify" writes French it knows ("spot y faille") or letters that
sound right ("spotifaille"); these helpers give the pronunciation such a recognizer hears
(``guess_phon``) and the plain French spelling of a pronunciation (``spell_phon``).
"""

from __future__ import annotations

import re
import unicodedata

# Letter names as a French speaker says them (an acronym read letter by letter: "PC").
LETTER_NAMES = {
    "a": "a", "b": "be", "c": "se", "d": "de", "e": "2", "f": "Ef", "g": "Ze", "h": "aS", "i": "i",
    "j": "Zi", "k": "ka", "l": "El", "m": "Em", "n": "En", "o": "o", "p": "pe", "q": "ky", "r": "ER",
    "s": "Es", "t": "te", "u": "y", "v": "ve", "w": "dubl°ve", "x": "iks", "y": "igREk", "z": "zEd",
}  # fmt: skip

# How a French listener hears an English-looking spelling, longest pattern first.
# Lexique's alphabet: @ = an, § = on, 5 = in, S = ch, Z = j, E = è, O = o ouvert, 9 = eu.
_GRAPHEMES: tuple[tuple[str, str], ...] = (
    ("ify$", "ifaj"), ("tion", "sj§"), ("chr", "kR"), ("sch", "S"), ("ch", "tS"), ("sh", "S"), ("ph", "f"),
    ("th", "t"), ("ck", "k"), ("qu", "k"), ("oo", "u"), ("ee", "i"), ("ea", "i"), ("ou", "u"),
    ("ay", "E"), ("ai", "E"), ("ey$", "E"), ("er$", "9R"), ("ow", "o"), ("au", "o"), ("gn", "N"),
    ("ce", "s"), ("ci", "si"), ("ge", "Z"), ("gi", "Zi"), ("e$", ""), ("s$", ""), ("x$", "ks"),
    ("a", "a"), ("b", "b"), ("c", "k"), ("d", "d"), ("e", "E"), ("f", "f"), ("g", "g"), ("h", ""),
    ("i", "i"), ("j", "dZ"), ("k", "k"), ("l", "l"), ("m", "m"), ("n", "n"), ("o", "O"), ("p", "p"),
    ("q", "k"), ("r", "R"), ("s", "s"), ("t", "t"), ("u", "y"), ("v", "v"), ("w", "w"), ("x", "ks"),
    ("y", "i"), ("z", "z"),
)  # fmt: skip
_GRAPHEME_RE = re.compile("|".join(f"({p})" for p, _ in _GRAPHEMES))

# The plainest French spelling of each phoneme, with its spelling before e/i where it differs.
_PHONEMES: dict[str, str] = {
    "a": "a", "e": "é", "E": "è", "i": "i", "o": "o", "O": "o", "u": "ou", "y": "u", "°": "e",
    "2": "eu", "9": "eu", "5": "in", "1": "un", "@": "an", "§": "on", "j": "y", "w": "ou", "8": "u",
    "p": "p", "b": "b", "t": "t", "d": "d", "k": "c", "g": "g", "f": "f", "v": "v", "s": "s", "z": "z",
    "S": "ch", "Z": "j", "m": "m", "n": "n", "N": "gn", "G": "ng", "R": "r", "l": "l", "x": "j",
}  # fmt: skip
_BEFORE_FRONT = {"k": "qu", "g": "gu", "s": "c"}
_FINAL = {"k": "que", "g": "gue", "j": "ille", "Z": "ge", "z": "ze", "v": "ve", "e": "é", "E": "ait"}
VOWEL_PHONEMES = frozenset("aeEioOuy°2951@§")


def strip_accents(text: str) -> str:
    """Return ``text`` without diacritics ("écran" → "ecran")."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")


def is_acronym(word: str) -> bool:
    return len(word) >= 2 and word.isupper() and word.isalpha()


def spell_letters(word: str) -> str:
    """Return the pronunciation of ``word`` read letter by letter ("PC" → "pese")."""
    return "".join(LETTER_NAMES.get(c, "") for c in strip_accents(word.lower()))


def guess_phon(word: str) -> str:
    """Return the pronunciation a French listener gives an unknown, English-looking word."""
    text = strip_accents(word.lower())
    text = re.sub(r"([bcdfgklmnprtz])\1", r"\1", text)  # double consonants sound single
    out = []
    for match in _GRAPHEME_RE.finditer(text):
        out.append(_GRAPHEMES[match.lastindex - 1][1] if match.lastindex else "")
    return "".join(out)


def spell_phon(phon: str) -> str:
    """Return a plain French spelling of a pronunciation ("kRom" → "crom")."""
    out = []
    for i, ph in enumerate(phon):
        nxt = phon[i + 1] if i + 1 < len(phon) else ""
        last = i + 1 == len(phon)
        if last and ph in _FINAL:
            out.append(_FINAL[ph])
        elif (
            ph == "E"
            and nxt
            and nxt not in VOWEL_PHONEMES
            and (i + 2 >= len(phon) or phon[i + 2] not in VOWEL_PHONEMES)
        ):
            out.append("e")  # a closed syllable: "internet", not "intèrnèt"
        elif ph in _BEFORE_FRONT and nxt in "eEi":
            out.append(_BEFORE_FRONT[ph])
        elif ph == "s" and i and nxt and phon[i - 1] in "aeEioOuy" and nxt in "aeEioOuy":
            out.append("ss")  # a single s between vowels sounds z
        else:
            out.append(_PHONEMES.get(ph, ""))
    return "".join(out)


# French numbers as words, 0-99 (what a recognizer writes for a number it spells out).
_UNITS = (
    "zéro", "un", "deux", "trois", "quatre", "cinq", "six", "sept", "huit", "neuf", "dix", "onze", "douze",
    "treize", "quatorze", "quinze", "seize", "dix-sept", "dix-huit", "dix-neuf",
)  # fmt: skip
_TENS = {2: "vingt", 3: "trente", 4: "quarante", 5: "cinquante", 6: "soixante", 8: "quatre-vingt"}


def number_words(n: int) -> str | None:
    """Return ``n`` (0-99) in French words, or None outside that range."""
    if not 0 <= n <= 99:
        return None
    if n < 20:
        return _UNITS[n]
    tens, unit = divmod(n, 10)
    if tens in (7, 9):  # soixante-dix, quatre-vingt-dix: the teens ride on the ten below
        tens, unit = tens - 1, unit + 10
    base = _TENS[tens]
    if unit == 0:
        return base + ("s" if tens == 8 else "")
    if unit in (1, 11) and tens != 8:
        return f"{base} et {_UNITS[unit]}"
    return f"{base}-{_UNITS[unit]}"


WORD_NUMBERS = {number_words(n): n for n in range(100)}
