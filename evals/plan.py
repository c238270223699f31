"""The run plan: everything a run decides from its configuration, resolved once.

``build_plan(config)`` reads the suite once (``load_run_suite``), finds the adapters (the newest
``*/final/`` when none is named: ``evals.adapters.newest_adapter``, the one definition of
"newest") and inspects each adapter folder once, picks the primary adapter, the backend (from the
registry) and the scope: quick mode's one case per category, its clamp of ``max_new_tokens``,
its reports subfolder and that it is not gated. The plugin, the run (``evals.run``) and its end
(``evals.outcome``) read the plan; none of them decides these again.

Building a plan raises nothing: a problem (an unusable suite, no adapter, a broken adapter
folder, an unknown primary) is kept and raised by ``check()`` when the run is about to answer,
so ``--collect-only`` and ``-m "not jarvis"`` need no model or adapter.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from evals.adapters import AdapterSpec, complete_finals, default_adapter_name, newest_adapter
from evals.backends.base import BackendEntry, backend_entry
from evals.config import EvalConfig
from evals.errors import JarvisError
from evals.models import AdapterInfo, adapter_base_mismatch, inspect_adapter, is_embedded, resolve_model
from evals.options import QUICK_MAX_NEW_TOKENS
from evals.records import Case, Suite
from evals.suite import load_run_suite

QUICK_DIR = "quick"
T = TypeVar("T")


@dataclass(frozen=True)
class PlannedAdapter:
    """One adapter arm: its name, its folder (a served run: its served name) and what inspecting it found."""

    name: str
    path: Path
    info: AdapterInfo | None = None  # None: not a local folder (a served model), or unreadable (see ``problem``)


@dataclass(frozen=True)
class RunPlan:
    """What one run is: suite, arms, primary adapter, backend and scope."""

    config: EvalConfig  # the options as given
    backend: BackendEntry
    suite: Suite | None
    adapters: tuple[PlannedAdapter, ...]
    primary: str | None
    warnings: tuple[str, ...] = ()
    problem: str | None = None  # why the run cannot answer (raised by ``check``)
    suite_error: str | None = None  # why the suite file is unusable (a usage error once collection ends)

    # -- scope: decided here only ----------------------------------------------------------------

    @property
    def quick(self) -> bool:
        return self.config.quick

    @property
    def limit(self) -> int | None:
        """Cases kept per category: 1 in quick mode, else ``--jarvis-limit`` (None: all)."""
        return 1 if self.quick else self.config.limit

    @property
    def max_new_tokens(self) -> int:
        """Quick mode's short answers: the option, clamped to ``QUICK_MAX_NEW_TOKENS``."""
        given = self.config.max_new_tokens
        return min(given, QUICK_MAX_NEW_TOKENS) if self.quick else given

    @property
    def reports_dir(self) -> Path:
        return self.config.reports_dir / QUICK_DIR if self.quick else self.config.reports_dir

    @property
    def gate_applies(self) -> bool:
        """A smoke check (quick mode) is never gated."""
        return not self.quick

    @property
    def baseline(self) -> Path:
        """The shipped full suite has its own baseline, ``baseline-jarvis-full.json`` beside ``baseline.json``.

        Only the shipped suites: a team's own suite keeps the ``baseline.json`` it blessed.
        """
        path = self.config.baseline
        if self.suite is None or self.suite.name not in OWN_BASELINE_SUITES or path.name != DEFAULT_BASELINE_NAME:
            return path
        return path.with_name(f"baseline-{self.suite.name}.json")

    @property
    def settings(self) -> EvalConfig:
        """The configuration as this run applies it: the scope's limit, token clamp, reports folder and baseline."""
        return dataclasses.replace(
            self.config,
            max_new_tokens=self.max_new_tokens,
            reports_dir=self.reports_dir,
            limit=self.limit,
            baseline=self.baseline,
        )

    def partial_reason(self, n_selected: int, keyword: str = "", markexpr: str = "") -> str:
        """Say why a run of ``n_selected`` cases covers less than the whole suite ("" when it covers all)."""
        if self.quick:
            return "quick mode"
        if self.config.limit is not None:
            return f"--jarvis-limit {self.config.limit}"
        if self.suite is None or n_selected == len(self.suite.cases):
            return ""
        if keyword:
            return f"-k {keyword!r}"
        if markexpr:
            return f"-m {markexpr!r}"
        return "a selection of test ids"

    # -- arms ------------------------------------------------------------------------------------

    @property
    def adapter_names(self) -> list[str]:
        return [a.name for a in self.adapters]

    @functools.cached_property
    def model_path(self) -> str:
        """The model as the backend loads it: a local folder resolved, the embedded or a served name as given."""
        model = self.config.model
        return model if not self.backend.local_adapters or is_embedded(model) else resolve_model(model)

    def check(self) -> None:
        """Raise the plan's problem as a ``JarvisError`` (one line); the suite's first."""
        if self.suite_error is not None:
            raise JarvisError(self.suite_error)
        if self.problem is not None:
            raise JarvisError(self.problem)
        _ = self.model_path  # a local model folder that is not one raises here


