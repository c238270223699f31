"""The options read into one object: ``read_config`` builds an ``EvalConfig`` from pytest's config.

Nothing else in the package calls ``getoption``/``getini``: the rest of the code receives an
``EvalConfig`` (as given) and the run plan resolved from it (``evals.plan``). The common options
are declared in ``evals.options``, each backend's own in its module (``evals.backends``); their
value parsers are in ``evals.parsers``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from evals.adapters import AdapterSpec, default_adapter_name, parse_adapter_entry  # noqa: F401 (re-exported)
from evals.backends.base import backend_entry, backend_help, registered_backends
from evals.backends.builtin import BUILTIN  # noqa: F401 (registers the built-in backends)
from evals.gate.baseline import DEFAULT_BASELINE_PATH
from evals.gate.rules import GateConfig
from evals.options import DEFAULT_MAX_NEW_TOKENS, OPTIONS, Option
from evals.parsers import parse_category_tolerances, parse_env_name
from evals.policy import AssertPolicy
from evals.suite import SHIPPED_SUITES


def all_options() -> tuple[Option, ...]:
    """The common options, then each registered backend's own, in registration order."""
    backend = Option(**{**OPTIONS_BY_FLAG["--jarvis-backend"].__dict__, "help": backend_help()})
    common = tuple(backend if o.flag == "--jarvis-backend" else o for o in OPTIONS)
    return common + tuple(o for entry in registered_backends().values() for o in entry.options)


OPTIONS_BY_FLAG = {o.flag: o for o in OPTIONS}


