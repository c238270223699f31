"""Statistics over hand-made scored cases, keyed by arm, and the scoring of every arm of a shipped case."""

from __future__ import annotations

import pytest

from evals.records import (
    ArmScore,
    ArmStats,
    CaseResult,
    GroupStats,
    ScoredCase,
    Statistics,
    decode,
    encode,
)
from evals.scoring import group_stats, score_case, score_pair, summarize
from evals.suite import load_suite
from tests.factories import keyed, scored
from tests.factories import pair_stats as stats


def _arm(relevance: float, hits: int = 0, total: int = 2, echo: bool = False) -> ArmScore:
    return ArmScore(answer="", keyword_hits=hits, keyword_total=total, relevance=relevance, echo=echo)


def _scored(case_id: str, category: str, base: ArmScore, finetuned: ArmScore, cosine: float = 0.5) -> ScoredCase:
    return scored(case_id, category, base, finetuned, cosine=cosine)


# Three commands and one routing case; corrections deliberately absent.
CASES = (
    _scored("c1", "commands", _arm(0.0, 0, echo=True), _arm(1.0, 2), cosine=0.2),  # improvement
    _scored("c2", "commands", _arm(1.0, 1), _arm(0.5, 1), cosine=0.6),  # regression
    _scored("c3", "commands", _arm(0.5, 2), _arm(0.5, 2, echo=True), cosine=1.0),  # unchanged
    _scored("r1", "routing", _arm(0.0, 0, echo=True), _arm(2 / 3, 1), cosine=0.0),  # improvement
)


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        pytest.param("n_cases", 4, id="n"),
        pytest.param("cosine_similarity", (0.2 + 0.6 + 1.0 + 0.0) / 4, id="cosine"),
        pytest.param("base.keyword_match", (0 + 0.5 + 1 + 0) / 4, id="keywords-base"),
        pytest.param("finetuned.keyword_match", (1 + 0.5 + 1 + 0.5) / 4, id="keywords-finetuned"),
        pytest.param("base.relevance", (0 + 1 + 0.5 + 0) / 4, id="relevance-base"),
        pytest.param("finetuned.relevance", (1 + 0.5 + 0.5 + 2 / 3) / 4, id="relevance-finetuned"),
        pytest.param("regressions", 1, id="regressions"),
        pytest.param("improvements", 2, id="improvements"),
        pytest.param("base.echo", 2, id="echo-base"),
        pytest.param("finetuned.echo", 1, id="echo-finetuned"),
    ],
)
def test_stats_on_a_hand_made_set(field: str, expected: float) -> None:
    value: object = stats(CASES)
    for part in field.split("."):
        value = getattr(value, part)
    assert value == pytest.approx(expected)


def test_derived_gains() -> None:
    result = stats(CASES)
    assert result.relevance_gain == pytest.approx((2 + 2 / 3) / 4 - 1.5 / 4)
    assert result.relevance_gain_pct == pytest.approx(100 * result.relevance_gain / (1.5 / 4))
    assert result.keyword_gain == pytest.approx(3 / 4 - 1.5 / 4)


def test_gain_in_percent_is_none_when_base_scores_zero() -> None:
    assert stats(CASES[3:]).relevance_gain_pct is None


def test_stats_of_nothing_is_empty_not_a_crash() -> None:
    assert group_stats(()) == GroupStats(0, {}, {})


def test_every_adapter_is_a_key_and_the_base_is_counted_once() -> None:
    """Three adapters on one base: each adapter's statistics against the same base, no primary special case."""
    case = CASES[0].case
    results = [
        CaseResult(
            case,
            {"base": _arm(0.0), "a": _arm(1.0, 2), "b": _arm(0.5, 1), "c": _arm(0.0)},
            {"a": 0.1, "b": 0.2, "c": 1.0},
        )
    ]
    group = group_stats(results)
    assert list(group.arms) == ["base", "a", "b", "c"] and list(group.pairs) == ["a", "b", "c"]
    assert [group.versus(n).finetuned.relevance for n in "abc"] == [1.0, 0.5, 0.0]
    assert {group.versus(n).base for n in "abc"} == {group.arms["base"]}
    assert [group.versus(n).improvements for n in "abc"] == [1, 1, 0]


