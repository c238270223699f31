"""Answers from an OpenAI-compatible server: vLLM, SGLang, llama.cpp's server, ``transformers serve``.

Every arm is a model the server serves by name: the base (``--jarvis-served-base``) and each
fine-tuned arm (``--jarvis-served-adapter``: a vLLM or SGLang LoRA module, or a merged copy of the
adapter). Each prompt is one chat completion with the suite's system prompt and the request,
greedy (temperature 0, top_p 1, a fixed seed) or, with sampled decoding, one request per sample
with that sample's seed (``_sampling_request``), ``max_tokens`` from the settings and
``chat_template_kwargs={"enable_thinking": false}``; the answer is cleaned like the in-process one.

Up to ``concurrency`` requests are in flight (asyncio, one httpx connection each); arms run one
after the other, because ``transformers serve --continuous-batching`` restarts its batcher
whenever the model changes. Each answer goes to ``on_answers`` as it arrives, so what is done stays
in the cache when a later request fails. 429, 5xx and connection errors are retried with
exponential backoff; a request that still fails, or takes longer than ``request_timeout``, stops
the run with one line naming the case, the server and its message.

A served model's weights cannot be fingerprinted: the identity is what the server says about the
model (its ``/v1/models`` entry), so re-bless the baseline when the server's model changes.

httpx is imported inside functions: importing this module is cheap.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from evals.backends.base import BASE_ARM, Answer, Arm, BackendStats, OnAnswers, Prompt
from evals.backends.prompting import strip_think
from evals.errors import JarvisError
from evals.parsers import redact_url
from evals.progress import progress
from evals.records import GenerationSettings

if TYPE_CHECKING:
    import httpx

    from evals.backends.served_probe import Scored
    from evals.records.probe import ProbeCase
    from evals.records.suite import Case, Suite

TEMPLATE = "chat_template (server)"
SEED = 0
# Greedy for every server: temperature 0 is what turns sampling off on transformers serve (a model
# whose generation_config samples keeps sampling at temperature 1.0); vLLM's and SGLang's extras
# (top_k, min_p, repetition_penalty) are not sent, since strict servers refuse unknown fields (422).
GREEDY = {"temperature": 0, "top_p": 1, "seed": SEED}
ATTEMPTS = 4  # one request and three retries, 0.5, 1 and 2 s apart
FIRST_BACKOFF, MAX_BACKOFF, MAX_RETRY_AFTER = 0.5, 4.0, 30.0
CONNECT_TIMEOUT = 10.0
# The fields of a /v1/models entry that describe the model. Not "created": vLLM, SGLang and
# llama.cpp stamp it with the time of the request, so it would change the cache key on every run;
# not transformers serve's "status" (loaded or not) either.
ENTRY_FIELDS = ("id", "owned_by", "root", "parent", "max_model_len")
MESSAGE_LIMIT = 300


def _messages(prompt: Prompt) -> list[dict[str, str]]:
    """The chat messages; a follow-up's tool results go as user turns (a `tool` message needs a call id)."""
    return [
        {"role": "user", "content": f"Résultat de l'outil : {m['content']}"} if m["role"] == "tool" else m
        for m in prompt.messages()
    ]


