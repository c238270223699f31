"""Reports of a run: text, CSV, chart, JSON round-trip, the verdict and ``jarvis-evals report``.

Runs are built here from scored cases (no model): ``make_results`` gives three categories
whose numbers are known, with regressions and echoed answers planted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from evals.cli import main
from evals.errors import JarvisError
from evals.records import (
    SEED_CATEGORIES,
    ArmScore,
    ArmStats,
    Case,
    GenerationSettings,
    RunResults,
    ScoredCase,
    Stats,
)
from evals.reports import CSV_NAME, HTML_NAME, JSON_NAME, PNG_NAME, TEXT_NAME, load_results, write_reports
from evals.reports.tables import COLUMNS, results_frame
from evals.reports.terminal import terminal_summary_lines
from evals.reports.text import render_text
from evals.verdict import (
    EFFECTIVE,
    INSUFFICIENT,
    MODERATE,
    classify_gain,
    gains_section,
    verdict_of,
    weakest_category,
)
from tests import factories
from tests.factories import make_metadata

TOOLS = {"commands": "open_app", "corrections": "volume_up", "routing": "weather"}
# (base relevances, fine-tuned relevances) of the ten cases of each category; corrections is the
# weakest category, and there is one regression in corrections (fix_03) and one in routing (route_05).
PATTERNS: dict[str, tuple[list[float], list[float]]] = {
    "commands": ([0, 0, 0.5, 1, 0, 0, 1, 0, 0.5, 0], [1, 1, 1, 1, 0, 1, 1, 0.5, 1, 1]),
    "corrections": ([0, 0, 1, 0, 0.5, 0, 0, 0, 0.5, 0], [0, 0.5, 0, 0, 0.5, 1, 0, 0, 0.5, 0]),
    "routing": ([0, 0, 0.5, 0, 1, 0, 0, 0.5, 0, 0], [1, 0, 0.5, 0.5, 0.5, 1, 0, 1, 0, 1]),
}
PREFIX = {"commands": "cmd", "corrections": "fix", "routing": "route"}


def arm(answer: str, relevance: float, tool: str, *, echo: bool = False) -> ArmScore:
    named = (tool,) if relevance > 0 else ()
    return ArmScore(
        answer=answer,
        keyword_hits=2 if relevance == 1.0 else (1 if relevance > 0 else 0),
        keyword_total=2,
        relevance=float(relevance),
        tools_named=named,
        tools_missing=() if named else (tool,),
        echo=echo,
    )


def make_case(
    cid: str,
    category: str,
    base_rel: float,
    ft_rel: float,
    *,
    cosine: float = 0.4,
    base_echo: bool = False,
    ft_echo: bool = False,
) -> ScoredCase:
    tool = TOOLS.get(category, "open_app")
    prompt = f"demande {cid.replace('_', ' ')}"
    case = Case(
        id=cid,
        category=category,
        prompt=prompt,
        expected_tools=(tool,),
        keywords=(tool, "jarvis"),
        intended=f"intention {cid}" if category == "corrections" else None,
    )
    base = arm(prompt if base_echo else f"base answer to {cid}", base_rel, tool, echo=base_echo)
    tuned = arm(prompt if ft_echo else f"{tool} fine-tuned answer to {cid}", ft_rel, tool, echo=ft_echo)
    return factories.scored(cid, category, base, tuned, cosine=cosine, case=case)


def sample_cases(categories: Sequence[str] = SEED_CATEGORIES) -> list[ScoredCase]:
    cases = []
    for cat in categories:
        for i, (b, f) in enumerate(zip(*PATTERNS[cat], strict=True), 1):
            cases.append(
                make_case(
                    f"{PREFIX[cat]}_{i:02d}",
                    cat,
                    b,
                    f,
                    cosine=round(0.1 * (i % 7) + 0.05, 2),
                    base_echo=(i in (4, 7)),
                    ft_echo=(cat == "corrections" and i == 10),
                )
            )
    return cases


def make_results(
    cases: Sequence[ScoredCase] | None = None,
    *,
    categories: Sequence[str] = (),
    sections: dict[str, Any] | None = None,
    suite_version: str = "1.0",
) -> RunResults:
    """Build a run from scored cases; ``categories`` makes it a partial run of those only."""
    cases = list(sample_cases(categories or SEED_CATEGORIES) if cases is None else cases)
    metadata = make_metadata(
        cases,
        model="Qwen/Qwen3-0.6B",
        adapter="adapters/jarvis-lora",
        quantization="4bit-nf4",
        device="cuda:0 (NVIDIA H100)",
        generation=GenerationSettings(max_new_tokens=48, batch_size="8"),
        suite_name="jarvis",
        suite_version=suite_version,
        suite_path="evals/suites/jarvis.yaml",
        timestamp="2025-06-01T12:34:56+00:00",
        packages={"torch": "2.7.1", "transformers": "4.56.2", "peft": "0.17.1"},
        categories=tuple(categories),
        partial=bool(categories),
        n_generate_calls=8,
        n_cached_answers=12,
        generation_seconds=41.5,
        load_seconds=7.25,
    )
    return factories.make_results(cases, metadata=metadata, sections=sections)


SECTIONS: dict[str, Any] = {
    "paired": {
        "lora": {
            "resamples": 10000,
            "seed": 0,
            "confidence": 0.95,
            "overall": {
                "n": 30,
                "mean_diff": 0.4,
                "ci_low": 0.2,
                "ci_high": 0.6,
                "sign_test_p": 0.001,
                "wins": 12,
                "losses": 1,
                "ties": 17,
                "significant": True,
            },
            "by_category": {
                "commands": {
                    "n": 10,
                    "mean_diff": 0.6,
                    "ci_low": 0.35,
                    "ci_high": 0.8,
                    "sign_test_p": 0.0039,
                    "wins": 8,
                    "losses": 0,
                    "ties": 2,
                    "significant": True,
                }
            },
        }
    },
    "baseline_comparison": {
        "lora": {
            "baseline": "reports/baseline.json",
            "overall": {
                "n_common": 30,
                "mean_diff": -0.03,
                "ci_low": -0.1,
                "ci_high": 0.02,
                "sign_test_p": 0.3,
                "significant": False,
            },
            "by_category": {},
        }
    },
    "gate": {
        "status": "failed",
        "mode": "tolerance",
        "baseline": "reports/baseline.json",
        "reasons": ["global relevance dropped from 0.800 to 0.700 (tolerance 0.020)"],
        "violations": [
            {
                "rule": "relevance_drop",
                "scope": "global",
                "baseline": 0.8,
                "current": 0.7,
                "tolerance": 0.02,
                "message": "global relevance dropped",
            }
        ],
    },
    "noise": {
        "n_cases": 30,
        "model": "Qwen/Qwen3-0.6B",
        "adapter": "adapters/jarvis-lora",
        "quantization": "4bit-nf4",
        "base_differing": 0,
        "finetuned_differing": 2,
        "warning": "2 fine-tuned answers differ between two greedy runs",
    },
}


@pytest.fixture(scope="module")
def results() -> RunResults:
    return make_results()


@pytest.fixture(scope="module")
def written(results: RunResults, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One full write (chart included: ~2 s at 300 DPI), shared by the module."""
    out = tmp_path_factory.mktemp("run")
    paths = write_reports(results, out)
    return {p.name: p for p in paths}


