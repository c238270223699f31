"""Root conftest: pytester drives the plugin end to end in the project's own tests.

The jarvis plugin itself is registered once, by the ``pytest11`` entry point in pyproject.toml.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytest_plugins = ["pytester"]

TESTS = Path(__file__).resolve().parent / "tests"
SUITE_FILE = "test_jarvis.py"  # the suite's cases; the project's other test files carry no marker at all


def pytest_ignore_collect(collection_path: Path, config: pytest.Config) -> bool | None:
    """Under a ``-m`` no unmarked test can match (``-m jarvis``, ``-m "jarvis and routing"``), skip
    importing the project's own test modules: only tests/test_jarvis.py can hold a selected test, and
    importing the ~30 others (assertion rewriting, their imports) was most of a cached run's time.
    tests/test_cli.py checks the assumption: no project test outside the suite file has a marker.
    """
    markexpr = config.option.markexpr
    if not markexpr or collection_path.parent != TESTS or collection_path.name == SUITE_FILE:
        return None
    if not (collection_path.name.startswith("test_") and collection_path.suffix == ".py"):
        return None
    from evals.plugin import marker_expression_selects

    return None if marker_expression_selects(markexpr, []) else True
