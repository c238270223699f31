"""Tables of broken suite files, each refused with a ``SuiteError`` naming the file and the case."""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from evals.errors import JarvisError
from evals.records import CATEGORIES, Case, Intent, decode, encode
from evals.suite import SuiteError, default_suite_path, load_suite

VALID: dict[str, Any] = {
    "name": "mini",
    "version": "1",
    "system_prompt": "Tu es JARVIS.\n",
    "tools": [
        {"id": "volume_up", "description": "Raise the volume.", "aliases": ["monte le son"]},
        {"id": "open_app", "description": "Open an app."},
    ],
    "cases": [
        {
            "id": "cmd_a",
            "category": "commands",
            "prompt": "monte le son",
            "expected_tools": ["volume_up"],
            "keywords": ["son"],
        },
        {
            "id": "fix_a",
            "category": "corrections",
            "prompt": "monte le sont",
            "intended": "monte le son",
            "expected_tools": ["volume_up"],
            "keywords": ["son"],
        },
        {
            "id": "route_a",
            "category": "routing",
            "prompt": "ouvre chrome",
            "expected_tools": ["open_app"],
            "keywords": ["chrome"],
        },
    ],
}


def _write(tmp_path: Path, data: Any, head: str = "") -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(head + yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _load(tmp_path: Path, edit: Callable[[dict[str, Any]], object] = lambda d: None) -> Path:
    data = copy.deepcopy(VALID)
    edit(data)
    return _write(tmp_path, data)


def _set(index: int, **changes: Any) -> Callable[[dict[str, Any]], object]:
    """Return an edit that updates case number ``index``."""
    return lambda d: d["cases"][index].update(changes)


def _drop(index: int, key: str) -> Callable[[dict[str, Any]], object]:
    """Return an edit that removes one key of case number ``index``."""
    return lambda d: d["cases"][index].pop(key)


# -- refused files ----------------------------------------------------------------------

BROKEN = [
    pytest.param(_set(1, id="cmd_a"), ["case 'cmd_a'", "duplicate case id"], id="duplicate-case-id"),
    pytest.param(
        _set(0, category="chat"),
        ["case 'cmd_a'", "unknown category 'chat'", "commands, corrections, routing"],
        id="unknown-category",
    ),
    pytest.param(_drop(0, "category"), ["case 'cmd_a'", "unknown category ''"], id="missing-category"),
    pytest.param(
        _set(0, expected_tools=["volume_upp"]), ["case 'cmd_a'", "unknown tool id volume_upp"], id="unknown-tool-id"
    ),
    pytest.param(
        _set(2, expected_tools=["open_app", "web"]), ["case 'route_a'", "unknown tool id web"], id="one-unknown-of-two"
    ),
    pytest.param(_set(0, expected_tools=[]), ["case 'cmd_a'", "no expected_tools"], id="no-expected-tools"),
    pytest.param(_set(0, prompt=""), ["case 'cmd_a'", "empty prompt"], id="empty-prompt"),
    pytest.param(_set(0, prompt=" \n "), ["case 'cmd_a'", "empty prompt"], id="blank-prompt"),
    pytest.param(_drop(0, "prompt"), ["case 'cmd_a'", "empty prompt"], id="missing-prompt"),
    pytest.param(_set(0, keywords=[]), ["case 'cmd_a'", "no keywords"], id="no-keywords"),
    pytest.param(_set(0, keywords=[" ", ""]), ["case 'cmd_a'", "no keywords"], id="blank-keywords"),
    pytest.param(_drop(1, "intended"), ["case 'fix_a'", "needs 'intended'"], id="correction-without-intended"),
    pytest.param(_set(1, intended="  "), ["case 'fix_a'", "needs 'intended'"], id="correction-blank-intended"),
    pytest.param(_drop(0, "id"), ["case #1", "needs an 'id'"], id="case-without-id"),
    pytest.param(
        lambda d: d["cases"].insert(1, "monte le son"), ["case #2", "must be a mapping"], id="case-not-a-mapping"
    ),
    pytest.param(
        lambda d: d["tools"].append({"id": "volume_up"}),
        ["tool 'volume_up'", "duplicate tool id"],
        id="duplicate-tool-id",
    ),
    pytest.param(lambda d: d["tools"].append({"description": "?"}), ["tool #3", "needs an 'id'"], id="tool-without-id"),
    pytest.param(
        lambda d: d["tools"][0].update(intents={"actions": ["monter"]}),
        ["tool 'volume_up'", "'intents' must be a list"],
        id="intents-not-a-list",
    ),
    pytest.param(
        lambda d: d["tools"][0].update(intents=[{"objects": ["son"]}]),
        ["tool 'volume_up'", "intent #1 has no actions"],
        id="intent-without-actions",
    ),
    pytest.param(
        lambda d: d["tools"][0].update(intents=[{"actions": ["monter"], "object": ["son"]}]),
        ["tool 'volume_up'", "intent #1 must be a mapping with 'actions' and optional 'objects' only"],
        id="intent-misspelt-key",
    ),
    pytest.param(
        lambda d: d["tools"][0].update(intents=["monter le son"]),
        ["tool 'volume_up'", "intent #1 must be a mapping"],
        id="intent-not-a-mapping",
    ),
    pytest.param(lambda d: d.pop("version"), ["missing or empty 'version'"], id="no-version"),
    pytest.param(lambda d: d.pop("system_prompt"), ["missing or empty 'system_prompt'"], id="no-system-prompt"),
    pytest.param(lambda d: d.update(tools=[]), ["missing or empty 'tools'"], id="empty-tools"),
    pytest.param(lambda d: d.pop("cases"), ["missing or empty 'cases'"], id="no-cases"),
]


@pytest.mark.parametrize(("edit", "fragments"), BROKEN)
def test_broken_suite_is_refused(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], fragments: list[str]
) -> None:
    path = _load(tmp_path, edit)
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    message = str(info.value)
    assert message.startswith(f"suite file {path}")
    for fragment in fragments:
        assert fragment in message


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        pytest.param(
            'version: "1"\nname: [unclosed\nsystem_prompt: x\n',
            "line 3, column 14",
            "expected ',' or ']'",
            id="unclosed-list",
        ),
        pytest.param(
            'version: "1"\ncases:\n  - {id: a, prompt: "x"\n  - {id: b}\n',
            "line 4, column 3",
            "expected ',' or '}'",
            id="unclosed-flow-mapping",
        ),
        pytest.param('version: "1"\n  bad: indent\n', "line 2, column 3", "expected <block end>", id="bad-indent"),
        pytest.param(
            'version: "1"\nname: "unterminated\n', "line 3, column 1", "end of stream", id="unterminated-string"
        ),
    ],
)
def test_malformed_yaml_names_line_and_column(tmp_path: Path, text: str, where: str, problem: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SuiteError, match="malformed YAML") as info:
        load_suite(path)
    assert str(path) in str(info.value)
    assert where in str(info.value)
    assert problem in str(info.value)


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("- a\n- b\n", id="list"),
        pytest.param("just text\n", id="scalar"),
        pytest.param("", id="empty-file"),
    ],
)
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SuiteError, match="must be a mapping"):
        load_suite(path)