# -- text report --------------------------------------------------------------------------


def test_text_report_has_every_section_and_the_numbers(results: RunResults) -> None:
    text = render_text(results)
    lines = text.splitlines()
    assert len(lines) >= 100
    assert max(len(line) for line in lines) <= 110
    for title in (
        "RUN",
        "GLOBAL STATISTICS (30 cases)",
        "BY CATEGORY",
        "TOP 5 IMPROVEMENTS",
        "5 WORST CASES",
        "REGRESSIONS (2:",
        "ECHOED ANSWERS",
        "ALL CASES",
        "VERDICT",
    ):
        assert any(line.startswith(title) for line in lines), title
    for value in (
        "Qwen/Qwen3-0.6B",
        "adapters/jarvis-lora",
        "4bit-nf4",
        "cuda:0 (NVIDIA H100)",
        "jarvis version 1.0",
        "2025-06-01T12:34:56+00:00",
        "transformers : 4.56.2",
        "max_new_tokens  : 48",
        "Generate calls  : 8",
        "Cached answers  : 12",
    ):
        assert value in text, value
    overall = results.summary().overall
    for number in (
        overall.base.relevance,
        overall.finetuned.relevance,
        overall.base.keyword_match,
        overall.finetuned.keyword_match,
        overall.cosine_similarity,
    ):
        assert f"{number:.3f}" in text
    assert f"{overall.relevance_gain_pct:+.1f} %" in text
    for name, s in results.summary().by_category.items():
        assert f"Category '{name}' ({s.n_cases} cases)" in text
        assert f"{s.finetuned.relevance:.3f}" in text


