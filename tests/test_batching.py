"""Batch sizing and OOM halving (GPU errors faked), and batch invariance of greedy answers on a real tiny Llama."""

from __future__ import annotations

import argparse
import contextlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
import torch

from evals.backends.batching import BatchedResults, initial_batch_size, is_out_of_memory, run_batched
from evals.parsers import parse_batch_size


@pytest.mark.parametrize(
    ("device", "n_prompts", "requested", "expected"),
    [
        ("cpu", 30, "auto", 30),
        ("cpu", 100, "auto", 32),
        ("cpu", 0, "auto", 1),
        ("cuda", 500, "auto", 64),
        ("cuda:1", 10, "auto", 10),
        ("cuda", 500, 8, 8),
        ("cpu", 3, "16", 16),
    ],
)
def test_initial_batch_size(device: str, n_prompts: int, requested: Any, expected: int) -> None:
    assert initial_batch_size(device, n_prompts, requested) == expected


@pytest.mark.parametrize(("raw", "parsed"), [(" AUTO ", "auto"), ("16", "16"), (" 8 ", "8")])
def test_batch_size_option_is_normalised(raw: str, parsed: str) -> None:
    assert parse_batch_size(raw) == parsed


@pytest.mark.parametrize("bad", ["0", "-2", "zero", "1.5", ""])
def test_bad_batch_size_is_refused_in_plain_words(bad: Any) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match="whole number|at least 1"):
        parse_batch_size(bad)


class FakeGPU:
    """A batch function that runs out of memory above ``limit`` rows and records every call."""

    def __init__(
        self, limit: int, error: type[BaseException] | None = None, message: str = "CUDA out of memory"
    ) -> None:
        self.limit = limit
        self.error = error or torch.cuda.OutOfMemoryError
        self.message = message
        self.calls: list[list[str]] = []

    def __call__(self, batch: Sequence[str]) -> list[str]:
        self.calls.append(list(batch))
        if len(batch) > self.limit:
            raise self.error(f"{self.message}. Tried to allocate 2.00 GiB")
        return [item.upper() for item in batch]


@pytest.fixture
def empty_cache_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Pretend a GPU is present and count the CUDA cache clears."""
    calls: list[int] = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: calls.append(1))
    return calls


def test_results_keep_the_original_order_when_sorted_by_length() -> None:
    items = ["bb", "a", "dddd", "ccc", "eeeee", "f", "gg"]
    seen: list[list[str]] = []

    def fn(batch: Sequence[str]) -> list[str]:
        seen.append(list(batch))
        return [s.upper() for s in batch]

    progress: list[tuple[int, int, int]] = []
    out = run_batched(items, fn, batch_size=3, sort_key=len, on_batch=lambda *a: progress.append(a))
    assert out == [s.upper() for s in items]
    assert seen == [["eeeee", "dddd", "ccc"], ["bb", "gg", "a"], ["f"]]  # longest first, stable ties
    assert progress == [(3, 7, 3), (6, 7, 3), (7, 7, 3)]
    assert isinstance(out, list) and isinstance(out, BatchedResults)
    assert (out.batch_size, out.halvings) == (3, 0)


def test_empty_input_calls_nothing() -> None:
    out = run_batched([], FakeGPU(limit=0), batch_size=8)
    assert out == [] and out.batch_size == 8


def test_oom_halves_and_retries_the_failed_batch(empty_cache_calls: list[int]) -> None:
    items = [f"p{i:02d}" for i in range(20)]
    fake = FakeGPU(limit=5)
    progress: list[tuple[int, int, int]] = []
    out = run_batched(items, fake, batch_size=64, on_batch=lambda *a: progress.append(a))
    assert out == [s.upper() for s in items]
    # 64 tries all 20, halving works from what ran (20 -> 10 -> 5), then the rest stays at 5.
    assert [len(c) for c in fake.calls] == [20, 10, 5, 5, 5, 5]
    assert (out.batch_size, out.halvings) == (5, 2)
    assert len(empty_cache_calls) == 2
    assert progress == [(5, 20, 5), (10, 20, 5), (15, 20, 5), (20, 20, 5)]


def test_oom_at_batch_size_one_is_reraised(empty_cache_calls: list[int]) -> None:
    fake = FakeGPU(limit=0)
    with pytest.raises(torch.cuda.OutOfMemoryError):
        run_batched(["a", "b", "c", "d", "e"], fake, batch_size=4)
    assert [len(c) for c in fake.calls] == [4, 2, 1]


def test_runtime_error_saying_out_of_memory_also_halves(empty_cache_calls: list[int]) -> None:
    fake = FakeGPU(limit=2, error=RuntimeError, message="CUDA error: out of memory")
    out = run_batched(list("abcdef"), fake, batch_size=4)
    assert out == list("ABCDEF") and out.batch_size == 2
    assert [len(c) for c in fake.calls] == [4, 2, 2, 2]


def test_other_errors_propagate_at_once() -> None:
    fake = FakeGPU(limit=1, error=RuntimeError, message="CUDA error: device-side assert triggered")
    with pytest.raises(RuntimeError, match="device-side assert"):
        run_batched(list("abcdef"), fake, batch_size=4)
    assert len(fake.calls) == 1

    def broken(batch: Sequence[str]) -> list[str]:
        raise KeyError("not an OOM")

    with pytest.raises(KeyError):
        run_batched(list("ab"), broken, batch_size=2)


def test_oom_detection() -> None:
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("CUDA out of memory"))
    assert is_out_of_memory(RuntimeError("[enforce fail] DefaultCPUAllocator: can't allocate memory: you tried ..."))
    assert is_out_of_memory(MemoryError())
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))  # only RuntimeErrors carry torch's message


def test_wrong_number_of_results_is_an_error() -> None:
    with pytest.raises(ValueError, match="returned 1 results for 2 items"):
        run_batched(list("ab"), lambda batch: ["x"], batch_size=2)


# ---------------------------------------------------------------------------------------
# The decision behind the cache key: does batching change a greedy answer?

PROMPTS = [
    "Allume la lumière du salon",
    "hi",
    "Quelle heure est-il à Paris maintenant, et quel temps fera-t-il demain matin ?",
    "Ferme les volets",
    "Mets de la musique douce dans la chambre s'il te plaît",
    "Rappelle-moi d'appeler maman demain à 18h",
]


@pytest.fixture(scope="module")
def tiny_peft(tiny_model_dir: Path, tiny_adapter_dir: Path) -> tuple[Any, Any]:
    """The tiny Llama in fp32 with its LoRA attached, and a left-padding tokenizer."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    tokenizer.padding_side = "left"
    base = AutoModelForCausalLM.from_pretrained(tiny_model_dir, dtype=torch.float32)
    model = PeftModel.from_pretrained(base, str(tiny_adapter_dir)).eval()
    return model, tokenizer


