"""Tables of cases for the pure metrics: words, keywords, cosine, F1, and relevance version 2
(calls, lexicon mentions, refusals, recitals, typos, echoes, questions) with valid_call."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from evals.backends.prompting import strip_think
from evals.metrics import (
    HIGHER_IS_BETTER,
    METRIC_VERSION,
    Designation,
    cosine_similarity,
    f1,
    find_tools,
    fold,
    is_echo,
    is_refusal,
    keyword_hits,
    keyword_match,
    parse_calls,
    resolve_id,
    score_answer,
    tokens,
    word_keys,
)
from evals.records import ArmScore, Call, Case, Intent, ScoredCase, Tool, decode, encode
from evals.suite import load_suite
from tests.factories import pair_stats as stats
from tests.factories import pair_summary as summarize

# Loaded at import because the whole-suite tables below are parametrized over its cases.
SUITE = load_suite()
TOOLS = SUITE.tools
IDS = SUITE.tool_ids
CASES = {case.id: case for case in SUITE.cases}


def _case(prompt: str, expected: tuple[str, ...] = ("volume_up",), keywords: tuple[str, ...] = ("son",)) -> Case:
    return Case(id="t", category="commands", prompt=prompt, expected_tools=expected, keywords=keywords)


def _score(answer: str, prompt: str, expected: str) -> ArmScore:
    return score_answer(answer, _case(prompt, tuple(expected.split(","))), TOOLS)


def test_every_metric_declares_higher_is_better() -> None:
    assert HIGHER_IS_BETTER == {
        "cosine_similarity": True,
        "keyword_match": True,
        "relevance": True,
        "valid_call": True,
    }
    assert METRIC_VERSION == "4"


def test_importing_the_metrics_loads_no_lemmatizer_until_used() -> None:
    """The plugin imports scoring lazily, but even metrics itself defers simplemma, snowball and rapidfuzz."""
    code = (
        "import sys, evals.metrics; "
        "print([m for m in ('simplemma', 'snowballstemmer', 'rapidfuzz', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- words ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Luminosité", "luminosite", id="accent"),
        pytest.param("ÉCRAN Fenêtre", "ecran fenetre", id="upper-case-accent"),
        pytest.param("cœur Æther", "coeur aether", id="ligatures"),
        pytest.param("crêpes ç à ù", "crepes c a u", id="cedilla-grave"),
    ],
)
def test_fold_lowercases_and_strips_accents(text: str, expected: str) -> None:
    assert fold(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("Monte le son.", ["monte", "le", "son"], id="punctuation"),
        pytest.param("L’écran d'accueil", ["l", "ecran", "d", "accueil"], id="apostrophes"),
        pytest.param("volume_up", ["volume", "up"], id="underscore-separates"),
        pytest.param("trouve-moi", ["trouve", "moi"], id="hyphen"),
        pytest.param("à 18h00", ["a", "18", "h", "00"], id="digits-glued-to-unit"),
        pytest.param("", [], id="empty"),
        pytest.param(" \n\t ", [], id="whitespace"),
        pytest.param("— !?", [], id="punctuation-only"),
    ],
)
def test_tokens(text: str, expected: list[str]) -> None:
    assert tokens(text) == expected


# -- strip_think ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("volume_up — ok", "volume_up — ok", id="no-block"),
        pytest.param("<think>l'utilisateur veut du son</think>\nvolume_up", "volume_up", id="closed"),
        pytest.param("<think>\nje réfléchis\nencore", "", id="unclosed-runs-to-end"),
        pytest.param("volume_up <think>hmm", "volume_up", id="unclosed-after-answer"),
        pytest.param("<THINK>a</Think> ok", "ok", id="case-insensitive"),
        pytest.param("<think>a</think>un <think>b</think>deux", "un deux", id="two-blocks"),
        pytest.param("raisonnement\n</think>\n\nvolume_up", "volume_up", id="lone-close-opened-by-template"),
        pytest.param("<think></think>", "", id="empty-block"),
        pytest.param("  ok  ", "ok", id="trims"),
    ],
)
def test_strip_think(raw: str, expected: str) -> None:
    assert strip_think(raw) == expected


# -- keywords ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "keywords", "hits"),
    [
        pytest.param("Je monte la luminosite", ["luminosité"], 1, id="accent-in-keyword-only"),
        pytest.param("Voici les CRÊPES", ["crepes"], 1, id="accent-and-case-in-answer-only"),
        pytest.param("météo demain à PARIS", ["weather", "Paris", "demain"], 2, id="case"),
        pytest.param("Tony!", ["Tony"], 1, id="punctuation-around"),
        # Decision: keywords are whole words, so "son" does not match inside "sonner".
        pytest.param("le réveil va sonner", ["son"], 0, id="no-match-inside-word"),
        pytest.param("chansons", ["son"], 0, id="no-match-at-word-end"),
        pytest.param("180 minutes", ["18"], 0, id="no-match-inside-number"),
        pytest.param("à 18h", ["18"], 1, id="number-glued-to-unit"),
        # Ids are words joined by underscores: each part is a word of the answer.
        pytest.param("volume_up — ok", ["volume"], 1, id="word-inside-id"),
        pytest.param("volume_up — ok", ["volume_up"], 1, id="id-keyword-literal"),
        pytest.param("Volume up !", ["volume_up"], 1, id="id-keyword-with-spaces"),
        pytest.param("up the volume", ["volume_up"], 0, id="id-keyword-word-order"),
        pytest.param("mets la musique en pause", ["en pause"], 1, id="phrase-keyword"),
        pytest.param("", ["son"], 0, id="empty-answer"),
        pytest.param("  \n ", ["son"], 0, id="whitespace-answer"),
        pytest.param("monte le son", [], 0, id="no-keywords"),
    ],
)
def test_keyword_hits(answer: str, keywords: list[str], hits: int) -> None:
    assert keyword_hits(answer, keywords) == hits


@pytest.mark.parametrize(
    ("answer", "keywords", "expected"),
    [
        pytest.param("reminder_create : appeler Pepper à 18h", ["reminder_create", "Pepper", "18"], 1.0, id="all"),
        pytest.param("appeler Pepper", ["reminder_create", "Pepper", "18"], 1 / 3, id="one-of-three"),
        pytest.param("", ["a", "b"], 0.0, id="empty-answer"),
        pytest.param("anything", [], 0.0, id="no-keywords"),
    ],
)
def test_keyword_match_is_hits_over_total(answer: str, keywords: list[str], expected: float) -> None:
    assert keyword_match(answer, keywords) == pytest.approx(expected)


# -- cosine -----------------------------------------------------------------------------


def test_cosine_tolerates_misspellings() -> None:
    misspelled = cosine_similarity("ouvre chrome", "ouvres crom")
    unrelated = cosine_similarity("ouvre chrome", "quelle est la météo demain à Paris")
    assert misspelled > 0.2
    assert misspelled > 3 * unrelated


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        pytest.param("", "", 1.0, id="both-empty"),
        pytest.param("  ", "\n", 1.0, id="both-whitespace"),
        pytest.param("", "volume_up", 0.0, id="first-empty"),
        pytest.param("volume_up", " ", 0.0, id="second-whitespace"),
        pytest.param("volume_up — ok", "volume_up — ok", 1.0, id="identical"),
        pytest.param("Luminosité", "luminosite", 1.0, id="case-and-accents-ignored"),
        pytest.param("a", "a", 1.0, id="single-char-identical"),
        pytest.param("abc", "xyz", 0.0, id="no-shared-ngram"),
    ],
)
def test_cosine_edges(a: str, b: str, expected: float) -> None:
    assert cosine_similarity(a, b) == pytest.approx(expected, abs=1e-9)


PAIRS = [
    ("ouvre chrome", "ouvres crom"),
    ("volume_up — ok", "Monte le son."),
    ("", "x"),
    ("<think>", "!!!"),
    ("open_app chrome", "open_app chrome — j'ouvre Chrome"),
    ("a", "b"),
]


@pytest.mark.parametrize(("a", "b"), PAIRS, ids=[f"{a!r}~{b!r}" for a, b in PAIRS])
def test_cosine_is_symmetric_and_in_unit_range(a: str, b: str) -> None:
    forward, backward = cosine_similarity(a, b), cosine_similarity(b, a)
    assert forward == pytest.approx(backward, abs=1e-12)
    assert 0.0 <= forward <= 1.0


# -- F1 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("named", "expected", "score"),
    [
        pytest.param({"a"}, {"a"}, 1.0, id="exact"),
        pytest.param({"a", "b"}, {"a", "b"}, 1.0, id="exact-two"),
        pytest.param({"a"}, {"a", "b"}, 2 / 3, id="one-of-two-named"),
        pytest.param({"a", "x"}, {"a"}, 2 / 3, id="extra-wrong-tool"),
        pytest.param({"a", "x", "y"}, {"a"}, 0.5, id="two-extra"),
        pytest.param({"a", "x"}, {"a", "b"}, 0.5, id="one-right-one-wrong"),
        pytest.param({"a", "b", "x"}, {"a", "b"}, 0.8, id="both-plus-extra"),
        pytest.param(set(), {"a"}, 0.0, id="nothing-named"),
        pytest.param({"x"}, {"a"}, 0.0, id="only-wrong"),
        pytest.param({"a"}, set(), 0.0, id="nothing-expected"),
        pytest.param(set(), set(), 0.0, id="both-empty"),
    ],
)
def test_f1(named: set[str], expected: set[str], score: float) -> None:
    assert f1(named, expected) == pytest.approx(score)


# -- words: lemmas and stems ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("word", "lexicon_word"),
    [
        pytest.param("monté", "monter", id="past-participle"),
        pytest.param("montons", "monter", id="first-person-plural"),
        pytest.param("monte", "monter", id="imperative-that-is-also-a-noun"),
        pytest.param("verrouillée", "verrouiller", id="feminine-participle"),
        pytest.param("réduis", "réduire", id="irregular-present"),
        pytest.param("opening", "open", id="english-progressive"),
        pytest.param("closed", "close", id="english-past"),
        pytest.param("sent", "send", id="english-irregular-past"),
        pytest.param("Luminosite", "luminosité", id="accent-and-case-free"),
    ],
)
def test_inflected_forms_meet_their_lexicon_word(word: str, lexicon_word: str) -> None:
    assert word_keys(word) & word_keys(lexicon_word)


@pytest.mark.parametrize(
    ("word", "other"),
    [
        pytest.param("te", "les", id="short-pronoun-is-its-own-key"),
        pytest.param("son", "sont", id="sound-is-not-are"),
        pytest.param("déverrouille", "verrouiller", id="unlock-is-not-lock"),
        pytest.param("montre", "monter", id="show-is-not-raise"),
        # Decision: irregular forms no lemmatizer maps are listed in the lexicon ("ouvert").
        pytest.param("ouvert", "ouvrir", id="irregular-participle-listed-instead"),
    ],
)
def test_unrelated_words_do_not_meet(word: str, other: str) -> None:
    assert not word_keys(word) & word_keys(other)


# -- tool ids and their misspellings: one rule for every spelling -------------------------------


@pytest.mark.parametrize(
    ("token", "expected"),
    [
        pytest.param("volume_up", Designation("volume_up", False), id="exact"),
        pytest.param("Volume_Up", Designation("volume_up", False), id="case-only-is-exact"),
        pytest.param("BRIGHTNESS_DOWN", Designation("brightness_down", False), id="upper-case"),
        pytest.param("volume-up", Designation("volume_up", True), id="hyphen-substitution"),
        pytest.param("volume__up", Designation("volume_up", True), id="double-underscore-insertion"),
        pytest.param("volumeup", Designation("volume_up", True), id="missing-underscore-deletion"),
        pytest.param("volum_up", Designation("volume_up", True), id="missing-letter"),
        pytest.param("volume_upp", Designation("volume_up", True), id="extra-letter"),
        pytest.param("volmue_up", Designation("volume_up", True), id="transposition"),
        pytest.param("wheather", Designation("weather", True), id="misspelt-word-id"),
        pytest.param("screen_shot", Designation("screenshot", True), id="extra-underscore"),
        pytest.param("volume_mut", Designation("volume_mute", True), id="only-one-id-within-one-edit"),
        pytest.param("volume_dowm", Designation("volume_down", True), id="typo-of-another-tool-designates-it"),
        pytest.param("volume", None, id="ambiguous-prefix"),
        pytest.param("status", None, id="ambiguous-word"),
        pytest.param("vlm_p", None, id="too-far"),
        pytest.param("statu_cluteur", None, id="mangled-request"),
        pytest.param("wetr", None, id="too-short-for-a-typo"),
    ],
)
def test_resolve_id(token: str, expected: Designation | None) -> None:
    assert resolve_id(token, IDS) == expected


def test_a_token_within_one_edit_of_two_ids_designates_nothing() -> None:
    assert resolve_id("tool_b", {"tool_a", "tool_c"}) is None
    assert resolve_id("tool_b", {"tool_a"}) == Designation("tool_a", True)


# -- calls, parsed as a runtime would -------------------------------------------------------------

CALLS = [
    # (answer, [(name, arguments, form, malformed)])
    pytest.param("volume_up — J'augmente le volume.", [("volume_up", "", "bare", False)], id="bare-leading"),
    pytest.param("`volume_mute` — Son coupé.", [("volume_mute", "", "bare", False)], id="bare-in-backticks"),
    pytest.param("**music_play** — Lecture.", [("music_play", "", "bare", False)], id="bare-in-bold"),
    pytest.param("- lock_screen", [("lock_screen", "", "bare", False)], id="bare-after-bullet"),
    pytest.param(
        "volume_down, music_play — c'est fait",
        [("volume_down", "", "bare", False), ("music_play", "", "bare", False)],
        id="leading-plan",
    ),
    pytest.param(
        "volume_down et music_play + screenshot",
        [("volume_down", "", "bare", False), ("music_play", "", "bare", False), ("screenshot", "", "bare", False)],
        id="plan-with-et-and-plus",
    ),
    pytest.param(
        "1. weather 2. reminder_create",
        [("weather", "", "bare", False), ("reminder_create", "", "bare", False)],
        id="numbered-plan",
    ),
    pytest.param(
        "weather — Demain : pluie. reminder_create — Rappel ajouté.",
        [("weather", "", "bare", False), ("reminder_create", "", "bare", False)],
        id="id-leading-each-sentence",
    ),
    pytest.param("volumeup — Volume augmenté.", [("volume_up", "", "bare", True)], id="bare-typo"),
    pytest.param('open_app(name="chrome")', [("open_app", {"name": "chrome"}, "function", False)], id="function"),
    pytest.param('open_app("Chrome")', [("open_app", '"Chrome"', "function", False)], id="function-text-args"),
    pytest.param("volume_up()", [("volume_up", {}, "function", False)], id="function-no-args"),
    pytest.param(
        "timer_set(minutes=5); music_play()",
        [("timer_set", {"minutes": 5}, "function", False), ("music_play", {}, "function", False)],
        id="two-functions",
    ),
    pytest.param("lockscreen()", [("lock_screen", {}, "function", True)], id="function-typo"),
    pytest.param(
        '{"name": "open_app", "arguments": {"app": "chrome"}}',
        [("open_app", {"app": "chrome"}, "json", False)],
        id="json-name-arguments",
    ),
    pytest.param('{"tool": "volume_up", "args": {}}', [("volume_up", {}, "json", False)], id="json-tool-args"),
    pytest.param(
        '{"tool_name": "volume_mute", "parameters": {}}', [("volume_mute", {}, "json", False)], id="json-tool-name"
    ),
    pytest.param(
        '{"action": "log_search", "query": "auth"}',
        [("log_search", {"query": "auth"}, "json", False)],
        id="json-flat-action",
    ),
    pytest.param(
        '{"function": {"name": "system_status", "arguments": "{\\"m\\": 1}"}}',
        [("system_status", {"m": 1}, "json", False)],
        id="json-openai-nested-string-arguments",
    ),
    pytest.param(
        '{"tool_calls": [{"function": {"name": "weather", "arguments": "{}"}}]}',
        [("weather", {}, "json", False)],
        id="json-tool-calls",
    ),
    pytest.param(
        '[{"name": "brightness_down"}, {"name": "lock_screen"}]',
        [("brightness_down", {}, "json", False), ("lock_screen", {}, "json", False)],
        id="json-array",
    ),
    pytest.param(
        '["cluster_status", "log_search"]',
        [("cluster_status", {}, "json", False), ("log_search", {}, "json", False)],
        id="json-array-of-ids",
    ),
    pytest.param(
        '```json {"tool": "mexc_scan", "args": {"market": "spot"}} ```',
        [("mexc_scan", {"market": "spot"}, "json", False)],
        id="json-in-a-fence",
    ),
    pytest.param('{"name": "", "arguments": {}}', [("", {}, "json", False)], id="json-empty-name-designates-nothing"),
    pytest.param(
        '<tool_call>{"name": "weather", "arguments": {"city": "Paris"}}</tool_call>',
        [("weather", {"city": "Paris"}, "tool_call", False)],
        id="qwen-tool-call",
    ),
    pytest.param(
        '<tool_call>{"name": "volume_down"}</tool_call><tool_call>{"name": "music_pause"}</tool_call>',
        [("volume_down", {}, "tool_call", False), ("music_pause", {}, "tool_call", False)],
        id="two-tool-call-blocks",
    ),
    pytest.param(
        '<think>volume_down ?</think> <tool_call>{"name": "lock_screen", "arguments": {}}</tool_call>',
        [("lock_screen", {}, "tool_call", False)],
        id="after-a-think-block",
    ),
    pytest.param('{"error": "lock_screen unavailable"}', [], id="json-without-a-name-is-no-call"),
    pytest.param("Je monte le son avec volume_up.", [], id="id-not-leading-is-a-mention"),
    pytest.param("Monte le son.", [], id="free-text"),
]


@pytest.mark.parametrize(("answer", "expected"), CALLS)
def test_parse_calls(answer: str, expected: list[tuple[str, object, str, bool]]) -> None:
    calls = parse_calls(answer, IDS)
    assert [(c.name, c.arguments, c.form, c.malformed) for c in calls] == expected


# -- relevance: one rule per table --------------------------------------------------------------

# (prompt, expected tools, answer, relevance, flags)
RELEVANCE = [
    # Calls decide: free text neither adds nor removes tools then.
    pytest.param("monte le son", "volume_up", "volume_up — je baisse le volume", 1.0, set(), id="call-beats-text"),
    pytest.param("mets pause", "music_pause", "music_play — Je mets la musique en pause.", 0.0, set(), id="wrong-call"),
    pytest.param(
        "baisse le son et mets de la musique",
        "volume_down,music_play",
        "volume_down",
        2 / 3,
        set(),
        id="one-of-two-calls",
    ),
    # Free text by meaning: intents (action x object) and phrases, inflections included.
    pytest.param("lance le son plus fort", "volume_up", "C'est fait, volume monté.", 1.0, set(), id="volume-monte"),
    pytest.param("verrouille le pc", "lock_screen", "PC verrouillé.", 1.0, set(), id="pc-verrouille"),
    pytest.param("ferme ça", "close_window", "Window closed.", 1.0, set(), id="window-closed"),
    pytest.param("ouvre spotify", "open_app", "Opening Spotify now.", 1.0, set(), id="english-progressive"),
    pytest.param("silence", "volume_mute", "Muted.", 1.0, set(), id="one-word-phrase"),
    pytest.param("plus de lumière", "brightness_up", "J'augmente la luminosité.", 1.0, set(), id="intent-fr"),
    pytest.param("monte le son", "volume_up", "Je baisse le volume.", 0.0, set(), id="right-object-wrong-action"),
    pytest.param("augmente la luminosité", "brightness_up", "J'augmente le volume.", 0.0, set(), id="wrong-object"),
    pytest.param("monte le volume", "volume_up", "Le son.", 0.0, set(), id="object-without-action"),
    pytest.param("météo Nice", "weather", "Demain à Lyon : 18 °C, ensoleillé.", 1.0, set(), id="forecast-result"),
    pytest.param("état du pc", "system_status", "CPU à 40 %, mémoire à 60 %.", 1.0, set(), id="status-result"),
    pytest.param(
        "cherche dans les logs", "log_search", "Je cherche dans les journaux.", 1.0, set(), id="longer-reading-wins"
    ),
    pytest.param("cherche les horaires", "web_search", "Je lance une recherche.", 1.0, set(), id="bare-search-is-web"),
    pytest.param(
        "mets la musique en pause", "music_pause", "Je mets la musique en pause.", 1.0, set(), id="pause-not-play"
    ),
    pytest.param(
        "baisse le son et verrouille l'écran",
        "volume_down,lock_screen",
        "Je baisse le son et je verrouille l'écran.",
        1.0,
        set(),
        id="two-clauses",
    ),
    pytest.param(
        "augmente la luminosité et le volume",
        "brightness_up,volume_up",
        "J'augmente la luminosité et le volume.",
        1.0,
        set(),
        id="one-action-two-objects",
    ),
    pytest.param(
        "rappelle-moi la réunion",
        "reminder_create",
        "Rappel créé : envoyer le rapport à midi.",
        1.0,
        set(),
        id="content-after-a-colon",
    ),
    pytest.param("monte le son", "volume_up", "J'utilise volume_up.", 1.0, set(), id="literal-id-mention"),
    # Refusal, negation and inability score 0, calls included; only a contrast splits segments.
    pytest.param(
        "ouvre spotify", "open_app", "Je n'arrive pas à ouvrir l'application.", 0.0, {"refusal"}, id="n-arrive-pas"
    ),
    pytest.param("monte le son", "volume_up", "Je ne peux pas monter le volume.", 0.0, {"refusal"}, id="ne-peux-pas"),
    pytest.param("ferme", "close_window", "I can't do that.", 0.0, {"refusal"}, id="cant"),
    pytest.param("ouvre chrome", "open_app", "Impossible d'ouvrir Chrome.", 0.0, {"refusal"}, id="impossible"),
    pytest.param("logs", "log_search", "Désolé, je n'ai pas accès aux logs.", 0.0, {"refusal"}, id="pas-acces"),
    pytest.param("coupe le son", "volume_mute", "Je ne coupe pas le son.", 0.0, {"refusal"}, id="negated-action"),
    pytest.param(
        "monte le son", "volume_up", "volume_up n'est pas disponible, désolé.", 0.0, {"refusal"}, id="id-in-refusal"
    ),
    pytest.param(
        "le cluster va bien ?",
        "cluster_status",
        "cluster_status : impossible de joindre le cluster",
        0.0,
        {"refusal"},
        id="call-in-refused-segment",
    ),
    pytest.param(
        "capture", "screenshot", "screenshot — erreur : pas la permission.", 0.0, {"refusal"}, id="error-status"
    ),
    pytest.param(
        "verrouille", "lock_screen", '{"error": "lock_screen unavailable"}', 0.0, {"refusal"}, id="error-json"
    ),
    pytest.param(
        "monte le son et la lumière",
        "volume_up,brightness_up",
        "Je ne peux pas monter le son, mais j'augmente la luminosité.",
        2 / 3,
        {"refusal"},
        id="contrast-keeps-the-other-segment",
    ),
    pytest.param(
        "coupe le son", "volume_mute", "Je coupe le son, tu n'entendras plus rien.", 1.0, set(), id="harmless-negation"
    ),
    pytest.param(
        "cherche les erreurs", "log_search", "Je cherche les erreurs dans les logs.", 1.0, set(), id="errors-as-object"
    ),
    # Reciting the tool list scores 0: |E| + 2 distinct tools, or more than half of the registry.
    pytest.param(
        "état du système",
        "system_status",
        "volume_up, volume_down, system_status, web_search, weather",
        0.0,
        {"recited"},
        id="recital",
    ),
    pytest.param(
        "coupe le son", "volume_mute", "volume_mute, volume_down, volume_up", 0.0, {"recited"}, id="three-of-one"
    ),
    pytest.param("monte le son", "volume_up", "volume_up, volume_down", 2 / 3, set(), id="right-plus-one-extra"),
    pytest.param(
        "vérifie le cluster et scanne mexc",
        "cluster_status,mexc_scan",
        "cluster_status, mexc_scan, log_search, system_status",
        0.0,
        {"recited"},
        id="four-of-two",
    ),
    pytest.param(
        "monte le son",
        "volume_up",
        "J'augmente le volume, la luminosité et je lance la musique.",
        0.0,
        {"recited"},
        id="free-text-naming-three",
    ),
    # Typos: one rule, flagged malformed.
    pytest.param("monte le son", "volume_up", "volume-up", 1.0, {"malformed"}, id="hyphen"),
    pytest.param("monte le son", "volume_up", "volumeup", 1.0, {"malformed"}, id="no-underscore"),
    pytest.param("monte le son", "volume_up", "volume_dowm", 0.0, {"malformed"}, id="typo-of-the-wrong-tool"),
    pytest.param("monte le son", "volume_up", "volume", 0.0, set(), id="ambiguous"),
    # Echo: only the request's own words (fillers aside) is an echo; a first person or a new form confirms.
    pytest.param("monte le son", "volume_up", "Monte le son.", 0.0, {"echo"}, id="echo"),
    pytest.param("monte le son", "volume_up", "Ok, monte le son.", 0.0, {"echo"}, id="echo-with-ok"),
    pytest.param("monte le son", "volume_up", "Monte le son, s'il te plaît.", 0.0, {"echo"}, id="echo-polite"),
    pytest.param("verrouille l'écran", "lock_screen", "User: verrouille l'écran", 0.0, {"echo"}, id="echo-role-tag"),
    pytest.param("ferme la fenêtre", "close_window", "Je ferme la fenêtre.", 1.0, set(), id="first-person"),
    pytest.param("scan MEXC", "mexc_scan", "Je scanne MEXC.", 1.0, set(), id="first-person-new-form"),
    # Version 3: an order that corrects a misheard request is still an order, not a confirmation.
    pytest.param("monte le sont", "volume_up", "Monte le son.", 0.0, {"echo"}, id="corrected-request-is-an-order"),
    pytest.param("monte le son", "volume_up", "volume_up : monte le son", 1.0, set(), id="leading-call-never-echo"),
    # A question with no call commits to nothing; a call before a question does.
    pytest.param("monte le son", "volume_up", "Voulez-vous que j'augmente le volume ?", 0.0, set(), id="question"),
    pytest.param("verrouille", "lock_screen", "Do you want me to lock the screen now?", 0.0, set(), id="question-en"),
    pytest.param(
        "ouvre un truc",
        "open_app",
        "open_app — Quelle application veux-tu ouvrir ?",
        1.0,
        set(),
        id="call-then-question",
    ),
    # Descriptions of a tool and instructions to the user commit to nothing.
    pytest.param("monte le son", "volume_up", "volume_up sert à monter le son.", 0.0, set(), id="description"),
    pytest.param(
        "baisse la luminosité",
        "brightness_down",
        "The brightness_down tool lowers the screen brightness.",
        0.0,
        set(),
        id="the-x-tool",
    ),
    pytest.param(
        "capture d'écran",
        "screenshot",
        "Pour faire une capture d'écran, appuyez sur la touche Impr écran.",
        0.0,
        set(),
        id="instruction-to-the-user",
    ),
    pytest.param(
        "monte le son",
        "volume_up",
        "J'utilise l'outil volume_up pour monter le son.",
        1.0,
        set(),
        id="first-person-tool",
    ),
    # Reasoning is ignored; nothing, or nothing but noise, routes nothing.
    pytest.param("baisse le son", "volume_down", "<think>volume_down</think>", 0.0, set(), id="only-thinking"),
    pytest.param("ouvre chrome", "open_app", "D'accord.", 0.0, set(), id="acknowledgement"),
    pytest.param("monte le son", "volume_up", "", 0.0, set(), id="empty"),
]


@pytest.mark.parametrize(("prompt", "expected", "answer", "relevance", "flags"), RELEVANCE)
def test_relevance(prompt: str, expected: str, answer: str, relevance: float, flags: set[str]) -> None:
    score = _score(answer, prompt, expected)
    assert score.relevance == pytest.approx(relevance)
    raised = {name for name in ("refusal", "recited", "malformed", "echo", "loop") if getattr(score, name)}
    assert raised == flags
    expected_set = set(expected.split(","))
    assert set(score.tools_missing) == expected_set - set(score.tools_named)
    assert set(score.tools_extra) == set(score.tools_named) - expected_set


# (prompt, expected tools, answer, valid_call)
VALID_CALL = [
    pytest.param("monte le son", "volume_up", "volume_up — ok", 1.0, id="bare"),
    pytest.param("monte le son", "volume_up", '<tool_call>{"name": "volume_up"}</tool_call>', 1.0, id="tool-call"),
    pytest.param("monte le son", "volume_up", "Volume_Up", 1.0, id="case-is-not-malformed"),
    pytest.param("monte le son", "volume_up", "volume-up", 0.0, id="malformed"),
    pytest.param("monte le son", "volume_up", "J'augmente le volume.", 0.0, id="free-text-is-no-call"),
    pytest.param("monte le son", "volume_up", "volume_up, volume_down", 0.0, id="extra-tool"),
    pytest.param("mets pause", "music_pause,lock_screen", "music_pause", 0.0, id="missing-tool"),
    pytest.param("a et b", "music_pause,lock_screen", "music_pause, lock_screen", 1.0, id="exact-set"),
    pytest.param("a et b", "music_pause,lock_screen", "lock_screen(); music_pause()", 1.0, id="order-free"),
    pytest.param("monte le son", "volume_up", "volume_up n'est pas disponible, désolé.", 0.0, id="refusal"),
    pytest.param("playlist", "music_play", '{"name": "", "arguments": {}}', 0.0, id="nameless-call"),
    pytest.param(
        "monte le son", "volume_up", "Je ne peux pas baisser, mais volume_up() est lancé.", 0.0, id="any-refusal"
    ),
]


@pytest.mark.parametrize(("prompt", "expected", "answer", "valid"), VALID_CALL)
def test_valid_call(prompt: str, expected: str, answer: str, valid: float) -> None:
    assert _score(answer, prompt, expected).valid_call == valid


@pytest.mark.parametrize(
    ("text", "refused"),
    [
        pytest.param("Je suis désolé.", True, id="apology"),
        pytest.param("Je n'ai pas la permission.", True, id="no-permission"),
        pytest.param("Je ne suis pas autorisé à le faire.", True, id="not-allowed"),
        pytest.param("I'm unable to do that.", True, id="unable"),
        pytest.param("I don't have permission.", True, id="english-negated-ability"),
        pytest.param("La commande a échoué.", True, id="failed"),
        pytest.param("Une erreur s'est produite.", True, id="an-error"),
        pytest.param("Je préfère ne pas envoyer ce message.", True, id="negated-infinitive-action"),
        pytest.param("Je coupe le son.", False, id="plain-confirmation"),
        pytest.param("Aucun souci, c'est fait.", False, id="no-negation"),
        pytest.param("Je cherche les erreurs nginx.", False, id="errors-searched"),
    ],
)
def test_is_refusal(text: str, refused: bool) -> None:
    assert is_refusal(text, TOOLS) is refused


@pytest.mark.parametrize(
    ("answer", "prompt", "echo"),
    [
        pytest.param("Monte le son.", "monte le son", True, id="verbatim"),
        pytest.param("son le monte", "monte le son", True, id="reordered"),
        pytest.param("D'accord : monte le son !", "monte le son", True, id="filler"),
        pytest.param("Monté le son.", "monte le son", False, id="accent-changes-the-form"),
        pytest.param("Je monte le son.", "monte le son", False, id="first-person"),
        pytest.param("J'ouvre Steam.", "j'ai besoin de steam, ouvre-le", False, id="first-person-before-a-new-verb"),
        pytest.param("Je n'y vois rien.", "je n'y vois rien", True, id="first-person-of-the-request"),
        pytest.param("Monte le son maintenant.", "monte le son", False, id="one-new-word"),
        pytest.param("D'accord.", "monte le son", False, id="filler-only"),
        pytest.param("", "monte le son", False, id="empty"),
    ],
)
def test_is_echo(answer: str, prompt: str, echo: bool) -> None:
    assert is_echo(answer, prompt) is echo


# -- version 3: loops, orders that restate the request, candidates before a commitment ------------

# (prompt, expected tools, answer, relevance, loop)
LOOPS = [
    # One unit repeated 3 times or more in a row over at least half of the answer.
    pytest.param("état du clusteur", "cluster_status", " ".join(["cluster_status"] * 7), 0.0, True, id="id-x7"),
    pytest.param("monte le son", "volume_up", "volume_up volume_up volume_up", 0.0, True, id="call-x3"),
    pytest.param(
        "monte le son", "volume_up", "L'addition de l'addition de l'addition de l'addition", 0.0, True, id="phrase"
    ),
    pytest.param("coupe le son", "volume_mute", "le le le le le le le le le le le", 0.0, True, id="one-word"),
    pytest.param(
        "monte le son", "volume_up", "Volume monté. Volume monté. Volume monté.", 0.0, True, id="confirmation-x3"
    ),
    pytest.param(
        "monte le son", "volume_up", "volume_up — " + "je suis JARVIS, " * 4, 0.0, True, id="call-then-a-loop"
    ),
    # Or 10 units or more, at most 40 % of them distinct.
    pytest.param(
        "quel temps à nantes",
        "weather",
        "The weather is a the weather of the the is a weather weather weather",
        0.0,
        True,
        id="word-salad",
    ),
    # Not loops: twice, plans, lists of calls, multi-tool confirmations, calls with other arguments.
    pytest.param("coupe le son", "volume_mute", "Je coupe le son, je coupe le son.", 1.0, False, id="twice"),
    pytest.param(
        "baisse et mets de la musique",
        "volume_down,music_play",
        "volume_down, music_play — c'est fait",
        1.0,
        False,
        id="plan",
    ),
    pytest.param(
        "baisse tout et verrouille",
        "brightness_down,lock_screen",
        '[{"name": "brightness_down", "arguments": {}}, {"name": "lock_screen", "arguments": {}}]',
        1.0,
        False,
        id="json-array-of-two",
    ),
    pytest.param(
        "coupe tout et verrouille",
        "volume_mute,lock_screen,music_pause",
        '<tool_call>{"name": "volume_mute", "arguments": {}}</tool_call>'
        '<tool_call>{"name": "lock_screen", "arguments": {}}</tool_call>'
        '<tool_call>{"name": "music_pause", "arguments": {}}</tool_call>',
        1.0,
        False,
        id="three-tool-call-blocks",
    ),
    pytest.param(
        "météo à paris, lyon et nice",
        "weather",
        'weather(city="Paris") weather(city="Lyon") weather(city="Nice")',
        1.0,
        False,
        id="same-tool-other-arguments",
    ),
    pytest.param(
        "baisse le son, mets de la musique et verrouille",
        "volume_down,music_play,lock_screen",
        "Je baisse le son, je mets de la musique et je verrouille l'écran.",
        1.0,
        False,
        id="multi-tool-confirmation",
    ),
]


@pytest.mark.parametrize(("prompt", "expected", "answer", "relevance", "loop"), LOOPS)
def test_a_degenerate_loop_scores_zero(prompt: str, expected: str, answer: str, relevance: float, loop: bool) -> None:
    score = _score(answer, prompt, expected)
    assert (score.relevance, score.loop) == (pytest.approx(relevance), loop)
    if loop:
        assert score.valid_call == 0.0 and score.tools_named == ()
    assert encode(score)["loop"] is loop and decode(ArmScore, encode(score)) == score


# (prompt, expected tools, answer, relevance, echo)
ORDERS = [
    # The request's verbs, as the request says them or in the infinitive, and nothing that confirms.
    pytest.param(
        "augmente la luminosité de l'écran",
        "brightness_up",
        "Augmenter la luminosité de l'écran.",
        0.0,
        True,
        id="infinitive",
    ),
    pytest.param(
        "verrouille et coupe le son",
        "lock_screen,volume_mute",
        "Verrouille l'écran et coupe le son.",
        0.0,
        True,
        id="imperatives-with-an-object-added",
    ),
    pytest.param("monte le son", "volume_up", "Monte le son maintenant.", 0.0, True, id="adverb-added"),
    pytest.param("monte le son", "volume_up", "Ok, monter le son au maximum !", 0.0, True, id="infinitive-and-more"),
    pytest.param(
        "ferme la fenêtre", "close_window", "Ferme la fenêtre. Ferme l'application.", 0.0, True, id="two-orders"
    ),
    # Confirmations stay credited: a first person, a participle, another form, an auxiliary, a subject.
    pytest.param("ferme la fenêtre", "close_window", "Je ferme la fenêtre.", 1.0, False, id="first-person"),
    pytest.param("scan MEXC", "mexc_scan", "Je scanne MEXC.", 1.0, False, id="first-person-new-form"),
    pytest.param("verrouille le pc", "lock_screen", "PC verrouillé.", 1.0, False, id="participle"),
    pytest.param("ferme la fenêtre", "close_window", "Window closed.", 1.0, False, id="english-participle"),
    pytest.param("monte le son", "volume_up", "Monte le son, c'est fait.", 1.0, False, id="order-then-done"),
    pytest.param("monte le son", "volume_up", "Monte le son : volume monté.", 1.0, False, id="order-then-participle"),
    pytest.param("monte le son", "volume_up", "Le volume monte.", 1.0, False, id="a-subject-opens-a-statement"),
    pytest.param(
        "verrouille l'écran",
        "lock_screen",
        "Verrouille l'écran. La session est verrouillée.",
        1.0,
        False,
        id="order-then-statement",
    ),
    pytest.param(
        "prends une capture d'écran maintenant",
        "screenshot",
        "Prise de la capture d'écran en cours.",
        1.0,
        False,
        id="nominal-announcement",
    ),
]


@pytest.mark.parametrize(("prompt", "expected", "answer", "relevance", "echo"), ORDERS)
def test_an_order_that_restates_the_request_is_an_echo(
    prompt: str, expected: str, answer: str, relevance: float, echo: bool
) -> None:
    score = _score(answer, prompt, expected)
    assert (score.relevance, score.echo) == (pytest.approx(relevance), echo)
    assert is_echo(answer, prompt, TOOLS) is echo


def test_the_order_rule_needs_the_lexicons_to_know_the_verbs() -> None:
    assert is_echo("Augmenter la luminosité de l'écran.", "augmente la luminosité de l'écran") is False
    assert is_echo("Augmenter la luminosité de l'écran.", "augmente la luminosité de l'écran", TOOLS) is True


# (prompt, expected tools, answer, relevance, recited)
COMMITMENTS = [
    pytest.param(
        "silence",
        "volume_mute",
        "Parmi volume_up, volume_down et volume_mute, j'appelle volume_mute.",
        1.0,
        False,
        id="candidates-then-commitment",
    ),
    pytest.param(
        "monte le son",
        "volume_up",
        "Between volume_down, volume_mute and volume_up, I'll call volume_up.",
        1.0,
        False,
        id="english",
    ),
    pytest.param(
        "silence",
        "volume_mute",
        "Parmi volume_up, volume_down et volume_mute, j'appelle volume_up.",
        0.0,
        False,
        id="commitment-to-the-wrong-tool",
    ),
    # No first-person commitment: the ids are a recital.
    pytest.param(
        "silence",
        "volume_mute",
        "Parmi volume_up, volume_down et volume_mute, volume_mute convient.",
        0.0,
        True,
        id="no-commitment",
    ),
    pytest.param(
        "silence",
        "volume_mute",
        "Je peux utiliser volume_up, volume_down ou volume_mute.",
        0.0,
        True,
        id="a-possibility-is-no-commitment",
    ),
    # More than half of the registry is a recital even with a commitment.
    pytest.param(
        "silence",
        "volume_mute",
        "Parmi " + ", ".join(sorted(IDS)[:11]) + " et volume_mute, j'appelle volume_mute.",
        0.0,
        True,
        id="half-the-registry",
    ),
]


@pytest.mark.parametrize(("prompt", "expected", "answer", "relevance", "recited"), COMMITMENTS)
def test_ids_named_before_a_commitment_are_candidates(
    prompt: str, expected: str, answer: str, relevance: float, recited: bool
) -> None:
    score = _score(answer, prompt, expected)
    assert (score.relevance, score.recited) == (pytest.approx(relevance), recited)


def test_registry_order_does_not_matter() -> None:
    answer, prompt = "Je baisse le son et je mets de la musique", "baisse le son et mets de la musique"
    case = _case(prompt, ("volume_down", "music_play"))
    assert score_answer(answer, case, TOOLS) == score_answer(answer, case, tuple(reversed(TOOLS)))


def test_empty_answer_scores_zero_everywhere() -> None:
    case = CASES["route_reminder"]
    score = score_answer("", case, TOOLS)
    assert (score.relevance, score.valid_call, score.keyword_hits, score.echo) == (0.0, 0.0, 0, False)
    assert score.keyword_total == 3
    assert score.tools_missing == ("reminder_create",)


def test_a_tool_with_aliases_only_is_found_by_them_as_phrases() -> None:
    """A suite of version 1.0 (aliases, no intents) still scores: aliases are phrases."""
    tools = (Tool(id="open_app", description="Open an app.", aliases=("ouvre l'application",)),)
    case = _case("lance firefox", expected=("open_app",))
    assert score_answer("J'ouvre Firefox.", case, tools).relevance == 0.0  # not the phrase as written
    assert score_answer("Voilà : ouvre l'application.", case, tools).relevance == 1.0
    assert score_answer("open_app", case, tools).relevance == 1.0


def test_an_intent_without_objects_fires_on_its_action() -> None:
    tools = (Tool(id="lock_screen", description="Lock.", intents=(Intent(actions=("verrouiller",)),)),)
    assert score_answer("Session verrouillée.", _case("verrouille", ("lock_screen",)), tools).relevance == 1.0


# -- ordinary answers must not name a tool ----------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "Je te rappelle que je ne peux pas faire ça.",
        "Rappel : le cluster redémarre ce soir.",
        "D'accord, c'est noté.",
        "Bien sûr, je m'en occupe tout de suite.",
        "Il est 18 heures à Paris.",
        "Je n'ai pas compris, peux-tu répéter ?",
        "Le PC rame un peu aujourd'hui.",
        "Tony arrive bientôt.",
        "Je vais sonner l'alarme.",
        "Bonne question ! Les rappels sont très utiles pour s'organiser au quotidien.",
        "Un cluster est un ensemble d'ordinateurs reliés entre eux.",
        "MEXC est une plateforme d'échange de cryptomonnaies.",
        "La météorologie est la science qui étudie l'atmosphère.",
    ],
)
def test_ordinary_answers_route_no_tool(answer: str) -> None:
    assert score_answer(answer, _case("x"), TOOLS).tools_named == ()


def test_no_phrase_names_two_tools() -> None:
    owners: dict[tuple[str, ...], str] = {}
    for tool in TOOLS:
        for phrase in (tool.id, *tool.phrases, *tool.aliases):
            words = tuple(tokens(phrase))
            assert words, f"phrase {phrase!r} of {tool.id} has no word"
            assert owners.setdefault(words, tool.id) == tool.id, f"{phrase!r} names {owners[words]} and {tool.id}"


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.id)
def test_every_tool_has_a_lexicon_and_an_id_names_its_own_tool_only(tool: Tool) -> None:
    assert tool.phrases or tool.intents
    assert find_tools(tool.id, "", TOOLS).named == {tool.id}


# -- every case of the shipped suite ----------------------------------------------------


@pytest.mark.parametrize("case", SUITE.cases, ids=lambda c: c.id)
@pytest.mark.parametrize("shape", ["{} — ok", "{}"], ids=["with-confirmation", "bare-ids"])
def test_perfect_answer_scores_one(case: Case, shape: str) -> None:
    # Bare ids matter: "cluster_status" to "status cluster" uses only the prompt's words.
    score = score_answer(shape.format(", ".join(case.expected_tools)), case, TOOLS)
    assert (score.relevance, score.valid_call) == (1.0, 1.0)
    assert (score.tools_missing, score.tools_extra, score.echo, score.malformed) == ((), (), False, False)


@pytest.mark.parametrize("case", SUITE.cases, ids=lambda c: c.id)
@pytest.mark.parametrize("shape", ["{}", "{}.", "{} ?", "Ok, {}"], ids=["verbatim", "period", "question", "ok"])
def test_echoing_the_prompt_scores_zero(case: Case, shape: str) -> None:
    score = score_answer(shape.format(case.prompt), case, TOOLS)
    assert (score.relevance, score.tools_named, score.echo) == (0.0, (), True)


@pytest.mark.parametrize("case", SUITE.cases, ids=lambda c: c.id)
def test_clean_wording_of_a_case_names_none_of_the_other_tools(case: Case) -> None:
    # With no prompt to echo, every lexicon entry that fires counts: none may belong to another case.
    named = find_tools(case.intended or case.prompt, "", TOOLS).named
    assert named <= set(case.expected_tools)


# -- the records carry the new metric, and old records read back unchanged -------------------------


def test_a_version_2_score_round_trips_through_json() -> None:
    score = _score('<tool_call>{"name": "volum_up", "arguments": {"step": 5}}</tool_call>', "monte le son", "volume_up")
    assert score.calls == (Call("volume_up", {"step": 5}, "tool_call", "volum_up", True),)
    data = json.loads(json.dumps(encode(score)))
    assert data["calls"] == [
        {"name": "volume_up", "arguments": {"step": 5}, "form": "tool_call", "raw_name": "volum_up", "malformed": True}
    ]
    assert decode(ArmScore, data) == score


def test_a_version_1_score_reads_with_no_valid_call() -> None:
    old = {
        "answer": "a",
        "keyword_hits": 0,
        "keyword_total": 1,
        "keyword_match": 0.0,
        "relevance": 0.0,
        "tools_named": [],
        "tools_missing": ["volume_up"],
        "tools_extra": [],
        "echoed_tools": [],
        "echo": False,
    }
    score = decode(ArmScore, old)
    assert score.valid_call is None and score.calls == () and score.keyword_match == 0.0


def _scored_pair(case_id: str, base: str, finetuned: str) -> ScoredCase:
    case = CASES[case_id]
    return ScoredCase(case, score_answer(base, case, TOOLS), score_answer(finetuned, case, TOOLS), 0.5)


def test_statistics_count_valid_calls_refusals_and_recitals() -> None:
    cases = [
        _scored_pair("route_volume_up", "Je ne peux pas.", "volume_up"),
        _scored_pair("cmd_open_chrome", "open_app, close_window, web_search", "J'ouvre Chrome."),
    ]
    s = stats(cases)
    assert (s.base.valid_call, s.finetuned.valid_call) == (0.0, 0.5)
    assert (s.base.refusal, s.finetuned.refusal, s.base.recited, s.finetuned.recited) == (1, 0, 1, 0)
    assert summarize(cases).overall == s


def test_statistics_count_loops() -> None:
    cases = [_scored_pair("route_volume_up", "volume_up volume_up volume_up", "volume_up")]
    s = stats(cases)
    assert (s.base.loop, s.finetuned.loop) == (1, 0)


def test_a_version_2_score_without_a_loop_key_reads_as_no_loop() -> None:
    data = {k: v for k, v in encode(_score("volume_up — ok", "monte le son", "volume_up")).items() if k != "loop"}
    assert decode(ArmScore, data).loop is False


def test_statistics_of_version_1_scores_have_no_valid_call_and_keep_their_json() -> None:
    old = replace(
        _scored_pair("route_volume_up", "x", "volume_up"),
        base=ArmScore("x", 0, 1, 0.0),
        finetuned=ArmScore("volume_up", 1, 1, 1.0),
    )
    s = stats([old])
    assert s.base.valid_call is None and not s.has_valid_call
    assert s.base.refusal is None and s.base.recited is None


# -- the new metric reaches the reports, only for runs scored with it ---------------------------------


def test_reports_show_valid_call_and_flags_only_for_version_2_scores() -> None:
    from evals.reports.tables import COLUMNS, TASK_COLUMNS, VERSION_2_COLUMNS, results_csv
    from evals.reports.terminal import terminal_summary_lines
    from evals.reports.text import render_text
    from tests.factories import make_results, scored

    version_2 = make_results(
        [
            _scored_pair("route_volume_up", "Je ne peux pas.", "volume_up"),
            _scored_pair("cmd_open_chrome", "open_app, close_window, web_search", "J'ouvre Chrome."),
        ]
    )
    text = render_text(version_2)
    assert "  valid call     0.000       0.500  +0.500" in text
    assert "Refusals: base 1, fine-tuned 0; recited tool lists: base 1, fine-tuned 0" in text
    assert "[tools routed: volume_up; valid call: yes]" in text
    assert "[tools routed: none; valid call: no; flags: refusal]" in text
    assert "X:b" in text and "L:b" in text
    header = results_csv(version_2).splitlines()[0].split(",")
    assert header == [*COLUMNS, *VERSION_2_COLUMNS, *TASK_COLUMNS]  # the runtime's columns always last
    assert "valid call base -> ft" in terminal_summary_lines(version_2)[0]

    version_1 = make_results([scored("route_volume_up", "routing", 0.0, 1.0)])
    assert "valid call" not in render_text(version_1)
    assert results_csv(version_1).splitlines()[0].split(",") == [*COLUMNS, *TASK_COLUMNS]
    assert "valid call" not in "\n".join(terminal_summary_lines(version_1))


def test_cosine_similarity_is_the_tf_idf_formula_the_docs_state() -> None:
    """scikit-learn computes it; this spells the formula out (char_wb 2-4-grams, accents stripped, smooth
    IDF over the pair, L2 norm), so a changed vectorizer setting or library default cannot pass unseen."""
    import csv
    import math
    import random
    import unicodedata
    from collections import Counter
    from pathlib import Path

    def grams(text: str) -> Counter[str]:
        text = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
        found: Counter[str] = Counter()
        for word in text.split():
            padded = f" {word} "
            for n in (2, 3, 4):
                found.update(padded[i : i + n] for i in range(max(1, len(padded) - n + 1)))
                if len(padded) <= n:
                    break
        return found

    def reference(a: str, b: str) -> float:
        counts = [grams(a), grams(b)]
        idf = {t: math.log(3 / (1 + sum(t in c for c in counts))) + 1 for t in counts[0] | counts[1]}
        vectors = [{t: n * idf[t] for t, n in c.items()} for c in counts]
        norms = [math.sqrt(sum(v * v for v in vec.values())) for vec in vectors]
        return sum(w * vectors[1].get(t, 0.0) for t, w in vectors[0].items()) / (norms[0] * norms[1])

    corpus = Path(__file__).parent / "data" / "relevance_labels.tsv"
    answers = [row["answer"] for row in csv.DictReader(corpus.open(encoding="utf-8"), delimiter="\t")]
    answers = [a for a in answers if a.strip()] + ["a", "é à", "ouvres crom", "ouvre chrome", "Ça  va", "œuvre"]
    rng = random.Random(0)
    for a, b in [(rng.choice(answers), rng.choice(answers)) for _ in range(400)]:
        assert cosine_similarity(a, b) == pytest.approx(min(1.0, reference(a, b)), abs=1e-12), (a, b)


def test_the_cached_cosine_is_keyed_by_both_texts_and_the_metric_version() -> None:
    from evals.metrics import similarity_key

    key = similarity_key("monte le son", "volume_up()", "4")
    assert key == similarity_key("monte le son", "volume_up()", "4")
    others = [
        similarity_key("volume_up()", "monte le son", "4"),
        similarity_key("monte le son", "volume_up() ", "4"),
        similarity_key("monte le so", "nvolume_up()", "4"),
        similarity_key("monte le son", "volume_up()", "5"),
    ]
    assert len({key, *others}) == 5
