"""Measure the speed and memory goals of jarvis-evals on the embedded model, as ratios from one run.

    python benchmarks/speed.py [--adapter PATH] [--skip-sequential]

Every number comes from this machine in this run; nothing is asserted (machines are noisy):
the script prints each measurement, its ratio and the goal, and writes benchmarks/results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "arm_worker.py"


def worker(mode: str, adapter: Path, max_new_tokens: int, batch: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(WORKER), mode, str(adapter), str(max_new_tokens), batch],
        cwd=ROOT, capture_output=True, text=True, check=True, env={**os.environ, "JARVIS_EVALS_NO_PROGRESS": "1"},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def pytest_run(adapter: Path, reports: Path, cache: Path | None) -> tuple[float, dict]:
    args = [sys.executable, "-m", "pytest", "-m", "jarvis", "-q", "-p", "no:cacheprovider", f"--jarvis-adapter={adapter}",
            f"--jarvis-reports={reports}", "--jarvis-assert=none"]  # fmt: skip
    args.append(f"--jarvis-cache-dir={cache}" if cache else "--jarvis-no-cache")
    start = time.perf_counter()
    subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "JARVIS_EVALS_NO_PROGRESS": "1"})
    wall = time.perf_counter() - start
    return wall, json.loads((reports / "benchmark_results.json").read_text())


def import_seconds() -> float:
    code = "import time; t=time.perf_counter(); import torch, transformers, peft, bitsandbytes; print(time.perf_counter()-t)"
    return float(
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()[-1]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA folder (default: newest output/*/final)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--skip-sequential", action="store_true", help="skip the slow one-prompt-at-a-time run")
    args = parser.parse_args()
    from evals.models import find_latest_adapter, resolve_model

    adapter = args.adapter or find_latest_adapter(ROOT / "output")
    if adapter is None:
        sys.exit("no adapter: run `jarvis-evals train` first or pass --adapter")
    resolve_model(None)  # convert once, outside every timing
    rows: list[tuple[str, str, str]] = []
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "adapter": str(adapter),
    }

    work = Path(tempfile.mkdtemp(prefix="jarvis-bench-"))
    try:
        cache = work / "cache"  # empty: the first run is cold and fills it
        cold_wall, cold = pytest_run(adapter, work / "cold", cache)
        warm_wall, warm = pytest_run(adapter, work / "warm", cache)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    meta = cold["metadata"]
    outside = cold_wall - meta["generation_seconds"] - meta["load_seconds"]
    imports = import_seconds()
    results.update(
        cold_wall_s=round(cold_wall, 2), cached_wall_s=round(warm_wall, 2), generation_s=meta["generation_seconds"],
        load_s=meta["load_seconds"], generate_calls=meta["n_generate_calls"], cached_answers_rerun=warm["metadata"]["n_cached_answers"],
        outside_generation_and_loading_s=round(outside, 2), of_which_imports_s=round(imports, 2),
    )  # fmt: skip
    rows.append(("cold-cache `pytest -m jarvis` wall time", f"{cold_wall:.1f} s", "<= 60 s"))
    rows.append(
        (
            "cached re-run / cold run",
            f"{warm_wall:.1f} / {cold_wall:.1f} s = {100 * warm_wall / cold_wall:.1f} %",
            "<= 5 %",
        )
    )
    rows.append(
        (
            "outside generation + loading (cold run)",
            f"{outside:.1f} s (torch/transformers/peft imports {imports:.1f} s)",
            "<= 3 s",
        )
    )

    both = worker("both", adapter, args.max_new_tokens, "auto")
    base_only = worker("base-only", adapter, args.max_new_tokens, "auto")
    results.update(peak_rss_both_mb=both["peak_rss_mb"], peak_rss_base_only_mb=base_only["peak_rss_mb"])
    rows.append(
        (
            "peak RSS both arms / base arm only",
            f"{both['peak_rss_mb']:.0f} / {base_only['peak_rss_mb']:.0f} MB = {both['peak_rss_mb'] / base_only['peak_rss_mb']:.3f}x",
            "<= 1.15x",
        )
    )
    if not args.skip_sequential:
        sequential = worker("both", adapter, args.max_new_tokens, "1")
        results.update(
            batched_s=both["seconds"],
            sequential_s=sequential["seconds"],
            sequential_calls=sequential["generate_calls"],
            batched_calls=both["generate_calls"],
        )
        rows.append(
            (
                "one at a time / batched, 30 prompts x 2 arms",
                f"{sequential['seconds']:.1f} / {both['seconds']:.1f} s = {sequential['seconds'] / both['seconds']:.1f}x",
                ">= 5x",
            )
        )

    width = max(len(r[0]) for r in rows)
    print(
        f"jarvis-evals speed on {results['machine']} (embedded SmolLM2-135M, NF4, max_new_tokens {args.max_new_tokens})"
    )
    for name, value, goal in rows:
        print(f"  {name:<{width}}  {value}   goal {goal}")
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
