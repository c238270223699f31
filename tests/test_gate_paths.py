"""A gate that cannot pass by accident (issue 12), end to end on the tiny Llama through pytester.

Each test names the scenario of the README's "What the gate guarantees" table it backs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.test_bad_input import snapshot
from tests.test_gate_e2e import MINI_SUITE, PROMPTS, SYSTEM
from tests.test_plugin import TEST_FILE
from tests.tiny import make_trained_lora

UNIT_TEST = """
def test_unit():
    assert 1 + 1 == 2
"""


@pytest.fixture
def bench(pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path):
    """Run the shipped 30-case suite on the tiny model (4 new tokens, full precision, cache in the test dir)."""
    pytester.makepyfile(test_bench=TEST_FILE, test_unit=UNIT_TEST)
    pytester.makeini("[pytest]\naddopts = --strict-markers\n")

    def run(*args: str, adapter: Path = tiny_adapter_dir, tokens: int = 4, **kw) -> pytest.RunResult:
        return pytester.runpytest(
            f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={adapter}", "--jarvis-quant=none",
            f"--jarvis-max-new-tokens={tokens}", f"--jarvis-cache-dir={pytester.path / 'cache'}",
            "--jarvis-assert=none", "-p", "no:cacheprovider", *args, **kw,
        )  # fmt: skip

    return run


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())


BASELINE = "reports/baseline.json"


# -- passes without a real comparison ------------------------------------------------------------


def test_quick_blessing_is_a_usage_error_unless_partial_is_asked(bench, pytester: pytest.Pytester) -> None:
    """Path 1: --jarvis-quick --jarvis-save-baseline would write the main baseline from 3 cases."""
    refused = bench("-m", "jarvis", "--jarvis-quick", "--jarvis-save-baseline")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(
        [
            "ERROR: --jarvis-save-baseline would bless a partial run (quick mode: 3 of 30 cases), which would then "
            "gate only those: run the whole suite to bless, or pass --jarvis-save-baseline-partial to bless this "
            "partial baseline on purpose"
        ]
    )
    assert not (pytester.path / BASELINE).exists()
    assert "Traceback" not in refused.stdout.str() + refused.stderr.str()


def test_a_partial_baseline_gates_only_what_it_covers_and_says_so(bench, pytester: pytest.Pytester) -> None:
    """Path 2: a baseline blessed from -k records it is partial; a required baseline must cover the selection."""
    refused = bench("-m", "jarvis", "-k", "route", "--jarvis-save-baseline")
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    blessed = bench("-m", "jarvis", "-k", "route", "--jarvis-save-baseline-partial")
    assert blessed.ret == 0, blessed.stdout.str()
    baseline = json.loads((pytester.path / BASELINE).read_text())
    meta = baseline["metadata"]
    assert meta["partial"] is True and meta["scope"] == "-k 'route'" and len(baseline["results"]) == 10

    full = bench("-m", "jarvis")
    assert full.ret == 0, full.stdout.str()
    full.stdout.fnmatch_lines(
        ["gate: baseline *baseline.json is partial (-k 'route': 10 cases in routing): only the 10 case(s) it covers*"]
    )
    assert any("is partial" in r for r in results(pytester)["gate"]["reasons"])  # in every report
    assert "is partial" in (pytester.path / "reports" / "benchmark_report.txt").read_text()

    required = bench("-m", "jarvis", "--jarvis-require-baseline")
    assert required.ret == 1
    required.stdout.fnmatch_lines(["gate: 20 selected case(s) are not in baseline *; a baseline is required*"])


def test_a_baseline_of_another_setup_is_refused_unless_accepted(bench, pytester: pytest.Pytester) -> None:
    """Path 3: another max_new_tokens (or model, quantization, prompt format, suite content) is refused."""
    assert bench("-m", "jarvis", "--jarvis-save-baseline").ret == 0
    other = bench("-m", "jarvis", tokens=5)
    assert other.ret == 1
    other.stdout.fnmatch_lines(
        [
            "gate: baseline *baseline.json was made on another setup (max_new_tokens 4 (baseline) vs 5 (this run)): "
            "re-bless it with --jarvis-save-baseline, or compare anyway with --jarvis-accept-baseline-mismatch"
        ]
    )
    accepted = bench("-m", "jarvis", "--jarvis-accept-baseline-mismatch", tokens=5)
    assert accepted.ret == 0, accepted.stdout.str()
    reasons = results(pytester)["gate"]["reasons"]
    assert any(r.startswith("gate: compared with a baseline made on another setup (max_new_tokens") for r in reasons)


@pytest.fixture(scope="module")
def thinking_adapter(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA that opens a <think> block it never closes within the token limit: empty answers."""
    answer = "<think> hmm hmm hmm hmm hmm hmm"
    return make_trained_lora(tiny_model_dir, tmp_path_factory.mktemp("thinking"), answer, PROMPTS, SYSTEM)


