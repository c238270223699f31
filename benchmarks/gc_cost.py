"""Measure what Python's cyclic garbage collector costs a cold run, and where its full collections happen.

    python benchmarks/gc_cost.py [--adapter PATH] [--probe]

One cold ``pytest -m jarvis`` in this process (an empty cache folder, every report, without the
routing probe and drift unless ``--probe``), the demo adapter (default the newest
``output/*/final``), with a ``gc.callbacks`` hook that times every collection. Prints the count
and seconds per generation, and for each full (generation 2) collection when it started, what it
took and the innermost frames of the project or pytest that triggered it. A full collection walks
every tracked object (about 680,000 once torch, transformers and peft are imported), so its cost
grows with what the process has imported. Nothing is asserted; writes benchmarks/gc_cost_results.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "gc_cost_results.json"


def where(stack: list[traceback.FrameSummary]) -> str:
    """The innermost frames of evals or pytest on the stack (else the innermost frames), as file:function."""
    names = ["/".join(f.filename.split("/")[-2:]) + f":{f.name}" for f in stack]
    ours = [n for n in names if "evals/" in n or n.startswith(("backends/", "reports/", "metrics/", "_pytest/"))]
    return " < ".join(reversed((ours or names)[-3:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--probe", action="store_true", help="keep the routing probe and drift")
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from mixed_adapters import prepare

    adapter = prepare(args.adapter, None)
    os.environ.setdefault("NO_COLOR", "1")
    counts = {0: 0, 1: 0, 2: 0}
    seconds = {0: 0.0, 1: 0.0, 2: 0.0}
    full: list[dict[str, Any]] = []
    started: dict[int, float] = {}
    origin = time.perf_counter()

    def timed(phase: str, info: dict[str, int]) -> None:
        generation = info["generation"]
        now = time.perf_counter()
        if phase == "start":
            started[generation] = now
            return
        took = now - started[generation]
        counts[generation] += 1
        seconds[generation] += took
        if generation == 2:
            full.append({"at_s": round(started[2] - origin, 2), "took_s": round(took, 3),
                         "where": where(traceback.extract_stack()[:-1])})  # fmt: skip

    work = Path(tempfile.mkdtemp(prefix="jarvis-gc-"))
    pytest_args = ["-m", "jarvis", "-q", "-p", "no:cacheprovider", f"--jarvis-adapter={adapter}",
                   f"--jarvis-reports={work / 'reports'}", "--jarvis-assert=none", f"--jarvis-cache-dir={work / 'cache'}"]  # fmt: skip
    if not args.probe:
        pytest_args.append("--jarvis-no-probe")
    import pytest

    os.chdir(ROOT)
    gc.callbacks.append(timed)
    try:
        pytest.main(pytest_args)
    finally:
        gc.callbacks.remove(timed)
    wall = time.perf_counter() - origin
    tracked = len(gc.get_objects())
    print(
        f"cold run{'' if args.probe else ' --jarvis-no-probe'}: {wall:.1f} s wall; {tracked} objects tracked at the end"
    )
    for generation in (0, 1, 2):
        print(f"  generation {generation}: {counts[generation]:5} collections, {seconds[generation]:5.2f} s")
    print("full collections:")
    for entry in full:
        print(f"  at {entry['at_s']:6.1f} s, {entry['took_s']:.2f} s, in {entry['where']}")
    RESULTS.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                "command": " ".join(["python", "benchmarks/gc_cost.py", *sys.argv[1:]]),
                "adapter": str(adapter),
                "wall_s": round(wall, 2),
                "tracked_objects_at_end": tracked,
                "collections": {str(g): {"count": counts[g], "seconds": round(seconds[g], 3)} for g in counts},
                "full_collections": full,
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