def test_text_report_lists_regressions_echoes_and_both_answers(results: RunResults) -> None:
    text = render_text(results)
    regressions = text.split("REGRESSIONS")[1].split("ECHOED ANSWERS")[0]
    for cid in ("fix_03", "route_05"):
        assert cid in regressions
        assert f"base answer to {cid}" in regressions and f"fine-tuned answer to {cid}" in regressions
    echo = text.split("ECHOED ANSWERS")[1].split("ALL CASES")[0]
    assert "Base       : 6 of 30" in echo and "Fine-tuned : 1 of 30" in echo and "fix_10" in echo
    top = text.split("TOP 5 IMPROVEMENTS")[1].split("5 WORST CASES")[0]
    assert "1. cmd_01 (commands): relevance 0.000 -> 1.000 (+1.000)" in top


def test_text_report_verdict_names_thresholds_and_weakest_category(results: RunResults) -> None:
    verdict = render_text(results).split("\nVERDICT\n")[1]
    assert "EFFECTIVE" in verdict
    assert "> 10 % effective, 5-10 % moderate, < 5 % insufficient" in verdict
    assert "Weakest category : corrections" in verdict
    assert "'corrections'" in verdict  # named in a recommendation
    assert "Deploy" in verdict


def test_partial_run_reports_only_its_categories() -> None:
    text = render_text(make_results(categories=("commands",)))
    assert "commands (partial run: only these categories were selected and are reported)" in text
    assert "GLOBAL STATISTICS (10 cases)" in text
    assert "corrections" not in text and "routing" not in text


def test_later_sections_render_when_present() -> None:
    text = render_text(make_results(sections=SECTIONS))
    assert "PAIRED STATISTICS" in text and "12/1/17" in text and "[+0.350, +0.800]" in text
    assert "The relevance gain is significant at 5 %" in text
    assert "BASELINE COMPARISON" in text and "No significant difference from the baseline." in text
    assert "Status: FAILED (mode tolerance, baseline reports/baseline.json)" in text
    assert "global relevance dropped from 0.800 to 0.700" in text
    assert "WARNING: 2 fine-tuned answers differ" in text
    assert "Quality gate     : FAILED" in text.split("\nVERDICT\n")[1]
    assert "The quality gate failed: fix what it reports" in text


def test_run_warnings_and_baseline_error_are_listed() -> None:
    sections = {"warnings": ["2 prompts were truncated to fit the context"], "baseline_error": "baseline x is corrupt"}
    text = render_text(make_results(sections=sections))
    assert "WARNINGS (2)" in text
    assert "- 2 prompts were truncated to fit the context" in text
    assert "- baseline not used: baseline x is corrupt" in text


def test_later_sections_absent_by_default(results: RunResults) -> None:
    text = render_text(results)
    for title in ("PAIRED STATISTICS", "BASELINE COMPARISON", "QUALITY GATE", "NOISE FLOOR", "WARNINGS", "significant"):
        assert title not in text


def test_not_significant_gain_is_said_in_words() -> None:
    paired = json.loads(json.dumps(SECTIONS["paired"]))
    paired["lora"]["overall"]["significant"] = False
    text = render_text(make_results(sections={"paired": paired}))
    assert "NOT significant at 5 %" in text
    assert "The gain is not statistically significant: add cases" in text  # and the advice says so


