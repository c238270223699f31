"""Power with sampled answers: the seeded simulation, checked against runs tested by the gate's own rule."""

from __future__ import annotations

import random

import pytest

from evals.power import catch_probability
from evals.sampled_power import cases_needed, catch_rate, detectable_drop, samples_needed
from evals.stats import clustered_bootstrap, paired_block

# A sampled profile of 30 cases, 5 answers each: 18 always right, 6 right 4 times in 5, 3 half
# right (relevance 0.5 each time), 3 right once in 5.
PROFILE = [[1.0] * 5] * 18 + [[1.0] * 4 + [0.0]] * 6 + [[0.5] * 5] * 3 + [[1.0] + [0.0] * 4] * 3


def _planted_catch_rate(drop: float, runs: int) -> float:
    """Resample cases and samples twice, plant the drop in the second draw, test with the clustered bootstrap and sign test."""
    rng = random.Random(round(drop * 1000))
    mean = sum(sum(s) / len(s) for s in PROFILE) / len(PROFILE)
    caught = 0
    for i in range(runs):
        cases = [rng.choice(PROFILE) for _ in PROFILE]
        before = [[rng.choice(s) for _ in s] for s in cases]
        after = [[0.0 if rng.random() < drop / mean else rng.choice(s) for _ in s] for s in cases]
        diffs = [sum(a) / len(a) - sum(b) / len(b) for a, b in zip(after, before, strict=True)]
        interval = clustered_bootstrap(before, after, resamples=300, seed=i)
        block = paired_block(diffs, interval=interval)
        caught += block.significant and block.mean_diff < 0
    return caught / runs


@pytest.mark.parametrize("drop", [0.04, 0.08, 0.12])
def test_the_simulated_power_matches_resampled_runs_with_a_planted_drop(drop: float) -> None:
    """Three effect sizes (caught about 1, 5 and 8 times in 10): the computed power is the catch rate, ±10 points."""
    planted = _planted_catch_rate(drop, runs=200)
    assert catch_rate(PROFILE, drop) == pytest.approx(planted, abs=0.10)


def test_the_catch_rate_is_seeded_and_grows_with_the_drop() -> None:
    rates = [catch_rate(PROFILE, d) for d in (0.0, 0.05, 0.1, 0.2, 0.4)]
    assert rates == sorted(rates) and rates[-1] > 0.95
    assert rates[0] <= 0.05, "no drop: re-sampling noise alone is called a loss at most alpha of the time"
    assert catch_rate(PROFILE, 0.1) == catch_rate(PROFILE, 0.1), "the same seed, the same figure"


def test_the_detectable_drop_is_where_the_simulated_power_reaches_80_percent() -> None:
    drop = detectable_drop(PROFILE)
    assert drop is not None and 0.0 < drop < 0.3
    assert catch_rate(PROFILE, drop) >= 0.80 > catch_rate(PROFILE, drop - 0.02)
    assert detectable_drop([[1.0] * 5] * 4 + [[0.0] * 5] * 4) is None, "fewer cases can drop than the sign test needs"


def test_one_sample_per_case_agrees_with_the_closed_form() -> None:
    """N = 1 and stable cases: the simulation is the greedy model, whose catch probability is exact."""
    greedy = [1.0] * 24 + [0.5] * 2 + [0.0] * 4
    for drop in (0.15, 0.3):
        assert catch_rate([[r] for r in greedy], drop) == pytest.approx(catch_probability(greedy, drop), abs=0.08)


def test_more_cases_or_more_samples_reach_the_tolerance() -> None:
    cases = cases_needed(PROFILE, 0.05)
    assert cases is not None and cases > len(PROFILE)
    assert catch_rate(PROFILE, 0.05, cases=cases) >= 0.80
    assert catch_rate(PROFILE, 0.05, cases=cases * 3 // 4) < 0.80
    # More samples per case turn a small drop into losses the sign test counts (a stable case drops as soon as one
    # of its samples does), up to a limit: these 30 cases at 5 samples catch a drop of 0.1 less than 80 % of the time.
    assert catch_rate(PROFILE, 0.1) < 0.80
    needed = samples_needed(PROFILE, 0.1)
    assert needed is not None and needed > 5 and catch_rate(PROFILE, 0.1, per_case=needed) >= 0.80
