"""The structure's promises: a light plugin import, one GenerationConfig, warnings that reach the user."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

HEAVY = ("torch", "transformers", "peft", "numpy", "sklearn", "pandas", "matplotlib")


def test_importing_the_plugin_loads_no_heavy_library() -> None:
    """Every pytest run in the environment imports the plugin (entry point): it must stay cheap."""
    code = f"import sys, evals.plugin, evals.config; print([m for m in {HEAVY!r} if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.fixture(scope="module")
def qwen_like_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with Qwen3's sampling defaults in its generation_config.json."""
    import shutil

    folder = Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("qwen-like") / "model"))
    config = json.loads((folder / "generation_config.json").read_text())
    config.update(do_sample=True, temperature=0.6, top_p=0.95, top_k=20)
    (folder / "generation_config.json").write_text(json.dumps(config))
    return folder


def _backend(model: Path):
    from evals.backends import BASE_ARM, Arm
    from evals.backends.hf import HFBackend

    return HFBackend(str(model), "none", False, arms=(Arm(BASE_ARM),))


def test_generate_receives_one_config_built_from_the_recorded_settings(
    qwen_like_model: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from transformers import GenerationConfig

    from evals.backends import BASE_ARM, Arm, Prompt
    from evals.records import GenerationSettings

    backend = _backend(qwen_like_model)
    model = backend.load()
    seen: list[dict] = []
    original = model.generate

    def spy(*args, **kwargs):
        seen.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "generate", spy)
    settings = GenerationSettings(max_new_tokens=5)
    prompts = [Prompt("Tu es JARVIS.", "monte le son"), Prompt("Tu es JARVIS.", "ouvre chrome")]
    with caplog.at_level(logging.WARNING):
        first = backend.generate({Arm(BASE_ARM): prompts}, settings)[Arm(BASE_ARM)]
        again = backend.generate({Arm(BASE_ARM): prompts}, settings)[Arm(BASE_ARM)]
    (call,) = seen[:1]
    assert set(call) == {"input_ids", "attention_mask", "generation_config"}, "no setting passed beside the config"
    config = call["generation_config"]
    assert isinstance(config, GenerationConfig)
    assert (config.max_new_tokens, config.do_sample, config.num_beams) == (5, False, 1)
    assert first == again  # greedy although the model's defaults ask for sampling
    assert all(a.new_tokens <= 5 for a in first)
    assert "not valid" not in caplog.text  # the model's sampling defaults neither apply nor warn


def test_warnings_raised_while_generating_reach_the_user(
    qwen_like_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only named known-noise warnings are filtered; anything else (a wrong adapter's) is seen."""
    from evals.backends import BASE_ARM, Arm, Prompt
    from evals.records import GenerationSettings

    backend = _backend(qwen_like_model)
    model = backend.load()
    original = model.generate

    def noisy(*args, **kwargs):
        warnings.warn("Found missing adapter keys while loading the checkpoint", UserWarning, stacklevel=2)
        warnings.warn("`torch.jit.script_method` is deprecated.", DeprecationWarning, stacklevel=2)
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "generate", noisy)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        backend.generate({Arm(BASE_ARM): [Prompt("s", "u")]}, GenerationSettings(max_new_tokens=2))
    messages = [str(w.message) for w in caught]
    assert any("missing adapter keys" in m for m in messages)


def test_loading_filters_only_the_named_noise() -> None:
    from evals.hfload import KNOWN_NOISE, known_noise_filtered

    assert len(KNOWN_NOISE) == 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with known_noise_filtered():
            warnings.warn("`torch.jit.script_method` is deprecated.", DeprecationWarning, stacklevel=1)
            warnings.warn("`is_gradient_checkpointing` is deprecated", FutureWarning, stacklevel=1)
            warnings.warn("something about your adapter", UserWarning, stacklevel=1)
            warnings.warn("`torch.jit.script_method` is deprecated.", UserWarning, stacklevel=1)  # wrong category
    assert [str(w.message) for w in caught] == [
        "something about your adapter",
        "`torch.jit.script_method` is deprecated.",
    ]
