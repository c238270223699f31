"""The plugin's options: declared once, parsed by small ``type=`` functions, read into one object.

Nothing else in the package calls ``getoption``/``getini``: ``read_config`` builds an
``EvalConfig`` and the rest of the code receives that.
"""

from __future__ import annotations

import argparse
import glob
import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from evals.gate.rules import GATE_MODES, GateConfig, tolerance_problem
from evals.loggers import parse_trackers
from evals.models import QUANT_CHOICES
from evals.records import CATEGORIES

if TYPE_CHECKING:  # pytest is imported by whoever calls these; the parsers stay importable without it
    import pytest

ASSERT_HELP = "no-regression | min-relevance:X | none"
QUICK_MAX_NEW_TOKENS = 24


# --- value parsers: raise ArgumentTypeError with a helpful message --------------------


def parse_quant(value: str) -> str:
    value = str(value).strip().lower()
    if value not in QUANT_CHOICES:
        raise argparse.ArgumentTypeError(f"{value!r} is not a quantization; use one of {', '.join(QUANT_CHOICES)}")
    return value


def _whole_number(value: str, minimum: int, too_small: str) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number") from None
    if number < minimum:
        raise argparse.ArgumentTypeError(f"{value!r} {too_small}")
    return number


def parse_positive_int(value: str) -> int:
    return _whole_number(value, 1, "must be at least 1")


def parse_noise_levels(value: str) -> tuple[int, ...]:
    """Parse speech-recognition noise levels such as ``1,2,3`` (edits per request; 0, the clean case, is implied)."""
    try:
        levels = {int(part) for part in str(value).split(",") if part.strip()}
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a list of noise levels; write e.g. 1,2,3") from None
    if not levels - {0} or any(not 0 <= lv <= 3 for lv in levels):
        raise argparse.ArgumentTypeError(
            f"{value!r}: noise levels go from 1 to 3 (0 is the clean case); write e.g. 1,2,3"
        )
    return tuple(sorted(levels - {0}))


def parse_nonnegative_int(value: str) -> int:
    return _whole_number(value, 0, "must not be negative")


def parse_batch_size(value: str) -> str:
    value = str(value).strip().lower()
    if value == "auto":
        return value
    return str(parse_positive_int(value))


def parse_prompt_format(value: str) -> str:
    from evals.records import PROMPT_FORMATS

    text = str(value).strip().lower()
    if text not in PROMPT_FORMATS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a prompt format; use {' or '.join(PROMPT_FORMATS)}")
    return text


