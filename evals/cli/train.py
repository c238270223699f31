"""``jarvis-evals train``: fine-tune the demo LoRA adapter on the shipped JARVIS training set."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evals.adapters import find_latest_adapter
from evals.parsers import parse_positive_float, parse_positive_int
from evals.records import PROMPT_FORMATS
from evals.training.trainer import ALL_LINEAR, QUANT_CHOICES, SUMMARY_FILE, TrainConfig, train_adapter


def _modules(text: str) -> tuple[str, ...]:
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    if not names:
        raise argparse.ArgumentTypeError(f"expected '{ALL_LINEAR}' or comma-separated layer names like q_proj,v_proj")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Declare the options of ``jarvis-evals train``."""
    d = TrainConfig()
    parser.add_argument(
        "--model", default=None, help="causal LM folder or hub id (default: the embedded SmolLM2-135M-Instruct)"
    )
    parser.add_argument(
        "--output-dir",
        type=Path,
        default=d.output_dir,
        help="runs go to OUTPUT_DIR/<timestamp>/final (default: %(default)s)",
    )
    parser.add_argument(
        "--data", type=Path, default=None, help="JSONL training set (default: the shipped jarvis_train.jsonl)"
    )
    parser.add_argument(
        "--suite",
        type=Path,
        default=None,
        help="suite whose system prompt and tools the data uses (default: the shipped one)",
    )
    parser.add_argument("--rank", type=parse_positive_int, default=d.rank, help="LoRA rank (default: %(default)s)")
    parser.add_argument("--alpha", type=parse_positive_float, default=d.alpha, help="LoRA alpha (default: %(default)s)")
    parser.add_argument("--dropout", type=float, default=d.dropout, help="LoRA dropout (default: %(default)s)")
    parser.add_argument(
        "--target-modules",
        type=_modules,
        default=d.target_modules,
        help=f"'{ALL_LINEAR}' or comma-separated layer names (default: {ALL_LINEAR})",
    )
    parser.add_argument(
        "--epochs", type=parse_positive_int, default=d.epochs, help="passes over the data (default: %(default)s)"
    )
    parser.add_argument(
        "--lr", type=parse_positive_float, default=d.lr, help="peak learning rate (default: %(default)s)"
    )
    parser.add_argument(
        "--batch-size", type=parse_positive_int, default=d.batch_size, help="examples per step (default: %(default)s)"
    )
    parser.add_argument(
        "--seed", type=int, default=d.seed, help="seed of the LoRA init and the data order (default: %(default)s)"
    )
    parser.add_argument(
        "--max-examples", type=parse_positive_int, default=None, help="train on the first N examples only (quick tries)"
    )
    parser.add_argument(
        "--prompt-format",
        choices=PROMPT_FORMATS,
        default=d.prompt_format,
        help="how the benchmark will ask: system-text (tool ids in the system prompt, answers 'tool_id — confirmation') "
        "or native-tools (function schemas through the chat template, answers <tool_call> blocks) (default: %(default)s)",
    )
    parser.add_argument(
        "--quant",
        choices=QUANT_CHOICES,
        default=d.quant,
        help="base the adapter will run on: 4bit trains on the NF4-rounded weights the benchmark loads "
        "(compute stays full precision), none on the original weights (default: %(default)s)",
    )
    parser.add_argument(
        "--no-share-prefix",
        dest="share_prefix",
        action="store_false",
        help="run the shared system prompt once per example instead of once per batch (slower, same loss)",
    )
    parser.add_argument("--trust-remote-code", action="store_true", help="allow models that ship their own code")
    parser.add_argument(
        "--jarvis-eval",
        choices=("quick", "full", "none"),
        default=d.jarvis_eval,
        help="score the JARVIS suite after each epoch: quick (one case per category), full or none "
        "(default: %(default)s)",
    )
    parser.add_argument(
        "--if-missing",
        action="store_true",
        help="do nothing when OUTPUT_DIR already holds a complete */final adapter (the benchmark's auto-detection)",
    )


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """Read the parsed options into one ``TrainConfig`` (which validates them)."""
    return TrainConfig(
        model=args.model,
        output_dir=args.output_dir,
        data=args.data,
        suite=args.suite,
        rank=args.rank,
        alpha=args.alpha,
        dropout=args.dropout,
        target_modules=args.target_modules,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        seed=args.seed,
        max_examples=args.max_examples,
        quant=args.quant,
        prompt_format=args.prompt_format,
        share_prefix=args.share_prefix,
        trust_remote_code=args.trust_remote_code,
        jarvis_eval=args.jarvis_eval,
    )


def run(args: argparse.Namespace) -> int:
    """Train, then print where the adapter is and how the loss went."""
    if args.if_missing:
        existing = find_latest_adapter(args.output_dir)
        if existing is not None:
            print(f"adapter found at {existing}: not training (drop --if-missing to train a new one)")
            return 0
    final = train_adapter(config_from_args(args))
    summary = json.loads((final / SUMMARY_FILE).read_text(encoding="utf-8"))
    print(f"adapter saved to {final}")
    print(
        f"loss {summary['loss_first']:.3f} -> {summary['loss_last']:.3f} over {summary['epochs']} epochs "
        f"on {summary['examples']} examples in {summary['seconds']:.0f}s"
    )
    best = summary.get("jarvis_best")
    if best:
        per_epoch = ", ".join(f"{e['relevance']:.3f}" for e in summary["jarvis_eval"])
        print(
            f"JARVIS relevance per epoch ({best['subset']} subset): {per_epoch}; best: epoch {best['epoch']:g} "
            f"(step {best['step']}), {best['relevance']:.3f}; scoring took {summary['jarvis_eval_seconds']:.0f}s"
        )
    return 0
