"""The HTML report and the CI outputs: the page's content and safety, then the page in a real browser.

The browser tests open the written file in Debian's headless Chromium driven by Selenium. They
skip when ``/usr/bin/chromium`` is absent, except in CI (``CI`` set), where they fail instead:
``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from evals.atomic import atomic_write_json
from evals.cli import main
from evals.records import ArmScore, Case, RunResults, ScoredCase
from evals.reports import HTML_NAME, JSON_NAME, load_results, results_json, write_reports
from evals.reports.ci import case_properties, markdown_summary
from evals.reports.html import render_comparison_html, render_html, word_diff
from tests import factories
from tests.test_reports import ROUND1, SECTIONS, make_case, make_results, sample_cases

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
MAX_BYTES = 1_500_000
PLANTED_SCRIPT = "<script>window.__pwned = 1</script>"
PLANTED_IMG = '<img src=x onerror="window.__pwned = 2">'
PLANTED_ANSWER = f"volume_up {PLANTED_SCRIPT} {PLANTED_IMG} see https://example.invalid/x"
REGRESSED = {"fix_03", "route_05"}  # planted by tests.test_reports.PATTERNS


def v2_arm(answer: str, relevance: float, tools: tuple[str, ...], **flags: Any) -> ArmScore:
    """An answer scored by metric version 2 (valid_call and the flags set)."""
    return ArmScore(
        answer=answer,
        keyword_hits=1,
        keyword_total=2,
        relevance=relevance,
        tools_named=tools,
        valid_call=flags.pop("valid_call", 0.0),
        **flags,
    )


def planted_cases() -> list[ScoredCase]:
    """The 30 sample cases plus one whose fine-tuned answer carries a script, an onerror and a URL."""
    case = Case(
        id="fix_pwned",
        category="corrections",
        prompt="monte le <b>son</b> | vite",
        expected_tools=("volume_up",),
        keywords=("volume",),
        intended="monte le son",
    )
    base = v2_arm("je ne peux pas faire ça", 0.0, (), refusal=True)
    tuned = v2_arm(PLANTED_ANSWER, 1.0, ("volume_up",), valid_call=1.0, malformed=True)
    pwned = factories.scored(case.id, case.category, base, tuned, cosine=0.1, case=case)
    return [*sample_cases(), pwned]


@pytest.fixture(scope="module")
def planted() -> RunResults:
    return make_results(planted_cases(), sections=SECTIONS)


@pytest.fixture(scope="module")
def page(planted: RunResults) -> str:
    """The full page of the planted run, chart included (a few seconds: drawn once for the module)."""
    return render_html(planted)


@pytest.fixture(scope="module")
def page_file(page: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / HTML_NAME
    path.write_text(page, encoding="utf-8")
    return path


class Rows(HTMLParser):
    """Collect the attributes of each case row (``<article data-case-id=...>``) of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "article":
            self.rows.append(dict(attrs))


def case_rows(page: str) -> list[dict[str, str | None]]:
    parser = Rows()
    parser.feed(page)
    return parser.rows


def outside_answers(page: str) -> str:
    """The page without the text of the answers (the only place a URL may appear, escaped)."""
    return re.sub(r'<div class="answer searchable">.*?</div>', "", page, flags=re.DOTALL)


# -- the page's content -------------------------------------------------------------------------


