"""What the routing probe and drift cost next to generating the answers (issue 26): a script, not a timed test.

    PYTHONPATH=. python benchmarks/probe_cost.py [--adapter output/<run>/final] [--quant none] [--repeats 1] [--json out.json]

On the embedded SmolLM2 with the demo adapter, in one process and one loaded model: times the
30 cases' answers for both arms as the run generates them (``HFBackend.generate``: one batch,
greedy, shared system prompt), then the probe (both arms) and drift on the neutral French set,
and prints the ratio (target: probe + drift <= 25 % of generation), in wall time and in the
process's CPU time (the second is less swayed by other work on a shared machine). It also prints what the
probe and drift found (docs/margins.md quotes them). A warm-up pass comes first, untimed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from evals.adapters import find_latest_adapter
from evals.backends.base import Arm, Prompt
from evals.backends.hf import HFBackend
from evals.drift import DEFAULT_DRIFT_TOKENS, load_neutral_set, measure_drift
from evals.probe import probe_cases
from evals.records import GenerationSettings
from evals.records.codec import encode
from evals.records.probe import summarize_drift, summarize_probe
from evals.suite import load_suite


@contextmanager
def timed(name: str, wall: dict[str, list[float]], cpu: dict[str, list[float]]) -> Iterator[None]:
    """Add the block's wall time and this process's CPU time (all threads; less swayed by other load)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    yield
    wall[name].append(time.perf_counter() - start)
    cpu[name].append(time.process_time() - start_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", default=None, help="adapter folder (default: the newest output/*/final)")
    parser.add_argument("--quant", default="none", help="4bit | 8bit | none (fp32 on CPU)")
    parser.add_argument("--max-new-tokens", type=int, default=64, help="the run's default")
    parser.add_argument("--drift-tokens", type=int, default=DEFAULT_DRIFT_TOKENS)
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds; medians are printed")
    parser.add_argument("--json", type=Path, help="write the probe and drift records here")
    args = parser.parse_args()

    suite = load_suite()
    base, tuned = Arm("base"), Arm("demo", args.adapter or str(find_latest_adapter("output")))
    backend = HFBackend("embedded", args.quant, False, [base, tuned])
    start = time.perf_counter()
    backend.load([base, tuned])
    print(f"load: {time.perf_counter() - start:.1f} s; load average before: {os.getloadavg()[0]:.2f}")
    prompts = [
        Prompt(system=suite.system_prompt, user=c.prompt, history=tuple((t.role, t.content) for t in c.history))
        for c in suite.cases
    ]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens, shared_prefix=True, prompt_format="system-text")
    backend.generate({base: prompts[:2]}, GenerationSettings(max_new_tokens=2, shared_prefix=True))  # warm-up

    neutral = load_neutral_set()
    wall: dict[str, list[float]] = {"generation": [], "probe": [], "drift": []}
    cpu: dict[str, list[float]] = {"generation": [], "probe": [], "drift": []}
    for _ in range(args.repeats):  # interleaved, so a burst of load elsewhere hits every part alike
        with timed("generation", wall, cpu):
            answers = backend.generate({base: prompts, tuned: prompts}, settings)
        with timed("probe", wall, cpu):
            probes = []
            for arm in (base, tuned):
                with backend._as_arm(arm) as model:
                    probes += probe_cases(model, backend.tokenizer, suite, suite.cases, arm.name)
        with timed("drift", wall, cpu):
            drift = measure_drift(
                backend.tokenizer,
                neutral,
                lambda: backend._as_arm(base),
                lambda: backend._as_arm(tuned),
                tuned.name,
                max_new_tokens=args.drift_tokens,
            )
    generation_s, probe_s, drift_s = (statistics.median(wall[k]) for k in ("generation", "probe", "drift"))
    generation_cpu, probe_cpu, drift_cpu = (statistics.median(cpu[k]) for k in ("generation", "probe", "drift"))

    tokens = {arm.name: statistics.mean(a.new_tokens for a in got) for arm, got in answers.items()}
    print(
        f"generation, 30 cases x 2 arms (max {args.max_new_tokens} new tokens; mean answer "
        + ", ".join(f"{k} {v:.1f}" for k, v in tokens.items())
        + f" tokens): {generation_s:.1f} s (CPU {generation_cpu:.1f} s)"
    )
    print(f"probe, 30 cases x 2 arms: {probe_s:.1f} s (CPU {probe_cpu:.1f} s)")
    print(
        f"drift, {len(neutral.prompts)} neutral prompts (base greedy <= {args.drift_tokens} tokens, both arms scored): {drift_s:.1f} s (CPU {drift_cpu:.1f} s)"
    )
    print(
        f"probe + drift / generation: wall {(probe_s + drift_s) / generation_s:.1%} (probe alone {probe_s / generation_s:.1%}), "
        f"CPU {(probe_cpu + drift_cpu) / generation_cpu:.1%} (probe alone {probe_cpu / generation_cpu:.1%}); "
        f"medians of {args.repeats}: wall "
        + "; ".join(f"{k} {', '.join(f'{v:.1f}' for v in vs)}" for k, vs in wall.items())
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for arm in (base, tuned):
        s = summarize_probe(arm.name, probes)
        print(
            f"probe {arm.name}: forced choice {s.correct}/{s.cases} ({s.accuracy:.1%}), mean margin {s.mean_margin:+.2f} nats, "
            f"median {s.median_margin:+.2f}, near ties (|margin| < {s.near_tie_nats:g}) {s.near_ties}"
        )
    d = summarize_drift(tuned.name, drift)
    print(
        f"drift {tuned.name}: mean KL(base || fine-tuned) {d.mean_kl:.4f} nats/token over {d.prompts} prompts "
        f"(token-weighted {d.token_mean_kl:.4f}, {d.tokens} tokens); mean log-likelihood of the base's answers: "
        f"fine-tuned {d.arm_loglik:.3f}, base {d.base_loglik:.3f} nats/token"
    )
    if args.json:
        args.json.write_text(json.dumps({"probe": encode(probes), "drift": encode(drift)}, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
