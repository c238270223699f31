"""The blessed baseline: a committed snapshot of a run that later runs are gated against.

A baseline holds the identity of the run that made it (model and weights fingerprint,
quantization, decoding settings, prompt format, suite name, version and content hash, metric
version), whether it covers the whole suite, its statistics, and every case's answers and
scores for both arms. The answers let a later version of the metric re-score it; the identity
lets the gate refuse a comparison between runs that did not ask the same question of the
same model.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from evals.atomic import atomic_write_json, clean_stale
from evals.errors import JarvisError
from evals.fingerprints import ANSWER_NEUTRAL_SETTINGS as _NEUTRAL
from evals.jsonio import MAX_JSON_BYTES, MalformedJson, UnsafeJson, loads_guarded
from evals.records import SYSTEM_TEXT, EnvironmentChange, RunMetadata, RunResults, ScoredCase, Suite, Summary

BASELINE_SCHEMA = 2
DEFAULT_BASELINE_PATH = "reports/baseline.json"
# Settings that do not change an answer (see cache.ANSWER_NEUTRAL_SETTINGS); the prompt format
# is compared on its own line.


class BaselineError(JarvisError, ValueError):
    """A baseline file that cannot be read or written; the message names the file and the fix."""


def suite_hash(suite: Suite) -> str:
    """Return a digest of what a suite asks: system prompt, tool ids and descriptions, every case.

    The tools' free-text lexicon (aliases, intents) is left out: it only shapes scoring, and a
    baseline is re-scored from its answers.
    """
    content: dict[str, object] = {
        "system_prompt": suite.system_prompt,
        "tools": [[t.id, t.description] for t in suite.tools],
        "cases": [c.to_dict() for c in suite.cases],
    }
    if suite.native_system_prompt or any(t.parameters for t in suite.tools):  # what native tools ask
        content["native"] = [suite.native_system_prompt, [t.parameters for t in suite.tools]]
    text = json.dumps(content, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunIdentity:
    """What makes two runs' answers comparable: everything that shapes them but the adapter."""

    model: str
    model_fingerprint: str
    quantization: str
    generation: Mapping[str, Any]
    prompt_format: str
    suite_name: str
    suite_version: str
    suite_hash: str

    @classmethod
    def of(cls, meta: RunMetadata) -> RunIdentity:
        settings = meta.generation.to_dict()
        return cls(
            model=meta.model,
            model_fingerprint=meta.model_fingerprint,
            quantization=meta.quantization,
            generation={k: v for k, v in settings.items() if k not in _NEUTRAL},
            prompt_format=str(settings.get("prompt_format", "")),
            suite_name=meta.suite_name,
            suite_version=meta.suite_version,
            suite_hash=meta.suite_hash,
        )

    def differences(self, run: RunIdentity) -> list[str]:
        """Name every field where ``run`` differs from this (the baseline's) identity."""
        out = []
        for name in ("model", "model_fingerprint", "quantization", "prompt_format", "suite_name", "suite_version"):
            mine, theirs = getattr(self, name), getattr(run, name)
            if mine != theirs:
                older = name == "model_fingerprint" and _scheme1(mine) and not _scheme1(theirs)
                old = " (baseline, an older fingerprint that hashed library metadata)" if older else " (baseline)"
                out.append(f"{name.replace('_', ' ')} {mine or '?'}{old} vs {theirs or '?'} (this run)")
        if self.suite_hash != run.suite_hash and self.suite_version == run.suite_version:
            out.append("suite content changed without a version bump")
        # A run from before native tools recorded no tools_format: its tools were in the system text.
        ours, their = ({"tools_format": SYSTEM_TEXT, **g} for g in (self.generation, run.generation))
        for key in sorted(set(ours) | set(their)):
            mine, theirs = ours.get(key), their.get(key)
            if mine != theirs:
                out.append(f"{key} {mine} (baseline) vs {theirs} (this run)")
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_fingerprint": self.model_fingerprint,
            "quantization": self.quantization,
            "generation": dict(self.generation),
            "prompt_format": self.prompt_format,
            "suite_name": self.suite_name,
            "suite_version": self.suite_version,
            "suite_hash": self.suite_hash,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunIdentity:
        if not isinstance(data, Mapping):
            raise ValueError(f"'identity' must be an object, got {type(data).__name__}")
        return cls(
            model=_text(data, "model"),
            model_fingerprint=_text(data, "model_fingerprint"),
            quantization=_text(data, "quantization"),
            generation=dict(_mapping(data, "generation")),
            prompt_format=_text(data, "prompt_format"),
            suite_name=_text(data, "suite_name", allow_empty=False),
            suite_version=_text(data, "suite_version", allow_empty=False),
            suite_hash=_text(data, "suite_hash"),
        )


