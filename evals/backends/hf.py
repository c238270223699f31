"""In-process generation with transformers and peft: one quantized base, adapters toggled per arm.

The base is loaded once. Every adapter is loaded onto it under its arm's name; the base arm
runs inside ``disable_adapter()``, so there is never a second copy of the base. Each arm's
prompts are rendered with the tokenizer's chat template and generated in batches (left
padding, greedy, one ``GenerationConfig`` built from the recorded settings), halving the
batch on out-of-memory.

torch, transformers and peft are imported inside functions: importing this module is cheap,
and a run whose answers are all cached never imports them.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.backends.base import Answer, Arm, BackendEntry, BackendStats, OnAnswers, Prompt, register_backend
from evals.backends.batching import initial_batch_size, run_batched
from evals.backends.prompting import (
    MIN_SHARED_PREFIX,
    build_prompt,
    prefill,
    shared_prefix_length,
    strip_think,
    template_ignores_tools,
    template_of,
    template_of_folder,
)
from evals.backends.sampling import (  # noqa: F401 (CACHE_ARGUMENT, GREEDY_NEUTRAL: re-exported)
    CACHE_ARGUMENT,
    GREEDY_NEUTRAL,
    Sampling,
    generation_config,
    model_sampling_defaults,
    resolve_sampling,
    seeded_sampler,
)
from evals.environment import package_versions, predict_device
from evals.errors import JarvisError
from evals.fingerprints import NO_ADAPTER, fingerprint_adapter_info, fingerprint_model
from evals.hfload import collector_paused, load_tokenizer, quiet_loading
from evals.models import AdapterInfo, context_window, embedded_fingerprint, inspect_adapter, is_embedded, resolve_model
from evals.progress import progress
from evals.quantized import load_embedded
from evals.records import BASE_ARM, Case, DriftPrompt, GenerationSettings, ProbeCase, Suite

if TYPE_CHECKING:
    from evals.drift import NeutralSet
    from evals.plan import RunPlan


def _adapter_keys(info: AdapterInfo) -> set[str]:
    """Return the tensor names stored in an adapter's weights file."""
    if info.weights.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(info.weights), framework="pt") as fh:
            return set(fh.keys())
    import torch

    return set(torch.load(info.weights, map_location="cpu", weights_only=True))


def check_adapter_fits(model: Any, name: str, info: AdapterInfo, model_name: str) -> None:
    """Fail with one line unless every LoRA tensor the model expects for ``name`` is in the adapter file.

    peft only warns about missing keys, and a LoRA tensor that is missing keeps its
    initial value, which for lora_B is zero: that layer then does nothing, and a damaged
    adapter would be scored as a merely weak fine-tune.
    """
    from peft import get_peft_model_state_dict

    expected = set(get_peft_model_state_dict(model, adapter_name=name))
    stored = _adapter_keys(info)
    matched = len(expected & stored)
    missing, unexpected = len(expected - stored), len(stored - expected)
    if missing or unexpected:
        raise JarvisError(
            f"adapter {info.path} does not match model {model_name}: {matched} of {len(expected)} LoRA tensors "
            f"matched ({missing} missing from the adapter, {unexpected} the model has no place for); "
            "pass the complete adapter trained for this model"
        )


def attach_adapters(model: Any, adapters: Sequence[tuple[str, AdapterInfo]], model_name: str) -> Any:
    """Load each adapter onto ``model`` under its arm's name (the base is wrapped by peft on the first).

    A misfit adapter fails with one line naming it and the model.
    """
    from peft import PeftModel

    for name, info in adapters:
        try:
            with quiet_loading():
                if not isinstance(model, PeftModel):
                    model = PeftModel.from_pretrained(model, str(info.path), adapter_name=name, is_trainable=False)
                else:
                    model.load_adapter(str(info.path), adapter_name=name, is_trainable=False)
        except (RuntimeError, ValueError, KeyError) as exc:
            if "weights_only" not in str(exc):
                raise JarvisError(
                    f"adapter {info.path} (trained for {info.base_model}) does not fit model {model_name}: "
                    f"{_misfit_detail(exc)}; pass the adapter trained for this model"
                ) from None
            raise _unloadable(info, exc) from None
        except Exception as exc:  # an unpickling refusal, a damaged archive: never the loader's own advice
            raise _unloadable(info, exc) from None
        check_adapter_fits(model, name, info, model_name)
    model.eval()
    return model


