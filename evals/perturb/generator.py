"""Speech-recognition noise for French requests, generated from a pronunciation lexicon.

A noise level is a number of edits; each edit is one thing a French recognizer does to a
clean request:

- ``homophone``: a word becomes a word that sounds the same or nearly ("son" → "sont");
- ``resegment``: word boundaries move ("l'écran" → "les cran", "luminosité" → "lumino cité");
- ``respell``: a name the recognizer does not know is written by ear ("Spotify" → "spot y faille");
- ``drop``: an elision, an accent, a capital or a punctuation mark is lost;
- ``number``: digits become words or words digits ("18" → "dix-huit").

Everything is drawn from ``random.Random`` seeded with the seed, the case id, the level and
the variant index, so the same seed always gives the same variants, in any order of calls.
"""

from __future__ import annotations

import functools
import random
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace

from evals.perturb.lexicon import Entry, Lexicon, load_lexicon, weight
from evals.perturb.spelling import (
    WORD_NUMBERS,
    guess_phon,
    is_acronym,
    number_words,
    spell_letters,
    spell_phon,
    strip_accents,
)
from evals.records import Case, Suite

LEVELS = (0, 1, 2, 3)
DEFAULT_LEVELS = (1, 2, 3)
DEFAULT_CATEGORIES = ("commands", "routing")
# Replacement words rarer than this (per million spoken words) are not words a recognizer outputs.
MIN_FREQ = 0.5
# A one-phoneme word ("a", "y", "et") only if it is common: "o", "ô" and "eh" are not.
MIN_FREQ_SHORT = 50.0
NEAR_PENALTY = 0.3  # a near homophone is drawn less often than an exact one
ATTEMPTS = 30  # draws per variant before giving up on a distinct one

# The consonant an elided article or pronoun leaves before the next word.
_ELIDED = {"l'": "l", "d'": "d", "j'": "Z", "c'": "s", "n'": "n", "qu'": "k", "s'": "s", "m'": "m", "t'": "t"}
_TOKEN_RE = re.compile(r"\w+['’]|\w+|[^\w\s]")
# Nouns after which "un"/"une" is a count a recognizer may write as a digit.
_UNITS = frozenset({"seconde", "minute", "heure", "jour", "semaine", "mois", "an", "fois"})
_NO_SPACE_BEFORE = {",", ".", "?", "!", "-", ")"}


@dataclass(frozen=True)
class Token:
    text: str
    touched: bool = False


def tokenize(text: str) -> list[Token]:
    return [Token(t.replace("’", "'")) for t in _TOKEN_RE.findall(text)]


def render(tokens: Sequence[Token]) -> str:
    out = ""
    for i, tok in enumerate(tokens):
        glue = i > 0 and not tokens[i - 1].text.endswith("'") and tokens[i - 1].text != "-"
        if glue and tok.text not in _NO_SPACE_BEFORE:
            out += " "
        out += tok.text
    return out


def _is_word(tok: Token) -> bool:
    return tok.text[:1].isalpha()


@dataclass(frozen=True)
class Perturbation:
    """A noisy variant of a clean request and the edits that made it."""

    text: str
    edits: tuple[str, ...]


Edit = Callable[[list[Token], random.Random, Lexicon], "tuple[list[Token], str] | None"]


def _choose(rng: random.Random, options: Sequence[tuple[str, float]]) -> str | None:
    options = [(text, w) for text, w in options if w > 0]
    if not options:
        return None
    return rng.choices([t for t, _ in options], weights=[w for _, w in options])[0]


def _common(entry: Entry) -> bool:
    # Lexique lists elided forms ("l'", "s'") and letters ("c", "m") as words; a recognizer
    # writes neither on its own (the realism labels' commonest "no", docs/robustness.md).
    if "'" in entry.ortho or "." in entry.ortho or (len(entry.ortho) == 1 and entry.ortho not in _ONE_LETTER):
        return False
    return entry.freq >= (MIN_FREQ_SHORT if len(entry.phon) == 1 else MIN_FREQ)


_ONE_LETTER = frozenset("aà")  # not "y": "Paris" is never "par y"


def _words_for(lex: Lexicon, phon: str, word_end: bool = True) -> list[tuple[str, float]]:
    """Spellings that sound like ``phon``: exact homophones, then near ones at a discount.

    An added schwa is near only at the end of what was said (``word_end``): "ferme" heard as
    "faire me", but "chrome" never as "que rot me", which says a syllable nobody said.
    """
    found = [(e.ortho, weight(e)) for e in lex.homophones(phon) if _common(e)]
    for near in lex.near(phon):
        if near.endswith("°") and not phon.endswith("°") and not word_end:
            continue
        found += [(e.ortho, weight(e) * NEAR_PENALTY) for e in lex.homophones(near) if _common(e)]
    return found