def _score(data: Mapping[str, Any], key: str) -> float:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"'{key}' must be a number, got {value!r}")
    if not (math.isfinite(value) and 0.0 <= value <= 1.0):
        raise ValueError(f"'{key}' must be between 0 and 1, got {value!r}")
    return float(value)


def _text(data: Mapping[str, Any], key: str, *, allow_empty: bool = True) -> str:
    value = data.get(key)
    if not isinstance(value, str) or (not allow_empty and not value):
        raise ValueError(f"'{key}' must be a {'non-empty ' if not allow_empty else ''}string, got {value!r}")
    return value


def _mapping(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data.get(key)
    if not isinstance(value, Mapping):
        raise ValueError(f"'{key}' must be an object, got {type(value).__name__}")
    return value


@dataclass(frozen=True)
class BaselineCase:
    """One case as blessed: both arms' answers and scores."""

    category: str
    answer_base: str
    answer_finetuned: str
    relevance_base: float
    relevance_finetuned: float
    keyword_match_base: float
    keyword_match_finetuned: float

    @classmethod
    def from_scored(cls, case: ScoredCase) -> BaselineCase:
        return cls(
            category=case.category,
            answer_base=case.base.answer,
            answer_finetuned=case.finetuned.answer,
            relevance_base=case.base.relevance,
            relevance_finetuned=case.finetuned.relevance,
            keyword_match_base=case.base.keyword_match,
            keyword_match_finetuned=case.finetuned.keyword_match,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "answer_base": self.answer_base,
            "answer_finetuned": self.answer_finetuned,
            "relevance_base": self.relevance_base,
            "relevance_finetuned": self.relevance_finetuned,
            "keyword_match_base": self.keyword_match_base,
            "keyword_match_finetuned": self.keyword_match_finetuned,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> BaselineCase:
        """Build from JSON, raising ``ValueError`` that says which field is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"a case must be an object, got {type(data).__name__}")
        return cls(
            category=_text(data, "category", allow_empty=False),
            answer_base=_text(data, "answer_base"),
            answer_finetuned=_text(data, "answer_finetuned"),
            relevance_base=_score(data, "relevance_base"),
            relevance_finetuned=_score(data, "relevance_finetuned"),
            keyword_match_base=_score(data, "keyword_match_base"),
            keyword_match_finetuned=_score(data, "keyword_match_finetuned"),
        )


@dataclass(frozen=True)
class Baseline:
    """A blessed run: what produced it, what it covers, its statistics and every case.

    ``path`` is where it was read from; it is not part of the file and not compared.
    """

    identity: RunIdentity
    adapter: str
    metric_version: str
    statistics: Summary
    cases: Mapping[str, BaselineCase]
    created: str = ""
    partial: bool = False
    scope: str = ""
    # Python's and the recorded packages' versions when blessed (absent from earlier baselines).
    packages: Mapping[str, str] = field(default_factory=dict)
    path: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Read-only views: a frozen record whose mappings can be mutated is not frozen.
        object.__setattr__(self, "cases", MappingProxyType(dict(self.cases)))
        object.__setattr__(self, "packages", MappingProxyType(dict(self.packages)))

    @property
    def categories(self) -> tuple[str, ...]:
        """Return the categories the baseline has cases for, in first-seen order."""
        return tuple(dict.fromkeys(c.category for c in self.cases.values()))

    @property
    def suite(self) -> str:
        """Return ``name@version``."""
        return f"{self.identity.suite_name}@{self.identity.suite_version}"

    @classmethod
    def from_results(cls, results: RunResults) -> Baseline:
        """Snapshot a run as a baseline."""
        meta = results.metadata
        return cls(
            identity=RunIdentity.of(meta),
            adapter=meta.adapter,
            metric_version=meta.metric_version,
            statistics=results.statistics,
            cases={c.id: BaselineCase.from_scored(c) for c in results.results},
            created=meta.timestamp,
            partial=meta.partial,
            scope=meta.scope,
            packages=dict(meta.packages),
        )

    def rescored(self, suite: Suite, metric_version: str) -> Baseline:
        """Return this baseline scored again from its answers with the current metric and suite."""
        from evals.scoring import score_case, summarize

        by_id = {c.id: c for c in suite.cases}
        scored = [
            score_case(by_id[cid], case.answer_base, case.answer_finetuned, suite)
            for cid, case in self.cases.items()
            if cid in by_id
        ]
        cases = {**self.cases, **{s.id: BaselineCase.from_scored(s) for s in scored}}
        return replace(self, cases=cases, statistics=summarize(scored), metric_version=metric_version)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": BASELINE_SCHEMA,
            "identity": self.identity.to_dict(),
            "adapter": self.adapter,
            "metric_version": self.metric_version,
            "created": self.created,
            "partial": self.partial,
            "scope": self.scope,
            "statistics": self.statistics.to_dict(),
            "cases": {case_id: case.to_dict() for case_id, case in self.cases.items()},
            **({"packages": dict(self.packages)} if self.packages else {}),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        """Build from JSON, raising ``ValueError`` that says which field is wrong."""
        if not isinstance(data, Mapping):
            raise ValueError(f"the top level must be an object, got {type(data).__name__}")
        schema = data.get("schema_version")
        if isinstance(schema, bool) or not isinstance(schema, int):
            raise ValueError(f"'schema_version' must be a whole number, got {schema!r}")
        if schema > BASELINE_SCHEMA:
            raise ValueError(f"schema_version {schema} is newer than this jarvis-evals reads ({BASELINE_SCHEMA})")
        if schema < BASELINE_SCHEMA:
            raise OutdatedBaseline(schema)
        cases: dict[str, BaselineCase] = {}
        for case_id, raw in _mapping(data, "cases").items():
            try:
                cases[str(case_id)] = BaselineCase.from_dict(raw)
            except ValueError as exc:
                raise ValueError(f"case {case_id}: {exc}") from None
        try:
            statistics = Summary.from_dict(_mapping(data, "statistics"))
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"'statistics' is not a statistics object ({exc})") from None
        partial = data.get("partial", False)
        if not isinstance(partial, bool):
            raise ValueError(f"'partial' must be true or false, got {partial!r}")
        packages = data.get("packages", {})
        if not isinstance(packages, Mapping) or not all(isinstance(v, str) for v in packages.values()):
            raise ValueError("'packages' must be an object of version strings")
        return cls(
            identity=RunIdentity.from_dict(_mapping(data, "identity")),
            adapter=_text(data, "adapter"),
            metric_version=_text(data, "metric_version"),
            statistics=statistics,
            cases=cases,
            created=str(data.get("created", "")),
            partial=partial,
            scope=str(data.get("scope", "")),
            packages={str(k): v for k, v in packages.items()},
        )


def _scheme1(fingerprint: str) -> bool:
    """True for a model fingerprint of scheme 1, which hashed JSON files byte for byte."""
    return fingerprint.startswith("dir:")


def upgrade_fingerprint(baseline: Baseline, run_fingerprint: str, model_v1: Callable[[], str]) -> Baseline | None:
    """Read a baseline blessed with a scheme-1 model fingerprint; None when there is nothing to upgrade.

    Scheme 1 hashed the model's JSON files byte for byte, ``transformers_version`` included, and
    the embedded model's converted folder rather than its GGUF. ``model_v1`` computes that old
    fingerprint for this run's model: when it equals the baseline's, the baseline was made on this
    very model and is returned with this run's fingerprint; otherwise the gate names the
    difference and says the old scheme hashed library metadata.
    """
    old = baseline.identity.model_fingerprint
    if not _scheme1(old) or _scheme1(run_fingerprint) or old != model_v1():
        return None
    return replace(baseline, identity=replace(baseline.identity, model_fingerprint=run_fingerprint))


def environment_change(baseline: Baseline, results: RunResults) -> EnvironmentChange | None:
    """Compare the run's package versions and answers with the baseline's; None when no version moved."""
    ours = results.metadata.packages
    moved = tuple(
        (name, old, ours[name]) for name, old in baseline.packages.items() if name in ours and ours[name] != old
    )
    if not moved:
        return None
    compared, changed = 0, []
    for case in results.results:
        blessed = baseline.cases.get(case.id)
        if blessed is None:
            continue
        for arm, answer in (("base", blessed.answer_base), ("fine-tuned", blessed.answer_finetuned)):
            compared += 1
            if case.arm("base" if arm == "base" else "finetuned").answer != answer:
                changed.append(f"{case.id} ({arm})")
    return EnvironmentChange(packages=moved, compared=compared, changed=tuple(changed))


class OutdatedBaseline(ValueError):
    """A baseline of an earlier schema: no answers to re-score, no identity to compare."""

    def __init__(self, schema: int) -> None:
        super().__init__(f"schema_version {schema}")
        self.schema = schema


def _corrupt(path: Path, detail: str) -> BaselineError:
    return BaselineError(
        f"baseline {path} is corrupt ({detail}): re-bless it with --jarvis-save-baseline or restore it from git"
    )


def load_baseline(path: str | Path) -> Baseline | None:
    """Read a baseline; None when the file does not exist, ``BaselineError`` when it is unusable."""
    path = Path(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_JSON_BYTES:  # never read gigabytes into memory
            raise _corrupt(path, f"larger than {MAX_JSON_BYTES >> 20} MiB")
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise _corrupt(path, "not UTF-8 text") from None
    except IsADirectoryError:
        raise BaselineError(f"baseline {path} is a folder: point --jarvis-baseline at a JSON file") from None
    except OSError as exc:
        raise BaselineError(
            f"baseline {path} cannot be read ({exc.strerror or exc}): point --jarvis-baseline at a readable file"
        ) from None
    try:
        data = loads_guarded(text)
    except MalformedJson as exc:
        raise _corrupt(path, f"invalid JSON at {exc}") from None
    except UnsafeJson as exc:
        raise _corrupt(path, str(exc)) from None
    try:
        baseline = Baseline.from_dict(data)
    except OutdatedBaseline as old:
        raise BaselineError(
            f"baseline {path} was written by an earlier jarvis-evals (schema {old.schema}: no answers to re-score and "
            "no run identity to compare): re-bless it with `pytest -m jarvis --jarvis-save-baseline`"
        ) from None
    except (ValueError, KeyError, TypeError, AttributeError, IndexError, RecursionError) as exc:
        detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc).splitlines()[0] if str(exc) else ""
        raise _corrupt(path, detail or type(exc).__name__) from None
    return replace(baseline, path=str(path))


def save_baseline(results: RunResults, path: str | Path, overwrite: bool = False) -> Path:
    """Write ``results`` as the baseline at ``path`` atomically; never replace one unless ``overwrite``."""
    path = Path(path)
    if not results.results:
        raise BaselineError(
            f"baseline {path} not written: no JARVIS case ran, so there is nothing to bless; "
            "run `pytest -m jarvis --jarvis-save-baseline`"
        )
    # Check-then-rename is not exclusive, but only the controlling pytest process writes
    # baselines (xdist workers never do), so there is no second writer to race with.
    if path.exists() and not overwrite:
        raise BaselineError(
            f"baseline {path} already exists and was not replaced: pass --jarvis-save-baseline to re-bless it"
        )
    clean_stale(path.parent)  # temporaries of a blessing that was killed
    try:
        return atomic_write_json(path, Baseline.from_results(results).to_dict())
    except OSError as exc:
        raise BaselineError(
            f"baseline {path} cannot be written ({exc.strerror or exc}): point --jarvis-baseline at a writable file"
        ) from None