def parse_positive_float(value: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not (math.isfinite(number) and number > 0):
        raise argparse.ArgumentTypeError(f"{value!r} must be a positive number")
    return number


def parse_fraction(value: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if not 0.0 <= number <= 1.0:
        raise argparse.ArgumentTypeError(f"{value!r} must be between 0 and 1")
    return number


def parse_nonnegative(value: str) -> float:
    try:
        number = float(str(value).strip())
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"{value!r} must not be negative")
    return number


BACKENDS = ("hf", "openai")


def parse_backend(value: str) -> str:
    value = str(value).strip().lower()
    if value not in BACKENDS:
        raise argparse.ArgumentTypeError(f"{value!r} is not a backend; use hf (in process) or openai (a server)")
    return value


def redact_url(url: str) -> str:
    """Return ``url`` without userinfo, query or fragment: the form of a server's URL that may be recorded.

    ``http://user:SECRET@host/v1?token=T`` becomes ``http://host/v1``: results, reports and logs
    are uploaded as CI artifacts, and a credential in them is a leaked credential.
    """
    parts = urlsplit(url)
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_env_name(value: str) -> str:
    """Parse the *name* of an environment variable; the message never repeats a value that is not one."""
    if not _ENV_NAME.match(str(value)):
        raise argparse.ArgumentTypeError(
            "the value given is not a variable name (it must not be the key itself): pass the NAME of the "
            "environment variable that holds the key, e.g. OPENAI_API_KEY"
        )
    return str(value)


def parse_base_url(value: str) -> str:
    """Parse a server's API root such as ``http://127.0.0.1:8000/v1`` (a trailing slash is dropped)."""
    url = str(value).strip().rstrip("/")
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in ("http", "https") or not rest:
        raise argparse.ArgumentTypeError(f"{redact_url(value)!r} is not an http(s) URL; e.g. http://127.0.0.1:8000/v1")
    return url


@dataclass(frozen=True)
class AssertPolicy:
    """What each per-prompt test asserts."""

    kind: str = "no-regression"  # or "min-relevance", "none"
    threshold: float = 0.0

    def __str__(self) -> str:
        return f"min-relevance:{self.threshold:g}" if self.kind == "min-relevance" else self.kind


def parse_assert(value: str) -> AssertPolicy:
    value = str(value).strip().lower()
    if value in ("no-regression", "none"):
        return AssertPolicy(value)
    if value.startswith("min-relevance:"):
        return AssertPolicy("min-relevance", parse_fraction(value.split(":", 1)[1]))
    raise argparse.ArgumentTypeError(f"{value!r} is not an assertion; use {ASSERT_HELP}")


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def parse_tolerance(value: str) -> float:
    """Parse an absolute relevance tolerance such as ``0.02``."""
    number = _number(str(value).strip())
    if number is None or tolerance_problem(number):
        raise argparse.ArgumentTypeError(
            f"tolerance must be an absolute relevance difference between 0 and 1, e.g. 0.02; got {value!r}"
        )
    return number


def parse_min_gain(value: str) -> float:
    """Parse a minimum relative gain of fine-tuned over base: ``0.10`` or ``10%``."""
    text = str(value).strip()
    percent = text.endswith("%")
    number = _number(text[:-1] if percent else text)
    if number is not None and percent:
        number /= 100.0
    if number is None or number < 0:
        raise argparse.ArgumentTypeError(
            f"minimum gain must be a relative gain >= 0 of fine-tuned over base, e.g. 0.10 or 10%; got {value!r}"
        )
    return number


def parse_gate_mode(value: str) -> str:
    """Parse ``tolerance`` or ``significant`` (case-insensitive)."""
    mode = str(value).strip().lower()
    if mode not in GATE_MODES:
        raise argparse.ArgumentTypeError(f"gate mode must be 'tolerance' or 'significant'; got {value!r}")
    return mode


def parse_category_tolerances(lines: str | Iterable[str]) -> dict[str, float]:
    """Parse ``category=value`` lines (the ini ``jarvis_category_tolerances``); blanks and ``#`` lines skip.

    A single string may also separate entries with commas: ``routing=0.05, commands=0.03``.
    """
    if isinstance(lines, str):
        lines = [part for line in lines.splitlines() if not line.strip().startswith("#") for part in line.split(",")]
    out: dict[str, float] = {}
    for raw in lines:
        line = str(raw).strip()
        if not line or line.startswith("#"):
            continue
        category, sep, number = (part.strip() for part in line.partition("="))
        if not sep or not category:
            raise argparse.ArgumentTypeError(f"category tolerance {line!r} is not category=value, e.g. routing=0.05")
        if category not in CATEGORIES:
            raise argparse.ArgumentTypeError(
                f"category tolerance {line!r}: unknown category {category!r}; use one of {', '.join(CATEGORIES)}"
            )
        if category in out:
            raise argparse.ArgumentTypeError(f"category tolerance for {category!r} is given twice; keep one line")
        value = _number(number)
        if value is None or tolerance_problem(value):
            raise argparse.ArgumentTypeError(
                f"category tolerance {line!r}: the value must be between 0 and 1, e.g. {category}=0.05"
            )
        out[category] = value
    return out


# --- declarations --------------------------------------------------------------------


@dataclass(frozen=True)
class Option:
    flag: str
    ini: str | None
    default: Any
    help: str
    parse: Callable[[str], Any] | None = None
    flag_only: bool = False  # a store_true switch
    metavar: str = "VALUE"
    repeatable: bool = False  # may be given several times; the ini key takes one value per line


OPTIONS: tuple[Option, ...] = (
    Option(
        "--jarvis-suite", "jarvis_suite", None, "suite YAML file (default: the shipped JARVIS suite)", metavar="PATH"
    ),
    Option(
        "--jarvis-model",
        "jarvis_model",
        "embedded",
        "HF model id or local folder (default: embedded SmolLM2-135M-Instruct)",
        metavar="ID_OR_PATH",
    ),
    Option(
        "--jarvis-quant",
        "jarvis_quant",
        "4bit",
        "base model quantization: 4bit (NF4, double quant) | 8bit | none",
        parse_quant,
        metavar="4bit|8bit|none",
    ),
    Option(
        "--jarvis-adapter",
        "jarvis_adapter",
        None,
        "LoRA adapter folder, NAME=PATH, or a glob ('output/*/final'); repeat for several "
        "(default: newest */final/ under the output dir)",
        metavar="[NAME=]PATH",
        repeatable=True,
    ),
    Option(
        "--jarvis-primary",
        "jarvis_primary",
        None,
        "the adapter the statistics, chart and gate describe (default: the newest)",
        metavar="NAME",
    ),
    Option("--jarvis-gate-all", None, False, "gate every adapter, not only the primary one", flag_only=True),
    Option(
        "--jarvis-output-dir",
        "jarvis_output_dir",
        "output",
        "where training runs live; searched for */final/ adapters",
        metavar="DIR",
    ),
    Option("--jarvis-trust-remote-code", None, False, "allow model code from the hub (off by default)", flag_only=True),
    Option(
        "--jarvis-max-new-tokens",
        "jarvis_max_new_tokens",
        "64",
        "new tokens per answer (greedy)",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--jarvis-batch-size",
        "jarvis_batch_size",
        "auto",
        "prompts per generate call, or auto (halves on out-of-memory)",
        parse_batch_size,
        metavar="N|auto",
    ),
    Option(
        "--jarvis-assert",
        "jarvis_assert",
        "no-regression",
        f"what each per-prompt test asserts: {ASSERT_HELP}",
        parse_assert,
        metavar="POLICY",
    ),
    Option("--jarvis-reports", "jarvis_reports", "reports", "folder for results and reports", metavar="DIR"),
    Option(
        "--jarvis-log-to",
        "jarvis_log_to",
        None,
        "also log the run's scores and reports to an experiment tracker you have: mlflow | wandb | mlflow,wandb "
        "(configured as usual: MLFLOW_TRACKING_URI, WANDB_PROJECT...)",
        parse_trackers,
        metavar="TRACKER",
    ),
    Option(
        "--jarvis-history",
        "jarvis_history",
        None,
        "file every full run appends one line to, for `jarvis-evals history` (default: <reports>/history.jsonl; "
        "'none' turns it off)",
        metavar="FILE",
    ),
    Option(
        "--jarvis-cache-dir",
        "jarvis_cache_dir",
        None,
        "generation cache folder (default: the user cache dir)",
        metavar="DIR",
    ),
    Option("--jarvis-no-cache", None, False, "neither read nor write the generation cache", flag_only=True),
    Option(
        "--jarvis-prompt-format",
        "jarvis_prompt_format",
        None,
        "how the tools reach the model: system-text (listed in the system prompt) | native-tools "
        "(function schemas through the chat template or the server's tools); default: the suite's",
        parse_prompt_format,
        metavar="system-text|native-tools",
    ),
    Option(
        "--jarvis-no-shared-prefix",
        None,
        False,
        "compute the shared system prompt in every row instead of once per batch (slower; no rounding difference)",
        flag_only=True,
    ),
    Option(
        "--jarvis-quick",
        None,
        False,
        "one case per category, short answers, reports in <reports>/quick",
        flag_only=True,
    ),
    Option(
        "--jarvis-limit",
        None,
        None,
        "take only the first N cases of each selected category",
        parse_positive_int,
        metavar="N",
    ),
    Option(
        "--jarvis-perturb",
        "jarvis_perturb",
        None,
        "also run speech-recognition variants of the commands and routing cases at these noise levels "
        "(edits per request, 1-3) and report a robustness curve; e.g. 1,2,3",
        parse_noise_levels,
        metavar="LEVELS",
    ),
    Option(
        "--jarvis-perturb-variants",
        "jarvis_perturb_variants",
        "3",
        "variants per case and noise level with --jarvis-perturb",
        parse_positive_int,
        metavar="K",
    ),
    Option(
        "--jarvis-perturb-seed",
        "jarvis_perturb_seed",
        "0",
        "seed of the variants with --jarvis-perturb: the same seed gives the same variants",
        parse_nonnegative_int,
        metavar="N",
    ),
    Option(
        "--jarvis-baseline",
        "jarvis_baseline",
        "reports/baseline.json",
        "baseline results the gate compares with",
        metavar="PATH",
    ),
    Option("--jarvis-save-baseline", None, False, "bless this run: write (or replace) the baseline", flag_only=True),
    Option(
        "--jarvis-save-baseline-partial",
        None,
        False,
        "allow blessing a partial run (quick, -k, --jarvis-limit, one category); it gates only what it covers",
        flag_only=True,
    ),
    Option(
        "--jarvis-require-baseline",
        None,
        False,
        "fail the gate when there is no baseline, or it lacks a selected case",
        flag_only=True,
    ),
    Option(
        "--jarvis-accept-baseline-mismatch",
        None,
        False,
        "compare with a baseline made on another model, quantization, settings or suite (said in every report)",
        flag_only=True,
    ),
    Option(
        "--jarvis-tolerance",
        "jarvis_tolerance",
        "0.02",
        "allowed drop of mean relevance vs the baseline (absolute)",
        parse_tolerance,
        metavar="X",
    ),
    Option(
        "--jarvis-min-gain",
        "jarvis_min_gain",
        None,
        "fail when the relative relevance gain over the base arm is below X (0.10 or 10%%)",
        parse_min_gain,
        metavar="X",
    ),
    Option(
        "--jarvis-gate-mode",
        "jarvis_gate_mode",
        "tolerance",
        "tolerance | significant (also fail a significant drop within the tolerance)",
        parse_gate_mode,
        metavar="MODE",
    ),
    Option(
        "--jarvis-backend",
        "jarvis_backend",
        "hf",
        "who answers: hf (transformers in process) | openai (an OpenAI-compatible server: vLLM, SGLang...)",
        parse_backend,
        metavar="hf|openai",
    ),
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
OPENAI_ONLY = (
    "--jarvis-base-url",
    "--jarvis-served-base",
    "--jarvis-served-adapter",
    "--jarvis-concurrency",
    "--jarvis-request-timeout",
    "--jarvis-api-key-env",
)
# What the server decides with --jarvis-backend=openai: given on the command line, they are a mistake.
HF_ONLY = ("--jarvis-model", "--jarvis-quant", "--jarvis-adapter", "--jarvis-trust-remote-code", "--jarvis-batch-size")


def add_options(parser: pytest.Parser) -> None:
    """Declare every option in one group; defaults come from ini."""
    group = parser.getgroup("jarvis", "jarvis-evals benchmark")
    for opt in OPTIONS:
        dest = opt.flag.lstrip("-").replace("-", "_")
        if opt.flag_only:
            group.addoption(opt.flag, action="store_true", default=False, dest=dest, help=opt.help)
        else:
            kwargs: dict[str, Any] = {"dest": dest, "default": None, "help": opt.help, "metavar": opt.metavar}
            if opt.parse is not None:
                kwargs["type"] = opt.parse
            if opt.repeatable:
                kwargs["action"] = "append"
            group.addoption(opt.flag, **kwargs)
        if opt.ini and opt.repeatable:
            parser.addini(opt.ini, help=opt.help, type="linelist", default=[])
        elif opt.ini:
            parser.addini(opt.ini, help=opt.help, default=opt.default)
    parser.addini(
        "jarvis_category_tolerances",
        type="linelist",
        default=[],
        help="per-category tolerances, one 'category=value' per line",
    )


@dataclass(frozen=True)
class EvalConfig:
    """Every setting of a benchmark run, resolved and validated."""

    suite: Path | None = None
    model: str = "embedded"
    quant: str = "4bit"
    adapters: tuple[AdapterSpec, ...] = ()  # empty: the newest */final/ under output_dir
    primary: str | None = None
    gate_all: bool = False
    output_dir: Path = Path("output")
    trust_remote_code: bool = False
    max_new_tokens: int = 64
    batch_size: str = "auto"
    assert_policy: AssertPolicy = AssertPolicy()
    reports_dir: Path = Path("reports")
    history: Path | None = None  # None: no history is kept
    log_to: tuple[str, ...] = ()  # experiment trackers (evals.loggers.TRACKERS)
    cache_dir: Path | None = None
    use_cache: bool = True
    shared_prefix: bool = True
    prompt_format: str | None = None  # None: the suite's prompt_format
    quick: bool = False
    limit: int | None = None
    perturb: tuple[int, ...] = ()  # noise levels of speech-recognition variants; () runs the suite as written
    perturb_variants: int = 3
    perturb_seed: int = 0
    baseline: Path = Path("reports/baseline.json")
    save_baseline: bool = False
    save_baseline_partial: bool = False
    require_baseline: bool = False
    accept_baseline_mismatch: bool = False
    tolerance: float = 0.02
    category_tolerances: Mapping[str, float] = field(default_factory=dict)
    min_gain: float | None = None
    gate_mode: str = "tolerance"
    # --jarvis-backend=openai: the server answers; model is then the served base and quant "server".
    backend: str = "hf"
    base_url: str | None = None
    served_adapters: tuple[ServedAdapter, ...] = ()
    concurrency: int = 8
    request_timeout: float = 300.0
    api_key_env: str | None = None  # the variable's name: the key itself is never stored

    def adapter_specs(self) -> tuple[AdapterSpec, ...]:
        """Return the adapters to evaluate: those given, else the newest complete */final/ (none: empty).

        With a server, the served adapters, their served name standing in for the folder.
        """
        if self.backend == "openai":
            return tuple(AdapterSpec(s.label, Path(s.name)) for s in self.served_adapters)
        if self.adapters:
            return self.adapters
        from evals.models import find_latest_adapter

        newest = find_latest_adapter(self.output_dir)
        return (AdapterSpec(default_adapter_name(newest), newest),) if newest is not None else ()

    def gate_config(self) -> GateConfig:
        """Return how strict the gate is for this run."""
        return GateConfig(
            tolerance=self.tolerance,
            category_tolerances=dict(self.category_tolerances),
            min_gain=self.min_gain,
            mode=self.gate_mode,
            require_baseline=self.require_baseline,
            baseline_path=str(self.baseline),
            blessing=self.save_baseline,
            accept_mismatch=self.accept_baseline_mismatch,
        )


def read_config(config: pytest.Config) -> EvalConfig:
    """Read options (command line first, then ini, then defaults) into one EvalConfig.

    Relative paths from the command line are taken from where pytest was invoked; those
    from the ini file from the rootdir.
    """
    invocation = Path(config.invocation_params.dir)
    root = Path(config.rootpath)
    values: dict[str, Any] = {}
    for opt in OPTIONS:
        dest = opt.flag.lstrip("-").replace("-", "_")
        value = config.getoption(dest)
        base = invocation
        if opt.flag_only:
            values[dest] = bool(value)
            continue
        if value is None:
            base = root  # ini values and defaults are relative to the rootdir, like pytest's cache
        if value is None and opt.ini:
            raw = config.getini(opt.ini)
            if raw not in (None, "", []):
                value = _parse_ini(opt, raw, config)
        if value is None and opt.default is not None:
            value = opt.parse(opt.default) if opt.parse else opt.default
        values[dest] = (value, base)
    try:
        category_tolerances = parse_category_tolerances(config.getini("jarvis_category_tolerances"))
    except argparse.ArgumentTypeError as exc:
        import pytest

        raise pytest.UsageError(
            f"ini option jarvis_category_tolerances in {config.inipath or 'the ini file'}: {exc}; fix it there"
        ) from None

    def path(dest: str) -> Path | None:
        value, base = values[dest]
        return None if value is None else (base / Path(value).expanduser())

    def plain(dest: str) -> Any:
        return values[dest][0]

    quick = values["jarvis_quick"]
    reports = path("jarvis_reports") or Path("reports")
    model = plain("jarvis_model")
    if model not in (None, "embedded"):
        model_base = values["jarvis_model"][1]
        candidate = model_base / Path(model).expanduser()
        model = str(candidate) if candidate.exists() else model
    settings = EvalConfig(
        suite=path("jarvis_suite"),
        model=model or "embedded",
        quant=plain("jarvis_quant"),
        adapters=_adapter_specs(values["jarvis_adapter"]),
        primary=plain("jarvis_primary"),
        gate_all=values["jarvis_gate_all"],
        output_dir=path("jarvis_output_dir") or Path("output"),
        trust_remote_code=values["jarvis_trust_remote_code"],
        max_new_tokens=min(plain("jarvis_max_new_tokens"), QUICK_MAX_NEW_TOKENS)
        if quick
        else plain("jarvis_max_new_tokens"),
        batch_size=plain("jarvis_batch_size"),
        assert_policy=plain("jarvis_assert"),
        reports_dir=reports / "quick" if quick else reports,
        history=None
        if str(plain("jarvis_history") or "").lower() == "none"
        else (path("jarvis_history") or reports / "history.jsonl"),
        log_to=plain("jarvis_log_to") or (),
        cache_dir=path("jarvis_cache_dir"),
        use_cache=not values["jarvis_no_cache"],
        shared_prefix=not values["jarvis_no_shared_prefix"],
        prompt_format=plain("jarvis_prompt_format"),
        quick=quick,
        limit=1 if quick else plain("jarvis_limit"),
        perturb=plain("jarvis_perturb") or (),
        perturb_variants=plain("jarvis_perturb_variants"),
        perturb_seed=plain("jarvis_perturb_seed"),
        baseline=path("jarvis_baseline") or Path("reports/baseline.json"),
        save_baseline=values["jarvis_save_baseline"] or values["jarvis_save_baseline_partial"],
        save_baseline_partial=values["jarvis_save_baseline_partial"],
        require_baseline=values["jarvis_require_baseline"],
        accept_baseline_mismatch=values["jarvis_accept_baseline_mismatch"],
        tolerance=plain("jarvis_tolerance"),
        category_tolerances=category_tolerances,
        min_gain=plain("jarvis_min_gain"),
        gate_mode=plain("jarvis_gate_mode"),
        backend=plain("jarvis_backend"),
        base_url=plain("jarvis_base_url"),
        concurrency=plain("jarvis_concurrency"),
        request_timeout=plain("jarvis_request_timeout"),
        api_key_env=plain("jarvis_api_key_env"),
    )
    return _with_backend(settings, config, plain("jarvis_served_base"), plain("jarvis_served_adapter"))


def _parse_ini(opt: Option, raw: Any, config: pytest.Config) -> Any:
    if opt.parse is None:
        return raw
    try:
        return opt.parse(raw)
    except argparse.ArgumentTypeError as exc:
        import pytest

        # A value refused where a variable's name goes may be the secret itself: never repeat it.
        secret = opt.parse is parse_env_name
        given = [o for o in (config.option.override_ini or []) if o.split("=", 1)[0].strip() == opt.ini]
        if given:  # -o jarvis_x=... : the value came from the command line, not from the ini file
            shown = f"{opt.ini}=…" if secret else given[-1]
            raise pytest.UsageError(f"option -o {shown}: {exc}; fix the value given with -o") from None
        raise pytest.UsageError(
            f"ini option {opt.ini} = {'…' if secret else repr(raw)} in {config.inipath or 'the ini file'}: {exc}; "
            f"fix it there or pass {opt.flag}"
        ) from None


# --- adapters -------------------------------------------------------------------------


@dataclass(frozen=True)
class AdapterSpec:
    """One adapter to evaluate: the name its arm, tests and reports use, and its folder."""

    name: str
    path: Path


_NAME_CHARS = re.compile(r"[^A-Za-z0-9_.-]+")
RESERVED_NAMES = frozenset({"base"})


def default_adapter_name(path: Path) -> str:
    """Name an adapter after its training run: ``output/<run>/final`` -> ``<run>``, else its folder."""
    folder = path.parent if path.name == "final" and path.parent.name else path
    return _NAME_CHARS.sub("-", folder.name).strip("-") or "adapter"


def _natural_key(path: Path) -> list[tuple[int, int | str]]:
    return [(0, int(part)) if part.isdigit() else (1, part) for part in re.split(r"(\d+)", str(path)) if part]


def parse_adapter_entry(entry: str, base: Path) -> list[AdapterSpec]:
    """Read one ``--jarvis-adapter`` value: ``PATH``, ``NAME=PATH`` or a glob of adapter folders."""
    name, sep, raw = entry.partition("=")
    if not sep:
        name, raw = "", entry
    name, raw = name.strip(), raw.strip()
    if name and (_NAME_CHARS.search(name) or name in RESERVED_NAMES):
        raise argparse.ArgumentTypeError(
            f"adapter name {name!r} in {entry!r}: use letters, digits, '.', '_' or '-', and not 'base'"
        )
    if any(ch in raw for ch in "*?["):
        pattern = str(base / Path(raw).expanduser())
        # Numbers compare as numbers: checkpoint-500 after checkpoint-90 (training order), not before it.
        matches = sorted(
            (Path(p) for p in glob.glob(pattern) if (Path(p) / "adapter_config.json").is_file()), key=_natural_key
        )
        if not matches:
            raise argparse.ArgumentTypeError(f"no adapter folder (with adapter_config.json) matches {raw!r}")
        if name and len(matches) > 1:
            raise argparse.ArgumentTypeError(
                f"{entry!r} names {len(matches)} adapters {name!r}: drop NAME= to name each after its folder"
            )
        return [AdapterSpec(name or default_adapter_name(m), m) for m in matches]
    path = base / Path(raw).expanduser()
    return [AdapterSpec(name or default_adapter_name(path), path)]


def _adapter_specs(value: tuple[Any, Path]) -> tuple[AdapterSpec, ...]:
    entries, base = value
    if not entries:
        return ()
    specs: list[AdapterSpec] = []
    for entry in [entries] if isinstance(entries, str) else entries:
        try:
            specs += parse_adapter_entry(str(entry), base)
        except argparse.ArgumentTypeError as exc:
            import pytest

            raise pytest.UsageError(f"--jarvis-adapter: {exc}") from None
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.name in seen and seen[spec.name] != spec.path:
            import pytest

            raise pytest.UsageError(
                f"--jarvis-adapter: two adapters are named {spec.name!r} ({seen[spec.name]} and {spec.path}): "
                "name them with NAME=PATH"
            )
        seen[spec.name] = spec.path
    return tuple(dict.fromkeys(specs))


# --- served models (--jarvis-backend=openai) ---------------------------------------------


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
    if label and (_NAME_CHARS.search(label) or label in RESERVED_NAMES):
        raise argparse.ArgumentTypeError(
            f"label {label!r} in {entry!r}: use letters, digits, '.', '_' or '-', and not 'base'"
        )
    label = label or default_adapter_name(Path(name))
    if label in RESERVED_NAMES:
        raise argparse.ArgumentTypeError(f"{entry!r} would be an arm named 'base': label it, e.g. tuned={name}")
    return ServedAdapter(label, name)


def _with_backend(settings: EvalConfig, config: pytest.Config, served_base: str | None, served: Any) -> EvalConfig:
    """Check the options against ``--jarvis-backend`` and fill in what a server run records.

    Options of the other backend given on the command line are a usage error (in the ini file they
    are project defaults and simply don't apply). With a server, ``model`` is the served base,
    ``quant`` "server", and the adapters are the served ones.
    """
    import dataclasses

    import pytest

    server = settings.backend == "openai"
    others = HF_ONLY if server else OPENAI_ONLY
    given = [flag for flag in others if config.getoption(flag.lstrip("-").replace("-", "_")) not in (None, False)]
    if given:
        if server:
            raise pytest.UsageError(
                f"{', '.join(given)}: not with --jarvis-backend=openai, where the server decides the model, its "
                "quantization and batching; name the served models with --jarvis-served-base and --jarvis-served-adapter"
            )
        raise pytest.UsageError(f"{', '.join(given)}: only with --jarvis-backend=openai")
    if not server:
        return settings
    entries = [served] if isinstance(served, str) else list(served or [])
    missing = [
        need
        for need, value in (
            ("--jarvis-base-url URL (the server's API root, e.g. http://127.0.0.1:8000/v1)", settings.base_url),
            ("--jarvis-served-base NAME (the model name the server serves the base under)", served_base),
            ("--jarvis-served-adapter [LABEL=]NAME (the fine-tuned model as served)", entries),
        )
        if not value
    ]
    if missing:
        raise pytest.UsageError(f"--jarvis-backend=openai needs {'; '.join(missing)}")
    adapters: list[ServedAdapter] = []
    for entry in entries:
        try:
            adapter = parse_served_adapter(str(entry))
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"--jarvis-served-adapter: {exc}") from None
        clash = next((a for a in adapters if a.label == adapter.label and a.name != adapter.name), None)
        if clash is not None:
            raise pytest.UsageError(
                f"--jarvis-served-adapter: two served models are labelled {adapter.label!r} ({clash.name} and "
                f"{adapter.name}): write LABEL=NAME"
            )
        if adapter not in adapters:
            adapters.append(adapter)
    return dataclasses.replace(
        settings, model=str(served_base), quant="server", adapters=(), served_adapters=tuple(adapters)
    )
