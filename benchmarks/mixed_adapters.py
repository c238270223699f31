"""Measure peft's mixed-adapter batches against the sequential arms, on the embedded model, in one process.

    python benchmarks/mixed_adapters.py [--adapter PATH] [--repeats N] [--b-repeats N] [--threads N]
                                        [--max-new-tokens N] [--cases N]

The embedded SmolLM2-135M-Instruct in NF4 on CPU, loaded as a run loads it (``EvalRun`` and the
in-process backend: the quantized copy, every adapter attached under its arm's name), the suite's
30 prompts, greedy, the run's own ``GenerationConfig``. Three ways to answer every arm:

- (a) sequential arms, the production path: ``HFBackend.generate`` one arm after the other, each
  one left-padded batch continuing from the arm's own key/value cache of the shared system prompt,
  each stopping when all its rows reached end-of-sequence;
- (b) one mixed batch, every arm's rows, ``model.generate(..., adapter_names=[...])`` (peft;
  ``"__base__"`` for the base rows), no prefix cache: every row prefills its whole prompt;
- (c) the same mixed batch continuing from per-row prefix caches: each arm's cache of the system
  prompt, computed as (a) computes it (``prefill`` under the arm, repeated for its rows), the arms'
  caches concatenated along the batch dimension (a LoRA changes keys and values: each row needs its
  own arm's prefix), the rows laid out as (a) lays them out.

For 1 base + 1 adapter (the given adapter, default the newest ``output/*/final``) and 1 base + 3
adapters (it and two copies with its LoRA B weights x 0.9 and x 0.8). One model holds all four
arms; (a) runs its four arms once per repeat, and its 1 + 1 figure is its first two arms (separate
generate calls either way). (a) and (c) run ``--repeats`` times (default 2), (b) ``--b-repeats``
times (default 1: it is (c)'s batch and decoding plus every row's whole prefill, the slowest way by
far, and repeating it would take the default run well past 10 minutes). Every run is printed, with
its wall time and its CPU time (this process, all threads; steadier than wall time when other work
shares the cores), each over the same repeat's (a). The order is (a), (c), (b) and reversed in the
next repeat, so a load that drifts weighs on each way alike; untimed warm-up calls come first.
``--threads 1`` pins torch to one thread: on a busy machine two threads on two shared cores spin
and run several times slower, and erratically.

Answers are compared token by token with (a)'s first repeat, up to and including the first
end-of-sequence, as the backend cuts them; for each answer that differs, the position of the first
different token (a second (a) says whether (a) itself repeats). Prints the load average before and
after, and a recommendation: mixing pays for a setup when a mixed way gives answers identical to
(a) and is 5 % or more faster in every run, in wall and in CPU time. Nothing is asserted. Writes
benchmarks/mixed_adapters_results.json.

Reaches into the backend's internals (``_as_arm``, ``_peft_names``, ``BatchGenerator._with_prefix_cache``)
so that (b) and (c) use the very prompts, layout, prefill and generation config of (a), and wraps
the model's ``generate`` during (a) to read the token ids the backend does not keep.
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
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
RESULTS = HERE / "mixed_adapters_results.json"
SCALES = (0.9, 0.8)  # the extra adapters: the given one's LoRA B times these


def answer_ids(row: Any, stop: set[int]) -> tuple[int, ...]:
    """A generated row's token ids up to and including the first end-of-sequence, as the backend counts them."""
    ids = [int(t) for t in row.tolist()]
    n = next((i + 1 for i, t in enumerate(ids) if t in stop), len(ids))
    return tuple(ids[:n])


