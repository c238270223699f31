"""Pure metric functions over answers. Higher is better for all four.

- ``cosine_similarity``: TF-IDF over character n-grams between the two arms' answers.
- ``keyword_match``: how many of a case's keywords an answer contains (N/total).
- ``relevance`` (metric version 3): F1 between the tools an answer routes to and the tools the
  case expects. Calls come first, read as a runtime would (``parse_calls``); free-text mentions
  (the suite's lexicons, by lemma and stem) count only when the answer has no call. Refusals,
  recitals of the tool list, echoes of the request (an order restating it included) and
  degenerate loops score 0.
- ``valid_call``: 1.0 when the answer holds parseable calls of exactly the expected tools.

docs/metrics.md states every rule with an example. Nothing here reads a file: the lemmatizer's
dictionaries (simplemma), the stemmers (snowballstemmer) and the edit distance (rapidfuzz) are
imported on first use and their results cached.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache, lru_cache
from typing import Any

from evals.records import ArmScore, Call, Case, Tool

METRIC_VERSION = "3"
HIGHER_IS_BETTER = {"cosine_similarity": True, "keyword_match": True, "relevance": True, "valid_call": True}
# An answer "routes" a request when its relevance reaches this (jarvis-evals validate-metric).
ROUTED_THRESHOLD = 0.5

_NON_WORD = re.compile(r"[^a-z0-9_]+")
# "18h" must yield the word "18": French writes times glued to their unit.
_DIGIT_LETTER = re.compile(r"(?<=[0-9])(?=[a-z])|(?<=[a-z])(?=[0-9])")
# Ligatures do not decompose under NFKD; without this "cœur" would split into "c" + "ur".
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
# Templates that open the block in the prompt leave the answer with a closing tag only.
_THINK_TAIL = re.compile(r"^.*</think>", re.DOTALL | re.IGNORECASE)
# Typographic apostrophes and quotes, one character for one so offsets stay valid.
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "ʼ": "'", "“": '"', "”": '"'})


def fold(text: str) -> str:
    """Lower-case and strip accents: "Luminosité" -> "luminosite", "cœur" -> "coeur"."""
    decomposed = unicodedata.normalize("NFKD", text.lower().translate(_LIGATURES))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def tokens(text: str) -> list[str]:
    """Split folded text into words; underscores, punctuation and digit/letter changes separate words."""
    spaced = _DIGIT_LETTER.sub(" ", _NON_WORD.sub(" ", fold(text)).replace("_", " "))
    return spaced.split()


def strip_think(text: str) -> str:
    """Drop reasoning and trim: ``<think>...</think>`` blocks, an unclosed one to the end, and
    everything before a lone ``</think>`` (the template opened the block in the prompt)."""
    return _THINK_TAIL.sub("", _THINK.sub("", text)).strip()


def _contains_phrase(haystack: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    if n == 0 or n > len(haystack):
        return False
    return any(list(haystack[i : i + n]) == list(phrase) for i in range(len(haystack) - n + 1))


def cosine_similarity(a: str, b: str) -> float:
    """Return the TF-IDF cosine (character 2-4-grams within words) of two answers, in [0, 1].

    Both empty -> 1.0 (identical answers); exactly one empty -> 0.0. The IDF is fitted on
    the pair alone so a case's score never depends on which other cases ran. The weighting is
    scikit-learn's ``TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4),
    strip_accents="unicode")`` (smooth IDF, L2 norm), computed here in pure Python: scoring a
    cached run then imports no scikit-learn (``tests/test_metrics.py`` checks it agrees).
    """
    a, b = a.strip(), b.strip()
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    counts = [Counter(_char_wb_ngrams(text)) for text in (a, b)]
    if not counts[0] or not counts[1]:  # no n-gram at all; fall back to equality
        return 1.0 if fold(a) == fold(b) else 0.0
    # Smooth IDF over the two documents: idf(t) = ln((1 + n) / (1 + df(t))) + 1, n = 2.
    idf = {t: math.log(3 / (1 + sum(t in c for c in counts))) + 1.0 for t in counts[0].keys() | counts[1].keys()}
    vectors = [{t: n * idf[t] for t, n in c.items()} for c in counts]
    norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vectors]
    dot = sum(w * vectors[1].get(t, 0.0) for t, w in vectors[0].items())
    return min(1.0, max(0.0, dot / (norms[0] * norms[1])))


def _char_wb_ngrams(text: str, sizes: range = range(2, 5)) -> list[str]:
    """Character n-grams within words, padded with a space each side, as scikit-learn's ``char_wb``."""
    lowered = text.lower()
    decomposed = unicodedata.normalize("NFKD", lowered)
    if decomposed != lowered:  # scikit-learn's strip_accents_unicode
        lowered = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    grams: list[str] = []
    for word in lowered.split():
        padded = f" {word} "
        for n in sizes:
            grams.extend(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
            if len(padded) <= n:  # the whole padded word was the gram: longer sizes would repeat it
                break
    return grams


def keyword_hits(answer: str, keywords: Iterable[str]) -> int:
    """Count the keywords found as whole words in the answer, ignoring case and accents."""
    words = tokens(answer)
    return sum(1 for kw in keywords if _contains_phrase(words, tokens(kw)))


def keyword_match(answer: str, keywords: Sequence[str]) -> float:
    """Return keyword hits / number of keywords (0.0 when the case has none)."""
    return keyword_hits(answer, keywords) / len(keywords) if keywords else 0.0


def f1(named: Iterable[str], expected: Iterable[str]) -> float:
    """Return the F1 of a named set against an expected set; 0.0 when nothing is named."""
    named_set, expected_set = set(named), set(expected)
    hits = len(named_set & expected_set)
    if not named_set or not expected_set or hits == 0:
        return 0.0
    precision, recall = hits / len(named_set), hits / len(expected_set)
    return 2 * precision * recall / (precision + recall)


# -- words: lemmas and stems ------------------------------------------------------------------


@cache
def _stemmer(language: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer(language)


@lru_cache(maxsize=1 << 16)
def _lemma(word: str, language: str) -> str:
    import simplemma

    return str(simplemma.lemmatize(word, lang=language))


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


def _lex_words(text: str) -> list[str]:
    return _LEX_WORD.findall(text.lower())


@dataclass(frozen=True)
class _Entry:
    """One lexicon entry: the keys of each of its words."""

    words: tuple[frozenset[str], ...]


def _entry(text: str) -> _Entry:
    return _Entry(tuple(word_keys(w) for w in _lex_words(text)))


@dataclass(frozen=True)
class _CompiledIntent:
    actions: tuple[_Entry, ...]
    objects: tuple[_Entry, ...]


@dataclass(frozen=True)
class _Lexicon:
    tool: str
    phrases: tuple[_Entry, ...]
    intents: tuple[_CompiledIntent, ...]


@lru_cache(maxsize=256)
def _lexicon(tool: Tool) -> _Lexicon:
    phrases = tuple(_entry(p) for p in (*tool.phrases, *tool.aliases) if _lex_words(p))
    intents = tuple(
        _CompiledIntent(tuple(_entry(a) for a in i.actions if _lex_words(a)), tuple(_entry(o) for o in i.objects))
        for i in tool.intents
    )
    return _Lexicon(tool.id, phrases, intents)


@lru_cache(maxsize=64)
def _action_keys(tools: tuple[Tool, ...]) -> frozenset[str]:
    """Every key of every intent action of the registry (what a negation can negate)."""
    keys: set[str] = set()
    for tool in tools:
        for intent in _lexicon(tool).intents:
            for entry in intent.actions:
                for word in entry.words:
                    keys |= word
    return frozenset(keys)


# -- tool ids and their misspellings ------------------------------------------------------------

# An id-like token: letters, digits, "_" or "-", not glued to other word characters.
_ID_TOKEN = re.compile(r"(?<![\w-])[A-Za-z][A-Za-z0-9_-]*[A-Za-z0-9](?![\w-])")
MIN_TYPO_LENGTH = 5


@dataclass(frozen=True)
class Designation:
    """What a spelling designates: a tool id, and whether it took an edit to get there."""

    tool: str
    malformed: bool


def resolve_id(token: str, tool_ids: Iterable[str]) -> Designation | None:
    """Return the tool a spelling designates, or None.

    The same rule for every spelling, case-insensitive: the exact id designates its tool; a
    token of 5+ characters (letters, digits, "_", "-") within one edit (insertion, deletion,
    substitution or transposition of adjacent characters) of exactly one id designates it,
    malformed; within one edit of several ids, or farther from all, it designates nothing.
    "volume-up", "volumeup", "volum_up", "volume_upp" -> volume_up; "volume" -> None.
    """
    from rapidfuzz.distance import OSA

    lower = token.strip().lower()
    ids = sorted(set(tool_ids))
    for tool_id in ids:
        if lower == tool_id.lower():
            return Designation(tool_id, malformed=False)
    if len(lower) < MIN_TYPO_LENGTH or not re.fullmatch(r"[a-z0-9_-]+", lower):
        return None
    close = [t for t in ids if OSA.distance(lower, t.lower(), score_cutoff=1) <= 1]
    return Designation(close[0], malformed=True) if len(close) == 1 else None


# -- calls ---------------------------------------------------------------------------------------

_TOOL_CALL_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|$)", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[A-Za-z]*")
_FUNCTION = re.compile(r"(?<![\w-])([A-Za-z][A-Za-z0-9_-]*)\(")
_NAME_KEYS = ("name", "tool", "tool_name", "function", "function_name", "action")
_ARGUMENT_KEYS = ("arguments", "args", "parameters", "params", "input")
# What may precede or separate the bare ids of a leading plan: markup, bullets, numbers, "et"/"and".
_LEAD_SKIP = re.compile(r"(?:[\s*`'\"«»>#•\-–—,;+&/]|\d+[.)](?!\w)|\b(?:et|and|puis|then)\b)+", re.IGNORECASE)
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)|[;\n]+")