def _unloadable(info: AdapterInfo, exc: BaseException) -> JarvisError:
    """One line for weights the loader refused; its message is left out on purpose.

    torch's refusal of a pickle that holds more than tensors suggests re-running with
    ``weights_only=False``, which would run the code it holds: advice no error of ours repeats.
    """
    return JarvisError(
        f"adapter weights {info.weights} cannot be loaded safely ({type(exc).__name__}): they hold more than "
        "tensors or are damaged; re-save the adapter as adapter_model.safetensors from a trusted copy"
    )


_SIZE_MISMATCH = re.compile(
    r"size mismatch for (?P<name>\S+?): copying a param with shape torch\.Size\((?P<adapter>\[.*?\])\) "
    r"from checkpoint, the shape in current model is torch\.Size\((?P<model>\[.*?\])\)"
)


def _misfit_detail(exc: BaseException) -> str:
    """Say in a few words why peft refused the adapter: the first shape mismatch, else its first line."""
    text = str(exc).strip()
    match = _SIZE_MISMATCH.search(text)
    if match:
        name = re.sub(r"\.lora_([AB])\.[^.]+\.", r".lora_\1.", match["name"].removeprefix("base_model.model."))
        return f"{name} is {match['adapter']} in the adapter but {match['model']} in the model"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first[:200]


# --- generating -----------------------------------------------------------------------------


def context_limit(model: Any, max_new_tokens: int) -> int | None:
    """Return how many prompt tokens fit before the answer, or None when unknown."""
    config = getattr(model, "config", None)
    window = getattr(config, "max_position_embeddings", None) if config is not None else None
    if not window:
        return None
    return max(8, int(window) - max_new_tokens)


@dataclass
class BatchGenerator:
    """Generate answers for a batch of rendered prompts; counts ``generate`` calls and their time."""

    model: Any
    tokenizer: Any
    settings: GenerationSettings
    stats: BackendStats

    sampling: Sampling | None = None  # sampled decoding: each row draws from its seed (evals.backends.sampling)

    def __post_init__(self) -> None:
        self.limit = context_limit(self.model, self.settings.max_new_tokens)
        self.config = generation_config(self.settings, self.tokenizer)

    def __call__(self, texts: Sequence[str], seeds: Sequence[int] = ()) -> list[Answer]:
        import torch
        from transformers import LogitsProcessorList

        tok = self.tokenizer
        tok.padding_side = "left"  # decoder-only models continue from the right edge
        tok.truncation_side = "left"  # keep the end of an over-long prompt: the request and the assistant turn
        rows = tok(list(texts), add_special_tokens=False)["input_ids"]
        lengths = [len(ids) for ids in rows]
        truncation = self.limit is not None and max(lengths) > self.limit
        shared = shared_prefix_length(rows) if self.settings.shared_prefix and not truncation else 0
        device = next(self.model.parameters()).device
        start = time.perf_counter()
        with torch.inference_mode():
            if shared >= MIN_SHARED_PREFIX:
                inputs = self._with_prefix_cache(rows, shared, device)
            else:
                encoded = tok(
                    list(texts),
                    return_tensors="pt",
                    padding=True,
                    add_special_tokens=False,
                    truncation=truncation,
                    max_length=self.limit if truncation else None,
                )
                inputs = {k: v.to(device) for k, v in encoded.items()}
            extra = {}
            if self.sampling is not None:
                extra["logits_processor"] = LogitsProcessorList([seeded_sampler(self.sampling, seeds)])
            output = self.model.generate(**inputs, generation_config=self.config, **extra)
        self.stats.generate_calls += 1
        self.stats.generation_seconds += time.perf_counter() - start
        new = output[:, inputs["input_ids"].shape[1] :]
        stop = {tok.eos_token_id, tok.pad_token_id} - {None}
        answers = []
        for row, length in zip(new, lengths, strict=True):
            ids = [int(t) for t in row.tolist()]
            # Count tokens up to and including the first end-of-sequence (pad == eos on many models).
            n = next((i + 1 for i, t in enumerate(ids) if t in stop), len(ids))
            text = strip_think(tok.decode(ids[:n], skip_special_tokens=True))
            answers.append(Answer(text=text, new_tokens=n, truncated_prompt=bool(self.limit and length > self.limit)))
        return answers

    def _with_prefix_cache(self, rows: Sequence[Sequence[int]], shared: int, device: Any) -> dict[str, Any]:
        """Compute the rows' common prefix once; return generate's inputs reusing its key/value cache.

        Every JARVIS prompt starts with the same rendered system prompt (~170 tokens), most of a
        row's prefill. Its cache is computed in one forward pass, repeated for each row, and the
        rows are laid out as [prefix][left padding][rest of the prompt] with the padding masked, so
        positions after the gap continue from the prefix, as in an unpadded prompt.
        """
        import torch

        pad = self.tokenizer.pad_token_id
        cache = prefill(self.model, rows[0][:shared], len(rows))
        rests = [list(r[shared:]) for r in rows]
        width = max(len(r) for r in rests)
        ids = [list(rows[0][:shared]) + [pad] * (width - len(r)) + r for r in rests]
        mask = [[1] * shared + [0] * (width - len(r)) + [1] * len(r) for r in rests]
        return {
            "input_ids": torch.tensor(ids, device=device),
            "attention_mask": torch.tensor(mask, device=device),
            CACHE_ARGUMENT: cache,
        }


