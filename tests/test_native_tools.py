"""Native tool calling (issue 19): tools as function schemas through the chat template or the server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from evals.backends.prompting import build_prompt, template_ignores_tools
from evals.suite import load_suite
from tests.test_gate_e2e import MINI_SUITE, PROMPTS, SYSTEM
from tests.test_plugin import TEST_FILE
from tests.tiny import make_tokenizer, make_trained_lora

# A Hermes / Qwen-style template, as Qwen3's renders tools: a <tools> block in the system turn.
HERMES = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "{% if message['role'] == 'system' and tools %}\n# Tools\n<tools>\n"
    "{% for tool in tools %}{{ tool | tojson }}\n{% endfor %}</tools>\n"
    'For each call, return <tool_call>{"name": <name>, "arguments": <args>}</tool_call>'
    "{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
CALL = '<tool_call>{"name": "open_app"}</tool_call>'  # arguments may be omitted, as Hermes parsers allow


def test_a_tools_aware_template_renders_the_tools_section() -> None:
    tokenizer = make_tokenizer()
    tokenizer.chat_template = HERMES
    tools = load_suite().function_schemas()
    rendered = build_prompt(tokenizer, "Tu es JARVIS.", "monte le son", tools)
    assert "<tools>" in rendered and '"name": "volume_up"' in rendered and '"name": "reminder_create"' in rendered
    assert rendered.index("<tools>") < rendered.index("monte le son"), "in the system turn, shared by every prompt"
    assert not template_ignores_tools(tokenizer, tools)
    plain = make_tokenizer()  # the tiny ChatML template, like SmolLM2's, has no tools section
    assert template_ignores_tools(plain, tools)


def test_the_suite_gives_function_schemas_and_the_instructions_alone() -> None:
    suite = load_suite()
    schemas = {s["function"]["name"]: s["function"] for s in suite.function_schemas()}
    assert len(schemas) == 20
    assert schemas["open_app"]["parameters"]["required"] == ["app"]
    # Suite 2.0 gives every tool its runtime schema (evals/runtime/tools.py); a tool without arguments has none.
    assert set(schemas["volume_up"]["parameters"]["properties"]) == {"step", "level"}
    assert schemas["screenshot"]["parameters"] == {"type": "object", "properties": {}}
    native = suite.system_prompt_for("native-tools")
    assert "Outils" not in native and "volume_up" not in native and native.startswith("Tu es JARVIS")
    assert suite.system_prompt_for("system-text") == suite.system_prompt


@pytest.fixture(scope="module")
def hermes_model(tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with the tools-aware template."""
    folder = Path(shutil.copytree(tiny_model_dir, tmp_path_factory.mktemp("hermes") / "model"))
    (folder / "chat_template.jinja").write_text(HERMES, encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def native_adapter(hermes_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A LoRA trained on the native-tools rendering to answer with a <tool_call> block."""
    suite_file = tmp_path_factory.mktemp("suite") / "mini.yaml"
    suite_file.write_text(MINI_SUITE, encoding="utf-8")
    tools = load_suite(suite_file).function_schemas()
    return make_trained_lora(hermes_model, tmp_path_factory.mktemp("native"), CALL, PROMPTS, SYSTEM, 150, tools)


@pytest.fixture
def bench(pytester: pytest.Pytester):
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")

    def run(model: Path, adapter: Path, *args: str) -> pytest.RunResult:
        return pytester.runpytest(
            "-m", "jarvis", "--jarvis-suite=mini.yaml", f"--jarvis-model={model}", f"--jarvis-adapter={adapter}",
            "--jarvis-quant=none", "--jarvis-max-new-tokens=60", f"--jarvis-cache-dir={pytester.path / 'cache'}",
            "--jarvis-assert=none", "-p", "no:cacheprovider", *args,
        )  # fmt: skip

    return run


def results(pytester: pytest.Pytester) -> dict:
    return json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())


def test_native_tool_calls_are_scored_as_calls(
    bench, pytester: pytest.Pytester, hermes_model: Path, native_adapter: Path
) -> None:
    native = bench(hermes_model, native_adapter, "--jarvis-prompt-format=native-tools")
    assert native.ret == 0, native.stdout.str()
    data = results(pytester)
    assert data["metadata"]["generation"]["prompt_format"] == "native-tools"
    for case in data["results"]:
        tuned = case["arms"][data["metadata"]["primary"]]
        assert tuned["answer"].startswith('<tool_call>{"name": "open_app"'), tuned["answer"]
        assert (tuned["relevance"], tuned["valid_call"]) == (1.0, 1.0)
        assert tuned["calls"][0]["name"] == "open_app"
    assert not any("ignores `tools`" in w for w in data.get("warnings", []))
    # The format is part of the cache key: asked with the tools in the text, nothing is reused.
    text = bench(hermes_model, native_adapter, "--jarvis-prompt-format=system-text")
    assert text.ret == 0
    meta = results(pytester)["metadata"]
    assert (meta["n_cached_answers"], meta["generation"]["prompt_format"]) == (0, "system-text")


def test_a_template_that_ignores_tools_is_a_warning_not_an_error(
    bench, pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    result = bench(tiny_model_dir, tiny_adapter_dir, "--jarvis-prompt-format=native-tools")
    assert result.ret == 0, result.stdout.str()
    warning = f"the chat template of {tiny_model_dir} ignores `tools`"
    assert sum(warning in line for line in result.stderr.lines) == 1, "said once, in the run's header"
    assert any(w.startswith(warning) for w in results(pytester)["warnings"])
    result.stdout.fnmatch_lines([f"warning: {warning}*"])


def test_the_prompt_format_is_part_of_the_baseline_identity() -> None:
    from evals.gate.baseline import RunIdentity
    from evals.records import GenerationSettings
    from tests.factories import make_metadata

    def identity(prompt_format: str | None) -> RunIdentity:
        return RunIdentity.of(make_metadata(generation=GenerationSettings(prompt_format=prompt_format)))

    text, native, before = identity("system-text"), identity("native-tools"), identity(None)
    assert text.differences(native) == ["prompt_format system-text (baseline) vs native-tools (this run)"]
    assert before.differences(text) == [], "a baseline from before native tools asked in the system text"
    assert before.differences(native) == ["prompt_format system-text (baseline) vs native-tools (this run)"]


def test_native_training_answers_with_one_tool_call_per_tool() -> None:
    from evals.training.trainer import native_answer
    from evals.training.trainset import TrainExample

    example = TrainExample(
        prompt="baisse le son et verrouille", answer="volume_down, lock_screen", tools=("volume_down", "lock_screen")
    )
    blocks = native_answer(example).split("\n</tool_call>")
    assert native_answer(example).count("<tool_call>") == 2
    assert json.loads(blocks[0].split("<tool_call>\n")[1]) == {"name": "volume_down", "arguments": {}}
    # Suite 2.0's answers carry arguments and a confirmation; a no-call answer stays words.
    with_args = TrainExample("ouvre discord", 'open_app(app="discord") — J\'ouvre Discord.', ("open_app",))
    first = native_answer(with_args).split("\n</tool_call>")
    assert json.loads(first[0].split("<tool_call>\n")[1]) == {"name": "open_app", "arguments": {"app": "discord"}}
    assert first[1].strip() == "J'ouvre Discord."
    assert native_answer(TrainExample("merci", "Avec plaisir.", ())) == "Avec plaisir."
