"""Loading a Hugging Face model: the one place quantization, device and loading noise are decided.

The in-process backend (``evals.backends.hf``), the embedded model's conversion
(``evals.models``) and the trainer (``evals.training.trainer``) all load through here.
torch and transformers are imported inside the functions: importing this module is cheap.
"""

from __future__ import annotations

import gc
import logging
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from evals.errors import JarvisError

QUANT_CHOICES = ("4bit", "8bit", "none")

# Warnings these libraries raise on every run that say nothing about the user's model or
# adapter. Only these are filtered, by category and message; anything else (a missing adapter
# key, a dtype fallback, a deprecated argument of ours) reaches the user.
KNOWN_NOISE: tuple[tuple[type[Warning], str], ...] = (
    # bitsandbytes' import decorates functions with torch.jit.script_method (torch 2.9+ deprecates it).
    (DeprecationWarning, r".*torch\.jit\.script_method.*"),
    # peft reads a transformers property that transformers 5 renamed.
    (FutureWarning, r".*is_gradient_checkpointing.*"),
)
# Log records of the same kind: (logger, start of the message). bitsandbytes logs this at import
# on CPUs with AVX512-BF16 when the optional `kernels` package (which fetches a kernel from the
# hub) is absent; its own fallback kernel is used, which is what the benchmark measures.
KNOWN_NOISE_LOGS: tuple[tuple[str, str], ...] = (
    ("bitsandbytes.backends.cpu.ops", "Failed to load CPU gemm_4bit_forward from kernels-community"),
)


class _KnownNoise(logging.Filter):
    def __init__(self, prefix: str) -> None:
        super().__init__()
        self.prefix = prefix

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith(self.prefix)


for _logger, _prefix in KNOWN_NOISE_LOGS:
    logging.getLogger(_logger).addFilter(_KnownNoise(_prefix))


@contextmanager
def known_noise_filtered() -> Iterator[None]:
    """Silence the named, known-noise warnings (``KNOWN_NOISE``) and nothing else."""
    with warnings.catch_warnings():
        for category, message in KNOWN_NOISE:
            warnings.filterwarnings("ignore", message=message, category=category)
        yield


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Load without transformers' own "Loading weights" bar (it runs into pytest's line of dots).

    jarvis-evals shows its own progress lines; the bar setting is restored afterwards.
    """
    from transformers.utils import logging as hf_logging

    enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        with known_noise_filtered():
            yield
    finally:
        if enabled:
            hf_logging.enable_progress_bar()


# --- loading --------------------------------------------------------------------------------

_FROZEN = False  # whether collector_paused froze the heap (unfreeze_collector undoes only that)


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a model and its libraries load; freeze what they built.

    Importing torch, transformers, bitsandbytes and peft grows the heap to about 685,000 tracked
    objects, and every full collection walks all of them: 5 of a cold run's 9 (1.56 s) fell in
    loading, 3 more (scoring, pytest's two at exit) walked them again (benchmarks/gc_cost.py).
    Here one collection follows loading; then every object alive, most of them built by loading
    and living as long as the run, is moved out of the collector's sight (``gc.freeze``). What is
    made later is collected as usual. ``unfreeze_collector`` undoes it: the plugin at the end of a
    session, and the next load, which so collects what an earlier one froze and was dropped since.
    """
    global _FROZEN
    unfreeze_collector()  # what an earlier load froze and has since been dropped is collected below
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()  # once, so that no garbage loading left is frozen with it
        gc.freeze()
        _FROZEN = True
        if enabled:
            gc.enable()


def unfreeze_collector() -> None:
    """Give the objects ``collector_paused`` froze back to the collector (at the end of a session)."""
    global _FROZEN
    if _FROZEN:
        gc.unfreeze()
        _FROZEN = False


def pick_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def quantization_config(quant: str, device: str) -> Any:
    """Return the BitsAndBytesConfig for ``quant`` (None for full precision).

    NF4 with double quantization as in production. The compute dtype is float32 on CPU
    (these CPUs have no fast bf16: 2.4x slower measured) and bfloat16 on CUDA.
    """
    if quant not in QUANT_CHOICES:
        raise JarvisError(f"unknown quantization '{quant}': use one of {', '.join(QUANT_CHOICES)}")
    if quant == "none":
        return None
    import torch
    from transformers import BitsAndBytesConfig

    if quant == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    if device == "cuda":
        compute = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    else:
        compute = torch.float32
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=compute,
    )


def load_tokenizer(model_path: str, trust_remote_code: bool = False) -> Any:
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
    tokenizer.padding_side = "left"  # batched decoder-only generation needs left padding
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_base(model_path: str, quant: str = "4bit", trust_remote_code: bool = False) -> Any:
    """Load the base causal LM once, quantized as asked; device_map="auto" on CUDA."""
    import torch
    from transformers import AutoModelForCausalLM

    device = pick_device()
    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    qconfig = quantization_config(quant, device)
    if qconfig is not None:
        kwargs["quantization_config"] = qconfig
    else:
        kwargs["dtype"] = torch.bfloat16 if device == "cuda" else torch.float32
    kwargs["device_map"] = "auto" if device == "cuda" else "cpu"
    try:
        with quiet_loading():
            model = AutoModelForCausalLM.from_pretrained(model_path, **kwargs)
    except OSError as exc:
        raise JarvisError(
            f"model {model_path} cannot be loaded ({str(exc).splitlines()[0]}): check the id or folder, "
            "or run offline with the embedded default (omit --jarvis-model)"
        ) from None
    model.eval()
    return model


def load_for_training(model_path: str, trust_remote_code: bool = False) -> tuple[Any, Any]:
    """Load a model in full precision on the training device, with its tokenizer (pad token set)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = pick_device()
    dtype = torch.bfloat16 if device == "cuda" and torch.cuda.is_bf16_supported() else torch.float32
    try:
        with quiet_loading():
            tokenizer = AutoTokenizer.from_pretrained(model_path, trust_remote_code=trust_remote_code)
            model = AutoModelForCausalLM.from_pretrained(model_path, dtype=dtype, trust_remote_code=trust_remote_code)
    except OSError as exc:
        raise JarvisError(
            f"model {model_path} cannot be loaded ({str(exc).splitlines()[0]}): check the id or folder, "
            "or train the embedded default (omit --model)"
        ) from None
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    return model.to(device), tokenizer
