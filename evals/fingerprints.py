"""What shapes an answer, as stable digests: model and adapter fingerprints, and the cache key.

An entry's key is the sha256 of a canonical JSON of the run's ``CacheContext`` (the backend's
identity: its kind, the model fingerprint, which covers the weights, config, tokenizer and
chat-template files, the quantization, package versions and device type; and the decoding
settings), the arm's identity (its adapter's fingerprint) and the prompt as data. The store
(``evals.cache``) keeps answers under these keys; the baseline (``evals.gate.baseline``) compares
runs on the same settings, leaving out the same answer-neutral ones.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

from evals.digests import remembered_sha256
from evals.models import AdapterInfo, embedded_model_dir, inspect_adapter, is_embedded
from evals.records import SAMPLING_SETTINGS, GenerationSettings, encode

# Bump when the key derivation changes, so old entries simply stop matching.
# 2: the prompt as data (system prompt + request) under the backend's identity.
KEY_VERSION = 2
NO_ADAPTER = "no-adapter"
# Folders whose weights total more than this are fingerprinted by name, size and mtime_ns only:
# hashing a 60 GB checkpoint would take minutes on every run.
FULL_HASH_LIMIT = 1 << 30
# Decoding settings that do not change a greedy answer: with left padding and an attention mask
# each row is computed on its own, and tests/test_batching.py checks on the tiny Llama (fp32, CPU,
# base and LoRA arm) that batches of 1, 4 and 6 give identical token ids. On CUDA in bf16 a kernel
# may reduce in another order for another batch shape and flip a near-tie; that answer is still
# one the model gives under these settings, like GPU run-to-run noise, so the batch size stays out
# and a re-run with another batch size still hits. ``template`` (chat template or plain)
# follows from the tokenizer files, which the model fingerprint covers. Every other setting is
# part of the key (the prompt format, system-text or native-tools, among them), so a setting added
# later is keyed by default.
# Settings that never change an answer. ``samples`` is how many are drawn: each entry is keyed by its
# own sample index instead, so a run of 5 samples reuses the 3 of an earlier run.
ANSWER_NEUTRAL_SETTINGS = frozenset({"batch_size", "template", "samples"})

# Files that shape what a model folder answers besides its weights: config, decoding defaults,
# tokenizer, chat templates and remote code (trust_remote_code runs the *.py files).
_MODEL_METADATA_GLOBS = (
    "config.json",
    "generation_config.json",
    "tokenizer*",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.*",
    "merges.txt",
    "*.model",
    "chat_template*",
    "additional_chat_templates/*",
    "*.index.json",
    "*.py",
)
_MODEL_WEIGHT_GLOBS = ("*.safetensors", "pytorch_model*.bin", "*.gguf")
_CHUNK = 1 << 20


# ---------------------------------------------------------------------------------------
# Fingerprints


def _sha256_file(path: Path, digest: Any) -> None:
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)


def _file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    _sha256_file(path, digest)
    return digest.hexdigest()


def _matching(folder: Path, patterns: Iterable[str]) -> list[Path]:
    found = {p for pattern in patterns for p in folder.glob(pattern) if p.is_file()}
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# Keys that library releases write into JSON model files without changing a single answer:
# a fingerprint that hashed them broke every baseline on a transformers minor release.
_METADATA_KEYS = frozenset({"transformers_version", "_name_or_path", "_commit_hash", "_attn_implementation_autoset"})
# Keys one release renamed: the same setting must give the same fingerprint under either name.
_RENAMED_KEYS = {"torch_dtype": "dtype"}
# 2: JSON files hashed as canonical data without library metadata (1 hashed their bytes).
FINGERPRINT_SCHEME = 2


def _json_file_digest(path: Path) -> str:
    """Hash a JSON model file as data: what changes the computation, not how a release wrote it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError):
        return _file_digest(path)  # not JSON after all: its bytes are what a loader would read
    if isinstance(data, dict):
        data = {_RENAMED_KEYS.get(k, k): v for k, v in data.items() if k not in _METADATA_KEYS}
        if isinstance(data.get("architectures"), list):  # the list's order is not read by any loader
            data["architectures"] = sorted(map(str, data["architectures"]))
    return _sha256_text(_canonical(data))


