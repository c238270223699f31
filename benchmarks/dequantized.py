"""Measure a CPU lever: 4-bit layers against fp32 twins holding their dequantized weights (not kept in runs).

    python benchmarks/dequantized.py [--adapter PATH] [--cases N] [--max-new-tokens N] [--repeats N]

bitsandbytes computes a 4-bit layer on CPU by dequantizing its weights and calling ``F.linear``,
at every forward pass: the profile of a cold run shows its CPU dequantize kernel at 9.6 s of own
time and the dispatch around it at several more. Keeping the dequantized weights (fp32 twins,
``dequantize_for_cpu`` below) does that once, with bit-identical logits. This
loads the embedded SmolLM2-135M-Instruct twice from its quantized copy, as a run does: one left
in 4-bit layers, one with ``dequantize_for_cpu``; the demo adapter (default the newest
``output/*/final``) is attached to both. Each answers the suite's first ``--cases`` prompts
(default 30) for the base arm and the adapter arm through the run's own batch generator (one batch
per arm, the prefix cache of the system prompt, greedy), ``--repeats`` times (default 2),
alternating which goes first, after an untimed warm-up on two prompts.

Prints each run's wall and CPU time, the median ratio kept / 4-bit, whether every answer is the
same token for token, the resident memory each model adds, and the time the swap itself takes.
Nothing is asserted. Writes benchmarks/dequantized_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "dequantized_results.json"


def rss_mb() -> float:
    """This process's resident memory now, in MB (Linux /proc; the peak elsewhere)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def dequantize_for_cpu(model: Any) -> int:
    """Swap each 4-bit layer for an fp32 ``Linear`` holding the weights bitsandbytes dequantizes; return the bytes kept.

    bitsandbytes computes a 4-bit layer on CPU by dequantizing its weights to the compute dtype and
    calling ``F.linear`` at every forward pass (its ``gemm_4bit`` default kernel). The twin does that
    dequantizing once. Each twin must give exactly its 4-bit layer's output on a fixed input, else
    every layer goes back and this returns 0 (where bitsandbytes takes another path: AVX512-BF16
    packing, a 16-bit compute dtype). Attach adapters after this, so that peft wraps the twins.
    """
    import torch

    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return 0
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, Linear4bit)]
    if not layers or any(_not_dequantizable(m) for _, m in layers):
        return 0
    size = sum(m.in_features * m.out_features * 4 for _, m in layers)
    from bitsandbytes.functional import dequantize_4bit

    swapped: list[tuple[str, Any]] = []
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for name, layer in layers:
            weight = dequantize_4bit(layer.weight.data, layer.weight.quant_state)
            twin = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta")
            twin.weight = torch.nn.Parameter(weight, requires_grad=False)
            if layer.bias is not None:
                twin.bias = torch.nn.Parameter(layer.bias.data.to(torch.float32), requires_grad=False)
            probe = torch.randn(3, layer.in_features, generator=generator)
            if weight.dtype != torch.float32 or not torch.equal(layer(probe), twin(probe)):
                for done, original in reversed(swapped):
                    model.set_submodule(done, original)
                return 0
            model.set_submodule(name, twin.eval())
            swapped.append((name, layer))
    return size