def test_missing_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(SuiteError, match="not found") as info:
        load_suite(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda p: p.write_bytes(b"version: \xff\xfe\n"), id="not-utf8"),
        pytest.param(lambda p: p.mkdir(), id="directory"),
    ],
)
def test_unreadable_file_is_named(tmp_path: Path, make: Callable[[Path], object]) -> None:
    path = tmp_path / "suite.yaml"
    make(path)
    with pytest.raises(SuiteError, match="cannot be read") as info:
        load_suite(path)
    assert str(path) in str(info.value)


def test_suite_error_is_a_user_facing_value_error() -> None:
    assert issubclass(SuiteError, JarvisError)
    assert issubclass(SuiteError, ValueError)


# -- accepted files ---------------------------------------------------------------------


def test_valid_suite_loads_into_typed_records(tmp_path: Path) -> None:
    suite = load_suite(_load(tmp_path))
    assert (suite.name, suite.version, suite.system_prompt) == ("mini", "1", "Tu es JARVIS.")
    assert [t.id for t in suite.tools] == ["volume_up", "open_app"]
    assert suite.tools[0].aliases == ("monte le son",)
    assert suite.tools[1].aliases == ()
    assert suite.cases[1] == Case(
        id="fix_a",
        category="corrections",
        prompt="monte le sont",
        expected_tools=("volume_up",),
        keywords=("son",),
        intended="monte le son",
    )
    assert suite.cases[0].intended is None
    assert suite.counts() == {"commands": 1, "corrections": 1, "routing": 1}


