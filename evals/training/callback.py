"""Score the JARVIS suite on the model being trained: a ``transformers.TrainerCallback``.

At each evaluation (or every N steps) the selected cases are answered by the model in place,
with the same prompt format, batched greedy generation and metrics as ``pytest -m jarvis``.
The base arm is the same model inside ``disable_adapter()``, scored once and kept for the whole
training (its weights do not train). The scores are logged through the trainer's own ``log``,
so every logger the user configured (TensorBoard, W&B, MLflow...) receives them, and are added
to the evaluation metrics as ``eval_jarvis_relevance``..., so that
``metric_for_best_model="jarvis_relevance"`` with ``load_best_model_at_end`` keeps the
checkpoint that routes best rather than the one with the lowest loss.

Usage (TRL's callbacks take the trainer the same way)::

    trainer = Trainer(model=peft_model, args=args, train_dataset=..., eval_dataset=...)
    trainer.add_callback(JarvisEvalCallback(trainer, reports_dir="reports/training"))
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from evals.records import Suite
from evals.reports import write_reports
from evals.training.in_training import (
    DEFAULT_MAX_NEW_TOKENS,
    SUBSETS,
    CheckpointScore,
    InTrainingEval,
    select_cases,
)

__all__ = ["CheckpointScore", "InTrainingEval", "JarvisEvalCallback", "select_cases"]


class JarvisEvalCallback(TrainerCallback):
    """Score the JARVIS suite at each evaluation of a ``Trainer`` (or ``SFTTrainer``) on a peft model.

    ``subset``: ``quick`` (one case per category, the default while training) or ``full``.
    ``every_n_steps``: also score every N optimizer steps, for trainings without an eval set.
    ``reports_dir``: at the end of training, score the full suite on the model in memory (the
    best checkpoint with ``load_best_model_at_end``) and write every report there.
    """

    def __init__(
        self,
        trainer: Any = None,
        *,
        tokenizer: Any = None,
        suite: Suite | str | Path | None = None,
        subset: str = "quick",
        every_n_steps: int | None = None,
        reports_dir: str | Path | None = None,
        max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS,
        prompt_format: str | None = None,
    ) -> None:
        if subset not in SUBSETS:
            raise ValueError(f"subset must be one of {', '.join(SUBSETS)}, got {subset!r}")
        if every_n_steps is not None and every_n_steps < 1:
            raise ValueError(f"every_n_steps must be at least 1, got {every_n_steps}")
        self.trainer = trainer
        self.tokenizer = tokenizer
        self.suite = suite
        self.subset = subset
        self.every_n_steps = every_n_steps
        self.reports_dir = Path(reports_dir) if reports_dir is not None else None
        self.max_new_tokens = max_new_tokens
        self.prompt_format = prompt_format
        self.history: list[CheckpointScore] = []
        self.final: CheckpointScore | None = None
        self.written: list[Path] = []
        self._eval: InTrainingEval | None = None

    def _evaluator(self, processing_class: Any) -> InTrainingEval:
        if self._eval is None:
            tokenizer = self.tokenizer or getattr(self.trainer, "processing_class", None) or processing_class
            if tokenizer is None:
                raise ValueError("JarvisEvalCallback needs a tokenizer: pass tokenizer= or give the trainer one")
            tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor wraps its tokenizer
            self._eval = InTrainingEval(
                tokenizer, self.suite, max_new_tokens=self.max_new_tokens, prompt_format=self.prompt_format
            )
        return self._eval

    def _score(self, model: Any, processing_class: Any, state: Any, subset: str) -> CheckpointScore:
        evaluator = self._evaluator(processing_class)
        cases = select_cases(evaluator.suite, subset)
        return evaluator.score(model, cases, step=int(state.global_step), epoch=state.epoch)

    def _log(self, state: Any, logs: dict[str, float]) -> None:
        if self.trainer is not None:
            self.trainer.log(logs)  # every logger the user configured gets them
        else:  # no trainer given: keep them in the state's history at least
            state.log_history.append({**logs, "step": state.global_step})

    def on_evaluate(
        self, args: Any, state: Any, control: Any, model: Any = None, metrics: dict[str, float] | None = None, **kw: Any
    ) -> None:
        score = self._score(model, kw.get("processing_class"), state, self.subset)
        self.history.append(score)
        if metrics is not None:  # the dict the trainer then reads metric_for_best_model from
            metrics.update(score.eval_metrics())
        self._log(state, score.logs())

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        n = self.every_n_steps
        if n is None or state.global_step % n or getattr(control, "should_evaluate", False):
            return  # an evaluation follows this step anyway: on_evaluate scores it
        score = self._score(model, kw.get("processing_class"), state, self.subset)
        self.history.append(score)
        self._log(state, score.logs())

    def on_train_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if self.reports_dir is None or model is None:
            return
        self.final = self._score(model, kw.get("processing_class"), state, "full")
        adapter = str(getattr(state, "best_model_checkpoint", None) or getattr(args, "output_dir", "in-training"))
        results = self._evaluator(kw.get("processing_class")).results(self.final, model, adapter)
        self.written = write_reports(results, self.reports_dir)
