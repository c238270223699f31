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


def test_the_schema_2_baseline_shipped_in_round_3_reads_as_format_2() -> None:
    """The baseline every clone had before format 2: same answers and scores, complete once re-scored."""
    from evals.gate.baseline import load_baseline
    from evals.metrics import METRIC_VERSION
    from evals.suite import load_suite

    path = Path(__file__).parent / "data" / "round2" / "shipped_baseline_schema2.json"
    old = json.loads(path.read_text(encoding="utf-8"))
    baseline = load_baseline(path)
    assert baseline is not None and baseline.rescore and baseline.metric_version == old["metric_version"]
    assert baseline.identity.generation == {
        **{k: v for k, v in old["identity"]["generation"].items() if k != "tools_format"},
        "prompt_format": old["identity"]["generation"]["tools_format"],
        # Settings added since take their defaults: that baseline decoded greedily, one answer per case.
        **{"decoding": "greedy", "seed": 0, "temperature": None, "top_k": None, "top_p": None},
    }
    assert baseline.identity.template == old["identity"]["prompt_format"]
    fresh = baseline.rescored(load_suite(), METRIC_VERSION)
    assert not fresh.rescore and list(fresh.cases) == list(old["cases"])
    for case_id, case in old["cases"].items():
        view = fresh.cases[case_id]
        assert (view.base.answer, view.finetuned.answer) == (case["answer_base"], case["answer_finetuned"])
        # The same metric version scores the same answers the same way: nothing was lost in the migration.
        assert (view.base.relevance, view.finetuned.relevance) == (case["relevance_base"], case["relevance_finetuned"])
        assert view.finetuned.keyword_match == pytest.approx(case["keyword_match_finetuned"])
    assert fresh.statistics.overall.finetuned.relevance == pytest.approx(old["statistics"]["avg_relevance_finetuned"])
