"""Send a finished run to an experiment tracker the user has: MLflow or Weights & Biases.

Optional: neither is a dependency of jarvis-evals. ``--jarvis-log-to=mlflow`` logs the run's
identity as parameters, its scores as metrics (overall and per category, the same names as the
Trainer callback: ``jarvis/relevance``...), the gate's status as a tag and the reports as
artifacts, to wherever the tracker is configured the usual way (``MLFLOW_TRACKING_URI``,
``MLFLOW_EXPERIMENT_NAME``; ``WANDB_PROJECT``, ``WANDB_MODE=offline``...).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from evals.errors import JarvisError
from evals.records import RunResults

TRACKERS: tuple[str, ...] = ("mlflow", "wandb")
_PACKAGES = {"mlflow": "mlflow (or mlflow-skinny)", "wandb": "wandb"}
_ARTIFACTS = (".html", ".json", ".txt", ".csv", ".png")


def parse_trackers(text: str) -> tuple[str, ...]:
    """Read ``mlflow``, ``wandb`` or ``mlflow,wandb``."""
    names = tuple(dict.fromkeys(p.strip().lower() for p in str(text).split(",") if p.strip()))
    unknown = [n for n in names if n not in TRACKERS]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"{text!r}: use {' or '.join(TRACKERS)} (or both, comma-separated)")
    return names


def run_metrics(results: RunResults) -> dict[str, float]:
    """The scores of a run as flat metric names (what the Trainer callback logs, plus the base arm)."""
    overall = results.summary().overall
    out = {
        "jarvis/relevance": overall.finetuned.relevance,
        "jarvis/relevance_base": overall.base.relevance,
        "jarvis/keyword_match": overall.finetuned.keyword_match,
        "jarvis/regressions": float(overall.regressions),
    }
    if overall.finetuned.valid_call is not None:
        out["jarvis/valid_call"] = overall.finetuned.valid_call
    for category, stats in results.summary().by_category.items():
        out[f"jarvis/{category}/relevance"] = stats.finetuned.relevance
    return out


def run_params(results: RunResults) -> dict[str, str]:
    meta = results.metadata
    return {
        "model": meta.model,
        "model_fingerprint": meta.model_fingerprint,
        "adapter": meta.adapter,
        "quantization": meta.quantization,
        "suite": f"{meta.suite_name}@{meta.suite_version}",
        "metric_version": meta.metric_version,
        "max_new_tokens": str(meta.generation.max_new_tokens),
        "prompt_format": str(meta.generation.prompt_format or ""),
    }


def log_run(results: RunResults, written: Sequence[Path], tracker: str) -> str:
    """Log ``results`` and its report files to ``tracker``; return a one-line note; ``JarvisError`` on failure."""
    try:
        if tracker == "mlflow":
            return _mlflow(results, written)
        return _wandb(results, written)
    except ImportError:
        raise JarvisError(
            f"--jarvis-log-to={tracker}: {tracker} is not installed: `pip install {_PACKAGES[tracker]}`, "
            "or drop the option"
        ) from None
    except JarvisError:
        raise
    except Exception as exc:  # the tracker's own error (unreachable server, bad URI): one line, the run stands
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise JarvisError(f"--jarvis-log-to={tracker}: logging failed ({first}); the reports are written") from None


def _artifacts(written: Sequence[Path]) -> list[Path]:
    return [p for p in written if p.suffix in _ARTIFACTS and p.is_file()]


def _mlflow(results: RunResults, written: Sequence[Path]) -> str:
    import mlflow

    experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", "jarvis-evals")
    mlflow.set_experiment(experiment)
    name = f"jarvis {Path(results.metadata.adapter).parent.name or results.metadata.adapter}"
    with mlflow.start_run(run_name=name) as run:
        mlflow.log_params(run_params(results))
        mlflow.log_metrics(run_metrics(results))
        gate = results.gate.status if results.gate is not None else "none"
        mlflow.set_tags({"jarvis.gate": gate, "jarvis.partial": str(results.metadata.partial).lower()})
        for path in _artifacts(written):
            mlflow.log_artifact(str(path), artifact_path="reports")
        run_id = run.info.run_id
    return f"logged to MLflow ({mlflow.get_tracking_uri()}, experiment {experiment}, run {run_id})"


def _wandb(results: RunResults, written: Sequence[Path]) -> str:
    import wandb

    run: Any = wandb.init(
        project=os.environ.get("WANDB_PROJECT", "jarvis-evals"), job_type="jarvis-eval", config=run_params(results)
    )
    try:
        run.log(run_metrics(results))
        run.summary["jarvis/gate"] = results.gate.status if results.gate is not None else "none"
        for path in _artifacts(written):
            if path.suffix == ".html":
                run.log({"jarvis/report": wandb.Html(path.read_text(encoding="utf-8"))})
            run.save(str(path), base_path=str(path.parent), policy="now")
        url = getattr(run, "url", None) or "offline"
    finally:
        run.finish()
    return f"logged to Weights & Biases ({url})"
