"""Paired bootstrap, exact sign test and the paired / vs-baseline report sections."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pytest

from evals.gate.baseline import Baseline
from evals.records import RunResults, ScoredCase, encode
from evals.stats import baseline_section, count_signs, paired_bootstrap, paired_section, sign_test
from tests.factories import make_results, scored

BLOCK_KEYS = {"n", "mean_diff", "ci_low", "ci_high", "sign_test_p", "wins", "losses", "ties", "significant"}
BASELINE_BLOCK_KEYS = {"n_common", "mean_diff", "ci_low", "ci_high", "sign_test_p", "significant"}


def results(cases: Sequence[ScoredCase]) -> RunResults:
    return make_results(cases, categories=())


# --- sign test ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wins", "losses", "expected"),
    [
        (10, 0, 2 / 1024),  # 0.001953125
        (0, 10, 2 / 1024),
        (5, 5, 1.0),
        (0, 0, 1.0),
        (1, 0, 1.0),
        (6, 0, 2 / 64),
        (8, 2, 2 * (1 + 10 + 45) / 1024),
        (12, 1, 2 * (1 + 13) / 8192),
    ],
)
def test_sign_test_exact_values(wins: int, losses: int, expected: float) -> None:
    assert sign_test(wins, losses) == pytest.approx(expected, rel=1e-12)


def test_sign_test_large_counts_stay_finite() -> None:
    p = sign_test(600, 400)
    assert 0.0 < p < 1e-9
    assert sign_test(500, 500) == 1.0


@pytest.mark.parametrize(("wins", "losses"), [(-1, 0), (0, 1.5), (True, 0)])
def test_sign_test_rejects_non_counts(wins: object, losses: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        sign_test(wins, losses)  # type: ignore[arg-type]


def test_count_signs_treats_rounding_noise_as_a_tie() -> None:
    assert count_signs([0.5, -0.5, 0.0, 1e-15, -1e-15, 0.1]) == (2, 1, 3)


# --- bootstrap ------------------------------------------------------------------------------


def test_bootstrap_of_no_data_is_zero_and_defined() -> None:
    interval = paired_bootstrap([])
    assert (interval.mean, interval.low, interval.high, interval.n) == (0.0, 0.0, 0.0, 0)
    assert not interval.excludes_zero


def test_bootstrap_of_one_value_is_degenerate() -> None:
    interval = paired_bootstrap([0.4])
    assert (interval.mean, interval.low, interval.high, interval.n) == (0.4, 0.4, 0.4, 1)


def test_bootstrap_is_seeded_and_brackets_the_mean() -> None:
    diffs = np.random.default_rng(7).normal(0.2, 0.5, size=25)
    first = paired_bootstrap(diffs, resamples=2000, seed=3)
    assert first == paired_bootstrap(diffs, resamples=2000, seed=3)
    assert first != paired_bootstrap(diffs, resamples=2000, seed=4)
    assert first.low <= first.mean <= first.high
    assert first.mean == pytest.approx(float(np.mean(diffs)))


def test_bootstrap_of_constant_diffs_is_a_point() -> None:
    interval = paired_bootstrap([1 / 3] * 12, resamples=500)
    assert interval.low == interval.mean == interval.high == pytest.approx(1 / 3)


def test_bootstrap_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        paired_bootstrap([0.1, float("nan")])
    with pytest.raises(ValueError, match="resamples"):
        paired_bootstrap([0.1, 0.2], resamples=0)
    with pytest.raises(ValueError, match="confidence"):
        paired_bootstrap([0.1, 0.2], confidence=95)


@pytest.mark.parametrize(
    "draw",
    [
        pytest.param(lambda rng, n: rng.normal(0.1, 0.3, n), id="normal"),
        # Relevance differences are few discrete values; mean of this mix is 0.1.
        pytest.param(lambda rng, n: rng.choice([-1.0, 0.0, 0.0, 0.5, 1.0], n), id="discrete"),
    ],
)
def test_bootstrap_interval_covers_the_true_mean_at_about_the_nominal_rate(draw) -> None:
    rng = np.random.default_rng(2026)
    datasets = 200
    covered = 0
    for i in range(datasets):
        interval = paired_bootstrap(draw(rng, 30), resamples=1000, confidence=0.95, seed=i)
        covered += interval.low <= 0.1 <= interval.high
    assert 0.90 <= covered / datasets <= 0.98


# --- report sections ------------------------------------------------------------------------


def test_paired_section_schema_and_counts() -> None:
    cases = [scored(f"c{i}", "commands", 0.0, 1.0) for i in range(8)]
    cases += [scored(f"r{i}", "routing", 0.5, 0.5) for i in range(4)]
    cases += [scored("r-loss", "routing", 1.0, 0.0)]
    section = encode(paired_section(cases, resamples=500, seed=1))

    assert set(section) == {"resamples", "seed", "confidence", "overall", "by_category", "metric", "clustered"}
    assert section["clustered"] is False  # one answer per case: the plain paired bootstrap
    assert (section["resamples"], section["seed"], section["confidence"]) == (500, 1, 0.95)
    assert list(section["by_category"]) == ["commands", "routing"]  # only what ran, suite order
    for block in [section["overall"], *section["by_category"].values()]:
        assert set(block) == BLOCK_KEYS
    overall = section["overall"]
    assert (overall["n"], overall["wins"], overall["losses"], overall["ties"]) == (13, 8, 1, 4)
    assert overall["mean_diff"] == pytest.approx(7 / 13)
    assert overall["sign_test_p"] == pytest.approx(sign_test(8, 1))
    assert overall["significant"] is True
    routing = section["by_category"]["routing"]
    assert (routing["wins"], routing["losses"], routing["ties"]) == (0, 1, 4)
    assert routing["significant"] is False
    json.dumps(section)  # plain JSON: no numpy scalars


def test_paired_section_needs_the_sign_test_too() -> None:
    # 4 wins among 26 ties: the bootstrap interval excludes 0, the exact sign test (p=0.125) does not.
    cases = [scored(f"c{i}", "commands", 0.0, 1.0) for i in range(4)]
    cases += [scored(f"t{i}", "commands", 1.0, 1.0) for i in range(26)]
    block = encode(paired_section(cases, resamples=2000))["overall"]
    assert block["ci_low"] > 0
    assert block["sign_test_p"] == pytest.approx(0.125)
    assert block["significant"] is False


def test_paired_section_of_a_single_case_is_never_significant() -> None:
    block = encode(paired_section([scored("c0", "commands", 0.0, 1.0)]))["overall"]
    assert (block["n"], block["ci_low"], block["ci_high"], block["significant"]) == (1, 1.0, 1.0, False)


def test_paired_section_of_no_case_is_defined() -> None:
    section = encode(paired_section([]))
    assert section["by_category"] == {}
    assert section["overall"] == {
        "n": 0, "mean_diff": 0.0, "ci_low": 0.0, "ci_high": 0.0, "sign_test_p": 1.0,
        "wins": 0, "losses": 0, "ties": 0, "significant": False,
    }  # fmt: skip


def test_baseline_section_compares_common_cases_only() -> None:
    old = [scored(f"r{i}", "routing", 0.2, 0.5) for i in range(10)] + [scored("gone", "routing", 0.0, 1.0)]
    baseline = Baseline.from_results(results(old))
    baseline = replace(baseline, path="reports/baseline.json")
    new = [scored(f"r{i}", "routing", 0.2, 1.0) for i in range(10)] + [scored("new", "commands", 0.0, 0.0)]
    section = encode(baseline_section(new, baseline, resamples=500))

    assert (
        set(section) == {"baseline", "overall", "by_category", "metric"}
        and set(section["overall"]) == BASELINE_BLOCK_KEYS
    )
    assert section["baseline"] == "reports/baseline.json"
    assert section["overall"]["n_common"] == 10
    assert section["overall"]["mean_diff"] == pytest.approx(0.5)
    assert section["overall"]["sign_test_p"] == pytest.approx(2 / 1024)
    assert section["overall"]["significant"] is True
    assert list(section["by_category"]) == ["routing"]
    assert set(section["by_category"]["routing"]) == BASELINE_BLOCK_KEYS
    assert math.isclose(section["by_category"]["routing"]["ci_low"], 0.5)
