"""Tables of cases for the pure metrics: words, keywords, cosine, F1, tool routing and echoes."""

from __future__ import annotations

import pytest

from evals.metrics import (
    HIGHER_IS_BETTER,
    cosine_similarity,
    f1,
    find_tools,
    fold,
    keyword_hits,
    keyword_match,
    score_answer,
    strip_think,
    tokens,
)
from evals.records import Case, Tool
from evals.suite import load_suite

# Loaded at import because the whole-suite tables below are parametrized over its cases.
SUITE = load_suite()
TOOLS = SUITE.tools
CASES = {case.id: case for case in SUITE.cases}


def _case(prompt: str, expected: tuple[str, ...] = ("volume_up",), keywords: tuple[str, ...] = ("son",)) -> Case:
    return Case(id="t", category="commands", prompt=prompt, expected_tools=expected, keywords=keywords)


def test_every_metric_declares_higher_is_better() -> None:
    assert HIGHER_IS_BETTER == {"cosine_similarity": True, "keyword_match": True, "relevance": True}


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


# -- routing: one answer, one case ------------------------------------------------------


MULTI = "route_multi_volume_music"  # "baisse le son et mets de la musique" -> volume_down + music_play

ROUTING = [
    # (case id, answer, relevance, named, echoed, echo)
    pytest.param("route_volume_up", "volume_up", 1.0, {"volume_up"}, set(), False, id="literal-id"),
    pytest.param("route_volume_up", "VOLUME_UP !", 1.0, {"volume_up"}, set(), False, id="literal-id-upper-case"),
    pytest.param("route_volume_up", "`volume_up()` — ok", 1.0, {"volume_up"}, set(), False, id="literal-id-in-code"),
    pytest.param("route_volume_up", "volume up", 1.0, {"volume_up"}, set(), False, id="id-with-spaces"),
    pytest.param("route_volume_up", "J'augmente le volume.", 1.0, {"volume_up"}, set(), False, id="alias-fr"),
    pytest.param("route_volume_down", "OK, moins fort.", 1.0, {"volume_down"}, set(), False, id="alias-fr-short"),
    pytest.param("fix_music_play", "play music", 1.0, {"music_play"}, set(), False, id="alias-en"),
    pytest.param(
        "fix_brightness_down", "Je baisse la luminosite", 1.0, {"brightness_down"}, set(), False, id="alias-accent-free"
    ),
    pytest.param(
        "route_reminder",
        "C'est noté, je te le rappellerai à 18h.",
        1.0,
        {"reminder_create"},
        set(),
        False,
        id="alias-reminder",
    ),
    pytest.param("route_volume_down", "volume_up", 0.0, {"volume_up"}, set(), False, id="wrong-tool"),
    pytest.param("route_volume_up", "Bien sûr, tout de suite.", 0.0, set(), set(), False, id="no-tool"),
    pytest.param("route_volume_up", "", 0.0, set(), set(), False, id="empty"),
    pytest.param("route_volume_up", " \n\t", 0.0, set(), set(), False, id="whitespace"),
    # The echo pitfall: the alias's words all come from the prompt.
    pytest.param("route_volume_up", "Monte le son.", 0.0, set(), {"volume_up"}, True, id="echo"),
    pytest.param("route_volume_up", "son le monte", 0.0, set(), set(), True, id="echo-reordered"),
    pytest.param(
        "route_volume_up", "D'accord : monte le son !", 0.0, set(), {"volume_up"}, True, id="echo-with-filler"
    ),
    pytest.param("route_volume_up", "Je monte le son.", 0.0, set(), {"volume_up"}, True, id="echo-first-person"),
    pytest.param(
        "cmd_close_window", "Je ferme la fenêtre.", 0.0, set(), {"close_window"}, True, id="echo-first-person-alias"
    ),
    pytest.param("cmd_open_chrome", "J'ouvre Chrome.", 0.0, set(), {"open_app"}, True, id="echo-elided-first-person"),
    pytest.param("cmd_weather", "La météo.", 0.0, set(), {"weather"}, True, id="echo-single-word-alias"),
    pytest.param("cmd_open_chrome", "chrome", 0.0, set(), set(), True, id="echo-without-alias"),
    # Corrections: the alias adds a word the mangled prompt lacks, so the model fixed it.
    pytest.param("fix_volume_up", "Monte le son.", 1.0, {"volume_up"}, set(), False, id="correction"),
    pytest.param("fix_open_chrome", "J'ouvre Chrome.", 1.0, {"open_app"}, set(), False, id="correction-first-person"),
    pytest.param("fix_close_window", "Je ferme la fenêtre.", 1.0, {"close_window"}, set(), False, id="correction-verb"),
    pytest.param(
        "fix_lock_screen", "Je verrouille l'écran.", 1.0, {"lock_screen"}, set(), False, id="correction-split-word"
    ),
    pytest.param(
        "fix_cluster_status",
        "Voici le statut du cluster.",
        1.0,
        {"cluster_status"},
        set(),
        False,
        id="correction-two-words",
    ),
    # A literal id is a tool call: it counts even when the prompt holds the same words.
    pytest.param(
        "route_volume_up", "volume_up : monte le son", 1.0, {"volume_up"}, set(), False, id="literal-id-beats-echo"
    ),
    pytest.param(
        "cmd_cluster_status", "cluster_status", 1.0, {"cluster_status"}, set(), False, id="literal-id-of-prompt-words"
    ),
    pytest.param(
        "cmd_cluster_status", "status cluster", 0.0, set(), {"cluster_status"}, True, id="spaced-id-of-prompt-words"
    ),
    # Several tools.
    pytest.param(MULTI, "volume_down music_play", 1.0, {"volume_down", "music_play"}, set(), False, id="multi-both"),
    pytest.param(MULTI, "volume_down", 2 / 3, {"volume_down"}, set(), False, id="multi-one-of-two"),
    pytest.param(
        MULTI,
        "volume_down music_play volume_up",
        0.8,
        {"volume_down", "music_play", "volume_up"},
        set(),
        False,
        id="multi-plus-extra",
    ),
    pytest.param(
        MULTI,
        "volume_down + je mets de la musique",
        2 / 3,
        {"volume_down"},
        {"music_play"},
        False,
        id="multi-one-echoed",
    ),
    pytest.param(
        MULTI, "Baisse le son et mets de la musique", 0.0, set(), {"volume_down", "music_play"}, True, id="multi-echo"
    ),
    pytest.param(
        "route_multi_cluster_logs",
        "Je vérifie l'état du cluster et je cherche dans les logs.",
        1.0,
        {"cluster_status", "log_search"},
        set(),
        False,
        id="multi-aliases",
    ),
]


