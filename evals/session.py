"""One benchmark run: the selected cases, the lazily loaded model pair, their answers and scores.

The flow is one-way: cases -> answers (cache, else one batched pass per arm) -> scored
cases -> ``RunResults``. The plugin owns the pytest side; this module knows nothing of it.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator, Sequence

from evals.config import EvalConfig
from evals.errors import JarvisError
from evals.records import ARMS, Case, GenerationSettings, RunMetadata, RunResults, ScoredCase, Suite
from evals.suite import load_suite
from evals.summary import score_case, summarize

PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "accelerate", "scikit-learn", "jarvis-evals")


def package_versions(names: Sequence[str] = PACKAGES) -> dict[str, str]:
    """Return Python's and each package's version, for the results metadata."""
    from evals.cache import package_versions as installed

    return {"python": platform.python_version(), **installed(names)}


@dataclass(frozen=True)
class ArmAnswer:
    """One arm's answer to one case, and whether it came from the cache."""

    text: str
    new_tokens: int
    cached: bool
    truncated_prompt: bool = False


class ModelPair:
    """One base model in memory: the fine-tuned arm enables the adapter, the base arm disables it."""

    def __init__(self, model_path: str, adapter: Path, quant: str, trust_remote_code: bool) -> None:
        self.model_path = model_path
        self.adapter_path = adapter
        self.quant = quant
        self.trust_remote_code = trust_remote_code
        self.model: Any = None
        self.tokenizer: Any = None
        self.load_seconds = 0.0
        self.loads = 0

    def load_tokenizer(self) -> Any:
        if self.tokenizer is None:
            from evals.models import load_tokenizer

            self.tokenizer = load_tokenizer(self.model_path, self.trust_remote_code)
        return self.tokenizer

    def load(self) -> Any:
        """Load the base once and attach the adapter; later calls return the same model."""
        if self.model is None:
            from evals.models import attach_adapter, inspect_adapter, load_base

            start = time.perf_counter()
            adapter = inspect_adapter(self.adapter_path)
            self.load_tokenizer()
            base = load_base(self.model_path, self.quant, self.trust_remote_code)
            self.model = attach_adapter(base, adapter, self.model_path)
            self.loads += 1
            self.load_seconds = time.perf_counter() - start
        return self.model

    @contextmanager
    def arm(self, name: str) -> Iterator[Any]:
        """Yield the model as the ``name`` arm: the adapter is disabled inside the base arm only."""
        model = self.load()
        if name == "base":
            with model.disable_adapter():
                yield model
        else:
            yield model

    @property
    def device(self) -> str:
        if self.model is None:
            return "not loaded"
        return str(next(self.model.parameters()).device.type)


