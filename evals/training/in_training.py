"""The suite scored on a model in memory, as it trains: answers in place, the base arm kept.

Shared by ``JarvisEvalCallback`` (a transformers ``TrainerCallback``, in ``callback.py``) and the
project's own trainer, whose loop calls it after each epoch. Imports nothing heavy at module level.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from evals.backends import Answer, BackendStats, Prompt
from evals.backends.batching import initial_batch_size, run_batched
from evals.backends.hf import BatchGenerator
from evals.backends.prompting import build_prompt, template_of
from evals.environment import recorded_versions
from evals.gate.baseline import suite_hash
from evals.metrics import METRIC_VERSION
from evals.records import (
    BASE_ARM,
    NATIVE_TOOLS,
    SYSTEM_TEXT,
    Case,
    CaseResult,
    GenerationSettings,
    RunMetadata,
    RunResults,
    ScoredCase,
    Suite,
    Summary,
    default_adapter_name,
)
from evals.scoring import score_pair, summarize
from evals.suite import load_suite

Subset = Literal["quick", "full"]
SUBSETS: tuple[str, ...] = ("quick", "full")
# Short answers keep an in-training score cheap; a routing answer says its tool in a few tokens.
DEFAULT_MAX_NEW_TOKENS = 48


def select_cases(suite: Suite, subset: str) -> tuple[Case, ...]:
    """Return the cases to score: ``quick`` is the first case of each category (as --jarvis-quick), ``full`` all."""
    if subset not in SUBSETS:
        raise ValueError(f"subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
    if subset == "full":
        return suite.cases
    seen: set[str] = set()
    quick = []
    for case in suite.cases:
        if case.category not in seen:
            seen.add(case.category)
            quick.append(case)
    return tuple(quick)


@dataclass(frozen=True)
class CheckpointScore:
    """The suite scored at one training step: the fine-tuned arm against the base, per category."""

    step: int
    epoch: float | None
    subset: str
    summary: Summary
    cases: tuple[ScoredCase, ...] = field(repr=False)
    seconds: float = 0.0

    @property
    def relevance(self) -> float:
        return self.summary.overall.finetuned.relevance

    def logs(self) -> dict[str, float]:
        """The values logged at this step: ``jarvis/relevance``, ``jarvis/valid_call``, ``jarvis/task_success``, per category."""
        overall = self.summary.overall
        out = {
            "jarvis/relevance": overall.finetuned.relevance,
            "jarvis/relevance_base": overall.base.relevance,
        }
        if overall.finetuned.valid_call is not None:
            out["jarvis/valid_call"] = overall.finetuned.valid_call
        # What the calls do (cases with `expect:`): metric_for_best_model="jarvis_task_success" selects on it.
        if overall.finetuned.task_success is not None:
            out["jarvis/task_success"] = overall.finetuned.task_success
        if overall.finetuned.false_activation is not None:
            out["jarvis/false_activation"] = overall.finetuned.false_activation
        for category, stats in self.summary.by_category.items():
            out[f"jarvis/{category}/relevance"] = stats.finetuned.relevance
        return out

    def eval_metrics(self) -> dict[str, float]:
        """The same values as evaluation metrics (``eval_jarvis_relevance``...), what ``metric_for_best_model`` reads."""
        return {"eval_" + key.replace("/", "_"): value for key, value in self.logs().items()}


class InTrainingEval:
    """Answer a suite's cases with a model in memory and score them; the base arm's answers are kept.

    Used by ``JarvisEvalCallback`` and by the project's own trainer, which has its own loop.
    """

    def __init__(
        self,
        tokenizer: Any,
        suite: Suite | str | Path | None = None,
        *,
        subset: str = "quick",
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        prompt_format: str | None = None,
        batch_size: int | str = "auto",
    ) -> None:
        self.tokenizer = tokenizer
        self.suite = suite if isinstance(suite, Suite) else load_suite(suite)
        self.prompt_format = prompt_format or self.suite.prompt_format
        if self.prompt_format not in (SYSTEM_TEXT, NATIVE_TOOLS):
            raise ValueError(f"prompt_format must be {SYSTEM_TEXT} or {NATIVE_TOOLS}, got {self.prompt_format!r}")
        self.max_new_tokens = max_new_tokens
        self.batch_size = batch_size
        self._base: dict[str, str] = {}  # case id -> the base arm's answer, for the whole training

    def settings(self) -> GenerationSettings:
        return GenerationSettings(
            max_new_tokens=self.max_new_tokens,
            batch_size=str(self.batch_size),
            template=template_of(self.tokenizer),
            prompt_format=self.prompt_format,
        )

    def _texts(self, cases: Sequence[Case]) -> list[str]:
        tools = (
            json.dumps(self.suite.function_schemas(), ensure_ascii=False) if self.prompt_format == NATIVE_TOOLS else ""
        )
        system = self.suite.system_prompt_for(self.prompt_format)
        prompts = [
            Prompt(system=system, user=c.prompt, tools=tools, history=tuple((t.role, t.content) for t in c.history))
            for c in cases
        ]
        return [build_prompt(self.tokenizer, p.system, p.user, p.tool_schemas(), p.history) for p in prompts]

    def _answer(self, model: Any, cases: Sequence[Case], stats: BackendStats) -> list[str]:
        generator = BatchGenerator(model, self.tokenizer, self.settings(), stats)
        texts = self._texts(cases)
        device = next(model.parameters()).device.type
        size = initial_batch_size(device, len(texts), self.batch_size)
        answers: list[Answer] = run_batched(texts, generator, size, sort_key=len)
        return [a.text for a in answers]

    def score(self, model: Any, cases: Sequence[Case], step: int = 0, epoch: float | None = None) -> CheckpointScore:
        """Score ``cases`` on ``model`` as it is now (eval mode, no gradients), then restore its mode."""
        start = time.perf_counter()
        stats = BackendStats()
        was_training = bool(getattr(model, "training", False))
        model.eval()
        try:
            missing = [c for c in cases if c.id not in self._base]
            if missing:
                if not hasattr(model, "disable_adapter"):
                    raise TypeError("JarvisEvalCallback needs a peft model (the base arm is its adapter switched off)")
                with model.disable_adapter():
                    self._base.update(zip([c.id for c in missing], self._answer(model, missing, stats), strict=True))
            tuned = self._answer(model, cases, stats)
        finally:
            if was_training:
                model.train()
        scored = tuple(score_pair(c, self._base[c.id], t, self.suite) for c, t in zip(cases, tuned, strict=True))
        subset = "full" if len(cases) == len(self.suite.cases) else "quick"
        return CheckpointScore(
            step=step,
            epoch=epoch,
            subset=subset,
            summary=summarize(_as_results(scored, "finetuned")).versus("finetuned"),
            cases=scored,
            seconds=time.perf_counter() - start,
        )

    def results(self, score: CheckpointScore, model: Any, adapter: str) -> RunResults:
        """Return a checkpoint's score as a run's results, for the same reports as ``pytest -m jarvis``."""
        from evals.stats import paired_section  # numpy: imported when a checkpoint is reported

        base_name = _base_model_name(model)
        name = default_adapter_name(Path(adapter))
        cases = _as_results(score.cases, name)
        meta = RunMetadata(
            model=base_name,
            adapter=adapter,
            quantization="4bit" if getattr(model, "is_loaded_in_4bit", False) else "none",
            device=next(model.parameters()).device.type,
            generation=self.settings(),
            suite_name=self.suite.name,
            suite_version=self.suite.version,
            suite_path=self.suite.path,
            timestamp=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            primary=name,
            adapters={name: adapter},
            packages=recorded_versions(),
            categories=tuple(dict.fromkeys(c.category for c in score.cases)),
            partial=score.subset != "full",
            suite_hash=suite_hash(self.suite),
            metric_version=METRIC_VERSION,
            scope="" if score.subset == "full" else "quick",
        )
        results = RunResults(metadata=meta, statistics=summarize(cases), results=cases)
        return replace(results, paired={name: paired_section(score.cases)})


def _as_results(cases: Sequence[ScoredCase], name: str) -> tuple[CaseResult, ...]:
    """The cases keyed by arm, the adapter's arm named ``name``."""
    return tuple(CaseResult(c.case, {BASE_ARM: c.base, name: c.finetuned}, {name: c.cosine_similarity}) for c in cases)


def _base_model_name(model: Any) -> str:
    configs = getattr(model, "peft_config", None)
    if isinstance(configs, Mapping) and configs:
        name = getattr(next(iter(configs.values())), "base_model_name_or_path", None)
        if name:
            return str(name)
    return str(getattr(getattr(model, "config", None), "_name_or_path", "") or "unknown")
