"""Property tests of every reader of outside input (issue 27): success or one ``JarvisError`` line, nothing else.

Each reader gets structurally valid documents with one part replaced by an arbitrary value, and
arbitrary text. The budget is the hypothesis profile's (tests/conftest.py): bounded in
``make test``, larger with ``--hypothesis-profile=long``. Inputs that once crashed a reader are
replayed from tests/data/fuzz_corpus/ on every run, whatever the budget.
"""

from __future__ import annotations

import argparse
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from evals.errors import JarvisError
from evals.reports import JSON_NAME, results_json
from tests.factories import make_results, scored
from tests.test_gate_e2e import MINI_SUITE

CORPUS = Path(__file__).parent / "data" / "fuzz_corpus"

# Small JSON values, nested a little: the values a careless edit or a hostile file puts anywhere.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """Return ``document`` with one node (chosen by hypothesis) replaced, deleted, or left alone."""
    if draw(st.integers(0, 9)) == 0:
        return draw(JSON_VALUES)
    if isinstance(document, dict) and document:
        key = draw(st.sampled_from(sorted(document)))
        copy = dict(document)
        if draw(st.integers(0, 5)) == 0:
            del copy[key]
        else:
            copy[key] = draw(mutated(document[key]))
        return copy
    if isinstance(document, list) and document:
        index = draw(st.integers(0, len(document) - 1))
        return [draw(mutated(item)) if n == index else item for n, item in enumerate(document)]
    return draw(JSON_VALUES)


def corpus(reader: str) -> list[Path]:
    return sorted((CORPUS / reader).glob("*")) if (CORPUS / reader).is_dir() else []


def succeeds_or_one_line(read: Callable[[], Any], error: type[Exception] = JarvisError) -> Any:
    """Call ``read``; a failure must be ``error`` with a one-line message. Return the result or None."""
    try:
        return read()
    except error as exc:
        assert str(exc) and "\n" not in str(exc), repr(exc)
        return None


# -- results and baseline JSON -------------------------------------------------------------------

VALID_RUN = results_json(make_results([scored("a", "commands", 0.0, 1.0), scored("b", "routing", 0.5, 0.5)]))


def check_results_text(tmp_path: Path, text: str) -> None:
    from evals.reports import load_results
    from evals.reports.tables import results_csv
    from evals.reports.text import render_text

    path = tmp_path / JSON_NAME
    path.write_text(text, encoding="utf-8")
    results = succeeds_or_one_line(lambda: load_results(path))
    if results is not None:  # what reads must render: `jarvis-evals report` never crashes on it
        render_text(results)
        results_csv(results)


