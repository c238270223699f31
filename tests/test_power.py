"""The minimum detectable drop: its closed form, checked against resampled runs with planted drops."""

from __future__ import annotations

import math
import random

import pytest

from evals.power import cases_needed, catch_probability, detectable_drop, min_losses, power_section, sentence
from evals.stats import paired_block
from tests.factories import make_results, scored

# The demo adapter's profile on the shipped suite: 24 cases right, 2 half right, 4 wrong.
DEMO = [1.0] * 24 + [0.5] * 2 + [0.0] * 4


def test_the_sign_test_needs_six_lost_cases_at_five_percent() -> None:
    assert min_losses(0.05) == 6  # 2 / 2**6 = 0.031 < 0.05 <= 2 / 2**5
    assert min_losses(0.01) == 8


def test_the_catch_probability_is_a_binomial_tail() -> None:
    # Ten cases at 1.0, a drop of 0.5: each is lost with probability 0.5; caught with 6 or more lost.
    expected = sum(math.comb(10, k) for k in range(6, 11)) / 2**10
    assert catch_probability([1.0] * 10, 0.5) == pytest.approx(expected)
    assert catch_probability([1.0] * 10, 0.0) == 0.0
    assert catch_probability([1.0] * 5 + [0.0] * 25, 1.0) == 0.0, "five cases can drop: the sign test never rejects"


def test_the_detectable_drop_is_where_the_catch_probability_reaches_80_percent() -> None:
    drop = detectable_drop(DEMO)
    assert drop is not None and 0.0 < drop < 0.5
    assert catch_probability(DEMO, drop) >= 0.80 > catch_probability(DEMO, drop - 0.01)
    assert detectable_drop([1.0] * 5 + [0.0] * 5) is None, "fewer cases can drop than the test needs"
    assert detectable_drop([1.0] * 300) < detectable_drop([1.0] * 30), "more cases, smaller detectable drop"


def test_cases_needed_reach_the_target_and_one_fewer_does_not() -> None:
    needed = cases_needed(DEMO, 0.05)
    assert needed is not None and needed > len(DEMO)
    share, mean = 26 / 30, sum(DEMO) / 30
    assert needed == min(
        n for n in range(len(DEMO), needed + 1) if _binomial_tail(round(share * n), 0.05 / mean, 6) >= 0.80
    )


@pytest.mark.parametrize("drop", [0.15, 0.25, 0.35])
def test_the_closed_form_matches_resampled_runs_with_a_planted_drop(drop: float) -> None:
    """Resample the cases, plant a drop of known size, run the gate's own test: the catch rate is the computed one."""
    rng = random.Random(int(drop * 100))
    mean = sum(DEMO) / len(DEMO)
    runs, caught = 400, 0
    for i in range(runs):
        sample = [rng.choice(DEMO) for _ in DEMO]
        after = [0.0 if r > 0 and rng.random() < drop / mean else r for r in sample]
        block = paired_block([a - b for a, b in zip(after, sample, strict=True)], resamples=300, seed=i)
        caught += block.significant and block.mean_diff < 0
    assert caught / runs == pytest.approx(catch_probability(DEMO, drop), abs=0.10)


def test_every_report_of_a_run_says_what_it_can_detect() -> None:
    from evals.reports.ci import markdown_summary
    from evals.reports.terminal import summary_lines
    from evals.reports.text import render_text

    cases = [scored(f"c{i}", "routing" if i % 2 else "commands", 0.0, r) for i, r in enumerate(DEMO)]
    section = power_section(cases, tolerance=0.02)
    results = make_results(cases, sections={})
    from dataclasses import replace

    results = replace(results, power={"lora": section})
    said = sentence(section)
    assert said.startswith(f"this run can detect a relevance drop of {section.overall.detectable_drop:.2f} or more")
    assert "the gate's tolerance 0.02 is below it: a real drop of 0.05 would almost never be significant (0." in said
    assert "a gate failure by less than 0.24 shows these 30 cases dropped, not that the adapter did" in said
    text = " ".join(render_text(results).split())
    assert "POWER (" in text and said[1:] in text
    assert f"power: {said}" in summary_lines(results, None, [], [])
    assert "**Power:**" in markdown_summary(results)
    assert set(section.by_category) == {"commands", "routing"}


def test_a_run_too_small_to_detect_anything_says_so() -> None:
    section = power_section([scored("c1", "routing", 0.0, 1.0)], tolerance=0.02)
    assert section.overall.detectable_drop is None
    assert sentence(section).startswith("this run cannot detect a relevance drop of any size at 80 % power")


def _binomial_tail(m: int, q: float, k_min: int) -> float:
    return sum(math.comb(m, k) * q**k * (1 - q) ** (m - k) for k in range(k_min, m + 1))
