"""The blessed baseline: a committed snapshot of a run's scores that later runs are gated against.

A baseline holds what identifies the run (suite name and version, model, adapter,
quantization, decoding settings), its statistics, and every case's scores so a later run
is compared case by case, on exactly the cases both ran.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from evals.atomic import atomic_write_json
from evals.errors import JarvisError
from evals.records import RunResults, ScoredCase, Summary

BASELINE_SCHEMA = 1
DEFAULT_BASELINE_PATH = "reports/baseline.json"


class BaselineError(JarvisError, ValueError):
    """A baseline file that cannot be read or written; the message names the file and the fix."""


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
    """One case's blessed scores, both arms."""

    category: str
    relevance_base: float
    relevance_finetuned: float
    keyword_match_base: float
    keyword_match_finetuned: float

    @classmethod
    def from_scored(cls, case: ScoredCase) -> BaselineCase:
        return cls(
            category=case.category,
            relevance_base=case.base.relevance,
            relevance_finetuned=case.finetuned.relevance,
            keyword_match_base=case.base.keyword_match,
            keyword_match_finetuned=case.finetuned.keyword_match,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "category": self.category,
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
            relevance_base=_score(data, "relevance_base"),
            relevance_finetuned=_score(data, "relevance_finetuned"),
            keyword_match_base=_score(data, "keyword_match_base"),
            keyword_match_finetuned=_score(data, "keyword_match_finetuned"),
        )


@dataclass(frozen=True)
class Baseline:
    """A blessed run: what produced it, its statistics and every case's scores.

    ``path`` is where it was read from; it is not part of the file and not compared.
    """

    suite_name: str
    suite_version: str
    model: str
    adapter: str
    quantization: str
    generation: Mapping[str, Any]
    statistics: Summary
    cases: Mapping[str, BaselineCase]
    created: str = ""
    partial: bool = False
    path: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Read-only views: a frozen record whose mappings can be mutated is not frozen.
        object.__setattr__(self, "generation", MappingProxyType(dict(self.generation)))
        object.__setattr__(self, "cases", MappingProxyType(dict(self.cases)))

    @property
    def categories(self) -> tuple[str, ...]:
        """Return the categories the baseline has cases for, in first-seen order."""
        return tuple(dict.fromkeys(c.category for c in self.cases.values()))

    @property
    def suite(self) -> str:
        """Return ``name@version``, the suite identity a run must match."""
        return f"{self.suite_name}@{self.suite_version}"

    @classmethod
    def from_results(cls, results: RunResults) -> Baseline:
        """Snapshot a run as a baseline."""
        meta = results.metadata
        return cls(
            suite_name=meta.suite_name,
            suite_version=meta.suite_version,
            model=meta.model,
            adapter=meta.adapter,
            quantization=meta.quantization,
            generation=meta.generation.to_dict(),
            statistics=results.statistics,
            cases={c.id: BaselineCase.from_scored(c) for c in results.results},
            created=meta.timestamp,
            partial=meta.partial,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema_version": BASELINE_SCHEMA,
            "suite_name": self.suite_name,
            "suite_version": self.suite_version,
            "model": self.model,
            "adapter": self.adapter,
            "quantization": self.quantization,
            "generation": dict(self.generation),
            "created": self.created,
            "partial": self.partial,
            "statistics": self.statistics.to_dict(),
            "cases": {case_id: case.to_dict() for case_id, case in self.cases.items()},
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
        return cls(
            suite_name=_text(data, "suite_name", allow_empty=False),
            suite_version=_text(data, "suite_version", allow_empty=False),
            model=_text(data, "model"),
            adapter=_text(data, "adapter"),
            quantization=_text(data, "quantization"),
            generation=_mapping(data, "generation"),
            statistics=statistics,
            cases=cases,
            created=str(data.get("created", "")),
            partial=partial,
        )


def _corrupt(path: Path, detail: str) -> BaselineError:
    return BaselineError(
        f"baseline {path} is corrupt ({detail}): re-bless it with --jarvis-save-baseline or restore it from git"
    )


def load_baseline(path: str | Path) -> Baseline | None:
    """Read a baseline; None when the file does not exist, ``BaselineError`` when it is unusable."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError:
        raise _corrupt(path, "not UTF-8 text") from None
    except OSError as exc:
        raise BaselineError(
            f"baseline {path} cannot be read ({exc.strerror or exc}): point --jarvis-baseline at a readable file"
        ) from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise _corrupt(path, f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    try:
        baseline = Baseline.from_dict(data)
    except ValueError as exc:
        raise _corrupt(path, str(exc)) from None
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
    try:
        return atomic_write_json(path, Baseline.from_results(results).to_dict())
    except OSError as exc:
        raise BaselineError(
            f"baseline {path} cannot be written ({exc.strerror or exc}): point --jarvis-baseline at a writable file"
        ) from None