# -- verdict ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("gain_pct", "finetuned_mean", "expected"),
    [
        (-25.0, 0.3, INSUFFICIENT),
        (0.0, 0.5, INSUFFICIENT),
        (4.999, 0.5, INSUFFICIENT),
        (5.0, 0.5, MODERATE),
        (7.5, 0.5, MODERATE),
        (10.0, 0.5, MODERATE),
        (10.001, 0.5, EFFECTIVE),
        (300.0, 0.8, EFFECTIVE),
        (None, 0.2, EFFECTIVE),  # base at 0, fine-tune above: unbounded gain
        (None, 0.0, INSUFFICIENT),  # both at 0
    ],
)
def test_verdict_thresholds(gain_pct: float | None, finetuned_mean: float, expected: str) -> None:
    assert classify_gain(gain_pct, finetuned_mean=finetuned_mean) == expected


@pytest.mark.parametrize(
    ("base", "finetuned", "expected"), [(0.5, 0.55, MODERATE), (0.2, 0.21, MODERATE), (0.5, 0.5, INSUFFICIENT)]
)
def test_verdict_boundaries_survive_float_noise(base: float, finetuned: float, expected: str) -> None:
    stats = Stats(
        n_cases=4,
        base=ArmStats(relevance=base, keyword_match=0.0),
        finetuned=ArmStats(relevance=finetuned, keyword_match=0.0),
        cosine_similarity=0.5,
    )
    assert verdict_of(stats) == expected


def test_empty_run_is_insufficient() -> None:
    empty = make_results(cases=[])
    assert verdict_of(empty.summary().overall) == INSUFFICIENT
    assert gains_section(empty)["weakest_category"] is None
    assert "No category ran." in render_text(empty)


def test_weakest_category_ties_go_to_the_smallest_gain() -> None:
    cases = [
        make_case("cmd_a", "commands", 0.0, 0.5),
        make_case("fix_a", "corrections", 0.5, 0.5),
        make_case("route_a", "routing", 0.0, 1.0),
    ]
    assert weakest_category(make_results(cases)) == "corrections"


@pytest.mark.parametrize(
    ("routing_ft", "verdict", "advice"),
    [
        (0.65, MODERATE, ("Look at the weakest category first: 'corrections'", "Add training examples", "Retrain")),
        (0.5, INSUFFICIENT, ("Review the training strategy", "dataset quality", "hyper-parameters", "more epochs")),
    ],
)
def test_recommendations_follow_the_verdict(routing_ft: float, verdict: str, advice: tuple[str, ...]) -> None:
    cases = [
        make_case("cmd_a", "commands", 1.0, 1.0),
        make_case("fix_a", "corrections", 0.5, 0.5),
        make_case("route_a", "routing", 0.5, routing_ft),
    ]
    gains = gains_section(make_results(cases))
    assert gains["verdict"] == verdict and gains["weakest_category"] == "corrections"
    joined = " ".join(gains["recommendations"])
    assert all(a in joined for a in advice) and "'corrections'" in joined


def test_gains_section(results: RunResults) -> None:
    gains = gains_section(results)
    overall = results.summary().overall
    assert gains["relevance_gain_abs"] == pytest.approx(overall.relevance_gain)
    assert gains["relevance_gain_pct"] == pytest.approx(overall.relevance_gain_pct)
    assert gains["keyword_gain"] == pytest.approx(overall.keyword_gain)
    assert gains["verdict"] == EFFECTIVE
    assert gains["weakest_category"] == "corrections"
    assert gains["regressions"] == ["fix_03", "route_05"]
    assert any("corrections" in r for r in gains["recommendations"])


# -- tables -------------------------------------------------------------------------------


def test_results_frame_has_one_row_per_case(results: RunResults) -> None:
    frame = results_frame(results)
    assert list(frame.columns) == list(COLUMNS)
    assert len(frame) == 30
    row = frame.set_index("id").loc["fix_03"]
    assert (row["relevance_base"], row["relevance_finetuned"], row["relevance_delta"]) == (1.0, 0.0, -1.0)
    assert bool(row["regression"]) and row["intended"] == "intention fix_03"


def test_terminal_summary_is_compact(results: RunResults) -> None:
    lines = terminal_summary_lines(results)
    assert len(lines) <= 12
    assert [line.split()[0] for line in lines[1:5]] == ["commands", "corrections", "routing", "global"]
    assert "0.233 -> 0.550" in lines[4]
    assert lines[-1].startswith("verdict: EFFECTIVE") and "weakest category: corrections" in lines[-1]