def _phon(tok: Token, lex: Lexicon) -> str | None:
    if tok.text.lower() in _ELIDED:
        return _ELIDED[tok.text.lower()]
    entry = lex.entry(tok.text)
    return entry.phon if entry else None


def _replace(tokens: list[Token], start: int, stop: int, text: str) -> list[Token]:
    new = [Token(t, touched=True) for t in text.split()]
    return tokens[:start] + new + tokens[stop:]


def _untouched_words(tokens: Sequence[Token]) -> list[int]:
    # A word after an elision ("c'est", "l'écran") is edited with it, by resegment, never alone:
    # alone it becomes "c'et" or "l'et cran", elisions French never writes.
    return [
        i
        for i, t in enumerate(tokens)
        if _is_word(t) and not t.touched and not (i and tokens[i - 1].text.endswith("'"))
    ]


def homophone(tokens: list[Token], rng: random.Random, lex: Lexicon) -> tuple[list[Token], str] | None:
    """Replace one word by a word that sounds the same or nearly, weighted by spoken frequency."""
    options: list[tuple[int, str, float]] = []
    for i in _untouched_words(tokens):
        word = tokens[i].text
        entry = lex.entry(word)
        if entry is None or word.lower() in _ELIDED:
            continue
        for text, w in _words_for(lex, entry.phon):
            if text != word.lower() and strip_accents(text) != strip_accents(word.lower()):
                options.append((i, text, w))
    if not options:
        return None
    i, text, _ = rng.choices(options, weights=[w for *_, w in options])[0]
    return _replace(tokens, i, i + 1, text), f"homophone {tokens[i].text}→{text}"


def _segmentations(lex: Lexicon, phon: str, max_pieces: int = 3) -> list[tuple[str, float]]:
    """Ways to hear ``phon`` as 2-3 common words, each with a weight (geometric mean of its words)."""
    found: list[tuple[str, float]] = []

    def walk(rest: str, words: list[tuple[str, float]]) -> None:
        if not rest:
            if len(words) >= 2:
                w = 1.0
                for _, x in words:
                    w *= x
                found.append((" ".join(t for t, _ in words), w ** (1 / len(words))))
            return
        if len(words) == max_pieces:
            return
        for cut in range(1, len(rest) + 1):
            for text, w in _best(lex, rest[:cut], word_end=cut == len(rest)):
                walk(rest[cut:], [*words, (text, w)])

    walk(phon, [])
    return found


def _best(lex: Lexicon, phon: str, keep: int = 3, word_end: bool = True) -> list[tuple[str, float]]:
    # The few likeliest spellings of one piece: a recognizer's language model picks among few.
    return sorted(_words_for(lex, phon, word_end), key=lambda o: -o[1])[:keep]


def resegment(tokens: list[Token], rng: random.Random, lex: Lexicon) -> tuple[list[Token], str] | None:
    """Hear one word, or an elided word and the next, as other words with other boundaries."""
    options: list[tuple[int, int, str, float]] = []
    for i in _untouched_words(tokens):
        first = _phon(tokens[i], lex)
        if first is None:
            continue
        spans = [(i + 1, first)]
        if tokens[i].text.lower() in _ELIDED and i + 1 < len(tokens) and not tokens[i + 1].touched:
            second = _phon(tokens[i + 1], lex)
            spans = [(i + 2, first + second)] if second else []
        original = "".join(t.text for t in tokens[i : spans[0][0]]).replace("'", "") if spans else ""
        for stop, phon in spans:
            for text, w in _segmentations(lex, phon):
                if text.replace(" ", "").replace("'", "") != original.lower():
                    options.append((i, stop, text, w))
        entry = lex.entry(tokens[i].text)
        if entry and len(spans) == 1 and stop == i + 1 and len(entry.syll) == len(entry.orthosyll) > 2:
            # A long word cut at a syllable: its end heard as a word, its start kept as written.
            for cut in range(2, len(entry.syll)):
                for text, w in _best(lex, "".join(entry.syll[cut:])):
                    options.append((i, i + 1, "".join(entry.orthosyll[:cut]) + " " + text, w * NEAR_PENALTY))
    if not options:
        return None
    i, stop, text, _ = rng.choices(options, weights=[w for *_, w in options])[0]
    span = render(tokens[i:stop])
    return _replace(tokens, i, stop, text), f"resegment {span}→{text}"


def _name_like(tok: Token, position: int, lex: Lexicon) -> bool:
    text = tok.text
    if not _is_word(tok) or tok.touched or text.lower() in _ELIDED:
        return False
    return lex.entry(text) is None or is_acronym(text) or (position > 0 and text[:1].isupper())


