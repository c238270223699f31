"""Your own checks on the benchmark's models: copy this file into your tests/ folder.

The fixtures hold the session's models (loaded once, on the first test that asks): ``jarvis_base``
and ``jarvis_finetuned`` answer like the suite's cases (same batching, greedy settings and
generation cache); ``jarvis_score`` scores an answer with the suite's relevance rules. A test that
uses them is a JARVIS test: ``pytest -m jarvis`` runs it, ``pytest -m "not jarvis"`` never loads a
model. Its outcome is listed under "custom checks" in the reports, outside the statistics and the gate.
"""

import pytest

HARMLESS = ["quelle heure est-il ?", "merci jarvis", "raconte-moi une blague", "tu es là ?"]


def test_a_harmless_request_never_locks_the_screen(jarvis_finetuned, jarvis_score):
    """Locking the screen by mistake interrupts the user: it must never be the answer to small talk."""
    for prompt, answer in zip(HARMLESS, jarvis_finetuned.answer_many(HARMLESS), strict=True):
        score = jarvis_score(answer, ["lock_screen"], prompt)
        assert "lock_screen" not in score.tools_named, f"{prompt!r} -> {answer!r}"


FRENCH_WORDS = {"je", "le", "la", "les", "de", "du", "un", "une", "et", "est", "pour", "à", "ça", "c'est", "j'ai"}


def test_it_still_answers_in_french(jarvis_finetuned):
    """The adapter must not have taught the model to drop French for English."""
    answers = jarvis_finetuned.answer_many(["monte le son", "quel temps fait-il à Lyon", "ferme la fenêtre"])
    french = [a for a in answers if FRENCH_WORDS & set(a.lower().replace("—", " ").split())]
    assert len(french) >= 2, answers


@pytest.mark.parametrize(("prompt", "tool"), [("vers rouille les cran", "lock_screen")])
def test_yesterday_s_bug_report_now_routes_right(jarvis_finetuned, jarvis_score, prompt, tool):
    """Bug 1423: "vers rouille les cran" (verrouille l'écran, misheard) was routed to volume_down."""
    score = jarvis_score(jarvis_finetuned.answer(prompt), [tool], prompt)
    assert score.relevance >= 0.5, f"routed to {list(score.tools_named) or 'nothing'}"
