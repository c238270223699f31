"""The benchmark session: what one pytest session selected, its run, and what it wrote at the end.

``JarvisSession`` is registered by the plugin (``evals.plugin``) as a pytest plugin object for
the session. It reads the run plan (``evals.plan``, resolved once on first need) and asks it
every question of scope; it builds the run (``validate``) when collection ends, so bad input
stops before any test; and it concludes the run at session end (``evals.outcome``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import pytest

from evals.arms import Transcript, failure_section
from evals.config import EvalConfig
from evals.errors import JarvisError
from evals.lemmas import load_lemmas, save_lemmas
from evals.outcome import cache_folder, conclude
from evals.plan import RunPlan, build_plan, limit_per_category
from evals.records import Case, CustomCheck, GateOutcome, RunResults
from evals.reports.ci import append_step_summary
from evals.reports.terminal import summary_lines
from evals.run import EvalRun

CASE_ARG = "jarvis_case"
ADAPTER_ARG = "jarvis_adapter"
# The public fixtures a team's own tests use; a test asking for one is a JARVIS test (marked so).
MODEL_FIXTURES = frozenset({"jarvis_base", "jarvis_finetuned", "jarvis_adapters", "jarvis_score"})
XDIST_REFUSAL = (
    "jarvis-evals cannot run under pytest-xdist (-n): the benchmark holds one model and writes one set "
    "of reports and one gate decision per session; run `pytest -m jarvis` without -n"
)
session_key = pytest.StashKey["JarvisSession"]()


def session_of(request: pytest.FixtureRequest) -> JarvisSession:
    """The session's state for a fixture; an xdist worker has none and is refused, not raced."""
    session = request.config.stash.get(session_key, None)
    if session is None:
        pytest.fail(XDIST_REFUSAL, pytrace=False)
    return session


def visible(config: pytest.Config) -> Any:
    """Show loading and generation progress outside pytest's capture: a person waits on it."""
    capman = config.pluginmanager.getplugin("capturemanager")
    return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()


def case_marks(case: Case) -> list[pytest.MarkDecorator]:
    """The markers of a case's test: ``jarvis`` and its category."""
    return [pytest.mark.jarvis, getattr(pytest.mark, case.category)]


def marker_expression_selects(markexpr: str, marks: Iterable[pytest.MarkDecorator | pytest.Mark]) -> bool:
    """Evaluate a ``-m`` expression on a set of markers exactly as pytest does when it deselects.

    pytest exposes no public API for this; ``_pytest.mark`` has held these two since pytest 8.
    """
    from _pytest.mark import MarkMatcher
    from _pytest.mark.expression import Expression

    own = [m.mark if isinstance(m, pytest.MarkDecorator) else m for m in marks]
    return Expression.compile(markexpr).evaluate(MarkMatcher.from_markers(own))


