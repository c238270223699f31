"""Real OpenAI-compatible servers for tests: ``transformers serve`` on CPU, and merged LoRA copies to serve.

``transformers serve`` needs ``pip install "transformers[serving]"``. Without a pinned model it serves any
local folder on demand: the request's ``model`` field is the folder path (as a string).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"


def free_port() -> int:
    """Return a loopback port that was free a moment ago (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def serve_executable() -> Path:
    """Return the ``transformers`` console script of the running interpreter's environment."""
    # Not .resolve(): a venv's python is a symlink to the system one, the script lives beside the link.
    script = Path(sys.executable).parent / ("transformers.exe" if os.name == "nt" else "transformers")
    if not script.is_file():
        raise FileNotFoundError(f"{script} is missing: pip install 'transformers[serving]'")
    return script


@dataclass
class ServeHandle:
    """A running ``transformers serve`` process bound to loopback; stop it with :meth:`stop` or ``with``."""

    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    startup_seconds: float = 0.0
    loaded: dict[str, float] = field(default_factory=dict)  # model -> seconds its preload took

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` (no ``/v1``)."""
        return f"http://{HOST}:{self.port}"

    @property
    def api_base(self) -> str:
        """The OpenAI client's ``base_url``: ``http://127.0.0.1:PORT/v1``."""
        return f"{self.base_url}/v1"

    def log_tail(self, lines: int = 40) -> str:
        """Return the last ``lines`` lines of the server log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "<no log>"
        return "\n".join(text.splitlines()[-lines:])

    def alive(self) -> bool:
        return self.process.poll() is None

    def load_model(self, model: str | Path, timeout: float = 120.0) -> float:
        """Load ``model`` now through ``POST /load_model``; return the seconds it took.

        Raises ``RuntimeError`` with the server's message when the model cannot be loaded (a missing
        folder, a bare adapter folder), so a bad model fails before the first chat request.
        """
        start = time.perf_counter()
        body = json.dumps({"model": str(model)}).encode()
        request = urllib.request.Request(
            f"{self.base_url}/load_model", data=body, headers={"Content-Type": "application/json"}
        )
        last: dict = {}
        with urllib.request.urlopen(request, timeout=timeout) as response:  # an SSE stream of progress events
            for raw in response:
                line = raw.decode("utf-8", errors="replace").strip()
                if line.startswith("data:"):
                    last = json.loads(line[5:])
                    if last.get("status") == "error":
                        raise RuntimeError(f"transformers serve cannot load {model}: {last.get('message')}")
        if last.get("status") != "ready":
            raise RuntimeError(f"transformers serve did not load {model}: last event {last}\n{self.log_tail()}")
        seconds = time.perf_counter() - start
        self.loaded[str(model)] = seconds
        return seconds

    def stop(self, grace: float = 5.0) -> None:
        """Terminate the server, then kill it if it is still running after ``grace`` seconds.

        uvicorn's graceful shutdown waits for a generation in flight (SIGTERM alone can hang for minutes).
        """
        if self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=grace)

    def __enter__(self) -> ServeHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _die_with_parent() -> None:
    """In the child, before exec: ask Linux to SIGKILL it when the parent dies (no orphan servers)."""
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG


def _get_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def start_transformers_serve(
    force_model: str | Path | None = None,
    *,
    port: int | None = None,
    log_path: str | Path | None = None,
    preload: Sequence[str | Path] = (),
    timeout: float = 60.0,
    model_timeout: int = -1,
    extra_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> ServeHandle:
    """Start ``transformers serve --device cpu --host 127.0.0.1 --port P`` and wait until ``/health`` answers.

    ``force_model`` pins the server to one model (preloaded, every other ``model`` gets a 400); ``None``
    serves any folder named in a request. ``preload`` folders are loaded before returning (see
    :meth:`ServeHandle.load_model`). ``model_timeout=-1`` keeps loaded models in memory (the server's
    default, 300 s, unloads idle ones and drops them from ``/v1/models``). Runs with ``HF_HUB_OFFLINE=1``.
    On death or timeout the server is stopped and ``RuntimeError`` carries the log tail. The caller must
    call ``stop()`` (or use ``with``); on Linux the server also dies with the process that started it.
    """
    if log_path is None:
        log_path = Path(tempfile.mkdtemp(prefix="transformers-serve-")) / "serve.log"
    log_path = Path(log_path)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    chosen = port or free_port()
    command = [str(serve_executable()), "serve", "--device", "cpu", "--host", HOST, "--port", str(chosen)]
    command += ["--log-level", "info", "--model-timeout", str(model_timeout), *extra_args]
    if force_model is not None:
        command.append(str(force_model))
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    start = time.perf_counter()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=full_env,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    handle = ServeHandle(process=process, port=chosen, log_path=log_path)
    try:
        while not _get_ok(f"{handle.base_url}/health"):
            if process.poll() is not None:
                raise RuntimeError(
                    f"transformers serve exited with code {process.returncode} before answering /health "
                    f"(command: {' '.join(command)}); log tail:\n{handle.log_tail()}"
                )
            if time.perf_counter() - start > timeout:
                raise RuntimeError(
                    f"transformers serve did not answer /health within {timeout:.0f} s; log tail:\n{handle.log_tail()}"
                )
            time.sleep(0.2)
        handle.startup_seconds = time.perf_counter() - start
        for model in preload:
            handle.load_model(model)
    except BaseException:
        handle.stop()
        raise
    return handle


@contextmanager
def transformers_serve(force_model: str | Path | None = None, **kwargs: object) -> Iterator[ServeHandle]:
    """Context manager around :func:`start_transformers_serve`; the server is stopped even when the body fails."""
    handle = start_transformers_serve(force_model, **kwargs)  # type: ignore[arg-type]
    try:
        yield handle
    finally:
        handle.stop()


def merge_lora(model_dir: str | Path, adapter_dir: str | Path, out_dir: str | Path) -> Path:
    """Write ``model_dir`` with ``adapter_dir`` merged in (fp32) to ``out_dir``, with the tokenizer; return ``out_dir``.

    Servers without LoRA support (``transformers serve`` refuses a bare adapter folder) serve this copy.
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    merged = PeftModel.from_pretrained(base, adapter_dir).merge_and_unload()
    out_dir = Path(out_dir)
    merged.save_pretrained(out_dir)
    has_tokenizer = any((Path(adapter_dir) / name).is_file() for name in ("tokenizer.json", "tokenizer_config.json"))
    AutoTokenizer.from_pretrained(adapter_dir if has_tokenizer else model_dir).save_pretrained(out_dir)
    return out_dir


@contextmanager
def prompt_logprobs_server(folders: Sequence[str | Path]) -> Iterator[str]:
    """A stand-in for vLLM's probe API on loopback, computed by the real models in ``folders``; yields its API root.

    vLLM needs a GPU, so it cannot run here. This answers what the served probe asks of it, as vLLM's
    docs describe: ``/v1/models``, and ``/v1/chat/completions`` with ``prompt_logprobs: 0`` and
    ``continue_final_message`` (the chat template renders the conversation with the last, assistant
    message left open), returning each prompt token's log-probability under the model, keyed by
    token id with its ``decoded_token``. A request is a model's name and a folder path, as
    transformers serve takes it.
    """
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    models = {
        str(f): (AutoModelForCausalLM.from_pretrained(f, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(f))
        for f in folders
    }
    lock = threading.Lock()

    def prompt_logprobs(request: dict) -> list:
        model, tokenizer = models[request["model"]]
        text = tokenizer.apply_chat_template(
            request["messages"], tools=request.get("tools"), tokenize=False,
            add_generation_prompt=request.get("add_generation_prompt", True),
            continue_final_message=request.get("continue_final_message", False),
            **(request.get("chat_template_kwargs") or {}),
        )  # fmt: skip
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        with lock, torch.no_grad():
            logp = torch.log_softmax(model(input_ids=torch.tensor([ids])).logits[0].double(), -1)
        return [None] + [
            {str(t): {"logprob": float(logp[i - 1, t]), "decoded_token": tokenizer.decode([t])}}
            for i, t in enumerate(ids) if i
        ]  # fmt: skip

    class Handler(BaseHTTPRequestHandler):
        def _send(self, status: int, data: object) -> None:
            payload = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._send(200, {"object": "list", "data": [{"id": name, "object": "model"} for name in models]})

        def do_POST(self) -> None:
            request = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
            if request.get("model") not in models:
                self._send(404, {"error": {"message": f"model {request.get('model')} not found"}})
                return
            message = {"role": "assistant", "content": ""}
            self._send(
                200, {"choices": [{"index": 0, "message": message}], "prompt_logprobs": prompt_logprobs(request)}
            )

        def log_message(self, *args: object) -> None:  # quiet
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

    httpd = Server((HOST, 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{httpd.server_address[1]}/v1"
    finally:
        httpd.shutdown()
        httpd.server_close()
