"""--jarvis-log-to: a run's scores and reports in the user's experiment tracker (MLflow's local file store here)."""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evals.loggers import parse_trackers
from tests.test_gate_e2e import MINI_SUITE
from tests.test_plugin import TEST_FILE


def run_logged(pytester: pytest.Pytester, model: Path, adapter: Path, tracker: str) -> pytest.RunResult:
    """Run the mini suite on the tiny model with --jarvis-log-to, in a subprocess like a user's run."""
    pytester.makepyfile(test_bench=TEST_FILE)
    suite = pytester.path / "mini.yaml"
    suite.write_text(MINI_SUITE, encoding="utf-8")
    return pytester.runpytest_subprocess(
        "-m", "jarvis", f"--jarvis-suite={suite}", f"--jarvis-model={model}", f"--jarvis-adapter={adapter}",
        "--jarvis-quant=none", "--jarvis-max-new-tokens=8", "--jarvis-assert=none", f"--jarvis-log-to={tracker}",
        "-p", "no:cacheprovider",
    )  # fmt: skip


def test_tracker_names_are_checked() -> None:
    assert parse_trackers("MLflow, wandb,mlflow") == ("mlflow", "wandb")
    with pytest.raises(argparse.ArgumentTypeError, match="use mlflow or wandb"):
        parse_trackers("tensorboard")


def test_a_run_logs_its_scores_and_reports_to_an_mlflow_file_store(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Never import mlflow in this process: it changes what later in-process pytester runs load.
    if importlib.util.find_spec("mlflow") is None:
        pytest.skip("mlflow-skinny is a dev extra; make setup installs it")
    store = pytester.path / "mlruns"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store.as_uri())
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3's own opt-in to its file store
    monkeypatch.setenv("MLFLOW_EXPERIMENT_NAME", "jarvis-test")
    result = run_logged(pytester, tiny_model_dir, tiny_adapter_dir, "mlflow")
    assert result.ret == 0, result.stdout.str()
    result.stdout.fnmatch_lines(["*note: logged to MLflow (*experiment jarvis-test, run *)*"])
    saved = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text(encoding="utf-8"))

    read = subprocess.run(
        [sys.executable, "-c", READ_RUN, store.as_uri(), "jarvis-test"], capture_output=True, text=True, check=True
    )
    run = json.loads(read.stdout)
    metrics = run["metrics"]
    tuned = saved["statistics"]["overall"]["arms"][saved["metadata"]["primary"]]
    assert metrics["jarvis/relevance"] == pytest.approx(tuned["relevance"])
    assert set(saved["statistics"]["by_category"]) == {
        k.split("/")[1] for k in metrics if k.endswith("/relevance") and k.count("/") == 2
    }
    assert run["params"]["suite"] == "mini@1" and run["tags"]["jarvis.gate"] == "no_baseline"
    assert {"reports/benchmark_report.html", "reports/benchmark_results.json"} <= set(run["artifacts"])


READ_RUN = """
import json, sys
import mlflow
client = mlflow.tracking.MlflowClient(tracking_uri=sys.argv[1])
(run,) = client.search_runs([client.get_experiment_by_name(sys.argv[2]).experiment_id])
print(json.dumps({"metrics": run.data.metrics, "params": run.data.params, "tags": run.data.tags,
                  "artifacts": [a.path for a in client.list_artifacts(run.info.run_id, "reports")]}))
"""


def test_a_tracker_that_is_not_installed_is_one_note_and_the_run_stands(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    if importlib.util.find_spec("wandb") is not None:
        pytest.skip("wandb is installed here")
    result = run_logged(pytester, tiny_model_dir, tiny_adapter_dir, "wandb")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*note: error: --jarvis-log-to=wandb: wandb is not installed: `pip install wandb`*"])
    assert (pytester.path / "reports" / "benchmark_report.html").is_file()