class OpenAIBackend:
    """Ask an OpenAI-compatible server for each arm's answers; the arms are models it serves by name."""

    kind = "openai"

    def __init__(
        self,
        base_url: str,
        served_base: str,
        arms: Sequence[Arm],
        concurrency: int = 8,
        request_timeout: float = 300.0,
        api_key_env: str | None = None,
    ) -> None:
        # Requests go to the URL as given (user:password@ and ?token= included); everything that is
        # recorded or printed says ``base_url``, the same URL without them (results are CI artifacts).
        self._api = base_url.rstrip("/")
        self.base_url = redact_url(self._api)
        self.served_base = served_base
        self.arms = tuple(arms)
        self.concurrency = concurrency
        self.request_timeout = request_timeout
        self.api_key_env = api_key_env  # the variable's name; the key is read when a request is sent
        self.stats = BackendStats()
        self._entries: dict[str, dict[str, Any]] | None = None  # served name -> its /v1/models entry
        # Whether the server takes chat_template_kwargs: None until a request says (a 400/422 with
        # it and a success without it mean no; then it is never sent again).
        self._template_kwargs: bool | None = None
        # Why the server cannot be probed (no prompt log-probabilities), once a request has said so.
        self._no_probe = ""

    # -- identity (cheap: one GET /v1/models, nothing loaded here) ---------------------------

    def served_name(self, arm: Arm) -> str:
        """Return the model name the server answers ``arm`` under."""
        return arm.source if arm.source is not None else self.served_base

    def validate(self) -> None:
        """Check that the server answers and serves every arm's model; read their /v1/models entries."""
        if self._entries is not None:
            return
        if self.api_key_env and not os.environ.get(self.api_key_env):
            raise JarvisError(
                f"--jarvis-api-key-env {self.api_key_env}: that variable is not set or is empty; export the "
                "server's API key in it, or leave the option out for a server that needs no key"
            )
        import httpx

        with httpx.Client(headers=self._headers(), timeout=self._timeout()) as client:
            listed = self._list_models(client)
            entries: dict[str, dict[str, Any]] = {}
            for arm in (Arm(BASE_ARM), *self.arms):
                name = self.served_name(arm)
                if name in entries:
                    continue
                entry = listed.get(name) or _adapter_of_listed_base(name, listed)
                if entry is None and Path(name).expanduser().is_dir():
                    entry = self._load_local_folder(client, name, arm)
                if entry is None:
                    option = "--jarvis-served-base" if arm.is_base else f"--jarvis-served-adapter ({arm.name})"
                    offered = ", ".join(sorted(listed)) or "no model"
                    raise JarvisError(
                        f"{self.base_url} does not serve {name!r} ({option}): its /v1/models offers {offered}; "
                        "fix the name or serve the model"
                    )
                entries[name] = entry
        self._entries = entries

    def identity(self) -> Mapping[str, Any]:
        return {
            "backend": self.kind,
            "base_url": self.base_url,
            "model": "server:" + _canonical(self._entry(self.served_base)),
            "quantization": "server",
            "device": "server",
            "request": dict(GREEDY),
        }

    def arm_identity(self, arm: Arm) -> str:
        return "server:" + _canonical(self._entry(self.served_name(arm)))

    def context_window(self) -> tuple[int, str] | None:
        """The smallest ``max_model_len`` the served models' /v1/models entries state (vLLM, SGLang do)."""
        self.validate()
        assert self._entries is not None
        lengths = [
            n
            for e in self._entries.values()
            if isinstance(n := e.get("max_model_len"), int) and not isinstance(n, bool)
        ]
        return (min(lengths), f"max_model_len in {self.base_url}/models") if lengths else None

    def template(self) -> str:
        return TEMPLATE

    def device(self) -> str:
        return f"server {self.base_url}" if self.stats.generate_calls else "not loaded"

    def _entry(self, name: str) -> dict[str, Any]:
        self.validate()
        assert self._entries is not None
        return self._entries[name]

    # -- talking to the server ---------------------------------------------------------------

    def _endpoint(self, path: str) -> str:
        """Return the real URL of ``path`` under the API root (before any query string it carries)."""
        parts = urlsplit(self._api)
        return urlunsplit(parts._replace(path=parts.path.rstrip("/") + path))

    def _headers(self) -> dict[str, str]:
        key = os.environ.get(self.api_key_env, "") if self.api_key_env else ""
        return {"Authorization": f"Bearer {key}"} if key else {}

    def _timeout(self) -> httpx.Timeout:
        import httpx

        return httpx.Timeout(self.request_timeout, connect=min(self.request_timeout, CONNECT_TIMEOUT))

    def _list_models(self, client: httpx.Client) -> dict[str, dict[str, Any]]:
        """GET /v1/models (retrying 429 and 5xx); return each served model's stable fields by id."""
        import httpx

        url = f"{self.base_url}/models"
        for attempt in range(ATTEMPTS):
            try:
                response = client.get(self._endpoint("/models"))
            except httpx.TransportError as exc:  # refused, reset, timed out: nothing usable answers there
                raise JarvisError(
                    f"no OpenAI-compatible server answers at {self.base_url}: start it or fix --jarvis-base-url "
                    f"({_one_line(str(exc) or type(exc).__name__)})"
                ) from None
            if not _retryable(response.status_code) or attempt == ATTEMPTS - 1:
                break
            time.sleep(_delay(attempt, response))
        if response.status_code == 404:
            raise JarvisError(
                f"{url} is not found: --jarvis-base-url must be the server's API root, usually ending in /v1"
            )
        if response.status_code != 200:
            raise JarvisError(f"{url} answered {self._describe(response)}")
        try:
            data = response.json()["data"]
            return {str(e["id"]): {k: e[k] for k in ENTRY_FIELDS if e.get(k) is not None} for e in data}
        except (ValueError, KeyError, TypeError):
            raise JarvisError(
                f"{url} is not an OpenAI model list ({_one_line(response.text)}): is {self.base_url} an "
                "OpenAI-compatible server?"
            ) from None

    def _load_local_folder(self, client: httpx.Client, name: str, arm: Arm) -> dict[str, Any] | None:
        """Ask ``transformers serve`` to load a local folder it doesn't list yet; None on other servers.

        transformers serve lists only the models it has loaded, and loads a folder on its first chat
        request, answering a bare 500 when it can't. Its own ``POST /load_model`` (an SSE stream
        ending in ``ready`` or ``error`` with the reason) checks the folder now, before any test.
        """
        import httpx

        parts = urlsplit(self._api)
        root = urlunsplit(parts._replace(path=parts.path.rstrip("/").removesuffix("/v1") + "/load_model"))
        start = time.perf_counter()
        try:
            response = client.post(root, json={"model": name})
        except httpx.TransportError:
            return None
        if response.status_code != 200 or not response.headers.get("content-type", "").startswith("text/event-stream"):
            return None  # not transformers serve: the caller says the model isn't served
        events = [line[5:].strip() for line in response.text.splitlines() if line.startswith("data:")]
        try:
            last = json.loads(events[-1]) if events else {}
        except ValueError:
            last = {}
        if last.get("status") != "ready":
            option = "--jarvis-served-base" if arm.is_base else f"--jarvis-served-adapter ({arm.name})"
            reason = _one_line(str(last.get("message") or last or "no answer"))
            # Recognised from the folder, never from the server's wording (it changes between releases).
            hint = " (a bare PEFT adapter folder must be merged first)" if _adapter_only_folder(name) else ""
            raise JarvisError(f"{self.base_url} cannot load {name!r} ({option}): {reason}{hint}")
        self.stats.loads += 1
        self.stats.load_seconds += time.perf_counter() - start
        listed = self._list_models(client)
        return listed.get(name, {"id": name})

    def _describe(self, response: httpx.Response) -> str:
        """Say in one line what a failed response means: its status and the server's message."""
        status = f"HTTP {response.status_code}"
        message = _error_message(response)
        if response.status_code >= 500 and message in ("", "Internal Server Error"):
            return (
                f"{status} Internal Server Error with no reason (transformers serve answers so when generating "
                "raises): the reason is in the server's log"
            )
        if response.status_code in (401, 403):
            where = f"${self.api_key_env}" if self.api_key_env else "a variable named by --jarvis-api-key-env"
            message += f"; put the server's API key in {where}"
        return f"{status}: {message}" if message else status

    # -- generating --------------------------------------------------------------------------

    def generate(
        self, work: Mapping[Arm, Sequence[Prompt]], settings: GenerationSettings, on_answers: OnAnswers | None = None
    ) -> dict[Arm, list[Answer]]:
        if (settings.do_sample and not settings.sampled) or settings.num_beams != 1:
            # Sampling goes through --jarvis-decoding=sampled (a seed per sample); beams are not offered.
            raise JarvisError("the openai backend decodes greedily or with --jarvis-decoding=sampled, one beam")
        self.validate()
        start = time.perf_counter()
        try:
            return asyncio.run(self._generate({arm: list(p) for arm, p in work.items()}, settings, on_answers))
        finally:
            self.stats.generation_seconds += time.perf_counter() - start

    async def _generate(
        self, work: dict[Arm, list[Prompt]], settings: GenerationSettings, on_answers: OnAnswers | None
    ) -> dict[Arm, list[Answer]]:
        import httpx

        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(headers=self._headers(), timeout=self._timeout(), limits=limits) as client:
            out: dict[Arm, list[Answer]] = {}
            for arm, prompts in work.items():  # one arm after the other (see the module's docstring)
                out[arm] = await self._generate_arm(client, arm, prompts, settings, on_answers) if prompts else []
            return out

    async def _generate_arm(
        self,
        client: httpx.AsyncClient,
        arm: Arm,
        prompts: list[Prompt],
        settings: GenerationSettings,
        on_answers: OnAnswers | None,
    ) -> list[Answer]:
        """Answer one arm's prompts, ``concurrency`` at a time; return them in the prompts' order."""
        model = self.served_name(arm)
        slots = asyncio.Semaphore(self.concurrency)

        async def one(index: int) -> tuple[int, Answer]:
            async with slots:
                return index, await self._complete(client, model, prompts[index], settings)

        answers: dict[int, Answer] = {}
        tokens = 0
        label = arm.label(len(self.arms) - 1)
        tasks = [asyncio.ensure_future(one(i)) for i in range(len(prompts))]
        start = time.perf_counter()
        with progress(total=len(prompts), desc=f"generating {label} arm (server)", unit="prompts") as bar:
            try:
                for finished in asyncio.as_completed(tasks):
                    index, answer = await finished
                    answers[index] = answer
                    if on_answers is not None:  # into the cache now: a later failure loses nothing done
                        on_answers(arm, [index], [answer])
                    tokens += answer.new_tokens
                    bar.update(1)
                    bar.set_postfix_str(f"{tokens / max(time.perf_counter() - start, 1e-9):.0f} tok/s")
            finally:  # a failure (or Ctrl-C) cancels the requests still waiting or in flight
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        return [answers[i] for i in range(len(prompts))]

    def _body(self, model: str, prompt: Prompt, settings: GenerationSettings, template_kwargs: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": _messages(prompt),
            "max_tokens": settings.max_new_tokens,
            "stream": False,
            **(_sampling_request(prompt, settings) if settings.sampled else GREEDY),
        }
        if template_kwargs:
            body["chat_template_kwargs"] = {"enable_thinking": settings.enable_thinking}
        tools = getattr(prompt, "tools", "")  # the native-tools prompt format: schemas as canonical JSON
        if tools:
            body["tools"] = json.loads(tools)
        return body

    async def _complete(
        self, client: httpx.AsyncClient, model: str, prompt: Prompt, settings: GenerationSettings
    ) -> Answer:
        """One chat completion, retried on 429, 5xx and connection errors; a JarvisError when it fails."""
        import httpx

        url = f"{self.base_url}/chat/completions"
        problem = ""
        for attempt in range(ATTEMPTS):
            template_kwargs = self._template_kwargs is not False
            try:
                response = await asyncio.wait_for(
                    client.post(
                        self._endpoint("/chat/completions"), json=self._body(model, prompt, settings, template_kwargs)
                    ),
                    self.request_timeout,
                )
                if response.status_code in (400, 422) and template_kwargs and self._template_kwargs is None:
                    # Maybe a server that refuses chat_template_kwargs: ask once without it.
                    retry = await asyncio.wait_for(
                        client.post(url, json=self._body(model, prompt, settings, False)), self.request_timeout
                    )
                    if retry.status_code == 200:
                        self._template_kwargs = False
                    response = retry if retry.status_code == 200 else response
                elif response.status_code == 200 and template_kwargs:
                    self._template_kwargs = True
            except (asyncio.TimeoutError, httpx.TimeoutException):
                raise JarvisError(
                    self._failed(
                        prompt, model, f"no answer within {self.request_timeout:g} s (--jarvis-request-timeout)"
                    )
                ) from None
            except httpx.TransportError as exc:
                problem = f"connection failed ({_one_line(str(exc) or type(exc).__name__)})"
                delay = _delay(attempt, None)
            else:
                if response.status_code == 200:
                    return self._answer(response, prompt, model)
                problem = self._describe(response)
                if not _retryable(response.status_code):
                    raise JarvisError(self._failed(prompt, model, problem))
                delay = _delay(attempt, response)
            if attempt < ATTEMPTS - 1:
                await asyncio.sleep(delay)
        raise JarvisError(self._failed(prompt, model, f"{problem}, {ATTEMPTS} attempts"))

    def _answer(self, response: httpx.Response, prompt: Prompt, model: str) -> Answer:
        """Read a chat completion into an Answer: the text cleaned like the in-process one, tokens from usage."""
        try:
            data = response.json()
            message = data["choices"][0]["message"]
            text = message.get("content") or ""
            # transformers serve parses Qwen-style tool calls out of the text whatever the request says:
            # put them back in the form the model wrote, so the metric reads what it would in process.
            calls = [_tool_call_text(call) for call in message.get("tool_calls") or ()]
            tokens = int((data.get("usage") or {}).get("completion_tokens") or 0)
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            raise JarvisError(
                self._failed(prompt, model, f"the answer is not a chat completion ({_one_line(response.text)})")
            ) from None
        self.stats.generate_calls += 1
        return Answer(text=strip_think("\n".join([text, *calls]) if calls else text), new_tokens=tokens)

    # -- the routing probe (evals/backends/served_probe.py) ------------------------------------

    def probe(self, arm: Arm, cases: Sequence[Case], suite: Suite, prompt_format: str) -> list[ProbeCase]:
        """The forced-choice routing probe of ``cases`` under ``arm``, read off the server's prompt log-probabilities.

        Checked on the first request: a server that returns none (transformers serve, most
        others) raises one JarvisError saying so, and is not asked again this run.
        """
        from evals.records.suite import SYSTEM_TEXT

        if prompt_format != SYSTEM_TEXT:
            raise JarvisError(
                f"the {self.kind} backend probes the {SYSTEM_TEXT} prompt format only: the opening of a native "
                "call is rendered by the server's chat template"
            )
        if not self._no_probe:
            self.validate()
            from evals.backends.served_probe import NoPromptLogprobs

            try:
                return asyncio.run(self._probe(arm, list(cases), suite))
            except NoPromptLogprobs as exc:
                self._no_probe = str(exc)
        raise JarvisError(
            f"{self.base_url} returns no prompt log-probabilities ({self._no_probe}); the probe needs vLLM's "
            "prompt_logprobs with continue_final_message"
        )

    async def _probe(self, arm: Arm, cases: list[Case], suite: Suite) -> list[ProbeCase]:
        """Score every tool after every case's messages, ``concurrency`` requests at a time; the first one alone."""
        import httpx

        from evals.backends.served_probe import case_turns, probe_records

        model = self.served_name(arm)
        tools = [t.id for t in suite.tools]
        messages = [_messages(Prompt(*case_turns(suite, case))) for case in cases]
        slots = asyncio.Semaphore(self.concurrency)
        limits = httpx.Limits(max_connections=self.concurrency, max_keepalive_connections=self.concurrency)
        async with httpx.AsyncClient(headers=self._headers(), timeout=self._timeout(), limits=limits) as client:

            async def one(index: int, tool: str) -> Scored:
                async with slots:
                    return await self._score(client, model, messages[index], tool)

            first = await one(0, tools[0])  # does the server return prompt log-probabilities at all?
            rest = [asyncio.ensure_future(one(i, t)) for i in range(len(cases)) for t in tools][1:]
            try:
                scored = [first, *await asyncio.gather(*rest)]
            finally:
                for task in rest:
                    task.cancel()
        return probe_records(cases, tools, arm.name, scored)

    async def _score(self, client: httpx.AsyncClient, model: str, messages: list[dict[str, str]], tool: str) -> Scored:
        """One probe request, retried as generation's are; NoPromptLogprobs when the server cannot answer it."""
        import httpx

        from evals.backends.served_probe import NoPromptLogprobs, candidate_score, probe_body

        problem = ""
        for attempt in range(ATTEMPTS):
            body = probe_body(model, messages, tool, self._template_kwargs is True)
            try:
                response = await asyncio.wait_for(
                    client.post(self._endpoint("/chat/completions"), json=body), self.request_timeout
                )
            except (asyncio.TimeoutError, httpx.TimeoutException):
                raise JarvisError(
                    f"{self.base_url} (model {model}): no probe answer within {self.request_timeout:g} s "
                    "(--jarvis-request-timeout)"
                ) from None
            except httpx.TransportError as exc:
                problem = f"connection failed ({_one_line(str(exc) or type(exc).__name__)})"
                delay = _delay(attempt, None)
            else:
                if response.status_code == 200:
                    try:
                        data = response.json()
                    except ValueError:
                        data = None
                    return candidate_score(data, tool)
                if response.status_code in (400, 404, 422):  # the fields refused, or no such endpoint
                    raise NoPromptLogprobs(f"a probe request was refused: {self._describe(response)}")
                problem = self._describe(response)
                if not _retryable(response.status_code):
                    raise JarvisError(f"{self.base_url} (model {model}): a probe request failed: {problem}")
                delay = _delay(attempt, response)
            if attempt < ATTEMPTS - 1:
                await asyncio.sleep(delay)
        raise JarvisError(f"{self.base_url} (model {model}): a probe request failed: {problem}, {ATTEMPTS} attempts")

    def _failed(self, prompt: Prompt, model: str, problem: str) -> str:
        return f"case {prompt.user!r}: {self.base_url} (model {model}) failed: {problem}"


