"""The collector paused while a model loads (evals.hfload.collector_paused), and given back after a session."""

from __future__ import annotations

import gc
import json
import weakref
from collections.abc import Iterator
from pathlib import Path

import pytest

from evals.hfload import collector_paused, unfreeze_collector


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


@pytest.fixture(autouse=True)
def nothing_frozen() -> Iterator[None]:
    """Each test starts and ends with no frozen object and the collector on, whatever it did."""
    unfreeze_collector()
    assert gc.get_freeze_count() == 0, "the test process froze objects before this test"
    yield
    unfreeze_collector()
    gc.unfreeze()
    gc.enable()


def test_loading_runs_with_the_collector_off_then_freezes_what_lives_and_collects_what_does_not() -> None:
    kept = []
    with collector_paused():
        assert not gc.isenabled()
        alive, dead = Node(), Node()
        alive.other, dead.other = alive, dead  # two cycles, as loading leaves: one still used, one garbage
        kept.append(alive)
        gone = weakref.ref(dead)
        del dead
    assert gc.isenabled()
    assert gone() is None, "garbage left by loading is collected before the freeze, not frozen with it"
    assert gc.get_freeze_count() > 0
    unfreeze_collector()
    assert gc.get_freeze_count() == 0
    unfreeze_collector()  # twice is harmless
    assert gc.get_freeze_count() == 0


def test_a_second_load_collects_what_the_first_froze_and_was_dropped_since() -> None:
    with collector_paused():
        first = Node()
        first.other = first
    was = weakref.ref(first)
    del first  # e.g. the model of an earlier run in the same process: frozen, then dropped
    assert was() is not None, "frozen: not collected while frozen"
    with collector_paused():
        pass
    assert was() is None


def test_a_collector_the_caller_had_disabled_stays_disabled() -> None:
    gc.disable()
    with collector_paused():
        pass
    assert not gc.isenabled()


def test_only_its_own_freeze_is_undone() -> None:
    gc.freeze()  # the caller's own, e.g. a server that freezes before forking
    frozen = gc.get_freeze_count()
    unfreeze_collector()
    assert gc.get_freeze_count() == frozen


def test_a_session_that_loaded_a_model_gives_the_frozen_objects_back(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    pytester.makepyfile(
        test_bench="""
from evals.plugin import assert_case

def test_jarvis_case(jarvis_case, jarvis_scored, jarvis_policy):
    assert_case(jarvis_scored, jarvis_policy)
"""
    )
    pytester.makeconftest(
        """
import gc, json, pathlib

def pytest_sessionfinish(session):
    pathlib.Path("collector.json").write_text(json.dumps({"frozen": gc.get_freeze_count(), "on": gc.isenabled()}))
"""
    )
    result = pytester.runpytest(
        f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter={tiny_adapter_dir}", "--jarvis-quant=none",
        "--jarvis-max-new-tokens=4", "--jarvis-no-cache", "--jarvis-assert=none", "-p", "no:cacheprovider",
        "-m", "jarvis", "-k", "route_volume_up",
    )  # fmt: skip
    result.assert_outcomes(passed=1)
    during = json.loads((pytester.path / "collector.json").read_text())
    assert during == {"frozen": during["frozen"], "on": True} and during["frozen"] > 0  # loading froze the heap
    assert gc.get_freeze_count() == 0 and gc.isenabled()  # and the session's cleanup gave it back
