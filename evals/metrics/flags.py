"""The flags that void an answer's routing: refusal, echo of the request, degenerate loop, recital.

Each rule is stated with examples in docs/metrics.md; ``relevance.analyse`` applies them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from functools import lru_cache
from typing import Literal

from evals.backends.prompting import strip_think
from evals.metrics.calls import ID_TOKEN, Found, resolve_id
from evals.metrics.text import APOSTROPHES, SHORT_WORD, compile_lexicon, lex_words, sentence_spans, word_keys
from evals.records import ArmScore, Tool

# The flags an ``ArmScore`` carries (its boolean fields of the same names), in report order.
FlagName = Literal["refusal", "recited", "echo", "malformed", "loop"]
FLAGS: tuple[FlagName, ...] = ("refusal", "recited", "echo", "malformed", "loop")

# -- refusal ------------------------------------------------------------------------------------

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


@lru_cache(maxsize=1)
def _ability_keys() -> frozenset[str]:
    return frozenset(k for w in _ABILITY for k in word_keys(w))


@lru_cache(maxsize=64)
def _action_keys(tools: tuple[Tool, ...]) -> frozenset[str]:
    """Every key of every intent action of the registry (what a negation can negate)."""
    keys: set[str] = set()
    for tool in tools:
        for intent in compile_lexicon(tool).intents:
            for entry in intent.actions:
                for word in entry.words:
                    keys |= word
    return frozenset(keys)


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
    return _negates(lex_words(text), denied)


# -- echo ---------------------------------------------------------------------------------------

_FIRST_PERSON_WORDS = frozenset({"je", "j", "i"})

# Words that never make an answer more than an echo of the request.
_FILLERS = re.compile(
    r"\b(?:ok|okay|oui|yes|d'accord|bien sûr|très bien|s'il te plaît|s'il vous plaît|stp|svp|please"
    r"|user|utilisateur|assistant|jarvis)\b",
    re.IGNORECASE,
)


def _echo_words(text: str) -> set[str]:
    """Words as the echo rule compares them: lower-cased, accents kept, fillers dropped."""
    return set(re.findall(r"\w+", _FILLERS.sub(" ", text.lower())))


def is_echo(answer: str, prompt: str, tools: Sequence[Tool] = ()) -> bool:
    """Whether an answer only repeats the request in its own form, or restates it as an order.

    A recital of the system prompt's instructions (``instruction_spans``) is left out first, so an
    echo mixed with one is still an echo.

    True when every word of the answer (case- and punctuation-insensitive, accent-sensitive,
    fillers such as "ok", "d'accord", "oui" dropped) is a word of the prompt, and any first-person
    subject it has stands in the prompt before the same word. A first-person subject ("Je ferme
    la fenêtre.") or a change of form ("verrouillé", "scanne" for "scan") makes it a
    confirmation, not an echo.

    With the suite's ``tools``, also True for an order that restates the request (``_is_order_echo``):
    "Augmenter la luminosité de l'écran." for "augmente la luminosité de l'écran".
    """
    text = _without_instructions(strip_think(answer).translate(APOSTROPHES), tuple(t.id for t in tools))
    prompt_text = prompt.translate(APOSTROPHES)
    words = _echo_words(text)
    if not words or not _first_person_of_the_request(text, prompt_text):
        return False
    return words <= _echo_words(prompt_text) or _is_order_echo(text, prompt_text, _verb_keys(tuple(tools)))


_QUOTE = re.compile(r'"([^"\n]*)"|«([^»\n]*)»')


def quoted_request_spans(text: str, prompt: str) -> list[tuple[int, int]]:
    """The quotations of the request: text in quotes of two words or more, every one a word of the prompt.

    Quoting the request names it, it does not do it: 'La phrase "Mets le volume plus fort" est…'.
    """
    prompt_words = _echo_words(prompt.translate(APOSTROPHES))
    spans = []
    for match in _QUOTE.finditer(text):
        words = re.findall(r"\w+", _FILLERS.sub(" ", match.group().lower()))
        if len(words) >= 2 and set(words) <= prompt_words:
            spans.append(match.span())
    return spans


# A request this long copied word for word is a repetition, never a confirmation in its own words.
VERBATIM_MIN_WORDS = 5


def verbatim_request_spans(text: str, prompt: str) -> list[tuple[int, int]]:
    """Where the answer copies the whole request word for word (five words or more), case and spacing aside.

    A weak base model repeats the request inside other text ("Il est bon, le cluster a planté,
    vérifie son état…"): repeating is not routing, so the copy names nothing.
    """
    words = re.findall(r"\w+", prompt.translate(APOSTROPHES).lower())
    if len(words) < VERBATIM_MIN_WORDS:
        return []
    pattern = re.compile(r"\W+".join(re.escape(w) for w in words), re.IGNORECASE)
    # "Je mets la musique en pause." confirms in the request's words: a first-person copy is kept.
    first_person = re.compile(r"(?:\bje\s+|\bj')$", re.IGNORECASE)
    text = text.translate(APOSTROPHES)
    return [m.span() for m in pattern.finditer(text) if not first_person.search(text[: m.start()])]


def _without_instructions(text: str, tool_ids: Sequence[str]) -> str:
    """The answer with its recital of the instructions blanked: an echo stays an echo when the model
    goes on reciting its system prompt ("Monte le son, l'assistant vocal francophone. Les demandes…")."""
    chars = list(text)
    for a, b in instruction_spans(text, tool_ids):
        chars[a:b] = " " * (b - a)
    return "".join(chars)


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
                words = lex_words(action)
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
    sentences = [re.findall(r"\w+", unfilled[a:b]) for a, b in sentence_spans(unfilled)]
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


# -- loop ---------------------------------------------------------------------------------------

# A degenerate loop: one unit repeated LOOP_REPEATS times in a row over at least half of the answer,
# or, over LOOP_MIN_WORDS words or more, distinct words at most LOOP_MAX_DIVERSITY of them.
LOOP_REPEATS = 3
LOOP_MIN_WORDS = 10
LOOP_MAX_DIVERSITY = 0.4


def loop_units(free: str, calls: Sequence[Found]) -> list[str]:
    """The answer as the loop rule reads it: each call is one unit (its tool and arguments), each
    word of the free text another (lower-cased, accents kept), in the order they appear. Arguments
    that did not parse as key=value or JSON stay text, and their words are units too."""
    units = [(m.start(), m.group()) for m in re.finditer(r"\w+", free.lower())]
    for found in calls:
        if found.call is not None:
            arguments = found.call.arguments
            if isinstance(arguments, str) and arguments.strip():
                # Arguments left as text are read as words: "music_play(music_create(music_create(…" loops.
                units += [(found.start + 1 + k, w) for k, w in enumerate(re.findall(r"\w+", arguments.lower()))]
                arguments = ""
            arguments = json.dumps(arguments, sort_keys=True, ensure_ascii=False)
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
    """Whether an answer is a degenerate loop (flag ``loop``), read as units (``loop_units``).

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


# -- recital and the flags of a score ------------------------------------------------------------

# Phrases of the shipped system prompts (suite 1.x and 2.0, both formats) that no answer to a request
# needs: a model that writes one is reciting its instructions, not answering. "Outils :" counts when a
# tool id follows it (the prompt's list), checked by the caller.
_INSTRUCTIONS = re.compile(
    r"\btu es jarvis\b|\bassistant vocal francophone\b|\breconnaissance vocale\b|\bdemandes viennent\b"
    r"|\bcontenir des fautes\b|\bcomprends? l'intention\b|\bune seule ligne\b|\bcourte confirmation\b"
    r"|\bidentifiant de l'outil\b|\bl'outil à appeler\b|\bl'appel de l'outil\b|\bavec ses arguments\b"
    r"|\bun tiret\b|\bsi la demande est une action\b|\bsi rien n'est à faire\b|\bsans (?:appeler d')?outils?\b"
    r"|\bremerciement, salutation\b|\boutil\(argument\b",
    re.IGNORECASE,
)
TOOL_LIST_HEADER = re.compile(r"\boutils?\s*:\s*", re.IGNORECASE)


def instruction_spans(text: str, tool_ids: Sequence[str] = ()) -> list[tuple[int, int]]:
    """The pieces of an answer (cut at sentence ends, "," and ":") that recite the system prompt's
    instructions: those that overlap a phrase of ``_INSTRUCTIONS``, or the tool list from "Outils :" before
    a tool id to the end of its sentence."""
    hits = [m.span() for m in _INSTRUCTIONS.finditer(text)]
    for header in TOOL_LIST_HEADER.finditer(text):
        token = ID_TOKEN.match(text, header.end())
        if token and resolve_id(token.group(), tool_ids) is not None:
            end = re.compile(r"[.!?…](?=\s|$)|\n").search(text, header.end())
            hits.append((header.start(), end.start() if end else len(text)))  # the list runs to its sentence's end
    if not hits:
        return []
    cuts = sorted({0, len(text), *(m.end() for m in re.finditer(r"[.!?…,:;\n]+", text))})
    pieces = [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if a < b]
    return [(a, b) for a, b in pieces if any(a < end and start < b for start, end in hits)]


def is_recital(designated: set[str], expected: set[str], n_tools: int) -> bool:
    """|E| + 2 distinct tools or more, or more than half of the registry with one unrequested among them."""
    if len(designated) >= len(expected) + 2:
        return True
    return len(designated) > n_tools / 2 and not designated <= expected


def iter_flags(score: ArmScore) -> Iterator[FlagName]:
    """Yield the names of the flags raised on a scored answer, in a fixed order."""
    for name in FLAGS:
        if getattr(score, name, False):
            yield name