def fingerprint_model(model: str) -> str:
    """Return a string that changes whenever the model would answer differently, and only then.

    A local folder: the sha256 of its weights files (``*.safetensors``, ``pytorch_model*.bin``,
    ``*.gguf``), tokenizer files, chat templates, ``generation_config.json``, ``config.json``,
    shard index and remote-code files. JSON files are hashed as canonical data without the
    metadata a library release writes (``transformers_version``, ``_name_or_path``...;
    ``_METADATA_KEYS``), so re-saving the same model under another transformers keeps its
    fingerprint. When the weights total at most ``FULL_HASH_LIMIT`` (1 GiB) their full contents
    are hashed (about a second, then remembered while the file is unchanged: ``evals.digests``);
    above that each weights file contributes only its name, size and ``st_mtime_ns``, because
    hashing a large checkpoint would take minutes.
    Result: ``dir2:<sha256>`` (``dir:`` was scheme 1, see ``fingerprint_model_v1``).

    A single file (a GGUF) is fingerprinted as a one-file folder.

    A hub id: the id plus the commit the local Hugging Face cache resolves ``main`` to, found
    offline with ``huggingface_hub.try_to_load_from_cache`` (``hub:<id>@<commit>``). When the
    model is not in the cache yet (or huggingface_hub is missing) it is the id alone
    (``hub:<id>``): the hub may then serve a newer commit under the same key, so compute the
    fingerprint after the model has been loaded, once the download has pinned a commit.
    """
    return _fingerprint(model, scheme=FINGERPRINT_SCHEME)


def fingerprint_model_v1(model: str | None) -> str:
    """Return the scheme-1 fingerprint (JSON files by their bytes), to read baselines blessed with it.

    Scheme 1 fingerprinted the embedded model by its converted folder, so ``embedded`` means that folder.
    """
    return _fingerprint(str(embedded_model_dir()) if is_embedded(model) else str(model), scheme=1)


def _fingerprint(model: str, scheme: int) -> str:
    path = Path(model).expanduser()
    if path.is_file():
        weights, meta, root = [path], [], path.parent
    elif path.is_dir():
        weights, meta, root = _matching(path, _MODEL_WEIGHT_GLOBS), _matching(path, _MODEL_METADATA_GLOBS), path
    else:
        commit = _hub_commit(model)
        return f"hub:{model}@{commit}" if commit else f"hub:{model}"

    def digest(p: Path) -> str:
        return _json_file_digest(p) if scheme >= 2 and p.suffix == ".json" else _file_digest(p)

    manifest: dict[str, Any] = {"files": {p.relative_to(root).as_posix(): digest(p) for p in meta}}
    stats = {p.relative_to(root).as_posix(): p.stat() for p in weights}
    total = sum(st.st_size for st in stats.values())
    if total <= FULL_HASH_LIMIT:  # remembered while the file is unchanged (evals.digests)
        manifest["weights"] = {name: remembered_sha256(root / name) for name in stats}
    else:
        manifest["weights_stat"] = {name: [st.st_size, st.st_mtime_ns] for name, st in stats.items()}
    prefix = "dir2:" if scheme >= 2 else "dir:"
    return prefix + _sha256_text(_canonical(manifest))


