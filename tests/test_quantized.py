"""The quantized copy (evals/quantized.py): real bitsandbytes NF4 on a tiny Llama, saved and loaded again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.hfload import load_base, quantization_config
from evals.quantized import copy_key, load_through_copy

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
