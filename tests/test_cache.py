"""The generation cache: keys that change with everything that shapes an answer, and a store that survives."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from evals import cache as cache_mod
from evals import fingerprints
from evals.cache import (
    NO_ADAPTER,
    CacheContext,
    CachedAnswer,
    CacheWarning,
    GenerationCache,
    entry_key,
    fingerprint_adapter,
    fingerprint_model,
    fingerprint_model_v1,
)
from evals.errors import JarvisError
from evals.records import GenerationSettings, encode
from tests.tiny import make_lora

PACKAGES = {"torch": "2.13.0+cpu", "transformers": "5.24.0", "peft": "0.21.2", "bitsandbytes": "0.50.2"}


@pytest.fixture
def model_copy(tiny_model_dir: Path, tmp_path: Path) -> Path:
    """A private copy of the tiny Llama that a test may modify."""
    return Path(shutil.copytree(tiny_model_dir, tmp_path / "model"))


SYSTEM = "Tu es JARVIS."


def make_context(model: str = "dir:abc", generation: Any = None, **changes: Any) -> CacheContext:
    """A context like the hf backend's identity; ``changes`` replace identity fields."""
    backend: dict[str, Any] = {
        "backend": "hf",
        "model": model,
        "quantization": "4bit",
        "packages": PACKAGES,
        "device": "cpu",
    }
    backend.update(changes)
    return CacheContext(backend=backend, generation=generation or encode(GenerationSettings(max_new_tokens=64)))


def key(context: CacheContext, arm: str, user: str, system: str = SYSTEM) -> str:
    return entry_key(context, arm, system, user)


def flip_a_byte(path: Path) -> None:
    """Change the last byte of ``path`` in place: same size, different contents."""
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))


# ---------------------------------------------------------------------------------------
# Keys


def test_same_inputs_give_the_same_key(model_copy: Path, tiny_adapter_dir: Path) -> None:
    def one() -> str:
        context = make_context(fingerprint_model(str(model_copy)), packages=dict(PACKAGES))
        return key(context, fingerprint_adapter(tiny_adapter_dir), "Allume la lumière")

    assert one() == one()
    assert len(one()) == 64


@pytest.mark.parametrize(
    "change",
    [
        {"quantization": "none"},
        {"backend": "openai"},
        {"generation": encode(GenerationSettings(max_new_tokens=65))},
        {"generation": encode(GenerationSettings(enable_thinking=True))},
        {"generation": encode(GenerationSettings(num_beams=2))},
        {"packages": {**PACKAGES, "transformers": "5.25.0"}},
        {"packages": {**PACKAGES, "torch": "2.13.0+cu128"}},
        {"packages": {**PACKAGES, "bitsandbytes": "absent"}},
        {"device": "cuda"},
    ],
    ids=lambda change: "-".join(f"{k}={str(v)[:20]}" for k, v in change.items()),
)
def test_changing_a_context_component_changes_the_key(change: dict[str, Any]) -> None:
    before = key(make_context(), NO_ADAPTER, "Allume la lumière")
    assert key(make_context(**change), NO_ADAPTER, "Allume la lumière") != before


def test_changing_the_prompt_the_system_prompt_or_the_arm_changes_the_key(tiny_adapter_dir: Path) -> None:
    context = make_context()
    base = key(context, NO_ADAPTER, "Allume la lumière")
    assert key(context, NO_ADAPTER, "Allume la lumiere") != base
    assert key(context, NO_ADAPTER, "Allume la lumière", system="Tu es JARVIS, sois bref.") != base
    assert key(context, fingerprint_adapter(tiny_adapter_dir), "Allume la lumière") != base


def test_batch_size_and_derived_template_are_not_part_of_the_key() -> None:
    """Left padding keeps greedy answers batch-independent (tests/test_batching.py checks it); the
    template follows from the tokenizer files, which the model fingerprint covers. How the tools
    travel (the prompt format) changes answers: it is keyed."""
    one = make_context(generation=encode(GenerationSettings(batch_size="1", template="plain")))
    auto = make_context(generation=GenerationSettings(batch_size="auto"))  # a settings object works too
    assert key(one, NO_ADAPTER, "p") == key(auto, NO_ADAPTER, "p")
    assert "batch_size" not in one.generation and "template" not in one.generation
    native = make_context(generation=GenerationSettings(prompt_format="native-tools"))
    assert key(native, NO_ADAPTER, "p") != key(auto, NO_ADAPTER, "p")


