"""The common options of a benchmark run, declared once: flag, ini key, default, parser, help.

The pytest plugin declares them (``evals.config.add_options``, with each registered backend's
own options), and the ``jarvis-evals`` subcommands that take the same settings declare theirs
from the same entries (``add_cli_argument``), as pytest-benchmark shares its options with its CLI.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from evals.backends.base import parse_backend
from evals.gate.baseline import DEFAULT_BASELINE_PATH
from evals.loggers import parse_trackers
from evals.parsers import (
    parse_batch_size,
    parse_decoding,
    parse_gate_metric,
    parse_gate_mode,
    parse_min_gain,
    parse_nats,
    parse_noise_levels,
    parse_nonnegative_int,
    parse_positive_int,
    parse_prompt_format,
    parse_quant,
    parse_temperature,
    parse_tolerance,
    parse_top_p,
)
from evals.policy import ASSERT_HELP, parse_assert
from evals.records import DEFAULT_MAX_NEW_TOKENS

QUICK_MAX_NEW_TOKENS = 24  # --jarvis-quick clamps the answers to this


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str | None
    default: Any
    help: str
    parse: Callable[[str], Any] | None = None
    flag_only: bool = False  # a store_true switch
    metavar: str = "VALUE"
    repeatable: bool = False  # may be given several times; the ini key takes one value per line

    @property
    def dest(self) -> str:
        return self.flag.lstrip("-").replace("-", "_")

    def default_value(self) -> Any:
        """The default, parsed like a given value."""
        return self.parse(self.default) if self.parse and self.default is not None else self.default


OPTIONS: tuple[Option, ...] = (
    Option(
        "--jarvis-suite",
        "jarvis_suite",
        None,
        "suite YAML file, or a shipped suite: jarvis (the default, 30 cases) or jarvis-full (90)",
        metavar="PATH",
    ),
    Option(
        "--jarvis-model",
        "jarvis_model",
        "embedded",
        "HF model id or local folder (default: embedded SmolLM2-135M-Instruct)",
        metavar="ID_OR_PATH",
    ),
    Option(
        "--jarvis-quant",
        "jarvis_quant",
        "4bit",
        "base model quantization: 4bit (NF4, double quant) | 8bit | none",
        parse_quant,
        metavar="4bit|8bit|none",
    ),
    Option(
        "--jarvis-adapter",
        "jarvis_adapter",
        None,
        "LoRA adapter folder, NAME=PATH, or a glob ('output/*/final'); repeat for several "
        "(default: newest */final/ under the output dir)",
        metavar="[NAME=]PATH",
        repeatable=True,
    ),
    Option(
        "--jarvis-primary",
        "jarvis_primary",
        None,
        "the adapter the statistics, chart and gate describe (default: the newest)",
        metavar="NAME",
    ),
    Option("--jarvis-gate-all", None, False, "gate every adapter, not only the primary one", flag_only=True),
    Option(
        "--jarvis-output-dir",
        "jarvis_output_dir",
        "output",
        "where training runs live; searched for */final/ adapters",
        metavar="DIR",
    ),
    Option("--jarvis-trust-remote-code", None, False, "allow model code from the hub (off by default)", flag_only=True),
    Option(
        "--jarvis-max-new-tokens",
        "jarvis_max_new_tokens",
        str(DEFAULT_MAX_NEW_TOKENS),
        "new tokens per answer (greedy)",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--jarvis-batch-size",
        "jarvis_batch_size",
        "auto",
        "prompts per generate call, or auto (halves on out-of-memory)",
        parse_batch_size,
        metavar="N|auto",
    ),
    Option(
        "--jarvis-decoding",
        "jarvis_decoding",
        "greedy",
        "greedy (one answer per case) | sampled (the model's generation_config, e.g. Qwen3's temperature 0.6, "
        "top_p 0.95, top_k 20; --jarvis-temperature/-top-p/-top-k override it)",
        parse_decoding,
        metavar="greedy|sampled",
    ),
    Option(
        "--jarvis-samples",
        "jarvis_samples",
        "1",
        "answers per case and arm with sampled decoding, each from its own seed; per-case rates, pass^N and a "
        "clustered interval replace single answers (N times the generation)",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--jarvis-temperature",
        "jarvis_temperature",
        None,
        "sampling temperature (sampled decoding; default: the model's)",
        parse_temperature,
        metavar="T",
    ),
    Option(
        "--jarvis-top-p",
        "jarvis_top_p",
        None,
        "nucleus sampling mass (sampled decoding; default: the model's)",
        parse_top_p,
        metavar="P",
    ),
    Option(
        "--jarvis-top-k",
        "jarvis_top_k",
        None,
        "sample among the K likeliest tokens (sampled decoding; default: the model's)",
        parse_positive_int,
        metavar="K",
    ),
    Option(
        "--jarvis-seed",
        "jarvis_seed",
        "0",
        "mixed into every sample's seed (sampled decoding): another seed draws other samples",
        parse_nonnegative_int,
        metavar="N",
    ),
    Option(
        "--jarvis-no-probe",
        None,
        False,
        "skip the forced-choice routing probe (per-case margins in nats, near ties; in-process backend only)",
        flag_only=True,
    ),
    Option(
        "--jarvis-near-tie",
        "jarvis_near_tie",
        "1.0",
        "a routing margin below this many nats is a near tie: a small change could flip the choice",
        parse_nats,
        metavar="NATS",
    ),
    Option(
        "--jarvis-gate-margin",
        "jarvis_gate_margin",
        None,
        "fail the gate when the fine-tuned routing margins fell significantly, by more than NATS on average, "
        "against the baseline's (default: such a fall is a warning)",
        parse_nats,
        metavar="NATS",
    ),
    Option(
        "--jarvis-assert",
        "jarvis_assert",
        "no-regression",
        f"what each per-prompt test asserts: {ASSERT_HELP}",
        parse_assert,
        metavar="POLICY",
    ),
    Option("--jarvis-reports", "jarvis_reports", "reports", "folder for results and reports", metavar="DIR"),
    Option(
        "--jarvis-log-to",
        "jarvis_log_to",
        None,
        "also log the run's scores and reports to an experiment tracker you have: mlflow | wandb | mlflow,wandb "
        "(configured as usual: MLFLOW_TRACKING_URI, WANDB_PROJECT...)",
        parse_trackers,
        metavar="TRACKER",
    ),
    Option(
        "--jarvis-history",
        "jarvis_history",
        None,
        "file every full run appends one line to, for `jarvis-evals history` (default: <reports>/history.jsonl; "
        "'none' turns it off)",
        metavar="FILE",
    ),
    Option(
        "--jarvis-cache-dir",
        "jarvis_cache_dir",
        None,
        "generation cache folder (default: the user cache dir)",
        metavar="DIR",
    ),
    Option("--jarvis-no-cache", None, False, "neither read nor write the generation cache", flag_only=True),
    Option(
        "--jarvis-prompt-format",
        "jarvis_prompt_format",
        None,
        "how the tools reach the model: system-text (listed in the system prompt) | native-tools "
        "(function schemas through the chat template or the server's tools); default: the suite's",
        parse_prompt_format,
        metavar="system-text|native-tools",
    ),
    Option(
        "--jarvis-no-shared-prefix",
        None,
        False,
        "compute the shared system prompt in every row instead of once per batch (slower; no rounding difference)",
        flag_only=True,
    ),
    Option(
        "--jarvis-quick",
        None,
        False,
        "one case per category, short answers, reports in <reports>/quick",
        flag_only=True,
    ),
    Option(
        "--jarvis-limit",
        None,
        None,
        "take only the first N cases of each selected category",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--jarvis-perturb",
        "jarvis_perturb",
        None,
        "also run speech-recognition variants of the commands and routing cases at these noise levels "
        "(edits per request, 1-3) and report a robustness curve; e.g. 1,2,3",
        parse_noise_levels,
        metavar="LEVELS",
    ),
    Option(
        "--jarvis-perturb-variants",
        "jarvis_perturb_variants",
        "3",
        "variants per case and noise level with --jarvis-perturb",
        parse_positive_int,
        metavar="K",
    ),
    Option(
        "--jarvis-perturb-seed",
        "jarvis_perturb_seed",
        "0",
        "seed of the variants with --jarvis-perturb: the same seed gives the same variants",
        parse_nonnegative_int,
        metavar="N",
    ),
    Option(
        "--jarvis-baseline",
        "jarvis_baseline",
        DEFAULT_BASELINE_PATH,
        "baseline results the gate compares with",
        metavar="PATH",
    ),
    Option("--jarvis-save-baseline", None, False, "bless this run: write (or replace) the baseline", flag_only=True),
    Option(
        "--jarvis-save-baseline-partial",
        None,
        False,
        "allow blessing a partial run (quick, -k, --jarvis-limit, one category); it gates only what it covers",
        flag_only=True,
    ),
    Option(
        "--jarvis-require-baseline",
        None,
        False,
        "fail the gate when there is no baseline, or it lacks a selected case",
        flag_only=True,
    ),
    Option(
        "--jarvis-accept-baseline-mismatch",
        None,
        False,
        "compare with a baseline made on another model, quantization, settings or suite (said in every report)",
        flag_only=True,
    ),
    Option(
        "--jarvis-tolerance",
        "jarvis_tolerance",
        "0.02",
        "allowed drop of mean relevance vs the baseline (absolute)",
        parse_tolerance,
        metavar="X",
    ),
    Option(
        "--jarvis-min-gain",
        "jarvis_min_gain",
        None,
        "fail when the relative relevance gain over the base arm is below X (0.10 or 10%%)",
        parse_min_gain,
        metavar="X",
    ),
    Option(
        "--jarvis-gate-mode",
        "jarvis_gate_mode",
        "tolerance",
        "tolerance | significant (also fail a significant drop within the tolerance)",
        parse_gate_mode,
        metavar="MODE",
    ),
    Option(
        "--jarvis-gate-metric",
        "jarvis_gate_metric",
        "relevance",
        "what the gate, the per-case tests and the leaderboard compare: relevance | task_success",
        parse_gate_metric,
        metavar="METRIC",
    ),
    Option(
        "--jarvis-false-activation-tolerance",
        "jarvis_false_activation_tolerance",
        "0",
        "allowed rise of the false-activation rate vs the baseline (absolute; cases where nothing should run)",
        parse_tolerance,
        metavar="X",
    ),
    Option(
        "--jarvis-backend",
        "jarvis_backend",
        "hf",
        "who answers: one of the registered backends (see each one's options below)",  # the registry fills this in
        parse_backend,
        metavar="hf|openai",
    ),
)


def option(flag: str) -> Option:
    """Return the common option declared as ``flag``."""
    return next(o for o in OPTIONS if o.flag == flag)


def add_cli_argument(parser: argparse.ArgumentParser, flag: str, name: str, **overrides: Any) -> None:
    """Declare the common option ``flag`` on a subcommand as ``name`` (same parser, default and help)."""
    opt = option(flag)
    if opt.flag_only:
        parser.add_argument(name, action="store_true", help=opt.help, **overrides)
        return
    kwargs: dict[str, Any] = {"default": opt.default_value(), "help": opt.help, "metavar": opt.metavar}
    if opt.parse is not None:
        kwargs["type"] = opt.parse
    kwargs.update(overrides)
    parser.add_argument(name, **kwargs)