OWN_BASELINE_SUITES = frozenset({"jarvis-full"})
DEFAULT_BASELINE_NAME = "baseline.json"


def build_plan(config: EvalConfig) -> RunPlan:
    """Resolve a run's plan from its configuration: the suite once, each adapter folder inspected once."""
    entry = backend_entry(config.backend)
    suite: Suite | None = None
    suite_error = None
    try:
        suite = load_run_suite(config)
    except JarvisError as exc:
        suite_error = str(exc)
    specs = config.adapters
    if not specs and entry.local_adapters:
        newest = newest_adapter(complete_finals(config.output_dir))
        specs = (AdapterSpec(default_adapter_name(newest), newest),) if newest is not None else ()
    plan = RunPlan(config=config, backend=entry, suite=suite, adapters=(), primary=None, suite_error=suite_error)
    if not specs:
        return dataclasses.replace(
            plan,
            problem=f"no LoRA adapter: none complete under {config.output_dir}/*/final/; pass --jarvis-adapter PATH "
            "or train the demo adapter with `jarvis-evals train`",
        )
    adapters: list[PlannedAdapter] = []
    warnings: list[str] = []
    problem = None
    inspected: dict[Path, AdapterInfo] = {}  # one folder under two names is read once
    for spec in specs:
        info = None
        if entry.local_adapters and problem is None:
            try:
                info = inspected.get(spec.path) or inspect_adapter(spec.path)
            except JarvisError as exc:
                problem = str(exc)
            else:
                if spec.path in inspected:
                    adapters.append(PlannedAdapter(spec.name, spec.path, info))
                    continue
                inspected[spec.path] = info
                mismatch = adapter_base_mismatch(info, config.model)
                if mismatch is not None:  # peft loads it onto any base of the same shapes: say so, don't refuse
                    warnings.append(f"{mismatch[0]}: its answers may mean little (`jarvis-evals check` compares them)")
        adapters.append(PlannedAdapter(spec.name, spec.path, info))
    by_name = {a.name: a for a in adapters}
    default = newest_adapter(a.path for a in adapters) if entry.local_adapters else adapters[0].path
    primary = config.primary or next(a.name for a in adapters if a.path == default)
    if problem is None and primary not in by_name:
        problem = f"--jarvis-primary {primary}: no adapter has that name; use one of {', '.join(by_name)}"
    return dataclasses.replace(
        plan, adapters=tuple(adapters), primary=primary, warnings=tuple(warnings), problem=problem
    )


def limit_per_category(items: Sequence[T], limit: int | None, case_of: Callable[[T], Case | None]) -> list[T]:
    """Keep the first ``limit`` cases of each category (items without a case are kept).

    A speech-recognition variant goes with its clean case: a limit of 1 keeps one case's whole
    curve, not a clean case without variants. Used by the plugin on its test items and by
    ``jarvis-evals noise`` on the suite's cases.
    """
    if limit is None:
        return list(items)
    kept: list[T] = []
    per_category: dict[str, set[object]] = {}
    for item in items:
        case = case_of(item)
        if case is None:
            kept.append(item)
            continue
        key: object = case.source if case.level is not None else id(item)
        seen = per_category.setdefault(case.category, set())
        if key in seen or len(seen) < limit:
            seen.add(key)
            kept.append(item)
    return kept