@given(mutated(VALID_RUN))
def test_results_json_reader(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    check_results_text(tmp_path_factory.mktemp("r"), json.dumps(data))


@pytest.mark.parametrize("path", corpus("results"), ids=lambda p: p.name)
def test_results_json_corpus(tmp_path: Path, path: Path) -> None:
    check_results_text(tmp_path, path.read_text(encoding="utf-8"))


def _valid_baseline() -> dict[str, Any]:
    from evals.gate.baseline import Baseline

    return Baseline.from_results(make_results([scored("a", "commands", 0.0, 1.0)])).to_dict()


def check_baseline_text(tmp_path: Path, text: str) -> None:
    from evals.gate.baseline import load_baseline

    path = tmp_path / "baseline.json"
    path.write_text(text, encoding="utf-8")
    succeeds_or_one_line(lambda: load_baseline(path))


@given(mutated(_valid_baseline()))
def test_baseline_json_reader(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    check_baseline_text(tmp_path_factory.mktemp("b"), json.dumps(data))


@given(st.text(max_size=200))
def test_baseline_json_reader_on_any_text(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    check_baseline_text(tmp_path_factory.mktemp("b"), text)


@pytest.mark.parametrize("path", corpus("baseline"), ids=lambda p: p.name)
def test_baseline_json_corpus(tmp_path: Path, path: Path) -> None:
    check_baseline_text(tmp_path, path.read_text(encoding="utf-8"))


# -- suite YAML -------------------------------------------------------------------------------------

VALID_SUITE = yaml.safe_load(MINI_SUITE)


def check_suite_text(tmp_path: Path, text: str) -> None:
    from evals.suite import load_suite

    path = tmp_path / "suite.yaml"
    path.write_text(text, encoding="utf-8")
    suite = succeeds_or_one_line(lambda: load_suite(path))
    if suite is not None:  # every field is what its type says: nothing str()-ed from a list
        assert all(isinstance(c.prompt, str) and all(isinstance(k, str) for k in c.keywords) for c in suite.cases)


@given(mutated(VALID_SUITE))
def test_suite_yaml_reader(tmp_path_factory: pytest.TempPathFactory, data: Any) -> None:
    check_suite_text(tmp_path_factory.mktemp("s"), yaml.safe_dump(data, allow_unicode=True))


@given(st.text(alphabet=st.sampled_from(list("ab:-[]{}&*!|>'\"#\n ")), max_size=120))
def test_suite_yaml_reader_on_yaml_punctuation(tmp_path_factory: pytest.TempPathFactory, text: str) -> None:
    check_suite_text(tmp_path_factory.mktemp("s"), text)


@pytest.mark.parametrize("path", corpus("suite"), ids=lambda p: p.name)
def test_suite_yaml_corpus(tmp_path: Path, path: Path) -> None:
    check_suite_text(tmp_path, path.read_text(encoding="utf-8"))


# -- labels TSV ---------------------------------------------------------------------------------------

LABEL_CELLS = st.lists(st.sampled_from([*"ab01,\t\r\ufeff é", "open_app", "prompt", "label"]), max_size=6).map("".join)


@given(st.lists(st.lists(LABEL_CELLS, max_size=6), max_size=5), st.booleans())
def test_labels_tsv_reader(tmp_path_factory: pytest.TempPathFactory, rows: list[list[str]], header: bool) -> None:
    from evals.cli.validate_metric import read_labels

    lines = (["prompt\texpected_tools\tanswer\tlabel"] if header else []) + ["\t".join(r) for r in rows]
    path = tmp_path_factory.mktemp("l") / "labels.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    succeeds_or_one_line(lambda: read_labels(path, frozenset({"open_app"})))


# -- adapter folders -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter_template(tiny_adapter_dir: Path) -> tuple[dict[str, Any], bytes]:
    config = json.loads((tiny_adapter_dir / "adapter_config.json").read_text(encoding="utf-8"))
    return config, (tiny_adapter_dir / "adapter_model.safetensors").read_bytes()


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_adapter_folder_reader(tmp_path: Path, adapter_template: tuple[dict[str, Any], bytes], data: Any) -> None:
    from evals.models import inspect_adapter

    config, weights = adapter_template
    import tempfile

    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "adapter_config.json").write_text(json.dumps(data.draw(mutated(config))), encoding="utf-8")
    header = int.from_bytes(weights[:8], "little")
    cut = data.draw(st.integers(0, len(weights)))
    flip = data.draw(st.integers(0, 8 + header - 1))
    damaged = bytearray(weights[:cut] if data.draw(st.booleans()) else weights)
    if flip < len(damaged) and data.draw(st.booleans()):
        damaged[flip] ^= data.draw(st.integers(1, 255))
    name = data.draw(st.sampled_from(["adapter_model.safetensors", "adapter_model.bin"]))
    (folder / name).write_bytes(bytes(damaged))
    succeeds_or_one_line(lambda: inspect_adapter(folder))
    shutil.rmtree(folder)


# -- CLI option values -----------------------------------------------------------------------------------


def _option_parsers() -> list[tuple[str, Callable[[str], Any]]]:
    from evals.config import all_options

    return [(o.flag, o.parse) for o in all_options() if o.parse is not None]


@given(st.sampled_from(_option_parsers()), st.text(max_size=40))
def test_option_values(option: tuple[str, Callable[[str], Any]], value: str) -> None:
    flag, parse = option
    try:
        parse(value)
    except argparse.ArgumentTypeError as exc:
        assert str(exc) and "\n" not in str(exc), (flag, repr(exc))


# -- the answer parser ------------------------------------------------------------------------------------

ANSWER_TEXT = st.lists(
    st.sampled_from([*"{}[]()\"':,=<>/\\ \nabc_", "open_app", "volume_up", "<tool_call>", "</tool_call>", "name"]),
    max_size=40,
).map("".join)


@given(ANSWER_TEXT | st.text(max_size=80))
def test_answer_parser_scores_any_answer(answer: str) -> None:
    from evals.records import encode
    from evals.scoring import score_pair
    from evals.suite import load_suite

    suite = _mini_suite()
    case = suite.cases[0]
    scored_case = score_pair(case, answer, answer, load_suite(suite.path))
    for arm in (scored_case.base, scored_case.finetuned):
        assert 0.0 <= arm.relevance <= 1.0
    assert json.dumps(encode(scored_case), allow_nan=False)


_SUITE: list[Any] = []


def _mini_suite() -> Any:
    """The mini suite, loaded once (hypothesis calls the test many times; fixtures are per test)."""
    if not _SUITE:
        import tempfile

        from evals.suite import load_suite

        path = Path(tempfile.mkdtemp()) / "mini.yaml"
        path.write_text(MINI_SUITE, encoding="utf-8")
        _SUITE.append(load_suite(path))
    return _SUITE[0]


@pytest.mark.parametrize("path", corpus("options"), ids=lambda p: p.name)
def test_option_values_corpus(path: Path) -> None:
    value = path.read_text(encoding="utf-8")
    for flag, parse in _option_parsers():
        try:
            parse(value)
        except argparse.ArgumentTypeError as exc:
            assert str(exc) and "\n" not in str(exc), (flag, repr(exc))
