"""Typed, frozen records that flow through a run: suite -> generations -> scores -> summary.

Every record has ``to_dict`` / ``from_dict`` so a run round-trips through JSON without loss.
Tuples (not lists) keep the records hashable and immutable; JSON turns them into lists.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

CATEGORIES: tuple[str, ...] = ("commands", "corrections", "routing")
SYSTEM_TEXT, NATIVE_TOOLS = "system-text", "native-tools"
PROMPT_FORMATS: tuple[str, ...] = (SYSTEM_TEXT, NATIVE_TOOLS)
ARMS: tuple[str, ...] = ("base", "finetuned")


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


def _str(data: Mapping[str, Any], key: str) -> str:
    """Read a text field of a saved run: a ``null`` or a number there is damage, not an empty answer."""
    value = data[key]
    if not isinstance(value, str):
        raise ValueError(f"'{key}' must be text, got {type(value).__name__}")
    return value


def _score(data: Mapping[str, Any], key: str, low: float = 0.0, high: float = 1.0) -> float:
    """Read a score of a saved run: a finite number in [low, high], so no report renders NaN or -0.5."""
    value = data[key]
    if (
        isinstance(value, bool) or not isinstance(value, (int, float)) or not low - 1e-9 <= float(value) <= high + 1e-9
    ):  # float rounding
        raise ValueError(f"'{key}' must be a number from {low:g} to {high:g}, got {value!r}")
    return float(value)


def _count(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"'{key}' must be a whole number >= 0, got {value!r}")
    return value


@dataclass(frozen=True)
class Intent:
    """Words that name a tool together: an action and, when objects are listed, an object in the same sentence."""

    actions: tuple[str, ...]
    objects: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"actions": list(self.actions), "objects": list(self.objects)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Intent:
        return cls(actions=_tuple(data.get("actions")), objects=_tuple(data.get("objects")))


@dataclass(frozen=True)
class Tool:
    """One tool of the JARVIS registry and the lexicon that names it in free text.

    ``phrases`` name the tool alone ("sourdine"); ``intents`` name it by an action and an
    object in one sentence ("monté" + "volume"); ``aliases`` (suite version 1.0) count as phrases.
    """

    id: str
    description: str
    aliases: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    intents: tuple[Intent, ...] = ()
    # The tool's arguments as a JSON schema (canonical JSON text, so the record stays hashable);
    # empty: no argument. Used by the native-tools prompt format.
    parameters: str = ""

    def function_schema(self) -> dict[str, Any]:
        """Return the tool as an OpenAI/Hermes function schema, as chat templates and servers take it."""
        parameters = json.loads(self.parameters) if self.parameters else {"type": "object", "properties": {}}
        return {
            "type": "function",
            "function": {"name": self.id, "description": self.description, "parameters": parameters},
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "description": self.description, "aliases": list(self.aliases)}
        if self.phrases:
            out["phrases"] = list(self.phrases)
        if self.intents:
            out["intents"] = [i.to_dict() for i in self.intents]
        if self.parameters:
            out["parameters"] = json.loads(self.parameters)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tool:
        return cls(
            id=data["id"],
            description=data.get("description", ""),
            aliases=_tuple(data.get("aliases")),
            phrases=_tuple(data.get("phrases")),
            intents=tuple(Intent.from_dict(i) for i in data.get("intents") or ()),
            parameters=json.dumps(data["parameters"], sort_keys=True) if data.get("parameters") else "",
        )


@dataclass(frozen=True)
class Case:
    """One evaluation prompt with what a good answer must contain."""

    id: str
    category: str
    prompt: str
    expected_tools: tuple[str, ...]
    keywords: tuple[str, ...]
    intended: str | None = None
    # A generated speech-recognition variant (evals/perturb): the clean case's id, the noise
    # level (0 = the clean prompt) and the variant's index. None on hand-written cases.
    source: str | None = None
    level: int | None = None
    variant: int | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "prompt": self.prompt,
            "expected_tools": list(self.expected_tools),
            "keywords": list(self.keywords),
            "intended": self.intended,
        }
        if self.level is not None:
            # Only variants carry these keys, so a run without them writes what it always wrote.
            data.update(source=self.source, level=self.level, variant=self.variant)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Case:
        return cls(
            id=_str(data, "id"),
            category=_str(data, "category"),
            prompt=_str(data, "prompt"),
            expected_tools=_tuple(data.get("expected_tools")),
            keywords=_tuple(data.get("keywords")),
            intended=data.get("intended"),
            source=data.get("source"),
            level=data.get("level"),
            variant=data.get("variant"),
        )


@dataclass(frozen=True)
class Suite:
    """A versioned set of cases, the system prompt they are asked under and the tool registry."""

    name: str
    version: str
    system_prompt: str
    tools: tuple[Tool, ...]
    cases: tuple[Case, ...]
    path: str = ""
    # How the tools reach the model: listed in the system prompt text ("system-text"), or passed as
    # function schemas to the chat template / the server ("native-tools"), with
    # ``native_system_prompt`` (the instructions without the tool list) as the system prompt.
    prompt_format: str = "system-text"
    native_system_prompt: str = ""

    @property
    def tool_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.tools)

    def system_prompt_for(self, prompt_format: str) -> str:
        """Return the system prompt a format asks with (native tools: the instructions alone)."""
        if prompt_format == NATIVE_TOOLS and self.native_system_prompt:
            return self.native_system_prompt
        return self.system_prompt

    def function_schemas(self) -> list[dict[str, Any]]:
        """Return every tool as a function schema, in registry order."""
        return [t.function_schema() for t in self.tools]

    def counts(self) -> dict[str, int]:
        """Return the number of cases per category, in the canonical category order."""
        return {c: sum(1 for case in self.cases if case.category == c) for c in CATEGORIES}


@dataclass(frozen=True)
class GenerationSettings:
    """Every decoding setting, written into the results so a run can be reproduced."""

    max_new_tokens: int = 64
    batch_size: str = "auto"
    do_sample: bool = False
    num_beams: int = 1
    prompt_format: str = "chat_template"
    enable_thinking: bool = False
    # The shared system prompt is computed once per batch and its key/value cache reused by every
    # row. Greedy answers may then differ from a plain batch by float rounding, so it is keyed and
    # compared like any setting. None: not recorded (results of earlier versions).
    shared_prefix: bool | None = None
    # How the tools reach the model (``PROMPT_FORMATS``): listed in the system prompt, or as
    # function schemas through the chat template / the server. None: not recorded (earlier versions).
    tools_format: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in ("shared_prefix", "tools_format"):  # a file of an earlier version reads back unchanged
            if out[key] is None:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GenerationSettings:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True)
class Call:
    """One tool call found in an answer, read as a runtime would read it.

    ``name`` is the tool it designates ("" when it designates none); ``raw_name`` is how the
    answer spelt it; ``malformed`` when that spelling is one edit away from the id;
    ``arguments`` is the parsed JSON value, a mapping of ``key=value`` pairs, or the raw text.
    """

    name: str
    arguments: Any = ""
    form: str = "bare"
    raw_name: str = ""
    malformed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "arguments": self.arguments,
            "form": self.form,
            "raw_name": self.raw_name,
            "malformed": self.malformed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Call:
        return cls(
            name=str(data.get("name", "")),
            arguments=data.get("arguments", ""),
            form=str(data.get("form", "bare")),
            raw_name=str(data.get("raw_name", "")),
            malformed=bool(data.get("malformed", False)),
        )


@dataclass(frozen=True)
class ArmScore:
    """The metrics of one arm's answer to one case.

    ``valid_call`` and the fields after it come with metric version 2; ``valid_call`` is None
    for an answer scored by version 1 (a results file of an earlier run), whose JSON omits them.
    """

    answer: str
    keyword_hits: int
    keyword_total: int
    relevance: float
    tools_named: tuple[str, ...] = ()
    tools_missing: tuple[str, ...] = ()
    tools_extra: tuple[str, ...] = ()
    echoed_tools: tuple[str, ...] = ()
    echo: bool = False
    valid_call: float | None = None
    calls: tuple[Call, ...] = ()
    refusal: bool = False
    recited: bool = False
    malformed: bool = False
    loop: bool = False  # metric version 3; written to JSON only when True

    @property
    def keyword_match(self) -> float:
        return self.keyword_hits / self.keyword_total if self.keyword_total else 0.0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "answer": self.answer,
            "keyword_hits": self.keyword_hits,
            "keyword_total": self.keyword_total,
            "keyword_match": self.keyword_match,
            "relevance": self.relevance,
            "tools_named": list(self.tools_named),
            "tools_missing": list(self.tools_missing),
            "tools_extra": list(self.tools_extra),
            "echoed_tools": list(self.echoed_tools),
            "echo": self.echo,
        }
        if self.valid_call is not None:  # absent from version-1 scores: their files read back unchanged
            out["valid_call"] = self.valid_call
            out["calls"] = [c.to_dict() for c in self.calls]
            out["refusal"] = self.refusal
            out["recited"] = self.recited
            out["malformed"] = self.malformed
        if self.loop:  # absent when False: files of earlier versions read back unchanged
            out["loop"] = True
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ArmScore:
        valid_call = data.get("valid_call")
        return cls(
            answer=_str(data, "answer"),
            keyword_hits=_count(data, "keyword_hits"),
            keyword_total=_count(data, "keyword_total"),
            relevance=_score(data, "relevance"),
            tools_named=_tuple(data.get("tools_named")),
            tools_missing=_tuple(data.get("tools_missing")),
            tools_extra=_tuple(data.get("tools_extra")),
            echoed_tools=_tuple(data.get("echoed_tools")),
            echo=bool(data.get("echo", False)),
            valid_call=None if valid_call is None else _score(data, "valid_call"),
            calls=tuple(Call.from_dict(c) for c in data.get("calls") or ()),
            refusal=bool(data.get("refusal", False)),
            recited=bool(data.get("recited", False)),
            malformed=bool(data.get("malformed", False)),
            loop=bool(data.get("loop", False)),
        )


@dataclass(frozen=True)
class ScoredCase:
    """A case with both arms' answers and every score."""

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

    @property
    def regression(self) -> bool:
        return self.finetuned.relevance < self.base.relevance

    def arm(self, name: str) -> ArmScore:
        return self.base if name == "base" else self.finetuned

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.case.to_dict(),
            "cosine_similarity": self.cosine_similarity,
            "relevance_delta": self.relevance_delta,
            "regression": self.regression,
            "base": self.base.to_dict(),
            "finetuned": self.finetuned.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ScoredCase:
        return cls(
            case=Case.from_dict(data),
            base=ArmScore.from_dict(data["base"]),
            finetuned=ArmScore.from_dict(data["finetuned"]),
            cosine_similarity=_score(data, "cosine_similarity", -1.0, 1.0),
        )


