"""Every report shows task success, false activation and relevance; per case, what ran and the state diff.

The run is seven cases of the shipped jarvis-full suite answered by hand (``factories.TASK_ANSWERS``)
and scored as a run scores them: the fine-tune does six tasks of seven, the base three; the base
calls a tool where nothing should run (a false activation); a follow-up acts on its history's state.
A run that measures no task success (every earlier round) shows none of it (tests/test_golden.py).
"""

from __future__ import annotations

import csv
import io
from dataclasses import replace

import pytest

from evals.records import ExecutedCall, RunResults
from evals.reports.ci import case_properties, markdown_summary
from evals.reports.compare import compare_runs, render_comparison
from evals.reports.html import render_comparison_html, render_html
from evals.reports.html.task_parts import TASK_CSS
from evals.reports.tables import TASK_COLUMNS, leaderboard_csv, results_csv
from evals.reports.terminal import leaderboard_lines, summary_lines
from evals.reports.text import render_text
from tests.factories import TASK_ANSWERS, make_results, scored, task_run


@pytest.fixture(scope="module")
def run() -> RunResults:
    return task_run(TASK_ANSWERS)


@pytest.fixture(scope="module")
def text(run: RunResults) -> str:
    return render_text(run)


def _block(text: str, title: str) -> str:
    """The section of the text report whose title starts with ``title``."""
    start = text.index("\n" + title)
    end = text.find("\n---", text.index("\n---", start + 1) + 1)
    return text[start:end]


def test_the_run_measures_what_the_answers_did(run: RunResults) -> None:
    s = run.summary().overall
    assert (s.base.task_success, s.finetuned.task_success) == pytest.approx((3 / 7, 6 / 7))
    assert (s.base.false_activation, s.finetuned.false_activation) == (0.5, 0.0)
    assert run.paired_task_for() is not None


def test_text_bottom_line_and_statistics_show_task_success_and_false_activation(text: str) -> None:
    head = text[: text.index("\nRUN")]
    assert "Task success 0.429 -> 0.857 (+0.429) over 7 cases; false activation 0.500 -> 0.000 over 2" in head
    glob = _block(text, "GLOBAL STATISTICS")
    assert "  task success      0.429       0.857  +0.429" in glob
    assert "  false activation  0.500       0.000  -0.500  lower is better" in glob
    assert "relevance" in glob and "tool names ok" in glob and "arguments ok" in glob


def test_text_category_table_puts_task_success_and_false_activation_next_to_relevance(text: str) -> None:
    table = _block(text, "BY CATEGORY").splitlines()
    header = next(line for line in table if line.strip().startswith("category"))
    cols = header.split()
    assert cols[cols.index("gain") : cols.index("gain") + 12] == [
        *["gain", "gain", "%", "task", "base", "task", "ft", "fa", "base", "fa", "ft", "kw"]
    ]
    no_tool = next(line for line in table if line.strip().startswith("no_tool"))
    assert no_tool.split()[6:10] == ["0.500", "1.000", "0.500", "0.000"]
    commands = next(line for line in table if line.strip().startswith("commands"))
    assert commands.split()[6:10] == ["0.500", "1.000", "-", "-"]  # no no-tool case: no false activation


def test_text_paired_task_success_block(text: str) -> None:
    block = _block(text, "TASK SUCCESS (paired")
    assert "global       7     +0.429" in block and "follow_up    1     +1.000" in block
    assert "The task success difference is NOT significant" in block


def test_text_case_listing_shows_what_ran_the_state_and_why_it_failed(text: str) -> None:
    follow_up = text[text.index("fu_encore_volume (follow_up)") :]
    follow_up = follow_up[: follow_up.index("\n  2.") if "\n  2." in follow_up else None]
    assert "History 1    : user: monte le son" in follow_up
    assert "History 2    : assistant: volume_up(step=10)" in follow_up
    assert follow_up.index("History 2") < follow_up.index("Prompt       : encore")
    assert "Task success : base 0, fine-tuned 1" in follow_up
    assert "ran        : volume_down(step=10) ok: Volume à 40 %." in follow_up  # from the history's 50
    assert "state      : volume: 50 -> 40" in follow_up
    assert "unmet      : volume: expected between 51 and inf, got 40" in follow_up
    assert "ran        : volume_up(step=10) ok: Volume à 60 %." in follow_up
    no_tool = text[text.index("nt_merci_jarvis (no_tool)") :]
    assert "Task success : base 0 (false activation), fine-tuned 1 (abstained)" in no_tool
    assert "ran        : nothing" in no_tool


