"""Try the CPU generation levers issue 30 names (SDPA kernels, eager attention, torch.compile), in one process.

    python benchmarks/cpu_levers.py [--adapter PATH] [--cases N] [--max-new-tokens 64] [--threads N] [--no-compile]

The embedded SmolLM2-135M-Instruct in NF4 on CPU, loaded as a run loads it (``EvalRun`` and the
in-process backend: the quantized copy, the demo adapter attached), the suite's first ``--cases``
prompts (default 30), greedy, the run's own generation path (``HFBackend.generate``: one batch per
arm from the arm's prefix cache). Each way answers the base arm and the adapter arm:

- ``default``: as a run generates (SDPA, torch's choice of kernel);
- ``sdpa-math``: SDPA restricted to the math kernel (``torch.nn.attention.sdpa_kernel``);
- ``sdpa-flash``: SDPA restricted to the flash-attention kernel (CPU has one; a masked batch may not be eligible);
- ``attn-eager``: transformers' eager attention instead of SDPA (``set_attn_implementation``);
- ``compiled``: the base model's ``forward`` through ``torch.compile(dynamic=True)``. Its first call
  compiles: an untimed warm-up (2 prompts, 4 tokens) is reported as its one-off cost, and any
  recompilation in the timed run counts, as a user would pay it. On 2 cores that warm-up alone took
  757 s for the base arm (2026-12-07, 10 cases), against 55 s for a whole 30-case run's
  generation: ``--no-compile`` leaves it out.

``default`` runs first and last; every way's time is over the mean of the two, and its answers are
compared token by token with the first's (the second says whether the default repeats itself). A
lever is worth keeping only with every answer identical and a time ratio clearly below 1. Every
number comes from this machine in this run; nothing is asserted. Writes benchmarks/cpu_levers_results.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "cpu_levers_results.json"


def inner(model: Any) -> Any:
    """The transformers model under peft's wrapper (the module whose attention and forward are changed)."""
    return model.get_base_model() if hasattr(model, "get_base_model") else model


@contextmanager
def default(model: Any) -> Iterator[None]:
    yield


def sdpa_kernel_way(kernel: str) -> Callable[[Any], AbstractContextManager[None]]:
    @contextmanager
    def way(model: Any) -> Iterator[None]:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        with sdpa_kernel([getattr(SDPBackend, kernel)]):
            yield

    return way


@contextmanager
def attn_eager(model: Any) -> Iterator[None]:
    base = inner(model)
    base.set_attn_implementation("eager")
    try:
        yield
    finally:
        base.set_attn_implementation("sdpa")


@contextmanager
def compiled(model: Any) -> Iterator[None]:
    import torch

    base = inner(model)
    base.forward = torch.compile(base.forward, dynamic=True)  # an instance attribute, removed afterwards
    try:
        yield
    finally:
        del base.forward


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA folder (default: newest output/*/final)")
    parser.add_argument("--cases", type=int, default=30)
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument(
        "--no-compile", action="store_true", help="leave out the torch.compile way (minutes to compile)"
    )
    args = parser.parse_args()
    from mixed_adapters import Bench, compare, load_line, prepare  # beside this script

    adapter = prepare(args.adapter, args.threads)
    import torch
    import transformers

    from evals.adapters import AdapterSpec
    from evals.config import EvalConfig
    from evals.run import EvalRun

    config = EvalConfig(
        adapters=(AdapterSpec("demo", adapter),), max_new_tokens=args.max_new_tokens, use_cache=False,
        reports_dir=Path(tempfile.mkdtemp(prefix="jarvis-levers-")),  # nothing is written there
    )  # fmt: skip
    bench = Bench(EvalRun.from_config(config), args.cases)
    arms, n = list(bench.run.arms), len(bench.prompts)
    ways: list[tuple[str, Callable[[Any], AbstractContextManager[None]]]] = [
        ("default", default),
        ("sdpa-math", sdpa_kernel_way("MATH")),
        ("sdpa-flash", sdpa_kernel_way("FLASH_ATTENTION")),
        ("attn-eager", attn_eager),
        ("compiled", compiled),
        ("default", default),
    ]
    if args.no_compile:
        ways = [w for w in ways if w[0] != "compiled"]
    load_before = load_line()
    bench.sequential(arms, min(2, n), 4)  # untimed: first calls pay one-off costs
    rows: list[dict] = []
    reference: dict | None = None
    for name, way in ways:
        row: dict[str, Any] = {"way": name}
        print(f"  {name} ...", file=sys.stderr, flush=True)
        try:
            with way(bench.model):
                start = time.perf_counter()
                bench.sequential(arms, min(2, n), 4)  # warm-up: compiles, for the compiled way
                row["warm_up_s"] = round(time.perf_counter() - start, 2)
                answers, seconds = bench.sequential(arms, n)
        except Exception as exc:  # a kernel that refuses these inputs is a finding, not a crash
            row["error"] = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
            rows.append(row)
            print(f"    failed: {row['error']}", file=sys.stderr)
            continue
        reference = reference or answers
        row["wall_s"] = round(sum(s[0] for s in seconds.values()), 2)
        row["cpu_s"] = round(sum(s[1] for s in seconds.values()), 2)
        row["check"] = compare(reference, answers, bench.case_ids)
        rows.append(row)
        print(
            f"    {row['wall_s']:.1f} s, identical {row['check']['identical']}/{row['check']['answers']}",
            file=sys.stderr,
        )
    baseline = [r["wall_s"] for r in rows if r["way"] == "default" and "wall_s" in r]
    mean = sum(baseline) / len(baseline)
    print(f"jarvis-evals CPU levers on {platform.machine()}, {os.cpu_count()} cores (embedded SmolLM2-135M, NF4, "
          f"{args.max_new_tokens} new tokens, {n} prompts x {len(arms)} arms)")  # fmt: skip
    print(f"command: python benchmarks/cpu_levers.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}")
    print(f"{load_before} before, {load_line()} after; default runs {' / '.join(f'{b:.1f}' for b in baseline)} s")
    for r in rows:
        if "error" in r:
            print(f"  {r['way']:<11} not usable here: {r['error']}")
            continue
        r["ratio_to_default"] = round(r["wall_s"] / mean, 3)
        same = f"{r['check']['identical']}/{r['check']['answers']}"
        print(f"  {r['way']:<11} {r['wall_s']:7.1f} s = x{r['ratio_to_default']:.2f} of default   "
              f"CPU {r['cpu_s']:.1f} s   warm-up {r['warm_up_s']:.1f} s   identical answers {same}")  # fmt: skip
    out = {"command": " ".join(["python", "benchmarks/cpu_levers.py", *sys.argv[1:]]), "adapter": str(adapter),
           "prompts": n, "max_new_tokens": args.max_new_tokens, "torch": torch.__version__,
           "transformers": transformers.__version__, "threads": torch.get_num_threads(), "ways": rows}  # fmt: skip
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
