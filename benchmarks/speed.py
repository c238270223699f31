"""Measure the speed and memory goals of jarvis-evals on the embedded model, as ratios from one run.

    python benchmarks/speed.py [--adapter PATH] [--peer-venv DIR] [--profile] [--sequential]

Timed runs keep Python's bytecode cache (an untimed collection fills it first), as a user's runs
after the first do. Every number comes from this machine in this run; nothing is asserted (machines are noisy): the
script prints each measurement, its ratio, the goal and whether it is met, and writes
benchmarks/results.json. The README's speed table is this output.

- cold run: ``pytest -m jarvis`` on the whole suite, empty generation cache (both arms, every report),
  the embedded model converted and quantized before (once per machine, as for a user's second run:
  evals/quantized.py); its model loading, from the run's metadata;
- the routing probe and drift (issue 26): the cold run again with ``--jarvis-no-probe``, and a new
  adapter (the given one's LoRA x 0.9) on the cold run's cache, with and without them;
- cached re-run: the same with every answer cached; a third, untimed, run under ``-X importtime``
  says whether it imported torch or transformers;
- harness overhead: the cold run's wall time less model loading and generation;
- peak RSS of a process generating both arms vs one generating the base alone (no peft wrapper);
- with ``--peer-venv``: lm-evaluation-harness 0.4.13 (installed in that virtualenv, see
  ../shared/peers/lm_eval or docs/speed.md) on the same 30 prompts, NF4 double quant, fp32 compute,
  batch 30, 64 greedy tokens: two invocations (base, then ``peft=ADAPTER``); its answers are
  compared with the cold run's, one by one, and for each that differs benchmarks/divergence.py
  gives the first token where the two part, the logit gap there and the float-order noise measured
  at that position (a gap within it is a near tie, explained by rounding);
- with ``--profile``: one more cold run under cProfile, its top entries by own time, and its time
  by phase (``PHASES``: start-up, loading, generation, probe, drift, scoring, reports, gc), which
  shows where the harness overhead goes.
"""

from __future__ import annotations

import argparse
import cProfile
import glob
import io
import json
import os
import platform
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORKER = Path(__file__).resolve().parent / "arm_worker.py"
PEER = Path(__file__).resolve().parent / "peer"
QUIET = {"JARVIS_EVALS_NO_PROGRESS": "1", "NO_COLOR": "1"}
# Timed runs write and read Python's bytecode cache, as a user's runs do after the first (pytest keeps
# its assertion-rewritten modules there too): a machine that sets PYTHONDONTWRITEBYTECODE would
# otherwise recompile ~200 modules in every timed run (about 1.3 s here).
RUN_ENV = {k: v for k, v in {**os.environ, **QUIET}.items() if k != "PYTHONDONTWRITEBYTECODE"}


def worker(mode: str, adapter: Path, max_new_tokens: int, batch: str) -> dict:
    out = subprocess.run(
        [sys.executable, str(WORKER), mode, str(adapter), str(max_new_tokens), batch],
        cwd=ROOT, capture_output=True, text=True, check=True, env={**os.environ, **QUIET},
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def jarvis_args(adapter: Path, reports: Path, cache: Path | None, max_new_tokens: int) -> list[str]:
    args = ["-m", "jarvis", "-q", "-p", "no:cacheprovider", f"--jarvis-adapter={adapter}", f"--jarvis-reports={reports}",
            "--jarvis-assert=none", f"--jarvis-max-new-tokens={max_new_tokens}"]  # fmt: skip
    return [*args, f"--jarvis-cache-dir={cache}" if cache else "--jarvis-no-cache"]


def scaled_adapter(adapter: Path, out: Path, scale: float) -> Path:
    """A copy of ``adapter`` with every lora_B times ``scale``: another adapter on the same base."""
    from safetensors.torch import load_file, save_file

    shutil.copytree(adapter, out)
    weights = out / "adapter_model.safetensors"
    tensors = load_file(weights)
    save_file({k: v * scale if "lora_B" in k else v for k, v in tensors.items()}, weights, metadata={"format": "pt"})
    return out


def pytest_run(args: list[str], python_flags: tuple[str, ...] = ()) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, *python_flags, "-m", "pytest", *args], cwd=ROOT, capture_output=True, text=True,
        env=RUN_ENV,
    )  # fmt: skip
    return time.perf_counter() - start, done.stderr


