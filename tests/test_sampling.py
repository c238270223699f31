"""Sampled decoding (issue 25): seeds per (case, sample), batch-independent draws, cache keys, options, rates."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import replace
from pathlib import Path

import pytest

from evals.backends.base import Arm, Prompt
from evals.backends.sampling import Sampling, resolve_sampling, seeded_sampler
from evals.fingerprints import CacheContext, entry_key
from evals.records import BASE_ARM, GenerationSettings, encode
from evals.scoring import score_case, score_samples
from evals.suite import load_suite

SAMPLED = GenerationSettings(max_new_tokens=6, decoding="sampled", samples=3, do_sample=True)
IDENTITY = {"backend": "hf", "model": "m" * 64, "quantization": "none", "device": "cpu"}


# --- seeds and keys ----------------------------------------------------------------------------


def test_a_sample_seed_depends_on_the_prompt_its_index_and_the_run_seed_only() -> None:
    prompt = Prompt("système", "monte le son", sample=0)
    again = Prompt("système", "monte le son", sample=0)
    assert prompt.seed() == again.seed()  # nothing else (batch, arm, order) enters it
    assert prompt.seed() != replace(prompt, sample=1).seed()
    assert prompt.seed() != replace(prompt, user="baisse le son").seed()
    assert prompt.seed() != prompt.seed(run_seed=1)
    assert replace(prompt, sample=None).seed() == prompt.seed()  # the greedy prompt is sample 0
    assert all(0 <= replace(prompt, sample=i).seed() < 2**31 for i in range(50))  # fits any server's seed


def test_greedy_cache_keys_are_the_keys_of_before_sampling_existed() -> None:
    before = {k: v for k, v in encode(GenerationSettings()).items() if k not in ("decoding", "samples", "seed")}
    before = {k: v for k, v in before.items() if k not in ("temperature", "top_p", "top_k")}
    old = CacheContext(backend=IDENTITY, generation=before)
    new = CacheContext(backend=IDENTITY, generation=GenerationSettings())
    assert entry_key(old, "none", "s", "u") == entry_key(new, "none", "s", "u")


def test_sampled_keys_hold_the_sample_index_and_the_decoding_but_not_the_number_of_samples() -> None:
    context = CacheContext(backend=IDENTITY, generation=SAMPLED)
    greedy = CacheContext(backend=IDENTITY, generation=GenerationSettings(max_new_tokens=6))
    keys = {entry_key(context, "none", "s", "u", sample=i) for i in range(3)}
    assert len(keys) == 3
    assert entry_key(greedy, "none", "s", "u") not in keys
    five = CacheContext(backend=IDENTITY, generation=replace(SAMPLED, samples=5))
    assert entry_key(five, "none", "s", "u", sample=2) == entry_key(context, "none", "s", "u", sample=2)
    hotter = CacheContext(backend=IDENTITY, generation=replace(SAMPLED, temperature=1.5))
    assert entry_key(hotter, "none", "s", "u", sample=0) != entry_key(context, "none", "s", "u", sample=0)
    reseeded = CacheContext(backend=IDENTITY, generation=replace(SAMPLED, seed=7))
    assert entry_key(reseeded, "none", "s", "u", sample=0) != entry_key(context, "none", "s", "u", sample=0)


# --- the sampler -------------------------------------------------------------------------------


def test_resolve_sampling_takes_the_options_then_the_model_then_transformers_defaults() -> None:
    qwen = {"temperature": 0.6, "top_p": 0.95, "top_k": 20, "min_p": 0.0}
    assert resolve_sampling(SAMPLED, qwen) == Sampling(0.6, 0.95, 20, None)
    assert resolve_sampling(replace(SAMPLED, temperature=1.2, top_k=5), qwen) == Sampling(1.2, 0.95, 5, None)
    assert resolve_sampling(SAMPLED, {}) == Sampling(1.0, 1.0, 50, None)


def test_the_seeded_sampler_draws_from_the_warped_distribution() -> None:
    """Exponential race over many seeds: token frequencies match softmax(logits / T) after top-k."""
    import torch

    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]])
    sampling = Sampling(temperature=0.8, top_p=1.0, top_k=4, min_p=None)
    draws = 6000
    counts: Counter[int] = Counter()
    sampler = seeded_sampler(sampling, list(range(draws)))
    scores = sampler(torch.zeros((draws, 1), dtype=torch.long), logits.repeat(draws, 1))
    counts.update(int(i) for i in scores.argmax(dim=-1))
    kept = torch.softmax(logits[0, :4] / 0.8, dim=-1)
    assert counts[4] == 0  # outside the top 4: never drawn
    for token in range(4):
        expected = float(kept[token])
        sd = math.sqrt(expected * (1 - expected) / draws)
        assert abs(counts[token] / draws - expected) < 4 * sd, (token, counts[token] / draws, expected)


def _backend(tiny_model_dir: Path):  # type: ignore[no-untyped-def]
    from evals.backends.hf import HFBackend

    return HFBackend(str(tiny_model_dir), "none", False, [Arm(BASE_ARM)])


def test_samples_do_not_depend_on_the_batch_they_ran_in(tiny_model_dir: Path) -> None:
    prompts = [Prompt("sys", user, sample=i) for user in ("bonjour", "monte le son", "encore") for i in range(3)]
    arm = Arm(BASE_ARM)
    together = _backend(tiny_model_dir).generate({arm: prompts}, replace(SAMPLED, batch_size="auto"))[arm]
    one_by_one = _backend(tiny_model_dir).generate({arm: prompts[::-1]}, replace(SAMPLED, batch_size="1"))[arm]
    assert [a.text for a in together] == [a.text for a in one_by_one[::-1]]
    texts = [a.text for a in together]
    assert len(set(texts)) > len(texts) // 2  # the samples of one prompt differ (a random tiny model)
    reseeded = _backend(tiny_model_dir).generate({arm: prompts}, replace(SAMPLED, seed=1))[arm]
    assert [a.text for a in reseeded] != texts


def test_a_cold_temperature_samples_the_greedy_answer(tiny_model_dir: Path) -> None:
    arm = Arm(BASE_ARM)
    prompt = Prompt("sys", "monte le son")
    backend = _backend(tiny_model_dir)
    greedy = backend.generate({arm: [prompt]}, GenerationSettings(max_new_tokens=6))[arm][0].text
    cold = replace(SAMPLED, temperature=1e-4, top_k=None)
    sampled = backend.generate({arm: [replace(prompt, sample=i) for i in range(3)]}, cold)[arm]
    assert [a.text for a in sampled] == [greedy] * 3


# --- rates -------------------------------------------------------------------------------------


def test_an_arms_scores_over_samples_are_its_rates_and_sample_0_is_shown() -> None:
    suite = load_suite(None)
    case = next(c for c in suite.cases if c.expected_tools == ("volume_up",))
    good = "volume_up() — Je monte le son."
    bad = "Je ne peux pas monter le son."
    score = score_samples([bad, good, good, bad, good], case, suite)
    assert score.answer == bad and score.n_samples == 5
    assert score.relevance == pytest.approx(0.6)
    assert score.task_success == pytest.approx(0.6)
    assert score.successes("relevance") == (False, True, True, False, True)
    assert score.rate("tool_names_ok") == pytest.approx(0.6)
    one = score_samples([good], case, suite)
    assert one.samples == () and one.relevance == 1.0 and one.successes("relevance") == (True,)
    result = score_case(case, {BASE_ARM: [bad, bad, bad], "lora": [good, good, bad]}, suite)
    assert result.versus("lora").relevance_delta == pytest.approx(2 / 3)


# --- budgets -----------------------------------------------------------------------------------


def test_the_budget_line_counts_answers_and_estimates_from_the_last_runs_measured_rate(tmp_path: Path) -> None:
    import json

    from evals.budget import budget_line, measured_rate, shape

    assert shape(30, 2, 5) == "30 cases x 2 arms x 5 samples = 300 answers"
    assert shape(30, 2, 1) == "30 cases x 2 arms = 60 answers"
    results = tmp_path / "benchmark_results.json"
    assert measured_rate(results) is None  # no earlier run: no time is made up
    assert "no earlier run on record" in budget_line(300, shape(30, 2, 5), None)
    meta = {"generation_seconds": 60.0, "n_fresh_answers": 60, "n_new_tokens": 1200, "device": "cpu"}
    results.write_text(json.dumps({"metadata": meta}))
    rate = measured_rate(results)
    assert rate is not None and rate.seconds_per_answer == 1.0 and rate.tokens_per_second == 20.0
    line = budget_line(300, shape(30, 2, 5), rate)
    assert line.startswith("300 answers to generate (30 cases x 2 arms x 5 samples = 300 answers)")
    assert "about 5 min at the last run's 1.00 s per answer, 20 tok/s" in line
    results.write_text(json.dumps({"metadata": {**meta, "n_fresh_answers": 0}}))  # a cached run measured nothing
    assert measured_rate(results) is None


def test_check_counts_the_generations_to_come() -> None:
    from evals.cli.check import CheckOptions, check_budget

    suite = load_suite(None)
    row = check_budget(suite, CheckOptions(decoding="sampled", samples=5, reports=Path("/nonexistent")))
    assert row.status == "ok" and "300 answers to generate" in row.detail
    refused = check_budget(suite, CheckOptions(samples=5))
    assert refused.status == "FAIL" and "--decoding sampled" in (refused.fix or "")
