"""Many adapters, one base (issue 13): one test per (case, adapter), one base arm, a leaderboard."""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
from pathlib import Path

import pytest

from evals.adapters import AdapterSpec, default_adapter_name, parse_adapter_entry
from tests.test_gate_e2e import MINI_SUITE, PROMPTS, SYSTEM
from tests.test_plugin import TEST_FILE
from tests.tiny import make_lora, make_trained_lora

# -- naming and parsing --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("output/20261127-101500/final", "20261127-101500"),
        ("runs/ckpt-500", "ckpt-500"),
        ("runs/my adapter (v2)/final", "my-adapter-v2"),
    ],
)
def test_an_adapter_is_named_after_its_run_folder(path: str, name: str) -> None:
    assert default_adapter_name(Path(path)) == name


def test_adapter_entries_accept_name_equals_path_and_globs(tmp_path: Path, tiny_adapter_dir: Path) -> None:
    for run in ("a", "b"):
        shutil.copytree(tiny_adapter_dir, tmp_path / "output" / run / "final")
    (tmp_path / "output" / "empty" / "final").mkdir(parents=True)  # no adapter_config.json: not matched
    assert parse_adapter_entry("output/*/final", tmp_path) == [
        AdapterSpec("a", tmp_path / "output/a/final"),
        AdapterSpec("b", tmp_path / "output/b/final"),
    ]
    assert parse_adapter_entry("ckpt-500=output/a/final", tmp_path) == [
        AdapterSpec("ckpt-500", tmp_path / "output/a/final")
    ]


def test_checkpoints_are_ordered_by_step_not_by_name(tmp_path: Path, tiny_adapter_dir: Path) -> None:
    for step in (300, 5, 40, 1000):
        shutil.copytree(tiny_adapter_dir, tmp_path / "run" / f"checkpoint-{step}")
    specs = parse_adapter_entry("run/checkpoint-*", tmp_path)
    assert [s.name for s in specs] == ["checkpoint-5", "checkpoint-40", "checkpoint-300", "checkpoint-1000"]


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ("output/*/nope", "no adapter folder (with adapter_config.json) matches 'output/*/nope'"),
        ("x=output/*/final", "names 2 adapters 'x': drop NAME="),
        ("base=output/a/final", "not 'base'"),
        ("a b=output/a/final", "use letters, digits"),
    ],
)
def test_bad_adapter_entries_say_what_to_write(entry: str, words: str, tmp_path: Path, tiny_adapter_dir: Path) -> None:
    for run in ("a", "b"):
        shutil.copytree(tiny_adapter_dir, tmp_path / "output" / run / "final")
    with pytest.raises(argparse.ArgumentTypeError, match=re.escape(words)):
        parse_adapter_entry(entry, tmp_path)


# -- end to end on the tiny Llama -------------------------------------------------------------------


