"""The pytest plugin: options, markers, parametrization and fixtures; nothing else.

Registered once through the ``pytest11`` entry point ``jarvis``. The session's state and its
hooks live in ``evals.session`` (registered here for the session), the run plan in
``evals.plan``, the assertion policy in ``evals.policy``. Nothing happens unless JARVIS cases
are collected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import pytest

from evals.arms import JarvisArm, Scorer
from evals.config import add_options, read_config
from evals.errors import JarvisError
from evals.hfload import unfreeze_collector
from evals.plan import build_plan
from evals.policy import AssertPolicy, assert_case, check_case  # noqa: F401 (public: tests import them from here)
from evals.records import Case, ScoredCase
from evals.reports.ci import case_properties
from evals.session import (  # noqa: F401 (marker_expression_selects: public, the repository's conftest uses it)
    ADAPTER_ARG,
    CASE_ARG,
    XDIST_REFUSAL,
    JarvisSession,
    case_marks,
    marker_expression_selects,
    session_key,
    session_of,
    visible,
)

if TYPE_CHECKING:
    from evals.run import EvalRun

MARKERS = {
    "jarvis": "a JARVIS benchmark case (select with -m jarvis)",
    "commands": "JARVIS clear voice commands",
    "corrections": "JARVIS phonetically mangled commands that must be understood",
    "routing": "JARVIS requests that must be routed to the right tools",
    "no_tool": "JARVIS requests where no tool may run (jarvis-full)",
    "arguments": "JARVIS requests whose tool calls need the right arguments (jarvis-full)",
    "follow_up": "JARVIS follow-ups that act on the state earlier turns left (jarvis-full)",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    add_options(parser)


@pytest.hookimpl(tryfirst=True)  # first, so that its cleanup runs last: after pytest's own collections at exit
def pytest_configure(config: pytest.Config) -> None:
    config.add_cleanup(unfreeze_collector)  # loading froze the heap (evals.hfload.collector_paused)
    for name, text in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {text}")
    if hasattr(config, "workerinput"):  # xdist worker: cases collect, but never run (see session_of)
        return
    session = JarvisSession(read_config(config), config)
    # The controller of an xdist run collects nothing itself: judge the -m expression on the
    # suite's cases (their markers are known) the way pytest will on the workers' items.
    markexpr = config.option.markexpr
    if getattr(config.option, "numprocesses", None) and markexpr and session.selects_cases(markexpr):
        raise pytest.UsageError(XDIST_REFUSAL)
    config.stash[session_key] = session
    config.pluginmanager.register(session, "jarvis-session")


def pytest_unconfigure(config: pytest.Config) -> None:
    session = config.stash.get(session_key, None)
    if session is not None:
        config.pluginmanager.unregister(session)
        del config.stash[session_key]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize any test asking for ``jarvis_case`` over the suite, one test per prompt."""
    if CASE_ARG not in metafunc.fixturenames:
        return
    session = metafunc.config.stash.get(session_key, None)
    # An xdist worker has no session: it plans the same run to collect the ids its controller would.
    plan = session.plan if session is not None else build_plan(read_config(metafunc.config))
    suite, names = plan.suite, plan.adapter_names
    if suite is None:  # unusable suite file: a usage error once collection ends, not a collection traceback
        metafunc.parametrize(CASE_ARG, [])
        return
    if len(names) > 1 and ADAPTER_ARG in metafunc.fixturenames:
        # One test per (case, adapter): `-k ckpt-500` selects one adapter, `-m routing` one category.
        params = [pytest.param(c, n, id=f"{c.id}-{n}", marks=case_marks(c)) for c in suite.cases for n in names]
        metafunc.parametrize([CASE_ARG, ADAPTER_ARG], params)
        return
    metafunc.parametrize(CASE_ARG, [pytest.param(c, id=c.id, marks=case_marks(c)) for c in suite.cases])


@pytest.fixture(scope="session")
def jarvis_run(request: pytest.FixtureRequest) -> EvalRun:
    """The session's run: both arms answer every selected case in batches, once."""
    session = session_of(request)
    run = session.validate()
    if session.fatal is None:
        try:
            with visible(request.config):  # progress goes to the real stderr, not the first test's output
                run.ensure_answers()
                run.ensure_probes()
                run.ensure_drift()
        except JarvisError as exc:
            session.fatal = str(exc)
    if session.fatal is not None:
        # Every case would fail with the same line: stop after this one, as a failed run (exit 1),
        # not an interrupted one. Raised outside the except block so it shows once, unchained.
        request.session.shouldfail = "jarvis-evals: stopping, the model cannot answer (see the error above)"
        pytest.fail(session.fatal, pytrace=False)
    return run


def _session_run(request: pytest.FixtureRequest) -> tuple[JarvisSession, EvalRun]:
    """Return the session and its run for a model fixture; nothing is loaded or generated yet."""
    session = session_of(request)
    if session.fatal is not None:
        pytest.fail(session.fatal, pytrace=False)
    return session, session.validate()


def _arm(request: pytest.FixtureRequest, name: str) -> JarvisArm:
    session, run = _session_run(request)

    class PytestArm(JarvisArm):
        def answer_many(self, prompts: Sequence[str], system: str | None = None) -> list[str]:
            try:
                with visible(request.config):
                    return super().answer_many(prompts, system)
            except JarvisError as exc:  # one line, like a suite case that cannot be answered
                pytest.fail(str(exc), pytrace=False)

    arm = next(a for a in run.arms if a.name == name)
    return PytestArm(run=run, arm=arm, transcript=session.transcript())


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
        for name, value in case_properties(scored):
            request.node.user_properties.append((name, value))
    return scored


@pytest.fixture
def jarvis_policy(request: pytest.FixtureRequest) -> AssertPolicy:
    """What the per-prompt test asserts (--jarvis-assert)."""
    return session_of(request).config.assert_policy
