"""Measure the many-adapters goals on the embedded model, as ratios from one run (cold caches).

    python benchmarks/adapters.py ADAPTER ADAPTER ADAPTER

Three whole `pytest -m jarvis` runs, each in a fresh process with an empty generation cache:

1. the base and the first adapter (1 + 1);
2. the base and all three adapters in one run (1 + 3): one base in memory, each adapter attached once;
3. three separate single-adapter runs, as a team would run them without this feature.

Prints wall times, peak resident memory (each run's process tree) and the ratios with their goals;
nothing is asserted (machines are noisy). Writes benchmarks/adapters_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Runs the command and prints the peak RSS (MB) of its process tree: RUSAGE_CHILDREN of a fresh parent.
MEASURE = (
    "import resource, subprocess, sys; done = subprocess.run(sys.argv[1:], capture_output=True); "
    "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)"
)


def run(adapters: list[tuple[str, Path]], work: Path, tag: str) -> dict:
    """One cold `pytest -m jarvis` with these adapters; its wall time, peak RSS and metadata."""
    args = [sys.executable, "-m", "pytest", "-m", "jarvis", "-q", "-p", "no:cacheprovider", "--jarvis-assert=none",
            f"--jarvis-cache-dir={work / tag / 'cache'}", f"--jarvis-reports={work / tag / 'reports'}",
            *(f"--jarvis-adapter={name}={path}" for name, path in adapters)]  # fmt: skip
    env = {**os.environ, "JARVIS_EVALS_NO_PROGRESS": "1", "NO_COLOR": "1"}
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", MEASURE, *args], cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    code, rss = out.stdout.split()
    data = json.loads((work / tag / "reports" / "benchmark_results.json").read_text(encoding="utf-8"))
    return {"wall_s": round(wall, 2), "peak_rss_mb": round(float(rss), 1), "exit": int(code),
            "generate_calls": data["metadata"]["n_generate_calls"], "generation_s": data["metadata"]["generation_seconds"],
            "leaderboard": [(r["name"], r["avg_relevance"]) for r in data.get("leaderboard", {}).get("rows", [])]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("adapters", nargs=3, type=Path, help="three adapter folders")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from evals.models import resolve_model

    resolve_model(None)  # convert once, outside every timing
    named = [(f"a{i}", path.resolve()) for i, path in enumerate(args.adapters, 1)]
    with tempfile.TemporaryDirectory(prefix="jarvis-adapters-") as tmp:
        work = Path(tmp)
        one = run(named[:1], work, "one")
        three = run(named, work, "three")
        separate = [run([adapter], work, f"separate-{adapter[0]}") for adapter in named]
    separate_wall = sum(r["wall_s"] for r in separate)
    rows = [
        ("1 base + 3 adapters / 1 base + 1 adapter, wall", f"{three['wall_s']:.1f} / {one['wall_s']:.1f} s = {three['wall_s'] / one['wall_s']:.2f}x", "<= 1.8x", three["wall_s"] / one["wall_s"] <= 1.8),
        ("1 base + 3 adapters / 1 base + 1 adapter, peak RSS", f"{three['peak_rss_mb']:.0f} / {one['peak_rss_mb']:.0f} MB = {three['peak_rss_mb'] / one['peak_rss_mb']:.3f}x", "<= 1.1x", three["peak_rss_mb"] / one["peak_rss_mb"] <= 1.1),
        ("three separate runs / one 1 + 3 run, wall", f"{separate_wall:.1f} / {three['wall_s']:.1f} s = {separate_wall / three['wall_s']:.2f}x", ">= 1.8x", separate_wall / three["wall_s"] >= 1.8),
    ]  # fmt: skip
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    print(f"jarvis-evals, many adapters on {machine} (embedded SmolLM2-135M, NF4, 64 new tokens, cold caches)")
    print(f"command: python benchmarks/adapters.py {' '.join(map(str, args.adapters))}")
    width = max(len(r[0]) for r in rows)
    for name, value, goal, met in rows:
        print(f"  {name:<{width}}  {value}   goal {goal}: {'met' if met else 'NOT met'}")
    print(f"  generate calls: 1+1 {one['generate_calls']}, 1+3 {three['generate_calls']}; generation "
          f"{one['generation_s']:.1f} s vs {three['generation_s']:.1f} s")  # fmt: skip
    results = {"machine": machine, "one": one, "three": three, "separate": separate}
    out = Path(__file__).resolve().parent / "adapters_results.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