class Bench:
    """The loaded run: one base, every adapter attached; the three ways of answering its prompts."""

    def __init__(self, run: Any, cases: int | None) -> None:
        self.run = run
        self.backend = run.backend
        self.backend.load(run.arms)  # the base from its quantized copy, each adapter under its arm's name
        self.model = self.backend.model
        self.tok = self.backend.tokenizer
        self.settings = run.settings
        selected = run.suite.cases[:cases] if cases else run.suite.cases
        self.case_ids = [c.id for c in selected]
        self.prompts = [run.prompt(c) for c in selected]
        from evals.backends.prompting import build_prompt

        self.texts = [build_prompt(self.tok, p.system, p.user, p.tool_schemas(), p.history) for p in self.prompts]
        self.rows = [tuple(r) for r in self.tok(self.texts, add_special_tokens=False)["input_ids"]]
        self.index = {r: i for i, r in enumerate(self.rows)}
        self.stop = {self.tok.eos_token_id, self.tok.pad_token_id} - {None}

    def generator(self, max_new_tokens: int | None = None) -> Any:
        from evals.backends.base import BackendStats
        from evals.backends.hf import BatchGenerator

        settings = self.settings if max_new_tokens is None else replace(self.settings, max_new_tokens=max_new_tokens)
        return BatchGenerator(self.model, self.tok, settings, BackendStats())

    def adapter_name(self, arm: Any) -> str:
        return "__base__" if arm.source is None else self.backend._peft_names[arm.name]

    # (a) -----------------------------------------------------------------------------------------

    def sequential(self, arms: list[Any], n: int, max_new_tokens: int | None = None) -> tuple[dict, dict]:
        """The backend's own generate, one arm after the other: the token ids by arm and prompt, each arm's (wall, CPU) s.

        The ids are read off the model's ``generate`` (a pass-through wrapper on the instance): the
        backend keeps only the decoded text. A row is matched to its prompt by its unmasked tokens.
        """
        settings = self.settings if max_new_tokens is None else replace(self.settings, max_new_tokens=max_new_tokens)
        model, captured = self.model, {}
        original = model.generate

        def recording(**kwargs: Any) -> Any:
            out = original(**kwargs)
            ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
            for row, keep, generated in zip(ids, mask, out[:, ids.shape[1] :], strict=True):
                captured[self.index[tuple(row[keep.bool()].tolist())]] = answer_ids(generated, self.stop)
            return out

        model.generate = recording  # an instance attribute: nn.Module keeps plain callables in __dict__
        answers, seconds = {}, {}
        try:
            for arm in arms:
                captured.clear()
                seconds[arm.name], _ = timed(lambda arm=arm: self.backend.generate({arm: self.prompts[:n]}, settings))
                answers[arm.name] = [captured[i] for i in range(n)]
        finally:
            del model.generate
        return answers, seconds

    # (b) and (c) ---------------------------------------------------------------------------------

    def mixed(self, arms: list[Any], n: int, prefix_cache: bool, max_new_tokens: int | None = None) -> dict[str, list]:
        """One batch of every arm's rows (arm after arm, the suite's order), peft's ``adapter_names`` per row."""
        import torch

        from evals.backends.prompting import MIN_SHARED_PREFIX, shared_prefix_length

        generator = self.generator(max_new_tokens)
        rows = [list(r) for r in self.rows[:n]]
        names = [self.adapter_name(arm) for arm in arms for _ in range(n)]
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            shared = shared_prefix_length(rows)
            if prefix_cache and shared >= MIN_SHARED_PREFIX:
                per_arm = []
                for arm in arms:  # each arm's prefix cache exactly as (a) computes it, under the arm
                    with self.backend._as_arm(arm):
                        per_arm.append(generator._with_prefix_cache(rows, shared, device))
                from evals.backends.sampling import CACHE_ARGUMENT

                inputs = {
                    "input_ids": torch.cat([p["input_ids"] for p in per_arm]),
                    "attention_mask": torch.cat([p["attention_mask"] for p in per_arm]),
                    CACHE_ARGUMENT: concat_caches([p[CACHE_ARGUMENT] for p in per_arm]),
                }
            else:
                self.tok.padding_side = "left"
                encoded = self.tok(
                    self.texts[:n] * len(arms), return_tensors="pt", padding=True, add_special_tokens=False
                )
                inputs = {k: v.to(device) for k, v in encoded.items()}
            out = self.model.generate(**inputs, generation_config=generator.config, adapter_names=names)
        new = out[:, inputs["input_ids"].shape[1] :]
        return {arm.name: [answer_ids(new[k * n + i], self.stop) for i in range(n)] for k, arm in enumerate(arms)}


