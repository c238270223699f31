"""``jarvis-evals noise``: generate each arm twice and count answers that differ.

Greedy decoding should be deterministic, so the expected count is 0. Anything else is a
noise floor: a gate cannot tell a real change smaller than it from run-to-run jitter.
The result is written to ``<reports>/noise.json``; later benchmark runs on the same model,
adapter and quantization show it in their reports.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from evals.adapters import AdapterSpec, default_adapter_name
from evals.atomic import atomic_write_json
from evals.config import EvalConfig
from evals.options import add_cli_argument
from evals.outcome import NOISE_FILE
from evals.plan import limit_per_category
from evals.records import NoiseExample, NoiseFloor, encode
from evals.run import EvalRun


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's own options under short names: the same parsers, defaults and help (evals.options)."""
    add_cli_argument(parser, "--jarvis-model", "--model")
    add_cli_argument(
        parser,
        "--jarvis-adapter",
        "--adapter",
        type=Path,
        metavar="PATH",
        help="LoRA adapter folder (default: newest */final/ under the output dir)",
    )
    add_cli_argument(parser, "--jarvis-output-dir", "--output-dir", type=Path)
    add_cli_argument(parser, "--jarvis-quant", "--quant")
    add_cli_argument(parser, "--jarvis-suite", "--suite", type=Path)
    add_cli_argument(parser, "--jarvis-max-new-tokens", "--max-new-tokens")
    add_cli_argument(parser, "--jarvis-batch-size", "--batch-size")
    add_cli_argument(parser, "--jarvis-reports", "--reports", type=Path, help="folder for noise.json")
    add_cli_argument(parser, "--jarvis-limit", "--limit")


def measure_noise(config: EvalConfig) -> NoiseFloor:
    """Generate both arms twice over the selected cases, uncached; return what differed."""
    run = EvalRun.from_config(config)
    cases = limit_per_category(run.suite.cases, config.limit, lambda case: case)
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
