"""Relevance assembled: an answer's calls and free-text mentions, voided by the flags, scored.

``analyse`` reads one answer (calls from ``calls``, mentions by the suite's lexicons, flags from
``flags``); ``score_answer`` turns that into an ``ArmScore`` (keywords, relevance F1, valid_call).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from evals.backends.prompting import strip_think
from evals.metrics.calls import ID_TOKEN, LEAD_SKIP, Found, blank, extract_calls, resolve_id
from evals.metrics.flags import (
    instruction_spans,
    is_echo,
    is_loop,
    is_recital,
    is_refusal,
    loop_units,
    quoted_request_spans,
    verbatim_request_spans,
)
from evals.metrics.text import (
    APOSTROPHES,
    SENTENCE_END,
    Entry,
    Lexicon,
    compile_lexicon,
    keyword_hits,
    lex_words,
    sentence_spans,
    spans_at,
    word_keys,
)
from evals.records import ArmScore, Call, Case, Tool

# The version of the scoring rules as a whole (results record it; docs/metrics.md tells each version).
METRIC_VERSION = "4"
# The four metrics, by name.
MetricName = Literal["cosine_similarity", "keyword_match", "relevance", "valid_call"]
HIGHER_IS_BETTER: dict[MetricName, bool] = {
    "cosine_similarity": True,
    "keyword_match": True,
    "relevance": True,
    "valid_call": True,
}
# An answer "routes" a request when its relevance reaches this (jarvis-evals validate-metric).
ROUTED_THRESHOLD = 0.5


def f1(named: Iterable[str], expected: Iterable[str]) -> float:
    """Return the F1 of a named set against an expected set; 0.0 when nothing is named."""
    named_set, expected_set = set(named), set(expected)
    hits = len(named_set & expected_set)
    if not named_set or not expected_set or hits == 0:
        return 0.0
    precision, recall = hits / len(named_set), hits / len(expected_set)
    return 2 * precision * recall / (precision + recall)


def relevance(routed: Iterable[str], expected: Iterable[str]) -> float:
    """F1 of the routed tools against the expected ones; a case that expects no tool (small talk)
    scores 1.0 when nothing is routed and 0.0 otherwise, since F1 is undefined on two empty sets."""
    routed_set, expected_set = set(routed), set(expected)
    if not expected_set:
        return 0.0 if routed_set else 1.0
    return f1(routed_set, expected_set)


# -- segments and what voids them ----------------------------------------------------------------

# Only a contrastive conjunction splits an answer into segments: a refusal voids its own segment.
_CONTRAST = re.compile(r"\b(?:mais|but|par contre|however|en revanche|cependant|toutefois|néanmoins)\b", re.IGNORECASE)

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
_TOOL_WORD = re.compile(r"\b(?:outils?|tools?)\b", re.IGNORECASE)
_QUESTION_END = re.compile(r"\?[\s\"')»]*$")


def _segments(text: str) -> list[tuple[int, int]]:
    return spans_at(text, (m.start() for m in _CONTRAST.finditer(text)))


# -- free-text mentions -------------------------------------------------------------------------


def _matches(
    entry: Entry, words: Sequence[frozenset[str]], contiguous: bool, present: frozenset[str] | None = None
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


def _clause_mentions(clause: str, lexicons: Sequence[Lexicon]) -> set[str]:
    """Return the tools a clause names; what follows a colon is the content of a tool named before it.

    "Rappel créé : envoyer le rapport à midi" names reminder_create only; "Demain à Nice :
    24 °C" names no tool before its colon, so the whole clause is read.
    """
    head, colon, _ = clause.partition(":")
    if colon:
        named = _sentence_mentions(lex_words(head), lexicons)
        if named:
            return named
    return _sentence_mentions(lex_words(clause), lexicons)


def _sentence_mentions(words: Sequence[str], lexicons: Sequence[Lexicon]) -> set[str]:
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


# JARVIS commits to a tool in the first person: "j'appelle X", "j'utilise X", "I'll call X", "I use X".
_COMMITMENT = re.compile(
    r"(?:\bj'|\bje\s+)(?:appelle|utilise|exécute|execute|choisis|sélectionne|selectionne|retiens)\b"
    r"|\bI(?:'ll|\s+will|'m|\s+am)?\s+(?:call|calling|use|using|run|running|choose|choosing|pick|picking|select"
    r"|selecting)\b",
    re.IGNORECASE,
)


# An invented label: an id-shaped token with "_" that designates no tool ("open_firefox", "chrome_open").
_INVENTED_CALL = re.compile(r"(?<![\w-])([A-Za-z][A-Za-z0-9]*_[A-Za-z0-9_-]*[A-Za-z0-9])\s*\(")


def _invented_labels(free: str, tool_ids: Sequence[str]) -> list[tuple[int, int]]:
    """Return the spans of invented labels: where a call would stand (leading a sentence, or before
    "("), a token with "_" that designates no tool. Its words still name what it says
    ("chrome_open" names open_app), but it is read apart from the words around it."""
    spans: set[tuple[int, int]] = set()
    for start in [0, *(m.end() for m in SENTENCE_END.finditer(free))]:
        skip = LEAD_SKIP.match(free, start)
        token = ID_TOKEN.match(free, skip.end() if skip else start)
        if token and "_" in token.group() and resolve_id(token.group(), tool_ids) is None:
            spans.add(token.span())
    for match in _INVENTED_CALL.finditer(free):
        if resolve_id(match.group(1), tool_ids) is None:
            spans.add(match.span(1))
    return sorted(spans)


def _candidates(free: str, mentions: Sequence[Found]) -> dict[int, str]:
    """Return the ids (position -> tool) named as candidates before a commitment to another tool.

    In a sentence where a first-person commitment (``_COMMITMENT``) is followed by an id, the ids
    named before the commitment that it does not name are the options JARVIS chose among:
    "Parmi volume_up, volume_down et volume_mute, j'appelle volume_mute." designates volume_mute.
    """
    out: dict[int, str] = {}
    for start, end in sentence_spans(free):
        commitment = _COMMITMENT.search(free, start, end)
        if commitment is None:
            continue
        committed = {f.tool for f in mentions if commitment.end() <= f.start < end}
        if committed:
            out |= {
                f.start: f.tool for f in mentions if start <= f.start < commitment.start() and f.tool not in committed
            }
    return out


def analyse(answer: str, prompt: str, expected: Iterable[str], tools: Sequence[Tool]) -> Analysis:
    """Read an answer the way the metric does: calls, mentions, refusals, recital, echo."""
    tools = tuple(tools)
    tool_ids = tuple(sorted(t.id for t in tools))
    text = strip_think(answer).translate(APOSTROPHES)
    found, free = extract_calls(text, tool_ids)
    calls = [f for f in found if f.call is not None]

    # Ids written in the free text (literal or one edit away) are mentions; "the X tool" is a description.
    chars = list(free)
    mentions: list[Found] = []
    described: list[int] = []
    for token in ID_TOKEN.finditer(free):
        designation = resolve_id(token.group(), tool_ids)
        if designation is None:
            continue
        mentions.append(Found(designation.tool, token.start(), designation.malformed))
        before, after = free[max(0, token.start() - 8) : token.start()], free[token.end() : token.end() + 7]
        if _TOOL_WORD.search(before) or re.match(r"\s*tools?\b", after, re.IGNORECASE):
            described.append(token.start())
        blank(chars, token.start(), token.end())
    # Invented labels are read on their own: their words must not join the words that follow them.
    lexicons = [compile_lexicon(t) for t in tools]
    labelled: list[Found] = []
    for a, b in _invented_labels(free, tool_ids):
        labelled += [Found(tool, a) for tool in sorted(_sentence_mentions(lex_words(free[a:b]), lexicons))]
        blank(chars, a, b)
    for a, b in [*quoted_request_spans(free, prompt), *verbatim_request_spans(free, prompt)]:
        blank(chars, a, b)
    lexical = "".join(chars)
    # Ids named before a first-person commitment to another id, in its sentence, are candidates.
    candidates = _candidates(free, mentions)
    mentions = [f for f in mentions if f.start not in candidates]

    questions: list[tuple[int, int]] = []
    segments = _segments(text)
    for start, end in sentence_spans(lexical):
        if _QUESTION_END.search(text[start:end].rstrip()):
            questions.append((start, end))
        for a, b in _clauses(lexical, start, end, segments):
            mentions += [Found(tool, a) for tool in sorted(_clause_mentions(lexical[a:b], lexicons))]

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

    kept_mentions = {f.tool for f in mentions if not inside(f.start, voided) and not inside(f.start, questions)}
    label_tools = {f.tool for f in labelled if not inside(f.start, voided)}
    if label_tools and kept_mentions and not label_tools & kept_mentions:
        # The words commit to another action than the invented label: a reader cannot tell which one
        # JARVIS will do, as with a wrong call ("open_firefox — Je verrouille l'écran."), so neither routes.
        kept_mentions = set()
    else:
        kept_mentions |= label_tools
    mentions += labelled

    expected_set = set(expected)
    designated = {f.tool for f in (*calls, *mentions) if f.tool}
    recited = is_recital(designated, expected_set, len(tools))
    weighed = designated | set(candidates.values())  # more than half of the registry is still a recital
    recited = recited or (len(weighed) > len(tools) / 2 and not weighed <= expected_set)
    # Reciting the system prompt's instructions is a recital too, whatever else the answer says.
    recital = instruction_spans(text, tool_ids)
    recited = recited or bool(recital)
    malformed = any(f.malformed for f in (*calls, *mentions))
    kept_calls = [f for f in calls if not inside(f.start, voided)]
    # Calls inside a recital ("Outils : volume_up(step, level), ...") are the prompt's, not the answer's.
    echo = not any(not inside(f.start, recital) for f in calls) and is_echo(text, prompt, tools)
    if calls:  # calls decide: free text neither adds nor removes tools
        routed = {f.tool for f in kept_calls if f.tool}
    elif echo:
        routed = set()
    else:
        routed = kept_mentions
    loop = is_loop(loop_units(free, calls))
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
    """Return 1.0 when the answer's calls are exactly the expected tools, parseable and well spelt.

    A case that expects no tool (small talk) is answered validly by words alone: 1.0 when there is no call.
    """
    calls = analysis.calls
    if not set(expected):
        return 0.0 if calls else 1.0
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


def _acts(analysis: Analysis) -> bool:
    """Whether an answer reaches for tools even though nothing is routed: a recital, or calls in a loop.

    Recitals and loops route nothing so that a tool case gets no credit for them; a case that expects
    no tool must not get credit for them either.
    """
    return analysis.recited or (analysis.loop and bool(analysis.calls))


def score_answer(answer: str, case: Case, tools: Sequence[Tool]) -> ArmScore:
    """Score one arm's answer to one case on keywords, JARVIS relevance and valid calls."""
    expected = set(case.expected_tools)
    analysis = analyse(answer, case.prompt, expected, tools)
    routed = analysis.routed
    return ArmScore(
        answer=answer,
        keyword_hits=keyword_hits(answer, case.keywords),
        keyword_total=len(case.keywords),
        relevance=relevance(routed, expected) if expected or not _acts(analysis) else 0.0,
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