# --- helpers --------------------------------------------------------------------------------


def _sampling_request(prompt: Prompt, settings: GenerationSettings) -> dict[str, Any]:
    """A sampled request: the sample's own seed, and only the sampling values the options set.

    Unset values are left to the server, which takes them from the model's generation_config
    (vLLM, SGLang). One request per sample rather than ``n``: sample i then has its own seed and
    cache entry, the same in a run of 3 samples and of 5, and servers without ``n`` need nothing else.
    """
    request: dict[str, Any] = {"seed": prompt.seed(settings.seed)}
    for name in ("temperature", "top_p", "top_k"):  # top_k only when asked: strict servers refuse it
        value = getattr(settings, name)
        if value is not None:
            request[name] = value
    return request


def _canonical(data: Any) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _one_line(text: str) -> str:
    """Collapse a server's message to one short line."""
    line = " ".join(str(text).split())
    return line if len(line) <= MESSAGE_LIMIT else line[: MESSAGE_LIMIT - 3] + "..."


def _error_message(response: httpx.Response) -> str:
    """Return the server's message: OpenAI's and vLLM's ``error.message``, FastAPI's ``detail``, or the text."""
    try:
        data = response.json()
    except ValueError:
        return _one_line(response.text)
    if isinstance(data, dict):
        for key in ("error", "detail", "message"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message", value)
            if value:
                return _one_line(value if isinstance(value, str) else json.dumps(value, ensure_ascii=False))
    return _one_line(response.text)


def _adapter_of_listed_base(name: str, listed: Mapping[str, dict[str, Any]]) -> dict[str, Any] | None:
    """Return the entry of SGLang's ``BASE:ADAPTER`` form (a LoRA named per request), which /v1/models
    doesn't list as such: the adapter's own entry when listed, the id and its base otherwise."""
    base, sep, adapter = name.rpartition(":")
    if not sep or base not in listed:
        return None
    return {**listed.get(adapter, {}), "id": name, "parent": base}


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _delay(attempt: int, response: httpx.Response | None) -> float:
    """Exponential backoff (0.5, 1, 2 s...), or the server's Retry-After when it asks for longer."""
    delay = min(FIRST_BACKOFF * 2**attempt, MAX_BACKOFF)
    try:
        asked = float(response.headers.get("retry-after", "")) if response is not None else 0.0
    except ValueError:
        asked = 0.0
    return max(delay, min(asked, MAX_RETRY_AFTER))


def _tool_call_text(call: Mapping[str, Any]) -> str:
    """Write a structured tool call back as the ``<tool_call>`` block Qwen-style models emit."""
    function = call.get("function") or {}
    arguments = function.get("arguments", "")
    if isinstance(arguments, str):
        with contextlib.suppress(ValueError):  # not JSON: keep the text as the model wrote it
            arguments = json.loads(arguments)
    payload = json.dumps({"name": function.get("name", ""), "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{payload}\n</tool_call>"


def _adapter_only_folder(name: str) -> bool:
    """True when ``name`` is a local folder holding a PEFT adapter and no model of its own."""
    folder = Path(name).expanduser()
    try:
        return (folder / "adapter_config.json").is_file() and not (folder / "config.json").is_file()
    except OSError:  # a served name that is not a path at all (too long, odd characters)
        return False
