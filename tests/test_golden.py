"""Every results file an earlier round wrote still loads and renders the same bytes (tests/golden.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from evals.reports import load_results
from tests.golden import SOURCES, golden_path, renders

CASES = [(source, name) for source in SOURCES for name in renders(load_results(source))]


@pytest.mark.parametrize(("source", "name"), CASES, ids=[f"{s.stem}-{n}" for s, n in CASES])
def test_a_saved_run_re_renders_byte_for_byte(source: Path, name: str) -> None:
    rendered = renders(load_results(source))[name]()
    assert rendered.encode("utf-8") == golden_path(source, name).read_bytes()
