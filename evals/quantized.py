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


# --- computing on CPU: the dequantized weights kept ----------------------------------------

CPU_FP32_BUDGET = 2 * 1024**3  # at most this many bytes of fp32 weights are kept...
CPU_MEMORY_SHARE = 8  # ...and at most 1/8 of the machine's memory


def physical_memory() -> int | None:
    """The machine's memory in bytes, or None where the platform does not say."""
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def dequantize_for_cpu(model: Any, budget: int | None = None) -> int:
    """On CPU, swap each 4-bit layer for an fp32 ``Linear`` holding the weights bitsandbytes dequantizes; return the bytes kept.

    bitsandbytes computes a 4-bit layer on CPU by dequantizing its weights to the compute dtype
    and calling ``F.linear``, at every forward pass (its ``gemm_4bit`` default kernel): the
    same 210 dequantizations for each of a run's ~130 passes. Keeping the dequantized weights is
    that arithmetic done once, so the logits stay bit for bit those of the 4-bit layers. Each
    layer is checked: its fp32 twin must give exactly the 4-bit layer's output on a fixed input,
    else every layer goes back and nothing is kept (returns 0), as it is where bitsandbytes takes
    another path (AVX512-BF16 packing, a bf16 or fp16 compute dtype, CUDA).

    Only when the fp32 weights fit ``budget`` (default: 2 GiB and 1/8 of the machine's memory):
    on CPU, 4-bit is there to fit a model that fp32 would not. Adapters must be attached after
    this, so peft wraps the fp32 layers. Call it before saving the model: the copy stays 4-bit.
    """
    import torch

    try:
        from bitsandbytes.nn import Linear4bit
    except ImportError:
        return 0
    layers = [(name, m) for name, m in model.named_modules() if isinstance(m, Linear4bit)]
    if not layers or any(_not_dequantizable(m) for _, m in layers):
        return 0
    size = sum(m.in_features * m.out_features * 4 for _, m in layers)
    if budget is None:
        memory = physical_memory()
        budget = min(CPU_FP32_BUDGET, memory // CPU_MEMORY_SHARE) if memory else CPU_FP32_BUDGET
    if size > budget:
        return 0
    from bitsandbytes.functional import dequantize_4bit

    swapped: list[tuple[str, Any]] = []
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        for name, layer in layers:
            weight = dequantize_4bit(layer.weight.data, layer.weight.quant_state)
            twin = torch.nn.Linear(layer.in_features, layer.out_features, bias=layer.bias is not None, device="meta")
            twin.weight = torch.nn.Parameter(weight, requires_grad=False)
            if layer.bias is not None:
                twin.bias = torch.nn.Parameter(layer.bias.data.to(torch.float32), requires_grad=False)
            probe = torch.randn(3, layer.in_features, generator=generator)
            if weight.dtype != torch.float32 or not torch.equal(layer(probe), twin(probe)):
                for done, original in reversed(swapped):
                    model.set_submodule(done, original)
                return 0
            model.set_submodule(name, twin.eval())
            swapped.append((name, layer))
    return size


def _not_dequantizable(layer: Any) -> bool:
    """True where bitsandbytes would not compute ``layer`` as fp32 dequantize-then-linear on CPU."""
    import torch

    state = getattr(layer.weight, "quant_state", None)
    return (
        layer.weight.device.type != "cpu"
        or layer.training
        or state is None
        or getattr(layer, "support_avx512bf16_for_cpu", False)  # bitsandbytes packs the weights for a bf16 kernel
        or getattr(state, "packing_format_for_cpu", False)
        or getattr(layer, "compute_dtype", None) not in (None, torch.float32)
        or hasattr(layer, "_hf_hook")  # accelerate's offloading hooks move weights: leave them alone
    )
