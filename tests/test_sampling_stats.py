"""Stability over sampled answers: the pass@k and pass^k estimators, the clustered bootstrap, the stability section."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from evals.records import RunResults
from evals.sampling import pass_all_k, pass_at_k, stability_section, unstable
from evals.stats import clustered_bootstrap, paired_bootstrap, paired_section
from tests.sampled import sampled_run, with_sections

# (base good answers, fine-tuned good answers) out of 5, per case of jarvis-full: a stable fine-tune
# on the arguments cases, a shaky one on two no-tool cases, the base mostly failing.
GOODS = {
    "arg_volume_30": (0, 5),
    "arg_volume_80": (1, 5),
    "arg_brightness_25": (2, 5),
    "arg_timer_90s": (0, 4),
    "arg_message_pepper": (5, 5),
    "arg_weather_rouen": (0, 3),
    "nt_merci_jarvis": (5, 2),
    "nt_salut": (3, 0),
    "nt_bonjour": (5, 5),
}


def test_the_estimators_match_hand_computed_values() -> None:
    # n=5, c=3, k=2: pass@2 = 1 - C(2,2)/C(5,2) = 1 - 1/10; pass^2 = C(3,2)/C(5,2) = 3/10.
    assert pass_at_k(5, 3, 2) == pytest.approx(0.9)
    assert pass_all_k(5, 3, 2) == pytest.approx(0.3)
    # k = 1 is the rate; k = n: pass^n is 1 only when every sample succeeded, pass@n 1 when one did.
    assert pass_at_k(5, 3, 1) == pass_all_k(5, 3, 1) == pytest.approx(0.6)
    assert (pass_all_k(5, 5, 5), pass_all_k(5, 4, 5), pass_at_k(5, 1, 5), pass_at_k(5, 0, 5)) == (1.0, 0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="k <= samples"):
        pass_at_k(5, 3, 6)


def test_the_estimators_are_unbiased_for_fresh_answers() -> None:
    """Averaged over every way n samples could fall, pass^k is p**k and pass@k is 1 - (1-p)**k."""
    n, k, p = 6, 3, 0.7
    weights = [math.comb(n, c) * p**c * (1 - p) ** (n - c) for c in range(n + 1)]
    assert sum(w * pass_all_k(n, c, k) for c, w in enumerate(weights)) == pytest.approx(p**k)
    assert sum(w * pass_at_k(n, c, k) for c, w in enumerate(weights)) == pytest.approx(1 - (1 - p) ** k)


def test_a_case_is_unstable_only_strictly_between_0_and_1() -> None:
    assert [unstable(r) for r in (0.0, 0.2, 0.8, 1.0)] == [False, True, True, False]


def _noisy(rng: np.random.Generator, n: int, samples: int) -> tuple[list[list[float]], list[list[float]]]:
    rates = rng.uniform(0.2, 0.8, size=n)
    base = [list((rng.random(samples) < p).astype(float)) for p in rates]
    tuned = [list((rng.random(samples) < min(1.0, p + 0.1)).astype(float)) for p in rates]
    return base, tuned


def test_the_clustered_interval_is_wider_than_the_plain_one_on_noisy_samples() -> None:
    base, tuned = _noisy(np.random.default_rng(7), 30, 5)
    diffs = [np.mean(t) - np.mean(b) for b, t in zip(base, tuned, strict=True)]
    plain, clustered = paired_bootstrap(diffs), clustered_bootstrap(base, tuned)
    assert clustered.mean == pytest.approx(plain.mean)
    assert clustered.high - clustered.low > 1.2 * (plain.high - plain.low)


def test_one_sample_per_case_gives_the_plain_bootstrap() -> None:
    base, tuned = _noisy(np.random.default_rng(3), 25, 1)
    diffs = [t[0] - b[0] for b, t in zip(base, tuned, strict=True)]
    assert clustered_bootstrap(base, tuned, resamples=2000, seed=4) == paired_bootstrap(diffs, resamples=2000, seed=4)


def test_the_clustered_interval_covers_the_true_difference_at_least_at_the_nominal_rate() -> None:
    """Resampling the samples on top of the cases counts their noise twice: conservative (the plain
    bootstrap of these rate differences covers 0.94 of the time, this one about 0.99), never over-confident."""
    rng = np.random.default_rng(2026)
    covered, datasets = 0, 120
    for i in range(datasets):
        rates = rng.uniform(0.2, 0.8, size=30)
        base = [list((rng.random(5) < p).astype(float)) for p in rates]
        tuned = [list((rng.random(5) < p + 0.1).astype(float)) for p in rates]
        interval = clustered_bootstrap(base, tuned, resamples=500, seed=i)
        covered += interval.low <= 0.1 <= interval.high
    assert covered / datasets >= 0.95


def test_ragged_samples_read_only_their_own_answers() -> None:
    """A case with fewer samples than another is padded, never scored on the padding."""
    interval = clustered_bootstrap([[1.0], [1.0, 1.0, 1.0]], [[1.0], [1.0, 1.0, 1.0]], resamples=200)
    assert (interval.mean, interval.low, interval.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same cases"):
        clustered_bootstrap([[1.0]], [])


@pytest.fixture(scope="module")
def run() -> RunResults:
    return sampled_run(GOODS, 5)


def test_a_sampled_run_compares_per_case_rates_with_a_clustered_interval(run: RunResults) -> None:
    paired = run.paired_for()
    assert paired is not None and paired.clustered
    task = run.paired_task_for()
    assert task is not None and task.clustered
    by_id = {c.id: c for c in run.pairs()}
    # The right tool with a wrong city: relevance 1 every time, the task done 3 times in 5.
    assert (by_id["arg_weather_rouen"].finetuned.relevance, by_id["arg_weather_rouen"].finetuned.task_success) == (
        1.0,
        pytest.approx(0.6),
    )
    # The sign test counts per-case rate differences; equal rates (5/5 against 5/5) are ties.
    assert (task.overall.wins, task.overall.losses, task.overall.ties) == (5, 2, 2)
    assert task.overall.mean_diff == pytest.approx((5 + 4 + 3 + 4 + 0 + 3 - 3 - 3 + 0) / 45)
    power = run.power_for()
    assert power is not None and power.samples == 5 and power.overall.samples_for_tolerance is not None  # simulated
    assert paired_section(run.pairs(), metric="task_success") == task, "seeded"
    # Either arm with samples makes the interval clustered (the base may have been served greedy).
    one_base = [replace(c, base=replace(c.base, samples=())) for c in run.pairs()]
    assert paired_section(one_base, resamples=2000).clustered


def test_the_stability_section_lists_the_unstable_cases_and_the_pass_rates(run: RunResults) -> None:
    section = run.stability_for()
    assert section is not None and (section.samples, section.k) == (5, 5)
    assert list(section.metrics) == ["relevance", "task_success"]
    tuned = section.metrics["task_success"]["lora"]
    assert tuned.unstable == (("arg_timer_90s", 0.8), ("arg_weather_rouen", 0.6), ("nt_merci_jarvis", 0.4))
    assert tuned.pass_at_1 == pytest.approx((5 + 5 + 5 + 4 + 5 + 3 + 2 + 0 + 5) / 45)
    assert tuned.pass_all_k == pytest.approx(5 / 9)  # 5 of 9 cases right every time
    assert tuned.pass_at_k == pytest.approx(8 / 9)  # all but nt_salut right at least once
    base = section.metrics["task_success"]["base"]
    assert [case for case, _ in base.unstable] == ["arg_volume_80", "arg_brightness_25", "nt_salut"]
    # k = 2: pass^2 = c(c-1)/20 per case: five cases at 1, then 4/5 -> 0.6, 3/5 -> 0.3, 2/5 -> 0.1, 0/5 -> 0.
    at_2 = stability_section(run.pairs(), "lora", k=2)
    assert at_2 is not None and at_2.k == 2
    assert at_2.metrics["task_success"]["lora"].pass_all_k == pytest.approx((5 + 0.6 + 0.3 + 0.1) / 9)
    with pytest.raises(ValueError, match="k must be between 1 and the 5 samples"):
        stability_section(run.pairs(), "lora", k=6)


def test_a_greedy_run_has_no_stability_section_and_keeps_its_paired_interval() -> None:
    greedy = sampled_run({k: (base // 5, tuned // 5) for k, (base, tuned) in GOODS.items()}, 1)
    assert greedy.stability == {} and greedy.paired_for() is not None
    assert not greedy.paired_for().clustered  # type: ignore[union-attr]
    assert "stability" not in greedy.to_dict()
    power = greedy.power_for()
    assert power is not None and power.samples == 1 and power.overall.samples_for_tolerance is None  # closed form
    diffs = [d for c in greedy.pairs() if (d := c.delta("relevance")) is not None]
    assert greedy.paired_for().overall.ci_low == paired_bootstrap(diffs, resamples=2000).low  # type: ignore[union-attr]


def test_a_sampled_run_round_trips_through_json(run: RunResults) -> None:
    import json

    again = RunResults.from_dict(json.loads(json.dumps(run.to_dict())))
    assert again.stability == run.stability and again.paired == run.paired and again.power == run.power
    assert with_sections(again).stability == run.stability


def test_the_leaderboard_of_sampled_adapters_reads_clustered_intervals(run: RunResults) -> None:
    from evals.stats import leaderboard
    from tests.factories import make_adapters_run

    other = sampled_run({k: (base, max(0, tuned - 2)) for k, (base, tuned) in GOODS.items()}, 5, sections=False)
    two = make_adapters_run({"lora": ("a", run.pairs()), "worse": ("b", other.pairs())}, primary="lora")
    board = leaderboard(two, resamples=2000, metric="task_success")
    assert [r.name for r in board.rows] == ["lora", "worse"]
    assert board.rows[0].vs_base == paired_section(two.pairs("lora"), resamples=2000, metric="task_success").overall
    duel = board.best_vs_runner_up
    # Two fewer tasks done in every case that had any: 8 wins, nt_salut (0 and 0) a tie.
    assert duel is not None and (duel.wins, duel.losses, duel.ties) == (8, 0, 1)
    diffs = [
        (c.finetuned.task_success or 0) - (o.finetuned.task_success or 0)
        for c, o in zip(run.pairs(), other.pairs(), strict=True)
    ]
    plain = paired_bootstrap(diffs, resamples=2000)
    assert duel.ci_high - duel.ci_low > plain.high - plain.low