def _not_dequantizable(layer: Any) -> bool:
    """True where bitsandbytes would not compute ``layer`` as fp32 dequantize-then-linear on CPU."""
    import torch

    state = getattr(layer.weight, "quant_state", None)
    return (
        layer.weight.device.type != "cpu"
        or layer.training
        or state is None
        or getattr(layer, "support_avx512bf16_for_cpu", False)  # bitsandbytes packs the weights for a bf16 kernel
        or getattr(state, "packing_format_for_cpu", False)
        or getattr(layer, "compute_dtype", None) not in (None, torch.float32)
        or hasattr(layer, "_hf_hook")  # accelerate's offloading hooks move weights: leave them alone
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=None)
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    sys.path.insert(0, str(HERE))
    from mixed_adapters import load_line, prepare

    adapter = prepare(args.adapter, None)
    import torch

    from evals.backends.base import BackendStats
    from evals.backends.hf import BatchGenerator, attach_adapters
    from evals.backends.prompting import build_prompt
    from evals.hfload import load_tokenizer
    from evals.models import inspect_adapter, resolve_model
    from evals.quantized import load_embedded
    from evals.records import GenerationSettings
    from evals.suite import load_suite

    print(load_line(), flush=True)
    path = resolve_model("embedded")
    tokenizer = load_tokenizer(path)
    suite = load_suite()
    texts = [build_prompt(tokenizer, suite.system_prompt, c.prompt) for c in suite.cases[: args.cases]]
    settings = GenerationSettings(max_new_tokens=args.max_new_tokens)
    info = inspect_adapter(adapter)
    models: dict[str, Any] = {}
    memory: dict[str, float] = {}
    swap_s = 0.0
    for way in ("4-bit", "kept"):
        before = rss_mb()
        model = load_embedded("embedded", path, "4bit")
        if way == "kept":
            start = time.perf_counter()
            kept = dequantize_for_cpu(model)
            swap_s = time.perf_counter() - start
            if not kept:
                sys.exit(
                    "dequantize_for_cpu kept nothing on this machine (over budget, or bitsandbytes computes otherwise)"
                )
        models[way] = attach_adapters(model, [("demo", info)], path)
        memory[way] = rss_mb() - before

    def answer(way: str, arm: str, rows: list[str]) -> tuple[float, float, list[tuple[str, int]]]:
        model = models[way]
        generator = BatchGenerator(model, tokenizer, settings, BackendStats())
        wall, cpu = time.perf_counter(), time.process_time()
        if arm == "base":
            with model.disable_adapter():
                out = generator(rows)
        else:
            model.set_adapter("demo")
            out = generator(rows)
        return time.perf_counter() - wall, time.process_time() - cpu, [(a.text, a.new_tokens) for a in out]

    for way in models:  # untimed: first-call costs (allocator, kernels) out of the timings
        for arm in ("base", "demo"):
            answer(way, arm, texts[:2])
    runs: list[dict[str, Any]] = []
    answers: dict[str, dict[str, list]] = {}
    for repeat in range(args.repeats):
        order = ("4-bit", "kept") if repeat % 2 == 0 else ("kept", "4-bit")
        for way in order:
            wall = cpu = 0.0
            for arm in ("base", "demo"):
                w, c, out = answer(way, arm, texts)
                wall, cpu = wall + w, cpu + c
                answers.setdefault(way, {})[arm] = out
            runs.append({"repeat": repeat, "way": way, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2)})
            print(f"repeat {repeat}: {way:6} both arms {wall:6.1f} s wall, {cpu:6.1f} s CPU", flush=True)
    same = sum(
        a == b for arm in ("base", "demo") for a, b in zip(answers["4-bit"][arm], answers["kept"][arm], strict=True)
    )
    median = {way: statistics.median(r["wall_s"] for r in runs if r["way"] == way) for way in models}
    median_cpu = {way: statistics.median(r["cpu_s"] for r in runs if r["way"] == way) for way in models}
    ratio, ratio_cpu = median["kept"] / median["4-bit"], median_cpu["kept"] / median_cpu["4-bit"]
    total = 2 * len(texts)
    print(
        f"kept / 4-bit, median wall: {median['kept']:.1f} / {median['4-bit']:.1f} s = {ratio:.2f}x; CPU {ratio_cpu:.2f}x"
    )
    print(f"identical answers: {same}/{total}")
    print(
        f"memory each model added: 4-bit {memory['4-bit']:.0f} MB, kept {memory['kept']:.0f} MB; the swap took {swap_s:.2f} s"
    )
    print(load_line())
    RESULTS.write_text(
        json.dumps(
            {
                "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
                "command": " ".join(["python", "benchmarks/dequantized.py", *sys.argv[1:]]),
                "adapter": str(adapter),
                "cases": len(texts),
                "max_new_tokens": args.max_new_tokens,
                "torch_threads": torch.get_num_threads(),
                "runs": runs,
                "median_wall_s": median,
                "ratio_kept_to_4bit_wall": round(ratio, 3),
                "ratio_kept_to_4bit_cpu": round(ratio_cpu, 3),
                "identical_answers": same,
                "answers": total,
                "memory_added_mb": {k: round(v) for k, v in memory.items()},
                "swap_s": round(swap_s, 2),
            },
            indent=2,
        )
        + "\n",
        encoding="utf-8",
    )


if __name__ == "__main__":
    main()
