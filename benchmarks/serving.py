"""Measure the openai backend against ``transformers serve`` on the embedded model, as ratios from one run.

    python benchmarks/serving.py [--adapter PATH] [--max-new-tokens 32] [--limit N] [--skip-continuous-batching]

On the embedded SmolLM2 at full precision (float32 on CPU, no quantization on either side):

1. the hf backend (in process) answers the suite's 30 prompts with the base arm and the adapter arm;
2. one ``transformers serve`` serves the base folder and a merged copy of the adapter; the openai
   backend answers the same 60 prompts at concurrency 8, then 1: answers compared with the hf ones
   (text and token count), time as a ratio;
3. unless skipped, ``transformers serve --continuous-batching``, one server per model (its batcher
   restarts whenever the model changes): each arm at concurrency 8, then 1.

Every number comes from this machine in this run; nothing is asserted (machines are noisy). The
script prints each measurement and writes benchmarks/serving_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # tests.servers starts the servers


def compare(reference: dict, answers: dict) -> dict:
    """Count the answers identical to the reference (text and tokens), per arm; list the others."""
    out: dict = {"identical": 0, "total": 0, "differences": []}
    for arm, expected in reference.items():
        for ref, got in zip(expected, answers[arm], strict=True):
            out["total"] += 1
            if (ref["text"], ref["tokens"]) == (got["text"], got["tokens"]):
                out["identical"] += 1
            else:
                out["differences"].append({"arm": arm, "prompt": ref["prompt"], "hf": ref, "server": got})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA folder (default: newest output/*/final)")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--skip-continuous-batching", action="store_true")
    parser.add_argument("--limit", type=int, default=None, help="the suite's first N prompts (the server is slow)")
    args = parser.parse_args()
    os.environ.setdefault("JARVIS_EVALS_NO_PROGRESS", "1")
    from evals.adapters import find_latest_adapter
    from evals.backends import BASE_ARM, Arm, Prompt
    from evals.backends.hf import HFBackend
    from evals.backends.openai import OpenAIBackend
    from evals.models import resolve_model
    from evals.records import GenerationSettings
    from evals.suite import load_suite
    from tests.servers import merge_lora, transformers_serve

    adapter = args.adapter or find_latest_adapter(ROOT / "output")
    if adapter is None:
        sys.exit("no adapter: pass --adapter PATH or train one with `jarvis-evals train`")
    model = resolve_model(None)
    suite = load_suite(None)
    prompts = [Prompt(suite.system_prompt, case.prompt) for case in suite.cases][: args.limit]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    base = Arm(BASE_ARM)
    results: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}",
                     "model": model, "adapter": str(adapter), "max_new_tokens": args.max_new_tokens,
                     "prompts": len(prompts)}  # fmt: skip

    def record(answers: dict) -> dict:
        return {
            arm.name: [
                {"prompt": p.user, "text": a.text, "tokens": a.new_tokens} for p, a in zip(prompts, got, strict=True)
            ]
            for arm, got in answers.items()
        }

    local = Arm("tuned", str(adapter))
    hf = HFBackend(model, "none", False, arms=(base, local))
    reference = record(hf.generate({base: prompts, local: prompts}, settings))
    results["hf_seconds"] = round(hf.stats.generation_seconds, 1)
    print(f"hf backend (in process, batched, fp32): {results['hf_seconds']} s for {2 * len(prompts)} answers")

    def ask(url: str, served_base: str, arms: tuple[Arm, ...], concurrency: int) -> tuple[dict, float]:
        backend = OpenAIBackend(url, served_base, arms=(base, *arms), concurrency=concurrency)
        backend.generate(dict.fromkeys((base, *arms), prompts[:1]), settings)  # warm-up, not timed
        start = time.perf_counter()
        answers = backend.generate(dict.fromkeys((base, *arms), prompts), settings)
        return record(answers), time.perf_counter() - start

    with tempfile.TemporaryDirectory(prefix="jarvis-serving-") as tmp:
        merged = str(merge_lora(model, adapter, Path(tmp) / "merged"))
        tuned = Arm("tuned", merged)
        with transformers_serve(log_path=Path(tmp) / "serve.log", preload=[model, merged]) as server:
            for concurrency in (8, 1):
                answers, seconds = ask(server.api_base, model, (tuned,), concurrency)
                same = compare(reference, answers)
                results[f"serve_c{concurrency}"] = {"seconds": round(seconds, 1), **same}
                print(f"transformers serve, concurrency {concurrency}: {seconds:.1f} s; "
                      f"{same['identical']}/{same['total']} answers identical to the hf backend")  # fmt: skip
        ratio = results["serve_c1"]["seconds"] / results["serve_c8"]["seconds"]
        results["serve_speedup_c8_vs_c1"] = round(ratio, 2)
        print(f"concurrency 8 vs 1 on one server: {ratio:.2f}x (requests to one model are serialized)")

        if not args.skip_continuous_batching:
            timings = {8: 0.0, 1: 0.0}
            cb: dict = {}
            for name, folder in (("base", model), ("tuned", merged)):
                log = Path(tmp) / f"serve-cb-{name}.log"
                with transformers_serve(folder, log_path=log, extra_args=["--continuous-batching"]) as server:
                    for concurrency in (8, 1):
                        answers, seconds = ask(server.api_base, folder, (), concurrency)
                        timings[concurrency] += seconds
                        same = compare({name: reference[name]}, {name: answers["base"]})
                        cb[f"{name}_c{concurrency}"] = {"seconds": round(seconds, 1), **same}
                        print(f"transformers serve --continuous-batching ({name} arm), concurrency {concurrency}: "
                              f"{seconds:.1f} s; {same['identical']}/{same['total']} identical to the hf backend")  # fmt: skip
            cb["speedup_c8_vs_c1"] = round(timings[1] / timings[8], 2)
            results["continuous_batching"] = cb
            print(f"continuous batching, concurrency 8 vs 1: {cb['speedup_c8_vs_c1']:.2f}x")

    out = ROOT / "benchmarks" / "serving_results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
