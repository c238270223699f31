"""The public face of the loaded models for a team's own tests: the ``jarvis_base`` and
``jarvis_finetuned`` fixtures are ``JarvisArm`` objects, ``jarvis_score`` a ``Scorer``.

An arm answers through the session's run: the same single loaded base (the base arm inside
``disable_adapter()``), the same batching, greedy settings, generation cache and backend as the
suite's cases. Every prompt an arm is asked is kept in a transcript, so a failing custom test can
show the prompt and every arm's answer, as a failing suite case does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from evals.backends import Arm, Prompt
from evals.metrics import score_answer
from evals.records import ArmScore, Case
from evals.run import EvalRun


@dataclass
class Transcript:
    """The (system, prompt) pairs custom tests asked, in order."""

    asked: list[Prompt] = field(default_factory=list)


@dataclass
class JarvisArm:
    """One arm of the session (the base model, or the base with one adapter), for custom tests."""

    run: EvalRun
    arm: Arm
    transcript: Transcript

    @property
    def name(self) -> str:
        """``base``, or the adapter's name."""
        return self.arm.name

    def answer(self, prompt: str, system: str | None = None) -> str:
        """Return this arm's greedy answer to ``prompt`` (the suite's system prompt unless ``system``)."""
        return self.answer_many([prompt], system)[0]

    def answer_many(self, prompts: Sequence[str], system: str | None = None) -> list[str]:
        """Return this arm's answers to ``prompts``, generated in batches (or read from the cache)."""
        asked = [self.run.ask(p, system) for p in prompts]
        self.transcript.asked.extend(asked)
        return [a.text for a in self.run.answer_prompts({self.arm: asked})[self.arm]]

    def __repr__(self) -> str:
        return f"JarvisArm({self.name!r})"


@dataclass
class Scorer:
    """Score an answer with the suite's relevance, keyword and call rules (``jarvis_score``)."""

    run: EvalRun

    def __call__(
        self, answer: str, expected_tools: Sequence[str], prompt: str, keywords: Sequence[str] = ()
    ) -> ArmScore:
        """Return the ``ArmScore`` of ``answer`` to ``prompt``: relevance, valid_call, tools named, flags.

        ``expected_tools`` must be ids of the suite's registry; unknown ids are a ``ValueError``.
        """
        unknown = [t for t in expected_tools if t not in self.run.suite.tool_ids]
        if unknown:
            raise ValueError(f"unknown tool id(s) {', '.join(unknown)}: use ids of the suite's registry")
        case = Case(
            id="custom",
            category="custom",
            prompt=prompt,
            expected_tools=tuple(expected_tools),
            keywords=tuple(keywords) or tuple(expected_tools),
        )
        return score_answer(answer, case, self.run.suite.tools)


def failure_section(run: EvalRun, asked: Sequence[Prompt]) -> str:
    """Return every arm's answer to the prompts a failing custom test asked (cached ones are free)."""
    prompts = list(dict.fromkeys(asked))
    answers = run.answer_prompts(dict.fromkeys(run.arms, prompts))
    lines = []
    for i, prompt in enumerate(prompts):
        lines.append(f"prompt:     {prompt.user!r}")
        for arm in run.arms:
            label = "base" if arm.is_base else ("fine-tuned" if len(run.arms) == 2 else f"{arm.name}")
            lines.append(f"  {label + ':':<11} {answers[arm][i].text!r}")
    return "\n".join(lines)
