"""``jarvis-evals train``: the shipped training set, label masking, and a real LoRA run on a tiny Llama."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from evals.backends.prompting import PLAIN_FORMAT, build_prompt
from evals.errors import JarvisError
from evals.metrics import find_tools
from evals.suite import load_suite
from evals.training.trainer import SUMMARY_FILE, TrainConfig
from evals.training.trainset import (
    SEPARATOR,
    TrainExample,
    default_full_suite_path,
    evaluation_overlap,
    generate,
    load_examples,
)


def spec_normalize(text: str, punctuation: str = " ") -> str:
    """Lower-case, strip accents and punctuation, collapse spaces (written independently of the module)."""
    folded = "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))
    return " ".join(re.sub(r"[^\w\s]", punctuation, folded).split())


@pytest.fixture(scope="module")
def suite():
    return load_suite()


@pytest.fixture(scope="module")
def examples(suite):
    return load_examples(tool_ids=suite.tool_ids)


# ---------------------------------------------------------------------------------------
# The shipped training set


def full_suite_texts() -> dict[str, list[str]]:
    """The full suite's own cases (yaml read directly): id -> its prompt and its history's user turns."""
    import yaml

    path = default_full_suite_path()
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout: the full suite's disjointness is checked where it is")
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data.get("extends") == "jarvis.yaml"
    out: dict[str, list[str]] = {}
    for case in data["cases"]:
        turns = [t["content"] for t in case.get("history") or () if t["role"] == "user"]
        out[case["id"]] = [case["prompt"], *([case["intended"]] if case.get("intended") else []), *turns]
    assert len(out) > 30
    return out


def test_training_set_size(examples):
    assert 400 <= len(examples) <= 750


def test_no_evaluation_prompt_is_a_training_prompt(suite, examples):
    for punctuation in (" ", ""):  # "l'écran" -> "l ecran" and "lecran": both must stay apart
        train = {spec_normalize(e.prompt, punctuation) for e in examples}
        leaked = [c.id for c in suite.cases if spec_normalize(c.prompt, punctuation) in train]
        assert not leaked, f"evaluation prompts in the training set: {leaked}"


def test_no_prompt_of_the_full_suite_is_a_training_prompt(examples):
    cases = full_suite_texts()
    for punctuation in (" ", ""):
        train = {spec_normalize(e.prompt, punctuation) for e in examples}
        leaked = {case: [t for t in texts if spec_normalize(t, punctuation) in train] for case, texts in cases.items()}
        assert not {k: v for k, v in leaked.items() if v}, "full-suite prompts or history turns in the training set"


def test_no_training_prompt_is_close_to_the_evaluation(suite, examples):
    close = {e.prompt: why for e in examples if (why := evaluation_overlap(e.prompt, suite))}
    assert not close


def test_every_tool_is_known_and_taught(suite, examples):
    counts = Counter(t for e in examples for t in e.tools)
    assert set(counts) <= suite.tool_ids
    assert {t: counts[t] for t in suite.tool_ids if counts[t] < 20} == {}
    assert sum(1 for e in examples if len(e.tools) > 1) >= 40  # multi-tool requests


def test_about_one_example_in_five_needs_no_tool(examples):
    # 15.6 % left the demo calling a tool on 9 of 23 cases where nothing should run; 20 % is the second try.
    share = sum(1 for e in examples if not e.tools) / len(examples)
    assert 0.17 <= share <= 0.25, share


CALL_SHAPE = re.compile(r'[a-z_]+\((?:[a-z]+=(?:\d+|"(?:[^"\\]|\\.)*")(?:, [a-z]+=(?:\d+|"(?:[^"\\]|\\.)*"))*)?\)')


def test_answers_have_the_shape_of_suite_2(suite, examples):
    from evals.metrics import parse_calls

    ids = {t.id for t in suite.tools}
    for e in examples:
        assert "\n" not in e.answer, e
        calls = parse_calls(e.answer, suite.tool_ids)
        if not e.tools:  # nothing to do: words only, no tool id, nothing that reads as a call
            assert calls == () and SEPARATOR not in e.answer, e
            assert not any(tool in e.answer.lower() for tool in ids), e
            assert find_tools(e.answer, e.prompt, suite.tools).named == set(), e
            continue
        head, confirmation = e.answer.split(SEPARATOR, 1)
        assert re.fullmatch(rf"{CALL_SHAPE.pattern}(?:, {CALL_SHAPE.pattern})*", head), e
        assert confirmation[0].isupper() and confirmation.endswith("."), e
        assert [c.name for c in calls] == list(e.tools), e
        assert all(c.form == "function" and not c.malformed and isinstance(c.arguments, dict) for c in calls), e
        # The confirmation must not name a tool the request did not ask for.
        assert find_tools(e.answer, e.prompt, suite.tools).named == set(e.tools), e


def setup_for(tools) -> dict:
    """The state a request presumes: a window to close, music to pause."""
    setup: dict = {}
    if "close_window" in tools:
        setup.update(apps_open=["notes"], windows=["notes"])
    if "music_pause" in tools:
        setup.update(music="playing", music_query="jazz")
    return setup


def test_every_training_call_runs_without_error(suite, examples):
    from evals.metrics import parse_calls
    from evals.runtime import State, execute

    failures = []
    for e in examples:
        execution = execute(parse_calls(e.answer, suite.tool_ids), State.from_setup(setup_for(e.tools)))
        failures += [(e.prompt, e.answer, r.error) for r in execution.errors]
        assert len(execution.results) == len(e.tools)
    assert not failures


def test_requests_that_carry_values_pass_them_as_arguments(suite, examples):
    from evals.metrics import parse_calls

    calls = [(e, c) for e in examples for c in parse_calls(e.answer, suite.tool_ids)]
    with_arguments = {c.name for _, c in calls if c.arguments}
    required = {"open_app", "weather", "timer_set", "log_search", "web_search", "send_message", "reminder_create"}
    assert required | {"volume_up", "volume_down", "brightness_up", "brightness_down", "music_play"} <= with_arguments
    for e, c in calls:
        if c.name in required:
            assert c.arguments, e
        for key in ("level", "step"):  # a number said is the number passed ("à fond" is 100, "au minimum" 0)
            if key in c.arguments and c.arguments[key] not in (0, 100):
                assert re.search(rf"\b{c.arguments[key]}\b", e.prompt), e
        if c.name == "weather":
            assert spec_normalize(c.arguments["city"]) in spec_normalize(e.prompt) or len(e.tools) == 1, e
    levels = Counter(c.name for e, c in calls if "level" in c.arguments)
    assert min(levels[t] for t in ("volume_up", "volume_down", "brightness_up", "brightness_down")) >= 3
    # A level said with no direction ("mets le volume à 65") raises: the documented convention.
    bare = [c for e, c in calls if re.match(r"(?i)mets le volume à \d+", e.prompt) and len(e.tools) == 1]
    assert all(c.name == "volume_up" and "level" in c.arguments for c in bare)


def test_misheard_app_names_open_the_real_app(suite, examples):
    from evals.metrics import parse_calls
    from evals.training.trainset import load_phrases

    apps = {e.said: e for e in load_phrases().entities["apps"]}
    misheard = 0
    for e in examples:
        for c in parse_calls(e.answer, suite.tool_ids):
            if c.name == "open_app":
                assert c.arguments["app"] in apps, e
                said = apps[c.arguments["app"]]
                if spec_normalize(said.said) not in spec_normalize(e.prompt):
                    misheard += 1
    assert misheard >= 8


def test_generator_is_deterministic_and_apart_from_the_evaluation(suite):
    first, second = generate(suite), generate(suite)
    assert first == second
    assert all(evaluation_overlap(e.prompt, suite) is None for e in first)


def test_the_shipped_file_is_what_the_generator_writes(suite, examples):
    generated = generate(suite)
    if default_full_suite_path().is_file():
        assert generated == examples
    else:  # written with the full suite in view, which drops a few more prompts
        assert set(examples) <= set(generated) and len(generated) - len(examples) < 10


def test_evaluation_overlap_catches_copies(suite):
    assert evaluation_overlap("Ouvre Chrome !", suite)
    assert evaluation_overlap("jarvis, coupe le son", suite)  # contains an evaluation prompt
    assert evaluation_overlap("ouvre chromium", suite)  # an evaluation entity
    assert evaluation_overlap("verrouille l ordinateur", suite)
    assert evaluation_overlap("ouvre discord", suite) is None


def test_the_full_suite_is_read_for_the_overlap(suite, tmp_path: Path):
    full = tmp_path / "jarvis_full.yaml"
    full.write_text(
        "extends: jarvis.yaml\ncases:\n"
        "  - {id: a, prompt: merci, expected_tools: [], expect: nothing}\n"
        "  - id: b\n    prompt: et plus fort\n"
        "    history: [{role: user, content: mets du funk}, {role: assistant, content: 'music_play() — Ok.'}]\n",
        encoding="utf-8",
    )
    assert evaluation_overlap("Merci !", suite, full) == "equals evaluation case a"
    assert evaluation_overlap("merci beaucoup", suite, full) is None  # a one-word prompt is only kept from copies
    assert evaluation_overlap("mets du funk", suite, full) == "equals evaluation case b"
    assert evaluation_overlap("jarvis, mets du funk", suite, full) is None  # a history turn is only kept from copies
    assert evaluation_overlap("jarvis, et plus fort", suite, full) == "contains the prompt of evaluation case b"
    assert evaluation_overlap("music_play() — Ok.", suite, full) is None  # assistant turns are not prompts


def test_load_examples_names_the_bad_line(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"prompt": "a", "answer": "volume_up — b", "tools": ["volume_up"]}\n{"prompt": "x"}\n', encoding="utf-8"
    )
    with pytest.raises(JarvisError, match="line 2"):
        load_examples(path)
    path.write_text('{"prompt": "a", "answer": "b", "tools": ["warp_drive"]}\n', encoding="utf-8")
    with pytest.raises(JarvisError, match="unknown tool id warp_drive"):
        load_examples(path, tool_ids={"volume_up"})
    with pytest.raises(JarvisError, match="not found"):
        load_examples(tmp_path / "missing.jsonl")


# ---------------------------------------------------------------------------------------
# Configuration and command line


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rank": 0}, "rank"),
        ({"alpha": 0}, "alpha"),
        ({"epochs": 0}, "epochs"),
        ({"lr": 2.0}, "learning rate"),
        ({"batch_size": 0}, "batch size"),
        ({"dropout": 1.0}, "dropout"),
        ({"max_examples": 0}, "max examples"),
        ({"target_modules": ()}, "target modules"),
        ({"target_modules": ("all-linear", "q_proj")}, "all-linear"),
    ],
)
def test_config_says_what_is_wrong(kwargs, message):
    with pytest.raises(JarvisError, match=message):
        TrainConfig(**kwargs)


def test_cli_options_reach_the_config(tmp_path: Path):
    from evals.cli import build_parser
    from evals.cli.train import config_from_args

    args = build_parser().parse_args(
        [
            "train",
            "--output-dir",
            str(tmp_path),
            "--rank",
            "4",
            "--alpha",
            "8",
            "--target-modules",
            "q_proj,v_proj",
            "--epochs",
            "2",
            "--lr",
            "5e-4",
            "--seed",
            "7",
            "--batch-size",
            "2",
            "--max-examples",
            "3",
        ]
    )
    config = config_from_args(args)
    assert (config.rank, config.alpha, config.epochs, config.lr, config.seed) == (4, 8.0, 2, 5e-4, 7)
    assert config.target_modules == ("q_proj", "v_proj") and config.output_dir == tmp_path
    assert (config.batch_size, config.max_examples, config.model, config.data) == (2, 3, None, None)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--rank", "0"])


def test_module_does_not_import_torch():
    code = "import sys, evals.training.trainer, evals.training.trainset, evals.cli.train; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------
# Prompts, labels and the loss on a tiny real model

TINY_SYSTEM = "Tu es JARVIS. Réponds: outil — confirmation."
TINY_EXAMPLES = [
    TrainExample("monte le volume", "volume_up — Je monte le son.", ("volume_up",)),
    TrainExample("baisse le volume", "volume_down — Je baisse le son.", ("volume_down",)),
    TrainExample("ouvre firefox", "open_app — J'ouvre Firefox.", ("open_app",)),
    TrainExample("quelle heure", "clock — Il est midi.", ("clock",)),
    TrainExample("ferme ça", "close_window — Je ferme la fenêtre.", ("close_window",)),
    TrainExample("musique", "music_play — Je lance la musique.", ("music_play",)),
]


@pytest.fixture(scope="module")
def tiny_tokenizer(tiny_model_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_build_prompt_uses_the_chat_template_or_the_plain_fallback(tiny_tokenizer):
    from tests.tiny import make_tokenizer

    text = build_prompt(tiny_tokenizer, "SYS", "ouvre firefox")
    assert (
        text == "<|im_start|>system\nSYS<|im_end|>\n<|im_start|>user\nouvre firefox<|im_end|>\n<|im_start|>assistant\n"
    )
    plain = make_tokenizer(chat_template=False)
    assert build_prompt(plain, "SYS", "ouvre firefox") == PLAIN_FORMAT.format(system="SYS", user="ouvre firefox")
    assert build_prompt(plain, "SYS", "x") == "System: SYS\nUser: x\nAssistant:"


def test_labels_mask_the_prompt_and_padding(tiny_tokenizer):
    from evals.training.trainer import collate, encode_example

    example = TINY_EXAMPLES[0]
    encoded = encode_example(tiny_tokenizer, TINY_SYSTEM, example)
    prompt_ids = tiny_tokenizer(build_prompt(tiny_tokenizer, TINY_SYSTEM, example.prompt), add_special_tokens=False)[
        "input_ids"
    ]
    n = len(prompt_ids)
    assert list(encoded.input_ids[:n]) == prompt_ids
    assert set(encoded.labels[:n]) == {-100}
    assert list(encoded.labels[n:]) == list(encoded.input_ids[n:])
    assert encoded.labels[-1] == tiny_tokenizer.eos_token_id  # the model learns to stop
    assert tiny_tokenizer.decode(encoded.input_ids[n:-1]) == example.answer

    longer = encode_example(tiny_tokenizer, TINY_SYSTEM, TINY_EXAMPLES[4])
    batch = collate([encoded, longer], tiny_tokenizer.pad_token_id)
    width = batch["input_ids"].shape[1]
    assert width == max(len(encoded.input_ids), len(longer.input_ids))
    short = len(encoded.input_ids)
    assert batch["attention_mask"][0, short:].sum() == 0 and batch["attention_mask"][0, :short].all()  # right padding
    assert (batch["labels"][0, short:] == -100).all()
    assert (batch["input_ids"][0, short:] == tiny_tokenizer.pad_token_id).all()


def test_shared_prefix_gives_the_same_loss_and_gradients(tiny_model_dir: Path, tiny_tokenizer):
    import torch
    from transformers import AutoModelForCausalLM

    from evals.backends.prompting import shared_prefix_length
    from evals.training.trainer import _lora, batch_loss, encode_example

    torch.manual_seed(0)
    model = _lora(AutoModelForCausalLM.from_pretrained(tiny_model_dir), TrainConfig(rank=4, alpha=8, dropout=0.0))
    for name, param in model.named_parameters():  # non-zero B so gradients reach every LoRA weight
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.02)
    encoded = [encode_example(tiny_tokenizer, TINY_SYSTEM, e) for e in TINY_EXAMPLES]
    n = shared_prefix_length([e.input_ids[: e.prompt_length] for e in encoded])
    assert n >= len("<|im_start|>system\n" + TINY_SYSTEM)  # byte-level: the whole system turn is shared
    assert n < min(e.prompt_length for e in encoded)
    params = [p for p in model.parameters() if p.requires_grad]

    def loss_and_grads(prefix):
        model.zero_grad()
        loss = batch_loss(model, encoded, tiny_tokenizer.pad_token_id, prefix)
        loss.backward()
        return loss.item(), [p.grad.clone() for p in params]

    shared, shared_grads = loss_and_grads(encoded[0].input_ids[:n])
    plain, plain_grads = loss_and_grads(())
    assert shared == pytest.approx(plain, rel=1e-5)
    for a, b in zip(shared_grads, plain_grads, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_batches_group_similar_lengths_deterministically():
    import random

    from evals.training.trainer import batch_order

    lengths = [random.Random(i).randrange(10, 90) for i in range(70)]
    first = batch_order(lengths, 8, random.Random(3))
    assert first == batch_order(lengths, 8, random.Random(3))
    assert sorted(i for b in first for i in b) == list(range(70))
    assert max(len(b) for b in first) == 8


# ---------------------------------------------------------------------------------------
# End to end: a real adapter on the tiny Llama


@pytest.fixture(scope="module")
def tiny_run(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, TrainConfig]:
    """Train once on the tiny Llama with a small suite: a handful of examples, a few seconds."""
    root = tmp_path_factory.mktemp("tiny-train")
    suite_file = root / "suite.yaml"
    tools = sorted({t for e in TINY_EXAMPLES for t in e.tools})
    suite_file.write_text(
        "name: tiny\nversion: '1'\n"
        f"system_prompt: {json.dumps(TINY_SYSTEM, ensure_ascii=False)}\n"
        "tools:\n"
        + "".join(f"  - {{id: {t}}}\n" for t in tools)
        + "cases:\n  - {id: c1, category: commands, prompt: 'monte le son', expected_tools: [volume_up], keywords: [son]}\n",
        encoding="utf-8",
    )
    data = root / "train.jsonl"
    data.write_text(
        "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in TINY_EXAMPLES), encoding="utf-8"
    )
    config = TrainConfig(
        model=str(tiny_model_dir),
        output_dir=root / "output",
        data=data,
        suite=suite_file,
        # The tiny model's frozen head caps how confident it can get: adapt it too, so the loss can fall far.
        rank=4,
        alpha=8,
        target_modules=("q_proj", "v_proj", "o_proj", "down_proj", "lm_head"),
        epochs=15,
        lr=3e-2,
        batch_size=3,
        seed=5,
    )
    from evals.training.trainer import train_adapter

    return train_adapter(config), tiny_model_dir, config


def test_training_lowers_the_loss_and_writes_a_summary(tiny_run):
    final, _, _ = tiny_run
    summary = json.loads((final / SUMMARY_FILE).read_text(encoding="utf-8"))
    assert summary["loss_last"] < 0.7 * summary["loss_first"]  # measured: 5.56 -> 2.6
    assert summary["epoch_losses"][-1] < summary["epoch_losses"][0]
    assert (summary["examples"], summary["epochs"], summary["steps"]) == (len(TINY_EXAMPLES), 15, 30)
    assert summary["settings"]["rank"] == 4 and summary["settings"]["seed"] == 5
    assert summary["shared_prefix_tokens"] > 0
    assert summary["seconds"] > 0


def test_the_adapter_loads_back_and_is_found(tiny_run):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    from evals.adapters import find_latest_adapter
    from evals.models import inspect_adapter

    final, model_dir, config = tiny_run
    assert final.name == "final" and final.parent.parent == config.output_dir
    assert find_latest_adapter(config.output_dir) == final
    info = inspect_adapter(final)
    assert info.weights.name == "adapter_model.safetensors"
    assert info.config["r"] == 4 and info.base_model == str(model_dir)
    model = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(model_dir), final)
    ids = torch.tensor([[1, 2, 3]])
    with torch.no_grad():
        tuned = model(input_ids=ids).logits
        with model.disable_adapter():
            base = model(input_ids=ids).logits
    assert not torch.allclose(tuned, base)  # the adapter learned something


def test_training_is_deterministic(tiny_run):
    from safetensors.torch import load_file

    from evals.training.trainer import train_adapter

    final, _, config = tiny_run
    again = train_adapter(TrainConfig(**{**config.to_dict(), "epochs": 15}))
    assert again != final
    first, second = load_file(final / "adapter_model.safetensors"), load_file(again / "adapter_model.safetensors")
    assert first.keys() == second.keys()
    assert all((first[k] == second[k]).all() for k in first)


def test_the_suite_is_scored_after_each_epoch_without_changing_the_adapter(tiny_run):
    """Scoring between epochs is greedy generation in eval mode: the trained weights are the same bytes."""
    final, _, config = tiny_run
    summary = json.loads((final / SUMMARY_FILE).read_text(encoding="utf-8"))
    assert [e["epoch"] for e in summary["jarvis_eval"]] == list(range(1, 16))
    assert [e["step"] for e in summary["jarvis_eval"]] == list(range(2, 31, 2))
    best = summary["jarvis_best"]
    assert best["relevance"] == max(e["relevance"] for e in summary["jarvis_eval"]) and best["subset"] == "full"
    assert 0 < summary["jarvis_eval_seconds"] < summary["seconds"]
    from evals.training.trainer import train_adapter

    silent = train_adapter(TrainConfig(**{**config.to_dict(), "jarvis_eval": "none"}))
    assert "jarvis_eval" not in json.loads((silent / SUMMARY_FILE).read_text(encoding="utf-8"))
    assert (silent / "adapter_model.safetensors").read_bytes() == (final / "adapter_model.safetensors").read_bytes()


def test_run_prints_where_the_adapter_went(tiny_run, capsys):
    from evals.cli import main

    _, model_dir, config = tiny_run
    rc = main(
        [
            "train",
            "--model",
            str(model_dir),
            "--output-dir",
            str(config.output_dir),
            "--data",
            str(config.data),
            "--suite",
            str(config.suite),
            "--rank",
            "2",
            "--epochs",
            "1",
            "--batch-size",
            "6",
        ]
    )
    assert rc == 0
    captured = capsys.readouterr()
    out = captured.out
    assert "adapter saved to" in out and "/final" in out
    assert "JARVIS relevance per epoch (full subset): " in out and "best: epoch 1 (step 1)" in out
    assert "[jarvis] epoch 1/1 (step 1): JARVIS relevance " in captured.err


def test_the_adapter_folder_follows_the_umask(tiny_run):
    """mkdtemp stages it 0700; published, a team sharing output/ can read it (issue 27)."""
    import os

    final, _, _ = tiny_run
    mask = os.umask(0)
    os.umask(mask)
    assert final.stat().st_mode & 0o777 == 0o777 & ~mask
    assert {p.name: p.stat().st_mode & 0o777 for p in final.iterdir()} == {
        p.name: 0o666 & ~mask for p in final.iterdir()
    }
