"""The end of a run: results -> paired statistics -> baseline comparison -> gate -> reports, baseline.

Called once from ``pytest_sessionfinish``; returns what the terminal summary prints. Every
section is computed here once and travels typed in ``RunResults``; the gate decides in
``evals.gate.evaluate_gate`` alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from evals.config import EvalConfig
from evals.errors import JarvisError
from evals.fingerprints import fingerprint_model_v1
from evals.gate import (
    Baseline,
    GateConfig,
    NoBaseline,
    evaluate_gate,
    evaluate_gate_all,
    load_baseline,
    save_baseline,
)
from evals.gate.baseline import environment_change, upgrade_fingerprint
from evals.history import append_history, record_of
from evals.jsonio import loads_guarded
from evals.loggers import log_run
from evals.margins import margin_section
from evals.models import cache_root
from evals.plan import RunPlan
from evals.power import power_section
from evals.records import NEAR_TIE_NATS, CustomCheck, GateOutcome, NoiseFloor, RunResults, decode
from evals.reports import write_reports
from evals.robustness import robustness_section
from evals.run import EvalRun
from evals.sampling import sampled, stability_section

NOISE_FILE = "noise.json"
PARTIAL_DIR = "partial"


@dataclass
class RunOutcome:
    """What the end of a session produced: the results, the files written, the gate and notes."""

    results: RunResults | None
    written: list[Path] = field(default_factory=list)
    gate: GateOutcome | None = None
    notes: list[str] = field(default_factory=list)
    failed: bool = False  # the run fails whatever the gate says (e.g. mostly empty answers)


# An arm at least this empty is not answering (a reasoning model whose <think> block is still
# open at the token limit, a broken template): its scores would be 0 = 0, not evidence.
EMPTY_SHARE_LIMIT = 0.5


def empty_answers(results: RunResults, config: EvalConfig) -> list[str]:
    """Return one line per arm whose answers are mostly empty, saying what to do."""
    problems = []
    cases = results.pairs()
    n = len(cases)
    for arm, label in (("base", "base"), ("finetuned", "fine-tuned")):
        empty = sum(1 for c in cases if not c.arm(arm).answer.strip())
        if n and empty / n >= EMPTY_SHARE_LIMIT:
            problems.append(
                f"{empty} of {n} {label} answers are empty: nothing was compared; raise --jarvis-max-new-tokens "
                f"(now {config.max_new_tokens}) or turn the model's thinking off (a <think> block still open at "
                "the token limit leaves an empty answer)"
            )
    return problems


def read_noise(config: EvalConfig, results: RunResults) -> NoiseFloor | None:
    """Return the last ``jarvis-evals noise`` measurement when it was made on this model, adapter and quantization."""
    path = config.reports_dir / NOISE_FILE
    try:
        noise = decode(NoiseFloor, loads_guarded(path.read_text(encoding="utf-8")))
    except (OSError, ValueError, KeyError, TypeError, AttributeError, IndexError):  # damaged: no noise floor
        return None
    meta = results.metadata
    same_adapter = Path(noise.adapter).resolve() == Path(meta.adapter).resolve()
    return noise if same_adapter and (noise.model, noise.quantization) == (config.model, meta.quantization) else None


def with_statistics(results: RunResults, gate_config: GateConfig, near_tie: float = NEAR_TIE_NATS) -> RunResults:
    """Add the sections read off the scored cases: paired tests, power, stability, the leaderboard.

    With sampled answers (N > 1) the paired intervals are clustered by case, power is simulated and
    the stability section is filled; with one answer per case every section is as it always was.
    """
    from evals.sampled_power import power_section as sampled_power_section
    from evals.stats import leaderboard, measures, paired_section

    clean = {name: [c for c in results.pairs(name) if not c.case.level] for name in results.adapters}  # not variants
    results = replace(
        results,
        paired={name: paired_section(results.pairs(name)) for name in results.adapters},
        paired_task={
            name: paired_section(results.pairs(name), metric="task_success")
            for name in results.adapters
            if measures(results.pairs(name), "task_success")
        },
        power={
            # Sampled answers: rates are estimates, so power is simulated (evals/sampled_power.py).
            name: (sampled_power_section if sampled(cases) else power_section)(
                cases, gate_config.tolerance, gate_config.category_tolerances
            )
            for name, cases in clean.items()
        },
        stability={
            name: section
            for name in results.adapters
            if (section := stability_section(results.pairs(name), name)) is not None
        },
        margins={
            name: margin
            for name in results.adapters
            if (margin := margin_section(results.pairs(name), near_tie)) is not None
        },
    )
    if len(results.adapters) > 1:
        results = replace(results, leaderboard=leaderboard(results, metric=gate_config.metric))
    return results


def conclude(
    run: EvalRun | None, plan: RunPlan, executed: int, custom_checks: tuple[CustomCheck, ...] = ()
) -> RunOutcome:
    """Build the results of a run, gate them, write the reports; never lose an earlier file."""
    from evals.stats import baseline_section

    notes: list[str] = []
    config = plan.settings  # the reports folder, the token limit... as the plan applies them
    gate_config = config.gate_config()
    if run is None or executed == 0:
        notes.append("no JARVIS case was scored: no report was written, earlier reports are untouched")
        no_evidence = evaluate_gate(None, NoBaseline(str(config.baseline)), gate_config, executed=0)
        return RunOutcome(results=None, gate=no_evidence, notes=notes)

    results = with_statistics(run.results(), gate_config, config.near_tie)
    results = replace(
        results,
        noise=read_noise(config, results),
        custom_checks=custom_checks,
        robustness=robustness_section(results.pairs()),
    )
    problems = empty_answers(results, config)
    if problems:
        results = replace(results, warnings=(*results.warnings, *problems))
        notes.extend(f"error: {p}" for p in problems)
    baseline: Baseline | NoBaseline
    try:
        baseline = load_baseline(config.baseline) or NoBaseline(str(config.baseline))
    except JarvisError as exc:
        baseline = NoBaseline(str(config.baseline), error=str(exc))
        results = replace(results, baseline_error=str(exc))
        if config.save_baseline:  # the asked-for fix: not a gate failure, the file is replaced below
            notes.append(f"baseline {config.baseline} was unreadable; this run replaces it")
        elif not plan.gate_applies:  # no gate line will carry the error
            notes.append(str(exc))
    if isinstance(baseline, Baseline):
        upgraded = upgrade_fingerprint(
            baseline, results.metadata.model_fingerprint, lambda: fingerprint_model_v1(config.model)
        )
        if upgraded is not None:
            baseline = upgraded
            note = (
                f"baseline {config.baseline} holds an older kind of model fingerprint, which matches this model: "
                "compared; re-bless it with --jarvis-save-baseline to store the new one"
            )
            results = replace(results, warnings=(*results.warnings, note))
        results = replace(results, environment=environment_change(baseline, results))
        version = results.metadata.metric_version
        if baseline.metric_version != version:  # compare like with like: score its answers again
            note = (
                f"baseline {config.baseline} was scored with metric version {baseline.metric_version or '?'}: "
                f"re-scored from its answers with version {version}"
            )
            baseline = baseline.rescored(run.suite, version)
            results = replace(results, warnings=(*results.warnings, note))
        elif baseline.rescore or baseline.lacks_task_success(run.suite):
            # A schema-2 file kept only answers and relevance, or a file from before the tool
            # runtime: complete it from its answers.
            baseline = baseline.rescored(run.suite, version)
        compared = results.adapters if config.gate_all else (results.primary,)
        results = replace(
            results,
            baseline_comparison={
                name: baseline_section(results.pairs(name), baseline, metric=gate_config.metric) for name in compared
            },
        )

    gate: GateOutcome | None = None
    if not plan.gate_applies:
        notes.append("quick mode: a smoke check of 1 case per category with short answers; the gate is not applied")
    elif config.gate_all and len(results.adapters) > 1:
        gate = evaluate_gate_all(results, baseline, gate_config, executed=executed)
        results = replace(results, gate=gate)
    else:
        gate = evaluate_gate(results, baseline, gate_config, executed=executed)
        results = replace(results, gate=gate)

    # A partial run never replaces the whole suite's reports: a reader would take 10 cases for 30.
    out_dir = config.reports_dir / PARTIAL_DIR if run.scope and not plan.quick else config.reports_dir
    if out_dir != config.reports_dir:
        notes.append(f"partial run ({run.scope}): reports in {out_dir}; the full run's reports are untouched")
    blessed = False
    try:
        written = write_reports(results, out_dir, kept=rendered_folder(config))
    except (OSError, JarvisError) as exc:
        # The gate's reasons are still printed: a report that cannot be written must not hide why
        # the run failed. Nothing is blessed from a run whose reports are not on disk.
        problem = (
            str(exc)
            if isinstance(exc, JarvisError)
            else f"reports folder {out_dir} cannot be written ({exc.strerror or exc}): "
            "free space, fix its permissions or pass --jarvis-reports DIR"
        )
        notes.append(f"error: {problem}; the previous reports are unchanged")
        if config.save_baseline:
            notes.append(f"baseline not blessed: {config.baseline} is unchanged, because the reports were not written")
        return RunOutcome(results=results, gate=gate, notes=notes, failed=True)
    if config.save_baseline and problems:  # a baseline of empty answers would let anything pass later
        notes.append(f"baseline not blessed: {config.baseline} is unchanged, because the answers were empty")
    elif config.save_baseline:  # explicit request: bless even a worse run, but say so
        if gate is not None and gate.failed and isinstance(baseline, Baseline):
            notes.append("this run fails the gate against the baseline it replaces")
        written.append(save_baseline(results, config.baseline, overwrite=True))
        blessed = True
        notes.append(f"baseline blessed: {config.baseline}")
    for tracker in config.log_to:  # the user's own tracker: a failure is a note, the reports stand
        try:
            notes.append(log_run(results, written, tracker))
        except JarvisError as exc:
            notes.append(f"error: {exc}")
    if config.history is not None and not run.scope and not plan.quick and not problems:
        try:  # a trend point is a convenience: never fail the run for it
            append_history(config.history, record_of(results, blessed=blessed))
            notes.append(f"history: one line appended to {config.history} (`jarvis-evals history` draws the trend)")
        except JarvisError as exc:
            notes.append(str(exc))
    return RunOutcome(results=results, written=written, gate=gate, notes=notes, failed=bool(problems))


def cache_folder(config: EvalConfig) -> Path | None:
    """The folder of the generation cache and of what is kept beside it; None with --jarvis-no-cache."""
    if not config.use_cache:
        return None
    return Path(config.cache_dir).expanduser() if config.cache_dir else cache_root()


def rendered_folder(config: EvalConfig) -> Path | None:
    """Where charts and tables drawn before are kept (beside the generation cache); None with --jarvis-no-cache."""
    folder = cache_folder(config)
    return folder / "rendered" if folder is not None else None
