"""``jarvis-evals train``: fine-tune a LoRA adapter that makes a causal LM a better JARVIS.

The model is trained in full precision on the shipped training set (``evals/training/trainset.py``),
with each request rendered exactly as the benchmark renders it (``build_prompt``) and the
loss on the answer tokens only. By default its weights are first rounded to the NF4 values
the benchmark's 4-bit base holds (``round_to_nf4``), so the adapter fits the base it is
evaluated on. The adapter lands in ``<output-dir>/<timestamp>/final/``, where
``evals.adapters.find_latest_adapter`` finds it.

torch, transformers and peft are imported inside functions so the CLI starts instantly.
"""

from __future__ import annotations

import json
import math
import random
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from evals.atomic import atomic_write_json, follow_umask
from evals.backends.prompting import (  # one rendering for training and benchmark
    MIN_SHARED_PREFIX,
    build_prompt,
    shared_prefix_length,
)
from evals.errors import JarvisError
from evals.hfload import QUANT_CHOICES as BENCHMARK_QUANT_CHOICES
from evals.hfload import known_noise_filtered, load_base, load_for_training, quiet_loading
from evals.models import resolve_model
from evals.progress import progress
from evals.records import NATIVE_TOOLS, PROMPT_FORMATS, SYSTEM_TEXT
from evals.suite import load_suite
from evals.training.in_training import CheckpointScore, InTrainingEval, select_cases
from evals.training.trainset import TrainExample, default_train_path, load_examples

SUMMARY_FILE = "training_summary.json"
ALL_LINEAR = "all-linear"
# "4bit": train on the weights the benchmark's NF4 base will hold; "none": on the original ones.
# No "8bit": int8 rounding is not implemented for training (the benchmark's 8bit is LLM.int8()).
QUANT_CHOICES = tuple(q for q in BENCHMARK_QUANT_CHOICES if q != "8bit")