def add_options(parser: pytest.Parser) -> None:
    """Declare every option in one group; defaults come from ini."""
    group = parser.getgroup("jarvis", "jarvis-evals benchmark")
    for opt in all_options():
        dest = opt.dest
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
    adapters: tuple[AdapterSpec, ...] = ()  # empty: the newest */final/ under output_dir (the plan finds it)
    primary: str | None = None
    gate_all: bool = False
    output_dir: Path = Path("output")
    trust_remote_code: bool = False
    max_new_tokens: int = DEFAULT_MAX_NEW_TOKENS  # as given; quick mode's clamp is the plan's (evals.plan)
    batch_size: str = "auto"
    decoding: str = "greedy"
    samples: int = 1
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    seed: int = 0
    probe: bool = True
    near_tie: float = 1.0
    gate_margin: float | None = None
    assert_policy: AssertPolicy = AssertPolicy()
    reports_dir: Path = Path("reports")  # as given; quick mode's subfolder is the plan's
    history: Path | None = None  # None: no history is kept
    log_to: tuple[str, ...] = ()  # experiment trackers (evals.loggers.TRACKERS)
    cache_dir: Path | None = None
    use_cache: bool = True
    shared_prefix: bool = True
    prompt_format: str | None = None  # None: the suite's prompt_format
    quick: bool = False
    limit: int | None = None  # --jarvis-limit as given; quick mode's 1 is the plan's
    perturb: tuple[int, ...] = ()  # noise levels of speech-recognition variants; () runs the suite as written
    perturb_variants: int = 3
    perturb_seed: int = 0
    baseline: Path = Path(DEFAULT_BASELINE_PATH)
    save_baseline: bool = False
    save_baseline_partial: bool = False
    require_baseline: bool = False
    accept_baseline_mismatch: bool = False
    tolerance: float = 0.02
    category_tolerances: Mapping[str, float] = field(default_factory=dict)
    min_gain: float | None = None
    gate_mode: str = "tolerance"
    gate_metric: str = "relevance"
    false_activation_tolerance: float = 0.0
    # Who answers (a registered backend) and its own options' values, parsed, by Option.dest.
    backend: str = "hf"
    backend_options: Mapping[str, Any] = field(default_factory=dict)

    def gate_config(self) -> GateConfig:
        """Return how strict the gate is for this run."""
        return GateConfig(
            tolerance=self.tolerance,
            category_tolerances=dict(self.category_tolerances),
            min_gain=self.min_gain,
            mode=self.gate_mode,
            metric=self.gate_metric,
            false_activation_tolerance=self.false_activation_tolerance,
            margin_tolerance=self.gate_margin,
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
    for opt in all_options():
        dest = opt.dest
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
        raise pytest.UsageError(
            f"ini option jarvis_category_tolerances in {config.inipath or 'the ini file'}: {exc}; fix it there"
        ) from None

    def path(dest: str) -> Path | None:
        value, base = values[dest]
        return None if value is None else (base / Path(value).expanduser())

    def plain(dest: str) -> Any:
        return values[dest][0]

    reports = path("jarvis_reports") or Path("reports")
    model = plain("jarvis_model")
    if model not in (None, "embedded"):
        model_base = values["jarvis_model"][1]
        candidate = model_base / Path(model).expanduser()
        model = str(candidate) if candidate.exists() else model
    suite = path("jarvis_suite")
    if suite is not None and not suite.exists() and plain("jarvis_suite") in SHIPPED_SUITES:
        suite = Path(plain("jarvis_suite"))  # a shipped suite's short name (load_suite resolves it)
    settings = EvalConfig(
        suite=suite,
        model=model or "embedded",
        quant=plain("jarvis_quant"),
        adapters=_adapter_specs(values["jarvis_adapter"]),
        primary=plain("jarvis_primary"),
        gate_all=values["jarvis_gate_all"],
        output_dir=path("jarvis_output_dir") or Path("output"),
        trust_remote_code=values["jarvis_trust_remote_code"],
        max_new_tokens=plain("jarvis_max_new_tokens"),
        batch_size=plain("jarvis_batch_size"),
        decoding=plain("jarvis_decoding"),
        samples=plain("jarvis_samples"),
        temperature=plain("jarvis_temperature"),
        top_p=plain("jarvis_top_p"),
        top_k=plain("jarvis_top_k"),
        seed=plain("jarvis_seed"),
        probe=not values["jarvis_no_probe"],
        near_tie=plain("jarvis_near_tie"),
        gate_margin=plain("jarvis_gate_margin"),
        assert_policy=replace(plain("jarvis_assert"), metric=plain("jarvis_gate_metric")),
        reports_dir=reports,
        history=None
        if str(plain("jarvis_history") or "").lower() == "none"
        else (path("jarvis_history") or reports / "history.jsonl"),
        log_to=plain("jarvis_log_to") or (),
        cache_dir=path("jarvis_cache_dir"),
        use_cache=not values["jarvis_no_cache"],
        shared_prefix=not values["jarvis_no_shared_prefix"],
        prompt_format=plain("jarvis_prompt_format"),
        quick=values["jarvis_quick"],
        limit=plain("jarvis_limit"),
        perturb=plain("jarvis_perturb") or (),
        perturb_variants=plain("jarvis_perturb_variants"),
        perturb_seed=plain("jarvis_perturb_seed"),
        baseline=path("jarvis_baseline") or Path(DEFAULT_BASELINE_PATH),
        save_baseline=values["jarvis_save_baseline"] or values["jarvis_save_baseline_partial"],
        save_baseline_partial=values["jarvis_save_baseline_partial"],
        require_baseline=values["jarvis_require_baseline"],
        accept_baseline_mismatch=values["jarvis_accept_baseline_mismatch"],
        tolerance=plain("jarvis_tolerance"),
        category_tolerances=category_tolerances,
        min_gain=plain("jarvis_min_gain"),
        gate_mode=plain("jarvis_gate_mode"),
        gate_metric=plain("jarvis_gate_metric"),
        false_activation_tolerance=plain("jarvis_false_activation_tolerance"),
        backend=plain("jarvis_backend"),
    )
    problem = decoding_problem(settings)
    if problem:
        raise pytest.UsageError(problem)
    return _with_backend(settings, config, {d: v if isinstance(v, bool) else v[0] for d, v in values.items()})


def decoding_problem(settings: EvalConfig) -> str | None:
    """Say why the decoding options contradict each other (sampling settings for a greedy run), or None."""
    if settings.decoding == "sampled":
        return None
    given = [
        flag
        for flag, value in (
            ("--jarvis-samples", settings.samples if settings.samples != 1 else None),
            ("--jarvis-temperature", settings.temperature),
            ("--jarvis-top-p", settings.top_p),
            ("--jarvis-top-k", settings.top_k),
        )
        if value is not None
    ]
    if not given:
        return None
    return (
        f"{', '.join(given)}: sampling settings with greedy decoding (every greedy answer would be the same); "
        "add --jarvis-decoding=sampled"
    )


def _parse_ini(opt: Option, raw: Any, config: pytest.Config) -> Any:
    if opt.parse is None:
        return raw
    try:
        return opt.parse(raw)
    except argparse.ArgumentTypeError as exc:
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


def _adapter_specs(value: tuple[Any, Path]) -> tuple[AdapterSpec, ...]:
    entries, base = value
    if not entries:
        return ()
    specs: list[AdapterSpec] = []
    for entry in [entries] if isinstance(entries, str) else entries:
        try:
            specs += parse_adapter_entry(str(entry), base)
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"--jarvis-adapter: {exc}") from None
    seen: dict[str, Path] = {}
    for spec in specs:
        if spec.name in seen and seen[spec.name] != spec.path:
            raise pytest.UsageError(
                f"--jarvis-adapter: two adapters are named {spec.name!r} ({seen[spec.name]} and {spec.path}): "
                "name them with NAME=PATH"
            )
        seen[spec.name] = spec.path
    return tuple(dict.fromkeys(specs))


def _with_backend(settings: EvalConfig, config: pytest.Config, values: Mapping[str, Any]) -> EvalConfig:
    """Check the options against ``--jarvis-backend`` and let the selected backend read its own.

    Options of another backend, and options the selected one decides itself, given on the command
    line are a usage error (in the ini file they are project defaults and simply don't apply).
    """
    entry = backend_entry(settings.backend)

    def given(flags: Iterable[str]) -> list[str]:
        return [f for f in flags if config.getoption(f.lstrip("-").replace("-", "_")) not in (None, False)]

    refused = given(entry.refuses)
    if refused:
        raise pytest.UsageError(f"{', '.join(refused)}: {entry.refusal}")
    for other in registered_backends().values():
        if other.name != entry.name:
            foreign = given(o.flag for o in other.options)
            if foreign:
                raise pytest.UsageError(f"{', '.join(foreign)}: only with --jarvis-backend={other.name}")
    if entry.configure is None:
        return settings
    own = {o.dest: values.get(o.dest) for o in entry.options}
    try:
        return entry.configure(settings, own)
    except ValueError as exc:
        raise pytest.UsageError(str(exc)) from None