def concat_caches(caches: list[Any]) -> Any:
    """Concatenate key/value caches along the batch dimension, layer by layer, into the first one.

    transformers 5 has no public batch concatenation for ``DynamicCache`` (``from_batch_splits``
    is gone); its layers hold ``keys`` and ``values`` of shape [batch, kv heads, length, head dim].
    """
    import torch

    first = caches[0]
    for i, layer in enumerate(first.layers):
        layer.keys = torch.cat([c.layers[i].keys for c in caches])
        layer.values = torch.cat([c.layers[i].values for c in caches])
    return first


def compare(reference: dict[str, list], answers: dict[str, list], case_ids: list[str]) -> dict:
    """How many answers are token-identical to the reference; for each that is not, where it first differs."""
    same, differing = 0, []
    for arm, rows in answers.items():
        for case, ref, got in zip(case_ids, reference[arm], rows, strict=True):
            if ref == got:
                same += 1
                continue
            first = next((i for i, (x, y) in enumerate(zip(ref, got, strict=False)) if x != y), min(len(ref), len(got)))
            differing.append({"arm": arm, "case": case, "first_diff": first, "len_ref": len(ref), "len": len(got)})
    return {"identical": same, "answers": sum(len(r) for r in answers.values()), "differing": differing}


def verdict(entry: dict) -> dict:
    """Does mixing pay for this setup: the fastest mixed way whose answers are all identical to (a), faster than
    (a) by 5 % or more in every one of its runs, in wall and in CPU time (each against the same repeat's (a))."""
    steps = entry["a"]["new_tokens_max"]
    # What the arms' early stop saves (a): the steps each arm ran, against a mixed batch's (its longest answer).
    early = (
        f"(a)'s arms ran {' + '.join(map(str, steps.values()))} steps, a mixed batch {max(steps.values())} for all rows"
    )
    ratios = {k: ratios_to_a(entry, k) for k in ("b", "c")}
    worst = {k: max(max(r) for r in ratios[k].values()) for k in ("b", "c")}
    same = {k: all(c["identical"] == c["answers"] for c in entry[k]["checks"]) for k in ("b", "c")}
    identical = [k for k in ("b", "c") if same[k]]
    fastest = min(("b", "c"), key=worst.get)
    best = min(identical, key=worst.get) if identical else fastest
    shown = ", ".join(f"{what} {' / '.join(f'x{r:.2f}' for r in rs)}" for what, rs in ratios[best].items())
    line = f"({best}) {shown} of (a), {'identical answers' if same[best] else 'answers differ'}; {early}"
    return {
        "best": best,
        "ratios": {what: [round(r, 3) for r in rs] for what, rs in ratios[best].items()},
        "identical": same[best],
        "pays": same[best] and worst[best] <= 0.95,
        "faster_but_different": not identical and worst[fastest] <= 0.95,
        "line": line,
    }


def ratios_to_a(entry: dict, key: str) -> dict[str, list[float]]:
    """Each run's wall and CPU time over (a)'s in the same repeat."""
    a, runs = entry["a"], entry[key]
    return {
        what: [x / a[field][r] for x, r in zip(runs[field], runs["repeat"], strict=True)]
        for what, field in (("wall", "wall_s"), ("CPU", "cpu_s"))
    }