def test_the_page_is_self_contained_and_small(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>")
    assert "<link" not in page and "<script src" not in page and "<img" not in outside_answers(page)
    assert page.count("<script>") == 1 and "<svg" in page  # the page's own script, the chart inline
    rest = outside_answers(page)
    assert "http://" not in rest and "https://" not in rest
    assert "default-src 'none'" in page  # the browser may fetch nothing
    assert len(page.encode("utf-8")) <= MAX_BYTES


def test_every_case_is_a_row_with_its_category_and_status(planted: RunResults, page: str) -> None:
    rows = case_rows(page)
    assert [r["data-case-id"] for r in rows] == [c.id for c in planted.pairs()]
    for row, case in zip(rows, planted.pairs(), strict=True):
        status = "regression" if case.regression else "improvement" if case.relevance_delta > 0 else "unchanged"
        assert (row["data-category"], row["data-status"]) == (case.category, status), case.id
        assert row["data-changed"] == str(int(case.base.answer != case.finetuned.answer))
    assert {r["data-case-id"] for r in rows if r["data-status"] == "regression"} == REGRESSED


def test_header_names_the_verdict_the_interval_the_gate_and_the_run(planted: RunResults, page: str) -> None:
    s = planted.summary().overall
    for text in (
        ">EFFECTIVE<",
        f"{s.base.relevance:.3f} → {s.finetuned.relevance:.3f}",
        "+0.400 [+0.200, +0.600]",  # the paired difference and its 95 % CI
        ">FAILED<",
        "global relevance dropped from 0.800 to 0.700 (tolerance 0.020)",
        "Qwen/Qwen3-0.6B",
        "adapters/jarvis-lora",
        "4bit-nf4",
        "cuda:0 (NVIDIA H100)",
        "jarvis version 1.0",
        "max_new_tokens=48, batch_size=8",
        "not recorded (version 1)",
        '<th scope="row">corrections</th>',
        '<th scope="row">global</th>',
    ):
        assert text in page, text


def test_valid_call_shows_when_the_run_was_scored_by_metric_version_2() -> None:
    cases = [
        factories.scored(
            f"c{i}",
            "routing",
            v2_arm("blabla", 0.0, (), recited=True, echo=True, loop=True),
            v2_arm("weather()", 1.0, ("weather",), valid_call=1.0),
            cosine=0.2,
            case=Case(id=f"c{i}", category="routing", prompt="météo", expected_tools=("weather",), keywords=()),
        )
        for i in range(2)
    ]
    page = render_html(factories.make_results(cases, metric_version="2"), chart="")
    assert "Valid call (base → fine-tuned)" in page and "valid call base → ft" in page
    for badge in ("echo", "recited", "loop", "valid"):
        assert f'class="badge {badge}"' in page, badge
    assert "not recorded (version 1)" not in page and "metric version 1" not in page


def test_answers_are_escaped_and_diffed_word_by_word(page: str) -> None:
    assert PLANTED_SCRIPT not in page and "<img src=x" not in page
    assert "&lt;script&gt;window.__pwned = 1&lt;/script&gt;" in page
    assert "onerror=&quot;window.__pwned = 2&quot;" in page
    assert "monte le &lt;b&gt;son&lt;/b&gt; | vite" in page  # prompts are escaped too
    assert "<ins>open_app fine-tuned</ins> answer to cmd_03" in page  # words the fine-tune added
    assert "<del>base</del> answer to cmd_03" in page  # words it dropped


def test_word_diff() -> None:
    assert word_diff("open_app chrome  now", "open_app firefox  now") == (
        "open_app <del>chrome</del>  now",
        "open_app <ins>firefox</ins>  now",
    )
    assert word_diff("same", "same") == ("same", "same")
    assert word_diff("", "<x>") == ('<em class="muted">(empty answer)</em>', "<ins>&lt;x&gt;</ins>")


def test_a_round1_results_file_renders(tmp_path: Path) -> None:
    """A run saved before metric version 2 and the typed sections still gets its page."""
    for name in ("smollm2", "mini"):
        results = load_results(ROUND1 / f"{name}_results.json")
        page = render_html(results)
        assert len(case_rows(page)) == len(results.pairs())
        assert len(page.encode("utf-8")) <= MAX_BYTES, name


def test_write_reports_and_the_report_command_write_the_page(
    planted: RunResults, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = {p.name for p in write_reports(planted, tmp_path / "run")}
    assert HTML_NAME in written
    assert main(["report", str(tmp_path / "run" / JSON_NAME), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / HTML_NAME).read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"wrote {tmp_path / 'again' / HTML_NAME}" in capsys.readouterr().out


# -- the comparison page ------------------------------------------------------------------------


def comparison_runs() -> tuple[RunResults, RunResults]:
    """Run A and run B: cmd_02 drops most (1.0 -> 0.5, not flipped), cmd_08 flips (0.5 -> 0.4)."""
    a = make_results()
    changes = {"cmd_02": (0.0, 0.5), "cmd_08": (0.0, 0.4)}
    cases = [make_case(c.id, c.category, *changes[c.id]) if c.id in changes else c for c in a.pairs()]
    return a, make_results(cases)


def test_comparison_page_lists_flipped_cases_first(tmp_path: Path) -> None:
    a, b = comparison_runs()
    page = render_comparison_html(a, b, "yesterday", "today")
    rows = case_rows(page)
    assert [r["data-case-id"] for r in rows] == ["cmd_08", "cmd_02"]  # the text report lists cmd_02 first
    assert [r["data-status"] for r in rows] == ["regression", "regression"]
    assert "fine-tuned yesterday" in page and "fine-tuned today" in page and 'class="badge flipped"' in page
    assert "<link" not in page and "http://" not in page and "https://" not in page


def test_compare_command_writes_the_html_page(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = comparison_runs()
    path_a = atomic_write_json(tmp_path / "a.json", results_json(a))
    path_b = atomic_write_json(tmp_path / "b.json", results_json(b))
    out = tmp_path / "cmp" / "comparison.html"
    assert main(["compare", str(path_a), str(path_b), "--out", str(tmp_path / "c.txt"), "--html", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert [r["data-case-id"] for r in case_rows(page)] == ["cmd_08", "cmd_02"]
    assert str(path_a) in page and str(path_b) in page


# -- CI outputs ---------------------------------------------------------------------------------


def test_markdown_summary(planted: RunResults) -> None:
    md = markdown_summary(planted)
    assert md.startswith("## JARVIS benchmark: EFFECTIVE\n")
    assert "**Quality gate: failed** (tolerance mode, baseline `reports/baseline.json`)" in md
    assert "- global relevance dropped from 0.800 to 0.700 (tolerance 0.020)" in md
    assert "| category | n | relevance base | relevance fine-tuned | gain |" in md
    assert "| **global** | 31 |" in md
    assert "### Regressions (2)" in md and "| `fix_03` | corrections | 1.000 → 0.000 |" in md
    assert "significant at 5 %" in md


def test_markdown_summary_escapes_what_a_run_wrote() -> None:
    case = factories.scored(
        "c1",
        "routing",
        1.0,
        0.0,
        cosine=0.0,
        case=Case(id="c1", category="routing", prompt="a | b <script>", expected_tools=(), keywords=()),
    )
    md = markdown_summary(factories.make_results([case], model="m|`x`"))
    assert "a \\| b &lt;script&gt;" in md and "<script>" not in md
    assert "`m/'x'`" in md
    assert "**Quality gate:** not evaluated." in md


def test_case_properties() -> None:
    v1 = factories.scored("c1", "routing", 1.0, 0.5)
    assert case_properties(v1) == [
        ("category", "routing"),
        ("expected_tools", "volume_up"),
        ("relevance_base", 1.0),
        ("relevance_finetuned", 0.5),
        ("regression", True),
        ("tools_named_base", ""),
        ("tools_named_finetuned", ""),
    ]
    v2 = planted_cases()[-1]
    props = dict(case_properties(v2))
    assert props["valid_call_base"] == 0.0 and props["valid_call_finetuned"] == 1.0
    assert props["tools_named_finetuned"] == "volume_up"


# -- in a real browser --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def driver() -> Iterator[Any]:
    """One headless Chromium for the session, its network off, its console log kept."""
    if not (CHROMIUM.exists() and CHROMEDRIVER.exists()):
        reason = f"{CHROMIUM} or {CHROMEDRIVER} is missing: apt-get install chromium chromium-driver (.ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    if os.environ.get("CI"):
        from selenium import webdriver
    else:
        webdriver = pytest.importorskip(
            "selenium.webdriver", reason="selenium is not installed (pip install -e .[dev])"
        )
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    with tempfile.TemporaryDirectory(prefix="jarvis-chromium-") as profile:
        for arg in (
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            "--window-size=1400,1000",
        ):
            options.add_argument(arg)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
        try:
            yield browser
        finally:
            browser.quit()


def open_page(driver: Any, path: Path, hash_: str = "") -> None:
    """Load a page (a fresh document even when only the hash differs) and check its console is clean."""
    driver.get("about:blank")
    driver.get(path.as_uri() + hash_)
    errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors


def visible_ids(driver: Any) -> list[str]:
    return driver.execute_script(
        "return Array.from(document.querySelectorAll('article.case'))"
        ".filter(function (r) { return r.getClientRects().length > 0; })"
        ".map(function (r) { return r.getAttribute('data-case-id'); });"
    )


def test_browser_shows_every_case_without_console_errors(
    driver: Any, page_file: Path, planted: RunResults, tmp_path: Path
) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, page_file)
    assert visible_ids(driver) == [c.id for c in planted.pairs()]
    assert driver.find_element(By.ID, "f-count").text == "31 of 31 cases"
    driver.save_screenshot(str(tmp_path / "top.png"))
    driver.execute_script("document.getElementById('case-list').scrollIntoView();")
    driver.save_screenshot(str(tmp_path / "cases.png"))
    assert (tmp_path / "top.png").stat().st_size > 10_000 and (tmp_path / "cases.png").stat().st_size > 10_000


def test_browser_regressions_only_shows_exactly_the_regressed_cases(driver: Any, page_file: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, page_file)
    driver.find_element(By.ID, "f-regressions").click()
    assert set(visible_ids(driver)) == REGRESSED
    assert "regressions=1" in driver.execute_script("return window.location.hash")
    driver.find_element(By.ID, "f-reset").click()
    assert len(visible_ids(driver)) == 31


def test_browser_category_filter_changed_only_and_search(driver: Any, page_file: Path, planted: RunResults) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    open_page(driver, page_file)
    Select(driver.find_element(By.ID, "f-category")).select_by_value("routing")
    assert visible_ids(driver) == [c.id for c in planted.pairs() if c.category == "routing"]
    driver.find_element(By.ID, "f-changed").click()
    assert visible_ids(driver) == [
        c.id for c in planted.pairs() if c.category == "routing" and c.base.answer != c.finetuned.answer
    ]
    driver.find_element(By.ID, "f-reset").click()
    driver.find_element(By.ID, "f-q").send_keys("PWNED")  # case-insensitive, over prompt, answers and ids
    assert visible_ids(driver) == ["fix_pwned"]
    driver.find_element(By.ID, "f-q").clear()
    driver.find_element(By.ID, "f-q").send_keys("<b>son</b>")  # the prompt as the reader sees it
    assert visible_ids(driver) == ["fix_pwned"]
    assert "q=" in driver.execute_script("return window.location.hash")


def test_browser_hash_restores_a_view(driver: Any, page_file: Path, planted: RunResults) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, page_file, "#category=corrections&changed=1&q=demande&sort=delta")
    expected = sorted(
        (c for c in planted.pairs() if c.category == "corrections" and c.base.answer != c.finetuned.answer),
        key=lambda c: c.relevance_delta,  # stable: suite order among equal changes, as the page sorts
    )
    expected = [c for c in expected if "demande" in (c.case.prompt + c.base.answer + c.finetuned.answer)]
    assert visible_ids(driver) == [c.id for c in expected]
    assert driver.find_element(By.ID, "f-category").get_attribute("value") == "corrections"
    assert driver.find_element(By.ID, "f-changed").is_selected()
    assert driver.find_element(By.ID, "f-q").get_attribute("value") == "demande"
    assert driver.find_element(By.ID, "f-sort").get_attribute("value") == "delta"
    open_page(driver, page_file, "#regressions=1")
    assert set(visible_ids(driver)) == REGRESSED


def test_browser_never_runs_the_planted_script(driver: Any, page_file: Path) -> None:
    from selenium.webdriver.common.by import By

    open_page(driver, page_file)
    assert driver.execute_script("return typeof window.__pwned") == "undefined"
    row = driver.find_element(By.CSS_SELECTOR, 'article[data-case-id="fix_pwned"]')
    answer = row.find_elements(By.CSS_SELECTOR, ".answer")[1].text
    assert PLANTED_SCRIPT in answer and PLANTED_IMG in answer
    assert not row.find_elements(By.CSS_SELECTOR, "script, img")


def test_browser_task_success_page_shows_what_ran_and_finds_it(driver: Any, tmp_path: Path) -> None:
    """A jarvis-full run: the calls, the state diff and a follow-up's history are shown and searchable."""
    from selenium.webdriver.common.by import By

    run = factories.task_run(factories.TASK_ANSWERS)
    path = tmp_path / "task.html"
    path.write_text(render_html(run), encoding="utf-8")
    open_page(driver, path)
    row = driver.find_element(By.CSS_SELECTOR, 'article[data-case-id="fu_encore_volume"]')
    assert "monte le son" in row.find_element(By.CSS_SELECTOR, ".history").text
    tuned = row.find_elements(By.CSS_SELECTOR, ".runtime")[1].text
    assert "volume_up(step=10) ok: Volume à 60 %." in tuned and "volume: 50 -> 60" in tuned
    color = driver.execute_script(
        "return getComputedStyle(document.querySelector('.call.failed, .call.ok')).backgroundColor"
    )
    assert color not in ("", "rgba(0, 0, 0, 0)")  # the task stylesheet applies
    open_page(driver, path, "#q=volume%3A%2050%20-%3E%2040")  # a state diff line is searchable
    assert visible_ids(driver) == ["fu_encore_volume"]


def test_browser_comparison_page(driver: Any, tmp_path: Path) -> None:
    a, b = comparison_runs()
    path = tmp_path / "comparison.html"
    path.write_text(render_comparison_html(a, b), encoding="utf-8")
    open_page(driver, path, "#sort=delta")
    assert visible_ids(driver) == ["cmd_02", "cmd_08"]  # worst relevance change first when sorted
    open_page(driver, path)
    assert visible_ids(driver) == ["cmd_08", "cmd_02"]
    driver.save_screenshot(str(tmp_path / "comparison.png"))


# -- several adapters ---------------------------------------------------------------------------


def several_adapters() -> RunResults:
    """A run of two adapters on one base: the primary (the sample run) and 'rival', worse on commands."""
    from dataclasses import replace

    from evals.stats import leaderboard
    from tests.factories import make_adapters_run

    primary = make_results()
    rival_cases = tuple(
        make_case(c.id, c.category, c.base.relevance, 0.0 if c.category == "commands" else c.finetuned.relevance)
        for c in primary.pairs()
    )
    run = make_adapters_run(
        {"jarvis-lora": (primary.metadata.adapter, primary.pairs()), "rival": ("adapters/rival", rival_cases)},
        primary="jarvis-lora",
    )
    return replace(run, leaderboard=leaderboard(run, resamples=200))


def test_several_adapters_get_a_leaderboard_and_one_answer_column_each() -> None:
    results = several_adapters()
    page = render_html(results, chart="")
    assert 'id="leaderboard"' in page and "jarvis-lora is significantly better than the runner-up rival" in page
    heading = page.split('<div class="case head" aria-hidden="true">')[1].split("</div></div>")[0]
    assert heading.count("<div>") == 4  # case, base, jarvis-lora (primary), rival
    assert "jarvis-lora (primary)" in heading and "rival" in heading
    row = page.split('data-case-id="cmd_02"')[1].split("</article>")[0]
    assert row.count('class="answer-cell') == 3
    assert row.count("relevance 1.00") == 1 and row.count("relevance 0.00") == 2  # primary right, base and rival not
    assert [r["data-status"] for r in case_rows(page)] == [
        "regression" if c.regression else "improvement" if c.relevance_delta > 0 else "unchanged"
        for c in results.pairs()  # the primary adapter's status
    ]


def checkpoints() -> RunResults:
    """Three checkpoints of one training, named as the Trainer names them, step 90 given last."""
    from dataclasses import replace

    from evals.stats import leaderboard
    from tests.factories import make_adapters_run

    primary = make_results()
    adapters = {}
    for step, keep in ((500, 1.0), (1000, 0.5), (90, 0.0)):
        cases = tuple(
            make_case(
                c.id, c.category, c.base.relevance, c.finetuned.relevance if i < keep * len(primary.pairs()) else 0.0
            )
            for i, c in enumerate(primary.pairs())
        )
        name = f"checkpoint-{step}"
        adapters[name] = (f"output/run/{name}", cases)
    run = make_adapters_run(adapters, primary="checkpoint-500")
    return replace(run, leaderboard=leaderboard(run, resamples=200))


def test_checkpoints_get_relevance_against_the_training_step_in_the_png_and_the_page() -> None:
    from evals.reports.charts import build_leaderboard_figure

    results = checkpoints()
    assert results.leaderboard is not None
    steps = results.leaderboard.training_steps()
    assert steps is not None and [s for s, _ in steps] == [90, 500, 1000]
    relevance = {step: row.avg_relevance for step, row in steps}
    assert relevance[90] < relevance[1000] < relevance[500]  # the curve keeps the step order, not the rank
    figure = build_leaderboard_figure(results)
    assert len(figure.axes) == 2 and figure.axes[0].get_xlabel() == "training step"
    assert list(figure.axes[0].lines[0].get_xdata()) == [90, 500, 1000]
    assert 'aria-label="Relevance by training step"' in render_html(results, chart="")
    # Adapters that are not checkpoints of one training keep the plain leaderboard.
    plain = several_adapters()
    assert plain.leaderboard is not None and plain.leaderboard.training_steps() is None
    assert len(build_leaderboard_figure(plain).axes) == 1
    assert "Relevance by training step" not in render_html(plain, chart="")
