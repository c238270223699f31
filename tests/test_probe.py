"""The forced-choice routing probe and drift outside the task (issue 26), on tiny real models."""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from evals.adapters import find_latest_adapter
from evals.drift import NeutralSet, load_neutral_set, measure_drift
from evals.errors import JarvisError
from evals.probe import Candidate, call_opening, candidates_for, probe_cases, render_case, score_prompts
from evals.records.codec import decode, encode
from evals.records.probe import NO_CALL, DriftPrompt, ProbeCase, choose, summarize_drift, summarize_probe
from evals.suite import load_suite
from tests.tiny import CHATML, make_lora

# The demo adapter of this checkout (`jarvis-evals train`), when one was trained: never another folder's.
DEMO_ADAPTER = find_latest_adapter(Path(__file__).resolve().parents[1] / "output") or Path("output/none/final")

# A Qwen3-style template: tools in the system turn, and an assistant's calls as <tool_call> blocks.
QWEN_LIKE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}"
    "{% if message['role'] == 'system' and tools %}\n<tools>\n{% for tool in tools %}{{ tool | tojson }}\n"
    "{% endfor %}</tools>{% endif %}"
    "{% for call in message.get('tool_calls', []) %}<tool_call>\n"
    '{"name": "{{ call.function.name }}", "arguments": {{ call.function.arguments | tojson }}}\n</tool_call>'
    "{% endfor %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny(tiny_model_dir: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM

    from evals.hfload import load_tokenizer

    return AutoModelForCausalLM.from_pretrained(tiny_model_dir).eval(), load_tokenizer(str(tiny_model_dir))


@pytest.fixture(scope="module")
def full_suite() -> Any:
    return load_suite(Path(__file__).resolve().parents[1] / "evals" / "suites" / "jarvis_full.yaml")


def naive_scores(model: Any, tokenizer: Any, text: str, candidates: list[Candidate]) -> tuple[list[float], float]:
    """Score each candidate with its own full forward pass over prompt + candidate: no cache, no batch."""
    import torch

    prompt = tokenizer(text, add_special_tokens=False)["input_ids"]
    totals = []
    firsts = set()
    for c in candidates:
        ids = tokenizer(c.text, add_special_tokens=False)["input_ids"]
        firsts.add(ids[0])
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([prompt + ids])).logits[0].double(), -1)
        totals.append(sum(float(logp[len(prompt) - 1 + j, t]) for j, t in enumerate(ids)))
    with torch.no_grad():
        last = torch.softmax(model(input_ids=torch.tensor([prompt])).logits[0, -1].double(), -1)
    return totals, math.log(1 - float(last[sorted(firsts)].sum()))


def test_cached_batched_scores_equal_a_naive_forward_per_candidate(tiny: tuple[Any, Any], full_suite: Any) -> None:
    model, tokenizer = tiny
    # A command, a multi-tool case, a no-tool case and a follow-up with history: different prompt lengths.
    picked = [c for c in full_suite.cases if c.id in {"cmd_open_chrome", "route_multi_volume_music"}]
    picked += [next(c for c in full_suite.cases if c.expects_nothing), next(c for c in full_suite.cases if c.history)]
    texts = [render_case(tokenizer, full_suite, c, "system-text") for c in picked]
    candidates = list(candidates_for(tokenizer, full_suite, "system-text"))
    # A one-token candidate (no tree node) and a whole answer (a long branch) too.
    candidates += [Candidate("x", "x"), Candidate("long", 'open_app(app="chrome") — J\'ouvre Chrome.')]
    fast = score_prompts(model, tokenizer, texts, candidates)
    alone = score_prompts(model, tokenizer, texts[:1], candidates)  # no shared prefix with one prompt
    for text, scores in zip(texts, fast, strict=True):
        expected, no_call = naive_scores(model, tokenizer, text, candidates)
        assert scores.logprobs == pytest.approx(expected, abs=1e-4)
        assert scores.no_call == pytest.approx(no_call, abs=1e-6)
    assert alone[0].logprobs == pytest.approx(fast[0].logprobs, abs=1e-4)


