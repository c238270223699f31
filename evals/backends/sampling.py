"""Sampled decoding that a batch cannot change: every row draws from its own seeded generator.

transformers' sampling draws every row of a batch from the one global generator, so a sample
depends on which prompts shared its batch and in what order: a re-run with another batch size,
or the same cases sorted differently, would give other answers and miss the cache's promise.
Here generation stays greedy (argmax) over scores that keep only the token drawn for each row
from its own generator: one uniform per row and step, inverted through the row's cumulative
distribution.
The distribution p is the model's, shaped by transformers' own temperature, top-k, top-p and
min-p warpers, in the order ``generate`` applies them.

torch and transformers are imported inside functions, like the rest of the in-process backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

from evals.records import GenerationSettings

# Neutral sampling values for greedy decoding. Left unset, transformers fills them from the
# model's generation_config.json (Qwen3 ships temperature 0.6, top_p 0.95, top_k 20), and warns
# that greedy decoding ignores them; at these values greedy decoding is unaffected and quiet.
GREEDY_NEUTRAL = {"temperature": 1.0, "top_p": 1.0, "top_k": 50}

# transformers 5 renamed generate's past_key_values argument to cache (the old name warns).
CACHE_ARGUMENT = "cache" if int(version("transformers").split(".")[0]) >= 5 else "past_key_values"


@dataclass(frozen=True)
class Sampling:
    """The sampling parameters a run uses: the option where given, else the model's generation_config."""

    temperature: float
    top_p: float
    top_k: int | None
    min_p: float | None

    def describe(self) -> str:
        parts = [f"temperature {self.temperature:g}", f"top_p {self.top_p:g}"]
        parts.append(f"top_k {self.top_k}" if self.top_k else "no top_k")
        if self.min_p:
            parts.append(f"min_p {self.min_p:g}")
        return ", ".join(parts)


def resolve_sampling(settings: GenerationSettings, model_defaults: Mapping[str, Any]) -> Sampling:
    """Fill what the options left unset from the model's generation config (transformers' own defaults after it)."""

    def pick(option: Any, name: str, fallback: Any) -> Any:
        if option is not None:
            return option
        value = model_defaults.get(name)
        return fallback if value is None else value

    top_k = pick(settings.top_k, "top_k", 50)
    return Sampling(
        temperature=float(pick(settings.temperature, "temperature", 1.0)),
        top_p=float(pick(settings.top_p, "top_p", 1.0)),
        top_k=int(top_k) if top_k else None,
        min_p=float(model_defaults["min_p"]) if model_defaults.get("min_p") else None,
    )


def model_sampling_defaults(model: Any) -> dict[str, Any]:
    """The sampling values of a loaded model's generation_config (Qwen3: temperature 0.6, top_p 0.95, top_k 20)."""
    config = getattr(model, "generation_config", None)
    if config is None:
        return {}
    return {name: getattr(config, name, None) for name in ("temperature", "top_p", "top_k", "min_p")}


def seeded_sampler(sampling: Sampling, seeds: Sequence[int]) -> Any:
    """A logits processor that turns greedy decoding into per-row seeded sampling."""
    import torch
    from transformers import LogitsProcessor
    from transformers.generation.logits_process import (
        MinPLogitsWarper,
        TemperatureLogitsWarper,
        TopPLogitsWarper,
    )

    # Temperature, top-p and min-p run on the top-k candidates only (top-k keeps the k best in
    # order, and every other token has probability 0 after it): the same distribution, without
    # sorting the whole vocabulary at every step.
    warpers: list[Any] = []
    if sampling.temperature != 1.0:
        warpers.append(TemperatureLogitsWarper(sampling.temperature))
    if sampling.top_p < 1.0:
        warpers.append(TopPLogitsWarper(sampling.top_p))
    if sampling.min_p:
        warpers.append(MinPLogitsWarper(sampling.min_p))

    class SeededSampler(LogitsProcessor):
        def __init__(self) -> None:
            self.generators: list[Any] | None = None

        def __call__(self, input_ids: Any, scores: Any) -> Any:
            if sampling.top_k and sampling.top_k < scores.shape[-1]:
                candidates, tokens = scores.topk(sampling.top_k, dim=-1)
            else:
                candidates, tokens = scores, None
            for warp in warpers:
                candidates = warp(input_ids, candidates)
            if self.generators is None:  # one per row, on the first step
                self.generators = [torch.Generator().manual_seed(int(s)) for s in seeds]
            # One uniform draw per row and step, finished or not: a row's stream is its own,
            # whatever the other rows do. Inverse-CDF: the token whose cumulative mass first exceeds it.
            uniform = torch.cat([torch.rand(1, generator=g) for g in self.generators]).to(scores.device)
            cdf = torch.softmax(candidates.float(), dim=-1).cumsum(dim=-1)
            chosen = torch.searchsorted(cdf, (uniform * cdf[:, -1]).unsqueeze(-1), right=True)
            chosen = chosen.clamp(max=candidates.shape[-1] - 1)
            if tokens is not None:
                chosen = tokens.gather(-1, chosen)
            picked = torch.full_like(scores, float("-inf"))
            return picked.scatter_(-1, chosen, 0.0)  # greedy's argmax takes the drawn token

    return SeededSampler()


def generation_config(settings: GenerationSettings, tokenizer: Any) -> Any:
    """Build the one ``GenerationConfig`` passed to ``generate`` from the recorded settings.

    Sampled runs decode greedily too: the seeded sampler (evals.backends.sampling) draws each
    row's token from its own generator, so transformers must not sample or warp on its own.
    """
    from transformers import GenerationConfig

    greedy = {} if settings.do_sample and not settings.sampled else GREEDY_NEUTRAL
    return GenerationConfig(
        max_new_tokens=settings.max_new_tokens,
        do_sample=settings.do_sample and not settings.sampled,
        num_beams=settings.num_beams,
        pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **greedy,
    )
