"""Relevance version 4: the false credits found on real answers of the embedded model (recitals of the
system prompt mixed with an echo, invented labels contradicted by their words) and cases that expect
no tool. Every answer is planted; docs/metrics.md states each rule."""

from __future__ import annotations

import pytest

from evals.metrics import METRIC_VERSION, ROUTED_THRESHOLD, is_echo, iter_flags, score_answer
from evals.records import ArmScore, Case
from evals.suite import load_suite

TOOLS = load_suite().tools


def _score(answer: str, prompt: str, expected: str) -> ArmScore:
    tools = tuple(t for t in expected.split(",") if t)
    return score_answer(
        answer, Case(id="t", category="routing", prompt=prompt, expected_tools=tools, keywords=()), TOOLS
    )


def test_the_version_is_4() -> None:
    assert METRIC_VERSION == "4"


# -- (a) an echo mixed with a recital of the instructions or of the tool list --------------------------


@pytest.mark.parametrize(
    ("answer", "prompt", "expected", "flags"),
    [
        pytest.param(
            "Monte le son, l'assistant vocal francophone. Les demandes viennent de la reconnaissance vocale",
            "monte le son",
            "volume_up",
            {"recited", "echo"},
            id="echo-then-suite-1-prompt",
        ),
        pytest.param(
            "Je n'y vois rien, l'écran est trop sombre. Les demandes viennent de la reconnaissance vocale et peuvent"
            " contenir des fautes : comprends l'intention.",
            "je n'y vois rien, l'écran est trop sombre",
            "brightness_up",
            {"recited", "echo"},
            id="complaint-echoed-then-instructions",
        ),
        pytest.param(
            "Monte le son. Si la demande est une action, réponds sur une seule ligne : l'appel de l'outil avec ses"
            " arguments, un tiret, puis une courte confirmation en français",
            "monte le son",
            "volume_up",
            {"recited", "echo"},
            id="echo-then-suite-2-prompt",
        ),
        pytest.param(
            "Monte le son. Outils : volume_up(step, level), volume_down(step, level)",
            "monte le son",
            "volume_up",
            {"recited", "echo"},
            id="echo-then-suite-2-tool-list",
        ),
        pytest.param(
            "Ferme la fenêtre. Outils : volume_up, volume_down, volume_mute, open_app, close_window",
            "ferme la fenêtre",
            "close_window",
            {"recited", "echo"},
            id="echo-then-suite-1-tool-list",
        ),
        pytest.param(
            "volume_up — J'augmente le volume. Tu es JARVIS, l'assistant vocal francophone.",
            "monte le son",
            "volume_up",
            {"recited"},
            id="a-call-then-the-instructions",
        ),
    ],
)
def test_a_recital_of_the_instructions_scores_0_and_an_echo_inside_it_is_flagged(
    answer: str, prompt: str, expected: str, flags: set[str]
) -> None:
    score = _score(answer, prompt, expected)
    assert score.relevance == 0.0
    assert score.valid_call == 0.0
    assert flags <= set(iter_flags(score))


def test_the_echo_rule_reads_the_words_left_when_the_recital_is_left_out() -> None:
    prompt = "monte le son"
    assert is_echo("Monte le son, l'assistant vocal francophone. Les demandes viennent de", prompt, TOOLS)
    assert is_echo("Monte le son. Outils : volume_up(step, level), volume_down(step, level)", prompt, TOOLS)
    # What is left is a confirmation: not an echo (the recital still scores 0, as a recital).
    assert not is_echo("Volume monté. Les demandes viennent de la reconnaissance vocale.", prompt, TOOLS)


@pytest.mark.parametrize(
    ("answer", "prompt", "expected"),
    [
        pytest.param("volume_up — J'augmente le volume.", "monte le son", "volume_up", id="call"),
        pytest.param(
            "Je suis JARVIS, j'augmente le volume.", "monte le son", "volume_up", id="jarvis-introduces-itself"
        ),
        pytest.param("open_app — J'ouvre le terminal, c'est fait.", "ouvre le terminal", "open_app", id="no-phrase"),
        pytest.param(
            'open_app(app="chrome") — J\'ouvre Chrome.', "ouvre chrome", "open_app", id="suite-2-format-answer"
        ),
    ],
)
def test_answers_without_a_phrase_of_the_instructions_are_not_recitals(answer: str, prompt: str, expected: str) -> None:
    score = _score(answer, prompt, expected)
    assert score.relevance == 1.0
    assert not score.recited


# -- (b) an invented label and the words after it ---------------------------------------------------------


