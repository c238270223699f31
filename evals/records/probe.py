"""Records of the forced-choice routing probe and of drift outside the task (issue 26).

A probe record holds, for one case and one arm, the teacher-forced log-probability of each
candidate start of the answer (every tool, and "no call" where nothing should run) and what
follows from them: the forced choice, its margin in nats and the expected tool's rank. A drift
record holds, for one neutral prompt, how far the fine-tuned arm's next-token distributions
moved from the base's along the base's own greedy answer. All round-trip through
``evals.records.codec``; the numbers are derived by the pure functions here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from evals.records.codec import count

# The candidate that stands for an answer starting with text rather than a call.
NO_CALL = "<no call>"
# |margin| below this many nats is a near tie: a small change of the weights could flip the choice.
NEAR_TIE_NATS = 1.0


@dataclass(frozen=True)
class ProbeCase:
    """One case under one arm: each candidate's log P(answer starts with it | prompt) and the choice."""

    case_id: str
    arm: str
    prompt_format: str
    # The candidate(s) a correct answer starts with: the case's first expected tool, or NO_CALL.
    expected: tuple[str, ...]
    # Candidate -> summed log-probability of its tokens (nats), in registry order, NO_CALL last.
    logprobs: Mapping[str, float] = field(hash=False)
    predicted: str  # the argmax candidate: the forced choice
    forced_choice_correct: bool
    # logp(best expected) - logp(best other candidate), nats: > 0 exactly when the choice is right.
    routing_margin: float
    rank: int = count()  # 1 + how many other candidates beat the best expected one
    # True for a multi-tool case: only its first expected tool is the target, the later ones are
    # left out of the competition (starting with them is not a routing error).
    first_expected_only: bool = False
    # log P(the answer's first token starts no tool candidate), nats, on every case; a candidate
    # (NO_CALL) only where nothing should run.
    no_call_logprob: float = 0.0

    def is_near_tie(self, nats: float = NEAR_TIE_NATS) -> bool:
        return abs(self.routing_margin) < nats


def choose(
    case_id: str,
    arm: str,
    prompt_format: str,
    logprobs: Mapping[str, float],
    expected_tools: Sequence[str],
    no_call_logprob: float,
    expects_nothing: bool,
) -> ProbeCase:
    """Make the forced choice among the scored candidates; NO_CALL joins them when nothing should run.

    A multi-tool case is judged on its first expected tool; its other expected tools are dropped
    from the candidates rather than counted as rivals.
    """
    scores = dict(logprobs)
    if expects_nothing or not expected_tools:
        scores[NO_CALL] = no_call_logprob
        target: tuple[str, ...] = (NO_CALL,)
    else:
        target = (expected_tools[0],)
        for later in expected_tools[1:]:
            scores.pop(later, None)
    missing = [t for t in target if t not in scores]
    if missing:
        raise ValueError(f"case {case_id}: expected tool {missing[0]} is not among the probe's candidates")
    if len(scores) < 2:
        raise ValueError(f"case {case_id}: the probe needs at least two candidates, got {len(scores)}")
    best_expected = max(scores[t] for t in target)
    best_other = max(v for k, v in scores.items() if k not in target)
    predicted = max(scores, key=lambda k: scores[k])  # first of equals: registry order
    return ProbeCase(
        case_id=case_id,
        arm=arm,
        prompt_format=prompt_format,
        expected=target,
        logprobs=scores,
        predicted=predicted,
        forced_choice_correct=best_expected > best_other,
        routing_margin=best_expected - best_other,
        rank=1 + sum(1 for k, v in scores.items() if k not in target and v >= best_expected),
        first_expected_only=len(expected_tools) > 1 and not expects_nothing,
        no_call_logprob=no_call_logprob,
    )


@dataclass(frozen=True)
class ProbeSummary:
    """One arm's probe over a suite: forced-choice accuracy, margins and near ties."""

    arm: str
    accuracy: float
    mean_margin: float
    median_margin: float
    cases: int = count()
    correct: int = count()
    near_ties: int = count()
    near_tie_nats: float = NEAR_TIE_NATS


def summarize_probe(arm: str, cases: Sequence[ProbeCase], near_tie_nats: float = NEAR_TIE_NATS) -> ProbeSummary:
    """Summarize one arm's probe records."""
    mine = [c for c in cases if c.arm == arm]
    if not mine:
        raise ValueError(f"no probe records for arm {arm}")
    margins = sorted(c.routing_margin for c in mine)
    mid = len(margins) // 2
    median = margins[mid] if len(margins) % 2 else (margins[mid - 1] + margins[mid]) / 2
    correct = sum(c.forced_choice_correct for c in mine)
    return ProbeSummary(
        arm=arm,
        cases=len(mine),
        correct=correct,
        accuracy=correct / len(mine),
        mean_margin=math.fsum(margins) / len(margins),
        median_margin=median,
        near_ties=sum(c.is_near_tie(near_tie_nats) for c in mine),
        near_tie_nats=near_tie_nats,
    )


@dataclass(frozen=True)
class DriftPrompt:
    """How far one arm moved from the base on one neutral prompt, along the base's greedy answer."""

    prompt_id: str
    arm: str
    answer: str  # the base arm's greedy answer
    answer_tokens: int = count()
    mean_kl: float = 0.0  # mean over the answer's tokens of KL(base || arm), nats
    max_kl: float = 0.0
    arm_loglik: float = 0.0  # the arm's mean log-likelihood per token of the base's answer
    base_loglik: float = 0.0  # the base's own, for reference


@dataclass(frozen=True)
class DriftSummary:
    """Drift over a neutral prompt set: means over prompts, and the token-weighted mean KL."""

    arm: str
    prompts: int = count()
    tokens: int = count()
    mean_kl: float = 0.0  # mean of the prompts' mean KL
    token_mean_kl: float = 0.0  # every answer token weighted alike
    arm_loglik: float = 0.0
    base_loglik: float = 0.0


def summarize_drift(arm: str, rows: Sequence[DriftPrompt]) -> DriftSummary:
    """Summarize one arm's drift records (prompts whose answer has no token are left out)."""
    mine = [r for r in rows if r.arm == arm and r.answer_tokens]
    if not mine:
        raise ValueError(f"no drift records with an answer for arm {arm}")
    tokens = sum(r.answer_tokens for r in mine)
    return DriftSummary(
        arm=arm,
        prompts=len(mine),
        tokens=tokens,
        mean_kl=math.fsum(r.mean_kl for r in mine) / len(mine),
        token_mean_kl=math.fsum(r.mean_kl * r.answer_tokens for r in mine) / tokens,
        arm_loglik=math.fsum(r.arm_loglik for r in mine) / len(mine),
        base_loglik=math.fsum(r.base_loglik for r in mine) / len(mine),
    )


@dataclass(frozen=True)
class DriftSection:
    """One adapter's drift from the base on the neutral prompt set: the summary and every prompt."""

    neutral_set: str  # name and version of the prompt set
    summary: DriftSummary
    prompts: tuple[DriftPrompt, ...] = ()
