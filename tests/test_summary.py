"""Statistics over hand-made scored cases, and the scoring of both arms of a shipped case."""

from __future__ import annotations

import pytest

from evals.records import ArmScore, Case, ScoredCase, Stats, Summary
from evals.scoring import score_case, stats, summarize
from evals.suite import load_suite


def _arm(relevance: float, hits: int = 0, total: int = 2, echo: bool = False) -> ArmScore:
    return ArmScore(answer="", keyword_hits=hits, keyword_total=total, relevance=relevance, echo=echo)


def _scored(
    case_id: str,
    category: str,
    base: ArmScore,
    finetuned: ArmScore,
    cosine: float = 0.5,
) -> ScoredCase:
    case = Case(id=case_id, category=category, prompt="p", expected_tools=("volume_up",), keywords=("a", "b"))
    return ScoredCase(case=case, base=base, finetuned=finetuned, cosine_similarity=cosine)


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
        pytest.param("avg_cosine_similarity", (0.2 + 0.6 + 1.0 + 0.0) / 4, id="cosine"),
        pytest.param("avg_keyword_match_base", (0 + 0.5 + 1 + 0) / 4, id="keywords-base"),
        pytest.param("avg_keyword_match_finetuned", (1 + 0.5 + 1 + 0.5) / 4, id="keywords-finetuned"),
        pytest.param("avg_relevance_base", (0 + 1 + 0.5 + 0) / 4, id="relevance-base"),
        pytest.param("avg_relevance_finetuned", (1 + 0.5 + 0.5 + 2 / 3) / 4, id="relevance-finetuned"),
        pytest.param("regressions", 1, id="regressions"),
        pytest.param("improvements", 2, id="improvements"),
        pytest.param("echo_base", 2, id="echo-base"),
        pytest.param("echo_finetuned", 1, id="echo-finetuned"),
    ],
)
def test_stats_on_a_hand_made_set(field: str, expected: float) -> None:
    assert getattr(stats(CASES), field) == pytest.approx(expected)


def test_derived_gains() -> None:
    result = stats(CASES)
    assert result.relevance_gain == pytest.approx((2 + 2 / 3) / 4 - 1.5 / 4)
    assert result.relevance_gain_pct == pytest.approx(100 * result.relevance_gain / (1.5 / 4))
    assert result.keyword_gain == pytest.approx(3 / 4 - 1.5 / 4)


def test_gain_in_percent_is_none_when_base_scores_zero() -> None:
    assert stats(CASES[3:]).relevance_gain_pct is None


def test_stats_of_nothing_is_zero_not_a_crash() -> None:
    assert stats(()) == Stats(0, 0.0, 0.0, 0.0, 0.0, 0.0)


def test_summary_has_only_the_categories_that_ran_in_canonical_order() -> None:
    summary = summarize(tuple(reversed(CASES)))
    assert list(summary.by_category) == ["commands", "routing"]
    assert summary.by_category["commands"] == stats(CASES[:3])
    assert summary.by_category["routing"] == stats(CASES[3:])
    assert summary.overall == stats(CASES)


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
    assert list(summarize(cases).by_category) == expected


def test_summary_round_trips_through_a_dict() -> None:
    summary = summarize(CASES)
    assert Summary.from_dict(summary.to_dict()) == summary


@pytest.fixture(scope="module")
def suite():
    return load_suite()


def test_score_case_scores_both_arms(suite) -> None:
    case = next(c for c in suite.cases if c.id == "route_volume_up")
    scored = score_case(case, "Monte le son.", "volume_up — je monte le son", suite)
    assert (scored.base.relevance, scored.base.echo) == (0.0, True)
    assert (scored.finetuned.relevance, scored.finetuned.echo) == (1.0, False)
    assert scored.finetuned.keyword_match == 1.0
    assert 0.0 < scored.cosine_similarity < 1.0
    assert (scored.relevance_delta, scored.regression) == (1.0, False)
    summary = summarize([scored])
    assert (summary.overall.improvements, summary.overall.echo_base, summary.overall.echo_finetuned) == (1, 1, 0)
    assert list(summary.by_category) == ["routing"]


def test_identical_answers_are_neither_regression_nor_improvement(suite) -> None:
    case = suite.cases[0]
    scored = score_case(case, "open_app chrome", "open_app chrome", suite)
    assert scored.cosine_similarity == pytest.approx(1.0)
    assert (stats([scored]).regressions, stats([scored]).improvements) == (0, 0)