@dataclass(frozen=True)
class _Found:
    """A call or a mention with where it starts in the answer."""

    tool: str
    start: int
    malformed: bool = False
    call: Call | None = None


def _blank(chars: list[str], start: int, end: int) -> None:
    for i in range(start, end):
        if chars[i] != "\n":
            chars[i] = " "


def _closing_paren(text: str, start: int) -> int:
    """Return the index of the ")" closing the "(" before ``start`` (quotes respected), or len(text)."""
    depth, quote = 1, ""
    for i in range(start, len(text)):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'" and (i == start or not text[i - 1].isalnum()):
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth == 0:
                return i
    return len(text)


def _function_arguments(text: str) -> Any:
    """Parse ``key=value, key2="v"`` into a mapping; anything else stays text."""
    text = text.strip()
    if not text:
        return {}
    parts = re.findall(
        r'\s*([A-Za-z_]\w*)\s*=\s*("(?:[^"\\]|\\.)*"|\'[^\']*\'|\[[^\]]*\]|\{[^}]*\}|[^,]*)\s*(?:,|$)', text
    )
    rebuilt = ",".join(f"{k}={v}" for k, v in parts)
    if not parts or re.sub(r"\s", "", rebuilt) != re.sub(r"\s", "", text).rstrip(","):
        return text
    out: dict[str, Any] = {}
    for key, value in parts:
        value = value.strip()
        try:
            out[key] = json.loads(value)
        except ValueError:
            out[key] = value.strip("'\"")
    return out


