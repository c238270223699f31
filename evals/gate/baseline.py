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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

from evals.atomic import atomic_write_json, clean_stale
from evals.errors import JarvisError
from evals.fingerprints import ANSWER_NEUTRAL_SETTINGS as _NEUTRAL
from evals.jsonio import JsonFileError, read_json_file
from evals.records import (
    BASE_ARM,
    SYSTEM_TEXT,
    EnvironmentChange,
    RunMetadata,
    RunResults,
    ScoredCase,
    Suite,
    Summary,
    encode,
)
from evals.records.migrate import LEGACY_BASELINE, OutdatedFile
from evals.scoring import score_case, summarize

DEFAULT_BASELINE_PATH = "reports/baseline.json"
# Settings that do not change an answer (fingerprints.ANSWER_NEUTRAL_SETTINGS); the template is
# compared on its own line.


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
    template: str
    suite_name: str
    suite_version: str
    suite_hash: str

    @classmethod
    def of(cls, meta: RunMetadata) -> RunIdentity:
        settings = encode(meta.generation)
        # A run from before native tools recorded no prompt format: its tools were in the system text.
        settings["prompt_format"] = settings.get("prompt_format") or SYSTEM_TEXT
        return cls(
            model=meta.model,
            model_fingerprint=meta.model_fingerprint,
            quantization=meta.quantization,
            generation={k: v for k, v in settings.items() if k not in _NEUTRAL},
            template=meta.generation.template,
            suite_name=meta.suite_name,
            suite_version=meta.suite_version,
            suite_hash=meta.suite_hash,
        )

    def differences(self, run: RunIdentity) -> list[str]:
        """Name every field where ``run`` differs from this (the baseline's) identity."""
        out = []
        for name in ("model", "model_fingerprint", "quantization", "template", "suite_name", "suite_version"):
            mine, theirs = getattr(self, name), getattr(run, name)
            if mine != theirs:
                older = name == "model_fingerprint" and _scheme1(mine) and not _scheme1(theirs)
                old = " (baseline, an older fingerprint that hashed library metadata)" if older else " (baseline)"
                out.append(f"{name.replace('_', ' ')} {mine or '?'}{old} vs {theirs or '?'} (this run)")
        if self.suite_hash != run.suite_hash and self.suite_version == run.suite_version:
            out.append("suite content changed without a version bump")
        for key in sorted(set(self.generation) | set(run.generation)):
            mine, theirs = self.generation.get(key), run.generation.get(key)
            if mine != theirs:
                out.append(f"{key} {mine} (baseline) vs {theirs} (this run)")
        return out


