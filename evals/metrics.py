"""Pure metric functions over answers. Higher is better for all three.

- ``cosine_similarity``: TF-IDF over character n-grams between the two arms' answers.
- ``keyword_match``: how many of a case's keywords an answer contains (N/total).
- ``relevance``: F1 between the tools an answer names and the tools the case expects,
  where an alias that only echoes the prompt's own words earns nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from evals.records import ArmScore, Case, Tool

HIGHER_IS_BETTER = {"cosine_similarity": True, "keyword_match": True, "relevance": True}

_NON_WORD = re.compile(r"[^a-z0-9_]+")
# "18h" must yield the word "18": French writes times glued to their unit.
_DIGIT_LETTER = re.compile(r"(?<=[0-9])(?=[a-z])|(?<=[a-z])(?=[0-9])")
# Ligatures do not decompose under NFKD; without this "cœur" would split into "c" + "ur".
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss"})
_THINK = re.compile(r"<think>.*?(</think>|$)", re.DOTALL | re.IGNORECASE)
# Templates that open the block in the prompt leave the answer with a closing tag only.
_THINK_TAIL = re.compile(r"^.*</think>", re.DOTALL | re.IGNORECASE)
# Turning the request into the first person ("ferme la fenêtre" -> "Je ferme la fenêtre")
# is still an echo: these words never count as words an alias adds beyond the prompt.
_FIRST_PERSON = frozenset({"je", "j"})


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


def _beyond_first_person(words: Iterable[str]) -> set[str]:
    """Return the words minus "je"/"j'", or all of them when nothing else is left."""
    words = set(words)
    return (words - _FIRST_PERSON) or words


def _contains_phrase(haystack: Sequence[str], phrase: Sequence[str]) -> bool:
    n = len(phrase)
    if n == 0 or n > len(haystack):
        return False
    return any(list(haystack[i : i + n]) == list(phrase) for i in range(len(haystack) - n + 1))


def cosine_similarity(a: str, b: str) -> float:
    """Return the TF-IDF cosine (character 2-4-grams within words) of two answers, in [0, 1].

    Both empty -> 1.0 (identical answers); exactly one empty -> 0.0. The IDF is fitted on
    the pair alone so a case's score never depends on which other cases ran.
    """
    a, b = a.strip(), b.strip()
    if not a and not b:
        return 1.0
    if not a or not b:
        return 0.0
    from sklearn.feature_extraction.text import TfidfVectorizer

    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 4), strip_accents="unicode", lowercase=True)
    try:
        matrix = vectorizer.fit_transform([a, b])
    except ValueError:  # no n-gram at all (e.g. single characters); fall back to equality
        return 1.0 if fold(a) == fold(b) else 0.0
    # Rows are L2-normalised by TfidfVectorizer, so the dot product is the cosine.
    value = float(matrix[0].multiply(matrix[1]).sum())
    return min(1.0, max(0.0, value))


def keyword_hits(answer: str, keywords: Iterable[str]) -> int:
    """Count the keywords found as whole words in the answer, ignoring case and accents."""
    words = tokens(answer)
    return sum(1 for kw in keywords if _contains_phrase(words, tokens(kw)))


def keyword_match(answer: str, keywords: Sequence[str]) -> float:
    """Return keyword hits / number of keywords (0.0 when the case has none)."""
    return keyword_hits(answer, keywords) / len(keywords) if keywords else 0.0


@dataclass(frozen=True)
class ToolMentions:
    """Which tools an answer names, and which it only echoed from the prompt."""

    named: frozenset[str]
    echoed: frozenset[str]


def find_tools(answer: str, prompt: str, tools: Iterable[Tool]) -> ToolMentions:
    """Find the tools an answer names by id, id with spaces, or alias.

    A literal id (``volume_up``) always counts: it is a tool call. A phrase (the id with
    spaces, or an alias) counts only if it adds a word the prompt does not contain;
    otherwise the answer merely repeats the request and the tool goes to ``echoed``.
    "je"/"j'" is not such a word: "Je ferme la fenêtre" repeats "ferme la fenêtre".
    """
    answer_folded = fold(answer)
    answer_words = tokens(answer)
    prompt_words = set(tokens(prompt))
    named: set[str] = set()
    echoed: set[str] = set()
    for tool in tools:
        if re.search(rf"(?<![a-z0-9_]){re.escape(tool.id.lower())}(?![a-z0-9_])", answer_folded):
            named.add(tool.id)
            continue
        for phrase in (tool.id, *tool.aliases):
            words = tokens(phrase)
            if not _contains_phrase(answer_words, words):
                continue
            if _beyond_first_person(words) <= prompt_words:
                echoed.add(tool.id)
            else:
                named.add(tool.id)
                break
    return ToolMentions(named=frozenset(named), echoed=frozenset(echoed - named))


def f1(named: Iterable[str], expected: Iterable[str]) -> float:
    """Return the F1 of a named set against an expected set; 0.0 when nothing is named."""
    named_set, expected_set = set(named), set(expected)
    hits = len(named_set & expected_set)
    if not named_set or not expected_set or hits == 0:
        return 0.0
    precision, recall = hits / len(named_set), hits / len(expected_set)
    return 2 * precision * recall / (precision + recall)


def is_echo(answer: str, prompt: str, mentions: ToolMentions) -> bool:
    """Flag an answer that repeats the request instead of routing it.

    True when the answer names no tool and either every word of it is a word of the prompt
    ("je"/"j'" aside) or it names tools only through the prompt's own words. An answer that
    names a tool routed the request, even in the prompt's words ("cluster_status" to
    "status cluster").
    """
    words = tokens(answer)
    if not words or mentions.named:
        return False
    return bool(mentions.echoed) or _beyond_first_person(words) <= set(tokens(prompt))


def score_answer(answer: str, case: Case, tools: Sequence[Tool]) -> ArmScore:
    """Score one arm's answer to one case on keywords and JARVIS relevance."""
    mentions = find_tools(answer, case.prompt, tools)
    expected = set(case.expected_tools)
    return ArmScore(
        answer=answer,
        keyword_hits=keyword_hits(answer, case.keywords),
        keyword_total=len(case.keywords),
        relevance=f1(mentions.named, expected),
        tools_named=tuple(sorted(mentions.named)),
        tools_missing=tuple(sorted(expected - mentions.named)),
        tools_extra=tuple(sorted(mentions.named - expected)),
        echoed_tools=tuple(sorted(mentions.echoed)),
        echo=is_echo(answer, case.prompt, mentions),
    )