@dataclass(frozen=True)
class Stats:
    """Means over a group of scored cases (all of them, or one category)."""

    n_cases: int
    avg_cosine_similarity: float
    avg_keyword_match_base: float
    avg_keyword_match_finetuned: float
    avg_relevance_base: float
    avg_relevance_finetuned: float
    regressions: int = 0
    improvements: int = 0
    echo_base: int = 0
    echo_finetuned: int = 0
    # Metric version 2; None for statistics of earlier runs, whose JSON has no such keys.
    avg_valid_call_base: float | None = None
    avg_valid_call_finetuned: float | None = None
    refusal_base: int | None = None
    refusal_finetuned: int | None = None
    recited_base: int | None = None
    recited_finetuned: int | None = None
    loop_base: int | None = None  # metric version 3
    loop_finetuned: int | None = None

    @property
    def has_valid_call(self) -> bool:
        """Whether these statistics were computed by metric version 2 (valid_call and flags)."""
        return self.avg_valid_call_base is not None and self.avg_valid_call_finetuned is not None

    @property
    def relevance_gain(self) -> float:
        """Absolute gain of mean relevance, fine-tuned minus base."""
        return self.avg_relevance_finetuned - self.avg_relevance_base

    @property
    def relevance_gain_pct(self) -> float | None:
        """Relative gain in percent of the base mean; None when the base mean is 0."""
        if self.avg_relevance_base == 0:
            return None
        return 100.0 * self.relevance_gain / self.avg_relevance_base

    @property
    def keyword_gain(self) -> float:
        return self.avg_keyword_match_finetuned - self.avg_keyword_match_base

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        for key in _VERSION_2_STATS:  # omitted when absent: a file of an earlier version reads back unchanged
            if out[key] is None:
                del out[key]
        out["relevance_gain"] = self.relevance_gain
        out["relevance_gain_pct"] = self.relevance_gain_pct
        out["keyword_gain"] = self.keyword_gain
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Stats:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


