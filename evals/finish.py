"""End of a session: results -> paired statistics -> gate -> reports (+ baseline when asked).

Called once from ``pytest_sessionfinish``; returns what the terminal summary prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from evals.config import EvalConfig
from evals.errors import JarvisError
from evals.records import RunResults

BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


@dataclass
class Outcome:
    results: RunResults | None
    written: list[Path] = field(default_factory=list)
    gate: Any = None
    notes: list[str] = field(default_factory=list)


def gate_config(config: EvalConfig) -> Any:
    from evals.gate import GateConfig

    return GateConfig(
        tolerance=config.tolerance,
        category_tolerances=dict(config.category_tolerances),
        min_gain=config.min_gain,
        mode=config.gate_mode,
        require_baseline=config.require_baseline,
        baseline_path=str(config.baseline),
    )


def read_noise(config: EvalConfig, results: RunResults) -> dict[str, Any] | None:
    """Return the last ``jarvis-evals noise`` measurement when it was made on this model, adapter and quantization."""
    import json

    from evals.noise import NOISE_FILE

    path = config.reports_dir / NOISE_FILE
    try:
        noise = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    meta = results.metadata
    same = (noise.get("model"), noise.get("adapter"), noise.get("quantization")) == (config.model, meta.adapter, meta.quantization)
    return noise if isinstance(noise, dict) and same else None


def finish_run(run: Any, config: EvalConfig, executed: int) -> Outcome:
    """Build the results of a run, gate them, write the reports; never lose an earlier file."""
    from evals.baseline import load_baseline, save_baseline
    from evals.gate import evaluate_gate
    from evals.stats import baseline_section, paired_section

    notes: list[str] = []
    if run is None or executed == 0:
        gate = evaluate_gate(None, None, gate_config(config), executed=0)
        notes.append("no JARVIS case was scored: no report was written, earlier reports are untouched")
        return Outcome(results=None, gate=gate, notes=notes)

    results = run.results()
    extras: dict[str, Any] = {"paired": paired_section(results.results, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)}
    if run.warnings:
        extras["warnings"] = list(run.warnings)
    noise = read_noise(config, results)
    if noise is not None:
        extras["noise"] = noise
    try:
        baseline = load_baseline(config.baseline)
    except JarvisError as exc:
        baseline = None
        extras["baseline_error"] = str(exc)
        if config.save_baseline:  # the asked-for fix: not a gate failure, the file is replaced below
            notes.append(f"baseline {config.baseline} was unreadable; this run replaces it")
        elif config.quick:  # no gate line will carry the error
            notes.append(str(exc))
    if baseline is not None:
        extras["baseline_comparison"] = baseline_section(results.results, baseline, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
    results = replace(results, extras=extras)

    if config.quick:
        gate = None
        notes.append("quick mode: a smoke check of 1 case per category with short answers; the gate is not applied")
    elif "baseline_error" in extras and not config.save_baseline:
        from evals.gate import GateOutcome

        reason = f"gate: {extras['baseline_error']}"  # one line, like every other gate reason
        gate = GateOutcome(status="failed", mode=config.gate_mode, baseline=str(config.baseline), reasons=[reason], violations=[])
    else:
        gate = evaluate_gate(results, baseline, gate_config(config), executed=executed)
    if gate is not None:
        results = replace(results, extras={**results.extras, "gate": gate.to_dict()})

    from evals.reports import write_reports

    try:
        written = write_reports(results, config.reports_dir)
    except OSError as exc:
        raise JarvisError(
            f"reports folder {config.reports_dir} is not writable ({exc.strerror or exc}): "
            "pass --jarvis-reports DIR with a writable folder"
        ) from None
    if config.save_baseline:  # explicit request: bless even a worse run, but say so
        if gate is not None and gate.failed and baseline is not None:
            notes.append("this run fails the gate against the baseline it replaces")
        written.append(save_baseline(results, config.baseline, overwrite=True))
        notes.append(f"baseline blessed: {config.baseline}")
    return Outcome(results=results, written=written, gate=gate, notes=notes)


def summary_lines(results: RunResults | None, gate: Any, written: list[Path], notes: list[str]) -> list[str]:
    """Return the lines of the terminal summary: table, verdict, paired stats, gate, files."""
    lines: list[str] = []
    if results is not None:
        from evals.tables import terminal_summary_lines

        lines.extend(terminal_summary_lines(results))
        paired = results.extras.get("paired", {}).get("global")
        if paired:
            lines.append(
                f"paired relevance diff (fine-tuned - base): {paired['mean_diff']:+.3f} "
                f"95% CI [{paired['ci_low']:+.3f}, {paired['ci_high']:+.3f}], sign test p={paired['sign_test_p']:.3g} "
                f"({'significant' if paired['significant'] else 'not significant'} at 5%)"
            )
        meta = results.metadata
        lines.append(
            f"{len(results.results)} cases, {meta.n_generate_calls} generate calls, "
            f"{meta.n_cached_answers} answers from cache, generation {meta.generation_seconds:.1f}s"
        )
        lines.extend(f"warning: {w}" for w in results.extras.get("warnings", ()))
    if gate is not None:
        if gate.status != "no_baseline":
            lines.append(f"gate: {gate.status.upper()} ({gate.mode} mode, baseline {gate.baseline})")
        lines.extend(gate.reasons)  # one line per broken rule, each starting with "gate: "
    lines.extend(f"note: {n}" for n in notes)
    lines.extend(f"report: {p}" for p in written)
    return lines