class HFBackend:
    """The in-process backend: one base in memory, every adapter arm loaded onto it by name."""

    kind = "hf"

    def __init__(
        self,
        model_path: str,
        quant: str,
        trust_remote_code: bool,
        arms: Sequence[Arm],
        adapters: Mapping[str, AdapterInfo] | None = None,
    ) -> None:
        self.model_path = model_path  # a local folder, a hub id, or "embedded" (converted on first load)
        self.quant = quant
        self.trust_remote_code = trust_remote_code
        self.arms = tuple(arms)
        self.stats = BackendStats()
        self.model: Any = None
        self.tokenizer: Any = None
        # The run plan inspected each adapter folder once; a backend built on its own inspects them here.
        known = dict(adapters or {})
        self._adapters = {
            arm.name: known.get(arm.name) or inspect_adapter(arm.source) for arm in self.arms if arm.source is not None
        }
        self._arm_identities: dict[str, str] = {}  # each adapter's digest, computed once
        # peft stores adapters as module attributes: a user's name ("half", "ckpt.5") could clash or
        # be refused, so each arm gets a plain internal name.
        self._peft_names = {name: f"jarvis_arm_{i}" for i, name in enumerate(self._adapters)}
        self._loaded: set[str] = set()
        self._tools_checked: tuple[str, ...] | None = None  # the notices, once checked
        self._identity: dict[str, Any] | None = None
        self._sampling_said = ""

    # -- identity (cheap, no model) ----------------------------------------------------------

    def validate(self) -> None:
        """Adapters were validated on construction; a local model folder by ``resolve_model``."""

    def identity(self) -> Mapping[str, Any]:
        if self._identity is None:
            # The embedded model is its GGUF file and conversion recipe, not the converted folder,
            # whose files record the transformers release that wrote them.
            model = embedded_fingerprint() if is_embedded(self.model_path) else fingerprint_model(self.model_path)
            self._identity = {
                "backend": self.kind,
                "model": model,  # weights, tokenizer, chat template, generation and model config
                "quantization": self.quant,
                "packages": package_versions(),
            }
        # The device decides the compute dtype (float32 on CPU, bf16 on CUDA); once loaded it is known.
        return {**self._identity, "device": self.device() if self.model is not None else predict_device()}

    def arm_identity(self, arm: Arm) -> str:
        if arm.source is None:
            return NO_ADAPTER
        if arm.name not in self._arm_identities:  # hashing the weights once per run is enough
            self._arm_identities[arm.name] = fingerprint_adapter_info(self._adapters[arm.name])
        return self._arm_identities[arm.name]

    def context_window(self) -> tuple[int, str] | None:
        found = context_window(self.model_path)  # config.json of a local folder (or the converted embedded one)
        return (found[0], str(found[1])) if found else None

    def template(self) -> str:
        if self.tokenizer is not None:
            return template_of(self.tokenizer)
        return template_of_folder(Path(self._resolved_path()))

    def device(self) -> str:
        if self.model is None:
            return "not loaded"
        return str(next(self.model.parameters()).device.type)

    # -- loading and generating --------------------------------------------------------------

    def _resolved_path(self) -> str:
        return resolve_model(self.model_path)

    def load(self, arms: Sequence[Arm] = ()) -> Any:
        """Load the base once, and onto it each adapter of ``arms`` not loaded yet; return the model.

        Adapters are attached before anything is generated, so a misfit one stops the run first;
        an adapter whose tests were all deselected is never loaded.
        """
        start = time.perf_counter()
        missing = [
            (self._peft_names[a.name], self._adapters[a.name])
            for a in arms
            if a.source is not None and self._peft_names[a.name] not in self._loaded
        ]
        if self.model is None or missing:
            with collector_paused():
                if self.model is None:
                    path = self._resolved_path()
                    self.tokenizer = load_tokenizer(path, self.trust_remote_code)
                    self.model = load_embedded(self.model_path, path, self.quant, self.trust_remote_code)
                    self.stats.loads += 1
                if missing:
                    self.model = attach_adapters(self.model, missing, self._resolved_path())
                    self._loaded.update(name for name, _ in missing)
        self.stats.load_seconds += time.perf_counter() - start
        return self.model

    def _check_tools_reach_the_model(self, prompts: Sequence[Prompt]) -> tuple[str, ...]:
        """Say once when the native-tools format is asked of a template that ignores ``tools``; return the notice.

        The notice travels with each answer into the cache, so a run served from it says the same.
        """
        schemas = prompts[0].tool_schemas() if prompts else None
        if not schemas or self._tools_checked is not None:
            return self._tools_checked or ()
        self._tools_checked = ()
        if template_ignores_tools(self.tokenizer, schemas):
            notice = (
                f"the chat template of {self.model_path} ignores `tools`: with the native-tools prompt format "
                "the model sees no tool list (use a tools-aware model such as Qwen3, or --jarvis-prompt-format=system-text)"
            )
            self._tools_checked = (notice,)
            self.stats.notices.append(notice)
            print(f"[jarvis] warning: {notice}", file=sys.stderr, flush=True)
        return self._tools_checked

    @contextmanager
    def _as_arm(self, arm: Arm) -> Iterator[Any]:
        """Yield the model as ``arm``: its adapter active, or every adapter disabled for the base arm."""
        model = self.load()
        if arm.source is None:
            if hasattr(model, "disable_adapter"):
                with model.disable_adapter():
                    yield model
            else:
                yield model
        else:
            model.set_adapter(self._peft_names[arm.name])
            yield model

    def generate(
        self, work: Mapping[Arm, Sequence[Prompt]], settings: GenerationSettings, on_answers: OnAnswers | None = None
    ) -> dict[Arm, list[Answer]]:
        self.load([arm for arm, prompts in work.items() if prompts])
        return {
            arm: self._generate_arm(arm, prompts, settings, on_answers) if prompts else []
            for arm, prompts in work.items()
        }

    def probe(self, arm: Arm, cases: Sequence[Case], suite: Suite, prompt_format: str) -> list[ProbeCase]:
        """The forced-choice routing probe of ``cases`` under ``arm`` (evals/probe.py), the model as generation uses it."""
        from evals.probe import probe_cases

        self.load([arm])
        with self._as_arm(arm) as model:
            return probe_cases(model, self.tokenizer, suite, cases, arm.name, prompt_format)

    def drift(
        self,
        arm: Arm,
        neutral: NeutralSet,
        base_answers: Sequence[Sequence[int]] | None,
        keep_answers: Callable[[list[list[int]]], None] | None = None,
    ) -> list[DriftPrompt]:
        """How far ``arm`` moved from the base on the neutral prompts (evals/drift.py).

        Along ``base_answers`` (token ids kept from an earlier run), or along the base's greedy
        answers generated now, which go to ``keep_answers``.
        """
        from evals.drift import measure_drift

        self.load([arm])
        return measure_drift(
            self.tokenizer,
            neutral,
            lambda: self._as_arm(Arm(BASE_ARM)),
            lambda: self._as_arm(arm),
            arm.name,
            base_answers=base_answers,
            keep_answers=keep_answers,
        )

    def _sampling(self, settings: GenerationSettings) -> Sampling | None:
        """The sampling parameters of a sampled run (said once), or None for greedy decoding."""
        if not settings.sampled:
            return None
        sampling = resolve_sampling(settings, model_sampling_defaults(self.model))
        line = f"sampled decoding: {sampling.describe()}; {settings.samples} answer(s) per case, seed {settings.seed}"
        if line != self._sampling_said:
            self._sampling_said = line
            print(f"[jarvis] {line}", file=sys.stderr, flush=True)
        return sampling

    def _generate_arm(
        self, arm: Arm, prompts: Sequence[Prompt], settings: GenerationSettings, on_answers: OnAnswers | None
    ) -> list[Answer]:
        """Generate one arm's answers in batches (longest prompts first), with a progress bar."""
        with self._as_arm(arm) as model:
            texts = [build_prompt(self.tokenizer, p.system, p.user, p.tool_schemas(), p.history) for p in prompts]
            seeds = [p.seed(settings.seed) for p in prompts]
            notices = self._check_tools_reach_the_model(prompts)
            generator = BatchGenerator(model, self.tokenizer, settings, self.stats, self._sampling(settings))
            size = initial_batch_size(self.device(), len(texts), settings.batch_size)
            label = arm.label(len(self._adapters))
            with progress(total=len(texts), desc=f"generating {label} arm", unit="prompts") as bar:
                start = time.perf_counter()
                tokens = 0

                def counted(batch: Sequence[int]) -> list[Answer]:
                    nonlocal tokens
                    answers = generator([texts[i] for i in batch], [seeds[i] for i in batch])
                    if notices:
                        answers = [replace(a, notices=notices) for a in answers]
                    tokens += sum(a.new_tokens for a in answers)
                    if on_answers is not None:  # e.g. into the cache now: Ctrl-C later loses nothing done
                        on_answers(arm, list(batch), answers)
                    return answers

                def on_batch(done: int, total: int, batch_size: int) -> None:
                    self.stats.batch_size_used = batch_size
                    bar.update(done - bar.n)
                    elapsed = time.perf_counter() - start
                    if tokens and elapsed:
                        # Prompts run longest first, so the time left is an upper bound, not a promise.
                        left = elapsed / done * (total - done)
                        eta = f", about {left / 60:.0f} min left" if left >= 90 else ""
                        bar.set_postfix_str(f"{tokens / elapsed:.0f} tok/s{eta}")

                order = list(range(len(texts)))
                return list(run_batched(order, counted, size, sort_key=lambda i: len(texts[i]), on_batch=on_batch))


def _build(plan: RunPlan, arms: tuple[Arm, ...]) -> HFBackend:
    config = plan.config
    return HFBackend(
        model_path=plan.model_path,
        quant=config.quant,
        trust_remote_code=config.trust_remote_code,
        arms=arms,
        adapters={a.name: a.info for a in plan.adapters if a.info is not None},
    )


ENTRY = register_backend(
    BackendEntry(name="hf", summary="in process", help="transformers in process", build=_build, shared_prefix=True)
)
