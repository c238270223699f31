"""Task success: the tool runtime wired into scoring, suites and statistics (issue 24).

The three behaviours the issue names are here as tests: right tool with wrong arguments
(relevance 1, task success 0), a malformed call where nothing should run (not an abstention),
and a follow-up judged against the state its history left.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evals.records import Case, Turn
from evals.runtime.verdict import judge, state_before
from evals.scoring import score_case, summarize
from evals.suite import SuiteError, load_suite

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = yaml.safe_load((ROOT / "tests" / "data" / "suite_examples.yaml").read_text(encoding="utf-8"))
FULL = load_suite("jarvis-full")


def case(case_id: str) -> Case:
    return next(c for c in FULL.cases if c.id == case_id)


def arm(answer: str, c: Case):  # type: ignore[no-untyped-def]
    return score_case(c, {"base": answer, "lora": answer}, FULL).arms["base"]


def test_the_full_suite_holds_the_30_and_the_new_categories() -> None:
    seed = load_suite("jarvis")
    counts = FULL.counts()
    assert [c.id for c in FULL.cases[:30]] == [c.id for c in seed.cases]
    assert counts["no_tool"] >= 15 and counts["arguments"] >= 10 and counts["follow_up"] >= 10
    assert all(c.expect is not None for c in FULL.cases), "every shipped case says what should happen"
    assert all(c.history for c in FULL.cases if c.category == "follow_up")


@pytest.mark.parametrize("case_id", [c.id for c in FULL.cases])
def test_every_shipped_case_is_met_by_its_good_answer_and_failed_by_its_bad_one(case_id: str) -> None:
    c, example = case(case_id), EXAMPLES[case_id]
    good = judge(example["good"], c, FULL)
    assert good.task_success == 1.0, good.unmet
    assert good.tool_names_ok
    if "bad" in example:
        assert judge(example["bad"], c, FULL).task_success == 0.0
    # Doing nothing never meets an action's expectation, and always meets "nothing".
    assert judge("D'accord.", c, FULL).task_success == (1.0 if c.expects_nothing else 0.0)


def test_right_tool_with_wrong_arguments_has_relevance_1_and_task_success_0() -> None:
    c = case("route_send_message")  # "dis à Tony par message que j'arrive"
    wrong = arm('send_message(contact="Pepper", text="J\'arrive") — J\'envoie le message.', c)
    assert wrong.relevance == 1.0
    assert wrong.task_success == 0.0
    assert wrong.tool_names_ok and wrong.arguments_ok  # well-formed, wrong value
    assert any("messages" in line for line in wrong.unmet)
    missing = arm("send_message — J'envoie le message.", c)
    assert missing.relevance == 1.0 and missing.task_success == 0.0 and missing.arguments_ok is False


def test_a_malformed_call_where_nothing_should_run_is_not_an_abstention() -> None:
    c = case("nt_merci_jarvis")
    assert c.expects_nothing and c.expected_tools == ()
    malformed = arm("volum_up() — Avec plaisir.", c)
    assert malformed.calls and malformed.calls[0].malformed
    assert malformed.abstained is False and malformed.false_activation is True
    assert malformed.task_success == 0.0
    invented = arm('nom_outil(argument="valeur") — Confirmation.', c)
    assert invented.abstained is False and invented.task_success == 0.0
    assert invented.executed[0].error_kind == "unknown_tool"
    label = arm("open_firefox — Avec plaisir.", c)  # an invented label opening the answer
    assert label.abstained is False
    words = arm("Avec plaisir, je reste à votre écoute.", c)
    assert words.abstained is True and words.false_activation is False and words.task_success == 1.0


def test_a_follow_up_runs_against_the_state_its_history_left() -> None:
    c = Case(
        id="fu",
        category="follow_up",
        prompt="encore",
        expected_tools=("volume_up",),
        keywords=("volume",),
        setup={"volume": 50},
        expect={"volume": {"min": 61}},
        history=(Turn("user", "monte le son"), Turn("assistant", "volume_up(step=10) — Je monte le son.")),
    )
    assert state_before(c, FULL.tool_ids).volume == 60
    again = judge("volume_up() — Je monte encore.", c, FULL)
    assert again.task_success == 1.0 and again.state_diff == ("volume: 60 -> 70",)
    # Without the history the same answer leaves 60: the expectation is only met from the history's state.
    alone = judge("volume_up() — Je monte encore.", Case(**{**c.__dict__, "history": ()}), FULL)
    assert alone.task_success == 0.0


def test_a_side_effect_fails_the_task_and_coupled_fields_do_not() -> None:
    c = case("cmd_open_chrome")
    assert judge('open_app(app="chrome") — J\'ouvre Chrome.', c, FULL).task_success == 1.0  # windows change too
    extra = judge('open_app(app="chrome"), screenshot() — Voilà.', c, FULL)
    assert extra.task_success == 0.0 and any("screenshots" in u for u in extra.unmet)
    assert not extra.tool_names_ok


def test_a_recital_of_the_tool_list_runs_nothing_and_never_abstains() -> None:
    recital = (
        "Outils : volume_up, volume_down, volume_mute, open_app, close_window, cluster_status, mexc_scan, "
        "log_search, brightness_up, brightness_down, screenshot, lock_screen, weather."
    )
    score = arm(recital, case("nt_salut"))
    assert score.recited and score.abstained is False and score.task_success == 0.0 and score.executed == ()


def test_free_text_confirmation_routes_but_does_nothing() -> None:
    score = arm("J'augmente le volume.", case("route_volume_up"))
    assert score.relevance == 1.0 and score.task_success == 0.0 and score.executed == ()


def test_statistics_carry_task_success_and_false_activation_per_category() -> None:
    answers = {
        "nt_merci_jarvis": ("volume_mute() — D'accord.", "Avec plaisir."),
        "nt_salut": ("Bonjour !", "Bonjour !"),
        "cmd_open_chrome": ("Ouvre chrome.", 'open_app(app="chrome") — J\'ouvre Chrome.'),
    }
    results = [score_case(case(i), {"base": b, "lora": t}, FULL) for i, (b, t) in answers.items()]
    stats = summarize(results)
    no_tool = stats.by_category["no_tool"]
    assert no_tool.arms["base"].false_activation == 0.5 and no_tool.arms["lora"].false_activation == 0.0
    assert no_tool.arms["base"].n_no_tool == 2
    assert stats.overall.arms["lora"].task_success == 1.0
    assert stats.overall.arms["base"].task_success == pytest.approx(1 / 3)
    assert stats.by_category["commands"].arms["base"].false_activation is None


def test_a_case_without_expect_does_not_measure_task_success() -> None:
    seedless = Case(
        id="x", category="commands", prompt="monte le son", expected_tools=("volume_up",), keywords=("son",)
    )
    score = score_case(seedless, {"base": "volume_up()", "lora": "volume_up()"}, FULL).arms["base"]
    assert score.task_success is None and score.abstained is None and score.arguments_ok is None
    assert summarize([score_case(seedless, {"base": "a", "lora": "b"}, FULL)]).overall.arms["base"].task_success is None


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        (lambda c: c.update(expected_tools=[]), "expect: nothing"),
        (lambda c: c.update(expect="nothing"), "expected_tools []"),
        (lambda c: c.update(expect={"loudness": 3}), "loudness"),
        (lambda c: c.update(setup={"volume": 300}), "volume"),
        (lambda c: c.update(history=[{"role": "robot", "content": "x"}]), "history turn #1"),
        (lambda c: c.update(history=[{"role": "assistant", "content": "close_window()"}]), "history turn #1"),
    ],
)
def test_bad_expectations_are_one_line_naming_the_case(tmp_path: Path, edit, named: str) -> None:  # type: ignore[no-untyped-def]
    data = yaml.safe_load((ROOT / "evals" / "suites" / "jarvis.yaml").read_text(encoding="utf-8"))
    edit(data["cases"][0])
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    with pytest.raises(SuiteError) as error:
        load_suite(path)
    message = str(error.value)
    assert named in message and "cmd_open_chrome" in message and "\n" not in message, message


def test_extends_takes_the_parent_and_refuses_a_missing_one(tmp_path: Path) -> None:
    parent = tmp_path / "parent.yaml"
    parent.write_text((ROOT / "evals" / "suites" / "jarvis.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    child = tmp_path / "child.yaml"
    child.write_text(
        'name: child\nversion: "1"\nextends: parent.yaml\ncases:\n'
        "  - {id: nt_x, category: no_tool, prompt: merci, expected_tools: [], keywords: [rien], expect: nothing}\n",
        encoding="utf-8",
    )
    suite = load_suite(child)
    assert len(suite.cases) == 31 and suite.tools == load_suite(parent).tools and suite.cases[-1].expects_nothing
    child.write_text(child.read_text(encoding="utf-8").replace("parent.yaml", "nowhere.yaml"), encoding="utf-8")
    with pytest.raises(SuiteError, match="nowhere.yaml"):
        load_suite(child)


def test_coupling_is_one_way_an_unmute_does_not_allow_a_louder_volume() -> None:
    # Labelled in tests/data/task_labels.tsv (line 378): "annule, remets le son" answered by a louder volume.
    c = Case(
        id="unmute",
        category="follow_up",
        prompt="annule, remets le son",
        expected_tools=("volume_mute",),
        keywords=("son",),
        setup={"volume": 50},
        expect={"muted": False},
        history=(Turn("user", "coupe le son"), Turn("assistant", "volume_mute() — Je coupe le son.")),
    )
    assert judge("volume_mute(mute=false) — Je remets le son.", c, FULL).task_success == 1.0
    louder = judge("volume_up(step=10) — Je remets le son.", c, FULL)
    assert louder.task_success == 0.0 and any("volume" in u for u in louder.unmet)


def test_reciting_the_instructions_alone_abstains_but_reciting_the_tool_list_does_not() -> None:
    c = case("nt_merci_jarvis")
    instructions = "Merci, l'assistant vocal francophone. Les demandes viennent de la reconnaissance vocale."
    tools = "Outils : volume_up, volume_down, volume_mute, open_app, close_window, cluster_status."
    assert arm(instructions, c).abstained is True
    assert arm(tools, c).abstained is False and arm(tools, c).task_success == 0.0


def test_each_suite_has_its_own_default_baseline_file() -> None:
    from evals.config import EvalConfig
    from evals.plan import build_plan

    default = Path("reports/baseline.json")
    assert build_plan(EvalConfig(baseline=default)).settings.baseline == default
    full = build_plan(EvalConfig(suite=Path("jarvis-full"), baseline=default))
    assert full.settings.baseline == Path("reports/baseline-jarvis-full.json")
    named = build_plan(EvalConfig(suite=Path("jarvis-full"), baseline=Path("x/mine.json")))
    assert named.settings.baseline == Path("x/mine.json"), "a file named on purpose is kept"


def test_the_full_suite_runs_one_test_per_case_and_prints_task_success_per_category(
    pytester: pytest.Pytester,
) -> None:
    import json

    from evals.backends import registered_backends, unregister_backend
    from tests.test_layout import TEST_FILE, doc_backend

    pytester.makepyfile(echo_backend=doc_backend(), test_bench=TEST_FILE)
    pytester.syspathinsert()
    try:
        result = pytester.runpytest_inprocess(
            "-p", "echo_backend", "-m", "jarvis", "--jarvis-suite=jarvis-full", "--jarvis-backend=echo",
            "--jarvis-echo-text=Avec plaisir, je reste à votre écoute.", "--jarvis-no-cache", "-p", "no:cacheprovider",
        )  # fmt: skip
        assert result.ret == 0, result.stdout.str()
        result.assert_outcomes(passed=90)
        out = result.stdout.str()
        assert "task success base -> ft" in out and "false activation base -> ft" in out
        for category in ("no_tool", "arguments", "follow_up"):
            result.stdout.re_match_lines([rf"^{category}\s+\d+\s+"])
        # Words alone: every case where nothing should run abstains, every action fails its task.
        data = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text(encoding="utf-8"))
        no_tool = data["statistics"]["by_category"]["no_tool"]["arms"]["base"]
        assert no_tool["false_activation"] == 0.0 and no_tool["task_success"] == 1.0
        assert data["statistics"]["by_category"]["arguments"]["arms"]["base"]["task_success"] == 0.0
        assert "baseline-jarvis-full.json" in out, "the full suite looks for its own baseline"
    finally:
        if "echo" in registered_backends():
            unregister_backend("echo")
