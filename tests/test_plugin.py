"""The plugin end to end with pytester on the tiny Llama and a real LoRA."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

TEST_FILE = """
from evals.plugin import assert_case

def test_jarvis_case(jarvis_case, jarvis_scored, jarvis_policy):
    assert_case(jarvis_scored, jarvis_policy)
"""


@pytest.fixture
def bench(pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path):
    """Return a function running the benchmark on the tiny model in a fresh pytester dir."""
    pytester.makepyfile(test_bench=TEST_FILE)
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")

    def run(*args: str) -> pytest.RunResult:
        return pytester.runpytest(
            f"--jarvis-model={tiny_model_dir}",
            f"--jarvis-adapter={tiny_adapter_dir}",
            "--jarvis-quant=none",
            "--jarvis-max-new-tokens=6",
            "--jarvis-no-cache",
            "--jarvis-assert=none",
            "-p",
            "no:cacheprovider",
            *args,
        )

    return run


def _results(pytester: pytest.Pytester, folder: str = "reports") -> dict:
    return json.loads((pytester.path / folder / "benchmark_results.json").read_text())


def test_full_run_one_test_per_prompt(bench, pytester: pytest.Pytester) -> None:
    result = bench("-m", "jarvis")
    result.assert_outcomes(passed=30)
    data = _results(pytester)
    assert len(data["results"]) == 30
    meta = data["metadata"]
    assert meta["n_generate_calls"] == 2, "one batched generate call per arm for 30 prompts"
    assert meta["generation"]["max_new_tokens"] == 6
    assert meta["generation"]["do_sample"] is False
    assert meta["quantization"] == "none"
    assert set(data["statistics"]["by_category"]) == {"commands", "corrections", "routing"}
    overall, name = data["statistics"]["overall"], meta["primary"]
    assert list(overall["arms"]) == ["base", name] and list(overall["pairs"]) == [name]
    for arm in overall["arms"].values():
        assert 0.0 <= arm["relevance"] <= 1.0 and 0.0 <= arm["keyword_match"] <= 1.0
    assert 0.0 <= overall["pairs"][name]["cosine_similarity"] <= 1.0
    power = data["power"][name]
    assert power["overall"]["n"] == 30 and set(power["by_category"]) == {"commands", "corrections", "routing"}
    result.stdout.fnmatch_lines(["power: this run *detect a relevance drop*"])
    # The adapter has non-zero weights: the two arms must not answer identically everywhere.
    assert any(r["arms"]["base"]["answer"] != r["arms"][name]["answer"] for r in data["results"])
    result.stdout.fnmatch_lines(["*jarvis-evals*", "*report: *benchmark_results.json*"])


def test_marker_selects_one_category_and_generates_only_it(bench, pytester: pytest.Pytester) -> None:
    result = bench("-m", "jarvis and corrections")
    result.assert_outcomes(passed=10)
    data = _results(pytester, "reports/partial")  # never over the full run's reports
    assert not (pytester.path / "reports" / "benchmark_results.json").exists()
    result.stdout.fnmatch_lines(["note: partial run (-m 'jarvis and corrections'): reports in *reports/partial*"])
    assert {r["case"]["category"] for r in data["results"]} == {"corrections"}
    assert len(data["results"]) == 10
    assert (data["metadata"]["partial"], data["metadata"]["scope"]) == (True, "-m 'jarvis and corrections'")
    assert data["metadata"]["n_generate_calls"] == 2


def test_k_selects_single_prompt(bench, pytester: pytest.Pytester) -> None:
    result = bench("-m", "jarvis", "-k", "route_volume_up")
    result.assert_outcomes(passed=1)
    assert [r["case"]["id"] for r in _results(pytester, "reports/partial")["results"]] == ["route_volume_up"]


def test_unit_tests_run_leaves_no_report(bench, pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_other="def test_plain():\n    assert True\n")
    result = bench("-m", "not jarvis")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "reports").exists()


def test_min_relevance_policy_fails_with_both_answers(bench) -> None:
    result = bench("-m", "jarvis", "-k", "cmd_open_chrome", "--jarvis-assert=min-relevance:1.0")
    # A random tiny model never names open_app: the test must fail and show the evidence.
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        [
            "*cmd_open_chrome [[]commands[]] fine-tuned relevance*",
            "*prompt:*'ouvre chrome'*",
            "*base:*",
            "*fine-tuned:*",
        ]
    )
    failures = result.stdout.str().split("short test summary info")[0]
    assert failures.count("prompt:     'ouvre chrome'") == 1, "the message once, not again inside an assert"
    assert "AssertionError" not in failures and "assert " not in failures


def test_missing_adapter_is_a_usage_error(pytester: pytest.Pytester, tiny_model_dir: Path) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    result = pytester.runpytest(f"--jarvis-model={tiny_model_dir}", "--jarvis-adapter=nope", "-m", "jarvis")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*adapter folder*nope does not exist*jarvis-evals train*"])
    assert "Traceback" not in result.stderr.str()


def test_bad_option_value_is_rejected(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    result = pytester.runpytest("--jarvis-quant=3bit")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--jarvis-quant*'3bit' is not a quantization; use one of 4bit, 8bit, none*"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--jarvis-samples=5"],
            "*--jarvis-samples: sampling settings with greedy decoding*add --jarvis-decoding=sampled",
        ),
        (
            ["--jarvis-top-k=20", "--jarvis-temperature=0.6"],
            "*--jarvis-temperature, --jarvis-top-k: sampling settings*",
        ),
        (["--jarvis-decoding=beam"], "*decoding must be greedy or sampled, got 'beam'*"),
        (["--jarvis-decoding=sampled", "--jarvis-temperature=0"], "*temperature must be a number above 0*"),
        (["--jarvis-decoding=sampled", "--jarvis-top-p=1.5"], "*top-p must be above 0 and at most 1*"),
    ],
)
def test_contradictory_decoding_options_are_one_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    result = pytester.runpytest("-m", "jarvis", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()


def test_xdist_refuses_a_jarvis_run(pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_bench=TEST_FILE)
    result = pytester.runpytest_subprocess("-n", "2", "-m", "jarvis")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*cannot run under pytest-xdist (-n)*without -n*"])


def test_xdist_runs_unit_tests_and_fails_stray_cases_cleanly(pytester: pytest.Pytester, tiny_model_dir: Path) -> None:
    pytest.importorskip("xdist")
    pytester.makepyfile(test_bench=TEST_FILE, test_other="def test_plain():\n    assert True\n")
    ok = pytester.runpytest_subprocess("-n", "2", "-m", "not jarvis")
    ok.assert_outcomes(passed=1)
    stray = pytester.runpytest_subprocess("-n", "2", "-k", "cmd_open_chrome", f"--jarvis-model={tiny_model_dir}")
    stray.assert_outcomes(errors=1)
    stray.stdout.fnmatch_lines(["*cannot run under pytest-xdist*"])
    assert not (pytester.path / "reports").exists(), "no worker writes reports"


def test_help_lists_the_jarvis_group(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*jarvis-evals benchmark:*", "*--jarvis-quant=4bit|8bit|none*", "*jarvis_category_tolerances*"]
    )


def test_quick_mode_runs_one_case_per_category_into_its_own_folder(bench, pytester: pytest.Pytester) -> None:
    result = bench("-m", "jarvis", "--jarvis-quick")
    result.assert_outcomes(passed=3)
    data = _results(pytester, "reports/quick")
    assert [r["case"]["category"] for r in data["results"]] == ["commands", "corrections", "routing"]
    assert data["metadata"]["generation"]["max_new_tokens"] == 6  # never more than asked; quick caps at 24
    assert not (pytester.path / "reports" / "benchmark_results.json").exists(), "the full run's reports stay apart"
    result.stdout.fnmatch_lines(["*quick mode*gate is not applied*"])


def test_limit_takes_the_first_n_cases_of_each_selected_category(bench, pytester: pytest.Pytester) -> None:
    result = bench("-m", "jarvis and not routing", "--jarvis-limit=2")
    result.assert_outcomes(passed=4)
    ids = [r["case"]["id"] for r in _results(pytester, "reports/partial")["results"]]
    assert ids == ["cmd_open_chrome", "cmd_cluster_status", "fix_open_chrome", "fix_cluster_status"]


def test_progress_reaches_the_log_as_plain_lines_outside_capture(bench, monkeypatch) -> None:
    monkeypatch.setenv("CI", "true")
    result = bench("-m", "jarvis", "--jarvis-limit=1")
    result.stderr.fnmatch_lines(
        ["[[]jarvis[]] generating base arm: started (3 prompts)", "*generating fine-tuned arm: done, 3/3 prompts*"]
    )


def test_junit_xml_carries_each_case_s_scores(bench, pytester: pytest.Pytester) -> None:
    xml = pytester.path / "junit.xml"
    result = bench("-m", "jarvis", "-k", "route_volume_up", f"--junitxml={xml}", "-o", "junit_family=xunit1")
    assert result.ret == 0, result.stdout.str()
    text = xml.read_text()
    assert '<property name="relevance_finetuned"' in text and '<property name="tools_named_base"' in text


def test_github_step_summary_gets_a_markdown_summary(bench, pytester: pytest.Pytester, monkeypatch) -> None:
    summary = pytester.path / "summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = bench("-m", "jarvis", "-k", "route_volume_up")
    assert result.ret == 0, result.stdout.str()
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n## JARVIS benchmark: ")  # appended, never replaced


def test_a_cached_rerun_reads_its_scores_and_charts_back_and_imports_no_sklearn_pandas_or_matplotlib(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    """Cosines and drawn reports are kept beside the answers: the re-run needs none of those libraries."""
    pytester.makepyfile(test_bench=TEST_FILE)
    pytester.makeconftest(
        """
        import sys
        def pytest_unconfigure(config):
            with open("imported.txt", "w") as f:
                f.write(" ".join(m for m in ("simplemma", "sklearn", "pandas", "matplotlib", "torch") if m in sys.modules))
        """
    )
    args = [
        "-m", "jarvis", f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={tiny_adapter_dir}", "--jarvis-quant=none",
        "--jarvis-max-new-tokens=6", f"--jarvis-cache-dir={pytester.path / 'cache'}", "--jarvis-assert=none",
        "--jarvis-no-probe", "-p", "no:cacheprovider",
    ]  # fmt: skip
    pytester.runpytest_subprocess(*args).assert_outcomes(passed=30)
    cold = _results(pytester)
    assert (pytester.path / "imported.txt").read_text() == "simplemma sklearn pandas matplotlib torch"
    assert (pytester.path / "cache" / "lemmas.sqlite").is_file()
    assert any((pytester.path / "cache" / "rendered").iterdir())

    pytester.runpytest_subprocess(*args).assert_outcomes(passed=30)
    warm = _results(pytester)
    assert (pytester.path / "imported.txt").read_text() == ""
    assert warm["metadata"]["n_cached_answers"] == 60
    assert [r["similarity"] for r in warm["results"]] == [r["similarity"] for r in cold["results"]]
    # Lemmas from the memo, not the dictionaries: every score the same.
    assert [r["arms"] for r in warm["results"]] == [r["arms"] for r in cold["results"]]