def results_of(reports: Path) -> dict:
    return json.loads((reports / "benchmark_results.json").read_text(encoding="utf-8"))


def heavy_imports(importtime_stderr: str) -> list[str]:
    """The heavy packages a run imported, read from ``-X importtime`` lines ("import time: ... | name")."""
    names = {
        line.rsplit("|", 1)[-1].strip() for line in importtime_stderr.splitlines() if line.startswith("import time:")
    }
    return sorted(p for p in ("torch", "transformers", "peft", "bitsandbytes", "matplotlib", "numpy") if p in names)


def peer_run(venv: Path, adapter: Path, cold: dict, work: Path) -> dict:
    """Time lm-evaluation-harness on the same prompts; compare its answers with the cold run's."""
    from evals.models import resolve_model
    from evals.suite import load_suite

    suite = load_suite()
    nf4 = work / "model-nf4"
    subprocess.run([str(venv / "bin" / "python"), str(PEER / "prequantize.py"), str(resolve_model(None)), str(nf4)],
                   check=True, capture_output=True, text=True)  # fmt: skip
    prompts = work / "prompts.jsonl"
    prompts.write_text("".join(json.dumps({"prompt": c.prompt}, ensure_ascii=False) + "\n" for c in suite.cases))
    env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "TMPDIR": str(work)}
    done = subprocess.run(["bash", str(PEER / "run_peer.sh"), str(nf4), str(adapter), str(prompts), suite.system_prompt],
                          capture_output=True, text=True, env=env, check=True)  # fmt: skip
    line = done.stdout.strip().splitlines()[-1]
    found = re.search(r"base ([\d.]+) s, lora ([\d.]+) s, total ([\d.]+) s\s+\(logs in (\S+)\)", line)
    if found is None:
        raise SystemExit(f"run_peer.sh printed no timing: {line}")
    logs = Path(found.group(4))
    tuned = cold["metadata"]["primary"]
    ours = {r["case"]["prompt"]: (r["arms"]["base"]["answer"], r["arms"][tuned]["answer"]) for r in cold["results"]}
    same = total = 0
    differing: list[dict[str, str]] = []
    for arm, index in (("base", 0), ("ft", 1)):
        (samples,) = glob.glob(str(logs / arm / "**" / "samples_jarvis_peer_*.jsonl"), recursive=True)
        for row in map(json.loads, Path(samples).read_text(encoding="utf-8").splitlines()):
            prompt = row["doc"]["prompt"]
            theirs = row["resps"][0][0].strip()
            total += 1
            if theirs == ours[prompt][index].strip():
                same += 1
            else:
                differing.append({"arm": arm, "prompt": prompt, "ours": ours[prompt][index].strip(), "theirs": theirs})
    return {
        "base_s": float(found.group(1)), "lora_s": float(found.group(2)), "total_s": float(found.group(3)),
        "identical_answers": same, "answers": total, "differing": first_divergences(adapter, differing),
    }  # fmt: skip


def first_divergences(adapter: Path, differing: list[dict[str, str]]) -> list[dict]:
    """Where each differing answer parts from the peer's, and the logit gap there (benchmarks/divergence.py)."""
    if not differing:
        return []
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve().parent / "divergence.py"), str(adapter)], cwd=ROOT,
        input="".join(json.dumps(d, ensure_ascii=False) + "\n" for d in differing), capture_output=True, text=True,
        check=True, env={**os.environ, **QUIET},
    )  # fmt: skip
    found = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return [{**d, **f} for d, f in zip(differing, found, strict=True)]