@dataclass(frozen=True)
class Baseline:
    """A blessed run: the declared subset of its results (``records.BASELINE_SECTIONS``).

    The gate reads it through the same views as a run: ``cases`` (each case as the baseline's
    adapter against its base) and ``statistics``. ``rescore`` marks a baseline of schema 2, whose
    cases kept only answers and relevance: it is scored again with the suite before comparing.
    ``path`` is where it was read from; it is not part of the file and not compared.
    """

    results: RunResults
    rescore: bool = False
    path: str = field(default="", compare=False)

    @property
    def metadata(self) -> RunMetadata:
        return self.results.metadata

    @property
    def identity(self) -> RunIdentity:
        return RunIdentity.of(self.metadata)

    @property
    def adapter(self) -> str:
        return self.metadata.adapter

    @property
    def metric_version(self) -> str:
        return self.metadata.metric_version

    @property
    def partial(self) -> bool:
        return self.metadata.partial

    @property
    def scope(self) -> str:
        return self.metadata.scope

    @property
    def created(self) -> str:
        return self.metadata.timestamp

    @property
    def packages(self) -> Mapping[str, str]:
        return self.metadata.packages

    @property
    def statistics(self) -> Summary:
        return self.results.summary()

    @cached_property
    def cases(self) -> Mapping[str, ScoredCase]:
        """Every blessed case by id, as the baseline's adapter against its base."""
        return MappingProxyType({c.id: c for c in self.results.pairs()})

    @property
    def categories(self) -> tuple[str, ...]:
        """Return the categories the baseline has cases for, in first-seen order."""
        return tuple(dict.fromkeys(c.category for c in self.cases.values()))

    @property
    def suite(self) -> str:
        """Return ``name@version``."""
        return f"{self.metadata.suite_name}@{self.metadata.suite_version}"

    @classmethod
    def from_results(cls, results: RunResults) -> Baseline:
        """Snapshot a run as a baseline: its primary adapter's and the base's answers and scores."""
        keep = (BASE_ARM, results.primary)
        cases = tuple(
            replace(
                r,
                arms={k: v for k, v in r.arms.items() if k in keep},
                similarity={results.primary: r.similarity[results.primary]},
            )
            for r in results.results
            if results.primary in r.arms
        )
        meta = replace(results.metadata, adapters={results.primary: results.metadata.adapter})
        drift = {results.primary: d} if (d := results.drift_for()) is not None else {}
        return cls(RunResults(metadata=meta, statistics=summarize(cases), results=cases, drift=drift))

    def lacks_task_success(self, suite: Suite) -> bool:
        """True when the suite says what should happen for a case the file has no task success for (an earlier version)."""
        expecting = {c.id for c in suite.cases if c.expect is not None}
        return any(r.id in expecting and r.arms[BASE_ARM].task_success is None for r in self.results.results)

    def rescored(self, suite: Suite, metric_version: str) -> Baseline:
        """Return this baseline scored again from its answers with the current metric and suite."""
        by_id = {c.id: c for c in suite.cases}
        cases = tuple(
            score_case(by_id[r.id], {name: arm.answer for name, arm in r.arms.items()}, suite) if r.id in by_id else r
            for r in self.results.results
        )
        meta = replace(self.metadata, metric_version=metric_version)
        rescored = RunResults(metadata=meta, statistics=summarize(cases), results=cases, drift=self.results.drift)
        return replace(self, results=rescored, rescore=False)

    def to_dict(self) -> dict[str, Any]:
        return self.results.as_baseline()

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        """Build from JSON of any baseline format, raising ``ValueError`` that says which field is wrong."""
        results = RunResults.from_dict(data)
        if len(results.adapters) != 1 or results.primary not in results.adapters:
            raise ValueError("a baseline holds exactly one adapter, its primary")
        return cls(results, rescore=results.metadata.device == LEGACY_BASELINE)


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
    meta = replace(baseline.metadata, model_fingerprint=run_fingerprint)
    return replace(baseline, results=replace(baseline.results, metadata=meta))


def environment_change(baseline: Baseline, results: RunResults) -> EnvironmentChange | None:
    """Compare the run's package versions and answers with the baseline's; None when no version moved."""
    ours = results.metadata.packages
    moved = tuple(
        (name, old, ours[name]) for name, old in baseline.packages.items() if name in ours and ours[name] != old
    )
    if not moved:
        return None
    compared, changed = 0, []
    for case in results.pairs():
        blessed = baseline.cases.get(case.id)
        if blessed is None:
            continue
        for arm, answer in (("base", blessed.base.answer), ("fine-tuned", blessed.finetuned.answer)):
            compared += 1
            if case.arm("base" if arm == "base" else "finetuned").answer != answer:
                changed.append(f"{case.id} ({arm})")
    return EnvironmentChange(packages=moved, compared=compared, changed=tuple(changed))


def _corrupt(path: Path, detail: str) -> BaselineError:
    return BaselineError(
        f"baseline {path} is corrupt ({detail}): re-bless it with --jarvis-save-baseline or restore it from git"
    )


def load_baseline(path: str | Path) -> Baseline | None:
    """Read a baseline; None when the file does not exist, ``BaselineError`` when it is unusable."""
    path = Path(path)
    try:
        data = read_json_file(path)
    except JsonFileError as exc:
        if exc.kind == "missing":
            return None
        if exc.kind == "folder":
            raise BaselineError(f"baseline {path} is a folder: point --jarvis-baseline at a JSON file") from None
        if exc.kind == "unreadable":
            raise BaselineError(
                f"baseline {path} cannot be read ({exc.detail}): point --jarvis-baseline at a readable file"
            ) from None
        raise _corrupt(path, f"invalid JSON at {exc.detail}" if exc.kind == "malformed" else exc.detail) from None
    try:
        baseline = Baseline.from_dict(data)
    except OutdatedFile as old:
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
