"""Worker for benchmarks/speed.py: load the model once and generate one or both arms.

Run in a fresh process so its peak resident memory (ru_maxrss) belongs to this job alone.
Prints one JSON line: {"mode", "peak_rss_mb", "seconds", "generate_calls"}.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from pathlib import Path


def main(mode: str, adapter: str, max_new_tokens: int, batch: str) -> None:
    from dataclasses import replace

    from evals.adapters import AdapterSpec
    from evals.backends import BASE_ARM, Arm
    from evals.backends.hf import HFBackend
    from evals.config import EvalConfig
    from evals.run import EvalRun

    spec = AdapterSpec(name="demo", path=Path(adapter).resolve())
    config = EvalConfig(adapters=(spec,), max_new_tokens=max_new_tokens, batch_size=batch, use_cache=False)
    run = EvalRun.from_config(config)
    prompts = [run.prompt(c) for c in run.suite.cases]
    if mode == "base-only":  # the base model alone, no peft wrapper
        # "embedded", as the run names it: loaded the same way (its quantized copy), so only the arms differ.
        backend = HFBackend("embedded", "4bit", False, arms=(Arm(BASE_ARM),))
        arms = [Arm(BASE_ARM)]
    else:
        backend = run.backend  # type: ignore[assignment]
        arms = [a for a in run.arms if mode == "both" or a.name == mode]
    backend.load()
    settings = run.settings
    start = time.perf_counter()  # generation only: loading is outside every timing
    for arm in arms:
        if batch == "1":  # one prompt at a time: one generate call per prompt
            for prompt in prompts:
                backend.generate({arm: [prompt]}, replace(settings, batch_size="1"))
        else:
            backend.generate({arm: prompts}, settings)
    calls = backend.stats.generate_calls
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        json.dumps(
            {
                "mode": mode,
                "batch": batch,
                "peak_rss_mb": round(peak_mb, 1),
                "seconds": round(seconds, 2),
                "generate_calls": calls,
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