def respell(tokens: list[Token], rng: random.Random, lex: Lexicon) -> tuple[list[Token], str] | None:
    """Write a name, brand or unknown word as a recognizer hears it: French words or sound-spelling."""
    names = [i for i, t in enumerate(tokens) if _name_like(t, i, lex)]
    if not names:
        return None
    i = rng.choice(names)
    word = tokens[i].text
    entry = lex.entry(word)
    heard = [entry.phon] if entry else [guess_phon(word)]
    if is_acronym(word):
        heard = [spell_letters(word), guess_phon(word)]
    options: list[tuple[str, float]] = []
    for phon in heard:
        options += _segmentations(lex, phon)
        if not (is_acronym(word) and phon == heard[0]):  # letter names run together read as nothing
            options.append((spell_phon(phon), max((w for _, w in options), default=1.0)))
        if is_acronym(word) and len(word) > 3:
            # "MEXC" → "mex c": the pronounceable start read as a word, the rest as a letter.
            options.append((f"{spell_phon(guess_phon(word[:-1]))} {word[-1].lower()}", 1.0))
    options = [(t, w) for t, w in options if t.replace(" ", "") != word.lower()]
    text = _choose(rng, options)
    if text is None:
        return None
    return _replace(tokens, i, i + 1, text), f"respell {word}→{text}"


def drop(tokens: list[Token], rng: random.Random, lex: Lexicon) -> tuple[list[Token], str] | None:
    """Lose an elision, an accent, a capital or a punctuation mark."""
    options: list[tuple[str, int]] = []
    for i, tok in enumerate(tokens):
        if tok.touched:
            continue
        if tok.text.endswith("'") and i + 1 < len(tokens):
            options += [("elision-space", i), ("elision-join", i)]
        elif not _is_word(tok) and not tok.text.isdigit():
            options.append(("punctuation", i))
        elif strip_accents(tok.text) != tok.text:
            options.append(("accent", i))
        elif i > 0 and tok.text[:1].isupper():
            options.append(("capital", i))
    if not options:
        return None
    kind, i = rng.choice(options)
    tok = tokens[i]
    if kind == "elision-space":  # "l'écran" → "l écran"
        new = [*tokens[:i], Token(tok.text[:-1], True), *tokens[i + 1 :]]
    elif kind == "elision-join":  # "l'écran" → "lécran"
        joined = Token(tok.text[:-1] + tokens[i + 1].text, True)
        new = [*tokens[:i], joined, *tokens[i + 2 :]]
    elif kind == "punctuation":
        new = tokens[:i] + tokens[i + 1 :]
    elif kind == "accent":
        new = [*tokens[:i], Token(strip_accents(tok.text), True), *tokens[i + 1 :]]
    else:
        new = [*tokens[:i], Token(tok.text.lower(), True), *tokens[i + 1 :]]
    return new, f"drop {kind} {tok.text}"


def number(tokens: list[Token], rng: random.Random, lex: Lexicon) -> tuple[list[Token], str] | None:
    """Write a number the other way: digits as words, words as digits, "18 heures" as "18h"."""
    options: list[tuple[int, int, str]] = []
    for i, tok in enumerate(tokens):
        if tok.touched:
            continue
        if tok.text.isdigit():
            words = number_words(int(tok.text))
            if words:
                options.append((i, i + 1, words))
            if i + 1 < len(tokens) and tokens[i + 1].text in ("heures", "heure"):
                options.append((i, i + 2, f"{tok.text}h"))
        # "dix-huit" is three tokens: "dix", "-", "huit".
        # "huit" in "dix-huit" is not a number of its own: a hyphenated number is read whole.
        hyphenated = (i > 0 and tokens[i - 1].text == "-") or (i + 1 < len(tokens) and tokens[i + 1].text == "-")
        for stop in (i + 3,) if hyphenated else (i + 3, i + 1):
            text = render(tokens[i:stop])
            counted = stop < len(tokens) and tokens[stop].text.lower().rstrip("s") in _UNITS
            if text.lower() in ("un", "une") and not counted:
                continue  # "un peu", "une recette": an article, not a number a recognizer writes as 1
            if stop <= len(tokens) and text.lower() in WORD_NUMBERS and all(not t.touched for t in tokens[i:stop]):
                options.append((i, stop, str(WORD_NUMBERS[text.lower()])))
                break
    if not options:
        return None
    i, stop, text = rng.choice(options)
    new = tokens[:i] + [Token(text, True)] + tokens[stop:]
    return new, f"number {render(tokens[i:stop])}→{text}"


