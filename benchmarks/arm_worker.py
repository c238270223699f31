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
    from evals.config import EvalConfig
    from evals.models import load_base, load_tokenizer, resolve_model
    from evals.prompting import build_prompt
    from evals.session import EvalRun, ModelPair

    config = EvalConfig(adapter=Path(adapter), max_new_tokens=max_new_tokens, batch_size=batch, use_cache=False)
    run = EvalRun.from_config(config)
    model_path = resolve_model(None)
    if mode == "base-only":  # the base model alone, no peft wrapper
        from evals.generation import BatchGenerator, GenerationCounter, generate_answers

        tokenizer = load_tokenizer(model_path)
        model = load_base(model_path, "4bit")
        start = time.perf_counter()  # generation only: loading is outside every timing
        texts = [build_prompt(tokenizer, run.suite.system_prompt, c.prompt) for c in run.suite.cases]
        counter = GenerationCounter()
        generate_answers(BatchGenerator(model, tokenizer, run.settings, counter), texts, 32 if batch == "auto" else int(batch))
        calls = counter.calls
    else:
        run.pair = ModelPair(model_path, run.adapter, "4bit", False)
        tokenizer = run.pair.load_tokenizer()
        run.pair.load()
        start = time.perf_counter()
        texts = [build_prompt(tokenizer, run.suite.system_prompt, c.prompt) for c in run.suite.cases]
        arms = ("base", "finetuned") if mode == "both" else (mode,)
        for arm in arms:
            if batch == "1":  # one prompt at a time: one generate call per prompt
                for text in texts:
                    run._generate(arm, [text])
            else:
                run._generate(arm, texts)
        calls = run.generate_calls
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"mode": mode, "batch": batch, "peak_rss_mb": round(peak_mb, 1), "seconds": round(seconds, 2), "generate_calls": calls}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
