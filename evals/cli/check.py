"""``jarvis-evals check``: what the benchmark needs, whether it is there, and what to do if not.

Each check is a small function returning one ``CheckResult`` (or a few); ``run_checks``
calls them in order and never raises, so a broken install still gets a full table. The
exit status is 1 when any row FAILs; warnings never fail. The machine's checks (Python,
packages, CUDA, bitsandbytes) are in ``evals.cli.check_env``; the inputs' checks (model,
adapter, suite, reports, baseline) here. The options share their declarations with the
pytest plugin's (``evals.options``).

torch, transformers and bitsandbytes are imported inside the checks that need them.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from evals.adapters import find_latest_adapter
from evals.budget import budget_line, measured_rate, shape
from evals.cli.check_env import (  # noqa: F401 (re-exported: the table's rows and the machine's checks)
    FAIL,
    OK,
    STATUSES,
    WARN,
    CheckResult,
    _first_line,
    _from_error,
    check_bitsandbytes,
    check_cuda,
    check_package,
    check_packages,
    check_python,
)
from evals.environment import recorded_versions
from evals.errors import JarvisError
from evals.fingerprints import fingerprint_model, fingerprint_model_v1
from evals.gate import DEFAULT_BASELINE_PATH, load_baseline
from evals.gate.baseline import suite_hash, upgrade_fingerprint
from evals.hfload import QUANT_CHOICES
from evals.models import (
    EMBEDDED_MODEL,
    adapter_base_mismatch,
    embedded_fingerprint,
    embedded_gguf_path,
    embedded_model_dir,
    inspect_adapter,
    is_embedded,
    is_model_dir,
    resolve_model,
)
from evals.options import add_cli_argument
from evals.records import Suite
from evals.reports import JSON_NAME
from evals.suite import DEFAULT_SUITE, load_suite


@dataclass(frozen=True)
class CheckOptions:
    """What the benchmark would use; the same defaults as the pytest options."""

    model: str = "embedded"
    adapter: Path | None = None
    output_dir: Path = Path("output")
    suite: Path | None = None
    reports: Path = Path("reports")
    baseline: Path = Path(DEFAULT_BASELINE_PATH)
    quant: str = "4bit"
    decoding: str = "greedy"
    samples: int = 1

    def __post_init__(self) -> None:
        if self.quant not in QUANT_CHOICES:
            raise ValueError(f"quant must be one of {', '.join(QUANT_CHOICES)}, got {self.quant!r}")


# --- inputs -------------------------------------------------------------------------------


def _offline() -> bool:
    return any(
        os.environ.get(v, "").upper() in {"1", "ON", "YES", "TRUE"} for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    )


def check_model(spec: str | None) -> CheckResult:
    """Check that the base model is there: converted embedded model, a model folder, or a cached hub id."""
    item = "model"
    if is_embedded(spec):
        target = embedded_model_dir()
        if is_model_dir(target):
            return CheckResult(item, OK, f"embedded SmolLM2-135M-Instruct, converted in {target}")
        try:
            gguf = embedded_gguf_path()
        except JarvisError as exc:
            return _from_error(item, exc)
        return CheckResult(item, OK, f"embedded {gguf.name}: will be converted on first run (~20 s) into {target}")
    try:
        resolved = resolve_model(spec)
    except JarvisError as exc:
        return _from_error(item, exc)
    path = Path(resolved)
    if path.is_dir():
        try:
            config = json.loads((path / "config.json").read_text(encoding="utf-8"))
            kind = config.get("model_type", "unknown type") if isinstance(config, dict) else "unknown type"
        except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
            return CheckResult(
                item,
                FAIL,
                f"{path / 'config.json'} is unreadable ({type(exc).__name__ if isinstance(exc, RecursionError) else exc})",
                "re-save the model with save_pretrained",
            )
        return CheckResult(item, OK, f"{path} ({kind})")
    return _check_hub_model(resolved)


def _check_hub_model(repo_id: str) -> CheckResult:
    item = "model"
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(repo_id, "config.json")
    except Exception as exc:  # an invalid repo id raises a validation error
        return CheckResult(
            item,
            FAIL,
            f"'{repo_id}' is not a usable hub id ({_first_line(exc)})",
            "pass a hub id like Qwen/Qwen3-30B-A3B or an existing folder",
        )
    if isinstance(cached, str):
        return CheckResult(item, OK, f"{repo_id} (in the local Hugging Face cache)")
    if _offline():
        return CheckResult(
            item,
            FAIL,
            f"{repo_id} is not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
            f"download it once with network access (`hf download {repo_id}`) or unset HF_HUB_OFFLINE",
        )
    return CheckResult(
        item,
        WARN,
        f"{repo_id} is not in the local Hugging Face cache: will be downloaded; needs network",
        f"run once with network access, or `hf download {repo_id}` beforehand",
    )


def check_adapter(adapter: Path | None, output_dir: Path, model: str | None = "embedded") -> CheckResult:
    """Check the adapter the benchmark would use (given, or the newest under ``output_dir``) against the model."""
    item = "adapter"
    found = ""
    if adapter is None:
        adapter = find_latest_adapter(output_dir)
        if adapter is None:
            return CheckResult(
                item,
                FAIL,
                f"none given and no {output_dir}/*/final/ adapter found",
                "train one with `jarvis-evals train` or pass --adapter",
            )
        found = f" (newest under {output_dir})"
    try:
        info = inspect_adapter(adapter)
    except JarvisError as exc:
        return _from_error(item, exc)
    targets = info.config.get("target_modules")
    if isinstance(targets, (list, tuple)):
        targets = ", ".join(sorted(str(t) for t in targets))
    rank = info.config.get("r", "?")
    detail = f"{info.path}{found}: base {info.base_model}, r={rank}, targets {targets or 'default'}"
    mismatch = adapter_base_mismatch(info, model)
    if mismatch:
        message, certain = mismatch
        fix = "pass the adapter trained for this model (--adapter) or fix --model"
        return CheckResult(item, FAIL if certain else WARN, message, fix)
    return CheckResult(item, OK, detail)


def check_suite(path: Path | None) -> tuple[CheckResult, Suite | None]:
    """Load the suite fully; return the row and the suite (None if it cannot be used)."""
    item = "suite"
    try:
        suite = load_suite(path)
    except JarvisError as exc:
        return _from_error(item, exc), None
    counts = ", ".join(f"{category} {n}" for category, n in suite.counts().items())
    where = f"shipped {DEFAULT_SUITE}" if path is None else str(path)
    return CheckResult(item, OK, f"{suite.name} {suite.version} ({where}): {len(suite.cases)} cases ({counts})"), suite


def check_reports(path: Path) -> CheckResult:
    """Check that reports can be written under ``path`` by creating (and removing) a temporary file."""
    item = "reports"
    fix = "point --jarvis-reports at a folder you can write"
    # A folder that does not exist yet is created by the run: test the nearest existing parent.
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        why = "is a file, not a folder" if existing == path else f"cannot be created: {existing} is a file"
        return CheckResult(item, FAIL, f"{path} {why}", fix)
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".jarvis-check-"):
            pass  # removed on close
    except OSError as exc:
        return CheckResult(item, FAIL, f"{path} is not writable ({exc.strerror or exc})", fix)
    return CheckResult(
        item, OK, f"{path} is writable" if existing == path else f"{path} will be created (in {existing})"
    )


def _setup_identity(model: str | None, quant: str, suite: Suite | None) -> dict[str, str]:
    """Return what a run on this setup would record for the identity fields ``check`` can know."""
    embedded = is_embedded(model)
    out = {
        "model": EMBEDDED_MODEL if embedded else str(model),
        "model_fingerprint": embedded_fingerprint() if embedded else fingerprint_model(str(model)),
        "quantization": quant,
    }
    if suite is not None:
        out.update(suite_name=suite.name, suite_version=suite.version, suite_hash=suite_hash(suite))
    return out


def check_baseline(path: Path, suite: Suite | None, model: str | None = "embedded", quant: str = "4bit") -> CheckResult:
    """Check the blessed baseline against this setup, saying in one line what differs and what the gate will do.

    Absent is a warning; corrupt, for another suite or made on another model or quantization is a
    failure (the gate would refuse it); other package versions are a notice (the gate compares).
    """
    item = "baseline"
    try:
        baseline = load_baseline(path)
    except JarvisError as exc:
        return _from_error(item, exc)
    if baseline is None:
        return CheckResult(
            item,
            WARN,
            f"{path} absent: not gated until you bless one",
            "bless a run with `pytest -m jarvis --jarvis-save-baseline` and commit it",
        )
    detail = f"{path}: suite {baseline.suite}, {len(baseline.cases)} cases" + (" (partial)" if baseline.partial else "")
    identity = baseline.identity
    if suite is not None and (identity.suite_name, identity.suite_version) != (suite.name, suite.version):
        return CheckResult(
            item,
            FAIL,
            f"{detail}, but the suite is {suite.name}@{suite.version}",
            "re-bless with --jarvis-save-baseline",
        )
    try:
        setup = _setup_identity(model, quant, suite)
    except JarvisError as exc:  # the model row says what is wrong with the model
        return CheckResult(item, WARN, f"{detail}; not compared with this setup ({exc})", "fix the model row first")
    upgraded = upgrade_fingerprint(baseline, setup["model_fingerprint"], lambda: fingerprint_model_v1(model))
    identity = (upgraded or baseline).identity
    differ = [
        f"{name.replace('_', ' ')} {getattr(identity, name) or '?'} (baseline) vs {value} (this setup)"
        for name, value in setup.items()
        if name != "suite_hash" and getattr(identity, name) != value
    ]
    if "suite_hash" in setup and identity.suite_hash != setup["suite_hash"] and not differ:
        differ.append("suite content changed without a version bump")
    if differ:
        return CheckResult(
            item,
            FAIL,
            f"{detail}, made on another setup ({'; '.join(differ)}): the gate will refuse it",
            "re-bless with `pytest -m jarvis --jarvis-save-baseline`, or compare anyway with "
            "--jarvis-accept-baseline-mismatch",
        )
    versions = recorded_versions()
    moved = [f"{n} {old} → {versions[n]}" for n, old in baseline.packages.items() if versions.get(n, old) != old]
    if moved:
        return CheckResult(
            item,
            WARN,
            f"{detail}, same model and suite; packages changed since it was blessed ({', '.join(moved)}): "
            "the gate compares the scores and the run reports which answers changed",
            "nothing to do unless the gate fails; re-bless once the new answers are trusted",
        )
    if upgraded is not None:
        detail += "; its older kind of model fingerprint matches this model (re-blessing stores the new one)"
    return CheckResult(item, OK, f"{detail}, same model, quantization and suite: the gate will compare")


# --- all together -------------------------------------------------------------------------


def _unexpected(item: str, exc: Exception) -> CheckResult:
    return CheckResult(
        item,
        FAIL,
        f"the check itself failed: {_first_line(exc)}",
        "report this with the output of `jarvis-evals check`",
    )


def _guarded(item: str, check: Callable[[], CheckResult | list[CheckResult]]) -> list[CheckResult]:
    """Run one check; an unexpected error becomes a FAIL row instead of ending the table."""
    try:
        result = check()
    except Exception as exc:
        return [_unexpected(item, exc)]
    return result if isinstance(result, list) else [result]


def _needs_conversion(model: str | None) -> bool:
    """Return whether the run would convert the embedded model (and so need gguf and the wheel)."""
    try:
        return is_embedded(model) and not is_model_dir(embedded_model_dir())
    except Exception:  # the model row reports what is wrong with the cache folder
        return is_embedded(model)


def run_checks(options: CheckOptions) -> list[CheckResult]:
    """Run every check in table order; never raises."""
    needs_conversion = _needs_conversion(options.model)
    results = _guarded("Python", check_python)
    results += _guarded("packages", lambda: check_packages(needs_conversion))
    results += _guarded("CUDA", check_cuda)
    results += _guarded(f"bitsandbytes {options.quant} layer", lambda: check_bitsandbytes(options.quant))
    results += _guarded("model", lambda: check_model(options.model))
    results += _guarded("adapter", lambda: check_adapter(options.adapter, options.output_dir, options.model))
    try:
        suite_row, suite = check_suite(options.suite)
    except Exception as exc:
        suite_row, suite = _unexpected("suite", exc), None
    results.append(suite_row)
    results += _guarded("reports", lambda: check_reports(options.reports))
    results += _guarded("baseline", lambda: check_baseline(options.baseline, suite, options.model, options.quant))
    if suite is not None:
        results += _guarded("generation", lambda: check_budget(suite, options))
    return results


def check_budget(suite: Suite, options: CheckOptions) -> CheckResult:
    """How many answers a full run generates (``--samples`` multiplies them), and about how long they take."""
    samples = options.samples if options.decoding == "sampled" else 1
    if options.samples > 1 and options.decoding != "sampled":
        return CheckResult(
            "generation",
            FAIL,
            f"--samples {options.samples} with greedy decoding: every answer would be the same",
            "add --decoding sampled, or drop --samples",
        )
    answers = len(suite.cases) * 2 * samples
    line = budget_line(answers, shape(len(suite.cases), 2, samples), measured_rate(options.reports / JSON_NAME))
    return CheckResult("generation", OK, f"{options.decoding}: {line}")


def count(results: Sequence[CheckResult]) -> dict[str, int]:
    return {status: sum(1 for r in results if r.status == status) for status in STATUSES}


def summary_line(results: Sequence[CheckResult]) -> str:
    n = count(results)
    return f"{n[OK]} ok, {n[WARN]} warning{'' if n[WARN] == 1 else 's'}, {n[FAIL]} failed"


def render(results: Sequence[CheckResult]) -> str:
    """Return an aligned table; a row that is not ok gets a second line with what to do."""
    width = max([len("item"), *(len(r.item) for r in results)])
    status_width = max(len(s) for s in ("status", *STATUSES))
    lines = [f"{'item':<{width}}  {'status':<{status_width}}  detail"]
    for r in results:
        lines.append(f"{r.item:<{width}}  {r.status:<{status_width}}  {r.detail}")
        if r.fix and r.status != OK:
            lines.append(f"{'':<{width}}  {'':<{status_width}}  -> {r.fix}")
    lines.append(summary_line(results))
    return "\n".join(lines)


def to_json(results: Sequence[CheckResult]) -> str:
    counts = count(results)
    return json.dumps(
        {"passed": counts[FAIL] == 0, "counts": counts, "checks": [r.to_dict() for r in results]},
        indent=2,
        ensure_ascii=False,
    )


# --- command line -------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The benchmark's own options under short names: the same parsers, defaults and help (evals.options)."""
    add_cli_argument(parser, "--jarvis-model", "--model")
    add_cli_argument(parser, "--jarvis-quant", "--quant")
    add_cli_argument(parser, "--jarvis-adapter", "--adapter", type=Path, metavar="PATH")
    add_cli_argument(parser, "--jarvis-output-dir", "--output-dir", type=Path)
    add_cli_argument(parser, "--jarvis-suite", "--suite", type=Path)
    add_cli_argument(parser, "--jarvis-reports", "--reports", type=Path)
    add_cli_argument(parser, "--jarvis-baseline", "--baseline", type=Path)
    add_cli_argument(parser, "--jarvis-decoding", "--decoding")
    add_cli_argument(parser, "--jarvis-samples", "--samples")
    parser.add_argument("--json", action="store_true", help="print the results as JSON (for CI)")


def options_from_args(args: argparse.Namespace) -> CheckOptions:
    return CheckOptions(
        model=args.model,
        adapter=args.adapter,
        output_dir=args.output_dir,
        suite=args.suite,
        reports=args.reports,
        baseline=args.baseline,
        quant=args.quant,
        decoding=args.decoding,
        samples=args.samples,
    )


def run(args: argparse.Namespace) -> int:
    results = run_checks(options_from_args(args))
    print(to_json(results) if args.json else render(results))
    return 1 if any(r.status == FAIL for r in results) else 0