def profile_run(args: list[str], out: Path, top: int = 15) -> list[str]:
    """One cold run in this process under cProfile: the top entries by own time."""
    import pytest

    os.environ.update(QUIET)
    cwd = os.getcwd()
    os.chdir(ROOT)
    profiler = cProfile.Profile()
    try:
        profiler.runcall(pytest.main, args)
    finally:
        os.chdir(cwd)
    profiler.dump_stats(out)
    text = io.StringIO()
    pstats.Stats(str(out), stream=text).sort_stats("tottime").print_stats(top)
    body = text.getvalue().splitlines()
    start = next(i for i, line in enumerate(body) if line.lstrip().startswith("ncalls"))
    return [line for line in body[start : start + top + 1] if line.strip()]


# Where a cold run's time goes, read from its profile: (label, file suffix, function), cumulative seconds.
# Indented phases are part of the phase above them; "the rest" is pytest.main less the top-level phases
# (those starting neither with a space nor with "(").
PHASES: tuple[tuple[str, str, str], ...] = (
    ("pytest start-up: options, plugins, conftest", "_pytest/config/__init__.py", "_prepareconfig"),
    ("collection", "_pytest/main.py", "perform_collect"),
    ("model loading (HFBackend.load, its imports included)", "evals/backends/hf.py", "load"),
    ("  tokenizer (transformers' import first)", "evals/hfload.py", "load_tokenizer"),
    ("  base from its quantized copy (bitsandbytes' import first)", "evals/quantized.py", "load_embedded"),
    ("  adapter (peft's import first)", "evals/backends/hf.py", "attach_adapters"),
    ("generation (BatchGenerator calls)", "evals/backends/hf.py", "__call__"),
    ("routing probe", "evals/backends/hf.py", "probe"),
    ("drift", "evals/backends/hf.py", "drift"),
    ("scoring (EvalRun.score)", "evals/run.py", "score"),
    ("  cosine (scikit-learn, its import included)", "evals/run.py", "ensure_similarities"),
    ("  lemmas (simplemma, its dictionaries included)", "evals/metrics/text.py", "_lemma"),
    ("reports (write_reports)", "evals/reports/__init__.py", "write_reports"),
    ("  PNG at 300 DPI (matplotlib's import included)", "evals/reports/rendered.py", "png"),
    ("  SVG charts", "evals/reports/rendered.py", "svg"),
    # Counted where it falls (the collection after loading is inside loading), so not in the sum.
    ("(across phases) explicit gc.collect: after loading, pytest's at exit", "~", "<built-in method gc.collect>"),
)


def phases(profile: Path) -> list[tuple[str, float]]:
    """Cumulative seconds of each of ``PHASES`` in a profile, and the rest of ``pytest.main``."""
    stats = pstats.Stats(str(profile)).stats  # type: ignore[attr-defined]

    def cumulative(suffix: str, function: str) -> float:
        return sum(v[3] for (f, _, name), v in stats.items() if name == function and f.endswith(suffix))

    total = cumulative("_pytest/config/__init__.py", "main")
    found = [(label, cumulative(suffix, function)) for label, suffix, function in PHASES]
    rest = total - sum(seconds for label, seconds in found if not label.startswith((" ", "(")))
    return [("pytest.main, the whole run", total), *found, ("the rest", rest)]