def test_an_adapter_that_answered_some_cases_is_counted_over_those() -> None:
    """``-k`` may select an adapter for a few cases only: its pair statistics cover what it answered."""
    one, two = CASES[0].case, CASES[1].case
    results = [
        CaseResult(one, {"base": _arm(0.0), "a": _arm(1.0), "b": _arm(1.0)}, {"a": 0.5, "b": 0.5}),
        CaseResult(two, {"base": _arm(1.0), "a": _arm(0.0)}, {"a": 0.5}),
    ]
    group = group_stats(results)
    assert (group.n_cases, group.pairs["a"].n_cases, group.pairs["b"].n_cases) == (2, 2, 1)
    assert group.versus("b").finetuned.relevance == 1.0 and group.versus("a").regressions == 1


def test_summary_has_only_the_categories_that_ran_in_canonical_order() -> None:
    summary = summarize(keyed(tuple(reversed(CASES)))).versus("lora")
    assert list(summary.by_category) == ["commands", "routing"]
    assert summary.by_category["commands"] == stats(tuple(reversed(CASES[:3])))
    assert summary.by_category["routing"] == stats(CASES[3:])
    assert summary.overall == stats(tuple(reversed(CASES)))


@pytest.mark.parametrize(
    ("categories", "expected"),
    [
        pytest.param(["routing"], ["routing"], id="one"),
        pytest.param(["corrections", "commands"], ["commands", "corrections"], id="canonical-order"),
        pytest.param(["zeta", "routing", "alpha"], ["routing", "alpha", "zeta"], id="unknown-after-known-sorted"),
        pytest.param([], [], id="none"),
    ],
)
def test_category_order(categories: list[str], expected: list[str]) -> None:
    cases = [_scored(f"x{i}", cat, _arm(0.0), _arm(0.0)) for i, cat in enumerate(categories)]
    assert list(summarize(keyed(cases)).by_category) == expected


def test_statistics_round_trip_through_the_codec() -> None:
    statistics = summarize(keyed(CASES))
    assert decode(Statistics, encode(statistics)) == statistics
    assert decode(ArmStats, encode(statistics.overall.arms["base"])) == statistics.overall.arms["base"]


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def test_score_case_scores_every_arm(suite) -> None:
    case = next(c for c in suite.cases if c.id == "route_volume_up")
    result = score_case(
        case, {"base": "Monte le son.", "a": "volume_up — je monte le son", "b": "Monte le son."}, suite
    )
    assert list(result.arms) == ["base", "a", "b"] and list(result.similarity) == ["a", "b"]
    assert result.similarity["b"] == pytest.approx(1.0) and result.arms["b"] == result.arms["base"]
    scored = result.versus("a")
    assert (scored.base.relevance, scored.base.echo) == (0.0, True)
    assert (scored.finetuned.relevance, scored.finetuned.echo) == (1.0, False)
    assert scored.finetuned.keyword_match == 1.0
    assert 0.0 < scored.cosine_similarity < 1.0
    assert (scored.relevance_delta, scored.regression) == (1.0, False)
    summary = summarize(keyed([scored])).versus("lora")
    assert (summary.overall.improvements, summary.overall.base.echo, summary.overall.finetuned.echo) == (1, 1, 0)
    assert list(summary.by_category) == ["routing"]


def test_identical_answers_are_neither_regression_nor_improvement(suite) -> None:
    case = suite.cases[0]
    scored = score_pair(case, "open_app chrome", "open_app chrome", suite)
    assert scored.cosine_similarity == pytest.approx(1.0)
    assert (stats([scored]).regressions, stats([scored]).improvements) == (0, 0)
