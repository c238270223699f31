"""``jarvis-evals noise``: generate each arm twice and count answers that differ.

Greedy decoding should be deterministic, so the expected count is 0. Anything else is a
noise floor: a gate cannot tell a real change smaller than it from run-to-run jitter.
The result is written to ``<reports>/noise.json``; later benchmark runs on the same model,
adapter and quantization show it in their reports.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

NOISE_FILE = "noise.json"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", default="embedded", help="HF model id or folder (default: embedded SmolLM2)")
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA folder (default: newest */final/ under --output-dir)")
    parser.add_argument("--output-dir", type=Path, default=Path("output"), help="where trained adapters live")
    parser.add_argument("--quant", choices=("4bit", "8bit", "none"), default="4bit")
    parser.add_argument("--suite", type=Path, default=None, help="suite file (default: the shipped JARVIS suite)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--batch-size", default="auto")
    parser.add_argument("--reports", type=Path, default=Path("reports"), help="folder for noise.json")
    parser.add_argument("--limit", type=int, default=None, help="only the first N cases of each category")


def measure_noise(config: Any) -> dict[str, Any]:
    """Generate both arms twice over the selected cases; return the noise section."""
    from evals.models import resolve_model
    from evals.prompting import build_prompt
    from evals.session import EvalRun, ModelPair

    run = EvalRun.from_config(config)
    cases = list(run.suite.cases)
    if config.limit:
        cases = [c for c in cases if [x.id for x in cases if x.category == c.category].index(c.id) < config.limit]
    model_path = resolve_model(config.model)
    run.pair = ModelPair(model_path, run.adapter, config.quant, config.trust_remote_code)
    tokenizer = run.pair.load_tokenizer()
    texts = [build_prompt(tokenizer, run.suite.system_prompt, c.prompt) for c in cases]
    section: dict[str, Any] = {"n_cases": len(cases), "model": config.model, "adapter": str(run.adapter), "quantization": config.quant}
    examples: list[dict[str, str]] = []
    for arm in ("base", "finetuned"):
        first = [a.text for a in run._generate(arm, texts)]
        second = [a.text for a in run._generate(arm, texts)]
        differing = [(c, a, b) for c, a, b in zip(cases, first, second, strict=True) if a != b]
        section[f"{arm}_differing"] = len(differing)
        examples += [{"case": c.id, "arm": arm, "first": a, "second": b} for c, a, b in differing[:3]]
    total = section["base_differing"] + section["finetuned_differing"]
    section["warning"] = (
        None
        if total == 0
        else f"{total} answer(s) differ between two identical greedy runs: per-case changes of that size are noise, not signal"
    )
    section["examples"] = examples
    section["generate_calls"] = run.generate_calls
    return section


def run(args: argparse.Namespace) -> int:
    from evals.config import EvalConfig
    from evals.io import atomic_write_json

    config = EvalConfig(
        suite=args.suite,
        model=args.model,
        quant=args.quant,
        adapter=args.adapter,
        output_dir=args.output_dir,
        max_new_tokens=args.max_new_tokens,
        batch_size=str(args.batch_size),
        limit=args.limit,
        use_cache=False,
        reports_dir=Path(args.reports),
    )
    section = measure_noise(config)
    path = atomic_write_json(Path(args.reports) / NOISE_FILE, section)
    print(f"noise floor over {section['n_cases']} cases, each arm generated twice ({section['generate_calls']} generate calls):")
    print(f"  base arm:       {section['base_differing']} answer(s) differ")
    print(f"  fine-tuned arm: {section['finetuned_differing']} answer(s) differ")
    if section["warning"]:
        print(f"  WARNING: {section['warning']}")
    print(f"written: {path}")
    return 0