def _json_arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _calls_from_json(value: Any, tool_ids: Sequence[str], form: str) -> list[Call] | None:
    """Return the calls a JSON value holds, or None when it is not call-shaped."""
    if isinstance(value, list):
        if not value:
            return None
        calls: list[Call] = []
        for item in value:
            if isinstance(item, str):
                designation = resolve_id(item, tool_ids)
                if designation is None:
                    return None
                calls.append(Call(designation.tool, {}, form, item, designation.malformed))
                continue
            inner = _calls_from_json(item, tool_ids, form)
            if inner is None:
                return None
            calls += inner
        return calls
    if not isinstance(value, dict):
        return None
    for key in ("tool_calls", "function_call"):
        if key in value:
            return _calls_from_json(value[key], tool_ids, form)
    for key in _NAME_KEYS:
        if key not in value:
            continue
        named = value[key]
        arguments: Any = None
        if isinstance(named, dict):  # OpenAI style: {"function": {"name": ..., "arguments": "..."}}
            inner = next((named[k] for k in _NAME_KEYS if isinstance(named.get(k), str)), None)
            if inner is None:
                return None
            arguments = next((named[k] for k in _ARGUMENT_KEYS if k in named), None)
            named = inner
        if not isinstance(named, str):
            return None
        if arguments is None:
            arguments = next((value[k] for k in _ARGUMENT_KEYS if k in value), None)
        if arguments is None:
            arguments = {k: v for k, v in value.items() if k != key}
        designation = resolve_id(named, tool_ids)
        if designation is None:
            return [Call("", _json_arguments(arguments), form, named, False)]
        return [Call(designation.tool, _json_arguments(arguments), form, named, designation.malformed)]
    return None


def _json_calls(chars: list[str], tool_ids: Sequence[str], form: str, found: list[_Found], offset: int = 0) -> None:
    """Find call-shaped JSON values in the text, record their calls and blank them."""
    text = "".join(chars)
    decoder = json.JSONDecoder()
    i = 0
    while i < len(text):
        if text[i] not in "{[":
            i += 1
            continue
        try:
            value, end = decoder.raw_decode(text, i)
        except ValueError:
            i += 1
            continue
        calls = _calls_from_json(value, tool_ids, form)
        if calls is not None:
            found += [_Found(c.name, offset + i, c.malformed, c) for c in calls]
            _blank(chars, i, end)
        i = end


def _leading_ids(chars: list[str], tool_ids: Sequence[str], found: list[_Found]) -> None:
    """Record the bare ids that open the answer or one of its sentences (a plan), and blank them."""
    starts = [0] + [m.end() for m in _SENTENCE_END.finditer("".join(chars))]
    for start in starts:
        text = "".join(chars)  # ids taken from an earlier start are blanked: each is read once
        pos = start
        while True:
            skip = _LEAD_SKIP.match(text, pos)
            pos = skip.end() if skip else pos
            token = _ID_TOKEN.match(text, pos)
            if token is None:
                break
            designation = resolve_id(token.group(), tool_ids)
            if designation is None:
                break
            call = Call(designation.tool, "", "bare", token.group(), designation.malformed)
            found.append(_Found(designation.tool, token.start(), designation.malformed, call))
            _blank(chars, token.start(), token.end())
            pos = token.end()


def _extract_calls(text: str, tool_ids: Sequence[str]) -> tuple[list[_Found], str]:
    """Return the calls of an answer (with offsets) and its free text: the answer with the calls blanked."""
    chars = list(text)
    found: list[_Found] = []
    for block in _TOOL_CALL_BLOCK.finditer(text):
        inner = list(_FENCE.sub(lambda m: " " * len(m.group()), block.group(1)))
        before = len(found)
        _json_calls(inner, tool_ids, "tool_call", found, offset=block.start())
        if len(found) == before:  # a block that holds no JSON: a bare id inside still is the call
            _leading_ids(inner, tool_ids, found)
            found[before:] = [
                _Found(f.tool, block.start(), f.malformed, Call(f.tool, "", "tool_call", f.call.raw_name, f.malformed))
                for f in found[before:]
                if f.call is not None
            ]
        _blank(chars, block.start(), block.end())
    for fence in _FENCE.finditer(text):
        _blank(chars, fence.start(), fence.end())
    masked = "".join(chars)
    for match in _FUNCTION.finditer(masked):
        if chars[match.start()] == " ":  # already blanked by an earlier, enclosing call
            continue
        designation = resolve_id(match.group(1), tool_ids)
        if designation is None:
            continue
        close = _closing_paren(masked, match.end())
        arguments = _function_arguments(masked[match.end() : close])
        call = Call(designation.tool, arguments, "function", match.group(1), designation.malformed)
        found.append(_Found(designation.tool, match.start(), designation.malformed, call))
        _blank(chars, match.start(), min(close + 1, len(chars)))
    _json_calls(chars, tool_ids, "json", found)
    _leading_ids(chars, tool_ids, found)
    found.sort(key=lambda f: f.start)
    return found, "".join(chars)


