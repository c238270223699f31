"""Reports of a sampled run (N > 1 answers per case): rates per case, the stability section, clustered intervals.

A greedy run renders byte for byte as before: tests/test_golden.py holds every earlier round's
reports; here a greedy run of the same answers shows none of the sampled parts.
"""

from __future__ import annotations

import csv
import io

import pytest

from evals.records import RunResults
from evals.reports.ci import markdown_summary
from evals.reports.html import render_html
from evals.reports.tables import COLUMNS, SAMPLED_COLUMNS, TASK_COLUMNS, VERSION_2_COLUMNS, results_csv
from evals.reports.terminal import summary_lines
from evals.reports.text import render_text
from tests.sampled import sampled_run
from tests.test_sampling_stats import GOODS


@pytest.fixture(scope="module")
def run() -> RunResults:
    return sampled_run(GOODS, 5)


@pytest.fixture(scope="module")
def greedy() -> RunResults:
    return sampled_run({k: (base // 5, tuned // 5) for k, (base, tuned) in GOODS.items()}, 1)


@pytest.fixture(scope="module")
def text(run: RunResults) -> str:
    return render_text(run)


def _section(text: str, title: str) -> str:
    start = text.index(title)
    end = text.find("\n" + "-" * 100 + "\n", text.index("\n" + "-" * 100 + "\n", start) + 1)
    return text[start:end]


def test_text_stability_section_lists_pass_rates_and_unstable_cases_per_arm(text: str) -> None:
    section = _section(text, "STABILITY (5 sampled answers per case")
    lines = [line.strip() for line in section.splitlines()]
    task = lines.index("Task success:")
    assert lines[task + 1] == "base: pass@1 0.467, pass@5 0.667, pass^5 0.333 over 9 cases"
    assert lines[task + 2] == "unstable (3): arg_volume_80 0.20, arg_brightness_25 0.40, nt_salut 0.60"
    assert lines[task + 3] == "fine-tuned: pass@1 0.756, pass@5 0.889, pass^5 0.556 over 9 cases"
    assert lines[task + 4] == "unstable (3): arg_timer_90s 0.80, arg_weather_rouen 0.60, nt_merci_jarvis 0.40"
    assert "bootstrap interval is clustered by case" in " ".join(lines)


def test_text_shows_each_case_s_rates_and_pass_all(text: str) -> None:
    section = _section(text, "STABILITY (5 sampled answers per case")
    head = next(line for line in section.splitlines() if line.strip().startswith("case "))
    assert head.split() == [
        "case", "rel", "base", "rel", "ft", "vc", "base", "vc", "ft", "ts", "base", "ts", "ft",
        "pass^5", "base", "pass^5", "ft",
    ]  # fmt: skip
    rows = {line.split()[0]: line.split()[1:] for line in section.splitlines() if line.startswith("  arg_", 0)}
    rows |= {line.split()[0]: line.split()[1:] for line in section.splitlines() if line.startswith("  nt_", 0)}
    # The right tool with a wrong city: relevance right every time, the task 3 times in 5; not all right.
    assert rows["arg_weather_rouen"] == ["1.00", "(5/5)"] * 4 + ["0.00", "(0/5)", "0.60", "(3/5)", "no", "no"]
    assert rows["arg_message_pepper"][-2:] == ["yes", "yes"]
    assert rows["nt_merci_jarvis"][-2:] == ["yes", "no"]


def test_text_paired_sections_say_the_interval_is_clustered(text: str) -> None:
    flat = " ".join(text.split())
    assert (
        "PAIRED STATISTICS (fine-tuned minus base relevance per case; bootstrap 10000 resamples, clustered by case"
        in flat
    )
    assert (
        "TASK SUCCESS (paired: fine-tuned minus base task success per judged case; bootstrap 10000 resamples, clustered"
        in flat
    )
    assert "[-0.111, +0.667], clustered by case): it may be noise." in flat
    assert "simulated over 5 samples per case" in flat and "samples per case on these 9 cases" in flat


def test_terminal_and_ci_summaries_carry_one_stability_sentence(run: RunResults) -> None:
    lines = summary_lines(run, None, [], [])
    stable = [line for line in lines if line.startswith("stability: ")]
    assert stable == [
        "stability: 5 sampled answers per case; task success pass^5 (all right) base 0.333 (3 unstable cases), "
        "fine-tuned 0.556 (3 unstable cases); paired intervals clustered by case"
    ]
    assert any(
        line.startswith("paired task success diff") and line.endswith("n=9, CI clustered by case)") for line in lines
    )
    summary = markdown_summary(run)
    assert "**Stability:** 5 sampled answers per case; task success pass^5 (all right) base 0.333" in summary
    assert "clustered by case): it may be noise." in summary


def test_csv_appends_the_sampled_columns_last(run: RunResults) -> None:
    rows = list(csv.DictReader(io.StringIO(results_csv(run))))
    header = next(csv.reader(io.StringIO(results_csv(run))))
    assert header == [*COLUMNS, *VERSION_2_COLUMNS, *TASK_COLUMNS, *SAMPLED_COLUMNS]
    by_id = {r["id"]: r for r in rows}
    assert {r["samples"] for r in rows} == {"5"}
    weather = by_id["arg_weather_rouen"]
    assert (weather["task_success_finetuned"], weather["finetuned_pass_all"], weather["finetuned_unstable"]) == (
        "0.6",
        "False",
        "True",
    )
    pepper = by_id["arg_message_pepper"]
    assert (pepper["base_pass_all"], pepper["base_unstable"], pepper["finetuned_pass_all"]) == ("True", "False", "True")


def test_html_has_a_stability_section_and_a_clustered_interval(run: RunResults) -> None:
    page = render_html(run, chart="<svg></svg>")
    assert '<details class="section" id="stability" open>' in page
    assert "Paired difference, 95 % CI, clustered by case" in page
    assert (
        "<td>fine-tuned</td>" in page and "3: arg_timer_90s 0.80, arg_weather_rouen 0.60, nt_merci_jarvis 0.40" in page
    )
    assert '<th scope="row">arg_weather_rouen</th>' in page and '<td class="num ">0.60 (3/5)</td>' in page


def test_a_greedy_run_shows_none_of_the_sampled_parts(greedy: RunResults) -> None:
    text = render_text(greedy)
    assert "STABILITY" not in text and "clustered" not in text and "(1/1)" not in text
    header = next(csv.reader(io.StringIO(results_csv(greedy))))
    assert header == [*COLUMNS, *VERSION_2_COLUMNS, *TASK_COLUMNS]
    page = render_html(greedy, chart="<svg></svg>")
    assert 'id="stability"' not in page and "clustered" not in page
    lines = summary_lines(greedy, None, [], [])
    assert not any("stability" in line or "clustered" in line for line in lines)
    assert "Stability" not in markdown_summary(greedy)