_VERSION_2_STATS = (
    "avg_valid_call_base",
    "avg_valid_call_finetuned",
    "refusal_base",
    "refusal_finetuned",
    "recited_base",
    "recited_finetuned",
    "loop_base",
    "loop_finetuned",
)


@dataclass(frozen=True)
class Summary:
    """Statistics over the whole run and per category (only the categories that ran)."""

    overall: Stats
    by_category: Mapping[str, Stats] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {**self.overall.to_dict(), "by_category": {k: v.to_dict() for k, v in self.by_category.items()}}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        return cls(
            overall=Stats.from_dict(data),
            by_category={k: Stats.from_dict(v) for k, v in data.get("by_category", {}).items()},
        )


@dataclass(frozen=True)
class RunMetadata:
    """Where a run's numbers come from: model, adapter, settings, suite and versions."""

    model: str
    adapter: str
    quantization: str
    device: str
    generation: GenerationSettings
    suite_name: str
    suite_version: str
    suite_path: str
    timestamp: str
    packages: Mapping[str, str] = field(default_factory=dict)
    categories: tuple[str, ...] = ()
    partial: bool = False
    n_generate_calls: int = 0
    n_cached_answers: int = 0
    generation_seconds: float = 0.0
    load_seconds: float = 0.0
    # What a baseline must match besides the fields above (absent from files of earlier versions).
    model_fingerprint: str = ""
    suite_hash: str = ""
    metric_version: str = ""
    scope: str = ""  # why the run is partial ("quick", "-k", "--jarvis-limit", "categories"), empty when full

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["generation"] = self.generation.to_dict()
        out["packages"] = dict(self.packages)
        out["categories"] = list(self.categories)
        for key in _OPTIONAL_METADATA:  # omitted when empty: a file of an earlier version reads back unchanged
            if not out[key]:
                del out[key]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunMetadata:
        known = {f.name for f in fields(cls)}
        kwargs = {k: v for k, v in data.items() if k in known}
        kwargs["generation"] = GenerationSettings.from_dict(data.get("generation", {}))
        kwargs["categories"] = _tuple(data.get("categories"))
        kwargs["packages"] = dict(data.get("packages", {}))
        return cls(**kwargs)