def test_text_task_failures_all_cases_and_verdict(text: str) -> None:
    failures = _block(text, "TASK FAILURES")
    assert failures.startswith("\nTASK FAILURES (1:") and "arg_volume_30 (arguments)" in failures
    assert "unmet      : volume: expected 30, got 40" in failures
    table = _block(text, "ALL CASES")
    assert "ts base  ts ft  flags" in table
    row = next(line for line in table.splitlines() if line.strip().startswith("nt_merci_jarvis"))
    assert row.split()[-3:] == ["0", "1", "A:b"]
    verdict = _block(text, "VERDICT")
    assert "Task success     : 0.429 -> 0.857 (+0.429) over 7 cases" in verdict
    assert "False activation : 0.500 -> 0.000 over 2 no-tool cases (lower is better)" in verdict


def test_a_run_without_task_success_shows_none_of_it() -> None:
    plain = make_results([scored("c1", "commands", 0.0, 1.0), scored("r1", "routing", 1.0, 1.0)])
    for rendered in (
        render_text(plain),
        "\n".join(summary_lines(plain, None, [], [])),
        markdown_summary(plain),
    ):
        assert "task" not in rendered.lower() and "false activation" not in rendered.lower()
    page = render_html(plain, chart="<svg></svg>")
    assert TASK_CSS not in page and 'class="runtime' not in page and "Task success" not in page
    rows = list(csv.DictReader(io.StringIO(results_csv(plain))))
    assert all(row[col] == "" for row in rows for col in TASK_COLUMNS)


def test_terminal_summary_shows_task_success_and_false_activation_per_category(run: RunResults) -> None:
    lines = summary_lines(run, None, [], [])
    assert "task success base -> ft  false activation base -> ft" in lines[0]
    rows = {line.split()[0]: line for line in lines[1:7]}
    assert list(rows) == ["commands", "corrections", "no_tool", "arguments", "follow_up", "global"]
    assert "0.500 -> 1.000" in rows["no_tool"] and "0.500 -> 0.000" in rows["no_tool"]
    assert (
        "0.429 -> 0.857" in rows["global"] and "0.571 -> 0.857" in rows["global"]
    )  # relevance: an abstention routes rightly
    assert any(line.startswith("task success: base 0.429, fine-tuned 0.857 (7 cases)") for line in lines)
    assert any(line.startswith("paired task success diff (fine-tuned - base): +0.429") for line in lines)


def test_csv_has_each_arm_s_task_columns_last(run: RunResults) -> None:
    reader = csv.DictReader(io.StringIO(results_csv(run)))
    assert reader.fieldnames is not None and reader.fieldnames[-len(TASK_COLUMNS) :] == list(TASK_COLUMNS)
    rows = {row["id"]: row for row in reader}
    mute = rows["cmd_volume_mute"]
    assert (mute["task_success_base"], mute["task_success_finetuned"]) == ("0.0", "1.0")
    assert (mute["tool_names_ok_base"], mute["abstained_base"]) == ("False", "")  # no call: the names are wrong
    merci = rows["nt_merci_jarvis"]
    assert (merci["abstained_base"], merci["abstained_finetuned"]) == ("False", "True")
    assert rows["fu_encore_volume"]["arguments_ok_finetuned"] == "True"


def test_markdown_summary_and_junit_properties(run: RunResults) -> None:
    md = markdown_summary(run)
    assert "**Task success** 0.429 → 0.857 (+0.429) over 7 cases; **false activation** 0.500 → 0.000" in md
    assert "| task success base | task success fine-tuned | false activation base |" in md
    assert "| no\\_tool | 2 | 0.500 | 1.000 | +0.500 | 0.500 | 1.000 | 0.500 | 0.000 |" in md
    merci = next(c for c in run.pairs() if c.id == "nt_merci_jarvis")
    props = dict(case_properties(merci))
    assert props["task_success_base"] == 0.0 and props["false_activation_base"] is True
    assert props["false_activation_finetuned"] is False


