"""The pytest plugin: options, markers, parametrization, fixtures, and reports at session end.

Registered once through the ``pytest11`` entry point ``jarvis``. State lives in a stash key
on the config; nothing happens unless JARVIS cases are collected.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from evals.config import AssertPolicy, EvalConfig, add_options, read_config
from evals.errors import JarvisError
from evals.records import Case, CustomCheck, GateOutcome, RunResults, ScoredCase, Suite

if TYPE_CHECKING:
    from evals.arms import JarvisArm, Scorer, Transcript
    from evals.run import EvalRun

CASE_ARG = "jarvis_case"
ADAPTER_ARG = "jarvis_adapter"
# The public fixtures a team's own tests use; a test asking for one is a JARVIS test (marked so).
MODEL_FIXTURES = frozenset({"jarvis_base", "jarvis_finetuned", "jarvis_adapters", "jarvis_score"})
MARKERS = {
    "jarvis": "a JARVIS benchmark case (select with -m jarvis)",
    "commands": "JARVIS clear voice commands",
    "corrections": "JARVIS phonetically mangled commands that must be understood",
    "routing": "JARVIS requests that must be routed to the right tools",
}

plugin_key = pytest.StashKey["JarvisPlugin"]()
XDIST_REFUSAL = (
    "jarvis-evals cannot run under pytest-xdist (-n): the benchmark holds one model and writes one set "
    "of reports and one gate decision per session; run `pytest -m jarvis` without -n"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


def pytest_configure(config: pytest.Config) -> None:
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if hasattr(config, "workerinput"):  # xdist worker: cases collect, but never run (see jarvis_run)
        return
    settings = read_config(config)
    plugin = JarvisPlugin(settings, config)
    # The controller of an xdist run collects nothing itself: judge the -m expression on the
    # suite's cases (their markers are known) the way pytest will on the workers' items.
    markexpr = config.option.markexpr
    if getattr(config.option, "numprocesses", None) and markexpr and plugin.selects_cases(markexpr):
        raise pytest.UsageError(XDIST_REFUSAL)
    config.stash[plugin_key] = plugin
    config.pluginmanager.register(plugin, "jarvis-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    plugin = config.stash.get(plugin_key, None)
    if plugin is not None:
        config.pluginmanager.unregister(plugin)
        del config.stash[plugin_key]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize any test asking for ``jarvis_case`` over the suite, one test per prompt."""
    if CASE_ARG not in metafunc.fixturenames:
        return
    plugin = metafunc.config.stash.get(plugin_key, None)
    if plugin is not None:
        suite = plugin.suite
        if suite is None:  # unusable suite file: a usage error once collection ends, not a collection traceback
            metafunc.parametrize(CASE_ARG, [])
            return
        names = plugin.adapter_names
    else:  # an xdist worker collects the same ids as its controller would
        from evals.suite import load_run_suite

        settings = read_config(metafunc.config)
        suite, names = load_run_suite(settings), [a.name for a in settings.adapter_specs()]
    if len(names) > 1 and ADAPTER_ARG in metafunc.fixturenames:
        # One test per (case, adapter): `-k ckpt-500` selects one adapter, `-m routing` one category.
        params = [pytest.param(c, n, id=f"{c.id}-{n}", marks=case_marks(c)) for c in suite.cases for n in names]
        metafunc.parametrize([CASE_ARG, ADAPTER_ARG], params)
        return
    metafunc.parametrize(CASE_ARG, [pytest.param(c, id=c.id, marks=case_marks(c)) for c in suite.cases])


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