def test_mostly_empty_answers_fail_the_run(
    pytester: pytest.Pytester, tiny_model_dir: Path, thinking_adapter: Path
) -> None:
    """Path 7: every fine-tuned answer empty (a reasoning block still open) is not a pass at 0 = 0."""
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    result = pytester.runpytest(
        "-m", "jarvis", "--jarvis-suite=mini.yaml", f"--jarvis-model={tiny_model_dir}",
        f"--jarvis-adapter={thinking_adapter}", "--jarvis-quant=none", "--jarvis-max-new-tokens=12",
        "--jarvis-no-cache", "--jarvis-assert=none", "--jarvis-save-baseline", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 1, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "note: error: 3 of 3 fine-tuned answers are empty: nothing was compared; raise --jarvis-max-new-tokens "
            "(now 12) or turn the model's thinking off (a <think> block still open at the token limit leaves an "
            "empty answer)",
            "note: baseline not blessed: *baseline.json is unchanged, because the answers were empty",
        ]
    )
    assert not (pytester.path / BASELINE).exists()


# -- fails when it shouldn't ------------------------------------------------------------------------


def test_a_marker_expression_without_jarvis_cases_is_not_gated(bench, pytester: pytest.Pytester) -> None:
    """Path 8: pytest's own evaluation of -m decides, not the expression's text."""
    for expr in ("not jarvis and not routing", "not (jarvis)", "not jarvis or not jarvis"):
        result = bench("-m", expr)
        assert result.ret == 0, (expr, result.stdout.str())
        result.assert_outcomes(passed=1, deselected=30)
        assert "gate:" not in result.stdout.str() and " jarvis-evals =" not in result.stdout.str()


def test_a_negated_marker_expression_is_not_refused_under_xdist(bench, pytester: pytest.Pytester) -> None:
    pytest.importorskip("xdist")
    result = bench("-m", "not (jarvis)", "-n", "2")
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    refused = bench("-m", "routing", "-n", "2")  # selects JARVIS cases without naming the marker
    assert refused.ret == pytest.ExitCode.USAGE_ERROR
    refused.stderr.fnmatch_lines(["ERROR: jarvis-evals cannot run under pytest-xdist (-n)*"])


def test_k_that_deselects_every_asked_case_still_fails_for_lack_of_evidence(bench) -> None:
    result = bench("-m", "jarvis", "-k", "no_such_case")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*gate: FAILED*", "*no JARVIS case ran: the gate has no evidence*"])


def test_collect_only_applies_no_gate(bench, pytester: pytest.Pytester) -> None:
    """Path 9: --collect-only runs nothing, so it writes nothing and gates nothing."""
    result = bench("-m", "jarvis", "--collect-only", "-q")
    assert result.ret == 0, result.stdout.str()
    assert "gate:" not in result.stdout.str()
    assert not (pytester.path / "reports").exists()
    # Listing needs no adapter: a fresh clone has none before `jarvis-evals train`.
    missing = bench("-m", "jarvis", "--collect-only", "-q", adapter=pytester.path / "no-such-adapter")
    assert missing.ret == 0, missing.stdout.str()
    missing.stdout.fnmatch_lines(["*30/31 tests collected (1 deselected)*"])


# -- faults, each survived with nothing lost ------------------------------------------------------------

INTERRUPT_ON_SECOND_BATCH = """
import pytest
from evals.backends.hf import BatchGenerator

@pytest.fixture(scope="session", autouse=True)
def ctrl_c_on_the_second_batch():
    calls = []
    original = BatchGenerator.__call__
    def interrupted(self, texts, seeds=()):
        calls.append(len(texts))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, texts, seeds)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(BatchGenerator, "__call__", interrupted)
        yield
"""