def parse_calls(answer: str, tool_ids: Iterable[str]) -> tuple[Call, ...]:
    """Return the tool calls of an answer in the order they appear, as a runtime would read them.

    Forms: a bare id (or a plan of ids: ``volume_down, music_play — ...``) opening the answer or
    one of its sentences, after markdown, quotes and bullets; ``tool_id(args)``; a JSON object
    naming the tool by ``name``/``tool``/``function``/``action`` (or OpenAI's nested
    ``{"function": {"name", "arguments"}}``), a JSON array of them or of ids, ``{"tool_calls": [...]}``;
    ``<tool_call>...</tool_call>`` blocks; any of these inside code fences. Ids go through
    ``resolve_id``: a call whose name designates no tool has ``name == ""``.
    """
    ids = tuple(sorted(set(tool_ids)))
    found, _ = _extract_calls(strip_think(answer).translate(_APOSTROPHES), ids)
    return tuple(f.call for f in found if f.call is not None)


# -- sentences, segments and what voids them -------------------------------------------------------

# Only a contrastive conjunction splits an answer into segments: a refusal voids its own segment.
_CONTRAST = re.compile(r"\b(?:mais|but|par contre|however|en revanche|cependant|toutefois|néanmoins)\b", re.IGNORECASE)
_REFUSAL = re.compile(
    r"\b(?:impossible|d[ée]sol[ée]e?s?|malheureusement|h[ée]las|pas possible|pas (?:d')?acc[èe]s|sans acc[èe]s"
    r"|indisponibles?|[ée]chec|[ée]chou[ée]e?s?|(?:peux|peut|pouvons|pouvez|peuvent|pourrai|pourrais|arrive|sais)"
    r" pas|mod[èe]le de langage|je refuse|can't|cannot|can not|couldn't|won't|unable|sorry|unfortunately"
    r"|unavailable|failed|language model|as an ai|une erreur|an error|error occurred|s'est produite)\b"
    r"|\b(?:erreur|error)\s*:|\"error\"",
    re.IGNORECASE,
)
_NEGATION = frozenset({"ne", "n"})
_NEGATION_PARTICLES = frozenset({"pas", "plus", "jamais", "rien", "point", "ni", "guère", "aucun", "aucune"})
_ENGLISH_NEGATION = frozenset({"not", "never", "t"})  # "t": the tail of "don't", "doesn't", "isn't"
# What a refusal denies: being able, allowed, or having access; checked by key, so inflections count.
_ABILITY = (
    *("pouvoir", "arriver", "réussir", "savoir", "capable", "autoriser", "autorisé", "permission", "permis"),
    *("droit", "accès", "accéder", "contrôle", "disponible", "possible", "installer", "installé", "fonctionner"),
    *("marcher", "able", "allowed", "allow", "permitted", "access", "available", "work", "working", "authorized"),
    *("support", "supported"),
)
# Instructions to the user and descriptions of a tool commit JARVIS to nothing.
_INSTRUCTION = re.compile(
    r"\b(?:vous pouvez|tu peux|il (?:vous |te )?suffit|appuyez|appuie sur|cliquez|clique sur|allez dans"
    r"|rendez-vous|you can|you could|you may|press|click|go to)\b",
    re.IGNORECASE,
)
_DESCRIPTION = re.compile(
    r"\b(?:sert|servent) à\b|\bpermet(?:tent)?\b|\b(?:is|are) used (?:to|for)\b|\blets you\b|\ballows you\b",
    re.IGNORECASE,
)
_FIRST_PERSON = re.compile(r"\b(?:je|i)\b|\bj'", re.IGNORECASE)
_FIRST_PERSON_WORDS = frozenset({"je", "j", "i"})
_TOOL_WORD = re.compile(r"\b(?:outils?|tools?)\b", re.IGNORECASE)
_QUESTION_END = re.compile(r"\?[\s\"')»]*$")
# Words that never make an answer more than an echo of the request.
_FILLERS = re.compile(
    r"\b(?:ok|okay|oui|yes|d'accord|bien sûr|très bien|s'il te plaît|s'il vous plaît|stp|svp|please"
    r"|user|utilisateur|assistant|jarvis)\b",
    re.IGNORECASE,
)


@lru_cache(maxsize=1)
def _ability_keys() -> frozenset[str]:
    return frozenset(k for w in _ABILITY for k in word_keys(w))


def _spans(text: str, boundaries: Iterable[int]) -> list[tuple[int, int]]:
    cuts = sorted({0, *boundaries, len(text)})
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if a < b] or [(0, len(text))]


def _sentences(text: str) -> list[tuple[int, int]]:
    return _spans(text, (m.end() for m in _SENTENCE_END.finditer(text)))