@dataclass
class EvalRun:
    """The state of one benchmark session; built from an ``EvalConfig``."""

    config: EvalConfig
    suite: Suite
    adapter: Path
    model_path: str
    selected: list[Case] = field(default_factory=list)
    answers: dict[tuple[str, str], ArmAnswer] = field(default_factory=dict)
    scored: dict[str, ScoredCase] = field(default_factory=dict)
    generate_calls: int = 0
    generation_seconds: float = 0.0
    batch_size_used: int | None = None
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    pair: ModelPair | None = None
    warnings: list[str] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: EvalConfig) -> EvalRun:
        """Check every input that is cheap to check now: bad input fails before any answer is generated.

        The suite, the adapter, a local model folder and the folders the run will write to are
        validated here; the embedded model is converted and a hub model fetched only when answering.
        """
        from evals.models import find_latest_adapter, inspect_adapter, is_embedded, resolve_model

        suite = load_suite(config.suite)
        adapter = config.adapter or find_latest_adapter(config.output_dir)
        if adapter is None:
            raise JarvisError(
                f"no LoRA adapter: none complete under {config.output_dir}/*/final/; pass --jarvis-adapter PATH "
                "or train the demo adapter with `jarvis-evals train`"
            )
        inspect_adapter(adapter)
        model_path = config.model if is_embedded(config.model) else resolve_model(config.model)
        problem = unwritable(config.reports_dir)
        if problem:
            raise JarvisError(
                f"reports folder {config.reports_dir} is not writable ({problem}): "
                "pass --jarvis-reports DIR with a writable folder"
            )
        problem = unwritable(config.baseline.parent) if config.save_baseline else None
        if problem:
            raise JarvisError(
                f"baseline {config.baseline} cannot be written ({problem}): point --jarvis-baseline at a writable file"
            )
        return cls(config=config, suite=suite, adapter=Path(adapter), model_path=model_path)

    # -- answers ---------------------------------------------------------------------------

    @property
    def settings(self) -> GenerationSettings:
        fmt = "unknown"
        if self.pair is not None and self.pair.tokenizer is not None:
            from evals.prompting import prompt_format

            fmt = prompt_format(self.pair.tokenizer)
        return GenerationSettings(max_new_tokens=self.config.max_new_tokens, batch_size=self.config.batch_size, prompt_format=fmt)

    def ensure_answers(self) -> None:
        """Answer every selected case with both arms, once: from the cache, else in batches."""
        missing_cases = [c for c in self.selected if any((c.id, arm) not in self.answers for arm in ARMS)]
        if not missing_cases:
            return
        from evals.models import resolve_model
        from evals.prompting import build_prompt

        model_path = resolve_model(self.model_path)
        if self.pair is None:
            self.pair = ModelPair(model_path, self.adapter, self.config.quant, self.config.trust_remote_code)
        tokenizer = self.pair.load_tokenizer()
        texts = {c.id: build_prompt(tokenizer, self.suite.system_prompt, c.prompt) for c in missing_cases}
        cache = self._open_cache(model_path, tokenizer)
        for arm in ARMS:
            keys = {c.id: cache.key(arm, texts[c.id]) for c in missing_cases} if cache else {}
            hits = cache.get(list(keys.values())) if cache else {}
            todo: list[Case] = []
            for case in missing_cases:
                hit = hits.get(keys.get(case.id, ""))
                if hit is not None:
                    self.answers[(case.id, arm)] = ArmAnswer(hit.text, hit.new_tokens, cached=True)
                else:
                    todo.append(case)
            if not todo:
                continue
            fresh = self._generate(arm, [texts[c.id] for c in todo])
            for case, answer in zip(todo, fresh, strict=True):
                self.answers[(case.id, arm)] = ArmAnswer(answer.text, answer.new_tokens, False, answer.truncated_prompt)
                warning = f"case {case.id}: prompt longer than the model's context, truncated from the left"
                if answer.truncated_prompt and warning not in self.warnings:  # once per case, not per arm
                    self.warnings.append(warning)
            if cache:
                cache.put({keys[c.id]: self.answers[(c.id, arm)] for c in todo})

    def _open_cache(self, model_path: str, tokenizer: Any) -> Any:
        if not self.config.use_cache:
            return None
        from evals.runcache import RunCache

        return RunCache.open(self.config, model_path, self.adapter, tokenizer, self.suite.system_prompt, self.settings)

    def _generate(self, arm: str, texts: list[str]) -> list[Any]:
        from evals.batching import initial_batch_size
        from evals.generation import BatchGenerator, GenerationCounter, generate_answers
        from evals.progress import progress

        assert self.pair is not None
        counter = GenerationCounter()
        with self.pair.arm(arm) as model:
            generator = BatchGenerator(model, self.pair.tokenizer, self.settings, counter)
            size = initial_batch_size(self.pair.device, len(texts), self.config.batch_size)
            label = "fine-tuned" if arm == "finetuned" else "base"
            with progress(total=len(texts), desc=f"generating {label} arm", unit="prompts") as bar:
                start = time.perf_counter()

                def on_batch(done: int, total: int, batch_size: int) -> None:
                    self.batch_size_used = batch_size
                    bar.update(done - bar.n)
                    tokens = sum(a.new_tokens for a in generator_outputs) if generator_outputs else 0
                    elapsed = time.perf_counter() - start
                    if tokens and elapsed:
                        bar.set_postfix_str(f"{tokens / elapsed:.0f} tok/s")

                generator_outputs: list[Any] = []

                def counted(batch: Sequence[str]) -> list[Any]:
                    out = generator(batch)
                    generator_outputs.extend(out)
                    return out

                answers = generate_answers(counted, texts, size, on_batch=on_batch)
        self.generate_calls += counter.calls
        self.generation_seconds += counter.seconds
        return answers

    # -- scores ----------------------------------------------------------------------------

    def score(self, case: Case) -> ScoredCase:
        """Score one case from the stored answers and remember it for the session's results."""
        self.ensure_answers()
        base, finetuned = self.answers[(case.id, "base")], self.answers[(case.id, "finetuned")]
        scored = score_case(case, base.text, finetuned.text, self.suite)
        self.scored[case.id] = scored
        return scored

    def results(self) -> RunResults:
        """Return the results of the cases scored so far, in suite order."""
        order = {c.id: i for i, c in enumerate(self.suite.cases)}
        cases = tuple(sorted(self.scored.values(), key=lambda s: order.get(s.id, len(order))))
        categories = tuple(dict.fromkeys(c.category for c in cases))
        all_categories = tuple(dict.fromkeys(c.category for c in self.suite.cases))
        n_cached = sum(1 for (cid, _), a in self.answers.items() if a.cached and cid in self.scored)
        meta = RunMetadata(
            model=self.config.model if self.config.model != "embedded" else "embedded:SmolLM2-135M-Instruct",
            adapter=str(self.adapter),
            quantization=self.config.quant,
            device=self.pair.device if self.pair and self.pair.model is not None else ("cache" if n_cached else "none"),
            generation=self.settings if self.pair else GenerationSettings(self.config.max_new_tokens, self.config.batch_size),
            suite_name=self.suite.name,
            suite_version=self.suite.version,
            suite_path=self.suite.path,
            timestamp=self.started,
            packages=package_versions(),
            categories=categories,
            partial=len(cases) < len(self.suite.cases) or categories != all_categories,
            n_generate_calls=self.generate_calls,
            n_cached_answers=n_cached,
            generation_seconds=round(self.generation_seconds, 3),
            load_seconds=round(self.pair.load_seconds, 3) if self.pair else 0.0,
        )
        return RunResults(metadata=meta, statistics=summarize(cases), results=cases)


def unwritable(folder: Path) -> str | None:
    """Say why files could not be written under ``folder`` (created on demand), or None; creates nothing."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is read-only"
    return None


def python_info() -> str:
    return f"{platform.python_implementation()} {platform.python_version()} on {sys.platform}"
