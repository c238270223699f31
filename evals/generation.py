"""Batched, greedy, left-padded generation: one ``generate`` call per batch, never per prompt."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from evals.metrics import strip_think
from evals.records import GenerationSettings


@dataclass(frozen=True)
class Answer:
    """What one prompt produced: the cleaned text and how it was made."""

    text: str
    new_tokens: int
    truncated_prompt: bool = False


@dataclass
class GenerationCounter:
    """Counts ``generate`` calls and the time they took, for the results metadata."""

    calls: int = 0
    seconds: float = 0.0
    truncated: list[str] = field(default_factory=list)


def context_limit(model: Any, max_new_tokens: int) -> int | None:
    """Return how many prompt tokens fit before the answer, or None when unknown."""
    config = getattr(model, "config", None)
    window = getattr(config, "max_position_embeddings", None) if config is not None else None
    if not window:
        return None
    return max(8, int(window) - max_new_tokens)


class BatchGenerator:
    """Generate answers for a batch of rendered prompts with every decoding setting explicit."""

    def __init__(self, model: Any, tokenizer: Any, settings: GenerationSettings, counter: GenerationCounter | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings
        self.counter = counter or GenerationCounter()
        self.limit = context_limit(model, settings.max_new_tokens)

    def __call__(self, texts: Sequence[str]) -> list[Answer]:
        import time

        import torch

        tok = self.tokenizer
        tok.padding_side = "left"  # decoder-only models continue from the right edge
        tok.truncation_side = "left"  # keep the end of an over-long prompt: the request and the assistant turn
        lengths = [len(ids) for ids in tok(list(texts), add_special_tokens=False)["input_ids"]]
        truncation = self.limit is not None and max(lengths) > self.limit
        encoded = tok(
            list(texts),
            return_tensors="pt",
            padding=True,
            add_special_tokens=False,
            truncation=truncation,
            max_length=self.limit if truncation else None,
        )
        device = next(self.model.parameters()).device
        encoded = {k: v.to(device) for k, v in encoded.items()}
        start = time.perf_counter()
        with torch.inference_mode(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # generation-config chatter, once per batch
            output = self.model.generate(
                **encoded,
                max_new_tokens=self.settings.max_new_tokens,
                do_sample=False,
                num_beams=self.settings.num_beams,
                temperature=None,
                top_p=None,
                top_k=None,
                pad_token_id=tok.pad_token_id,
            )
        self.counter.calls += 1
        self.counter.seconds += time.perf_counter() - start
        new = output[:, encoded["input_ids"].shape[1] :]
        answers = []
        for row, length in zip(new, lengths, strict=True):
            ids = [int(t) for t in row.tolist()]
            # Count tokens up to and including the first end-of-sequence (pad == eos on many models).
            stop = {tok.eos_token_id, tok.pad_token_id} - {None}
            n = next((i + 1 for i, t in enumerate(ids) if t in stop), len(ids))
            text = strip_think(tok.decode(ids[:n], skip_special_tokens=True))
            answers.append(Answer(text=text, new_tokens=n, truncated_prompt=bool(self.limit and length > self.limit)))
        return answers


def generate_answers(
    generator: Callable[[Sequence[str]], list[Answer]],
    texts: Sequence[str],
    batch_size: int,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> list[Answer]:
    """Generate every prompt in batches (sorted by length, OOM-safe) and return answers in input order."""
    from evals.batching import run_batched

    return run_batched(texts, generator, batch_size, sort_key=len, on_batch=on_batch)