@pytest.mark.parametrize(
    ("edit", "check"),
    [
        pytest.param(
            _set(0, expected_tools="volume_up"),
            lambda s: s.cases[0].expected_tools == ("volume_up",),
            id="single-tool-as-string",
        ),
        pytest.param(_set(0, keywords="son"), lambda s: s.cases[0].keywords == ("son",), id="single-keyword-as-string"),
        pytest.param(
            _set(0, keywords=["son", " "]), lambda s: s.cases[0].keywords == ("son",), id="blank-keyword-dropped"
        ),
        pytest.param(
            _set(0, prompt="  monte le son \n"), lambda s: s.cases[0].prompt == "monte le son", id="prompt-trimmed"
        ),
        pytest.param(
            lambda d: d["tools"][0].update(aliases="plus fort"),
            lambda s: s.tools[0].aliases == ("plus fort",),
            id="single-alias-as-string",
        ),
        pytest.param(lambda d: d.pop("name"), lambda s: s.name == "suite", id="name-defaults-to-file-stem"),
        pytest.param(lambda d: d["cases"].pop(2), lambda s: s.counts()["routing"] == 0, id="category-may-be-absent"),
    ],
)
def test_lenient_but_unambiguous_input(
    tmp_path: Path, edit: Callable[[dict[str, Any]], object], check: Callable[[Any], bool]
) -> None:
    assert check(load_suite(_load(tmp_path, edit)))


@pytest.mark.parametrize(
    ("written", "version"),
    [
        pytest.param('"1.0"', "1.0", id="quoted"),
        pytest.param("1.0", "1.0", id="float"),
        # An unquoted 1.10 is the float 1.1 to YAML; baselines keyed on it would collide with 1.1.
        pytest.param("1.10", "1.10", id="float-trailing-zero"),
        pytest.param("2", "2", id="int"),
        pytest.param("2024-05-01", "2024-05-01", id="date"),
    ],
)
def test_version_is_the_string_as_written(tmp_path: Path, written: str, version: str) -> None:
    data = copy.deepcopy(VALID)
    del data["version"]
    suite = load_suite(_write(tmp_path, data, head=f"version: {written}\n"))
    assert suite.version == version


# -- the shipped suite ------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped():
    return load_suite()


def test_lexicon_loads_into_typed_intents_and_phrases(tmp_path: Path) -> None:
    def edit(d: dict[str, Any]) -> None:
        d["tools"][0].update(
            phrases=["plus fort", " "],
            intents=[{"actions": ["monter", "turn up"], "objects": ["son"]}, {"actions": "augmenter"}],
        )

    tool = load_suite(_load(tmp_path, edit)).tools[0]
    assert tool.phrases == ("plus fort",)
    assert tool.intents == (Intent(("monter", "turn up"), ("son",)), Intent(("augmenter",), ()))
    assert tool.aliases == ("monte le son",)  # suite 1.0's aliases still load (and score as phrases)


