"""Answers, their scores and their statistics, keyed by arm: ``base``, then each adapter by name.

What is stored is per arm (``CaseResult.arms``, ``GroupStats.arms``) and per adapter against the
base (``similarity``, ``GroupStats.pairs``), so N adapters need no special case. What reports,
the gate and the per-case tests read is one adapter against the base: ``ScoredCase``, ``Stats``
and ``Summary`` are those two-sided views, derived on demand by ``versus(adapter)``, never stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from evals.records.codec import count, score
from evals.records.probe import ProbeCase
from evals.records.suite import Case

BASE_ARM = "base"
DEFAULT_MAX_NEW_TOKENS = 64  # a JARVIS answer routes in a few tokens; 64 leaves room for a sentence
# An arm's name: letters, digits, '.', '_' or '-' (it names tests, files and columns), never "base".
NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
RESERVED_NAMES = frozenset({BASE_ARM})


def default_adapter_name(path: Path) -> str:
    """Name an adapter after its training run: ``output/<run>/final`` -> ``<run>``, else its folder."""
    folder = path.parent if path.name == "final" and path.parent.name else path
    return NAME_CHARS.sub("-", folder.name).strip("-") or "adapter"


# The per-case score the paired statistics, the leaderboard and the gate compare (--jarvis-gate-metric).
GateMetric = Literal["relevance", "task_success"]
GATE_METRICS: tuple[str, ...] = ("relevance", "task_success")
METRIC_LABELS = {"relevance": "relevance", "task_success": "task success"}


# How a call was written in an answer: a bare id, ``tool_id(args)``, a JSON value, a <tool_call> block.
CallForm = Literal["bare", "json", "tool_call", "function"]


Decoding = Literal["greedy", "sampled"]
DECODINGS: tuple[str, ...] = ("greedy", "sampled")
# What a sampled run's cache key adds; greedy keys leave them out, so greedy answers cached before stay valid.
SAMPLING_SETTINGS = ("decoding", "temperature", "top_p", "top_k", "seed")


@dataclass(frozen=True)
class GenerationSettings:
    """Every decoding setting, written into the results so a run can be reproduced."""

    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS
    batch_size: str = "auto"
    do_sample: bool = False
    num_beams: int = 1
    template: str = "chat_template"  # how prompts are rendered: the chat template, or "plain"
    enable_thinking: bool = False
    # The shared system prompt is computed once per batch and its key/value cache reused by every
    # row. Greedy answers may then differ from a plain batch by float rounding, so it is keyed and
    # compared like any setting. None: not recorded (a server, or results of earlier versions).
    shared_prefix: bool | None = None
    # How the tools reach the model: "system-text" or "native-tools". None: not recorded (earlier versions).
    prompt_format: str | None = None
    # --jarvis-decoding: "greedy" (one answer per case) or "sampled" (``samples`` answers per case,
    # each from its own seed). Sampled runs take the model's generation_config for whatever is None
    # here (the server's defaults on the OpenAI backend); ``seed`` is mixed into every sample's seed.
    decoding: Decoding = "greedy"
    samples: int = 1
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int = 0

    @property
    def sampled(self) -> bool:
        return self.decoding == "sampled"


@dataclass(frozen=True)
class Call:
    """One tool call found in an answer, read as a runtime would read it.

    ``name`` is the tool it designates ("" when it designates none); ``raw_name`` is how the
    answer spelt it; ``malformed`` when that spelling is one edit away from the id;
    ``arguments`` is the parsed JSON value, a mapping of ``key=value`` pairs, or the raw text.
    """

    name: str
    arguments: Any = ""
    form: CallForm = "bare"
    raw_name: str = ""
    malformed: bool = False


@dataclass(frozen=True)
class ExecutedCall:
    """One call of an answer as the tool runtime ran it (evals/runtime): its result, or why it failed."""

    name: str  # as the answer spelt it
    arguments: str  # the arguments as JSON text (or the raw text the answer gave)
    ok: bool
    result: str = ""  # the tool's answer, or the error
    error_kind: str = ""  # one of evals.runtime.ERROR_KINDS when not ok


@dataclass(frozen=True)
class SampleScore:
    """One sampled answer's scores (``--jarvis-samples N``): what a case's rates are counted from."""

    answer: str
    relevance: float = score()
    valid_call: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    task_success: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    tool_names_ok: bool | None = None
    arguments_ok: bool | None = None
    abstained: bool | None = None


# A sampled answer "succeeds" on a metric when it scores full marks (a two-tool request half done does not).
SUCCESS = 1.0 - 1e-9


@dataclass(frozen=True)
class ArmScore:
    """The metrics of one arm's answer to one case.

    ``valid_call`` is None for an answer scored by metric version 1 (a results file of an early
    run), which had no calls, flags or valid-call rate.

    With N sampled answers per case (``samples``, sample 0 first; empty for one answer), the
    scores the statistics and the gate read (``relevance``, ``valid_call``, ``task_success``,
    ``tool_names_ok`` / ``arguments_ok`` / ``abstained`` through their rates) are the case's
    means over its samples, so every paired test compares per-case rates; the answer, its calls
    and flags shown are sample 0's.
    """

    answer: str
    keyword_hits: int = count()
    keyword_total: int = count()
    relevance: float = score()
    tools_named: tuple[str, ...] = ()
    tools_missing: tuple[str, ...] = ()
    tools_extra: tuple[str, ...] = ()
    echoed_tools: tuple[str, ...] = ()
    echo: bool = False
    valid_call: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    calls: tuple[Call, ...] = ()
    refusal: bool = False
    recited: bool = False
    malformed: bool = False
    loop: bool = False  # metric version 3
    # What the answer's calls did in the tool runtime (docs/metrics.md). None where not measured:
    # a case without `expect:`, or a results file of an earlier version. ``abstained`` is measured
    # only where nothing should run, ``arguments_ok`` only where an expected tool was called.
    task_success: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    tool_names_ok: bool | None = None
    arguments_ok: bool | None = None
    abstained: bool | None = None
    executed: tuple[ExecutedCall, ...] = ()
    state_diff: tuple[str, ...] = ()  # "volume: 50 -> 60", one line per changed field
    unmet: tuple[str, ...] = ()  # why task success is 0, one line per unmet part
    samples: tuple[SampleScore, ...] = ()  # every sampled answer, sample 0 first; () for one answer
    # The forced-choice routing probe of this arm on this case (evals/probe.py): how strongly it
    # prefers the right tool, in nats. None where not measured (--jarvis-no-probe, a server).
    probe: ProbeCase | None = None

    def value(self, metric: str) -> float | None:
        """The score ``metric`` compares: relevance, or task success (None where not measured)."""
        return self.relevance if metric == "relevance" else self.task_success

    @property
    def n_samples(self) -> int:
        return len(self.samples) or 1

    def successes(self, metric: str) -> tuple[bool, ...] | None:
        """Per sample (or for the one answer), whether it scored full marks on ``metric``; None where not measured."""
        if not self.samples:
            single = self.value(metric)
            return None if single is None else (single >= SUCCESS,)
        values = [s.relevance if metric == "relevance" else s.task_success for s in self.samples]
        if any(v is None for v in values):
            return None
        return tuple(v is not None and v >= SUCCESS for v in values)

    def rate(self, flag: str) -> float | None:
        """The share of samples where ``flag`` (tool_names_ok, arguments_ok, abstained) holds; None where unmeasured."""
        if not self.samples:
            single = getattr(self, flag)
            return None if single is None else float(single)
        values = [getattr(s, flag) for s in self.samples if getattr(s, flag) is not None]
        return sum(map(float, values)) / len(values) if values else None

    @property
    def false_activation(self) -> bool | None:
        """True when a call ran (or was attempted) where nothing should run; None elsewhere (sample 0's, when sampled)."""
        return None if self.abstained is None else not self.abstained

    @property
    def false_activation_rate(self) -> float | None:
        """The share of answers (samples) that acted where nothing should run; None elsewhere."""
        abstained = self.rate("abstained")
        return None if abstained is None else 1.0 - abstained

    @property
    def keyword_match(self) -> float:
        return self.keyword_hits / self.keyword_total if self.keyword_total else 0.0


@dataclass(frozen=True)
class CaseResult:
    """One case and every arm's scored answer; ``similarity``: each adapter's answer against the base's (cosine)."""

    case: Case
    arms: Mapping[str, ArmScore]
    similarity: Mapping[str, float] = field(default_factory=dict, metadata={"range": (-1.0, 1.0)})

    @property
    def id(self) -> str:
        return self.case.id

    @property
    def category(self) -> str:
        return self.case.category

    @property
    def adapters(self) -> tuple[str, ...]:
        return tuple(name for name in self.arms if name != BASE_ARM)

    def versus(self, adapter: str) -> ScoredCase:
        """Return this case as ``adapter`` against the base arm."""
        return ScoredCase(self.case, self.arms[BASE_ARM], self.arms[adapter], self.similarity[adapter])


@dataclass(frozen=True)
class ScoredCase:
    """One adapter's answer to a case against the base's: the view reports and per-case tests read."""

    case: Case
    base: ArmScore
    finetuned: ArmScore
    cosine_similarity: float

    @property
    def id(self) -> str:
        return self.case.id

    @property
    def category(self) -> str:
        return self.case.category

    @property
    def relevance_delta(self) -> float:
        return self.finetuned.relevance - self.base.relevance

    def delta(self, metric: str) -> float | None:
        """Fine-tuned minus base on ``metric``; None when the case does not measure it."""
        tuned, base = self.finetuned.value(metric), self.base.value(metric)
        return None if tuned is None or base is None else tuned - base

    @property
    def regression(self) -> bool:
        return self.finetuned.relevance < self.base.relevance

    def arm(self, name: str) -> ArmScore:
        """``base``, else the fine-tuned side."""
        return self.base if name == BASE_ARM else self.finetuned


@dataclass(frozen=True)
class ArmStats:
    """One arm's means and counts over a group of cases.

    ``valid_call`` and the flag counts are None when an answer of the group was scored by metric
    version 1; ``loop`` is None for groups scored before metric version 3.
    """

    relevance: float = score()
    keyword_match: float = score()
    echo: int = count(0)
    valid_call: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    refusal: int | None = None
    recited: int | None = None
    loop: int | None = None
    # The tool runtime's metrics (None where no case of the group measures them): means over the
    # cases with an `expect:`, and false activation over those where nothing should run.
    task_success: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    tool_names_ok: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    arguments_ok: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    false_activation: float | None = field(default=None, metadata={"range": (0.0, 1.0)})
    n_task: int = count(0)  # cases with task success measured
    n_no_tool: int = count(0)  # cases where nothing should run

    def value(self, metric: str) -> float | None:
        return self.relevance if metric == "relevance" else self.task_success


@dataclass(frozen=True)
class PairStats:
    """One adapter against the base over a group of cases (``n_cases``: those it answered)."""

    n_cases: int = count()
    cosine_similarity: float = score(-1.0, 1.0)
    regressions: int = count(0)
    improvements: int = count(0)


@dataclass(frozen=True)
class GroupStats:
    """Statistics of a group of cases (all of them, or one category): per arm, and per adapter vs the base."""

    n_cases: int = count()
    arms: Mapping[str, ArmStats] = field(default_factory=dict)
    pairs: Mapping[str, PairStats] = field(default_factory=dict)

    def versus(self, adapter: str) -> Stats:
        """``adapter`` against the base; a group where it answered nothing has zero means, not a KeyError."""
        nothing = ArmStats(relevance=0.0, keyword_match=0.0)
        pair = self.pairs.get(adapter, PairStats(n_cases=0, cosine_similarity=0.0))
        return Stats(
            n_cases=pair.n_cases,
            base=self.arms.get(BASE_ARM, nothing),
            finetuned=self.arms.get(adapter, nothing),
            cosine_similarity=pair.cosine_similarity,
            regressions=pair.regressions,
            improvements=pair.improvements,
        )


@dataclass(frozen=True)
class Statistics:
    """Statistics over the whole run and per category (only the categories that ran)."""

    overall: GroupStats
    by_category: Mapping[str, GroupStats] = field(default_factory=dict)

    def versus(self, adapter: str) -> Summary:
        return Summary(self.overall.versus(adapter), {k: v.versus(adapter) for k, v in self.by_category.items()})


@dataclass(frozen=True)
class Stats:
    """One adapter against the base over a group of cases: the view the reports and the gate read."""

    n_cases: int
    base: ArmStats
    finetuned: ArmStats
    cosine_similarity: float
    regressions: int = 0
    improvements: int = 0

    @property
    def has_valid_call(self) -> bool:
        """Whether both arms were scored by metric version 2 or later (valid_call and flags)."""
        return self.base.valid_call is not None and self.finetuned.valid_call is not None

    @property
    def relevance_gain(self) -> float:
        """Absolute gain of mean relevance, fine-tuned minus base."""
        return self.finetuned.relevance - self.base.relevance

    @property
    def relevance_gain_pct(self) -> float | None:
        """Relative gain in percent of the base mean; None when the base mean is 0."""
        if self.base.relevance == 0:
            return None
        return 100.0 * self.relevance_gain / self.base.relevance

    @property
    def keyword_gain(self) -> float:
        return self.finetuned.keyword_match - self.base.keyword_match


@dataclass(frozen=True)
class Summary:
    """One adapter against the base, over the whole run and per category."""

    overall: Stats
    by_category: Mapping[str, Stats] = field(default_factory=dict)


@dataclass(frozen=True)
class RunMetadata:
    """Where a run's numbers come from: model, adapters, settings, suite and versions.

    ``adapters`` maps each adapter's name to where its answers come from (a folder, or a served
    model's name), in the run's order; ``primary`` names the one the single-adapter reports and
    the gate describe, and ``adapter`` is its source.
    """

    model: str
    adapter: str
    quantization: str
    device: str
    generation: GenerationSettings
    suite_name: str
    suite_version: str
    suite_path: str
    timestamp: str
    primary: str = ""
    adapters: Mapping[str, str] = field(default_factory=dict)
    packages: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    partial: bool = False
    n_generate_calls: int = count(0)
    n_cached_answers: int = count(0)
    # Answers generated by this run and their tokens: with generation_seconds, the rate a later
    # run's budget line estimates its time from (evals.budget).
    n_fresh_answers: int = count(0)
    n_new_tokens: int = count(0)
    generation_seconds: float = 0.0
    load_seconds: float = 0.0
    # What a baseline must match besides the fields above ("" in files of early versions).
    model_fingerprint: str = ""
    suite_hash: str = ""
    metric_version: str = ""
    scope: str = ""  # why the run is partial ("quick", "-k", "--jarvis-limit", "categories"), empty when full
