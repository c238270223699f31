"""JarvisEvalCallback: the suite scored at every evaluation of a real Trainer on the tiny Llama."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from evals.suite import load_suite
from tests.test_gate_e2e import MINI_SUITE, PROMPTS, SYSTEM

ANSWER = "open_app !"


@pytest.fixture
def mini_suite(tmp_path: Path) -> Path:
    path = tmp_path / "mini.yaml"
    path.write_text(MINI_SUITE, encoding="utf-8")
    return path


class Rows:
    """The mini suite's prompts followed by ANSWER, right-padded to one width; loss on the answer only."""

    def __init__(self, tokenizer: Any) -> None:
        import torch

        from evals.backends.prompting import build_prompt

        texts = [build_prompt(tokenizer, SYSTEM, p, None) for p in PROMPTS]
        target = tokenizer(ANSWER, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        rows = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
        width = max(len(r) for r in rows) + len(target)
        pad = tokenizer.pad_token_id
        self.items = [
            {
                "input_ids": torch.tensor(r + target + [pad] * (width - len(r) - len(target))),
                "labels": torch.tensor([-100] * len(r) + target + [-100] * (width - len(r) - len(target))),
                "attention_mask": torch.tensor([1] * (len(r) + len(target)) + [0] * (width - len(r) - len(target))),
            }
            for r in rows
        ]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return self.items[i]


# 40 steps at a constant 1e-2, an evaluation and a checkpoint every 10: the tiny LoRA learns to route
# the mini suite within them, and the best checkpoint is chosen by JARVIS relevance.
TRAINING: dict[str, Any] = {
    "per_device_train_batch_size": 3,
    "max_steps": 40,
    "learning_rate": 1e-2,
    "lr_scheduler_type": "constant",
    "eval_strategy": "steps",
    "eval_steps": 10,
    "save_strategy": "steps",
    "save_steps": 10,
    "logging_steps": 10,
    "metric_for_best_model": "jarvis_relevance",
    "load_best_model_at_end": True,
    "report_to": [],
    "use_cpu": True,
    "seed": 0,
}


def _peft_model(model_dir: Path) -> tuple[Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    model = get_peft_model(
        AutoModelForCausalLM.from_pretrained(model_dir), LoraConfig(r=16, lora_alpha=32, target_modules="all-linear")
    )
    return model, AutoTokenizer.from_pretrained(model_dir)


def test_trainer_logs_jarvis_relevance_at_each_evaluation_and_keeps_the_best_routing_checkpoint(
    tiny_model_dir: Path, mini_suite: Path, tmp_path: Path
) -> None:
    from transformers import Trainer, TrainingArguments

    from evals.training.callback import JarvisEvalCallback

    model, tokenizer = _peft_model(tiny_model_dir)
    rows = Rows(tokenizer)
    args = TrainingArguments(output_dir=str(tmp_path / "run"), **TRAINING)
    trainer = Trainer(model=model, args=args, train_dataset=rows, eval_dataset=rows, processing_class=tokenizer)
    callback = JarvisEvalCallback(trainer, suite=mini_suite, subset="full", reports_dir=tmp_path / "reports")
    trainer.add_callback(callback)
    trainer.train()

    evaluations = [e for e in trainer.state.log_history if "eval_loss" in e]
    jarvis = [e for e in trainer.state.log_history if "jarvis/relevance" in e]
    assert [e["step"] for e in evaluations] == [10, 20, 30, 40]
    assert [e["step"] for e in jarvis] == [10, 20, 30, 40], "one JARVIS score per evaluation"
    relevance = [e["jarvis/relevance"] for e in jarvis]
    assert relevance == [s.relevance for s in callback.history]
    assert max(relevance) == pytest.approx(1.0), relevance  # the LoRA learns to route the mini suite
    assert {e["jarvis/relevance_base"] for e in jarvis} == {callback.history[0].summary.overall.base.relevance}
    # The best checkpoint is the first with the best relevance (the trainer keeps a strictly better one).
    best_step = jarvis[relevance.index(max(relevance))]["step"]
    assert trainer.state.best_metric == pytest.approx(max(relevance))
    assert trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best_step}")
    # Reports of the model loaded at the end (the best checkpoint), scored on the whole suite.
    from evals.reports import load_results

    saved = load_results(tmp_path / "reports" / "benchmark_results.json")
    assert saved.summary().overall.finetuned.relevance == pytest.approx(max(relevance))
    assert saved.metadata.adapter.endswith(f"checkpoint-{best_step}")
    assert (tmp_path / "reports" / "benchmark_report.html").is_file()


def test_scoring_in_place_restores_train_mode_and_scores_the_base_once(tiny_model_dir: Path, mini_suite: Path) -> None:
    from evals.training.callback import InTrainingEval, select_cases

    model, tokenizer = _peft_model(tiny_model_dir)
    evaluator = InTrainingEval(tokenizer, mini_suite, max_new_tokens=8)
    cases = select_cases(evaluator.suite, "quick")
    assert [c.category for c in cases] == ["commands", "corrections", "routing"]
    model.train()
    first = evaluator.score(model, cases)
    assert model.training, "the model goes back to train mode"
    base_answers = dict(evaluator._base)
    evaluator.score(model, cases)
    assert evaluator._base == base_answers and len(base_answers) == 3
    assert first.summary.overall.n_cases == 3 and "jarvis/routing/relevance" in first.logs()
    # Task success is logged exactly when the cases say what should happen.
    assert ("jarvis/task_success" in first.logs()) == any(c.expect is not None for c in cases)


def test_quick_is_one_case_per_category_of_the_shipped_suite() -> None:
    from evals.training.callback import select_cases

    suite = load_suite()
    quick = select_cases(suite, "quick")
    assert len(quick) == len({c.category for c in suite.cases}) == 3
    with pytest.raises(ValueError, match="subset must be one of"):
        select_cases(suite, "some")


def test_trl_sft_trainer_logs_jarvis_relevance_and_keeps_the_best_checkpoint(
    tiny_model_dir: Path, mini_suite: Path, tmp_path: Path
) -> None:
    pytest.importorskip("trl", reason="TRL is a dev extra; make setup installs it")
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    from evals.backends.prompting import build_prompt
    from evals.training.callback import JarvisEvalCallback

    model, tokenizer = _peft_model(tiny_model_dir)
    data = Dataset.from_list(
        [
            {"prompt": build_prompt(tokenizer, SYSTEM, p, None), "completion": ANSWER + tokenizer.eos_token}
            for p in PROMPTS
        ]
    )
    args = SFTConfig(output_dir=str(tmp_path / "sft"), **TRAINING)
    trainer = SFTTrainer(model=model, args=args, train_dataset=data, eval_dataset=data, processing_class=tokenizer)
    trainer.add_callback(JarvisEvalCallback(trainer, suite=mini_suite, subset="quick"))
    trainer.train()

    jarvis = [e for e in trainer.state.log_history if "jarvis/relevance" in e]
    assert [e["step"] for e in jarvis] == [10, 20, 30, 40]
    relevance = [e["jarvis/relevance"] for e in jarvis]
    best_step = jarvis[relevance.index(max(relevance))]["step"]
    assert trainer.state.best_metric == pytest.approx(max(relevance))
    assert trainer.state.best_model_checkpoint.endswith(f"checkpoint-{best_step}")
