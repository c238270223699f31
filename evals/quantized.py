"""The embedded model quantized once: later runs load its saved 4-bit weights instead of quantizing again.

bitsandbytes quantizes the fp32 weights to NF4 at every ``from_pretrained``: 1.7 s on 2 quiet CPU
cores (6.3 s on a busy machine), where loading the 4-bit weights ``save_pretrained`` wrote takes
0.3 to 0.6 s and gives the same tensors bit for bit (tests/test_quantized.py). A copy is keyed by
everything that decides its weights: the source's identity (the embedded model's fingerprint),
the quantization config, and the torch, transformers and bitsandbytes releases; any change makes
a new copy. It is written to a temporary folder and renamed, so an interrupted save leaves none;
a copy that no longer loads is quantized again and replaced, with one line.

Only the embedded model, on CPU: its identity is known without hashing its weights, and on CUDA
quantizing is fast. Run identities and cache keys stay the source's: the copy is a cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from evals.hfload import load_base, pick_device, quantization_config, quiet_loading
from evals.models import cache_root, embedded_fingerprint, is_embedded

COPY_FORMAT = 1  # bump when what a copy holds, or how it is keyed, changes


def copies_root() -> Path:
    return cache_root() / "quantized"


def copy_key(source_identity: str, quant: str, qconfig: Any) -> str:
    """The name of the copy of a source quantized as ``qconfig``: a digest of what decides its weights."""
    import bitsandbytes
    import torch
    import transformers

    material = {
        "format": COPY_FORMAT,
        "source": source_identity,
        "quant": quant,
        "config": qconfig.to_dict(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "bitsandbytes": bitsandbytes.__version__,
    }
    digest = hashlib.sha256(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()
    return f"{quant}-{digest[:24]}"


def load_embedded(spec: str | None, path: str, quant: str, trust_remote_code: bool = False) -> Any:
    """Load the base ``spec`` (resolved to ``path``) as ``hfload.load_base`` does; the embedded model in 4-bit on CPU from its quantized copy."""
    device = pick_device()
    if not is_embedded(spec) or quant != "4bit" or device != "cpu":
        return load_base(path, quant, trust_remote_code)
    key = copy_key(embedded_fingerprint(), quant, quantization_config(quant, device))
    return load_through_copy(path, copies_root() / key, lambda: load_base(path, quant, trust_remote_code))


def load_through_copy(source: str, copy: Path, quantize: Callable[[], Any]) -> Any:
    """Load ``copy`` if it is there and loads; else ``quantize()`` and save the result as ``copy``."""
    if (copy / "config.json").is_file():
        try:
            from transformers import AutoModelForCausalLM

            with quiet_loading():
                model = AutoModelForCausalLM.from_pretrained(copy, device_map="cpu")
        except Exception as exc:  # a damaged copy (a truncated file, a deleted shard): make it again
            first = str(exc).splitlines()[0][:160] if str(exc) else type(exc).__name__
            print(f"[jarvis] quantized copy {copy} does not load ({first}): quantizing again", file=sys.stderr)
            shutil.rmtree(copy, ignore_errors=True)
        else:
            model.config._name_or_path = source  # what the model is, for peft and the reports: not the copy
            return model.eval()
    model = quantize()
    save_copy(model, copy)
    return model


def save_copy(model: Any, copy: Path) -> None:
    """Save ``model``'s quantized weights as ``copy``: to a temporary folder, then one rename."""
    temporary = copy.parent / f".{copy.name}.{os.getpid()}.tmp"
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        with quiet_loading():
            model.save_pretrained(temporary)
        os.replace(temporary, copy)
    except OSError as exc:  # read-only cache, full disk, or another process saved it first
        if not (copy / "config.json").is_file():
            print(f"[jarvis] quantized copy not saved to {copy} ({exc.strerror or exc}): the next run quantizes again",
                  file=sys.stderr)  # fmt: skip
    finally:
        shutil.rmtree(temporary, ignore_errors=True)
