"""The generation backend seam and its registry: arms and prompts in, answers out, an identity for the cache.

A backend turns the prompts each arm must answer into ``Answer`` records under explicit
``GenerationSettings``. The run (``evals.run``) depends on this protocol only: it looks answers
up in the generation cache under the backend's identity and asks the backend for the rest.

- ``evals.backends.hf``: in process, transformers + peft. One quantized base in memory; the
  base arm runs inside ``disable_adapter()``; batched, left-padded greedy generation that
  halves the batch on out-of-memory.
- ``evals.backends.openai``: an OpenAI-compatible server (vLLM, SGLang, llama.cpp, transformers
  serve) answers chat completions; the base and each adapter are models it serves by name.

Each backend registers itself (``register_backend``) with the options it owns, how it checks
them, and how it is built from a run plan: nothing outside its module decides anything about it.

A backend loads nothing until ``generate`` is called, and its identity is cheap to compute,
so a run whose answers are all cached never loads a model.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from evals.records import BASE_ARM as BASE_ARM  # one definition, in the records
from evals.records import GenerationSettings

if TYPE_CHECKING:
    from evals.config import EvalConfig
    from evals.options import Option
    from evals.plan import RunPlan


@dataclass(frozen=True)
class Arm:
    """One arm of the comparison: the base model, or the base with one adapter.

    ``source`` says where the arm's answers come from, in the backend's terms: the adapter
    folder for the in-process backend, the served model name for a server (None for the base arm).
    """

    name: str
    source: str | None = None

    @property
    def is_base(self) -> bool:
        return self.source is None

    def label(self, n_adapters: int) -> str:
        """How progress lines name the arm: "base", "fine-tuned" (one adapter) or "<name> adapter"."""
        if self.is_base:
            return "base"
        return "fine-tuned" if n_adapters <= 1 else f"{self.name} adapter"


@dataclass(frozen=True)
class Prompt:
    """What an arm is asked: the system prompt and the user's request, as data, not rendered.

    ``tools`` holds the function schemas of the native-tools prompt format as canonical JSON
    (a list; empty when the tools are listed in the system prompt's text), so a prompt stays
    hashable and keys the cache exactly.
    """

    system: str
    user: str
    tools: str = ""
    # Earlier turns of a follow-up case, (role, content) in order, shown before ``user``.
    history: tuple[tuple[str, str], ...] = ()
    # Which of a case's sampled answers this asks for (--jarvis-samples); None: the one greedy answer.
    sample: int | None = None

    def seed(self, run_seed: int = 0) -> int:
        """The seed of this sample: from the prompt as data, its index and the run's seed, never its batch.

        Both arms draw sample i of a case from the same seed (common random numbers), so their
        paired difference carries less sampling noise than two independent draws.
        """
        payload = json.dumps(
            [self.system, self.user, self.tools, self.history, self.sample or 0, run_seed], ensure_ascii=False
        )
        return int.from_bytes(hashlib.sha256(payload.encode("utf-8")).digest()[:4], "big") >> 1  # 31 bits: any server

    def messages(self) -> list[dict[str, str]]:
        """The chat messages: system, the earlier turns, then the request."""
        turns = [{"role": role, "content": content} for role, content in self.history]
        return [{"role": "system", "content": self.system}, *turns, {"role": "user", "content": self.user}]

    def tool_schemas(self) -> list[dict[str, Any]] | None:
        """Return the function schemas to pass as ``tools=``, or None for the system-text format."""
        return json.loads(self.tools) if self.tools else None


@dataclass(frozen=True)
class Answer:
    """What one prompt produced: the cleaned text and how it was made."""

    text: str
    new_tokens: int
    truncated_prompt: bool = False
    cached: bool = False
    notices: tuple[str, ...] = ()  # findings about how it was asked (stored with it in the cache)


@dataclass
class BackendStats:
    """What generating cost, for the results metadata."""

    generate_calls: int = 0
    generation_seconds: float = 0.0
    load_seconds: float = 0.0
    loads: int = 0
    batch_size_used: int | None = None
    notices: list[str] = field(default_factory=list)  # said once, in the run header and the results


OnAnswers = Callable[[Arm, list[int], list[Answer]], None]


class Backend(Protocol):
    """Turns (arms, prompts, generation settings) into answers, and says what shapes them."""

    kind: str
    stats: BackendStats

    def identity(self) -> Mapping[str, Any]:
        """Return everything shared by the arms that changes an answer (the cache key's context).

        Cheap: no model is loaded to compute it. It may be refined once the model has loaded
        (the device actually used), so the run keys new answers with the identity read after
        generating.
        """
        ...

    def arm_identity(self, arm: Arm) -> str:
        """Return what distinguishes ``arm``'s answers from the other arms' (e.g. an adapter digest)."""
        ...

    def validate(self) -> None:
        """Check every input that is cheap to check now; raise ``JarvisError`` with one line."""
        ...

    def generate(
        self, work: Mapping[Arm, Sequence[Prompt]], settings: GenerationSettings, on_answers: OnAnswers | None = None
    ) -> dict[Arm, list[Answer]]:
        """Answer each arm's prompts (in order); load the model on first use.

        ``on_answers(arm, indices, answers)`` follows every finished batch (indices into the
        arm's prompts), so the caller can keep what is done if a later batch is interrupted.
        """
        ...

    def template(self) -> str:
        """Return how prompts are rendered ("chat_template" or "plain"), without loading a model."""
        ...

    def context_window(self) -> tuple[int, str] | None:
        """Return the model's context window in tokens and where that is stated, without loading it; None if unknown."""
        ...

    def device(self) -> str:
        """Return where answers were generated ("cpu", "cuda", ...), or "not loaded"."""
        ...


# --- the registry ----------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendEntry:
    """What a backend declares about itself when it registers.

    ``options``: the flags and ini keys it owns (given on the command line with another backend,
    they are a usage error). ``configure(config, values)`` checks its option values (parsed,
    keyed by ``Option.dest``) and returns the config it implies, raising ``ValueError`` with one
    line when they are incomplete. ``build(plan, arms)`` makes the backend for a run.
    ``refuses``: flags of the common options this backend decides itself, with ``refusal`` saying
    why. ``local_adapters``: whether its arms are adapter folders (found under the output folder
    and inspected) rather than names something else resolves. ``shared_prefix``: whether it
    computes a shared system prompt once per batch (``--jarvis-no-shared-prefix`` turns it off).
    """

    name: str
    summary: str  # a few words for the usage error: "in process", "a server"
    help: str  # what --jarvis-backend's help says about it
    build: Callable[[RunPlan, tuple[Arm, ...]], Backend]
    options: tuple[Option, ...] = ()
    configure: Callable[[EvalConfig, Mapping[str, Any]], EvalConfig] | None = None
    refuses: tuple[str, ...] = ()
    refusal: str = ""
    local_adapters: bool = True
    shared_prefix: bool = False  # whether --jarvis-no-shared-prefix applies (recorded in the settings)


_REGISTRY: dict[str, BackendEntry] = {}


def register_backend(entry: BackendEntry) -> BackendEntry:
    """Make a backend selectable with ``--jarvis-backend NAME``; a name registers once (again: replaced)."""
    _REGISTRY[entry.name] = entry
    return entry


def unregister_backend(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered_backends() -> dict[str, BackendEntry]:
    """Every registered backend by name, in registration order."""
    return dict(_REGISTRY)


def backend_entry(name: str) -> BackendEntry:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ValueError(f"{name!r} is not a backend; use {backend_choices()}") from None


def backend_choices() -> str:
    """The registered backends for a message: ``hf (in process) or openai (a server)``."""
    return " or ".join(f"{e.name} ({e.summary})" for e in _REGISTRY.values())


def backend_help() -> str:
    """The registered backends for ``--jarvis-backend``'s help."""
    return "who answers: " + " | ".join(f"{e.name} ({e.help})" for e in _REGISTRY.values())


def parse_backend(value: str) -> str:
    """Parse ``--jarvis-backend``: a registered backend's name."""
    import argparse

    name = str(value).strip().lower()
    if name not in _REGISTRY:
        raise argparse.ArgumentTypeError(f"{value!r} is not a backend; use {backend_choices()}")
    return name