class JarvisSession:
    """Per-session state: the plan, selected cases, the run, and the reports written at the end."""

    def __init__(self, config: EvalConfig, pytest_config: pytest.Config) -> None:
        self.config = config
        self.pytest_config = pytest_config
        self._plan: RunPlan | None = None
        self._run: EvalRun | None = None
        self.results: RunResults | None = None
        self.written: list[Path] = []
        self.gate: GateOutcome | None = None
        # A run whose -m selects JARVIS cases but executes none must fail the gate: no evidence.
        # Decided on the collected items (see pytest_collection_modifyitems), never on the text.
        self.requested = False
        self.notes: list[str] = []
        self.custom_checks: list[CustomCheck] = []
        self._transcript: Transcript | None = None
        self._asked_before = 0  # where the running custom test's prompts start in the transcript
        self.fatal: str | None = None  # why answering failed: the run stops, nothing is written

    @property
    def plan(self) -> RunPlan:
        """The run plan, resolved once (an unusable suite is kept in ``plan.suite_error``)."""
        if self._plan is None:
            self._plan = build_plan(self.config)
        return self._plan

    def selects_cases(self, markexpr: str) -> bool:
        """Whether a ``-m`` expression selects any of the suite's cases."""
        suite = self.plan.suite
        return suite is not None and any(marker_expression_selects(markexpr, case_marks(c)) for c in suite.cases)

    def validate(self) -> EvalRun:
        """Build the run from the plan once, checking every cheap input; bad input is a usage error."""
        if self._run is None:
            try:
                self._run = EvalRun.from_plan(self.plan)
            except JarvisError as exc:
                raise pytest.UsageError(str(exc)) from None
            if (folder := cache_folder(self.config)) is not None:
                load_lemmas(folder)  # words scored by earlier runs need no dictionary (evals.lemmas)
        return self._run

    # -- collection ------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> Any:
        """Note whether -m asked for JARVIS cases: judged by pytest's own evaluation on the collected items."""
        for item in items:  # before -m deselects: `-m "not jarvis"` must never load a model
            if is_custom(item) and item.get_closest_marker("jarvis") is None:
                item.add_marker(pytest.mark.jarvis)
        markexpr = config.option.markexpr
        collected = [item for item in items if case_of(item) is not None]
        asked = bool(markexpr) and any(marker_expression_selects(markexpr, item.iter_markers()) for item in collected)
        result = yield
        self.requested = asked or any(case_of(item) is not None for item in items)
        return result

    @pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
    def pytest_collection_modifyitems_limit(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Apply the plan's per-category limit (quick mode, --jarvis-limit) after -m and -k have deselected."""
        if self.config.limit is None and not self.config.quick:
            return  # no plan needed: a session without a limit never resolves one here
        kept = limit_per_category(items, self.plan.limit, case_of)
        if len(kept) < len(items):
            keep = set(kept)
            config.hook.pytest_deselected(items=[item for item in items if item not in keep])
            items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self._plan is not None and self._plan.suite_error is not None:
            raise pytest.UsageError(self._plan.suite_error)
        cases = list(dict.fromkeys(c for c in (case_of(item) for item in session.items) if c is not None))
        if session.config.option.collectonly:
            return  # listing tests needs no model or adapter (a fresh clone has none yet)
        if not cases:
            if any(is_custom(item) for item in session.items):
                self.validate()  # bad input stops before any test
            return
        self.requested = True
        run = self.validate()  # suite and adapter checked now: bad input stops before any test
        run.selected = cases
        chosen = [adapter_of(item) for item in session.items if case_of(item) is not None]
        run.select_adapters([name for name in dict.fromkeys(chosen) if name is not None])
        option = session.config.option
        run.scope = self.plan.partial_reason(len(cases), option.keyword, option.markexpr)
        if run.scope and self.config.save_baseline and not self.config.save_baseline_partial:
            raise pytest.UsageError(
                f"--jarvis-save-baseline would bless a partial run ({run.scope}: {len(cases)} of "
                f"{len(run.suite.cases)} cases), which would then gate only those: run the whole suite to bless, "
                "or pass --jarvis-save-baseline-partial to bless this partial baseline on purpose"
            )

    # -- the team's own tests on the same models ------------------------------------------------

    def transcript(self) -> Transcript:
        if self._transcript is None:
            self._transcript = Transcript()
        return self._transcript

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """Record a custom test's outcome; when it fails, show every arm's answer to what it asked."""
        report = yield
        if not is_custom(item) or case_of(item) is not None:
            return report
        if call.when == "setup":
            self._asked_before = len(self.transcript().asked)
        if report.failed or (report.when == "call" and report.outcome in ("passed", "skipped")):
            outcome = report.outcome if report.when == "call" else "error"
            message = _failure_message(report) if report.failed else ""
            self.custom_checks.append(CustomCheck(name=item.nodeid, outcome=outcome, message=message))
            asked = self.transcript().asked[self._asked_before :]
            if report.failed and asked and self._run is not None and self.fatal is None:
                try:
                    report.sections.append(("jarvis answers", failure_section(self._run, asked)))
                except JarvisError as exc:
                    report.sections.append(("jarvis answers", f"could not answer: {exc}"))
        return report

    # -- end of session ----------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if session.config.option.collectonly:
            return  # nothing ran: no report, no gate
        if self._run is not None and (folder := cache_folder(self.config)) is not None:
            save_lemmas(folder)
        if self._run is not None and exitstatus == pytest.ExitCode.INTERRUPTED:
            kept = self._run.stored
            self.notes = [
                "interrupted: no report was written; earlier reports and the baseline are untouched; "
                "answers of finished batches stay in the generation cache for the next run"
                + (f" ({kept} kept)" if kept else "")
            ]
        if not (self.requested or self.custom_checks) or exitstatus in (
            pytest.ExitCode.INTERRUPTED,
            pytest.ExitCode.USAGE_ERROR,
            pytest.ExitCode.INTERNAL_ERROR,
        ):
            return  # Ctrl-C or bad input: write nothing, keep earlier reports and the baseline intact
        if self.fatal is not None:
            self.notes = [
                "no report was written: the run stopped on the error above; earlier reports and the baseline are untouched"
            ]
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return

        run = self._run
        executed = len(run.scored) if run else 0
        if executed == 0 and self.custom_checks:  # only the team's own tests ran: nothing to gate or report
            self.notes = ["no suite case ran: no report and no gate; custom checks: " + _count(self.custom_checks)]
            return
        try:
            outcome = conclude(run, self.plan, executed=executed, custom_checks=tuple(self.custom_checks))
        except JarvisError as exc:
            self.notes = [f"error: {exc}"]
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
            return
        self.results, self.written, self.gate, self.notes = (
            outcome.results,
            outcome.written,
            outcome.gate,
            outcome.notes,
        )
        if outcome.results is not None:
            append_step_summary(outcome.results)
        failed = outcome.failed or (outcome.gate is not None and outcome.gate.failed)
        if failed and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not (self.requested or self.custom_checks) or (
            self.results is None and self.gate is None and not self.notes
        ):
            return

        terminalreporter.write_sep("=", "jarvis-evals")
        for line in summary_lines(self.results, self.gate, self.written, self.notes):
            terminalreporter.write_line(line)


def _failure_message(report: pytest.TestReport) -> str:
    """The one line that says why a test failed: its exception's message, else the report's last line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or (report.longreprtext.strip().splitlines() or [""])[-1]
    return " ".join(str(text).split())[:300]


def _count(checks: Sequence[CustomCheck]) -> str:
    outcomes = [c.outcome for c in checks]
    return ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))


def is_custom(item: pytest.Item) -> bool:
    """A team's own test: it asks for one of the model fixtures."""
    return bool(MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get(CASE_ARG) if callspec is not None else None
    return value if isinstance(value, Case) else None


def adapter_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get(ADAPTER_ARG) if callspec is not None else None
    return value if isinstance(value, str) else None