_OPTIONAL_METADATA = ("model_fingerprint", "suite_hash", "metric_version", "scope")


# --- sections added by later stages of a run -------------------------------------------


@dataclass(frozen=True)
class PairedBlock:
    """Paired differences over one group of cases: mean, bootstrap interval, sign test."""

    n: int
    mean_diff: float
    ci_low: float
    ci_high: float
    sign_test_p: float
    wins: int
    losses: int
    ties: int
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairedBlock:
        return cls(
            n=int(data["n"]),
            mean_diff=float(data["mean_diff"]),
            ci_low=float(data["ci_low"]),
            ci_high=float(data["ci_high"]),
            sign_test_p=float(data["sign_test_p"]),
            wins=int(data["wins"]),
            losses=int(data["losses"]),
            ties=int(data["ties"]),
            significant=bool(data["significant"]),
        )


@dataclass(frozen=True)
class PairedStats:
    """The ``paired`` section: fine-tuned minus base relevance, globally and per category that ran."""

    resamples: int
    seed: int
    confidence: float
    overall: PairedBlock
    by_category: Mapping[str, PairedBlock] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "resamples": self.resamples,
            "seed": self.seed,
            "confidence": self.confidence,
            "global": self.overall.to_dict(),
            "by_category": {k: v.to_dict() for k, v in self.by_category.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PairedStats:
        return cls(
            resamples=int(data["resamples"]),
            seed=int(data["seed"]),
            confidence=float(data["confidence"]),
            overall=PairedBlock.from_dict(data["global"]),
            by_category={k: PairedBlock.from_dict(v) for k, v in data.get("by_category", {}).items()},
        )


@dataclass(frozen=True)
class BaselineBlock:
    """This run's fine-tuned relevance minus the baseline's, over the cases both have in one scope."""

    n_common: int
    mean_diff: float
    ci_low: float
    ci_high: float
    sign_test_p: float
    significant: bool

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineBlock:
        return cls(
            n_common=int(data["n_common"]),
            mean_diff=float(data["mean_diff"]),
            ci_low=float(data["ci_low"]),
            ci_high=float(data["ci_high"]),
            sign_test_p=float(data["sign_test_p"]),
            significant=bool(data["significant"]),
        )


@dataclass(frozen=True)
class BaselineComparison:
    """The ``baseline_comparison`` section: globally and per category, against the blessed baseline."""

    baseline: str
    overall: BaselineBlock
    by_category: Mapping[str, BaselineBlock] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            **self.overall.to_dict(),
            "by_category": {k: v.to_dict() for k, v in self.by_category.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineComparison:
        return cls(
            baseline=str(data["baseline"]),
            overall=BaselineBlock.from_dict(data),
            by_category={k: BaselineBlock.from_dict(v) for k, v in data.get("by_category", {}).items()},
        )


@dataclass(frozen=True)
class NoiseExample:
    """One answer that differed between two identical greedy generations."""

    case: str
    arm: str
    first: str
    second: str

    def to_dict(self) -> dict[str, Any]:
        return {"case": self.case, "arm": self.arm, "first": self.first, "second": self.second}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoiseExample:
        return cls(case=str(data["case"]), arm=str(data["arm"]), first=str(data["first"]), second=str(data["second"]))


@dataclass(frozen=True)
class NoiseFloor:
    """What ``jarvis-evals noise`` measured: answers differing between two identical runs of each arm."""

    n_cases: int
    model: str
    adapter: str
    quantization: str
    base_differing: int
    finetuned_differing: int
    warning: str | None = None
    examples: tuple[NoiseExample, ...] = ()
    generate_calls: int = 0

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        out["examples"] = [e.to_dict() for e in self.examples]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoiseFloor:
        return cls(
            n_cases=int(data["n_cases"]),
            model=str(data["model"]),
            adapter=str(data["adapter"]),
            quantization=str(data["quantization"]),
            base_differing=int(data["base_differing"]),
            finetuned_differing=int(data["finetuned_differing"]),
            warning=data.get("warning"),
            examples=tuple(NoiseExample.from_dict(e) for e in data.get("examples", ())),
            generate_calls=int(data.get("generate_calls", 0)),
        )


GATE_STATUSES: tuple[str, ...] = ("passed", "failed", "no_baseline")


@dataclass(frozen=True)
class GateViolation:
    """One broken gate rule, with the numbers behind it and the one line that explains it."""

    rule: str
    scope: str
    baseline: float | str | None
    current: float | str | None
    tolerance: float | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateViolation:
        return cls(
            rule=str(data["rule"]),
            scope=str(data["scope"]),
            baseline=data.get("baseline"),
            current=data.get("current"),
            tolerance=data.get("tolerance"),
            message=str(data["message"]),
        )


@dataclass(frozen=True)
class GateOutcome:
    """The gate's decision: ``reasons`` are one-liners (violations first, then notices)."""

    status: str
    mode: str
    baseline: str
    reasons: tuple[str, ...] = ()
    violations: tuple[GateViolation, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in GATE_STATUSES:
            raise ValueError(f"gate status must be one of {', '.join(GATE_STATUSES)}, got {self.status!r}")
        object.__setattr__(self, "reasons", tuple(self.reasons))
        object.__setattr__(self, "violations", tuple(self.violations))

    @property
    def failed(self) -> bool:
        return self.status == "failed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "mode": self.mode,
            "baseline": self.baseline,
            "reasons": list(self.reasons),
            "violations": [v.to_dict() for v in self.violations],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateOutcome:
        return cls(
            status=data["status"],
            mode=data["mode"],
            baseline=data["baseline"],
            reasons=tuple(data.get("reasons", ())),
            violations=tuple(GateViolation.from_dict(v) for v in data.get("violations", ())),
        )


@dataclass(frozen=True)
class AdapterResults:
    """One adapter's arm of a multi-adapter run: every case scored against the shared base arm."""

    name: str
    adapter: str
    statistics: Summary
    results: tuple[ScoredCase, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "adapter": self.adapter,
            "statistics": self.statistics.to_dict(),
            "results": [r.to_dict() for r in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AdapterResults:
        return cls(
            name=str(data["name"]),
            adapter=str(data["adapter"]),
            statistics=Summary.from_dict(data["statistics"]),
            results=tuple(ScoredCase.from_dict(r) for r in data["results"]),
        )


@dataclass(frozen=True)
class LeaderboardRow:
    """One adapter's standing: its means and its paired comparison with the base arm."""

    rank: int
    name: str
    adapter: str
    n_cases: int
    avg_relevance: float
    avg_keyword_match: float
    avg_valid_call: float | None
    vs_base: PairedBlock

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "name": self.name,
            "adapter": self.adapter,
            "n_cases": self.n_cases,
            "avg_relevance": self.avg_relevance,
            "avg_keyword_match": self.avg_keyword_match,
            "avg_valid_call": self.avg_valid_call,
            "vs_base": self.vs_base.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LeaderboardRow:
        valid = data.get("avg_valid_call")
        return cls(
            rank=int(data["rank"]),
            name=str(data["name"]),
            adapter=str(data["adapter"]),
            n_cases=int(data["n_cases"]),
            avg_relevance=float(data["avg_relevance"]),
            avg_keyword_match=float(data["avg_keyword_match"]),
            avg_valid_call=None if valid is None else float(valid),
            vs_base=PairedBlock.from_dict(data["vs_base"]),
        )


# A training checkpoint's folder, as transformers' Trainer names them.
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


@dataclass(frozen=True)
class Leaderboard:
    """Adapters ranked by mean relevance, and whether the best really beats the runner-up.

    ``best_vs_runner_up`` holds the paired differences best minus runner-up over the same
    cases (bootstrap interval and sign test): the question a team choosing a checkpoint asks.
    """

    rows: tuple[LeaderboardRow, ...]
    best_vs_runner_up: PairedBlock | None = None

    @property
    def best(self) -> LeaderboardRow:
        return self.rows[0]

    @property
    def runner_up(self) -> LeaderboardRow | None:
        return self.rows[1] if len(self.rows) > 1 else None

    def training_steps(self) -> list[tuple[int, LeaderboardRow]] | None:
        """Return (step, row) in step order when every adapter is a ``checkpoint-<step>`` folder, else None."""
        steps = []
        for row in self.rows:
            match = _CHECKPOINT.search(Path(row.adapter).name) or _CHECKPOINT.search(row.name)
            if match is None:
                return None
            steps.append((int(match.group(1)), row))
        return sorted(steps, key=lambda pair: pair[0]) if len(steps) > 1 else None

    def verdict(self) -> str:
        """Say in one sentence whether the best adapter is significantly better than the runner-up."""
        best, second, block = self.best, self.runner_up, self.best_vs_runner_up
        if second is None or block is None:
            return f"{best.name} is the only adapter."
        ci = f"{block.mean_diff:+.3f}, 95 % CI [{block.ci_low:+.3f}, {block.ci_high:+.3f}], sign test p={block.sign_test_p:.3g}"
        if block.significant and block.mean_diff > 0:
            return f"{best.name} is significantly better than the runner-up {second.name} ({ci})."
        return (
            f"{best.name} ranks first, but it is NOT significantly better than the runner-up {second.name} ({ci}): "
            "add cases or compare them on more runs before choosing."
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": [r.to_dict() for r in self.rows],
            "best": self.best.name,
            "runner_up": self.runner_up.name if self.runner_up else None,
            "best_vs_runner_up": self.best_vs_runner_up.to_dict() if self.best_vs_runner_up else None,
            "verdict": self.verdict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Leaderboard:
        block = data.get("best_vs_runner_up")
        return cls(
            rows=tuple(LeaderboardRow.from_dict(r) for r in data["rows"]),
            best_vs_runner_up=PairedBlock.from_dict(block) if block else None,
        )


@dataclass(frozen=True)
class CustomCheck:
    """The outcome of one of the team's own tests on the session's models (``jarvis_base``...)."""

    name: str
    outcome: str  # passed, failed, skipped, error
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "message": self.message}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CustomCheck:
        return cls(name=str(data["name"]), outcome=str(data["outcome"]), message=str(data.get("message", "")))


@dataclass(frozen=True)
class CurvePoint:
    """One arm's means at one noise level, over the clean cases (each the mean of its variants)."""

    level: int
    arm: str
    n: int  # clean cases (clusters); each contributes the mean of its variants at this level
    variants: int
    relevance: float
    relevance_low: float
    relevance_high: float
    valid_call: float | None
    valid_call_low: float | None
    valid_call_high: float | None

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CurvePoint:
        def opt(key: str) -> float | None:
            return None if data.get(key) is None else float(data[key])

        return cls(
            level=int(data["level"]),
            arm=str(data["arm"]),
            n=int(data["n"]),
            variants=int(data["variants"]),
            relevance=float(data["relevance"]),
            relevance_low=float(data["relevance_low"]),
            relevance_high=float(data["relevance_high"]),
            valid_call=opt("valid_call"),
            valid_call_low=opt("valid_call_low"),
            valid_call_high=opt("valid_call_high"),
        )


@dataclass(frozen=True)
class Robustness:
    """The robustness curve of a run with speech-recognition variants (``--jarvis-perturb``).

    ``score``: per arm, the area under the relevance curve over levels 0..max divided by the
    area of a flat curve at the level-0 relevance (1.0 = no loss; None when level 0 scores 0).
    ``slower``: per clean case, the base's relevance drop minus the fine-tune's (level 0 minus
    the mean over the noisy levels); positive means the fine-tune degrades more slowly.
    """

    points: tuple[CurvePoint, ...]
    score: Mapping[str, float | None]
    slower: PairedBlock
    resamples: int
    confidence: float
    seed: int

    def verdict(self) -> str:
        """Say which arm degrades faster, in words that keep the sign's meaning, and when the base has nothing to lose."""
        s = self.slower
        if not s.significant:
            said = "no significant difference in how fast the arms degrade"
        elif s.mean_diff > 0:
            said = "the fine-tune degrades more slowly than the base"
        else:
            said = "the fine-tune degrades faster than the base"
        if self.score.get("base") is None:  # level 0 at 0: a floor cannot drop, so this is no robustness contest
            said += " (the base scores 0 at level 0: it has nothing to lose)"
        return said

    def to_dict(self) -> dict[str, Any]:
        return {
            "points": [p.to_dict() for p in self.points],
            "score": dict(self.score),
            "slower": self.slower.to_dict(),
            "resamples": self.resamples,
            "confidence": self.confidence,
            "seed": self.seed,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Robustness:
        return cls(
            points=tuple(CurvePoint.from_dict(p) for p in data["points"]),
            score={str(k): None if v is None else float(v) for k, v in data["score"].items()},
            slower=PairedBlock.from_dict(data["slower"]),
            resamples=int(data["resamples"]),
            confidence=float(data["confidence"]),
            seed=int(data["seed"]),
        )


@dataclass(frozen=True)
class EnvironmentChange:
    """Package versions that differ from the baseline's, and whether the answers moved with them.

    A notice, never a failure: the gate judges the scores as always. ``changed`` lists
    ``case_id (arm)`` for every answer that differs from the one the baseline stores.
    """

    packages: tuple[tuple[str, str, str], ...]  # (name, baseline version, this run's version)
    compared: int  # answers compared (cases both have × 2 arms)
    changed: tuple[str, ...] = ()

    @property
    def line(self) -> str:
        moved = ", ".join(f"{name} {old} → {new}" for name, old, new in self.packages)
        if not self.changed:
            answers = f"{self.compared}/{self.compared} answers identical"
        else:
            shown = ", ".join(self.changed[:8]) + (
                f" and {len(self.changed) - 8} more" if len(self.changed) > 8 else ""
            )
            answers = f"{len(self.changed)} of {self.compared} answers changed: {shown}"
        return f"environment changed since the baseline: {moved}; {answers}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "packages": [{"name": n, "baseline": o, "run": r} for n, o, r in self.packages],
            "compared": self.compared,
            "changed": list(self.changed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EnvironmentChange:
        return cls(
            packages=tuple((str(p["name"]), str(p["baseline"]), str(p["run"])) for p in data["packages"]),
            compared=int(data["compared"]),
            changed=tuple(str(c) for c in data.get("changed") or ()),
        )


@dataclass(frozen=True)
class RunResults:
    """Everything a run produced; the single input of every report and of the gate.

    The optional sections are filled by later stages: ``paired`` when the run ends, ``noise``
    when a ``jarvis-evals noise`` measurement matches the run, ``baseline_comparison`` and
    ``gate`` once the baseline is read. The JSON ``gains`` section is derived, never stored.
    """

    metadata: RunMetadata
    statistics: Summary
    results: tuple[ScoredCase, ...]
    paired: PairedStats | None = None
    warnings: tuple[str, ...] = ()
    noise: NoiseFloor | None = None
    baseline_error: str | None = None
    baseline_comparison: BaselineComparison | None = None
    gate: GateOutcome | None = None
    # Several adapters: ``results`` and ``statistics`` describe the primary one (the seed's format);
    # ``adapters`` holds every adapter (the primary included) and ``leaderboard`` ranks them.
    adapters: Mapping[str, AdapterResults] = field(default_factory=dict)
    leaderboard: Leaderboard | None = None
    # The team's own tests on the same models: reported, never part of the statistics or the gate.
    custom_checks: tuple[CustomCheck, ...] = ()
    # Package versions changed since the baseline, and how many answers changed with them.
    environment: EnvironmentChange | None = None
    # --jarvis-perturb: relevance and valid calls per noise level and arm (evals/robustness.py).
    robustness: Robustness | None = None

    @property
    def primary_adapter(self) -> str:
        """The name of the adapter ``results`` describes, when the run had several ("" otherwise)."""
        return next((a.name for a in self.adapters.values() if a.adapter == self.metadata.adapter), "")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "metadata": self.metadata.to_dict(),
            "statistics": self.statistics.to_dict(),
            "results": [r.to_dict() for r in self.results],
        }
        # Sections in the order a run adds them, absent when empty: the JSON of earlier versions.
        if self.paired is not None:
            out["paired"] = self.paired.to_dict()
        if self.warnings:
            out["warnings"] = list(self.warnings)
        if self.noise is not None:
            out["noise"] = self.noise.to_dict()
        if self.baseline_error is not None:
            out["baseline_error"] = self.baseline_error
        if self.baseline_comparison is not None:
            out["baseline_comparison"] = self.baseline_comparison.to_dict()
        if self.gate is not None:
            out["gate"] = self.gate.to_dict()
        if self.leaderboard is not None:
            out["leaderboard"] = self.leaderboard.to_dict()
        if self.adapters:
            out["adapters"] = {name: a.to_dict() for name, a in self.adapters.items()}
        if self.custom_checks:
            out["custom_checks"] = [c.to_dict() for c in self.custom_checks]
        if self.environment is not None:
            out["environment"] = self.environment.to_dict()
        if self.robustness is not None:
            out["robustness"] = self.robustness.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunResults:
        def section(key: str, build: Any) -> Any:
            return build(data[key]) if data.get(key) is not None else None

        return cls(
            metadata=RunMetadata.from_dict(data["metadata"]),
            statistics=Summary.from_dict(data["statistics"]),
            results=tuple(ScoredCase.from_dict(r) for r in data["results"]),
            paired=section("paired", PairedStats.from_dict),
            warnings=tuple(str(w) for w in data.get("warnings") or ()),
            noise=section("noise", NoiseFloor.from_dict),
            baseline_error=data.get("baseline_error"),
            baseline_comparison=section("baseline_comparison", BaselineComparison.from_dict),
            gate=section("gate", GateOutcome.from_dict),
            adapters={k: AdapterResults.from_dict(v) for k, v in (data.get("adapters") or {}).items()},
            leaderboard=section("leaderboard", Leaderboard.from_dict),
            custom_checks=tuple(CustomCheck.from_dict(c) for c in data.get("custom_checks") or ()),
            environment=section("environment", EnvironmentChange.from_dict),
            robustness=section("robustness", Robustness.from_dict),
        )


# ---------------------------------------------------------------------------------------
# Checking a record read from a file


def check_types(record: Any, where: str = "") -> None:
    """Raise ``ValueError`` naming the first field of ``record`` (a tree of records) whose value is not its type.

    ``from_dict`` passes most values through as JSON gave them: a ``null`` model name or a text
    where a count goes would build a record that fails later, deep in a renderer. Checking the
    whole tree against the annotations once, on read, keeps that failure at the file.
    """
    import dataclasses
    import typing

    hints = typing.get_type_hints(type(record))
    for f in dataclasses.fields(record):
        _check_value(getattr(record, f.name), hints[f.name], f"{where}{f.name}")


def _check_value(value: Any, hint: Any, where: str) -> None:
    import dataclasses
    import types
    import typing

    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in args:
            try:
                _check_value(value, option, where)
                return
            except ValueError as exc:
                errors.append(exc)
        raise errors[0]
    if hint is type(None):
        ok = value is None
    elif hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    elif hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif origin in (tuple, list):
        ok = isinstance(value, origin)
        if ok:
            items = args[:1] if len(args) == 2 and args[1] is Ellipsis or origin is list else args
            if items and len(items) == 1:
                for n, item in enumerate(value):
                    _check_value(item, items[0], f"{where}[{n}]")
            elif items:
                ok = len(items) == len(value)
                for n, (item, item_hint) in enumerate(zip(value, items, strict=False)):
                    _check_value(item, item_hint, f"{where}[{n}]")
    elif origin in (dict, Mapping) or hint in (dict, Mapping):
        ok = isinstance(value, Mapping)
        if ok and args:
            for key, item in value.items():
                _check_value(key, args[0], f"{where} key")
                _check_value(item, args[1], f"{where}[{key!r}]")
    elif isinstance(hint, type) and dataclasses.is_dataclass(hint):
        ok = isinstance(value, hint)
        if ok:
            check_types(value, f"{where}.")
    elif isinstance(hint, type):
        ok = isinstance(value, hint)
    else:  # a hint this checker does not know (a Literal, a TypeVar): trust from_dict
        return
    if not ok:
        shown = "null" if value is None else type(value).__name__
        raise ValueError(f"'{where}' is {shown}, not {getattr(hint, '__name__', str(hint))}")