def _segments(text: str) -> list[tuple[int, int]]:
    return _spans(text, (m.start() for m in _CONTRAST.finditer(text)))


def _negates(words: Sequence[str], denied: frozenset[str]) -> bool:
    """Whether a negation ("ne ... pas", "not", "n't") bears on an ability or an action word."""
    for i, word in enumerate(words):
        if word in _NEGATION:
            particle = next((j for j in range(i + 1, min(i + 5, len(words))) if words[j] in _NEGATION_PARTICLES), None)
            if particle is None:
                continue
            window = [*words[i + 1 : particle], *words[particle + 1 : particle + 4]]
        elif word in _ENGLISH_NEGATION:
            window = list(words[i + 1 : i + 4])
        else:
            continue
        if any(word_keys(w) & denied for w in window):
            return True
    return False


def is_refusal(text: str, tools: Sequence[Tool] = ()) -> bool:
    """Whether a piece of text refuses, says it cannot, apologises, reports an error or negates an action."""
    if _REFUSAL.search(text):
        return True
    denied = _ability_keys() | _action_keys(tuple(tools))
    return _negates(_lex_words(text), denied)


# -- free-text mentions -------------------------------------------------------------------------


def _matches(
    entry: _Entry, words: Sequence[frozenset[str]], contiguous: bool, present: frozenset[str] | None = None
) -> frozenset[int]:
    """Return the positions an entry matches in a sentence (empty when it does not).

    ``present`` (every key of the sentence) rejects most entries at once: one of their words is absent.
    """
    n = len(entry.words)
    if n == 0 or n > len(words):
        return frozenset()
    if present is not None and not all(wanted & present for wanted in entry.words):
        return frozenset()
    if contiguous:
        hits: set[int] = set()
        for i in range(len(words) - n + 1):
            if all(words[i + k] & entry.words[k] for k in range(n)):
                hits.update(range(i, i + n))
        return frozenset(hits)
    per_word = [{i for i, keys in enumerate(words) if keys & wanted} for wanted in entry.words]
    if not all(per_word):
        return frozenset()
    return frozenset().union(*per_word)


# A new clause starts at "et"/"and"/"puis"/"," followed by a subject: "je baisse le son et je verrouille
# l'écran" pairs "baisse" with "son" only; "j'augmente la luminosité et le volume" stays one clause.
_NEW_SUBJECT = re.compile(
    r"(?:,|\b(?:et|and|puis|then)\b)\s+(?=(?:je|j'|tu|il|elle|on|nous|vous|ils|elles|i|you|he|she|we|they)\b)",
    re.IGNORECASE,
)
# "pour" + infinitive states a purpose, the content of another action: "un rappel pour envoyer le rapport".
_PURPOSE = frozenset({"pour"})


