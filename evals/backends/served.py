"""The ``openai`` backend's registration: its options, the served models they name, and its build.

The client itself is ``evals.backends.openai``. With ``--jarvis-backend=openai`` the arms are
models a server answers for by name: ``--jarvis-served-base`` and ``--jarvis-served-adapter``.
"""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from evals.adapters import AdapterSpec
from evals.backends.base import Arm, BackendEntry, register_backend
from evals.backends.openai import OpenAIBackend
from evals.options import Option
from evals.parsers import parse_base_url, parse_env_name, parse_positive_float, parse_positive_int
from evals.records import NAME_CHARS, RESERVED_NAMES, default_adapter_name

if TYPE_CHECKING:
    from evals.config import EvalConfig
    from evals.plan import RunPlan

OPENAI_OPTIONS: tuple[Option, ...] = (
    Option(
        "--jarvis-base-url",
        "jarvis_base_url",
        None,
        "openai backend: the server's API root, e.g. http://127.0.0.1:8000/v1",
        parse_base_url,
        metavar="URL",
    ),
    Option(
        "--jarvis-served-base",
        "jarvis_served_base",
        None,
        "openai backend: the model name the server serves the base under",
        metavar="NAME",
    ),
    Option(
        "--jarvis-served-adapter",
        "jarvis_served_adapter",
        None,
        "openai backend: a served fine-tuned model (a vLLM LoRA module name), LABEL=NAME allowed; repeat for several",
        metavar="[LABEL=]NAME",
        repeatable=True,
    ),
    Option(
        "--jarvis-concurrency",
        "jarvis_concurrency",
        "8",
        "openai backend: requests in flight at once",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--jarvis-request-timeout",
        "jarvis_request_timeout",
        "300",
        "openai backend: seconds one request may take before the run fails",
        parse_positive_float,
        metavar="S",
    ),
    Option(
        "--jarvis-api-key-env",
        "jarvis_api_key_env",
        None,
        "openai backend: the environment variable holding the API key (sent when set, never written anywhere)",
        parse_env_name,
        metavar="VAR",
    ),
)


@dataclass(frozen=True)
class ServedAdapter:
    """One fine-tuned arm a server answers for: its label (arm, tests, reports) and its served model name."""

    label: str
    name: str


def parse_served_adapter(entry: str) -> ServedAdapter:
    """Read one ``--jarvis-served-adapter`` value: ``NAME`` or ``LABEL=NAME``.

    Without a label the arm is named after the served name (its last path part, characters other
    than letters, digits, '.', '_' and '-' replaced), as ``--jarvis-adapter`` names folders.
    """
    label, sep, name = (part.strip() for part in str(entry).partition("="))
    if not sep:
        label, name = "", label
    if not name:
        raise argparse.ArgumentTypeError(f"{entry!r} names no served model; write NAME or LABEL=NAME")
    if label and (NAME_CHARS.search(label) or label in RESERVED_NAMES):
        raise argparse.ArgumentTypeError(
            f"label {label!r} in {entry!r}: use letters, digits, '.', '_' or '-', and not 'base'"
        )
    label = label or default_adapter_name(Path(name))
    if label in RESERVED_NAMES:
        raise argparse.ArgumentTypeError(f"{entry!r} would be an arm named 'base': label it, e.g. tuned={name}")
    return ServedAdapter(label, name)


def _configure(config: EvalConfig, values: Mapping[str, Any]) -> EvalConfig:
    """Check the server options and fill in what a server run records.

    ``model`` becomes the served base, ``quant`` "server", and the adapters the served ones (their
    served name standing in for the folder).
    """
    served = values.get("jarvis_served_adapter")
    entries = [served] if isinstance(served, str) else list(served or [])
    missing = [
        need
        for need, value in (
            (
                "--jarvis-base-url URL (the server's API root, e.g. http://127.0.0.1:8000/v1)",
                values.get("jarvis_base_url"),
            ),
            (
                "--jarvis-served-base NAME (the model name the server serves the base under)",
                values.get("jarvis_served_base"),
            ),
            ("--jarvis-served-adapter [LABEL=]NAME (the fine-tuned model as served)", entries),
        )
        if not value
    ]
    if missing:
        raise ValueError(f"--jarvis-backend=openai needs {'; '.join(missing)}")
    adapters: list[ServedAdapter] = []
    for entry in entries:
        try:
            adapter = parse_served_adapter(str(entry))
        except argparse.ArgumentTypeError as exc:
            raise ValueError(f"--jarvis-served-adapter: {exc}") from None
        clash = next((a for a in adapters if a.label == adapter.label and a.name != adapter.name), None)
        if clash is not None:
            raise ValueError(
                f"--jarvis-served-adapter: two served models are labelled {adapter.label!r} ({clash.name} and "
                f"{adapter.name}): write LABEL=NAME"
            )
        if adapter not in adapters:
            adapters.append(adapter)
    return dataclasses.replace(
        config,
        model=str(values["jarvis_served_base"]),
        quant="server",
        adapters=tuple(AdapterSpec(a.label, Path(a.name)) for a in adapters),
        backend_options={**values, "served": {a.label: a.name for a in adapters}},
    )


def _build(plan: RunPlan, arms: tuple[Arm, ...]) -> OpenAIBackend:
    options = plan.config.backend_options
    served = options["served"]
    return OpenAIBackend(
        base_url=str(options["jarvis_base_url"]),
        served_base=plan.config.model,
        arms=tuple(arm if arm.is_base else Arm(arm.name, served[arm.name]) for arm in arms),
        concurrency=options["jarvis_concurrency"],
        request_timeout=options["jarvis_request_timeout"],
        api_key_env=options["jarvis_api_key_env"],
    )


ENTRY = register_backend(
    BackendEntry(
        name="openai",
        summary="a server",
        help="an OpenAI-compatible server: vLLM, SGLang...",
        build=_build,
        options=OPENAI_OPTIONS,
        configure=_configure,
        # What the server decides: given on the command line, they are a mistake.
        refuses=(
            "--jarvis-model",
            "--jarvis-quant",
            "--jarvis-adapter",
            "--jarvis-trust-remote-code",
            "--jarvis-batch-size",
        ),
        refusal="not with --jarvis-backend=openai, where the server decides the model, its quantization and "
        "batching; name the served models with --jarvis-served-base and --jarvis-served-adapter",
        local_adapters=False,
    )
)