def test_cuda_index_does_not_matter_only_the_device_type() -> None:
    assert make_context(device="cuda:1") == make_context(device="cuda")


def test_model_weight_bytes_change_the_fingerprint(model_copy: Path) -> None:
    before = fingerprint_model(str(model_copy))
    flip_a_byte(model_copy / "model.safetensors")
    after = fingerprint_model(str(model_copy))
    assert before.startswith("dir2:") and after != before
    assert key(make_context(after), NO_ADAPTER, "p") != key(make_context(before), NO_ADAPTER, "p")


def _edit_json(path: Path, **changes: Any) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**data, **changes}, indent=2), encoding="utf-8")


@pytest.mark.parametrize(
    ("name", "changes"),
    [
        ("config.json", {"rms_norm_eps": 1e-3}),
        ("generation_config.json", {"eos_token_id": 7}),
        ("tokenizer_config.json", {"model_max_length": 99}),
    ],
)
def test_fields_that_change_the_computation_change_the_fingerprint(
    model_copy: Path, name: str, changes: dict[str, Any]
) -> None:
    before = fingerprint_model(str(model_copy))
    _edit_json(model_copy / name, **changes)
    assert fingerprint_model(str(model_copy)) != before


def test_tokenizer_vocabulary_and_chat_template_change_the_fingerprint(model_copy: Path) -> None:
    before = fingerprint_model(str(model_copy))
    tokenizer = json.loads((model_copy / "tokenizer.json").read_text(encoding="utf-8"))
    vocab = tokenizer["model"]["vocab"]
    first = next(iter(vocab))
    vocab[first] = len(vocab) + 1000  # one token id moved
    (model_copy / "tokenizer.json").write_text(json.dumps(tokenizer), encoding="utf-8")
    after_vocab = fingerprint_model(str(model_copy))
    with (model_copy / "chat_template.jinja").open("a", encoding="utf-8") as fh:
        fh.write("\n")
    assert len({before, after_vocab, fingerprint_model(str(model_copy))}) == 3


def test_library_metadata_does_not_change_the_fingerprint(model_copy: Path) -> None:
    """A transformers minor release re-saving the same model must keep its identity (issue 22)."""
    before, before_v1 = fingerprint_model(str(model_copy)), fingerprint_model_v1(str(model_copy))
    config = json.loads((model_copy / "config.json").read_text(encoding="utf-8"))
    _edit_json(
        model_copy / "config.json",
        transformers_version="9.99.0",
        _name_or_path="/somewhere/else",
        architectures=list(reversed(config.get("architectures") or [])),
    )
    _edit_json(model_copy / "generation_config.json", transformers_version="9.99.0")
    assert fingerprint_model(str(model_copy)) == before
    assert fingerprint_model_v1(str(model_copy)) != before_v1  # what broke every baseline before


def test_a_renamed_dtype_key_keeps_the_fingerprint(model_copy: Path) -> None:
    config = json.loads((model_copy / "config.json").read_text(encoding="utf-8"))
    _edit_json(model_copy / "config.json", dtype="float32")
    config_path = model_copy / "config.json"
    before = fingerprint_model(str(model_copy))
    renamed = {("torch_dtype" if k == "dtype" else k): v for k, v in {**config, "dtype": "float32"}.items()}
    config_path.write_text(json.dumps(renamed), encoding="utf-8")
    assert fingerprint_model(str(model_copy)) == before


def test_unrelated_files_do_not_change_the_fingerprint(model_copy: Path) -> None:
    before = fingerprint_model(str(model_copy))
    (model_copy / "README.md").write_text("notes", encoding="utf-8")
    assert fingerprint_model(str(model_copy)) == before


def test_big_folders_are_fingerprinted_by_size_and_mtime(model_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprints, "FULL_HASH_LIMIT", 0)  # the tiny model now counts as "big"
    weights = model_copy / "model.safetensors"
    before = fingerprint_model(str(model_copy))
    assert fingerprint_model(str(model_copy)) == before
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a rewrite bumps mtime
    assert fingerprint_model(str(model_copy)) != before