@pytest.mark.parametrize(("case_id", "answer", "relevance", "named", "echoed", "echo"), ROUTING)
def test_relevance(case_id: str, answer: str, relevance: float, named: set[str], echoed: set[str], echo: bool) -> None:
    case = CASES[case_id]
    score = score_answer(answer, case, TOOLS)
    assert score.relevance == pytest.approx(relevance)
    assert set(score.tools_named) == named
    assert set(score.echoed_tools) == echoed
    assert score.echo is echo
    assert set(score.tools_missing) == set(case.expected_tools) - named
    assert set(score.tools_extra) == named - set(case.expected_tools)


def test_literal_id_counts_even_when_the_prompt_spells_it_out() -> None:
    case = _case("volume up")
    assert score_answer("volume_up", case, TOOLS).relevance == 1.0
    assert score_answer("Volume up.", case, TOOLS).relevance == 0.0
    assert score_answer("Volume up.", case, TOOLS).echoed_tools == ("volume_up",)


def test_echoed_and_named_never_overlap() -> None:
    # "monte le son" is echoed, "plus fort" adds words: the tool is named, not echoed.
    mentions = find_tools("Monte le son, plus fort !", "monte le son", TOOLS)
    assert mentions.named == {"volume_up"}
    assert mentions.echoed == frozenset()


def test_registry_order_does_not_matter() -> None:
    answer, prompt = "volume_down et je mets de la musique", "baisse le son et mets de la musique"
    assert find_tools(answer, prompt, TOOLS) == find_tools(answer, prompt, tuple(reversed(TOOLS)))


def test_empty_answer_scores_zero_everywhere() -> None:
    case = CASES["route_reminder"]
    score = score_answer("", case, TOOLS)
    assert (score.relevance, score.keyword_hits, score.keyword_match, score.echo) == (0.0, 0, 0.0, False)
    assert score.keyword_total == 3
    assert score.tools_missing == ("reminder_create",)


def test_tool_without_aliases_is_found_by_id_only() -> None:
    tools = (Tool(id="open_app", description="Open an app."),)
    case = _case("lance firefox", expected=("open_app",))
    assert score_answer("open app", case, tools).relevance == 1.0
    assert score_answer("j'ouvre firefox", case, tools).relevance == 0.0


# -- ordinary French must not name a tool -----------------------------------------------


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
    ],
)
def test_ordinary_french_names_no_tool(answer: str) -> None:
    assert find_tools(answer, "", TOOLS).named == frozenset()


def test_no_alias_names_two_tools() -> None:
    owners: dict[tuple[str, ...], str] = {}
    for tool in TOOLS:
        for phrase in (tool.id, *tool.aliases):
            words = tuple(tokens(phrase))
            assert words, f"alias {phrase!r} of {tool.id} has no word"
            assert owners.setdefault(words, tool.id) == tool.id, f"{phrase!r} names {owners[words]} and {tool.id}"


# -- every case of the shipped suite ----------------------------------------------------


@pytest.mark.parametrize("case", SUITE.cases, ids=lambda c: c.id)
@pytest.mark.parametrize("shape", ["{} — ok", "{}"], ids=["with-confirmation", "bare-ids"])
def test_perfect_answer_scores_one(case: Case, shape: str) -> None:
    # Bare ids matter: "cluster_status" to "status cluster" uses only the prompt's words.
    score = score_answer(shape.format(" ".join(case.expected_tools)), case, TOOLS)
    assert score.relevance == 1.0
    assert (score.tools_missing, score.tools_extra, score.echo) == ((), (), False)


@pytest.mark.parametrize("case", SUITE.cases, ids=lambda c: c.id)
@pytest.mark.parametrize(
    "shape", ["{}", "{}.", "Je {}.", "{} ?"], ids=["verbatim", "period", "first-person", "question"]
)
def test_echoing_the_prompt_scores_zero(case: Case, shape: str) -> None:
    score = score_answer(shape.format(case.prompt), case, TOOLS)
    assert score.relevance == 0.0
    assert score.tools_named == ()
    assert score.echo


@pytest.mark.parametrize("case", SUITE.cases, ids=lambda c: c.id)
def test_clean_wording_of_a_case_names_none_of_the_other_tools(case: Case) -> None:
    # With no prompt to echo, every alias that fires counts: none may belong to another case.
    named = find_tools(case.intended or case.prompt, "", TOOLS).named
    assert named <= set(case.expected_tools)


@pytest.mark.parametrize("tool", TOOLS, ids=lambda t: t.id)
def test_an_id_names_its_own_tool_only(tool: Tool) -> None:
    assert find_tools(tool.id, "", TOOLS).named == {tool.id}