@dataclass(frozen=True)
class TrainConfig:
    """Every setting of one training run; written into ``training_summary.json``."""

    model: str | None = None
    output_dir: Path = Path("output")
    data: Path | None = None
    suite: Path | None = None
    rank: int = 16
    alpha: float = 32.0
    dropout: float = 0.0
    target_modules: tuple[str, ...] = (ALL_LINEAR,)
    epochs: int = 2
    lr: float = 2e-3
    warmup: float = 0.05
    batch_size: int = 16
    seed: int = 0
    max_examples: int | None = None
    quant: str = "4bit"
    share_prefix: bool = True
    trust_remote_code: bool = False
    prompt_format: str = SYSTEM_TEXT  # the format the benchmark will ask in (--jarvis-prompt-format)
    # Score the suite after every epoch (evals.training.callback): "quick" (one case per category),
    # "full", or "none". Greedy generation draws no random numbers: the adapter is the same either way.
    jarvis_eval: str = "quick"

    def __post_init__(self) -> None:
        if self.prompt_format not in PROMPT_FORMATS:
            raise JarvisError(f"prompt format must be one of {', '.join(PROMPT_FORMATS)}, got {self.prompt_format!r}")
        object.__setattr__(self, "output_dir", Path(self.output_dir))
        if self.data is not None:
            object.__setattr__(self, "data", Path(self.data))
        if self.suite is not None:
            object.__setattr__(self, "suite", Path(self.suite))
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        if self.rank < 1:
            raise JarvisError(f"LoRA rank must be at least 1, got {self.rank}: try 8 or 16")
        if self.alpha <= 0:
            raise JarvisError(f"LoRA alpha must be positive, got {self.alpha}: twice the rank is usual")
        if not 0.0 <= self.dropout < 1.0:
            raise JarvisError(f"LoRA dropout must be in [0, 1), got {self.dropout}")
        if not self.target_modules or any(not m.strip() for m in self.target_modules):
            raise JarvisError(
                f"target modules must name at least one layer (or '{ALL_LINEAR}'), got {list(self.target_modules)}"
            )
        if ALL_LINEAR in self.target_modules and len(self.target_modules) > 1:
            raise JarvisError(f"'{ALL_LINEAR}' already covers every linear layer: pass it alone or list module names")
        if self.epochs < 1:
            raise JarvisError(f"epochs must be at least 1, got {self.epochs}")
        if not 0.0 < self.lr < 1.0:
            raise JarvisError(
                f"learning rate must be between 0 and 1, got {self.lr}: LoRA usually trains at 1e-4 to 3e-3"
            )
        if not 0.0 <= self.warmup < 1.0:
            raise JarvisError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup}")
        if self.batch_size < 1:
            raise JarvisError(f"batch size must be at least 1, got {self.batch_size}")
        if self.quant not in QUANT_CHOICES:
            raise JarvisError(f"unknown base quantization '{self.quant}': use one of {', '.join(QUANT_CHOICES)}")
        if self.jarvis_eval not in ("quick", "full", "none"):
            raise JarvisError(f"jarvis eval must be quick, full or none, got {self.jarvis_eval!r}")
        if self.max_examples is not None and self.max_examples < 1:
            raise JarvisError(f"max examples must be at least 1 (or left out for all), got {self.max_examples}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["output_dir"] = str(self.output_dir)
        out["data"] = str(self.data) if self.data else None
        out["suite"] = str(self.suite) if self.suite else None
        out["target_modules"] = list(self.target_modules)
        return out


@dataclass(frozen=True)
class Encoded:
    """One tokenised example: the prompt and answer ids, labels -100 on the prompt."""

    input_ids: tuple[int, ...]
    labels: tuple[int, ...]

    @property
    def prompt_length(self) -> int:
        return next(i for i, label in enumerate(self.labels) if label != -100)


@dataclass
class TrainResult:
    """What a run measured, for the summary file."""

    losses: list[float] = field(default_factory=list)
    epoch_losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    shared_prefix: int = 0
    eval_seconds: float = 0.0  # of ``seconds``, spent scoring the suite after epochs


# ---------------------------------------------------------------------------------------
# Prompts and tokenisation


def native_answer(example: TrainExample) -> str:
    """The example's answer in the native tool-calling format: one Qwen/Hermes ``<tool_call>`` per call.

    The calls and their arguments are read from the system-text answer (``tool(arg="v") — ...``),
    then the confirmation follows, as a native answer confirms after its calls. An answer with no
    tool (nothing to be done) is the words alone.
    """
    if not example.tools:
        return example.answer
    from evals.metrics import parse_calls  # the same reader the benchmark scores with

    calls = parse_calls(example.answer, example.tools)
    blocks = [
        f"<tool_call>\n{json.dumps({'name': c.name, 'arguments': c.arguments if isinstance(c.arguments, dict) else {}}, ensure_ascii=False)}\n</tool_call>"
        for c in calls
        if c.name
    ]
    confirmation = example.answer.split(" — ", 1)[1] if " — " in example.answer else ""
    return "\n".join([*blocks, confirmation] if confirmation else blocks)


def encode_example(
    tokenizer: Any, system_prompt: str, example: TrainExample, tools: list[dict[str, Any]] | None = None
) -> Encoded:
    """Tokenise prompt and answer separately, as generation sees them, and end with EOS.

    No special tokens are added: the chat template already holds them, and the benchmark
    tokenises its prompts the same way. The EOS teaches the model to stop after one line.
    With ``tools`` (the native-tools format) the prompt carries the function schemas and the
    answer is the tool calls.
    """
    if tokenizer.eos_token_id is None:
        raise JarvisError(
            "the tokenizer has no end-of-sequence token: the model could not learn to stop; pick another model"
        )
    prompt_ids = tokenizer(build_prompt(tokenizer, system_prompt, example.prompt, tools), add_special_tokens=False)[
        "input_ids"
    ]
    answer = native_answer(example) if tools else example.answer
    # The plain format ends with "Assistant:"; the answer follows after a space.
    answer_text = answer if getattr(tokenizer, "chat_template", None) else " " + answer
    answer_ids = tokenizer(answer_text, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    return Encoded(input_ids=tuple(prompt_ids + answer_ids), labels=tuple([-100] * len(prompt_ids) + answer_ids))


def collate(batch: Sequence[Encoded], pad_id: int, start: int = 0) -> dict[str, Any]:
    """Pad right from token ``start`` on: input ids, attention mask and labels (-100 on padding)."""
    import torch

    width = max(len(e.input_ids) for e in batch) - start
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    labels = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, e in enumerate(batch):
        n = len(e.input_ids) - start
        ids[row, :n] = torch.tensor(e.input_ids[start:])
        mask[row, :n] = 1
        labels[row, :n] = torch.tensor(e.labels[start:])
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


# ---------------------------------------------------------------------------------------
# The loss


def _forward_kwargs(model: Any) -> set[str]:
    import inspect

    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


def batch_loss(model: Any, batch: Sequence[Encoded], pad_id: int, prefix: Sequence[int] = ()) -> Any:
    """Return the mean cross-entropy over the batch's answer tokens.

    With a ``prefix`` (the tokens every example starts with: the system prompt), the prefix
    runs once and its key/value cache is repeated across the batch; gradients still flow
    through it, so the loss equals the plain forward pass at a fraction of the cost.
    """
    import torch
    import torch.nn.functional as F

    device = next(model.parameters()).device
    accepted = _forward_kwargs(model)
    enc = {k: v.to(device) for k, v in collate(batch, pad_id, start=len(prefix)).items()}
    labels = enc["labels"]
    width = labels.shape[1]
    answer_start = int((labels != -100).float().argmax(dim=1).min())  # first answer position in any row
    keep = width - answer_start + 1  # logits from the position just before the first answer token
    kwargs: dict[str, Any] = {}
    if "logits_to_keep" in accepted:
        kwargs["logits_to_keep"] = keep
    mask = enc["attention_mask"]
    if prefix:
        # Only the cache is needed from the prefix: skip its logits (a vocabulary-wide matmul per token).
        head_kwargs = {"logits_to_keep": 1} if "logits_to_keep" in accepted else {}
        head = model(input_ids=torch.tensor([list(prefix)], device=device), use_cache=True, **head_kwargs)
        cache = getattr(head, "cache", None)
        if cache is None:
            cache = head.past_key_values
        cache.batch_repeat_interleave(len(batch))
        kwargs["cache" if "cache" in accepted else "past_key_values"] = cache
        mask = torch.cat([torch.ones((len(batch), len(prefix)), dtype=mask.dtype, device=device), mask], dim=1)
    logits = model(input_ids=enc["input_ids"], attention_mask=mask, use_cache=bool(prefix), **kwargs).logits
    logits = logits[:, -keep:]  # models without logits_to_keep return every position
    targets = labels[:, width - keep + 1 :]
    return F.cross_entropy(logits[:, :-1].float().reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100)


# ---------------------------------------------------------------------------------------
# Training


def _load_model(model_path: str, trust_remote_code: bool) -> tuple[Any, Any]:
    return load_for_training(model_path, trust_remote_code)


def round_to_nf4(model: Any, model_path: str, trust_remote_code: bool = False) -> int:
    """Replace every weight the benchmark quantizes by its NF4 value; return how many were replaced.

    The benchmark loads the base in 4-bit NF4 (double quantization). An adapter trained on the
    original weights meets different hidden states there: measured on SmolLM2-135M, logits
    moved by up to 12.5 between the fp32 and NF4 bases, and 0.8 once the fp32 weights were
    rounded like this. So the adapter is trained against the base it will be used with, while
    the arithmetic stays in full precision (fast on CPU, exact gradients).
    """
    import torch

    try:
        import bitsandbytes as bnb
    except ImportError:
        raise JarvisError(
            "bitsandbytes is not installed: install it, or pass --quant none to train on the original weights"
        ) from None
    quantized = load_base(model_path, "4bit", trust_remote_code)
    modules = dict(quantized.named_modules())
    replaced = 0
    with torch.no_grad():
        for name, module in model.named_modules():
            twin = modules.get(name)
            if isinstance(twin, bnb.nn.Linear4bit):
                weight = bnb.functional.dequantize_4bit(twin.weight.data, twin.weight.quant_state)
                module.weight.copy_(weight.to(device=module.weight.device, dtype=module.weight.dtype))
                replaced += 1
    del quantized
    return replaced


def _lora(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    targets: str | list[str] = ALL_LINEAR if config.target_modules == (ALL_LINEAR,) else list(config.target_modules)
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha,
        lora_dropout=config.dropout,
        target_modules=targets,
        bias="none",
        task_type="CAUSAL_LM",
    )
    try:
        with known_noise_filtered():
            return get_peft_model(model, lora)
    except ValueError as exc:
        raise JarvisError(
            f"LoRA target modules {targets} do not fit this model ({str(exc).splitlines()[0][:160]}): "
            f"pass names of its linear layers, or '{ALL_LINEAR}'"
        ) from None


def _schedule(step: int, total: int, warmup: int) -> float:
    """Linear warm-up, then cosine decay to a tenth of the peak learning rate."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress))


def batch_order(lengths: Sequence[int], batch_size: int, rng: random.Random, window: int = 8) -> list[list[int]]:
    """Return one epoch of batches: shuffled, then grouped by length within windows of batches.

    Similar lengths share a batch so little compute goes to padding; shuffling the windows
    and the batch order keeps the epochs varied. Deterministic for a given ``rng`` state.
    """
    indices = list(range(len(lengths)))
    rng.shuffle(indices)
    span = batch_size * window
    batches: list[list[int]] = []
    for first in range(0, len(indices), span):
        chunk = sorted(indices[first : first + span], key=lambda i: lengths[i])
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def fit(
    model: Any,
    encoded: Sequence[Encoded],
    pad_id: int,
    config: TrainConfig,
    on_epoch_end: Callable[[int, int], float] | None = None,
) -> TrainResult:
    """Train the LoRA weights of ``model`` in place; deterministic for a given seed.

    ``on_epoch_end(epoch, step)`` runs after each epoch (e.g. scoring the suite) and returns the
    seconds it took, which are counted apart from training.
    """
    import torch

    # Only prompt tokens may be shared: the position predicting the first answer token stays per example.
    shared = shared_prefix_length([e.input_ids[: e.prompt_length] for e in encoded])
    prefix = encoded[0].input_ids[:shared] if config.share_prefix else ()
    if len(prefix) < MIN_SHARED_PREFIX:
        prefix = ()
    order_rng = random.Random(config.seed)
    lengths = [len(e.input_ids) for e in encoded]
    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total = steps_per_epoch * config.epochs
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)
    warmup = max(1, round(config.warmup * total))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: _schedule(step, total, warmup))
    result = TrainResult(shared_prefix=len(prefix))
    start = time.perf_counter()
    model.train()
    running: float | None = None
    with progress(total=total, desc="training LoRA", unit="step") as bar:
        for epoch_index in range(config.epochs):
            epoch: list[float] = []
            for rows in batch_order(lengths, config.batch_size, order_rng):
                batch = [encoded[i] for i in rows]
                loss = batch_loss(model, batch, pad_id, prefix)
                if not torch.isfinite(loss):
                    raise JarvisError(
                        f"the loss became {loss.item()} at step {len(result.losses) + 1}: lower --lr and train again"
                    )
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                value = float(loss.item())
                result.losses.append(value)
                epoch.append(value)
                running = value if running is None else 0.9 * running + 0.1 * value
                bar.update(1)
                bar.set_postfix_str(f"loss {running:.3f}")
            result.epoch_losses.append(sum(epoch) / len(epoch))
            if on_epoch_end is not None:
                result.eval_seconds += on_epoch_end(epoch_index + 1, len(result.losses))
                model.train()
    model.eval()
    result.seconds = time.perf_counter() - start
    return result


def _jarvis_summary(scores: Sequence[CheckpointScore], seconds: float) -> dict[str, Any]:
    """The suite's scores after each epoch, and the best epoch (the first with the highest relevance)."""
    if not scores:
        return {}
    best = max(scores, key=lambda s: s.relevance)  # max keeps the first of equals
    return {
        "jarvis_eval": [{"epoch": s.epoch, "step": s.step, "relevance": s.relevance, **s.logs()} for s in scores],
        "jarvis_best": {"epoch": best.epoch, "step": best.step, "relevance": best.relevance, "subset": best.subset},
        "jarvis_eval_seconds": round(seconds, 1),
    }


def _run_folder(output_dir: Path) -> Path:
    """Return a fresh ``<output_dir>/<timestamp>`` folder (a suffix keeps same-second runs apart)."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    output_dir.mkdir(parents=True, exist_ok=True)
    for n in range(1000):
        folder = output_dir / (stamp if n == 0 else f"{stamp}-{n}")
        try:
            folder.mkdir()
            return folder
        except FileExistsError:
            continue
    raise JarvisError(f"cannot create a run folder in {output_dir}: remove old runs there")


def train_adapter(config: TrainConfig) -> Path:
    """Train a LoRA adapter as ``config`` says and return its ``final/`` folder."""
    import torch

    suite = load_suite(config.suite)
    data_path = config.data or default_train_path()
    examples = load_examples(data_path, suite.tool_ids)
    if config.max_examples is not None:
        examples = examples[: config.max_examples]
    model_path = resolve_model(config.model)
    clock = time.perf_counter()
    torch.manual_seed(config.seed)
    model, tokenizer = _load_model(model_path, config.trust_remote_code)
    rounded = round_to_nf4(model, model_path, config.trust_remote_code) if config.quant == "4bit" else 0
    native = config.prompt_format == NATIVE_TOOLS
    tools = suite.function_schemas() if native else None
    encoded = [encode_example(tokenizer, suite.system_prompt_for(config.prompt_format), e, tools) for e in examples]
    model = _lora(model, config)
    # Some CPU steps ran 10x slower on subnormal floats (measured: 40 s -> 4 s per step);
    # flushing them to zero costs no accuracy that matters here. Restored to torch's default after.
    scores: list[CheckpointScore] = []
    on_epoch_end = None
    if config.jarvis_eval != "none":
        evaluator = InTrainingEval(tokenizer, suite, prompt_format=config.prompt_format)
        cases = select_cases(suite, config.jarvis_eval)

        def on_epoch_end(epoch: int, step: int) -> float:
            score = evaluator.score(model, cases, step=step, epoch=float(epoch))
            scores.append(score)
            print(
                f"[jarvis] epoch {epoch}/{config.epochs} (step {step}): JARVIS relevance {score.relevance:.3f} "
                f"(base {score.summary.overall.base.relevance:.3f}; {len(cases)} cases, {config.jarvis_eval})",
                file=sys.stderr,
                flush=True,
            )
            return score.seconds

    torch.set_flush_denormal(True)
    try:
        result = fit(model, encoded, tokenizer.pad_token_id, config, on_epoch_end)
    finally:
        torch.set_flush_denormal(False)

    run = _run_folder(config.output_dir)
    # Save beside the target and rename, so find_latest_adapter never sees a half-written folder.
    tmp = Path(tempfile.mkdtemp(prefix=".final-", dir=run))
    try:
        with quiet_loading():
            model.save_pretrained(tmp)
        trainable, total = (
            sum(p.numel() for p in model.parameters() if p.requires_grad),
            sum(p.numel() for p in model.parameters()),
        )
        atomic_write_json(
            tmp / SUMMARY_FILE,
            {
                "model": model_path,
                "data": str(data_path),
                "suite": suite.path,
                "suite_version": suite.version,
                "examples": len(examples),
                "answer_tokens": sum(sum(1 for label in e.labels if label != -100) for e in encoded),
                "epochs": config.epochs,
                "steps": len(result.losses),
                "loss_first": result.losses[0],
                "loss_last": result.losses[-1],
                "epoch_losses": result.epoch_losses,
                "train_seconds": round(result.seconds, 1),
                "seconds": round(time.perf_counter() - clock, 1),
                "trainable_parameters": trainable,
                "parameters": total,
                "nf4_rounded_layers": rounded,
                "shared_prefix_tokens": result.shared_prefix,
                **_jarvis_summary(scores, result.eval_seconds),
                "settings": config.to_dict(),
            },
        )
        final = run / "final"
        follow_umask(tmp)  # mkdtemp made it 0700: a shared output/ must be readable by the team
        tmp.rename(final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final
