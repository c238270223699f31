"""Shared fixtures: tiny real models built once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from tests.tiny import make_llama, make_lora

# Property tests (tests/test_fuzz.py): `make test` tries a bounded number of inputs per reader;
# `pytest tests/test_fuzz.py --hypothesis-profile=long` (or JARVIS_FUZZ=long) tries many more.
# The deadline bounds each input's time: a reader that stalls on some input fails the test.
settings.register_profile(
    "ci", max_examples=40, deadline=5000, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("long", max_examples=2000, deadline=5000, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("JARVIS_FUZZ", "ci"))


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer Llama (hidden 64) with a byte-level tokenizer and a ChatML template."""
    return make_llama(tmp_path_factory.mktemp("tiny-llama"))


@pytest.fixture(scope="session")
def tiny_adapter_dir(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real LoRA on the tiny Llama with non-zero weights, so both arms answer differently."""
    return make_lora(tiny_model_dir, tmp_path_factory.mktemp("tiny-lora"))