def test_html_shows_task_success_what_ran_the_state_and_the_history(run: RunResults) -> None:
    page = render_html(run, chart="<svg></svg>")
    assert TASK_CSS in page
    assert "Task success (base → fine-tuned)" in page and "0.429 → 0.857" in page
    assert "False activation (base → fine-tuned)" in page
    assert "task success base → ft</th>" in page and "false activation base → ft</th>" in page
    follow_up = page[page.index('data-case-id="fu_encore_volume"') :]
    follow_up = follow_up[: follow_up.index("</article>")]
    assert 'data-task-success="1"' in follow_up
    assert '<ol class="history searchable"' in follow_up and "monte le son" in follow_up
    assert '<code class="call ok">volume_up(step=10)</code> ok: Volume à 60 %.' in follow_up
    assert "<code>volume: 50 -&gt; 40</code>" in follow_up
    assert "volume: expected between 51 and inf, got 40" in follow_up
    assert '<span class="badge task-fail">task failed</span>' in follow_up
    merci = page[page.index('data-case-id="nt_merci_jarvis"') :]
    assert '<span class="badge false-activation">false activation</span>' in merci[: merci.index("</article>")]


def test_html_escapes_what_the_runtime_reports() -> None:
    run = task_run({"nt_salut": ("Bonjour !", "Bonjour !")}, paired=False)
    hostile = ExecutedCall(
        name="<img src=x>",
        arguments='{"q": "<script>alert(1)</script>"}',
        ok=False,
        result="<b>boom</b>",
        error_kind="unknown_tool",
    )
    case = run.results[0]
    arms = {**case.arms, "lora": replace(case.arms["lora"], executed=(hostile,), state_diff=("<i>x</i>",))}
    page = render_html(replace(run, results=(replace(case, arms=arms),)), chart="<svg></svg>")
    assert "<script>alert" not in page and "<b>boom" not in page and "<i>x" not in page and "<img src=x>" not in page
    assert "&lt;img src=x&gt;(q=&quot;&lt;script&gt;alert(1)&lt;/script&gt;&quot;)" in page


def test_leaderboard_shows_average_task_success(run: RunResults) -> None:
    from evals.stats import leaderboard

    two = replace(
        run,
        results=tuple(
            replace(r, arms={**r.arms, "other": r.arms["base"]}, similarity={**r.similarity, "other": 1.0})
            for r in run.results
        ),
        metadata=replace(run.metadata, adapters={"lora": "lora", "other": "other"}),
    )
    from evals.scoring import summarize

    two = replace(two, statistics=summarize(two.results))
    board = leaderboard(two, resamples=200, metric="task_success")
    lines = leaderboard_lines(board, primary="lora")
    assert lines[0].split()[:5] == ["rank", "adapter", "relevance", "task", "success"]
    assert "vs base, task success (95% CI)" in lines[0]
    assert "0.857" in lines[1] and lines[1].split()[1] == "lora"
    assert "ranked by mean fine-tuned task success" in render_text(replace(two, leaderboard=board))
    assert leaderboard_csv(board).splitlines()[0].endswith(",avg_task_success,metric")
    assert "task success</th>" in render_html(replace(two, leaderboard=board), chart="<svg></svg>")


def test_compare_shows_task_success_deltas_when_both_runs_have_them(run: RunResults) -> None:
    worse = dict(TASK_ANSWERS, cmd_volume_mute=("Je coupe le son.", "Je coupe le son."))
    other = task_run(worse, paired=False)
    c = compare_runs(run, other)
    assert c.rows[-1].task_difference == pytest.approx(-1 / 7)
    report = render_comparison(c)
    assert "task A  task B  task diff" in report
    assert "fine-tuned task success 1 -> 0" in report
    assert "task success B</th>" in render_comparison_html(run, other)
    plain = make_results([scored("cmd_volume_mute", "commands", 0.0, 1.0)])
    assert "task" not in render_comparison(compare_runs(plain, run))