def verdict(value: float, goal: float, higher_is_better: bool = False) -> str:
    return "met" if (value >= goal if higher_is_better else value <= goal) else "NOT met"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA folder (default: newest output/*/final)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--peer-venv", type=Path, default=None, help="virtualenv with lm_eval[hf]==0.4.13")
    parser.add_argument("--profile", action="store_true", help="profile one more cold run (cProfile)")
    parser.add_argument("--sequential", action="store_true", help="also time one prompt at a time (slow)")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from evals.adapters import find_latest_adapter
    from evals.models import resolve_model

    adapter = (
        args.adapter or find_latest_adapter(ROOT / "output") or sys.exit("no adapter: run `jarvis-evals train`")
    ).resolve()
    resolve_model(None)  # convert once, outside every timing
    tokens = args.max_new_tokens
    rows: list[tuple[str, str, str, str]] = []
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "adapter": str(adapter),
        "command": " ".join(["python", "benchmarks/speed.py", *sys.argv[1:]]),
    }
    work = Path(tempfile.mkdtemp(prefix="jarvis-bench-"))
    phase_rows: list[tuple[str, float]] = []  # with --profile
    try:
        cache = work / "cache"  # empty: the first run is cold and fills it
        pytest_run(["-m", "jarvis", "--collect-only", "-q", "-p", "no:cacheprovider"])  # untimed: bytecode cached
        cold_wall, _ = pytest_run(jarvis_args(adapter, work / "cold", cache, tokens))
        # The same cold run without the routing probe and drift (issue 26): what they add.
        bare_wall, _ = pytest_run(
            [*jarvis_args(adapter, work / "bare", work / "bare-cache", tokens), "--jarvis-no-probe"]
        )
        # The usual release check: a new adapter on a base whose answers, probes and drift answers are
        # cached (the cold run's), with and without the probe and drift, each from its own copy of that cache.
        other = scaled_adapter(adapter, work / "new-adapter", 0.9)
        for name in ("new-probe", "new-bare"):
            shutil.copytree(cache, work / f"{name}-cache")
        new_wall, _ = pytest_run(jarvis_args(other, work / "new-probe", work / "new-probe-cache", tokens))
        new_bare_wall, _ = pytest_run(
            [*jarvis_args(other, work / "new-bare", work / "new-bare-cache", tokens), "--jarvis-no-probe"]
        )
        warm_wall, _ = pytest_run(jarvis_args(adapter, work / "warm", cache, tokens))
        _, importtime = pytest_run(jarvis_args(adapter, work / "imports", cache, tokens), ("-X", "importtime"))
        cold, warm = results_of(work / "cold"), results_of(work / "warm")
        meta = cold["metadata"]
        # The harness alone: the run without the probe's and drift's own forward passes.
        bare = results_of(work / "bare")["metadata"]
        overhead = bare_wall - bare["generation_seconds"] - bare["load_seconds"]
        imported = heavy_imports(importtime)
        results.update(
            cold_wall_s=round(cold_wall, 2), cached_wall_s=round(warm_wall, 2), generation_s=meta["generation_seconds"],
            load_s=meta["load_seconds"], generate_calls=meta["n_generate_calls"],
            cached_answers_rerun=warm["metadata"]["n_cached_answers"], harness_overhead_s=round(overhead, 2),
            cached_run_imports=imported,
        )  # fmt: skip
        rows.append(("cold `pytest -m jarvis` (30 prompts x 2 arms, every report)", f"{cold_wall:.1f} s", "", ""))
        extra = cold_wall / bare_wall - 1
        results.update(no_probe_cold_wall_s=round(bare_wall, 2))
        rows.append(
            (
                "routing probe + drift: cold run / cold run with --jarvis-no-probe",
                f"{cold_wall:.1f} / {bare_wall:.1f} s = +{100 * extra:.1f} %",
                "<= +25 %",
                verdict(extra, 0.25),
            )
        )
        extra_new = new_wall / new_bare_wall - 1
        results.update(new_adapter_wall_s=round(new_wall, 2), new_adapter_no_probe_wall_s=round(new_bare_wall, 2))
        rows.append(
            (
                "  the same for a new adapter on a cached base (the demo's LoRA x 0.9)",
                f"{new_wall:.1f} / {new_bare_wall:.1f} s = +{100 * extra_new:.1f} %",
                "<= +25 %",
                verdict(extra_new, 0.25),
            )
        )
        share = warm_wall / cold_wall
        rows.append(
            (
                "cached re-run / cold run",
                f"{warm_wall:.1f} / {cold_wall:.1f} s = {100 * share:.1f} %",
                "<= 5 %",
                verdict(share, 0.05),
            )
        )
        rows.append(
            (
                "heavy imports in the cached re-run",
                ", ".join(imported) or "none of torch, transformers, peft",
                "no torch, transformers",
                verdict(float("torch" in imported or "transformers" in imported), 0),
            )
        )
        rows.append(
            (
                "model loading in the cold run (imports, base from its quantized copy, adapter)",
                f"{meta['load_seconds']:.1f} s = {100 * meta['load_seconds'] / cold_wall:.0f} % of cold",
                "<= 4 s",
                verdict(meta["load_seconds"], 4.0),
            )
        )
        rows.append(
            (
                "harness overhead (cold wall - loading - generation, --jarvis-no-probe)",
                f"{bare_wall:.1f} - {bare['load_seconds']:.1f} - {bare['generation_seconds']:.1f} = {overhead:.1f} s",
                "<= 3 s",
                verdict(overhead, 3.0),
            )
        )
        rows.append(
            (
                "generate calls for 30 prompts x 2 arms",
                str(meta["n_generate_calls"]),
                "2",
                verdict(meta["n_generate_calls"], 2),
            )
        )

        both = worker("both", adapter, tokens, "auto")
        base_only = worker("base-only", adapter, tokens, "auto")
        rss = both["peak_rss_mb"] / base_only["peak_rss_mb"]
        results.update(peak_rss_both_mb=both["peak_rss_mb"], peak_rss_base_only_mb=base_only["peak_rss_mb"])
        rows.append(
            (
                "peak RSS both arms / base only",
                f"{both['peak_rss_mb']:.0f} / {base_only['peak_rss_mb']:.0f} MB = {rss:.3f}x",
                "<= 1.15x",
                verdict(rss, 1.15),
            )
        )

        if args.sequential:
            sequential = worker("both", adapter, tokens, "1")
            speedup = sequential["seconds"] / both["seconds"]
            results.update(batched_s=both["seconds"], sequential_s=sequential["seconds"])
            rows.append(
                (
                    "one prompt at a time / batched",
                    f"{sequential['seconds']:.1f} / {both['seconds']:.1f} s = {speedup:.1f}x",
                    "",
                    "",
                )
            )

        if args.peer_venv:
            peer = peer_run(args.peer_venv.resolve(), adapter, cold, work)
            results["lm_eval"] = peer
            ratio = peer["total_s"] / cold_wall
            rows.append(
                (
                    "lm-eval 0.4.13 (2 invocations) / cold `pytest -m jarvis`",
                    f"{peer['total_s']:.1f} / {cold_wall:.1f} s = {ratio:.2f}x",
                    ">= 2.5x",
                    verdict(ratio, 2.5, higher_is_better=True),
                )
            )
            rows.append(
                (
                    "identical answers, lm-eval vs jarvis-evals",
                    f"{peer['identical_answers']}/{peer['answers']}",
                    "all",
                    verdict(peer["answers"] - peer["identical_answers"], 0),
                )
            )

        if args.profile:
            top = profile_run(jarvis_args(adapter, work / "profiled", None, tokens), work / "cold.prof")
            results["profile_top_tottime"] = top
            phase_rows = phases(work / "cold.prof")
            results["profile_phases_s"] = {label.strip(): round(seconds, 2) for label, seconds in phase_rows}
    finally:
        shutil.rmtree(work, ignore_errors=True)

    print(f"jarvis-evals speed on {results['machine']} (embedded SmolLM2-135M, NF4, {tokens} new tokens)")
    print(f"command: {results['command']}")
    width = max(len(r[0]) for r in rows)
    for name, value, goal, met in rows:
        print(f"  {name:<{width}}  {value}" + (f"   goal {goal}: {met}" if goal else ""))
    for d in results.get("lm_eval", {}).get("differing", []):
        print(
            f"    differs: {d['arm']} {d['prompt']!r} at token {d['position']}: ours {d['ours']!r}, lm-eval {d['theirs']!r}; "
            f"logit gap {d['gap']:+.4f}, float-order noise {d['noise']:.4f}: "
            + ("explained (a near tie)" if d["explained"] else "NOT explained by rounding")
        )
    if "profile_top_tottime" in results:
        print("cold run under cProfile, top entries by own time:")
        for line in results["profile_top_tottime"]:
            print(f"  {line}")
        print("the same run by phase (cumulative seconds under cProfile, which slows Python code more than torch's):")
        for label, seconds in phase_rows:
            print(f"  {label:<84} {seconds:6.1f} s")
    out = Path(__file__).resolve().parent / "results.json"
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