@pytest.fixture(scope="module")
def good_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Answers "open_app !" to the mini suite: relevance 1 on every case."""
    return make_trained_lora(tiny_model_dir, tmp_path_factory.mktemp("good"), "open_app !", PROMPTS, SYSTEM)


@pytest.fixture
def bench(pytester: pytest.Pytester, tiny_model_dir: Path):
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest(
            "-m", "jarvis", "--jarvis-suite=mini.yaml", f"--jarvis-model={tiny_model_dir}", "--jarvis-quant=none",
            "--jarvis-max-new-tokens=8", f"--jarvis-cache-dir={pytester.path / 'cache'}", "--jarvis-assert=none",
            "-p", "no:cacheprovider", *args,
        )  # fmt: skip

    return run


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())


def test_three_adapters_one_base_one_test_per_case_and_adapter(
    bench, pytester: pytest.Pytester, good_adapter: Path, tiny_adapter_dir: Path, tiny_model_dir: Path
) -> None:
    weak = make_lora(tiny_model_dir, pytester.path / "weak", seed=3)
    result = bench(f"--jarvis-adapter=good={good_adapter}", f"--jarvis-adapter=rand={tiny_adapter_dir}",
                   f"--jarvis-adapter=weak={weak}", "--jarvis-primary=rand", "-v")  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=9)
    result.stdout.fnmatch_lines(
        ["*test_jarvis_case?cmd_firefox-good? PASSED*", "*test_jarvis_case?route_browser-weak?*"]
    )
    data = results(pytester)
    meta = data["metadata"]
    assert meta["adapter"] == str(tiny_adapter_dir)  # the seed's statistics describe the primary adapter
    assert meta["n_generate_calls"] == 4, "one base arm and one arm per adapter, each one batch"
    board = data["leaderboard"]
    assert [r["name"] for r in board["rows"]][0] == "good"
    assert board["rows"][0]["avg_relevance"] == 1.0 and board["rows"][0]["vs_base"]["wins"] == 3
    assert (meta["primary"], list(meta["adapters"])) == ("rand", ["good", "rand", "weak"])
    # Every case holds the base arm once and one arm per adapter: no adapter's results repeated.
    assert all(list(c["arms"]) == ["base", "good", "rand", "weak"] for c in data["results"])
    assert all(c["arms"]["good"]["answer"].startswith("open_app") for c in data["results"])
    assert set(data["paired"]) == set(data["power"]) == {"good", "rand", "weak"}
    reports = pytester.path / "reports"
    assert (reports / "benchmark_leaderboard.csv").read_text().splitlines()[1].startswith("1,good,")
    assert (reports / "benchmark_leaderboard.png").stat().st_size > 5_000
    text = (reports / "benchmark_report.txt").read_text()
    assert "LEADERBOARD (3 adapters on the same base and cases" in text and "rand *" in text
    result.stdout.fnmatch_lines(["leaderboard (3 adapters on one base*", "rank  adapter*", "1     good*"])


def test_k_selects_one_adapter_and_the_cache_keeps_the_others(
    bench, pytester: pytest.Pytester, good_adapter: Path, tiny_adapter_dir: Path
) -> None:
    args = (f"--jarvis-adapter=good={good_adapter}", f"--jarvis-adapter=rand={tiny_adapter_dir}")
    only = bench(*args, "-k", "good")
    assert only.ret == 0, only.stdout.str()
    only.assert_outcomes(passed=3, deselected=3)
    meta = results(pytester)["metadata"]
    assert meta["n_generate_calls"] == 2 and meta["adapter"] == str(good_adapter)  # rand was never generated
    both = bench(*args)
    assert both.ret == 0
    meta = results(pytester)["metadata"]
    assert (meta["n_generate_calls"], meta["n_cached_answers"]) == (1, 6), "only the new adapter's arm is generated"


def test_the_newest_adapter_is_primary_by_default_and_a_glob_names_each_run(
    bench, pytester: pytest.Pytester, good_adapter: Path, tiny_adapter_dir: Path
) -> None:
    out = pytester.path / "output"
    shutil.copytree(tiny_adapter_dir, out / "older" / "final")
    shutil.copytree(good_adapter, out / "newer" / "final")
    for path, stamp in ((out / "older" / "final", 1_000_000), (out / "newer" / "final", 2_000_000)):
        for f in path.iterdir():
            os.utime(f, (stamp, stamp))
    result = bench("--jarvis-adapter=output/*/final")
    assert result.ret == 0, result.stdout.str()
    data = results(pytester)
    assert set(data["metadata"]["adapters"]) == {"older", "newer"} and data["metadata"]["primary"] == "newer"
    assert data["metadata"]["adapter"] == str(out / "newer" / "final")


def test_gate_all_gates_every_adapter(
    bench, pytester: pytest.Pytester, good_adapter: Path, tiny_adapter_dir: Path
) -> None:
    blessed = bench(f"--jarvis-adapter=good={good_adapter}", "--jarvis-save-baseline")
    assert blessed.ret == 0, blessed.stdout.str()
    args = (
        f"--jarvis-adapter=good={good_adapter}",
        f"--jarvis-adapter=rand={tiny_adapter_dir}",
        "--jarvis-primary=good",
    )
    assert bench(*args).ret == 0  # the gate applies to the primary adapter only
    every = bench(*args, "--jarvis-gate-all")
    assert every.ret == 1
    every.stdout.fnmatch_lines(["gate: [[]rand[]] *relevance 0.00 < baseline 1.00 - tolerance 0.02*"])


def test_an_unknown_primary_is_a_usage_error(bench, good_adapter: Path) -> None:
    result = bench(f"--jarvis-adapter=good={good_adapter}", "--jarvis-primary=nope")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --jarvis-primary nope: no adapter has that name; use one of good"])


def test_two_adapters_with_one_name_is_a_usage_error(bench, good_adapter: Path, tiny_adapter_dir: Path) -> None:
    result = bench(f"--jarvis-adapter=x={good_adapter}", f"--jarvis-adapter=x={tiny_adapter_dir}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: --jarvis-adapter: two adapters are named 'x' (*): name them with NAME=PATH"])


def test_an_adapter_trained_for_another_base_is_a_warning_in_the_summary_and_the_results(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    other = Path(shutil.copytree(tiny_model_dir, tmp_path / "another-base"))  # same shapes: peft would load it
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    result = pytester.runpytest(
        "-m", "jarvis", "--jarvis-suite=mini.yaml", f"--jarvis-model={other}", f"--jarvis-adapter={tiny_adapter_dir}",
        "--jarvis-quant=none", "--jarvis-max-new-tokens=4", "--jarvis-no-cache", "--jarvis-assert=none",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    warning = f"adapter {tiny_adapter_dir} was trained for {tiny_model_dir}, not {other}"
    result.stdout.fnmatch_lines([f"warning: {warning}: its answers may mean little*"])
    assert any(w.startswith(warning) for w in results(pytester)["warnings"])