def timed(fn: Any) -> tuple[tuple[float, float], Any]:
    """Run ``fn``: its wall and CPU seconds (this process, every thread), and what it returned."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return (time.perf_counter() - wall, time.process_time() - cpu), out


def load_line() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min)"


def prepare(adapter: Path | None, threads: int | None) -> Path:
    """What a benchmark on the loaded run does first; return the adapter (default: the newest ``output/*/final``).

    Progress lines off, the project importable, the embedded model converted once (outside every
    timing), torch's threads set when asked.
    """
    os.environ.setdefault("JARVIS_EVALS_NO_PROGRESS", "1")
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(HERE))
    import torch

    from evals.adapters import find_latest_adapter
    from evals.models import resolve_model

    found = adapter or find_latest_adapter(ROOT / "output") or sys.exit("no adapter: run `jarvis-evals train`")
    resolve_model(None)
    if threads:
        torch.set_num_threads(threads)
    return found.resolve()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA folder (default: newest output/*/final)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2, help="times (a) and (c) run (default 2)")
    parser.add_argument(
        "--b-repeats", type=int, default=1, help="times (b) runs (default 1: (c)'s work plus every row's whole prefill)"
    )
    parser.add_argument("--cases", type=int, default=None, help="only the first N cases (a quick check)")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch threads (default: torch's, as a run uses; 1 on a busy machine)"
    )
    args = parser.parse_args()
    adapter = prepare(args.adapter, args.threads)
    import peft
    import torch
    import transformers
    from speed import scaled_adapter  # how the project makes another adapter on the same base

    from evals.adapters import AdapterSpec
    from evals.config import EvalConfig
    from evals.run import EvalRun

    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    command = " ".join(["python", "benchmarks/mixed_adapters.py", *sys.argv[1:]])
    versions = f"torch {torch.__version__} ({torch.get_num_threads()} threads), transformers {transformers.__version__}, peft {peft.__version__}"
    load_before = load_line()
    with tempfile.TemporaryDirectory(prefix="jarvis-mixed-") as tmp:
        work = Path(tmp)
        specs = [AdapterSpec("demo", adapter)]
        specs += [AdapterSpec(f"demo-x{s}", scaled_adapter(adapter, work / f"x{s}", s)) for s in SCALES]
        config = EvalConfig(
            adapters=tuple(specs), max_new_tokens=args.max_new_tokens, use_cache=False, reports_dir=work / "reports"
        )
        start = time.perf_counter()
        bench = Bench(EvalRun.from_config(config), args.cases)
        load_s = time.perf_counter() - start
        n = len(bench.prompts)
        arms = list(bench.run.arms)
        setups = {"1 base + 1 adapter": arms[:2], "1 base + 3 adapters": arms}
        methods = {
            "a": "sequential arms (production)",
            "b": "mixed batch, no prefix cache",
            "c": "mixed batch, per-row prefix caches",
        }
        # Untimed warm-up, 2 prompts x 4 tokens: first calls pay one-off costs (allocator, kernels' first use).
        bench.sequential(arms, min(2, n), 4)
        bench.mixed(arms, min(2, n), False, 4)
        bench.mixed(arms, min(2, n), True, 4)
        results: dict[str, Any] = {s: {"arms": [a.name for a in v], "rows": n * len(v)} for s, v in setups.items()}
        reference: dict[str, dict[str, list]] = {}

        def keep(setup: str, key: str, took: tuple[float, float], answers: dict, repeat: int) -> None:
            reference.setdefault(setup, answers)  # (a)'s first repeat
            record = results[setup].setdefault(key, {"wall_s": [], "cpu_s": [], "repeat": [], "checks": []})
            record["wall_s"].append(round(took[0], 2))
            record["cpu_s"].append(round(took[1], 2))
            record["repeat"].append(repeat)
            record["checks"].append(compare(reference[setup], answers, bench.case_ids))
            record["new_tokens_max"] = {arm: max(len(r) for r in rows) for arm, rows in answers.items()}
            record["new_tokens_sum"] = {arm: sum(len(r) for r in rows) for arm, rows in answers.items()}
            print(f"  [repeat {repeat + 1}] {setup}, ({key}) {took[0]:.1f} s, CPU {took[1]:.1f} s", file=sys.stderr)

        # Each repeat runs (a), then (c), then (b), the next repeat in the reverse order: a load that drifts
        # during the run weighs on every way alike. (a) runs once for the four arms: its arms are separate
        # generate calls, so its 1 + 1 figure is its first two arms' time.
        plan = [("a", "")] + [(key, setup) for key in ("c", "b") for setup in setups]
        for repeat in range(args.repeats):
            for key, setup in plan if repeat % 2 == 0 else plan[::-1]:
                if key == "b" and repeat >= args.b_repeats:
                    continue
                if key == "a":
                    answers, seconds = bench.sequential(arms, n)
                    for name, setup_arms in setups.items():
                        names = [a.name for a in setup_arms]
                        took = (sum(seconds[k][0] for k in names), sum(seconds[k][1] for k in names))
                        keep(name, "a", took, {k: answers[k] for k in names}, repeat)
                        results[name]["a"].setdefault("arm_s", []).append(
                            {k: [round(x, 2) for x in seconds[k]] for k in names}
                        )
                else:
                    took, answers = timed(lambda a=setups[setup], c=key == "c": bench.mixed(a, n, c))
                    keep(setup, key, took, answers, repeat)
    load_after = load_line()

    print(
        f"jarvis-evals, mixed-adapter batches on {machine} (embedded SmolLM2-135M, NF4, {args.max_new_tokens} new tokens)"
    )
    print(f"command: {command}")
    print(f"{versions}; adapter {adapter}, copies x {', '.join(map(str, SCALES))}; {n} prompts per arm")
    print(f"{load_before} before, {load_after} after; model + 3 adapters loaded in {load_s:.1f} s")
    verdicts: dict[str, dict] = {}
    for setup, entry in results.items():
        print(f"{setup} ({entry['rows']} rows):")
        steps = entry["a"]["new_tokens_max"]
        print("  (a)'s longest answer per arm, tokens: " + ", ".join(f"{arm} {k}" for arm, k in steps.items()))
        arm_s = entry["a"]["arm_s"]
        per_arm = ", ".join(f"{k} {' / '.join(f'{r[k][0]:.1f}' for r in arm_s)}" for k in arm_s[0])
        print(f"  (a)'s wall seconds per arm: {per_arm}")
        for key, label in methods.items():
            record = entry[key]
            ratios = ratios_to_a(entry, key)
            record["ratio_to_a"] = {what: [round(r, 3) for r in rs] for what, rs in ratios.items()}
            check = record["checks"][-1]
            spread = {c["identical"] for c in record["checks"]}
            same = (
                "/".join(str(c["identical"]) for c in record["checks"]) if len(spread) > 1 else str(check["identical"])
            )
            wall = " / ".join(f"{w:.1f}" for w in record["wall_s"])
            cpu = " / ".join(f"{w:.1f}" for w in record["cpu_s"])
            print(
                f"  ({key}) {label:<36} wall {wall} s = {' / '.join(f'x{r:.2f}' for r in ratios['wall'])}   "
                f"CPU {cpu} s = {' / '.join(f'x{r:.2f}' for r in ratios['CPU'])}   "
                f"identical to (a) {same}/{check['answers']}"
            )
            for d in check["differing"]:
                print(
                    f"      {d['arm']} {d['case']}: first different token at {d['first_diff']} "
                    f"(lengths {d['len_ref']} in (a), {d['len']} here)"
                )
        verdicts[setup] = verdict(entry)
    parts = [f"{setup}: {v['line']}" for setup, v in verdicts.items()]
    pays = [setup for setup, v in verdicts.items() if v["pays"]]
    faster = [setup for setup, v in verdicts.items() if v["faster_but_different"]]
    if pays:
        advice = f"mixing pays, with identical answers, for {' and '.join(pays)}"
        rest = [s for s in verdicts if s not in pays]
        if rest:
            advice += f"; not for {' and '.join(rest)}: keep the sequential arms there"
    elif faster:
        advice = f"mixing is faster for {' and '.join(faster)} but changes answers: keep the sequential arms"
    else:
        advice = "mixing is not faster by 5 % or more in every run, in wall and CPU time: keep the sequential arms"
    print("recommendation: " + "; ".join(parts) + f" => {advice}")
    out = {
        "machine": machine,
        "command": command,
        "versions": versions,
        "adapter": str(adapter),
        "max_new_tokens": args.max_new_tokens,
        "prompts_per_arm": n,
        "load_before": load_before,
        "load_after": load_after,
        "methods": methods,
        "setups": results,
        "verdicts": verdicts,
        "recommendation": advice,
    }
    RESULTS.write_text(json.dumps(out, indent=2) + "\n")
    print(f"written: {RESULTS}")


if __name__ == "__main__":
    main()