def _hub_commit(repo_id: str) -> str | None:
    """Return the commit the local HF cache holds for ``repo_id`` without touching the network."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # a malformed id or an old huggingface_hub: fall back to the id alone
        return None
    if not isinstance(found, str):  # None or the "known not to exist" sentinel
        return None
    # .../models--org--name/snapshots/<commit>/config.json
    return Path(found).parent.name or None


def fingerprint_adapter(path: str | Path | None) -> str:
    """Return ``no-adapter`` for None, else the sha256 of adapter_config.json and the weights.

    Contents are hashed, never sizes or dates: adapters are small, and retraining into the same
    folder often writes a weights file of exactly the same size. Result: ``adapter:<sha256>``.
    """
    if path is None:
        return NO_ADAPTER
    return fingerprint_adapter_info(inspect_adapter(path))  # a missing or broken folder: one-line JarvisError


def fingerprint_adapter_info(info: AdapterInfo) -> str:
    """Return ``adapter:<sha256>`` of an adapter already inspected (``fingerprint_adapter`` without the check)."""
    digest = hashlib.sha256()
    for part in (info.path / "adapter_config.json", info.weights):
        digest.update(part.name.encode("utf-8") + b"\0")
        _sha256_file(part, digest)
        digest.update(b"\0")
    return "adapter:" + digest.hexdigest()


# ---------------------------------------------------------------------------------------
# Keys


@dataclass(frozen=True)
class CacheContext:
    """Everything a run's arms share that changes an answer; with the arm and the prompt, a key.

    ``backend`` is the backend's identity (``Backend.identity()``: model fingerprint,
    quantization, package versions, device type...). The adapter is deliberately not part of
    it: the base arm runs the same model with the adapter disabled, so its entries stay valid
    when an adapter is retrained. Pass the arm's identity to ``entry_key`` instead.

    ``generation`` is the decoding settings mapping (a ``GenerationSettings`` is fine):
    every key but those in ``ANSWER_NEUTRAL_SETTINGS`` is part of the key.
    """

    backend: Mapping[str, Any]
    generation: Mapping[str, Any] | GenerationSettings

    def __post_init__(self) -> None:
        backend = dict(self.backend)
        if not backend.get("model"):
            raise ValueError("CacheContext needs the backend's identity with a model fingerprint")
        if "device" in backend:  # "cuda:1" and "cuda" compute the same answers; only the type matters
            backend["device"] = str(backend["device"]).split(":")[0]
        given = encode(self.generation) if isinstance(self.generation, GenerationSettings) else dict(self.generation)
        settings = {k: v for k, v in given.items() if k not in ANSWER_NEUTRAL_SETTINGS}
        if settings.get("decoding", "greedy") == "greedy":
            for name in SAMPLING_SETTINGS:  # greedy answers are keyed as before sampling existed
                settings.pop(name, None)
        try:
            _canonical({"backend": backend, "generation": settings})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"cache context must hold plain JSON values (str, int, float, bool): {exc}") from None
        # Frozen means frozen: copies behind read-only views, so a key can't drift after creation.
        object.__setattr__(self, "backend", MappingProxyType(backend))
        object.__setattr__(self, "generation", MappingProxyType(settings))

    def __hash__(self) -> int:
        return hash(_canonical(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        return {"backend": dict(self.backend), "generation": dict(cast("Mapping[str, Any]", self.generation))}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CacheContext:
        return cls(backend=dict(data["backend"]), generation=dict(data.get("generation", {})))


def entry_key(
    context: CacheContext,
    arm_identity: str,
    system: str,
    user: str,
    tools: str = "",
    history: tuple[tuple[str, str], ...] = (),
    sample: int | None = None,
) -> str:
    """Return the sha256 of a canonical JSON of the context, the arm and the prompt (system, request, tools).

    ``sample``: the index of a sampled answer (None for the one greedy answer).
    """
    payload = {
        "key_version": KEY_VERSION,
        "context": context.to_dict(),
        "arm": arm_identity,
        "system": system,
        "user": user,
    }
    if tools:  # the native-tools format: the function schemas shape the rendered prompt
        payload["tools"] = tools
    if history:  # a follow-up: the earlier turns are part of what the model sees
        payload["history"] = [list(turn) for turn in history]
    if sample is not None:
        payload["sample"] = sample
    return _sha256_text(_canonical(payload))
