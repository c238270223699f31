"""Drift outside the task: how far an adapter moved the model on neutral French prompts.

For each prompt of a neutral set (``evals/suites/neutral_fr.yaml``: chit-chat and general
questions, nothing the suite routes) the base arm answers greedily, keeping the distribution
each token was chosen from; the fine-tuned arm is then teacher-forced on that answer. At each
answer token the two next-token distributions are compared: KL(base || fine-tuned), averaged
over the answer, is 0 (up to float rounding between the incremental and the full forward pass)
when the adapter changes nothing there.
The fine-tuned arm's mean log-likelihood of the base's answer (and the base's own, for
reference) says the same in a unit a reader knows.

The base's answer, not the fine-tuned one's, is the path: both arms are scored on the same
tokens, and it is the behaviour a fine-tune should keep. torch is imported inside the functions.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from evals.backends.prompting import MIN_SHARED_PREFIX, build_prompt, prefill, shared_prefix_length
from evals.backends.sampling import CACHE_ARGUMENT, generation_config
from evals.errors import JarvisError
from evals.records import GenerationSettings
from evals.records.probe import DriftPrompt

NEUTRAL_SET = "neutral_fr.yaml"
# Drift shows from the first tokens: on the demo adapter scaled 1, 0.6, 0.3 and 0.1, the mean KL over
# the first 24 tokens of 48-token answers keeps the scales' ratios within 3 % and agrees per prompt
# (r = 0.85) at half the cost (benchmarks/drift_length.py).
DEFAULT_DRIFT_TOKENS = 24
DRIFT_BATCH = 32  # the neutral set in one batch on CPU, as the run batches its 30 prompts
# Enters one arm and yields the model as that arm (``HFBackend._as_arm`` bound to an arm, or peft's toggles).
ArmScope = Callable[[], AbstractContextManager[Any]]


@dataclass(frozen=True)
class NeutralPrompt:
    id: str
    prompt: str


@dataclass(frozen=True)
class NeutralSet:
    """A versioned set of neutral prompts and the plain system prompt they are asked under."""

    name: str
    version: str
    system_prompt: str
    prompts: tuple[NeutralPrompt, ...]


def drift_label(neutral: NeutralSet, max_new_tokens: int = DEFAULT_DRIFT_TOKENS) -> str:
    """What a drift figure was measured on: the set, its version and the answers' length (figures compare only within one)."""
    return f"{neutral.name} {neutral.version}".strip() + f", {max_new_tokens} tokens"


def neutral_set_path() -> Path:
    return Path(str(resources.files("evals") / "suites" / NEUTRAL_SET))