@pytest.mark.parametrize("expected", ["open_app", "lock_screen"])
def test_an_invented_label_contradicted_by_its_words_routes_neither(expected: str) -> None:
    """The label says open, the words say lock: neither is credited, as with a wrong call."""
    score = _score("open_firefox — Je verrouille l'écran.", "ouvre firefox", expected)
    assert score.relevance == 0.0
    assert score.tools_named == ()
    assert score.valid_call == 0.0


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        pytest.param("open_firefox — J'ouvre Firefox.", "open_app", id="label-and-words-agree"),
        pytest.param("chrome_open — Chrome.", "open_app", id="the-label-alone-names-it"),
        pytest.param("statu_cluteur — Je vérifie l'état du cluster.", "cluster_status", id="label-names-nothing"),
        pytest.param('message_send(to="Théo", text="On se voit à 20 h")', "send_message", id="invented-function"),
    ],
)
def test_an_invented_label_that_agrees_or_names_nothing_still_routes(answer: str, expected: str) -> None:
    score = _score(answer, "une demande", expected)
    assert score.relevance == 1.0
    assert score.tools_named == (expected,)
    assert score.valid_call == 0.0  # no runtime can call an invented label


def test_a_real_call_still_decides_over_its_words() -> None:
    assert _score("music_play — Je mets la musique en pause.", "pause", "music_pause").relevance == 0.0
    assert _score("music_play — Je mets la musique en pause.", "joue", "music_play").relevance == 1.0


# -- (c) half of a two-tool request: kept, by the label definition ---------------------------------------


def test_one_of_two_tools_still_routes() -> None:
    """The label definition credits one of the two tools of a two-tool request; valid_call does not."""
    score = _score(
        "cluster_status — Je vérifie l'état du cluster.",
        "le cluster a planté, vérifie son état et fouille les journaux d'erreurs",
        "cluster_status,log_search",
    )
    assert score.relevance == pytest.approx(2 / 3)
    assert score.relevance >= ROUTED_THRESHOLD
    assert score.valid_call == 0.0


# -- cases that expect no tool -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "relevance", "valid"),
    [
        pytest.param("Avec plaisir, Tony !", 1.0, 1.0, id="words-alone"),
        pytest.param("Je vous en prie.", 1.0, 1.0, id="polite"),
        pytest.param("Merci !", 1.0, 1.0, id="echo-routes-nothing"),
        pytest.param("volume_up — J'augmente le volume.", 0.0, 0.0, id="a-call"),
        pytest.param('{"name": "weather", "arguments": {}}', 0.0, 0.0, id="a-json-call"),
        pytest.param("J'augmente le volume.", 0.0, 1.0, id="routes-by-words-but-no-call"),
        pytest.param("Je ne peux pas monter le son.", 1.0, 1.0, id="a-refusal-routes-nothing"),
        pytest.param("volume_up, volume_down — ok", 0.0, 0.0, id="calls-that-recite"),
        pytest.param("Volume monté, luminosité baissée, musique lancée.", 0.0, 1.0, id="words-that-recite"),
        pytest.param("volume_up volume_up volume_up volume_up", 0.0, 0.0, id="calls-in-a-loop"),
        pytest.param("Tu es JARVIS, l'assistant vocal francophone.", 0.0, 1.0, id="the-instructions-recited"),
    ],
)
def test_a_case_that_expects_no_tool(answer: str, relevance: float, valid: float) -> None:
    score = _score(answer, "merci", "")
    assert score.relevance == relevance
    assert score.valid_call == valid
    assert score.tools_missing == ()


# -- found on the real answers of the embedded model ------------------------------------------------------


def test_a_call_whose_unparsed_arguments_loop_is_a_loop() -> None:
    answer = "music_play(" + "music_create(" * 15
    score = _score(answer, "lance la musique sur spot y faille", "music_play")
    assert score.loop and score.relevance == 0.0 and score.valid_call == 0.0
    # Parsed or short text arguments are not words that loop.
    assert _score('open_app("Chrome") — J\'ouvre Chrome.', "ouvre chrome", "open_app").relevance == 1.0
    assert _score("volume_down(step, 10) — Je baisse le volume.", "baisse", "volume_down").relevance == 1.0


def test_a_quotation_of_the_request_names_nothing() -> None:
    answer = (
        'La méthadère "Mets le volume plus fort" est une phrase, le début de l\'édition « mets le volume plus fort ».'
    )
    assert _score(answer, "mets le volume plus fort", "volume_up").relevance == 0.0
    # Quoted content that is not the request, or one quoted word, still leaves the words around it.
    assert _score("J'ouvre « Chrome ».", "ouvre chrome", "open_app").relevance == 1.0
    message = "send_message — Message envoyé à Julie : « J'arrive »."
    assert _score(message, "dis à Julie que j'arrive", "send_message").relevance == 1.0


def test_a_copy_of_the_whole_request_inside_other_text_routes_nothing() -> None:
    # The 4-bit base's answer to route_multi_cluster_logs (suite 2.0): repeating is not routing.
    prompt = "le cluster a planté, vérifie son état et fouille les journaux d'erreurs"
    copied = f"Il est bon, {prompt}, s'il est bon, {prompt}, s'"
    assert _score(copied, prompt, "cluster_status,log_search").relevance == 0.0
    # A first-person confirmation in the request's own words still routes.
    assert _score("Je mets la musique en pause.", "mets la musique en pause", "music_pause").relevance == 1.0
