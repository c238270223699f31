"""The openai backend against a real server: ``transformers serve`` on loopback, the tiny Llama and its merged LoRA.

One server for the session (started on a free port, stopped at teardown even when a test fails).
Faults are injected by a small forwarding proxy in front of it: bare 500s, slow answers, a refused
field. The pytester runs use the mini suite (3 cases) and 8 new tokens.
"""

from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from evals.backends import BASE_ARM, Arm, Prompt
from evals.backends.openai import OpenAIBackend, _adapter_of_listed_base, _tool_call_text
from evals.backends.served import ServedAdapter, parse_served_adapter
from evals.errors import JarvisError
from evals.records import GenerationSettings
from evals.suite import load_suite
from tests.servers import HOST, ServeHandle, free_port, merge_lora, prompt_logprobs_server, transformers_serve
from tests.test_gate_e2e import MINI_SUITE, PROMPTS, SYSTEM
from tests.test_plugin import TEST_FILE

MAX_NEW_TOKENS = 8

# -- the server and a proxy in front of it --------------------------------------------------------


@pytest.fixture(scope="session")
def merged_dir(tiny_model_dir: Path, tiny_adapter_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny Llama with its LoRA merged in: what a server without LoRA support serves as the fine-tuned arm."""
    return merge_lora(tiny_model_dir, tiny_adapter_dir, tmp_path_factory.mktemp("tiny-merged"))


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory, merged_dir: Path) -> Iterator[ServeHandle]:
    """``transformers serve`` on a free loopback port; it loads each folder when the backend names it."""
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with transformers_serve(log_path=log) as handle:
        yield handle


@dataclass
class Proxy:
    """A forwarding proxy on loopback that records requests and injects faults in front of ``upstream``.

    ``fail_first`` chat requests get transformers serve's bare 500; so does every request for the
    prompt ``fail_prompt``; chat requests wait ``delay`` seconds; ``refuse_template_kwargs`` answers
    a request carrying ``chat_template_kwargs`` with a 422, as a strict server does.
    """

    upstream: str
    url: str = ""  # the proxy's API root, set once it listens
    fail_first: int = 0
    fail_prompt: str | None = None
    delay: float = 0.0
    refuse_template_kwargs: bool = False
    chats: list[dict] = field(default_factory=list)
    probes: list[dict] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, method: str, path: str, body: bytes, auth: str) -> tuple[int, str, bytes]:
        with self.lock:
            self.authorizations.append(auth)
            chat = json.loads(body) if path.endswith("/chat/completions") else None
            if chat is not None and "prompt_logprobs" in chat:  # the routing probe's, kept apart from answers
                self.probes.append(chat)
                chat = None
            elif chat is not None:
                self.chats.append(chat)
                failing = len(self.chats) <= self.fail_first
        if chat is not None:
            time.sleep(self.delay)
            if failing or chat["messages"][-1]["content"] == self.fail_prompt:
                return 500, "text/plain", b"Internal Server Error"
            if self.refuse_template_kwargs and "chat_template_kwargs" in chat:
                return (
                    422,
                    "application/json",
                    b'{"detail":"Unexpected fields in the request: {\'chat_template_kwargs\'}"}',
                )
        request = urllib.request.Request(self.upstream + path, data=body if method == "POST" else None, method=method)
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return response.status, response.headers.get("Content-Type", ""), response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read()


@pytest.fixture
def proxy(server: ServeHandle) -> Iterator[Proxy]:
    state = Proxy(server.base_url)

    class Handler(BaseHTTPRequestHandler):
        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, kind, payload = state.handle(self.command, self.path, body, self.headers.get("Authorization", ""))
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _forward

        def log_message(self, *args: object) -> None:  # quiet
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: object, client_address: object) -> None:
            pass  # a client that gave up (the timeout test) is not the proxy's error

    httpd = Server((HOST, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://{HOST}:{httpd.server_address[1]}/v1"
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


# -- helpers ---------------------------------------------------------------------------------------


@pytest.fixture
def bench(pytester: pytest.Pytester, tiny_model_dir: Path, merged_dir: Path):
    """Run the benchmark on the mini suite in a fresh pytester folder; served options for ``url``."""
    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")

    def run(*args: str, url: str | None = None, base: Path | str = tiny_model_dir) -> pytest.RunResult:
        served = []
        if url is not None:
            served = ["--jarvis-backend=openai", f"--jarvis-base-url={url}", f"--jarvis-served-base={base}",
                      f"--jarvis-served-adapter=tuned={merged_dir}"]  # fmt: skip
        return pytester.runpytest(
            "-m", "jarvis", "--jarvis-suite=mini.yaml", f"--jarvis-max-new-tokens={MAX_NEW_TOKENS}",
            "--jarvis-assert=none", "-p", "no:cacheprovider", *served, *args,
        )  # fmt: skip

    return run


def results(pytester: pytest.Pytester, folder: str = "reports") -> dict:
    return json.loads((pytester.path / folder / "benchmark_results.json").read_text())


def answers(data: dict) -> list[tuple[str, str]]:
    primary = data["metadata"]["primary"]
    return [(c["arms"]["base"]["answer"], c["arms"][primary]["answer"]) for c in data["results"]]


@pytest.fixture(scope="session")
def direct(server: ServeHandle, tiny_model_dir: Path, merged_dir: Path) -> list[tuple[str, str]]:
    """The mini suite's answers asked straight from the server, without the plugin or a proxy."""
    tuned = Arm("tuned", str(merged_dir))
    backend = OpenAIBackend(server.api_base, str(tiny_model_dir), arms=(Arm(BASE_ARM), tuned))
    prompts = [Prompt(SYSTEM, p) for p in PROMPTS]
    out = backend.generate({Arm(BASE_ARM): prompts, tuned: prompts}, GenerationSettings(MAX_NEW_TOKENS))
    return list(zip([a.text for a in out[Arm(BASE_ARM)]], [a.text for a in out[tuned]], strict=True))


def one_error_line(result: pytest.RunResult, start: str) -> str:
    """Return the only output line starting with ``start``; there is no traceback."""
    lines = result.outlines + result.errlines
    assert not any("Traceback" in line for line in lines), "\n".join(lines)
    found = [line for line in lines if line.startswith(start)]
    assert len(found) == 1, "\n".join(lines)
    return found[0]


# -- end to end ------------------------------------------------------------------------------------


def test_a_served_run_writes_the_reports_and_answers_of_the_in_process_run(
    bench, pytester: pytest.Pytester, server: ServeHandle, tiny_model_dir: Path, tiny_adapter_dir: Path,
    merged_dir: Path, direct: list[tuple[str, str]],
) -> None:  # fmt: skip
    local = bench(f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter=tuned={tiny_adapter_dir}",
                  "--jarvis-quant=none", "--jarvis-no-cache", "--jarvis-reports=hf")  # fmt: skip
    assert local.ret == 0, local.stdout.str()
    served = bench("--jarvis-no-cache", "--jarvis-reports=served", url=server.api_base)
    assert served.ret == 0, served.stdout.str()
    served.assert_outcomes(passed=3)
    assert sorted(p.name for p in (pytester.path / "served").iterdir()) == sorted(
        p.name for p in (pytester.path / "hf").iterdir()
    )
    hf, srv = results(pytester, "hf"), results(pytester, "served")
    # Same weights at full precision, same chat template, greedy: the same answers, token for token.
    assert answers(srv) == answers(hf) == direct
    assert answers(srv) != [(b, b) for b, _ in answers(srv)], "the arms differ: the merged LoRA is served"
    meta = srv["metadata"]
    assert (meta["model"], meta["adapter"], meta["quantization"]) == (str(tiny_model_dir), str(merged_dir), "server")
    assert meta["device"] == f"server {server.api_base}"
    assert meta["generation"]["template"] == "chat_template (server)"
    assert meta["n_generate_calls"] == 6 and meta["model_fingerprint"].startswith("server:")


def test_served_adapters_from_the_ini_file_give_one_test_per_case_and_adapter_and_a_leaderboard(
    bench, pytester: pytest.Pytester, server: ServeHandle, tiny_model_dir: Path, merged_dir: Path
) -> None:
    pytester.makeini(
        f"[pytest]\njarvis_backend = openai\njarvis_base_url = {server.api_base}\n"
        f"jarvis_served_base = {tiny_model_dir}\njarvis_served_adapter =\n    {merged_dir}\n    same={tiny_model_dir}\n"
        "jarvis_concurrency = 2\n"
    )
    result = bench("--jarvis-no-cache", "-v")
    assert result.ret == 0, result.stdout.str()
    result.assert_outcomes(passed=6)
    label = merged_dir.name  # no LABEL=: the arm is named after the served folder
    result.stdout.fnmatch_lines([f"*test_jarvis_case?cmd_firefox-{label}? PASSED*", "*leaderboard (2 adapters*"])
    data = results(pytester)
    assert set(data["metadata"]["adapters"]) == {label, "same"} and data["metadata"]["adapter"] == str(merged_dir)
    same = [c["arms"] for c in data["results"]]
    assert all(c["same"]["answer"] == c["base"]["answer"] for c in same), "the base served as an adapter"


def test_native_tools_travel_as_the_requests_tools_and_the_answers_match_the_in_process_run(
    bench, pytester: pytest.Pytester, proxy: Proxy, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    local = bench(f"--jarvis-model={tiny_model_dir}", f"--jarvis-adapter=tuned={tiny_adapter_dir}", "--jarvis-quant=none",
                  "--jarvis-no-cache", "--jarvis-reports=hf", "--jarvis-prompt-format=native-tools")  # fmt: skip
    assert local.ret == 0, local.stdout.str()
    served = bench("--jarvis-no-cache", "--jarvis-reports=served", "--jarvis-prompt-format=native-tools", url=proxy.url)
    assert served.ret == 0, served.stdout.str()
    schemas = load_suite(pytester.path / "mini.yaml").function_schemas()
    assert len(proxy.chats) == 6
    for chat in proxy.chats:  # the schemas in the request, in the suite's order; the system turn holds no tool list
        assert chat["tools"] == schemas and chat["tools"][0]["function"]["name"] == "open_app"
        assert chat["messages"][0] == {"role": "system", "content": SYSTEM}
    srv = results(pytester, "served")
    assert srv["metadata"]["generation"]["prompt_format"] == "native-tools"
    # The server renders the tools with the same template the in-process run used: the same answers.
    assert answers(srv) == answers(results(pytester, "hf"))


def test_sampled_decoding_sends_one_request_per_sample_with_its_own_seed(
    bench, pytester: pytest.Pytester, proxy: Proxy
) -> None:
    served = bench("--jarvis-no-cache", "--jarvis-decoding=sampled", "--jarvis-samples=2", "--jarvis-temperature=0.7",
                   url=proxy.url)  # fmt: skip
    assert served.ret == 0, served.stdout.str()
    assert len(proxy.chats) == 3 * 2 * 2  # cases x samples x arms
    seeds: dict[tuple[str, str], set[int]] = {}
    for chat in proxy.chats:
        assert chat["temperature"] == 0.7 and "top_k" not in chat and "top_p" not in chat  # unset: the server's
        seeds.setdefault((chat["model"], chat["messages"][-1]["content"]), set()).add(chat["seed"])
    assert all(len(s) == 2 for s in seeds.values())  # two samples, two seeds
    by_prompt: dict[str, list[set[int]]] = {}
    for (_, prompt), s in seeds.items():
        by_prompt.setdefault(prompt, []).append(s)
    assert all(a == b for a, b in by_prompt.values())  # both arms draw sample i from the same seed
    data = results(pytester)
    assert data["metadata"]["generation"]["decoding"] == "sampled"
    assert all(len(c["arms"]["base"]["samples"]) == 2 for c in data["results"])


def test_the_shipped_example_of_own_tests_runs_through_a_served_model(
    bench, pytester: pytest.Pytester, server: ServeHandle
) -> None:
    """issue 18 with the openai backend: jarvis_base / jarvis_finetuned answer through the server."""
    example = Path(__file__).resolve().parent.parent / "examples" / "test_my_jarvis_checks.py"
    pytester.makepyfile(test_my_jarvis_checks=example.read_text(encoding="utf-8"))
    result = bench("--jarvis-no-cache", url=server.api_base)
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 3 + 3, result.stdout.str()  # suite + example
    assert "error" not in outcomes
    checks = results(pytester)["custom_checks"]
    assert sorted(c["name"].split("::")[-1].split("[")[0] for c in checks) == sorted(
        line[4:].split("(")[0]
        for line in example.read_text(encoding="utf-8").splitlines()
        if line.startswith("def test_")
    )


def test_a_server_that_is_down_is_one_line_before_any_test(bench) -> None:
    url = f"http://{HOST}:{free_port()}/v1"  # nothing listens there
    result = bench(url=url)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    line = one_error_line(result, "ERROR:")
    assert line.startswith(f"ERROR: no OpenAI-compatible server answers at {url}: start it or fix --jarvis-base-url")


def test_a_model_the_server_does_not_serve_is_one_line_listing_what_it_offers(
    bench, server: ServeHandle, tiny_adapter_dir: Path, direct: list
) -> None:
    unknown = bench(url=server.api_base, base="no-such-model")
    assert unknown.ret == pytest.ExitCode.USAGE_ERROR
    line = one_error_line(unknown, "ERROR:")
    assert f"{server.api_base} does not serve 'no-such-model' (--jarvis-served-base): its /v1/models offers " in line
    assert "tiny-merged" in line  # the folders loaded so far
    # A local folder transformers serve cannot load: its reason, before any test.
    adapter_only = bench(url=server.api_base, base=tiny_adapter_dir)
    assert adapter_only.ret == pytest.ExitCode.USAGE_ERROR
    line = one_error_line(adapter_only, "ERROR:")
    assert f"cannot load '{tiny_adapter_dir}' (--jarvis-served-base): " in line
    assert line.endswith("(a bare PEFT adapter folder must be merged first)")


def test_bare_500s_are_retried_and_the_run_gets_the_same_answers(
    bench, pytester: pytest.Pytester, proxy: Proxy, direct: list[tuple[str, str]]
) -> None:
    proxy.fail_first = 3
    result = bench("--jarvis-no-cache", url=proxy.url)
    assert result.ret == 0, result.stdout.str()
    assert answers(results(pytester)) == direct
    assert len(proxy.chats) == 6 + 3


def test_a_server_without_prompt_logprobs_is_asked_once_and_margins_are_skipped_in_one_line(
    bench, pytester: pytest.Pytester, proxy: Proxy, direct: list
) -> None:
    """transformers serve refuses the probe's fields: one probe request, one line, the verdict intact."""
    result = bench("--jarvis-no-cache", url=proxy.url)
    assert result.ret == 0, result.stdout.str()
    assert answers(results(pytester)) == direct
    assert len(proxy.probes) == 1 and proxy.probes[0]["continue_final_message"] is True
    line = one_error_line(result, "[jarvis] routing margins skipped:")
    assert f"{proxy.url} returns no prompt log-probabilities" in line
    assert not any("drift" in x for x in result.outlines + result.errlines if x.startswith("[jarvis]"))
    assert all(c["arms"]["base"].get("probe") is None for c in results(pytester)["results"])


def test_margins_through_a_server_with_prompt_logprobs_agree_with_the_in_process_probe(
    tiny_model_dir: Path, tiny_adapter_dir: Path, merged_dir: Path
) -> None:
    """vLLM's prompt_logprobs (a stand-in: vLLM needs a GPU) give the in-process probe's numbers, case by case."""
    from evals.backends.hf import HFBackend

    suite = load_suite(Path(__file__).resolve().parents[1] / "evals" / "suites" / "jarvis_full.yaml")
    # A command, a multi-tool case, a no-tool case and a follow-up with history.
    cases = [c for c in suite.cases if c.id in {"cmd_open_chrome", "route_multi_volume_music"}]
    cases += [next(c for c in suite.cases if c.expects_nothing), next(c for c in suite.cases if c.history)]
    local = HFBackend(str(tiny_model_dir), "none", False, [Arm(BASE_ARM), Arm("tuned", str(tiny_adapter_dir))])
    with prompt_logprobs_server([tiny_model_dir, merged_dir]) as url:
        served = OpenAIBackend(url, str(tiny_model_dir), arms=(Arm(BASE_ARM), Arm("tuned", str(merged_dir))))
        pairs = ((Arm(BASE_ARM), Arm(BASE_ARM)), (Arm("tuned", str(tiny_adapter_dir)), Arm("tuned", str(merged_dir))))
        margins = []
        for local_arm, served_arm in pairs:
            mine = local.probe(local_arm, cases, suite, "system-text")
            theirs = served.probe(served_arm, cases, suite, "system-text")
            for a, b in zip(mine, theirs, strict=True):
                assert (b.case_id, b.arm, b.predicted, b.rank) == (a.case_id, a.arm, a.predicted, a.rank)
                assert list(b.logprobs) == list(a.logprobs)  # every tool (and "no call" where nothing should run)
                assert list(b.logprobs.values()) == pytest.approx(list(a.logprobs.values()), abs=1e-3)
                assert b.routing_margin == pytest.approx(a.routing_margin, abs=1e-3)
                assert b.no_call_logprob == pytest.approx(a.no_call_logprob, abs=1e-3)
            margins.append([b.routing_margin for b in theirs])
        assert margins[0] != pytest.approx(margins[1], abs=1e-3)  # the merged LoRA moved them: two arms compared
        with pytest.raises(JarvisError, match="system-text prompt format only"):
            served.probe(served_arm, cases, suite, "native-tools")


def test_a_request_that_keeps_failing_stops_the_run_and_what_was_answered_stays_cached(
    bench, pytester: pytest.Pytester, proxy: Proxy, monkeypatch: pytest.MonkeyPatch, direct: list
) -> None:
    secret = "sk-test-0123456789abcdef"
    monkeypatch.setenv("JARVIS_TEST_KEY", secret)
    proxy.fail_prompt = PROMPTS[2]
    cache = f"--jarvis-cache-dir={pytester.path / 'cache'}"
    failed = bench(cache, "--jarvis-api-key-env=JARVIS_TEST_KEY", url=proxy.url)
    assert failed.ret == pytest.ExitCode.TESTS_FAILED
    line = one_error_line(failed, "case ")
    assert line.startswith(f"case '{PROMPTS[2]}': {proxy.url} (model ")
    assert line.endswith("failed: HTTP 500 Internal Server Error with no reason (transformers serve answers so when "
                         "generating raises): the reason is in the server's log, 4 attempts")  # fmt: skip
    assert not (pytester.path / "reports" / "benchmark_results.json").exists(), "nothing half-written"
    assert set(proxy.authorizations) == {f"Bearer {secret}"}, "the key is sent with every request"

    proxy.fail_prompt, proxy.chats = None, []
    again = bench(cache, "--jarvis-api-key-env=JARVIS_TEST_KEY", url=proxy.url)
    assert again.ret == 0, again.stdout.str()
    # The base arm's two answers received before the failure came from the cache, once asked again
    # as the probe that the served model did not change (docs/serving.md).
    assert sorted(c["messages"][-1]["content"] for c in proxy.chats) == sorted([*PROMPTS[:2], PROMPTS[2], *PROMPTS])
    assert answers(results(pytester)) == direct

    proxy.chats = []
    cached = bench(cache, "--jarvis-api-key-env=JARVIS_TEST_KEY", url=proxy.url)
    # Served answers come from the cache once 2 of each arm's are asked again and match (docs/serving.md).
    assert cached.ret == 0 and len(proxy.chats) == 2 * 2
    assert results(pytester)["metadata"]["n_cached_answers"] == 6
    written = [p for p in pytester.path.rglob("*") if p.is_file()]
    assert written and not [p for p in written if secret.encode() in p.read_bytes()], "the key is written nowhere"


def test_a_request_that_times_out_stops_the_run_with_one_line(bench, pytester: pytest.Pytester, proxy: Proxy) -> None:
    proxy.delay = 3.0
    start = time.perf_counter()
    result = bench("--jarvis-no-cache", "--jarvis-request-timeout=0.5", url=proxy.url)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    line = one_error_line(result, "case ")
    assert line.endswith("failed: no answer within 0.5 s (--jarvis-request-timeout)")
    assert time.perf_counter() - start < 15


def test_a_server_that_refuses_chat_template_kwargs_is_asked_without_them(
    server: ServeHandle, proxy: Proxy, tiny_model_dir: Path, merged_dir: Path, direct: list[tuple[str, str]]
) -> None:
    proxy.refuse_template_kwargs = True
    tuned = Arm("tuned", str(merged_dir))
    backend = OpenAIBackend(proxy.url, str(tiny_model_dir), arms=(Arm(BASE_ARM), tuned), concurrency=1)
    prompts = [Prompt(SYSTEM, p) for p in PROMPTS]
    out = backend.generate({Arm(BASE_ARM): prompts, tuned: prompts}, GenerationSettings(MAX_NEW_TOKENS))
    assert list(zip([a.text for a in out[Arm(BASE_ARM)]], [a.text for a in out[tuned]], strict=True)) == direct
    sent = ["chat_template_kwargs" in c for c in proxy.chats]
    assert sent == [True, False] + [False] * 5, "refused once, then never sent again"


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--jarvis-backend=openai", "--jarvis-base-url=http://x/v1", "--jarvis-served-base=b",
          "--jarvis-served-adapter=a", "--jarvis-adapter=out/final", "--jarvis-quant=none"],
         "ERROR: --jarvis-quant, --jarvis-adapter: not with --jarvis-backend=openai, where the server decides *"),
        (["--jarvis-backend=openai"],
         "ERROR: --jarvis-backend=openai needs --jarvis-base-url URL (*); --jarvis-served-base NAME (*); "
         "--jarvis-served-adapter [[]LABEL=[]]NAME (*)"),
        (["--jarvis-served-adapter=a", "--jarvis-concurrency=2"],
         "ERROR: --jarvis-served-adapter, --jarvis-concurrency: only with --jarvis-backend=openai"),
        (["--jarvis-backend=openai", "--jarvis-base-url=http://x/v1", "--jarvis-served-base=b",
          "--jarvis-served-adapter=base"], "ERROR: --jarvis-served-adapter: 'base' would be an arm named 'base'*"),
        (["--jarvis-base-url=localhost:8000"], "*'localhost:8000' is not an http(s) URL; e.g. http://127.0.0.1:8000/v1"),
        (["--jarvis-backend=vllm"], "*'vllm' is not a backend; use hf (in process) or openai (a server)"),
    ],
)  # fmt: skip
def test_options_of_the_other_backend_are_one_usage_error(
    pytester: pytest.Pytester, args: list[str], message: str
) -> None:
    result = pytester.runpytest("-p", "no:cacheprovider", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


@pytest.mark.parametrize(
    ("entry", "adapter"),
    [
        ("jarvis", ServedAdapter("jarvis", "jarvis")),
        ("v2=jarvis", ServedAdapter("v2", "jarvis")),
        ("/srv/models/run-7/final", ServedAdapter("run-7", "/srv/models/run-7/final")),
        ("Qwen/Qwen3-8B:jarvis", ServedAdapter("Qwen3-8B-jarvis", "Qwen/Qwen3-8B:jarvis")),
    ],
)
def test_a_served_adapter_is_labelled_like_an_adapter_folder(entry: str, adapter: ServedAdapter) -> None:
    assert parse_served_adapter(entry) == adapter


def test_a_structured_tool_call_is_written_back_as_the_model_wrote_it() -> None:
    call = {"type": "function", "function": {"name": "volume_up", "arguments": '{"step": 2}'}}
    assert _tool_call_text(call) == '<tool_call>\n{"name": "volume_up", "arguments": {"step": 2}}\n</tool_call>'


def test_sglang_base_colon_adapter_names_are_found_through_their_base() -> None:
    listed = {
        "Qwen/Qwen3-8B": {"id": "Qwen/Qwen3-8B", "owned_by": "sglang"},
        "jarvis": {"id": "jarvis", "root": "/lora/jarvis", "parent": "Qwen/Qwen3-8B"},
    }
    assert _adapter_of_listed_base("Qwen/Qwen3-8B:jarvis", listed) == {
        "id": "Qwen/Qwen3-8B:jarvis",
        "root": "/lora/jarvis",
        "parent": "Qwen/Qwen3-8B",
    }
    assert _adapter_of_listed_base("other:jarvis", listed) is None


def test_the_identity_holds_the_stable_fields_of_the_served_models_and_never_the_key(
    server: ServeHandle, tiny_model_dir: Path, merged_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JARVIS_TEST_KEY", "sk-secret")
    tuned = Arm("tuned", str(merged_dir))
    backend = OpenAIBackend(
        server.api_base, str(tiny_model_dir), arms=(Arm(BASE_ARM), tuned), api_key_env="JARVIS_TEST_KEY"
    )
    identity = backend.identity()
    assert identity["model"] == "server:" + json.dumps(
        {"id": str(tiny_model_dir), "owned_by": "local"}, separators=(",", ":")
    )
    assert identity["base_url"] == server.api_base and identity["quantization"] == "server"
    assert backend.arm_identity(tuned) == "server:" + json.dumps(
        {"id": str(merged_dir), "owned_by": "local"}, separators=(",", ":")
    )
    assert "sk-secret" not in json.dumps(identity) + backend.arm_identity(tuned)
    assert backend.device() == "not loaded" and backend.template() == "chat_template (server)"


def test_an_error_is_a_jarvis_error_not_a_traceback() -> None:
    backend = OpenAIBackend(f"http://{HOST}:{free_port()}/v1", "m", arms=(Arm(BASE_ARM),))
    with pytest.raises(JarvisError, match="no OpenAI-compatible server answers at"):
        backend.validate()


def test_the_merge_hint_comes_from_the_folder_not_from_the_servers_wording(tmp_path: Path) -> None:
    """transformers serve 5.24 and 5.25 word an adapter-only folder's load error differently (issue 22)."""
    from evals.backends.openai import _adapter_only_folder

    (tmp_path / "adapter_config.json").write_text("{}", encoding="utf-8")
    assert _adapter_only_folder(str(tmp_path))
    (tmp_path / "config.json").write_text("{}", encoding="utf-8")  # a merged model folder
    assert not _adapter_only_folder(str(tmp_path))
    assert not _adapter_only_folder("Qwen/Qwen3-30B-A3B") and not _adapter_only_folder("x" * 5000)