def load_neutral_set(path: str | Path | None = None) -> NeutralSet:
    """Load a neutral prompt set (the shipped French one by default); one-line errors name the file."""
    path = Path(path) if path is not None else neutral_set_path()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise JarvisError(f"neutral prompt set {path} cannot be read: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict) or not isinstance(data.get("prompts"), list) or not data["prompts"]:
        raise JarvisError(f"neutral prompt set {path} needs a non-empty `prompts:` list")
    prompts = []
    for i, item in enumerate(data["prompts"]):
        if not isinstance(item, dict) or not str(item.get("prompt") or "").strip():
            raise JarvisError(f"neutral prompt set {path}: prompt {i + 1} needs `id` and a non-empty `prompt`")
        prompts.append(NeutralPrompt(id=str(item.get("id") or f"p{i + 1}"), prompt=str(item["prompt"])))
    if len({p.id for p in prompts}) != len(prompts):
        raise JarvisError(f"neutral prompt set {path}: prompt ids must be unique")
    return NeutralSet(
        name=str(data.get("name") or path.stem),
        version=str(data.get("version") or ""),
        system_prompt=str(data.get("system_prompt") or "").strip(),
        prompts=tuple(prompts),
    )


def greedy_answers(
    model: Any, tokenizer: Any, texts: Sequence[str], max_new_tokens: int
) -> list[tuple[list[int], Any]]:
    """Answer each rendered prompt greedily in one left-padded batch.

    Returns, per prompt, the answer's ids up to and including the first end token and the
    float64 log-probabilities [len(answer), vocab] each was chosen from: the base arm's
    distributions along its own answer come with the answer, with no second pass.
    """
    import torch

    tokenizer.padding_side = "left"
    encoded = tokenizer(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
    device = next(model.parameters()).device
    config = generation_config(GenerationSettings(max_new_tokens=max_new_tokens), tokenizer)
    config.output_logits = True  # the raw logits, before any processor: the model's own distribution
    config.return_dict_in_generate = True
    with torch.inference_mode():
        output = model.generate(**{k: v.to(device) for k, v in encoded.items()}, generation_config=config)
    new = output.sequences[:, encoded["input_ids"].shape[1] :].tolist()
    logits = torch.stack(output.logits, dim=1)  # [prompts, steps, vocab]
    stop = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    answers = []
    for b, row in enumerate(new):
        n = next((i + 1 for i, t in enumerate(row) if t in stop), len(row))
        answers.append(([int(t) for t in row[:n]], torch.log_softmax(logits[b, :n].double(), dim=-1)))
    return answers


def answer_logprobs(model: Any, prompts: Sequence[Sequence[int]], answers: Sequence[Sequence[int]]) -> list[Any]:
    """Teacher-force each prompt + answer in one batch; return each answer's next-token log-probs.

    Row i of the result is a float64 tensor [len(answer), vocab]: the distribution each answer
    token was drawn from. The prompts' common prefix (the system prompt) is computed once and its
    cache repeated per row, and logits are computed from the first answer position on only.
    """
    import torch

    device = next(model.parameters()).device
    shared = shared_prefix_length(prompts) if len(prompts) > 1 else 0
    shared = shared if shared >= MIN_SHARED_PREFIX else 0
    rests = [list(p[shared:]) + list(a) for p, a in zip(prompts, answers, strict=True)]
    width = max(len(r) for r in rests)
    # Right padding: causal attention keeps the real tokens blind to what follows them.
    ids = torch.tensor([r + [r[-1]] * (width - len(r)) for r in rests], device=device)
    skip = min(len(p) - shared for p in prompts) - 1  # positions before every row's first answer prediction
    with torch.inference_mode():
        cache = None
        if shared:
            cache = prefill(model, prompts[0][:shared], len(rests))
        extra = {CACHE_ARGUMENT: cache, "use_cache": True} if cache is not None else {}
        logits = model(input_ids=ids, logits_to_keep=width - skip, **extra).logits
    result = []
    for i, (p, a) in enumerate(zip(prompts, answers, strict=True)):
        # Position t predicts token t + 1: the answer's tokens are predicted from the prompt's last token on.
        start = len(p) - shared - 1 - skip
        result.append(torch.log_softmax(logits[i, start : start + len(a)].double(), dim=-1))
    return result


def measure_drift(
    tokenizer: Any,
    neutral: NeutralSet,
    base: ArmScope,
    tuned: ArmScope,
    arm: str,
    max_new_tokens: int = DEFAULT_DRIFT_TOKENS,
    batch_size: int = DRIFT_BATCH,
    system_prompt: str | None = None,
    base_answers: Sequence[Sequence[int]] | None = None,
    keep_answers: Callable[[list[list[int]]], None] | None = None,
) -> list[DriftPrompt]:
    """Measure one adapter arm's drift from the base on every neutral prompt.

    The base answers in batches of ``batch_size`` (its distributions come from generating), or,
    with ``base_answers`` (token ids an earlier run kept), is teacher-forced on them;
    the adapter arm is teacher-forced on those answers. Answers generated here go to ``keep_answers``
    (all of them, once), so a caller keeps them without a second pass of the base. Greedy decoding costs a forward pass per
    token, so the fewer batches the cheaper: all prompts at once by default. ``system_prompt``
    overrides the set's own (e.g. the suite's, to ask under JARVIS's instructions).
    """
    import torch

    if max_new_tokens < 1 or batch_size < 1:
        raise ValueError(
            f"drift needs max_new_tokens and batch_size of at least 1, got {max_new_tokens} and {batch_size}"
        )
    system = neutral.system_prompt if system_prompt is None else system_prompt
    texts = [build_prompt(tokenizer, system, p.prompt) for p in neutral.prompts]
    rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    records: list[DriftPrompt] = []
    generated: list[list[int]] = []
    for start in range(0, len(texts), batch_size):
        batch = range(start, min(start + batch_size, len(texts)))
        if base_answers is None:
            with base() as model:
                answered = greedy_answers(model, tokenizer, [texts[i] for i in batch], max_new_tokens)
        else:  # answers kept from an earlier run (they depend on the base only): teacher-force the base on them
            given = [list(base_answers[i]) for i in batch]
            with base() as model:
                answered = list(zip(given, answer_logprobs(model, [rows[i] for i in batch], given), strict=True))
        answers = [ids for ids, _ in answered]
        generated += answers if base_answers is None else []
        with tuned() as model:
            tuned_lp = answer_logprobs(model, [rows[i] for i in batch], answers)
        for i, (answer, lb), lt in zip(batch, answered, tuned_lp, strict=True):
            prompt = neutral.prompts[i]
            text = tokenizer.decode(answer, skip_special_tokens=True).strip()
            # KL(base || tuned) at each token; clamp float rounding below 0 (KL is >= 0).
            kl = (lb.exp() * (lb - lt)).sum(-1).clamp(min=0.0)
            target = torch.tensor(answer, device=lb.device)[:, None]
            records.append(
                DriftPrompt(
                    prompt_id=prompt.id,
                    arm=arm,
                    answer=text,
                    answer_tokens=len(answer),
                    mean_kl=_finite(float(kl.mean())),
                    max_kl=_finite(float(kl.max())),
                    arm_loglik=_finite(float(lt.gather(-1, target).mean())),
                    base_loglik=_finite(float(lb.gather(-1, target).mean())),
                )
            )
    if generated and keep_answers is not None:
        keep_answers(generated)
    return records


def _finite(value: float, bound: float = 1e4) -> float:
    """A number a record can hold (JSON has no infinity): a token one arm rules out reads as +-``bound``."""
    return value if math.isfinite(value) else math.copysign(bound, value)