def test_native_tools_candidates_are_the_templates_call_opening(tiny: tuple[Any, Any], full_suite: Any) -> None:
    import copy

    model, tokenizer = tiny
    qwen = copy.deepcopy(tokenizer)
    qwen.chat_template = QWEN_LIKE
    assert call_opening(qwen, full_suite.function_schemas()) == '<tool_call>\n{"name": "JARVIS_PROBE_TOOL"'
    candidates = candidates_for(qwen, full_suite, "native-tools")
    assert candidates[0] == Candidate("volume_up", '<tool_call>\n{"name": "volume_up"')
    case = full_suite.cases[0]
    text = render_case(qwen, full_suite, case, "native-tools")
    assert "<tools>" in text  # asked as generation asks: the schemas reach the prompt
    # The schemas make this byte-level prompt longer than the tiny model's nominal 2048 positions,
    # which its rotary embedding does not need: score it whole, as the naive forward does.
    [scores] = score_prompts(model, qwen, [text], candidates, window=8192)
    expected, no_call = naive_scores(model, qwen, text, list(candidates))
    assert scores.logprobs == pytest.approx(expected, abs=1e-4)
    # Every call starts with the same token: no call is exactly 1 - P(that token).
    assert scores.no_call == pytest.approx(no_call, abs=1e-6)
    # The tiny ChatML template renders no tool calls: say so rather than score a wrong opening.
    with pytest.raises(JarvisError, match="renders no tool call"):
        candidates_for(tokenizer, full_suite, "native-tools")
    assert tokenizer.chat_template == CHATML


def test_the_forced_choice_margin_and_rank() -> None:
    logprobs = {"a": -1.0, "b": -3.0, "c": -0.5, "d": -4.0}
    right = choose("k", "base", "system-text", logprobs, ("c",), -9.0, False)
    assert (right.predicted, right.forced_choice_correct, right.rank) == ("c", True, 1)
    assert right.routing_margin == pytest.approx(0.5)  # -0.5 - (-1.0)
    assert right.is_near_tie() and not right.is_near_tie(0.4)
    assert NO_CALL not in right.logprobs  # a tool case gets no no-call candidate
    wrong = choose("k", "base", "system-text", logprobs, ("b",), -9.0, False)
    assert (wrong.predicted, wrong.forced_choice_correct, wrong.rank) == ("c", False, 3)
    assert wrong.routing_margin == pytest.approx(-2.5)  # -3.0 - (-0.5)
    assert not wrong.is_near_tie()


def test_a_multi_tool_case_is_judged_on_its_first_expected_tool() -> None:
    logprobs = {"a": -1.0, "b": -0.2, "c": -2.0}
    record = choose("k", "ft", "system-text", logprobs, ("a", "b"), -9.0, False)
    assert record.first_expected_only and record.expected == ("a",)
    assert "b" not in record.logprobs  # the later expected tool is neither target nor rival
    assert record.forced_choice_correct and record.routing_margin == pytest.approx(1.0)
    single = choose("k", "ft", "system-text", logprobs, ("a",), -9.0, False)
    assert not single.first_expected_only and not single.forced_choice_correct and single.rank == 2


def test_a_no_tool_case_competes_with_the_no_call_candidate() -> None:
    logprobs = {"a": -3.0, "b": -2.0}
    chat = choose("k", "base", "system-text", logprobs, (), math.log(0.8), True)
    assert chat.expected == (NO_CALL,) and chat.predicted == NO_CALL and chat.forced_choice_correct
    assert chat.routing_margin == pytest.approx(math.log(0.8) + 2.0)
    calls = choose("k", "base", "system-text", logprobs, (), -5.0, True)
    assert not calls.forced_choice_correct and calls.rank == 3 and calls.predicted == "b"
    with pytest.raises(ValueError, match="zzz is not among"):
        choose("k", "base", "system-text", logprobs, ("zzz",), -5.0, False)


def test_probe_records_round_trip_and_summarize(tiny: tuple[Any, Any], full_suite: Any) -> None:
    model, tokenizer = tiny
    cases = [c for c in full_suite.cases if c.expects_nothing][:2] + list(full_suite.cases[:3])
    records = probe_cases(model, tokenizer, full_suite, cases, "base")
    assert [r.case_id for r in records] == [c.id for c in cases]
    assert [NO_CALL in r.logprobs for r in records] == [True, True, False, False, False]
    for r in records:
        assert r.forced_choice_correct == (r.routing_margin > 0) == (r.rank == 1)
        assert all(v <= 0 for v in r.logprobs.values()) and r.no_call_logprob <= 0
        assert decode(ProbeCase, encode(r)) == r
    summary = summarize_probe("base", records)
    assert summary.cases == 5 and summary.correct == sum(r.forced_choice_correct for r in records)
    assert summary.near_ties == sum(abs(r.routing_margin) < 1 for r in records)


