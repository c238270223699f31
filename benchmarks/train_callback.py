"""What scoring the suite while training costs: the share of `jarvis-evals train` spent on it, from one run.

    python benchmarks/train_callback.py                         # train the demo adapter (quick subset), then report
    python benchmarks/train_callback.py --summary output/RUN/final/training_summary.json   # an existing run

The trainer times its JARVIS scoring apart from its optimizer steps (``jarvis_eval_seconds`` in
``training_summary.json``), so one run gives the ratio: scoring seconds / training seconds without
them. The goal of issue 29 is at most 20 % for the quick subset. Nothing is asserted: a ratio from one
run on a noisy machine is a measurement, not a test.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

GOAL = 0.20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--summary", type=Path, help="training_summary.json of a run trained with scoring on")
    parser.add_argument("--subset", choices=("quick", "full"), default="quick")
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    summary_path = args.summary
    if summary_path is None:
        out = Path(tempfile.mkdtemp(prefix="jarvis-train-bench-"))
        cmd = [sys.executable, "-m", "evals.cli", "train", "--output-dir", str(out), "--epochs", str(args.epochs),
               "--jarvis-eval", args.subset]  # fmt: skip
        print("$", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        summary_path = next(out.glob("*/final/training_summary.json"))
    summary = json.loads(summary_path.read_text(encoding="utf-8"))
    if "jarvis_eval_seconds" not in summary:
        print(f"{summary_path} was trained without scoring (--jarvis-eval none, or before it existed)")
        return 1
    scoring = float(summary["jarvis_eval_seconds"])
    training = float(summary["train_seconds"]) - scoring
    best = summary["jarvis_best"]
    per_epoch = ", ".join(f"{e['relevance']:.3f}" for e in summary["jarvis_eval"])
    print(f"summary: {summary_path}")
    print(f"epochs {summary['epochs']}, steps {summary['steps']}, subset {best['subset']}")
    print(f"training (optimizer steps) {training:.1f} s; JARVIS scoring {scoring:.1f} s")
    print(f"scoring / training = {scoring / training:.3f} (goal <= {GOAL:.2f})")
    print(f"relevance per epoch: {per_epoch}; best epoch {best['epoch']:g}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
