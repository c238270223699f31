"""Shared fixtures: tiny real models built once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.tiny import make_llama, make_lora


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (hidden 64) with a byte-level tokenizer and a ChatML template."""
    return make_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LoRA on the tiny Llama with non-zero weights, so both arms answer differently."""
    return make_lora(tiny_model_dir, tmp_path_factory.mktemp("tiny-lora"))
