"""The quantized copy (evals/quantized.py): real bitsandbytes NF4 on a tiny Llama, saved and loaded again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.hfload import load_base, quantization_config
from evals.quantized import copy_key, dequantize_for_cpu, load_through_copy

IDS = [[3, 14, 15, 92, 65, 35, 89, 79, 32, 38, 46, 26]]


def logits(model: Any) -> Any:
    import torch

    with torch.no_grad():
        return model(input_ids=torch.tensor(IDS)).logits


def test_the_copy_holds_the_same_4bit_weights_and_answers_the_same(tiny_model_dir: Path, tmp_path: Path) -> None:
    import torch

    copy = tmp_path / "copies" / "4bit-test"
    quantized = []

    def quantize() -> Any:
        quantized.append(1)
        return load_base(str(tiny_model_dir), "4bit")

    first = load_through_copy(str(tiny_model_dir), copy, quantize)
    assert quantized == [1] and (copy / "config.json").is_file()
    assert not [p.name for p in copy.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    again = load_through_copy(str(tiny_model_dir), copy, quantize)
    assert quantized == [1], "the second load read the copy"
    assert type(again.model.layers[0].mlp.down_proj).__name__ == "Linear4bit"
    assert again.config._name_or_path == str(tiny_model_dir)  # the source, not the copy, for peft and reports
    mine, theirs = first.state_dict(), again.state_dict()
    assert mine.keys() == theirs.keys() and all(torch.equal(mine[k], theirs[k]) for k in mine)
    assert torch.equal(logits(first), logits(again))


def test_a_damaged_copy_is_quantized_again_and_replaced(
    tiny_model_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import torch

    copy = tmp_path / "4bit-test"
    reference = load_through_copy(str(tiny_model_dir), copy, lambda: load_base(str(tiny_model_dir), "4bit"))
    (weights,) = copy.glob("*.safetensors")
    weights.write_bytes(weights.read_bytes()[:100])  # truncated, as by a full disk
    model = load_through_copy(str(tiny_model_dir), copy, lambda: load_base(str(tiny_model_dir), "4bit"))
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("[jarvis]")]
    assert len(lines) == 1 and f"quantized copy {copy} does not load" in lines[0] and "quantizing again" in lines[0]
    assert torch.equal(logits(model), logits(reference))
    capsys.readouterr()
    load_through_copy(str(tiny_model_dir), copy, lambda: pytest.fail("the replaced copy should load"))
    assert "[jarvis]" not in capsys.readouterr().err


def test_the_key_changes_with_everything_that_decides_the_weights() -> None:
    nf4 = quantization_config("4bit", "cpu")
    key = copy_key("gguf:model@sha256:aa+conversion-2", "4bit", nf4)
    assert key == copy_key("gguf:model@sha256:aa+conversion-2", "4bit", quantization_config("4bit", "cpu"))
    assert key != copy_key("gguf:model@sha256:bb+conversion-2", "4bit", nf4)  # another source
    plain = quantization_config("4bit", "cpu")
    plain.bnb_4bit_use_double_quant = False
    assert key != copy_key("gguf:model@sha256:aa+conversion-2", "4bit", plain)  # another recipe
    assert key.startswith("4bit-")


def kinds(model: Any) -> set[str]:
    return {type(m).__name__ for m in model.modules() if type(m).__name__ in ("Linear4bit", "Linear")}


def with_adapter(model: Any, adapter: Path, model_dir: Path) -> Any:
    from evals.backends.hf import attach_adapters
    from evals.models import inspect_adapter

    return attach_adapters(model, [("arm", inspect_adapter(adapter))], str(model_dir))


def test_the_dequantized_cpu_layers_give_the_4bit_logits_bit_for_bit(
    tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    import torch

    four_bit = load_base(str(tiny_model_dir), "4bit")
    kept = load_base(str(tiny_model_dir), "4bit")
    size = dequantize_for_cpu(kept)
    layers = [m for m in four_bit.modules() if type(m).__name__ == "Linear4bit"]
    assert size == sum(m.in_features * m.out_features * 4 for m in layers) > 0
    assert kinds(four_bit) == {"Linear4bit", "Linear"} and kinds(kept) == {"Linear"}  # lm_head is Linear in both
    assert torch.equal(logits(kept), logits(four_bit))
    # peft then wraps plain Linear layers: the adapter arm and the base arm (adapter disabled) agree too.
    four_bit, kept = (with_adapter(m, tiny_adapter_dir, tiny_model_dir) for m in (four_bit, kept))
    assert type(kept.base_model.model.model.layers[0].self_attn.q_proj).__module__ == "peft.tuners.lora.layer"
    assert not torch.equal(logits(four_bit), logits(load_base(str(tiny_model_dir), "4bit")))  # the adapter acts
    assert torch.equal(logits(kept), logits(four_bit))
    with kept.disable_adapter(), four_bit.disable_adapter():
        assert torch.equal(logits(kept), logits(four_bit))
    settings = {"max_new_tokens": 12, "do_sample": False}
    with torch.no_grad():
        assert torch.equal(
            kept.generate(torch.tensor(IDS), **settings), four_bit.generate(torch.tensor(IDS), **settings)
        )


def test_weights_over_the_budget_stay_4bit(tiny_model_dir: Path) -> None:
    model = load_base(str(tiny_model_dir), "4bit")
    assert dequantize_for_cpu(model, budget=1024) == 0
    assert "Linear4bit" in kinds(model)


def test_one_layer_that_would_answer_differently_puts_every_layer_back(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where bitsandbytes computes otherwise than the fp32 twin (another release, another kernel), nothing is kept."""
    import bitsandbytes.functional
    import torch

    model = load_base(str(tiny_model_dir), "4bit")
    before = logits(model)
    real = bitsandbytes.functional.dequantize_4bit
    calls = []

    def off_by_a_little_on_the_third(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        weight = real(*args, **kwargs)
        return weight * (1 + 2**-20) if len(calls) == 3 else weight

    monkeypatch.setattr(bitsandbytes.functional, "dequantize_4bit", off_by_a_little_on_the_third)
    assert dequantize_for_cpu(model) == 0
    assert len(calls) == 3  # it stopped at the first twin that differed
    assert sum(type(m).__name__ == "Linear4bit" for m in model.modules()) == 14  # 2 layers x 7 projections, all back
    assert torch.equal(logits(model), before)


def test_a_full_precision_model_is_left_alone(tiny_model_dir: Path) -> None:
    model = load_base(str(tiny_model_dir), "none")
    assert dequantize_for_cpu(model) == 0 and kinds(model) == {"Linear"}