def test_terminal_summary_of_a_partial_run_is_aligned() -> None:
    lines = terminal_summary_lines(make_results(categories=("routing",)))
    assert [line.split()[0] for line in lines[1:3]] == ["routing", "global"]
    assert len({len(line) for line in lines[:3]}) == 1  # header and rows line up


def test_report_modules_do_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys, evals.cli.report, evals.cli.compare, evals.reports, evals.reports.compare;"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# -- files: JSON, CSV, chart, ``jarvis-evals report`` ------------------------------------------


def test_write_reports_writes_the_five_files(written: dict[str, Path]) -> None:
    assert sorted(written) == sorted([JSON_NAME, TEXT_NAME, CSV_NAME, PNG_NAME, HTML_NAME])
    assert not [p for p in next(iter(written.values())).parent.iterdir() if p.name.startswith(".")]  # no temporaries


def test_json_round_trips_through_the_records(results: RunResults, written: dict[str, Path]) -> None:
    data = json.loads(written[JSON_NAME].read_text(encoding="utf-8"))
    assert data["gains"] == json.loads(json.dumps(gains_section(results)))
    assert RunResults.from_dict(data) == results


def test_json_round_trip_keeps_every_section(tmp_path: Path) -> None:
    original = make_results(sections=SECTIONS)
    from evals.atomic import atomic_write_json
    from evals.reports import results_json

    path = atomic_write_json(tmp_path / JSON_NAME, results_json(original))
    loaded = load_results(path)
    assert loaded == original
    assert results_json(loaded) == json.loads(json.dumps(results_json(original)))
    assert render_text(loaded) == render_text(original)


def test_chart_is_14_by_10_inches_at_300_dpi_with_four_panels(results: RunResults, written: dict[str, Path]) -> None:
    import matplotlib.image

    from evals.reports.charts import build_figure

    pixels = matplotlib.image.imread(written[PNG_NAME])
    assert pixels.shape[:2] == (3000, 4200)
    assert len(build_figure(results).axes) == 4


def test_report_command_reproduces_the_run(
    written: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(written[JSON_NAME]), "--out", str(tmp_path)]) == 0
    for name in (TEXT_NAME, CSV_NAME, PNG_NAME):
        assert (tmp_path / name).read_bytes() == written[name].read_bytes(), name
    assert f"wrote {tmp_path / TEXT_NAME}" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not found: run the benchmark first"),
        ('{"metadata": {"model": ', "is not valid JSON (line 1, column 24"),
        ("[1, 2]", "is not a benchmark results object"),
        ('{"metadata": {}}', "missing 'statistics', 'results'"),
        ('{"metadata": {}, "statistics": {}, "results": []}', "has an unexpected shape"),
    ],
)
def test_unreadable_results_give_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / JSON_NAME
    if content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(JarvisError, match="results file"):
        load_results(path)
    assert main(["report", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and message in err, err
    assert not (tmp_path / "out").exists()


# -- results files saved by round 1, before the typed sections -------------------------------

ROUND1 = Path(__file__).parent / "data" / "round1"


@pytest.mark.parametrize("name", ["smollm2", "mini"])
def test_the_report_command_re_renders_a_round1_file_as_its_golden_renders(name: str, tmp_path: Path) -> None:
    """``jarvis-evals report`` on a file of round 1 writes the bytes tests/test_golden.py keeps for it."""
    from tests.golden import golden_path

    source = ROUND1 / f"{name}_results.json"
    assert main(["report", str(source), "--out", str(tmp_path)]) == 0
    assert (tmp_path / TEXT_NAME).read_bytes() == golden_path(source, "report.txt").read_bytes()
    assert (tmp_path / CSV_NAME).read_bytes() == golden_path(source, "results.csv").read_bytes()


def test_a_quick_run_says_why_it_is_partial_not_that_categories_were_left_out() -> None:
    results = make_results()
    quick = replace(results, metadata=replace(results.metadata, partial=True, scope="quick mode"))
    text = " ".join(render_text(quick).split())  # the line wraps at 100 columns
    assert "commands, corrections, routing (partial run, quick mode: only the cases that ran are reported)" in text
    assert "only these categories were selected" not in text