def test_shipped_suite_shape(shipped) -> None:
    assert Path(shipped.path) == default_suite_path()
    assert shipped.name == "jarvis"
    assert isinstance(shipped.version, str) and shipped.version
    assert shipped.counts() == {"commands": 10, "corrections": 10, "routing": 10}
    assert 18 <= len(shipped.tools) <= 22
    assert len({c.id for c in shipped.cases}) == len(shipped.cases)
    assert len({c.prompt for c in shipped.cases}) == len(shipped.cases)


def test_shipped_suite_is_consistent(shipped) -> None:
    used = {tool for case in shipped.cases for tool in case.expected_tools}
    assert used <= shipped.tool_ids
    # The system prompt is the model's only view of the registry: it must list every id.
    assert all(tool_id in shipped.system_prompt for tool_id in shipped.tool_ids)
    for case in shipped.cases:
        assert case.category in CATEGORIES
        assert case.keywords
        if case.category == "corrections":
            assert case.intended and case.intended != case.prompt, case.id
        else:
            assert case.intended is None, case.id


def test_shipped_cases_round_trip_through_dicts(shipped) -> None:
    assert all(decode(Case, encode(case)) == case for case in shipped.cases)


def test_shipped_tools_round_trip_through_dicts(shipped) -> None:
    from evals.records import Tool

    assert all(Tool.from_dict(tool.to_dict()) == tool for tool in shipped.tools)


def test_shipped_suite_2_gives_every_tool_a_lexicon_a_schema_and_the_native_format_its_instructions(shipped) -> None:
    # 1.2: tool parameters and the native-tools system prompt (issue 19); 2.0: calls with arguments,
    # words alone when nothing is to be done, and every case's expect: (issue 24).
    assert shipped.version == "2.0"
    assert all(case.expect is not None for case in shipped.cases)
    assert all(tool.phrases or tool.intents for tool in shipped.tools)
    assert shipped.prompt_format == "system-text" and shipped.native_system_prompt


# -- libyaml and Python's parser read a suite alike ---------------------------------------------

# Texts _SuiteLoader refuses (True) or reads; libyaml's fast path must agree, in the same words.
YAML_EDGES = {
    "alias": ('a: &x [1]\nb: *x\nversion: "1"\n', True),
    "deep": ("version: 1\nprompt: " + "[" * 40 + "]" * 40 + "\n", True),
    # The root mapping is level 1, its values level 2: x under 30 lists is level 32, the limit.
    "at-the-limit": ("version: 1\nprompt: " + "[" * 30 + "x" + "]" * 30 + "\n", False),
    "one-past-it": ("version: 1\nprompt: " + "[" * 31 + "x" + "]" * 31 + "\n", True),
    "unclosed": ('version: "1"\nname: [unclosed\nsystem_prompt: x\n', True),
}


def _both_ways(text: str, monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What ``_load_yaml`` gives for ``text`` (or the error it raises), with libyaml and without."""
    from evals.suite import _load_yaml

    out: list[Any] = []
    for libyaml in (True, False):
        with monkeypatch.context() as m:
            if not libyaml:
                m.delattr(yaml, "CSafeLoader")
            try:
                out.append(_load_yaml(text))
            except yaml.YAMLError as exc:
                out.append(f"{type(exc).__name__}: {exc}")
    return out


@pytest.mark.parametrize("name", ["jarvis", "jarvis-full"])
def test_libyaml_reads_the_shipped_suites_as_python_does(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast, plain = _both_ways(default_suite_path(name).read_text(encoding="utf-8"), monkeypatch)
    assert isinstance(fast, dict) and fast == plain


@pytest.mark.parametrize(("text", "refused"), YAML_EDGES.values(), ids=YAML_EDGES.keys())
def test_libyaml_refuses_and_words_a_bad_file_as_python_does(
    text: str, refused: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast, plain = _both_ways(text, monkeypatch)
    assert fast == plain
    assert isinstance(fast, str) is refused, fast
