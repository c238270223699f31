"""``jarvis-evals noise``: generate each arm twice and count answers that differ.

Greedy decoding should be deterministic, so the expected count is 0. Anything else is a
noise floor: a gate cannot tell a real change smaller than it from run-to-run jitter.
The result is written to ``<reports>/noise.json``; later benchmark runs on the same model,
adapter and quantization show it in their reports.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evals.config import AdapterSpec, EvalConfig, default_adapter_name, parse_batch_size, parse_positive_int
from evals.models import QUANT_CHOICES
from evals.records import NoiseExample, NoiseFloor, encode


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="embedded", help="HF model id or folder (default: embedded SmolLM2)")
    parser.add_argument(
        "--adapter", type=Path, default=None, help="LoRA folder (default: newest */final/ under --output-dir)"
    )
    parser.add_argument("--output-dir", type=Path, default=Path("output"), help="where trained adapters live")
    parser.add_argument("--quant", choices=QUANT_CHOICES, default="4bit")
    parser.add_argument("--suite", type=Path, default=None, help="suite file (default: the shipped JARVIS suite)")
    parser.add_argument("--max-new-tokens", type=parse_positive_int, default=64)
    parser.add_argument("--batch-size", type=parse_batch_size, default="auto")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="folder for noise.json")
    parser.add_argument(
        "--limit", type=parse_positive_int, default=None, help="only the first N cases of each category"
    )


def measure_noise(config: EvalConfig) -> NoiseFloor:
    """Generate both arms twice over the selected cases, uncached; return what differed."""
    from evals.run import EvalRun

    run = EvalRun.from_config(config)
    cases = list(run.suite.cases)
    if config.limit:
        seen: dict[str, int] = {}
        kept = []
        for case in cases:
            seen[case.category] = seen.get(case.category, 0) + 1
            if seen[case.category] <= config.limit:
                kept.append(case)
        cases = kept
    prompts = [run.prompt(c) for c in cases]
    differing: dict[str, int] = {}
    examples: list[NoiseExample] = []
    base, tuned = run.arms[0], next(a for a in run.arms if a.name == run.primary)
    for arm in (base, tuned):
        first = run.backend.generate({arm: prompts}, run.settings)[arm]
        second = run.backend.generate({arm: prompts}, run.settings)[arm]
        changed = [(c, a.text, b.text) for c, a, b in zip(cases, first, second, strict=True) if a.text != b.text]
        label = "base" if arm is base else "finetuned"
        differing[label] = len(changed)
        examples += [NoiseExample(case=c.id, arm=label, first=a, second=b) for c, a, b in changed[:3]]
    total = sum(differing.values())
    return NoiseFloor(
        n_cases=len(cases),
        model=config.model,
        adapter=str(run.adapter().path.resolve()),  # runs record it absolute: compared as paths
        quantization=config.quant,
        base_differing=differing["base"],
        finetuned_differing=differing["finetuned"],
        warning=None
        if total == 0
        else f"{total} answer(s) differ between two identical greedy runs: per-case changes of that size are noise, not signal",
        examples=tuple(examples),
        generate_calls=run.backend.stats.generate_calls,
    )


def run(args: argparse.Namespace) -> int:
    from evals.atomic import atomic_write_json
    from evals.outcome import NOISE_FILE

    config = EvalConfig(
        suite=args.suite,
        model=args.model,
        quant=args.quant,
        adapters=(AdapterSpec(default_adapter_name(args.adapter), args.adapter.resolve()),) if args.adapter else (),
        output_dir=args.output_dir,
        max_new_tokens=args.max_new_tokens,
        batch_size=args.batch_size,
        limit=args.limit,
        use_cache=False,
        reports_dir=Path(args.reports),
    )
    noise = measure_noise(config)
    path = atomic_write_json(Path(args.reports) / NOISE_FILE, encode(noise))
    print(f"noise floor over {noise.n_cases} cases, each arm generated twice ({noise.generate_calls} generate calls):")
    print(f"  base arm:       {noise.base_differing} answer(s) differ")
    print(f"  fine-tuned arm: {noise.finetuned_differing} answer(s) differ")
    if noise.warning:
        print(f"  WARNING: {noise.warning}")
    print(f"written: {path}")
    return 0