def _neutral(n: int = 3) -> NeutralSet:
    shipped = load_neutral_set()
    return NeutralSet(shipped.name, shipped.version, shipped.system_prompt, shipped.prompts[:n])


@contextmanager
def _arm(model: Any, adapter: str | None) -> Iterator[Any]:
    if adapter is None:
        with model.disable_adapter():
            yield model
    else:
        model.set_adapter(adapter)
        yield model


def _peft(model_dir: Path, adapter_dir: Path) -> Any:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(model_dir)
    return PeftModel.from_pretrained(base, str(adapter_dir), adapter_name="ft").eval()


def test_drift_is_zero_without_the_adapter_and_positive_with_it(
    tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path: Path
) -> None:
    from evals.hfload import load_tokenizer

    tokenizer = load_tokenizer(str(tiny_model_dir))
    neutral = _neutral()
    model = _peft(tiny_model_dir, tiny_adapter_dir)
    base = lambda: _arm(model, None)  # noqa: E731
    same = measure_drift(tokenizer, neutral, base, base, "base", max_new_tokens=6)
    kept: list[list[int]] = []
    moved = measure_drift(
        tokenizer,
        neutral,
        base,
        lambda: _arm(model, "ft"),
        "ft",
        max_new_tokens=6,
        batch_size=2,
        keep_answers=kept.extend,
    )
    assert [r.answer for r in same] == [r.answer for r in moved]  # both follow the base's greedy answer
    assert all(1 <= r.answer_tokens <= 6 for r in moved)
    # Generating (left-padded, one token at a time) and teacher forcing round differently, barely.
    assert all(r.mean_kl < 1e-9 and r.arm_loglik == pytest.approx(r.base_loglik, abs=1e-5) for r in same)
    assert all(r.mean_kl > 1e-4 and r.max_kl >= r.mean_kl >= 0 for r in moved)
    assert all(r.base_loglik == pytest.approx(s.base_loglik, abs=1e-6) for r, s in zip(moved, same, strict=True))
    zero = _peft(tiny_model_dir, make_lora(tiny_model_dir, tmp_path / "zero", scale=0.0))
    flat = measure_drift(tokenizer, neutral, lambda: _arm(zero, None), lambda: _arm(zero, "ft"), "ft", 6)
    assert all(0 <= r.mean_kl < 1e-9 for r in flat)
    summary = summarize_drift("ft", moved)
    assert summary.prompts == 3 and summary.mean_kl > 0 and summary.tokens == sum(r.answer_tokens for r in moved)
    assert decode(DriftPrompt, encode(moved[0])) == moved[0]
    # Along kept base answers (a later run's cache), the base is teacher-forced instead: the same drift.
    assert len(kept) == 3 and [tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in kept] == [
        r.answer for r in moved
    ]
    again = measure_drift(tokenizer, neutral, base, lambda: _arm(model, "ft"), "ft", 6, base_answers=kept)
    assert [r.answer for r in again] == [r.answer for r in moved]
    assert all(r.mean_kl == pytest.approx(m.mean_kl, abs=1e-5) for r, m in zip(again, moved, strict=True))


def test_the_shipped_neutral_set_stays_off_the_suites_topics(tmp_path: Path) -> None:
    neutral = load_neutral_set()
    assert len(neutral.prompts) >= 20 and neutral.version
    words = ("volume", "son ", "musique", "écran", "luminosité", "ouvre", "message", "rappel", "minuteur", "météo")
    assert not [p.id for p in neutral.prompts if any(w in p.prompt.lower() for w in words)]
    bad = tmp_path / "bad.yaml"
    bad.write_text("prompts: [{id: a, prompt: ''}]\n", encoding="utf-8")
    with pytest.raises(JarvisError, match="non-empty `prompt`"):
        load_neutral_set(bad)


