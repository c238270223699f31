"""Every results file an earlier round wrote still loads and renders the same bytes (tests/golden.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evals.reports import load_results
from tests.golden import SOURCES, golden_path, renders

CASES = [(source, name) for source in SOURCES for name in renders(load_results(source))]


@pytest.mark.parametrize(("source", "name"), CASES, ids=[f"{s.stem}-{n}" for s, n in CASES])
def test_a_saved_run_re_renders_byte_for_byte(source: Path, name: str) -> None:
    rendered = renders(load_results(source))[name]()
    assert rendered.encode("utf-8") == golden_path(source, name).read_bytes()


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_a_saved_run_written_again_in_the_current_format_reads_back_the_same(source: Path) -> None:
    """Format 1 read, written as format 2, read again: the same records, the same reports."""
    from evals.records import FORMAT_VERSION, RunResults

    loaded = load_results(source)
    document = json.loads(json.dumps(loaded.to_dict()))
    assert document["format_version"] == FORMAT_VERSION and "adapters" not in document
    again = RunResults.from_dict(document)
    assert again == loaded
    assert again.to_dict() == document
    for name, render in renders(again).items():
        assert render().encode("utf-8") == golden_path(source, name).read_bytes(), name