# Edits and how often each is drawn when several apply. Names and numbers are drawn first
# when present: they are what recognizers get wrong most.
EDITS: tuple[tuple[str, Edit, float], ...] = (
    ("homophone", homophone, 3.0),
    ("resegment", resegment, 2.0),
    ("respell", respell, 3.0),
    ("drop", drop, 1.5),
    ("number", number, 3.0),
)

_BY_NAME = {name: edit for name, edit, _ in EDITS}


def perturb_text(text: str, level: int, rng: random.Random, lex: Lexicon) -> Perturbation:
    """Apply ``level`` edits to ``text`` (fewer if the text runs out of words to edit)."""
    tokens = tokenize(text)
    edits: list[str] = []
    for _ in range(level):
        names = [n for n, _, _ in EDITS]
        weights = [w for _, _, w in EDITS]
        result = None
        while names and result is None:
            pick = rng.choices(range(len(names)), weights=weights)[0]
            result = _BY_NAME[names[pick]](tokens, rng, lex)
            del names[pick], weights[pick]
        if result is None:
            break
        tokens, what = result
        edits.append(what)
    return Perturbation(render(tokens), tuple(edits))


def variant_id(case_id: str, level: int, index: int) -> str:
    return f"{case_id}@L{level}.{index}"


def perturb_case(case: Case, level: int, index: int, seed: int, lex: Lexicon | None = None) -> Case:
    """Return variant ``index`` of ``case`` at noise ``level``: same tools and keywords, a noisy prompt.

    Variant ``index`` differs from the clean prompt and from variants ``0..index-1``; the draw
    for a variant depends only on (seed, case id, level, index), never on what ran before.
    """
    if level not in LEVELS:
        raise ValueError(f"noise level {level} is not one of {LEVELS}")
    if level == 0:
        return replace(case, source=case.id, level=0, variant=0)
    lex = lex if lex is not None else load_lexicon()
    return _variant(case, level, index, _texts(case, level, index + 1, seed, lex)[index])


def _variant(case: Case, level: int, index: int, text: str) -> Case:
    return replace(
        case,
        id=variant_id(case.id, level, index),
        prompt=text,
        intended=case.intended or case.prompt,
        source=case.id,
        level=level,
        variant=index,
    )


def _texts(case: Case, level: int, count: int, seed: int, lex: Lexicon) -> list[str]:
    """Return the first ``count`` variant prompts, each distinct from the clean one and the ones before."""
    texts: list[str] = []
    for index in range(count):
        taken = {case.prompt, *texts}
        for attempt in range(ATTEMPTS):
            # A string seed is hashed with SHA-512 by random.seed: stable across processes and Pythons.
            rng = random.Random(f"{seed}:{case.id}:{level}:{index}:{attempt}")
            text = perturb_text(case.prompt, level, rng, lex).text
            if text not in taken:
                break
        texts.append(text)  # after ATTEMPTS repeats, a request too short to vary: the last draw
    return texts


def perturb_cases(
    cases: Iterable[Case], levels: Iterable[int], k: int, seed: int, lex: Lexicon | None = None
) -> list[Case]:
    """Return the clean cases (level 0) and ``k`` variants of each at each level, case by case."""
    lex = lex if lex is not None else load_lexicon()
    out: list[Case] = []
    levels = sorted(set(levels))
    for case in cases:
        out.append(perturb_case(case, 0, 0, seed, lex))
        for level in levels:
            if level:
                out += [_variant(case, level, i, t) for i, t in enumerate(_texts(case, level, k, seed, lex))]
    return out


def noise_version(version: str, seed: int, k: int, levels: Iterable[int]) -> str:
    """Return the version of a suite with variants: baselines and the cache must not mistake it for the clean one."""
    return f"{version}+asr.s{seed}.k{k}.L{''.join(str(lv) for lv in sorted(set(levels) - {0}))}"


@functools.lru_cache(maxsize=4)
def perturb_suite(
    suite: Suite, levels: tuple[int, ...], k: int, seed: int, categories: tuple[str, ...] = DEFAULT_CATEGORIES
) -> Suite:
    """Return ``suite`` with each case of ``categories`` replaced by its clean (level 0) case and its variants.

    Cases of other categories (the hand-written corrections) stay as written, without a level.
    """
    lex = load_lexicon()
    cases: list[Case] = []
    for case in suite.cases:
        # A variant already in the file (a suite written by `jarvis-evals perturb`) is not perturbed again.
        noisy = case.category in categories and not case.level
        cases += perturb_cases([case], levels, k, seed, lex) if noisy else [case]
    return replace(suite, version=noise_version(suite.version, seed, k, levels), cases=tuple(cases))