@pytest.mark.skipif(not DEMO_ADAPTER.is_dir(), reason=f"the demo adapter {DEMO_ADAPTER} is absent")
def test_the_demo_adapter_routes_by_a_wider_margin_on_smollm2() -> None:
    """The embedded SmolLM2 in fp32 with the demo adapter: the probe separates the arms.

    ~11 s on 2 quiet cores (not asserted: other jobs on a shared machine stretch it several times).
    """
    from evals.backends.base import Arm
    from evals.backends.hf import HFBackend

    suite = load_suite()
    base, tuned = Arm("base"), Arm("demo", str(DEMO_ADAPTER))
    backend = HFBackend("embedded", "none", False, [base, tuned])
    backend.load([base, tuned])
    cases = suite.cases[:10]
    probes = {}
    for arm in (base, tuned):
        with backend._as_arm(arm) as model:
            probes[arm.name] = probe_cases(model, backend.tokenizer, suite, cases, arm.name)
    with backend._as_arm(tuned) as model:  # one case checked against the naive forward on the real model
        candidates = list(candidates_for(backend.tokenizer, suite, "system-text"))[:6]
        expected, _ = naive_scores(
            model, backend.tokenizer, render_case(backend.tokenizer, suite, cases[3], "system-text"), candidates
        )
    assert list(probes["demo"][3].logprobs.values())[:6] == pytest.approx(expected, abs=1e-3)
    tuned_summary, base_summary = summarize_probe("demo", probes["demo"]), summarize_probe("base", probes["base"])
    assert tuned_summary.accuracy >= 0.75 and tuned_summary.accuracy > base_summary.accuracy
    assert tuned_summary.mean_margin > base_summary.mean_margin + 1.0
    drift = measure_drift(
        backend.tokenizer, _neutral(4), lambda: backend._as_arm(base), lambda: backend._as_arm(tuned), "demo", 16
    )
    assert all(r.mean_kl > 0.001 and math.isfinite(r.mean_kl) for r in drift)
    assert summarize_drift("demo", drift).arm_loglik < summarize_drift("demo", drift).base_loglik


def test_scoring_needs_a_token_per_candidate(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    with pytest.raises(JarvisError, match="at least one token"):
        score_prompts(model, tokenizer, ["hello"], [Candidate("empty", "")])


def test_an_over_long_prompt_keeps_its_end_as_generation_does(tiny: tuple[Any, Any], full_suite: Any) -> None:
    model, tokenizer = tiny
    case = next(c for c in full_suite.cases if c.history)
    text = render_case(tokenizer, full_suite, case, "system-text")
    candidates = list(candidates_for(tokenizer, full_suite, "system-text"))[:5]
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    depth = max(len(tokenizer(c.text, add_special_tokens=False)["input_ids"]) for c in candidates) - 1
    window = 200  # far shorter than the prompt (byte-level: one token per byte)
    assert len(ids) > window
    scores, again = score_prompts(model, tokenizer, [text, text], candidates, window=window)  # nothing shared
    assert again == scores
    kept = tokenizer.decode(ids[-(window - depth) :])
    expected, no_call = naive_scores(model, tokenizer, kept, candidates)
    assert scores.logprobs == pytest.approx(expected, abs=1e-4)
    assert scores.no_call == pytest.approx(no_call, abs=1e-6)
    with pytest.raises(JarvisError, match="leaves no room"):
        score_prompts(model, tokenizer, [text], candidates, window=depth)


def test_tree_attention_scores_a_qwen3_model_as_a_naive_forward(tmp_path: Path, full_suite: Any) -> None:
    """Another architecture than Llama (Qwen3: q/k norms, its own rotary and mask code), same tree layout."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from tests.tiny import make_tokenizer

    tokenizer = make_tokenizer()
    config = Qwen3Config(
        vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, head_dim=16, max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )  # fmt: skip
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config).eval()
    picked = [c for c in full_suite.cases if c.id in {"cmd_open_chrome", "route_multi_volume_music"}]
    picked += [next(c for c in full_suite.cases if c.history)]
    texts = [render_case(tokenizer, full_suite, c, "system-text") for c in picked]
    candidates = list(candidates_for(tokenizer, full_suite, "system-text"))
    for text, scores in zip(texts, score_prompts(model, tokenizer, texts, candidates, batch_size=2), strict=True):
        expected, no_call = naive_scores(model, tokenizer, text, candidates)
        assert scores.logprobs == pytest.approx(expected, abs=1e-4)
        assert scores.no_call == pytest.approx(no_call, abs=1e-6)