def _clauses(text: str, start: int, end: int, segments: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Cut a sentence into clauses: at a contrastive conjunction (a new segment) and before a new subject."""
    cuts = {start, end, *(m.end() for m in _NEW_SUBJECT.finditer(text, start, end))}
    cuts |= {a for a, _ in segments if start < a < end}
    ordered = sorted(cuts)
    return [(a, b) for a, b in zip(ordered, ordered[1:], strict=False) if a < b]


def _clause_mentions(clause: str, lexicons: Sequence[_Lexicon]) -> set[str]:
    """Return the tools a clause names; what follows a colon is the content of a tool named before it.

    "Rappel créé : envoyer le rapport à midi" names reminder_create only; "Demain à Nice :
    24 °C" names no tool before its colon, so the whole clause is read.
    """
    head, colon, _ = clause.partition(":")
    if colon:
        named = _sentence_mentions(_lex_words(head), lexicons)
        if named:
            return named
    return _sentence_mentions(_lex_words(clause), lexicons)


def _sentence_mentions(words: Sequence[str], lexicons: Sequence[_Lexicon]) -> set[str]:
    """Return the tools a clause names by the lexicons; the longer reading wins.

    A tool whose matched words are a strict subset of another tool's (``recherche`` vs
    ``recherche`` + ``journaux``; ``mets`` + ``musique`` vs ``mets`` + ``musique`` + ``pause``)
    is dropped: the sentence says more than that tool.
    """
    keys = [frozenset() if i and words[i - 1] in _PURPOSE else word_keys(w) for i, w in enumerate(words)]
    present: frozenset[str] = frozenset().union(*keys)
    positions: dict[str, frozenset[int]] = {}
    for lexicon in lexicons:
        hit: set[int] = set()
        for phrase in lexicon.phrases:
            hit |= _matches(phrase, keys, True, present)
        for intent in lexicon.intents:
            actions = frozenset().union(*(_matches(a, keys, False, present) for a in intent.actions))
            if not actions:
                continue
            if not intent.objects:
                hit |= actions
                continue
            objects = frozenset().union(*(_matches(o, keys, False, present) for o in intent.objects))
            if objects:
                hit |= actions | objects
        if hit:
            positions[lexicon.tool] = frozenset(hit)
    return {t for t, p in positions.items() if not any(p < q for u, q in positions.items() if u != t)}


# -- one answer, analysed ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Analysis:
    """Everything the relevance of one answer is decided from."""

    calls: tuple[Call, ...]
    routed: frozenset[str]
    designated: frozenset[str]
    mentioned: frozenset[str] = frozenset()
    refusal: bool = False
    recited: bool = False
    malformed: bool = False
    echo: bool = False
    calls_kept: tuple[Call, ...] = field(default=())
    loop: bool = False


def _echo_words(text: str) -> set[str]:
    """Words as the echo rule compares them: lower-cased, accents kept, fillers dropped."""
    return set(re.findall(r"\w+", _FILLERS.sub(" ", text.lower())))


def is_echo(answer: str, prompt: str, tools: Sequence[Tool] = ()) -> bool:
    """Whether an answer only repeats the request in its own form, or restates it as an order.

    True when every word of the answer (case- and punctuation-insensitive, accent-sensitive,
    fillers such as "ok", "d'accord", "oui" dropped) is a word of the prompt, and any first-person
    subject it has stands in the prompt before the same word. A first-person subject ("Je ferme
    la fenêtre.") or a change of form ("verrouillé", "scanne" for "scan") makes it a
    confirmation, not an echo.

    With the suite's ``tools``, also True for an order that restates the request (``_is_order_echo``):
    "Augmenter la luminosité de l'écran." for "augmente la luminosité de l'écran".
    """
    text = strip_think(answer).translate(_APOSTROPHES)
    prompt_text = prompt.translate(_APOSTROPHES)
    words = _echo_words(text)
    if not words or not _first_person_of_the_request(text, prompt_text):
        return False
    return words <= _echo_words(prompt_text) or _is_order_echo(text, prompt_text, _verb_keys(tuple(tools)))


def _first_person_of_the_request(text: str, prompt_text: str) -> bool:
    """Whether every first-person subject of the answer stands in the prompt before the same word.

    A first-person subject the request does not have in front of the same word confirms:
    "J'ouvre Steam." for "j'ai besoin de steam, ouvre-le"; a repeated "je n'y vois rien" does not.
    """
    prompt_pairs = set(_first_person_pairs(prompt_text))
    return all(pair in prompt_pairs for pair in _first_person_pairs(text))


@lru_cache(maxsize=64)
def _verb_keys(tools: tuple[Tool, ...]) -> frozenset[str]:
    """The keys of the registry's one-word intent actions of three letters or more: the verbs the metric knows."""
    keys: set[str] = set()
    for tool in tools:
        for intent in tool.intents:
            for action in intent.actions:
                words = _lex_words(action)
                if len(words) == 1 and len(words[0]) > SHORT_WORD:
                    keys |= word_keys(words[0])
    return frozenset(keys)


# Words that make an answer a statement rather than an order: auxiliaries and "done"/"voilà".
_STATEMENT_WORDS = frozenset(
    {
        *("est", "sont", "ai", "as", "avons", "avez", "ont", "été", "fait", "faite", "faits", "voilà", "voici"),
        *("fini", "finie", "is", "are", "was", "were", "am", "has", "have", "had", "been", "done"),
    }
)
# A past participle ending (French "-é", "-ée", "-és", "-ées", English "-ed"): "verrouillé", "closed".
_PARTICIPLE = re.compile(r"(?:é|ée|és|ées|ed)$")
_INFINITIVE = re.compile(r"(?:er|ir|re)$")


def _is_order_echo(text: str, prompt_text: str, verbs: frozenset[str]) -> bool:
    """Whether an answer restates the request as an order: the request's verbs, nothing that confirms.

    True when every sentence opens with a verb of the request (a word of the prompt that is an action
    of the lexicons) in the request's own form or in the infinitive, and no word the request does not
    have is another form of a verb (a lexicon action in another form: "verrouillé", "monté"), an
    auxiliary or "done" (``_STATEMENT_WORDS``) or a past participle ("-é", "-ée", "-ed"). Added
    objects and complements do not confirm: "Verrouille l'écran et coupe le son." for "verrouille
    et coupe le son", "Augmenter la luminosité de l'écran." for "augmente la luminosité de l'écran".
    The first-person rule is checked by the caller.
    """
    if not verbs:
        return False
    prompt_words = _echo_words(prompt_text)
    request_verbs = {w for w in prompt_words if len(w) > SHORT_WORD and word_keys(w) & verbs}
    if not request_verbs:
        return False

    def request_verb(word: str) -> bool:
        """The request's verb as the request says it, or in the infinitive ("augmenter" for "augmente")."""
        if word in request_verbs:
            return True
        return bool(_INFINITIVE.search(word)) and any(word_keys(word) & word_keys(v) for v in request_verbs)

    unfilled = _FILLERS.sub(" ", text.lower())
    sentences = [re.findall(r"\w+", unfilled[a:b]) for a, b in _sentences(unfilled)]
    sentences = [s for s in sentences if s]
    if not sentences or not all(request_verb(s[0]) for s in sentences):
        return False
    for word in {w for s in sentences for w in s} - prompt_words:
        if request_verb(word):
            continue
        if len(word) > SHORT_WORD and word_keys(word) & verbs:
            return False  # another form of a verb: a confirmation such as "verrouillé" or "monté"
        if word in _STATEMENT_WORDS or word in _FIRST_PERSON_WORDS or _PARTICIPLE.search(word):
            return False
    return True


def _first_person_pairs(text: str) -> Iterator[tuple[str, str]]:
    """Yield (first-person subject, next word) pairs: ("je", "ferme"), ("j", "ouvre"), ("i", "m")."""
    words = re.findall(r"\w+", text.lower())
    for i, word in enumerate(words):
        if word in _FIRST_PERSON_WORDS:
            yield word, words[i + 1] if i + 1 < len(words) else ""


# A degenerate loop: one unit repeated LOOP_REPEATS times in a row over at least half of the answer,
# or, over LOOP_MIN_WORDS words or more, distinct words at most LOOP_MAX_DIVERSITY of them.
LOOP_REPEATS = 3
LOOP_MIN_WORDS = 10
LOOP_MAX_DIVERSITY = 0.4


def _loop_units(free: str, calls: Sequence[_Found]) -> list[str]:
    """The answer as the loop rule reads it: each call is one unit (its tool and arguments), each
    word of the free text another (lower-cased, accents kept), in the order they appear."""
    units = [(m.start(), m.group()) for m in re.finditer(r"\w+", free.lower())]
    for found in calls:
        if found.call is not None:
            arguments = json.dumps(found.call.arguments, sort_keys=True, ensure_ascii=False)
            units.append((found.start, f"{found.call.name or found.call.raw_name.lower()}({arguments})"))
    return [unit for _, unit in sorted(units)]


def _longest_repeat(units: Sequence[str]) -> int:
    """The length of the longest stretch made of one unit of words repeated LOOP_REPEATS times or more in a row.

    A stretch of period p is a run of units each equal to the one p before it; it counts when it is
    at least LOOP_REPEATS * p long (a cut-off last repeat counts for its words).
    """
    n, best = len(units), 0
    for period in range(1, n // LOOP_REPEATS + 1):
        run = 0
        for k in range(period, n):
            run = run + 1 if units[k] == units[k - period] else 0
            if run + period >= LOOP_REPEATS * period:
                best = max(best, run + period)
    return best


def is_loop(units: Sequence[str]) -> bool:
    """Whether an answer is a degenerate loop (flag ``loop``), read as units (``_loop_units``).

    - One unit of one or more words repeated LOOP_REPEATS (3) times in a row or more covers at
      least half of the answer: "cluster_status" seven times; "L'addition de l'addition de
      l'addition de ..."; "je suis JARVIS, je suis JARVIS, je suis JARVIS".
    - Or the answer has LOOP_MIN_WORDS (10) units or more and at most LOOP_MAX_DIVERSITY (40 %) of
      them are distinct: "The weather is a the weather of the the is a weather weather weather"
      (5 distinct of 14).

    Twice is not a loop: "Je coupe le son, je coupe le son." A plan or a list of different calls
    never loops, since each call is one unit: ``[{"name": "volume_mute"}, {"name": "lock_screen"}]``.
    """
    n = len(units)
    if n == 0:
        return False
    if 2 * _longest_repeat(units) >= n:
        return True
    return n >= LOOP_MIN_WORDS and len(set(units)) <= LOOP_MAX_DIVERSITY * n


# JARVIS commits to a tool in the first person: "j'appelle X", "j'utilise X", "I'll call X", "I use X".
_COMMITMENT = re.compile(
    r"(?:\bj'|\bje\s+)(?:appelle|utilise|exécute|execute|choisis|sélectionne|selectionne|retiens)\b"
    r"|\bI(?:'ll|\s+will|'m|\s+am)?\s+(?:call|calling|use|using|run|running|choose|choosing|pick|picking|select"
    r"|selecting)\b",
    re.IGNORECASE,
)


def _candidates(free: str, mentions: Sequence[_Found]) -> dict[int, str]:
    """Return the ids (position -> tool) named as candidates before a commitment to another tool.

    In a sentence where a first-person commitment (``_COMMITMENT``) is followed by an id, the ids
    named before the commitment that it does not name are the options JARVIS chose among:
    "Parmi volume_up, volume_down et volume_mute, j'appelle volume_mute." designates volume_mute.
    """
    out: dict[int, str] = {}
    for start, end in _sentences(free):
        commitment = _COMMITMENT.search(free, start, end)
        if commitment is None:
            continue
        committed = {f.tool for f in mentions if commitment.end() <= f.start < end}
        if committed:
            out |= {
                f.start: f.tool for f in mentions if start <= f.start < commitment.start() and f.tool not in committed
            }
    return out


def _is_recital(designated: set[str], expected: set[str], n_tools: int) -> bool:
    """|E| + 2 distinct tools or more, or more than half of the registry with one unrequested among them."""
    if len(designated) >= len(expected) + 2:
        return True
    return len(designated) > n_tools / 2 and not designated <= expected


def analyse(answer: str, prompt: str, expected: Iterable[str], tools: Sequence[Tool]) -> Analysis:
    """Read an answer the way the metric does: calls, mentions, refusals, recital, echo."""
    tools = tuple(tools)
    tool_ids = tuple(sorted(t.id for t in tools))
    text = strip_think(answer).translate(_APOSTROPHES)
    found, free = _extract_calls(text, tool_ids)
    calls = [f for f in found if f.call is not None]

    # Ids written in the free text (literal or one edit away) are mentions; "the X tool" is a description.
    chars = list(free)
    mentions: list[_Found] = []
    described: list[int] = []
    for token in _ID_TOKEN.finditer(free):
        designation = resolve_id(token.group(), tool_ids)
        if designation is None:
            continue
        mentions.append(_Found(designation.tool, token.start(), designation.malformed))
        before, after = free[max(0, token.start() - 8) : token.start()], free[token.end() : token.end() + 7]
        if _TOOL_WORD.search(before) or re.match(r"\s*tools?\b", after, re.IGNORECASE):
            described.append(token.start())
        _blank(chars, token.start(), token.end())
    lexical = "".join(chars)
    # Ids named before a first-person commitment to another id, in its sentence, are candidates.
    candidates = _candidates(free, mentions)
    mentions = [f for f in mentions if f.start not in candidates]

    lexicons = [_lexicon(t) for t in tools]
    questions: list[tuple[int, int]] = []
    segments = _segments(text)
    for start, end in _sentences(lexical):
        if _QUESTION_END.search(text[start:end].rstrip()):
            questions.append((start, end))
        for a, b in _clauses(lexical, start, end, segments):
            mentions += [_Found(tool, a) for tool in sorted(_clause_mentions(lexical[a:b], lexicons))]

    voided: list[tuple[int, int]] = []
    refusal = False
    for start, end in segments:
        piece = free[start:end]
        if is_refusal(piece, tools):
            refusal = True
            voided.append((start, end))
        elif not _FIRST_PERSON.search(piece) and (
            _INSTRUCTION.search(piece) or _DESCRIPTION.search(piece) or any(start <= d < end for d in described)
        ):
            # A description of a tool or an instruction to the user commits JARVIS to nothing,
            # unless JARVIS speaks in the first person ("J'utilise l'outil volume_up ...").
            voided.append((start, end))

    def inside(position: int, spans: Sequence[tuple[int, int]]) -> bool:
        return any(a <= position < b for a, b in spans)

    expected_set = set(expected)
    designated = {f.tool for f in (*calls, *mentions) if f.tool}
    recited = _is_recital(designated, expected_set, len(tools))
    weighed = designated | set(candidates.values())  # more than half of the registry is still a recital
    recited = recited or (len(weighed) > len(tools) / 2 and not weighed <= expected_set)
    malformed = any(f.malformed for f in (*calls, *mentions))
    kept_calls = [f for f in calls if not inside(f.start, voided)]
    kept_mentions = {f.tool for f in mentions if not inside(f.start, voided) and not inside(f.start, questions)}
    echo = not calls and is_echo(text, prompt, tools)
    if calls:  # calls decide: free text neither adds nor removes tools
        routed = {f.tool for f in kept_calls if f.tool}
    elif echo:
        routed = set()
    else:
        routed = kept_mentions
    loop = is_loop(_loop_units(free, calls))
    if recited or loop:
        routed = set()
    return Analysis(
        calls=tuple(f.call for f in calls if f.call is not None),
        routed=frozenset(routed),
        designated=frozenset(designated),
        mentioned=frozenset(f.tool for f in mentions),
        refusal=refusal,
        recited=recited,
        malformed=malformed,
        echo=echo,
        calls_kept=tuple(f.call for f in kept_calls if f.call is not None),
        loop=loop,
    )


def valid_call(analysis: Analysis, expected: Iterable[str]) -> float:
    """Return 1.0 when the answer's calls are exactly the expected tools, parseable and well spelt."""
    calls = analysis.calls
    if not calls or analysis.refusal or analysis.recited or analysis.loop:
        return 0.0
    if any(c.malformed or not c.name for c in calls):
        return 0.0
    return 1.0 if {c.name for c in calls} == set(expected) else 0.0


@dataclass(frozen=True)
class ToolMentions:
    """Which tools an answer designates (calls and free text), and which it only echoed from the prompt."""

    named: frozenset[str]
    echoed: frozenset[str]


def find_tools(answer: str, prompt: str, tools: Iterable[Tool]) -> ToolMentions:
    """Return every tool an answer designates by a call, an id or its lexicon, refusals and questions included.

    An answer that only echoes the prompt designates nothing; the tools its words name are ``echoed``.
    """
    tools = tuple(tools)
    analysis = analyse(answer, prompt, (), tools)
    if analysis.echo:
        return ToolMentions(named=frozenset(), echoed=analysis.mentioned)
    return ToolMentions(named=analysis.designated, echoed=frozenset())


def iter_flags(score: ArmScore) -> Iterator[str]:
    """Yield the names of the flags raised on a scored answer, in a fixed order."""
    for name in ("refusal", "recited", "echo", "malformed", "loop"):
        if getattr(score, name, False):
            yield name


def score_answer(answer: str, case: Case, tools: Sequence[Tool]) -> ArmScore:
    """Score one arm's answer to one case on keywords, JARVIS relevance and valid calls."""
    expected = set(case.expected_tools)
    analysis = analyse(answer, case.prompt, expected, tools)
    routed = analysis.routed
    return ArmScore(
        answer=answer,
        keyword_hits=keyword_hits(answer, case.keywords),
        keyword_total=len(case.keywords),
        relevance=f1(routed, expected),
        tools_named=tuple(sorted(routed)),
        tools_missing=tuple(sorted(expected - routed)),
        tools_extra=tuple(sorted(routed - expected)),
        echoed_tools=tuple(sorted(analysis.mentioned)) if analysis.echo else (),
        echo=analysis.echo,
        valid_call=valid_call(analysis, expected),
        calls=analysis.calls,
        refusal=analysis.refusal,
        recited=analysis.recited,
        malformed=analysis.malformed,
        loop=analysis.loop,
    )