def _generate(model: Any, tokenizer: Any, texts: Sequence[str]) -> list[tuple[tuple[int, ...], str]]:
    enc = tokenizer(list(texts), return_tensors="pt", padding=True)
    with torch.no_grad():
        out = model.generate(
            **enc, max_new_tokens=16, do_sample=False, num_beams=1, pad_token_id=tokenizer.pad_token_id
        )
    answers = []
    for row in out[:, enc["input_ids"].shape[1] :]:
        ids = [int(t) for t in row]
        while ids and ids[-1] == tokenizer.pad_token_id:  # rows that stopped early are padded on the right
            ids.pop()
        answers.append((tuple(ids), tokenizer.decode(ids, skip_special_tokens=True)))
    return answers


@pytest.mark.parametrize("arm", ["base", "finetuned"])
def test_greedy_answers_do_not_depend_on_batching(tiny_peft: tuple[Any, Any], arm: str) -> None:
    model, tokenizer = tiny_peft
    texts = [
        tokenizer.apply_chat_template([{"role": "user", "content": p}], tokenize=False, add_generation_prompt=True)
        for p in PROMPTS
    ]
    lengths = {len(tokenizer(t)["input_ids"]) for t in texts}
    assert len(lengths) == len(texts)  # every row gets a different amount of left padding

    def fn(batch: Sequence[str]) -> list[tuple[tuple[int, ...], str]]:
        return _generate(model, tokenizer, batch)

    scope = model.disable_adapter() if arm == "base" else contextlib.nullcontext()
    with scope:
        one_at_a_time = run_batched(texts, fn, batch_size=1)
        all_at_once = run_batched(texts, fn, batch_size=6)
        sorted_in_fours = run_batched(texts, fn, batch_size=4, sort_key=len)
    assert all_at_once == one_at_a_time  # same token ids and same decoded text, prompt by prompt
    assert sorted_in_fours == one_at_a_time
    assert len({answer for _, answer in one_at_a_time}) > 1  # the model really answers differently per prompt


# ---------------------------------------------------------------------------------------
# The shipped generation path: BatchGenerator, with and without the shared-prefix cache.


@pytest.mark.parametrize("arm", ["base", "finetuned"])
def test_shared_prefix_cache_gives_the_plain_batch_answers_at_any_batch_size(
    tiny_peft: tuple[Any, Any], arm: str
) -> None:
    """In fp32 the prefix cache is exact: same answers as a plain left-padded batch, in any batching."""
    from evals.backends import BackendStats
    from evals.backends.hf import BatchGenerator
    from evals.backends.prompting import build_prompt
    from evals.records import GenerationSettings

    model, tokenizer = tiny_peft
    texts = [build_prompt(tokenizer, "Tu es JARVIS, l'assistant vocal. Réponds par un outil.", p) for p in PROMPTS]
    stats = BackendStats()

    def answers(shared: bool, size: int) -> list[tuple[str, int]]:
        generator = BatchGenerator(model, tokenizer, GenerationSettings(max_new_tokens=12, shared_prefix=shared), stats)
        return [(a.text, a.new_tokens) for a in run_batched(texts, generator, batch_size=size, sort_key=len)]

    scope = model.disable_adapter() if arm == "base" else contextlib.nullcontext()
    with scope:
        plain = answers(False, 6)
        assert answers(True, 6) == plain
        assert answers(True, 4) == plain
        assert answers(True, 1) == plain
    assert len({text for text, _ in plain}) > 1