class JarvisPlugin:
    """Per-session state: selected cases, the run, and the reports written at the end."""

    def __init__(self, config: EvalConfig, pytest_config: pytest.Config) -> None:
        self.config = config
        self.pytest_config = pytest_config
        self._run: EvalRun | None = None
        self._suite: Suite | None = None
        self.suite_error: str | None = None
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

    # -- lazy state ---------------------------------------------------------------------

    @property
    def suite(self) -> Suite | None:
        """The suite, or None when its file is unusable (``suite_error`` says why)."""
        if self._suite is None and self.suite_error is None:
            from evals.suite import load_run_suite

            try:
                self._suite = load_run_suite(self.config)
            except JarvisError as exc:
                # Raising here, inside pytest_generate_tests, would show as a collection error
                # with a traceback; pytest_collection_finish raises it as a usage error instead.
                self.suite_error = str(exc)
        return self._suite

    @property
    def adapter_names(self) -> list[str]:
        """The adapters' names, as the tests are parametrized (empty when none is found yet)."""
        return [a.name for a in self.config.adapter_specs()]

    def selects_cases(self, markexpr: str) -> bool:
        """Whether a ``-m`` expression selects any of the suite's cases."""
        suite = self.suite
        return suite is not None and any(marker_expression_selects(markexpr, case_marks(c)) for c in suite.cases)

    @property
    def run(self) -> EvalRun:
        if self._run is None:
            from evals.run import EvalRun

            try:
                self._run = EvalRun.from_config(self.config)
            except JarvisError as exc:
                raise pytest.UsageError(str(exc)) from None
        return self._run

    # -- collection ------------------------------------------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_collection_modifyitems(self, config: pytest.Config, items: list[pytest.Item]) -> Any:
        """Note whether -m asked for JARVIS cases: judged by pytest's own evaluation on the collected items."""
        for item in items:  # before -m deselects: `-m "not jarvis"` must never load a model
            if _is_custom(item) and item.get_closest_marker("jarvis") is None:
                item.add_marker(pytest.mark.jarvis)
        markexpr = config.option.markexpr
        collected = [item for item in items if _case_of(item) is not None]
        asked = bool(markexpr) and any(marker_expression_selects(markexpr, item.iter_markers()) for item in collected)
        result = yield
        self.requested = asked or any(_case_of(item) is not None for item in items)
        return result

    @pytest.hookimpl(trylast=True, specname="pytest_collection_modifyitems")
    def pytest_collection_modifyitems_limit(self, config: pytest.Config, items: list[pytest.Item]) -> None:
        """Apply --jarvis-quick / --jarvis-limit after -m and -k have deselected."""
        limit = self.config.limit
        if limit is None:
            return
        kept: list[pytest.Item] = []
        dropped: list[pytest.Item] = []
        per_category: dict[str, set[object]] = {}
        for item in items:
            case = _case_of(item)
            if case is None:
                kept.append(item)
                continue
            # A speech-recognition variant goes with its clean case: --jarvis-limit 1 keeps one
            # case's whole curve, not a clean case without variants.
            key: object = case.source if case.level is not None else id(item)
            seen = per_category.setdefault(case.category, set())
            if key in seen or len(seen) < limit:
                seen.add(key)
                kept.append(item)
            else:
                dropped.append(item)
        if dropped:
            config.hook.pytest_deselected(items=dropped)
            items[:] = kept

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        if self.suite_error is not None:
            raise pytest.UsageError(self.suite_error)
        cases = list(dict.fromkeys(c for c in (_case_of(item) for item in session.items) if c is not None))
        if session.config.option.collectonly:
            return  # listing tests needs no model or adapter (a fresh clone has none yet)
        if not cases:
            if any(_is_custom(item) for item in session.items):
                self.run  # noqa: B018 (validates the inputs now: bad input stops before any test)
            return
        self.requested = True
        run = self.run  # validates suite and adapter now: bad input stops before any test
        run.selected = cases
        chosen = [_adapter_of(item) for item in session.items if _case_of(item) is not None]
        run.select_adapters([name for name in dict.fromkeys(chosen) if name is not None])
        run.scope = self._scope(session, cases)
        if run.scope and self.config.save_baseline and not self.config.save_baseline_partial:
            raise pytest.UsageError(
                f"--jarvis-save-baseline would bless a partial run ({run.scope}: {len(cases)} of "
                f"{len(run.suite.cases)} cases), which would then gate only those: run the whole suite to bless, "
                "or pass --jarvis-save-baseline-partial to bless this partial baseline on purpose"
            )

    def _scope(self, session: pytest.Session, cases: list[Case]) -> str:
        """Say why a run covers less than the whole suite ("" when it covers all of it)."""
        suite = self.suite
        if self.config.quick:
            return "quick mode"
        if self.config.limit is not None:
            return f"--jarvis-limit {self.config.limit}"
        if suite is None or len(cases) == len(suite.cases):
            return ""
        option = session.config.option
        if option.keyword:
            return f"-k {option.keyword!r}"
        if option.markexpr:
            return f"-m {option.markexpr!r}"
        return "a selection of test ids"

    # -- the team's own tests on the same models ------------------------------------------------

    def transcript(self) -> Transcript:
        if self._transcript is None:
            from evals.arms import Transcript

            self._transcript = Transcript()
        return self._transcript

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(self, item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
        """Record a custom test's outcome; when it fails, show every arm's answer to what it asked."""
        report = yield
        if not _is_custom(item) or _case_of(item) is not None:
            return report
        if call.when == "setup":
            self._asked_before = len(self.transcript().asked)
        if report.failed or (report.when == "call" and report.outcome in ("passed", "skipped")):
            outcome = report.outcome if report.when == "call" else "error"
            message = _failure_message(report) if report.failed else ""
            self.custom_checks.append(CustomCheck(name=item.nodeid, outcome=outcome, message=message))
            asked = self.transcript().asked[self._asked_before :]
            if report.failed and asked and self._run is not None and self.fatal is None:
                from evals.arms import failure_section

                try:
                    report.sections.append(("jarvis answers", failure_section(self._run, asked)))
                except JarvisError as exc:
                    report.sections.append(("jarvis answers", f"could not answer: {exc}"))
        return report

    # -- end of session ----------------------------------------------------------------------

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if session.config.option.collectonly:
            return  # nothing ran: no report, no gate
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
        from evals.outcome import conclude

        run = self._run
        executed = len(run.scored) if run else 0
        if executed == 0 and self.custom_checks:  # only the team's own tests ran: nothing to gate or report
            self.notes = ["no suite case ran: no report and no gate; custom checks: " + _count(self.custom_checks)]
            return
        try:
            outcome = conclude(run, self.config, executed=executed, custom_checks=tuple(self.custom_checks))
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
        summary = os.environ.get("GITHUB_STEP_SUMMARY")
        if summary and outcome.results is not None:  # GitHub Actions shows it on the job's page
            from evals.reports.ci import markdown_summary

            with contextlib.suppress(OSError), open(summary, "a", encoding="utf-8") as fh:
                fh.write(markdown_summary(outcome.results))
        failed = outcome.failed or (outcome.gate is not None and outcome.gate.failed)
        if failed and session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if not (self.requested or self.custom_checks) or (
            self.results is None and self.gate is None and not self.notes
        ):
            return
        from evals.reports.terminal import summary_lines

        terminalreporter.write_sep("=", "jarvis-evals")
        for line in summary_lines(self.results, self.gate, self.written, self.notes):
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def jarvis_run(request: pytest.FixtureRequest) -> EvalRun:
    """The session's run: both arms answer every selected case in batches, once."""
    plugin = request.config.stash.get(plugin_key, None)
    if plugin is None:  # an xdist worker: refuse rather than race another worker's reports
        pytest.fail(XDIST_REFUSAL, pytrace=False)
    run = plugin.run
    if plugin.fatal is None:
        # Progress (loading, generation batches) goes to the real stderr, not into the first
        # test's captured output: a person waits on it; CI logs get a few plain lines.
        capman = request.config.pluginmanager.getplugin("capturemanager")
        visible = capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()
        try:
            with visible:
                run.ensure_answers()
        except JarvisError as exc:
            plugin.fatal = str(exc)
    if plugin.fatal is not None:
        # Every case would fail with the same line: stop after this one, as a failed run (exit 1),
        # not an interrupted one. Raised outside the except block so it shows once, unchained.
        request.session.shouldfail = "jarvis-evals: stopping, the model cannot answer (see the error above)"
        pytest.fail(plugin.fatal, pytrace=False)
    return run


def _session_run(request: pytest.FixtureRequest) -> tuple[JarvisPlugin, EvalRun]:
    """Return the plugin and its run for a model fixture; nothing is loaded or generated yet."""
    plugin = request.config.stash.get(plugin_key, None)
    if plugin is None:  # an xdist worker: refuse rather than race another worker's reports
        pytest.fail(XDIST_REFUSAL, pytrace=False)
    if plugin.fatal is not None:
        pytest.fail(plugin.fatal, pytrace=False)
    return plugin, plugin.run


def _visible(request: pytest.FixtureRequest) -> Any:
    """Show loading and generation progress outside pytest's capture, as for the suite's cases."""
    capman = request.config.pluginmanager.getplugin("capturemanager")
    return capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext()


def _arm(request: pytest.FixtureRequest, name: str) -> JarvisArm:
    from evals.arms import JarvisArm

    plugin, run = _session_run(request)

    class PytestArm(JarvisArm):
        def answer_many(self, prompts: Sequence[str], system: str | None = None) -> list[str]:
            try:
                with _visible(request):
                    return super().answer_many(prompts, system)
            except JarvisError as exc:  # one line, like a suite case that cannot be answered
                pytest.fail(str(exc), pytrace=False)

    arm = next(a for a in run.arms if a.name == name)
    return PytestArm(run=run, arm=arm, transcript=plugin.transcript())


@pytest.fixture(scope="session")
def jarvis_base(request: pytest.FixtureRequest) -> JarvisArm:
    """The base model of the session (the base arm: every adapter disabled), for your own tests.

    ``jarvis_base.answer(prompt, system=None) -> str`` and ``answer_many(prompts, system=None)``
    generate like the suite's cases (same loaded model, batching, greedy settings and cache).
    """
    _, run = _session_run(request)
    return _arm(request, next(a.name for a in run.arms if a.is_base))


@pytest.fixture(scope="session")
def jarvis_finetuned(request: pytest.FixtureRequest) -> JarvisArm:
    """The fine-tuned model of the session (the primary adapter on the same base), for your own tests."""
    _, run = _session_run(request)
    return _arm(request, run.primary)


@pytest.fixture(scope="session")
def jarvis_adapters(request: pytest.FixtureRequest) -> dict[str, JarvisArm]:
    """Every adapter of the session by name (one when a single adapter is evaluated)."""
    _, run = _session_run(request)
    return {a.name: _arm(request, a.name) for a in run.adapters}


@pytest.fixture(scope="session")
def jarvis_score(request: pytest.FixtureRequest) -> Scorer:
    """``jarvis_score(answer, expected_tools, prompt)``: the suite's relevance rules, as an ``ArmScore``."""
    from evals.arms import Scorer

    _, run = _session_run(request)
    return Scorer(run)


@pytest.fixture
def jarvis_adapter(jarvis_run: EvalRun) -> str:
    """The name of the adapter the current case is scored for (parametrized when there are several)."""
    return jarvis_run.primary


@pytest.fixture
def jarvis_scored(
    jarvis_case: Case, jarvis_adapter: str, jarvis_run: EvalRun, request: pytest.FixtureRequest
) -> ScoredCase:
    """The current case scored for the current adapter against the base arm (recorded for the reports).

    With ``--junitxml`` and ``junit_family = xunit1`` (or ``legacy``), its scores also become the
    test's JUnit XML properties, which GitLab and Jenkins show. (pytest's default xunit2 schema has
    no properties per test case: nothing is recorded then, rather than a warning per test.)
    """
    scored = jarvis_run.score(jarvis_case, jarvis_adapter)
    config = request.config
    if config.option.xmlpath and config.getini("junit_family") in ("xunit1", "legacy"):
        from evals.reports.ci import case_properties

        for name, value in case_properties(scored):
            request.node.user_properties.append((name, value))
    return scored


@pytest.fixture
def jarvis_policy(request: pytest.FixtureRequest) -> AssertPolicy:
    """What the per-prompt test asserts (--jarvis-assert)."""
    return request.config.stash[plugin_key].config.assert_policy


def _failure_message(report: pytest.TestReport) -> str:
    """The one line that says why a test failed: its exception's message, else the report's last line."""
    crash = getattr(report.longrepr, "reprcrash", None)
    text = getattr(crash, "message", None) or (report.longreprtext.strip().splitlines() or [""])[-1]
    return " ".join(str(text).split())[:300]


def _count(checks: Sequence[CustomCheck]) -> str:
    outcomes = [c.outcome for c in checks]
    return ", ".join(f"{outcomes.count(o)} {o}" for o in dict.fromkeys(outcomes))


def _is_custom(item: pytest.Item) -> bool:
    """A team's own test: it asks for one of the model fixtures."""
    return bool(MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def _case_of(item: pytest.Item) -> Case | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get(CASE_ARG) if callspec is not None else None
    return value if isinstance(value, Case) else None


def _adapter_of(item: pytest.Item) -> str | None:
    callspec = getattr(item, "callspec", None)
    value = callspec.params.get(ADAPTER_ARG) if callspec is not None else None
    return value if isinstance(value, str) else None


def assert_case(scored: ScoredCase, policy: AssertPolicy) -> None:
    """Fail the current test when the case breaks ``policy``, showing the prompt and both answers once."""
    failure = check_case(scored, policy)
    if failure is not None:
        pytest.fail(failure, pytrace=False)


def check_case(scored: ScoredCase, policy: AssertPolicy) -> str | None:
    """Return why a per-prompt test fails under ``policy``, or None when it passes."""
    base, ft = scored.base, scored.finetuned
    if policy.kind == "none":
        return None
    if policy.kind == "min-relevance":
        if ft.relevance >= policy.threshold:
            return None
        rule = f"fine-tuned relevance {ft.relevance:.2f} < required {policy.threshold:.2f}"
    else:
        if ft.relevance >= base.relevance:
            return None
        rule = f"regression: fine-tuned relevance {ft.relevance:.2f} < base {base.relevance:.2f}"
    return (
        f"{scored.id} [{scored.category}] {rule}\n"
        f"  prompt:     {scored.case.prompt!r}\n"
        f"  expected:   {', '.join(scored.case.expected_tools)}\n"
        f"  base:       {base.answer!r} -> tools {list(base.tools_named)} relevance {base.relevance:.2f}\n"
        f"  fine-tuned: {ft.answer!r} -> tools {list(ft.tools_named)} relevance {ft.relevance:.2f}"
    )