def test_ctrl_c_keeps_finished_batches_in_the_cache_and_the_next_run_resumes(bench, pytester: pytest.Pytester) -> None:
    conftest = pytester.makeconftest(INTERRUPT_ON_SECOND_BATCH)
    interrupted = bench("-m", "jarvis", "--jarvis-batch-size=8", no_reraise_ctrlc=True)
    assert interrupted.ret == pytest.ExitCode.INTERRUPTED
    interrupted.stdout.fnmatch_lines(
        ["note: interrupted: no report was written; earlier reports and the baseline are untouched; answers of "
         "finished batches stay in the generation cache for the next run (8 kept)"]
    )  # fmt: skip
    assert not (pytester.path / "reports").exists()
    conftest.unlink()
    resumed = bench("-m", "jarvis", "--jarvis-batch-size=8")
    assert resumed.ret == 0, resumed.stdout.str()
    assert results(pytester)["metadata"]["n_cached_answers"] == 8


def test_two_runs_at_once_share_one_cache(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    cache = tmp_path / "shared-cache"
    env = {**os.environ, "JARVIS_EVALS_NO_PROGRESS": "1"}

    def start(reports: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "pytest", "-m", "jarvis", "-q", "-p", "no:cacheprovider",
             f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={tiny_adapter_dir}", "--jarvis-quant=none",
             "--jarvis-max-new-tokens=4", f"--jarvis-cache-dir={cache}", "--jarvis-assert=none",
             f"--jarvis-reports={reports}"],
            cwd=pytester.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip

    first, second = start("one"), start("two")
    outputs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert (first.returncode, second.returncode) == (0, 0), outputs
    third = start("three")
    assert third.communicate(timeout=600)[0] and third.returncode == 0
    meta = json.loads((pytester.path / "three" / "benchmark_results.json").read_text())["metadata"]
    assert (meta["n_generate_calls"], meta["n_cached_answers"]) == (0, 60), "the cache holds every answer, intact"


def test_a_corrupt_cache_is_moved_aside_and_the_run_goes_on(bench, pytester: pytest.Pytester) -> None:
    cache = pytester.path / "cache"
    cache.mkdir()
    (cache / "generations.sqlite").write_bytes(b"this is not a database" * 100)
    result = bench("-m", "jarvis", "-W", "default")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*CacheWarning: generation cache *generations.sqlite was unusable*moved it to*"])
    assert [p.name for p in cache.glob("generations.sqlite.corrupt-*")], "the bad file is kept aside, not deleted"


DISK_FULL = """
import errno
import os
import pytest
from evals import atomic

# From configure to unconfigure: the reports are written at session end, after session fixtures end.
patch = pytest.MonkeyPatch()

def pytest_configure(config):
    def no_space(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    patch.setattr(atomic.os, "fsync", no_space)

def pytest_unconfigure(config):
    patch.undo()
"""


def test_a_full_reports_folder_is_one_line_and_loses_nothing(bench, pytester: pytest.Pytester) -> None:
    assert bench("-m", "jarvis").ret == 0
    reports = pytester.path / "reports"
    before = snapshot(reports)
    pytester.makeconftest(DISK_FULL)
    result = bench("-m", "jarvis")
    assert result.ret == 1
    result.stdout.fnmatch_lines(
        [f"note: error: reports folder {reports} cannot be written (No space left on device): free space, *"]
    )
    assert "Traceback" not in result.stdout.str()
    assert snapshot(reports) == before, "every earlier report untouched: all are replaced or none"


KILLED_WHILE_WRITING = """
import os, sys, time
from pathlib import Path
sys.path.insert(0, os.getcwd())
from evals import atomic
from tests.factories import make_results, scored

def slow_fsync(fd):
    print("writing", flush=True)
    time.sleep(60)  # killed here, between writing the temporary file and renaming it
atomic.os.fsync = slow_fsync
from evals.gate.baseline import save_baseline
save_baseline(make_results([scored("c1", "routing", 0.0, 1.0)]), Path(sys.argv[1]), overwrite=True)
"""


def test_killing_the_process_while_the_baseline_is_written_keeps_the_old_one(tmp_path: Path) -> None:
    from evals.gate.baseline import save_baseline
    from tests.factories import make_results, scored

    path = save_baseline(make_results([scored("c1", "routing", 0.0, 0.5)]), tmp_path / "baseline.json")
    before = path.read_bytes()
    script = tmp_path / "bless.py"
    script.write_text(KILLED_WHILE_WRITING, encoding="utf-8")
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen([sys.executable, str(script), str(path)], cwd=root, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert path.read_bytes() == before, "the old baseline is intact"
    assert json.loads(path.read_text())["results"][0]["arms"]["lora"]["relevance"] == 0.5