def test_weights_hashes_are_remembered_while_the_file_is_unchanged(
    model_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cached run of a local model hashes its weights once, yet any write to them still changes the key."""
    from evals import digests

    monkeypatch.setenv("JARVIS_EVALS_CACHE", str(tmp_path / "cache"))
    hashed: list[str] = []
    real = digests.sha256_file
    monkeypatch.setattr(digests, "sha256_file", lambda p: hashed.append(p.name) or real(p))
    weights = model_copy / "model.safetensors"
    first = fingerprint_model(str(model_copy))
    assert hashed == ["model.safetensors"] and (tmp_path / "cache" / digests.MEMO_FILE).is_file()
    assert fingerprint_model(str(model_copy)) == first and hashed == ["model.safetensors"]  # remembered

    stat = weights.stat()
    flip_a_byte(weights)  # same size; and the old mtime put back, as a careless copy tool would
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    changed = fingerprint_model(str(model_copy))
    assert changed != first and len(hashed) == 2, "the write moved ctime: hashed again"
    flip_a_byte(weights)
    assert fingerprint_model(str(model_copy)) == first  # the same bytes, the same fingerprint

    (tmp_path / "cache" / digests.MEMO_FILE).write_bytes(b"not a database" * 100)  # damaged: rebuilt
    assert fingerprint_model(str(model_copy)) == first
    assert fingerprint_model(str(model_copy)) == first and len(hashed) == 4
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the cache folder should be")
    monkeypatch.setenv("JARVIS_EVALS_CACHE", str(blocked / "cache"))
    assert fingerprint_model(str(model_copy)) == first  # no memo: hashed, never an error


def test_hub_id_uses_the_commit_in_the_offline_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    assert fingerprint_model("org/model") == "hub:org/model"  # not downloaded: the id alone
    repo = tmp_path / "models--org--model"
    commit = "0123456789abcdef0123456789abcdef01234567"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    (repo / "snapshots" / commit).mkdir(parents=True)
    (repo / "snapshots" / commit / "config.json").write_text("{}")
    assert fingerprint_model("org/model") == f"hub:org/model@{commit}"


def test_adapter_fingerprint() -> None:
    assert fingerprint_adapter(None) == NO_ADAPTER


def test_adapter_fingerprint_follows_contents_not_the_folder(tiny_adapter_dir: Path, tmp_path: Path) -> None:
    copy = shutil.copytree(tiny_adapter_dir, tmp_path / "elsewhere")
    assert fingerprint_adapter(copy) == fingerprint_adapter(tiny_adapter_dir)
    config = copy / "adapter_config.json"
    config.write_text(config.read_text(encoding="utf-8").replace('"r": 4', '"r":4'), encoding="utf-8")
    assert fingerprint_adapter(copy) != fingerprint_adapter(tiny_adapter_dir)


def test_missing_adapter_folder_is_a_jarvis_error(tmp_path: Path) -> None:
    with pytest.raises(JarvisError, match="does not exist"):
        fingerprint_adapter(tmp_path / "nope")


def test_retraining_an_adapter_in_the_same_folder_misses_the_cache(tiny_model_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "run" / "final"
    weights = folder / "adapter_model.safetensors"
    context = make_context(fingerprint_model(str(tiny_model_dir)))
    store = GenerationCache(tmp_path / "cache.sqlite")

    make_lora(tiny_model_dir, folder, seed=1)
    first = key(context, fingerprint_adapter(folder), "Allume la lumière")
    base = key(context, NO_ADAPTER, "Allume la lumière")
    store.put_many({first: CachedAnswer("allumer_lumiere", 3), base: CachedAnswer("bof", 1)})
    size, mtime = weights.stat().st_size, weights.stat().st_mtime_ns

    make_lora(tiny_model_dir, folder, seed=2)  # retrained in place
    os.utime(weights, ns=(mtime, mtime))  # even with the old date, contents decide
    assert weights.stat().st_size == size
    second = key(context, fingerprint_adapter(folder), "Allume la lumière")
    assert second != first
    assert store.get_many([second]) == {}
    # The base arm runs the same model with the adapter disabled: its answers stay cached.
    assert key(context, NO_ADAPTER, "Allume la lumière") == base
    assert store.get_many([base])[base].text == "bof"


def test_context_round_trips_and_hashes() -> None:
    context = make_context(generation={"max_new_tokens": 8, "do_sample": False, "batch_size": 4})
    again = CacheContext.from_dict(context.to_dict())
    assert again == context and hash(again) == hash(context)
    assert key(again, NO_ADAPTER, "p") == key(context, NO_ADAPTER, "p")
    with pytest.raises(dataclasses.FrozenInstanceError):
        context.backend = {}  # type: ignore[misc]
    with pytest.raises(TypeError):
        context.generation["max_new_tokens"] = 9  # type: ignore[index]
    with pytest.raises(TypeError):
        context.backend["quantization"] = "none"  # type: ignore[index]


def test_chat_template_changes_reach_the_key_through_the_model_fingerprint(model_copy: Path) -> None:
    """The key holds the prompt as data, not the rendered template: the template file is fingerprinted."""
    before = key(make_context(fingerprint_model(str(model_copy))), NO_ADAPTER, "p")
    (model_copy / "chat_template.jinja").write_text("{{ messages[0]['content'] }}", encoding="utf-8")
    assert key(make_context(fingerprint_model(str(model_copy))), NO_ADAPTER, "p") != before


def test_context_refuses_settings_that_are_not_json() -> None:
    with pytest.raises(ValueError, match="plain JSON"):
        make_context(generation={"max_new_tokens": object()})


# ---------------------------------------------------------------------------------------
# Store


def test_cache_file_is_opened_lazily_under_the_cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JARVIS_EVALS_CACHE", str(tmp_path / "root"))
    store = GenerationCache()
    assert store.path == tmp_path / "root" / "generations.sqlite"
    assert not store.path.exists()
    assert store.get_many(["k"]) == {}
    assert store.path.is_file()
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("SELECT version FROM schema_version").fetchall() == [(cache_mod.SCHEMA_VERSION,)]
    conn.close()


def test_answers_persist_across_instances(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    answer = CachedAnswer("Je lance allumer_lumiere.", 7, "2026-11-25T15:00:00+00:00")
    with GenerationCache(path) as first:
        first.put_many({"k1": answer, "k2": CachedAnswer("", 0)})
        assert first.stats().writes == 2
    second = GenerationCache(path)
    found = second.get_many(["k1", "k2", "missing", "k1"])
    assert found["k1"] == answer
    assert found["k2"].text == "" and "missing" not in found
    stats = second.stats()
    assert (stats.entries, stats.hits, stats.misses, stats.writes) == (2, 2, 1, 0)
    assert stats.size_bytes > 0
    second.put_many({"k1": CachedAnswer("replaced", 1)})
    assert second.get_many(["k1"])["k1"].text == "replaced"
    assert second.clear() == 2
    assert second.get_many(["k1", "k2"]) == {}
    second.close()


def test_many_keys_are_read_in_chunks(tmp_path: Path) -> None:
    store = GenerationCache(tmp_path / "cache.sqlite")
    store.put_many({f"k{i}": CachedAnswer(str(i), i) for i in range(1200)})
    found = store.get_many(f"k{i}" for i in range(0, 1300))
    assert len(found) == 1200 and found["k1199"].new_tokens == 1199


def _garbage(path: Path) -> None:
    path.write_bytes(b"this is not a database, it is a cat walking on the keyboard" * 100)


def _damaged_pages(path: Path) -> None:
    with GenerationCache(path) as store:
        store.put_many({f"k{i}": CachedAnswer("x" * 500, i) for i in range(200)})
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    data = bytearray(path.read_bytes())
    page = 4096
    data[2 * page : 6 * page] = b"\xa5" * (4 * page)  # wreck pages 3-6, keep the header
    path.write_bytes(bytes(data))


def _other_schema(path: Path) -> None:
    GenerationCache(path).open().close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 999")
    conn.commit()
    conn.close()


@pytest.mark.parametrize(
    "damage", [_garbage, _damaged_pages, _other_schema], ids=["garbage", "damaged-pages", "other-schema"]
)
def test_corrupt_file_is_moved_aside_and_rebuilt(tmp_path: Path, damage: Callable[[Path], None]) -> None:
    path = tmp_path / "cache.sqlite"
    damage(path)
    store = GenerationCache(path)
    with pytest.warns(CacheWarning, match="moved it to cache.sqlite.corrupt-"):
        assert store.get_many(["k1"]) == {}
    assert len(list(tmp_path.glob("cache.sqlite.corrupt-*"))) >= 1
    store.put_many({"k1": CachedAnswer("fresh", 1)})
    assert GenerationCache(path).get_many(["k1"])["k1"].text == "fresh"


class _WreckedConnection:
    """An open connection whose file went bad under it, as SQLite reports it mid-run."""

    in_transaction = False

    def execute(self, *args: Any) -> Any:
        raise sqlite3.DatabaseError("database disk image is malformed")

    def close(self) -> None:
        pass


def test_corruption_found_mid_run_is_repaired_without_raising(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    store = GenerationCache(path).open()
    store.put_many({"old": CachedAnswer("a", 1)})
    store.close()
    _garbage(path)
    store._conn = _WreckedConnection()  # type: ignore[assignment]
    with pytest.warns(CacheWarning, match="malformed"):
        store.put_many({"k": CachedAnswer("b", 1)})
    assert store.get_many(["k", "old"]) == {"k": store.get_many(["k"])["k"]}
    assert store.get_many(["k"])["k"].text == "b"


def test_a_locked_file_is_left_alone_and_the_run_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "cache.sqlite"
    GenerationCache(path).put_many({"k": CachedAnswer("a", 1)})
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # another process is mid-write, for longer than we wait
    try:
        store = GenerationCache(path, timeout=0.1)
        with pytest.warns(CacheWarning, match="locked"):
            store.put_many({"k2": CachedAnswer("b", 1)})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert not list(tmp_path.glob("*.corrupt-*"))
    assert store.get_many(["k"])["k"].text == "a"


def test_unwritable_location_is_a_one_line_jarvis_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = GenerationCache(blocker / "cache.sqlite")
    with pytest.raises(JarvisError) as info:
        store.get_many(["k"])
    message = str(info.value)
    assert "\n" not in message
    assert str(blocker / "cache.sqlite") in message
    assert "--jarvis-cache-dir" in message and "--jarvis-no-cache" in message


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root writes through file permissions")
def test_read_only_folder_is_a_jarvis_error(tmp_path: Path) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(JarvisError, match="--jarvis-no-cache"):
            GenerationCache(folder / "cache.sqlite").open()
    finally:
        folder.chmod(0o755)


WRITER = textwrap.dedent(
    """
    import sys, time
    from evals.cache import CachedAnswer, GenerationCache
    path, name, go = sys.argv[1], sys.argv[2], float(sys.argv[3])
    store = GenerationCache(path)
    while time.time() < go:
        time.sleep(0.005)
    for batch in range(40):
        store.put_many({f"{name}-{batch}-{i}": CachedAnswer(name, i) for i in range(10)})
    print(store.stats().writes)
    """
)


def test_two_processes_writing_at_once_lose_no_rows(tmp_path: Path) -> None:
    import time

    path = tmp_path / "cache.sqlite"
    go = str(time.time() + 1.5)  # both start writing at the same moment, after their imports
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), name, go],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("alpha", "beta")
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    assert [out.strip() for out, _ in outputs] == ["400", "400"]
    store = GenerationCache(path)
    assert store.stats().entries == 800
    keys = [f"{n}-{b}-{i}" for n in ("alpha", "beta") for b in range(40) for i in range(10)]
    assert len(store.get_many(keys)) == 800


def test_a_version_1_cache_file_is_migrated_in_place(tmp_path: Path) -> None:
    """Round-1 files hold keys that can no longer match: they are emptied and gain the meta column, silently."""
    path = tmp_path / "generations.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
    conn.execute("INSERT INTO schema_version VALUES (1)")
    conn.execute(
        "CREATE TABLE generations (key TEXT PRIMARY KEY, text TEXT NOT NULL, new_tokens INTEGER NOT NULL, created TEXT NOT NULL)"
    )
    conn.execute("INSERT INTO generations VALUES ('old', 'x', 1, '2026-01-01')")
    conn.commit()
    conn.close()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheWarning)  # a migration is not a corruption: no warning
        store = GenerationCache(path)
        assert store.get_many(["old"]) == {}
        store.put_many({"new": CachedAnswer("volume_up", 3, truncated_prompt=True)})
        assert store.get_many(["new"])["new"].truncated_prompt is True
    assert sorted(p.name for p in tmp_path.iterdir() if "corrupt" in p.name) == []
