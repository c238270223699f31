"""What --jarvis-samples costs (issue 25): N = 5 sampled answers against N = 1, a script, not a timed test.

    PYTHONPATH=. python benchmarks/samples_cost.py [--category routing] [--quant 4bit] [--adapter DIR]

In one process, on the embedded SmolLM2 with the demo adapter (the newest output/*/final), it
answers one category's cases with both arms, nothing cached, three ways: greedy (N = 1), sampled
with N = 1, and sampled with N = 5 (the model's sampling values overridden by Qwen3's: temperature
0.6, top_p 0.95, top_k 20), and prints each wall time, tokens and the ratios. The N samples of a
case share batches and the shared-prefix cache, so N = 5 costs less than five runs only where
batches were not full; on CPU, where time grows with the tokens, expect about N.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace

from evals.adapters import find_latest_adapter
from evals.backends.base import Arm, Prompt
from evals.backends.hf import HFBackend
from evals.records import BASE_ARM, GenerationSettings
from evals.suite import load_suite

QWEN3 = {"temperature": 0.6, "top_p": 0.95, "top_k": 20}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", default="routing", help="the suite's category to answer (10 cases)")
    parser.add_argument("--quant", default="4bit", choices=("4bit", "8bit", "none"))
    parser.add_argument("--adapter", default=None, help="adapter folder (default: the newest output/*/final)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    args = parser.parse_args()

    suite = load_suite(None)
    cases = [c for c in suite.cases if c.category == args.category]
    adapter = args.adapter or str(find_latest_adapter("output"))
    arms = (Arm(BASE_ARM), Arm("demo", adapter))
    backend = HFBackend("embedded", args.quant, False, arms)
    system = suite.system_prompt_for("system-text")
    prompts = [Prompt(system, c.prompt) for c in cases]
    backend.generate(dict.fromkeys(arms, prompts[:1]), GenerationSettings(max_new_tokens=2))  # load, warm up

    greedy = GenerationSettings(max_new_tokens=args.max_new_tokens)
    sampled = replace(greedy, decoding="sampled", do_sample=True, **QWEN3)  # type: ignore[arg-type]
    runs = {
        "greedy, N = 1": (greedy, prompts),
        "sampled, N = 1": (replace(sampled, samples=1), [replace(p, sample=0) for p in prompts]),
        "sampled, N = 5": (replace(sampled, samples=5), [replace(p, sample=i) for p in prompts for i in range(5)]),
    }
    seconds: dict[str, float] = {}
    cpu: dict[str, float] = {}
    for name, (settings, asked) in runs.items():
        start, start_cpu = time.perf_counter(), time.process_time()
        answers = backend.generate(dict.fromkeys(arms, asked), settings)
        seconds[name] = time.perf_counter() - start
        cpu[name] = time.process_time() - start_cpu
        tokens = sum(a.new_tokens for arm in arms for a in answers[arm])
        print(
            f"{name}: {seconds[name]:.1f} s wall, {cpu[name]:.1f} s CPU, {len(asked) * len(arms)} answers, {tokens} tokens",
            file=sys.stderr,
        )

    base, base_cpu = seconds["greedy, N = 1"], cpu["greedy, N = 1"]
    print(f"{len(cases)} {args.category} cases x 2 arms, {args.quant}, embedded SmolLM2 + {adapter}")
    print("  (CPU time is the steadier figure on a shared machine; wall time is what a user waits)")
    for name in seconds:
        print(
            f"  {name:<15} {seconds[name]:7.1f} s wall  x{seconds[name] / base:.2f}   "
            f"{cpu[name]:7.1f} s CPU  x{cpu[name] / base_cpu:.2f} of greedy"
        )
    five, one = "sampled, N = 5", "sampled, N = 1"
    print(f"  N = 5 / N = 1 (both sampled): x{seconds[five] / seconds[one]:.2f} wall, x{cpu[five] / cpu[one]:.2f} CPU")


if __name__ == "__main__":
    main()
