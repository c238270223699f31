"""How the cost of a run grows with the suite: cases, samples and collection, measured in one run.

    python benchmarks/scaling.py [--sizes 30,100,300] [--no-samples] [--no-probe] [--adapter PATH]
                                 [--max-new-tokens 64] [--collect-sizes 30,300,3000] [--collect-repeats 3]
                                 [--collect-only] [--out PATH]

Synthetic suites of N cases cycle the shipped suite's 30 cases (evals/suites/jarvis.yaml): the first
30 are the shipped cases as written, each later copy has its own id (``<id>__r<k>``) and a request
made distinct by a prefix and a suffix from two short lists (``jarvis, ... merci``; 100
combinations per case, then a number), with the case's expected tools, keywords and expectations
kept, so every prompt differs and scoring works. They are written to a temporary folder, one flow
mapping per case as in the shipped file, and run with ``--jarvis-suite=PATH``.

- collection: ``pytest -m jarvis --collect-only -q`` for 30, 300 and 3,000 cases, best of three
  (goal: 3,000 in <= 5 s); one more collection of the largest, under ``-X importtime``, says
  whether collecting imported torch, transformers, peft or bitsandbytes (it must not load the model);
- runs: ``pytest -m jarvis`` per size in ``--sizes`` (default 30, 100, 300), greedy, one answer per
  case and arm, each cold (an empty generation cache of its own, written as a first run writes it),
  with its own reports folder and no baseline. Wall time, CPU time and peak RSS come from a fresh
  wrapper process per run (RUSAGE_CHILDREN: the pytest process alone); loading, generation, answers
  and tokens from the run's benchmark_results.json. 3,000 cases x 2 arms take about 40 min on 2
  cores: opt in with ``--sizes 30,100,300,3000``;
- samples (``--no-samples`` skips them): the 30-case suite with ``--jarvis-decoding=sampled``,
  ``--jarvis-samples=1`` and ``=5``, seed 0: the cost of one more sample;
- fits: least-squares lines of wall and generation time over cases; generation seconds per answer
  at the largest size over the smallest (1 when linear), the wall's marginal cost per case of the
  last step over the first, the cost per extra sample, and peak RSS at the largest size over the
  smallest. Time is linear when such a ratio is within 1 +- 0.20 (LINEAR_TOLERANCE), and the goal,
  at most linear, is a ratio <= 1.20; RSS is flat within 1.15x.

Runs keep the defaults a user gets: the routing probe (per case) and drift (a fixed set of neutral
prompts per adapter) are on, so the probe is in the slope and drift in the intercept, with loading,
imports and report writing; ``--no-probe`` passes ``--jarvis-no-probe`` to every run. Timed runs
keep Python's bytecode cache, as speed.py's do, and an untimed short run loads the model once
before them. Every number comes from this machine in this run; nothing is asserted (machines are
noisy): the script prints each measurement, its ratio, the goal and whether it is met, with the
load average before and after (CPU time / wall time below about 1.8 on 2 cores means the run
shared them), and writes benchmarks/scaling_results.json. The default run takes about 12 min on 2
quiet cores.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
QUIET = {"JARVIS_EVALS_NO_PROGRESS": "1", "NO_COLOR": "1"}
# As in speed.py: timed runs write and read Python's bytecode cache, as a user's runs do after the first.
RUN_ENV = {k: v for k, v in {**os.environ, **QUIET}.items() if k != "PYTHONDONTWRITEBYTECODE"}
# Runs the command (argv[2:]) with its output in the file argv[1] and prints one JSON line: exit
# status, wall time, CPU time and peak RSS of the process it waited for (RUSAGE_CHILDREN of a fresh parent).
MEASURE = """
import json, resource, subprocess, sys, time
with open(sys.argv[1], "w") as log:
    start = time.perf_counter()
    rc = subprocess.run(sys.argv[2:], stdout=log, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"rc": rc, "wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_mb": usage.ru_maxrss / 1024}))
"""
# Distinct, harmless changes to a request, as (prefix, suffix); k = 0 is ("", ""): the case as shipped.
PREFIXES = ("", "jarvis, ", "s'il te plaît, ", "dis jarvis, ", "bon, ", "alors ", "euh ", "hé jarvis, ", "vas-y, ", "allez, ")  # fmt: skip
SUFFIXES = ("", " s'il te plaît", " merci", " stp", " maintenant", " vite", " tout de suite", " jarvis", " rapidement", " please")  # fmt: skip
HEAVY = ("torch", "transformers", "peft", "bitsandbytes")
LINEAR_TOLERANCE = 0.20  # linear: a per-answer (or per-extra-case) cost within 20 % of the other's
RSS_GOAL = 1.15  # flat: peak RSS at the largest size at most 1.15x the smallest's
LINEAR_GOAL = f"<= {1 + LINEAR_TOLERANCE:.2f}x (at most linear)"
COLLECT_GOAL_CASES, COLLECT_GOAL_S = 3000, 5.0
SAMPLES = (1, 5)
SAMPLE_CASES = 30


class NoAliases(yaml.SafeDumper):
    """Write every value out: a suite refuses YAML aliases, which a dumper emits for shared objects."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def variant(prompt: str, k: int) -> str:
    """The k-th distinct form of a request: k = 0 is the request itself."""
    pairs = len(PREFIXES) * len(SUFFIXES)
    prefix, suffix = PREFIXES[(k % pairs) // len(SUFFIXES)], SUFFIXES[k % len(SUFFIXES)]
    number = f" ({k // pairs + 1})" if k >= pairs else ""
    return f"{prefix}{prompt}{suffix}{number}"


def synthetic_suite(n: int, folder: Path) -> Path:
    """Write a suite of ``n`` cases cycling the shipped 30, each later cycle's requests changed; return its path."""
    from evals.suite import default_suite_path

    shipped = yaml.safe_load(default_suite_path().read_text(encoding="utf-8"))
    base = shipped["cases"]
    cases = []
    for i in range(n):
        k, index = divmod(i, len(base))
        case = copy.deepcopy(base[index])
        if k:
            case["id"] = f"{case['id']}__r{k:03d}"
            case["prompt"] = variant(case["prompt"], k)
        cases.append(case)
    if len({c["prompt"] for c in cases}) != n or len({c["id"] for c in cases}) != n:
        raise SystemExit(f"synthetic suite of {n}: repeated prompts or ids (a bug in variant())")
    head = {**shipped, "name": f"jarvis-scaling-{n}", "version": f"{shipped['version']}-scaling-{n}", "cases": []}
    text = yaml.dump(head, Dumper=NoAliases, allow_unicode=True, sort_keys=False, width=1000)
    flow = {"Dumper": NoAliases, "allow_unicode": True, "sort_keys": False, "width": 10**6, "default_flow_style": True}
    lines = "".join(f"  - {yaml.dump(c, **flow).strip()}\n" for c in cases)  # one line per case, as shipped
    path = folder / f"scaling-{n}.yaml"
    path.write_text(text.replace("cases: []\n", f"cases:\n{lines}"), encoding="utf-8")
    return path


def measured(argv: list[str], log: Path, python_flags: tuple[str, ...] = ()) -> dict:
    """Run ``python [flags] -m pytest ARGV`` in a fresh wrapper: exit status, wall and CPU seconds, peak RSS (MB)."""
    command = [sys.executable, "-c", MEASURE, str(log), sys.executable, *python_flags, "-m", "pytest", *argv]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, env=RUN_ENV, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def collect_args(suite: Path, adapter: Path, reports: Path) -> list[str]:
    return ["-m", "jarvis", "--collect-only", "-q", "-p", "no:cacheprovider", f"--jarvis-suite={suite}",
            f"--jarvis-adapter={adapter}", f"--jarvis-reports={reports}"]  # fmt: skip


def run_args(suite: Path, adapter: Path, work: Path, tokens: int, probe: bool, extra: tuple[str, ...] = ()) -> list[str]:  # fmt: skip
    """A cold ``pytest -m jarvis`` on ``suite``: an empty cache, reports and no baseline, all in ``work``."""
    args = ["-m", "jarvis", "-q", "-p", "no:cacheprovider", f"--jarvis-suite={suite}", f"--jarvis-adapter={adapter}",
            f"--jarvis-reports={work / 'reports'}", f"--jarvis-cache-dir={work / 'cache'}",
            f"--jarvis-baseline={work / 'no-baseline.json'}", "--jarvis-assert=none",
            f"--jarvis-max-new-tokens={tokens}", *extra]  # fmt: skip
    return args if probe else [*args, "--jarvis-no-probe"]


def collected(log: Path) -> int:
    """The number of tests ``--collect-only -q`` selected, read from its last line."""
    found = re.findall(r"(\d+)(?:/\d+)? tests? collected", log.read_text(encoding="utf-8", errors="replace"))
    return int(found[-1]) if found else 0


def heavy_imports(log: Path) -> list[str]:
    """The heavy packages a run imported, read from its ``-X importtime`` lines ("import time: ... | name")."""
    text = log.read_text(encoding="utf-8", errors="replace")
    names = {line.rsplit("|", 1)[-1].strip() for line in text.splitlines() if line.startswith("import time:")}
    return [p for p in HEAVY if p in names]


def collection_row(n: int, suite: Path, adapter: Path, work: Path, repeats: int) -> dict:
    """Collect ``suite`` ``repeats`` times; the fastest counts (the others were slowed by the machine)."""
    print(f"  collecting {n} cases x {repeats} ...", file=sys.stderr, flush=True)
    log = work / f"collect-{n}.log"
    tries = [measured(collect_args(suite, adapter, work / "collect-reports"), log) for _ in range(repeats)]
    best = min(tries, key=lambda t: t["wall_s"])
    return {"cases": n, "tests": collected(log), "best_s": round(best["wall_s"], 2),
            "all_s": [round(t["wall_s"], 2) for t in tries], "peak_rss_mb": round(best["peak_rss_mb"], 1),
            "exit": best["rc"]}  # fmt: skip


def run_row(label: str, n: int, args: list[str], work: Path) -> dict:
    """One cold run; its wall and CPU time and peak RSS, and the figures its results file records."""
    work.mkdir(parents=True)
    log = work / "pytest.log"
    print(f"  running {label} ...", file=sys.stderr, flush=True)
    m = measured(args, log)
    results = work / "reports" / "benchmark_results.json"
    if not results.exists():
        tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
        raise SystemExit(f"{label}: pytest exited {m['rc']} without a results file; its output ends:\n{tail}")
    data = json.loads(results.read_text(encoding="utf-8"))
    meta = data["metadata"]
    gen, load, made, fresh = (meta[k] for k in ("generation_seconds", "load_seconds", "n_new_tokens", "n_fresh_answers"))  # fmt: skip
    row = {
        "label": label, "cases": n, "scored_cases": len(data["results"]), "arms": 1 + len(meta["adapters"]),
        "samples": meta["generation"].get("samples", 1), "exit": m["rc"], "wall_s": round(m["wall_s"], 2),
        "cpu_s": round(m["cpu_s"], 2), "load_s": load, "generation_s": gen,
        "other_s": round(m["wall_s"] - load - gen, 2), "fresh_answers": fresh,
        "cached_answers": meta["n_cached_answers"], "new_tokens": made,
        "tokens_per_s": round(made / gen, 1) if gen else None,
        "generation_s_per_answer": round(gen / fresh, 4) if fresh else None,
        "generate_calls": meta["n_generate_calls"], "peak_rss_mb": round(m["peak_rss_mb"], 1),
        "load_average_after": round(os.getloadavg()[0], 2),
    }  # fmt: skip
    print(f"    {row['wall_s']:.1f} s wall, {gen:.1f} s generation, {row['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return row


def measure(args: argparse.Namespace, adapter: Path) -> dict:
    """Every collection and run the options ask for, in a temporary folder removed afterwards."""
    tokens, probe = args.max_new_tokens, not args.no_probe
    out: dict = {"collection": [], "runs": [], "samples": []}
    work = Path(tempfile.mkdtemp(prefix="jarvis-scaling-"))
    try:
        sizes = sorted({*args.sizes, *args.collect_sizes, SAMPLE_CASES})
        suites = {n: synthetic_suite(n, work) for n in sizes}
        # An untimed collection first fills the bytecode cache, as before speed.py's timed runs.
        measured(collect_args(suites[SAMPLE_CASES], adapter, work / "collect-reports"), work / "warm.log")
        for n in args.collect_sizes:
            out["collection"].append(collection_row(n, suites[n], adapter, work, args.collect_repeats))
        largest = max(args.collect_sizes)
        log = work / "collect-imports.log"
        measured(collect_args(suites[largest], adapter, work / "collect-reports"), log, ("-X", "importtime"))
        out["collection_heavy_imports"] = heavy_imports(log)
        out["collection_wrote_reports"] = (work / "collect-reports").exists()
        if args.collect_only:
            return out
        # Untimed: one short answer per arm loads the model once, so that the first timed run does not
        # pay alone for reading torch's libraries from disk (or for writing the model's 4-bit copy).
        print("  warming up (untimed) ...", file=sys.stderr, flush=True)
        warm = run_args(suites[SAMPLE_CASES], adapter, work / "warm-up", 2, False, ("--jarvis-limit=1",))
        measured(warm, work / "warm-up.log")
        for n in args.sizes:
            folder = work / f"run-{n}"
            out["runs"].append(run_row(f"{n} cases", n, run_args(suites[n], adapter, folder, tokens, probe), folder))
        if not args.no_samples:
            for k in SAMPLES:
                sampled = ("--jarvis-decoding=sampled", f"--jarvis-samples={k}", "--jarvis-seed=0")
                folder = work / f"samples-{k}"
                argv = run_args(suites[SAMPLE_CASES], adapter, folder, tokens, probe, sampled)
                out["samples"].append(run_row(f"{SAMPLE_CASES} cases, sampled N={k}", SAMPLE_CASES, argv, folder))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return out


def fit(xs: list[float], ys: list[float]) -> tuple[float, float]:
    """Least-squares line y = a + b x: (a, b)."""
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def linear(ratio: float) -> str:
    """The verdict on a later/earlier per-unit cost ratio: at most linear is met; sublinear is said."""
    if ratio > 1 + LINEAR_TOLERANCE:
        return "NOT met (superlinear)"
    return "met (linear)" if ratio >= 1 - LINEAR_TOLERANCE else "met (sublinear: cheaper per unit at scale)"


def summarize(results: dict) -> tuple[dict, list[tuple[str, str, str, str]]]:
    """The fitted slopes and ratios of the measured rows, and each goal as (measure, value, goal, verdict)."""
    collection, runs, samples = results["collection"], results["runs"], results["samples"]
    derived: dict = {}
    goals: list[tuple[str, str, str, str]] = []
    big = next((c for c in collection if c["cases"] == COLLECT_GOAL_CASES), None)
    if big:
        goals.append((f"collection of {big['tests']:,} tests ({big['cases']:,} cases, best of {len(big['all_s'])})",
                      f"{big['best_s']:.2f} s", f"<= {COLLECT_GOAL_S:.0f} s",
                      "met" if big["best_s"] <= COLLECT_GOAL_S else "NOT met"))  # fmt: skip
    if collection:
        imported = results["collection_heavy_imports"]
        goals.append((f"heavy imports while collecting {max(c['cases'] for c in collection):,} cases",
                      ", ".join(imported) or f"none of {', '.join(HEAVY)}", "none (no model loaded)",
                      "NOT met" if imported else "met"))  # fmt: skip
    if len(runs) >= 2:
        arms = runs[0]["arms"]
        ns = [float(r["cases"]) for r in runs]
        a, b = fit(ns, [r["wall_s"] for r in runs])
        ga, gb = fit(ns, [r["generation_s"] for r in runs])
        ca, cb = fit(ns, [r["cpu_s"] for r in runs])
        worst = max(abs(r["wall_s"] - (a + b * r["cases"])) / r["wall_s"] for r in runs)
        derived.update(
            wall_fit={"intercept_s": round(a, 2), "s_per_case": round(b, 4), "s_per_case_arm": round(b / arms, 4),
                      "worst_residual_share": round(worst, 3)},
            cpu_fit={"intercept_s": round(ca, 2), "s_per_case": round(cb, 4)},
            generation_fit={"intercept_s": round(ga, 2), "s_per_case": round(gb, 4),
                            "s_per_case_arm": round(gb / arms, 4)},
        )  # fmt: skip
        small, large = runs[0], runs[-1]
        per_answer = large["generation_s_per_answer"] / small["generation_s_per_answer"]
        derived["generation_per_answer_largest_over_smallest"] = round(per_answer, 3)
        goals.append((f"generation s per answer, {large['cases']} / {small['cases']} cases",
                      f"{large['generation_s_per_answer']:.3f} / {small['generation_s_per_answer']:.3f} s = {per_answer:.2f}x",
                      LINEAR_GOAL, linear(per_answer)))  # fmt: skip
        if len(runs) >= 3:
            first = (runs[1]["wall_s"] - runs[0]["wall_s"]) / (runs[1]["cases"] - runs[0]["cases"])
            last = (runs[-1]["wall_s"] - runs[-2]["wall_s"]) / (runs[-1]["cases"] - runs[-2]["cases"])
            derived.update(wall_s_per_extra_case_first_step=round(first, 4), wall_s_per_extra_case_last_step=round(last, 4))  # fmt: skip
            goals.append((f"wall s per extra case, {runs[-2]['cases']}->{runs[-1]['cases']} / {runs[0]['cases']}->{runs[1]['cases']}",
                          f"{last:.3f} / {first:.3f} s = {last / first:.2f}x", LINEAR_GOAL,
                          linear(last / first)))  # fmt: skip
        rss = large["peak_rss_mb"] / small["peak_rss_mb"]
        derived["peak_rss_largest_over_smallest"] = round(rss, 3)
        goals.append((f"peak RSS, {large['cases']} / {small['cases']} cases",
                      f"{large['peak_rss_mb']:.0f} / {small['peak_rss_mb']:.0f} MB = {rss:.3f}x",
                      f"<= {RSS_GOAL}x (flat)", "met" if rss <= RSS_GOAL else "NOT met"))  # fmt: skip
        if max(r["cases"] for r in runs) < COLLECT_GOAL_CASES and b > 0:
            derived["predicted_wall_s_3000_cases"] = round(a + b * COLLECT_GOAL_CASES, 1)
    if len(samples) == 2:
        one, many = samples
        extra = many["samples"] - one["samples"]
        arms = one["arms"]
        per_sample = (many["wall_s"] - one["wall_s"]) / extra
        gen_per_sample = (many["generation_s"] - one["generation_s"]) / extra
        per_answer = many["generation_s_per_answer"] / one["generation_s_per_answer"]
        derived.update(
            wall_s_per_extra_sample=round(per_sample, 2), generation_s_per_extra_sample=round(gen_per_sample, 2),
            generation_s_per_extra_sample_case_arm=round(gen_per_sample / (one["cases"] * arms), 4),
            sampled_generation_per_answer_ratio=round(per_answer, 3),
        )  # fmt: skip
        goals.append((f"generation s per answer, sampled N={many['samples']} / N={one['samples']} ({one['cases']} cases)",
                      f"{many['generation_s_per_answer']:.3f} / {one['generation_s_per_answer']:.3f} s = {per_answer:.2f}x",
                      LINEAR_GOAL, linear(per_answer)))  # fmt: skip
    return derived, goals


def cell(value: object) -> str:
    """A table cell: floats below 10 with two decimals, other floats with one, the rest as they are."""
    if isinstance(value, float):
        return f"{value:>9.2f}" if abs(value) < 10 else f"{value:>9.1f}"
    return f"{value!s:>9}"


def render(results: dict) -> None:
    derived, goals = results["derived"], results["goals"]
    before, after = results["load_average"]["before"], results["load_average"]["after"]
    print(
        f"jarvis-evals scaling on {results['machine']} (embedded SmolLM2-135M, NF4, {results['max_new_tokens']} new "
        f"tokens, probe and drift {'on' if results['probe_and_drift'] else 'off'})"
    )
    print(f"command: {results['command']}")
    print(f"adapter: {results['adapter']}; load average (1 min) before {before:.2f}, after {after:.2f}")
    if results["collection"]:
        print(
            f"collection, `pytest -m jarvis --collect-only -q` (fastest of {len(results['collection'][0]['all_s'])}):"
        )
        print(f"  {'cases':>6} {'tests':>6} {'fastest':>9}  {'every try (s)':<24} {'peak RSS':>9}")
        for c in results["collection"]:
            tries = ", ".join(f"{t:.2f}" for t in c["all_s"])
            print(f"  {c['cases']:>6} {c['tests']:>6} {c['best_s']:>7.2f} s  {tries:<24} {c['peak_rss_mb']:>6.0f} MB")
    rows = [*results["runs"], *results["samples"]]
    if rows:
        print(f"runs, cold, {rows[0]['arms']} arms ('other' = wall - load - generation: probe, drift, scoring, reports, imports;")  # fmt: skip
        print("  'load avg' = the machine's 1-min load average as the run ended):")
        head = ("run", "wall s", "CPU s", "load s", "gen s", "other s", "answers", "tokens", "tok/s", "gen s/ans", "calls", "RSS MB", "load avg")  # fmt: skip
        width = max(len(r["label"]) for r in rows)
        print(f"  {head[0]:<{width}} " + " ".join(f"{h:>9}" for h in head[1:]))
        for r in rows:
            cells = (r["wall_s"], r["cpu_s"], r["load_s"], r["generation_s"], r["other_s"], r["fresh_answers"],
                     r["new_tokens"], r["tokens_per_s"], r["generation_s_per_answer"], r["generate_calls"],
                     r["peak_rss_mb"], r["load_average_after"])  # fmt: skip
            print(f"  {r['label']:<{width}} " + " ".join(cell(c) for c in cells))
        busiest = max([before, after, *(r["load_average_after"] for r in rows)])
        if busiest > results["cores"]:
            print(
                f"  MEASURED UNDER CONTENTION: load average up to {busiest:.1f} on {results['cores']} cores; "
                "every time above includes waiting for the CPU, so slopes and ratios are the machine's as much as the code's"
            )
    if "wall_fit" in derived:
        w, g, c = derived["wall_fit"], derived["generation_fit"], derived["cpu_fit"]
        print(
            f"fit over {', '.join(str(r['cases']) for r in results['runs'])} cases: wall = {w['intercept_s']:.1f} s "
            f"{'-' if w['s_per_case'] < 0 else '+'} {abs(w['s_per_case']):.3f} s/case ({w['s_per_case_arm']:.3f} s per case and arm; worst residual "
            f"{100 * w['worst_residual_share']:.1f} % of wall)\n"
            f"  generation = {g['intercept_s']:.1f} s + {g['s_per_case']:.3f} s/case ({g['s_per_case_arm']:.3f} s per "
            f"case and arm); CPU = {c['intercept_s']:.1f} s + {c['s_per_case']:.3f} s/case"
        )
    if "wall_s_per_extra_sample" in derived:
        one = results["samples"][0]
        print(
            f"per extra sample ({one['cases']} cases x {one['arms']} arms): wall {derived['wall_s_per_extra_sample']:.1f} s, "
            f"generation {derived['generation_s_per_extra_sample']:.1f} s "
            f"({derived['generation_s_per_extra_sample_case_arm']:.3f} s per case, arm and sample)"
        )
    if goals:
        print(f"goals (linear: a per-unit cost ratio within 1 +- {LINEAR_TOLERANCE:.2f}; flat RSS: <= {RSS_GOAL}x):")
        width = max(len(g["measure"]) for g in goals)
        for g in goals:
            print(f"  {g['measure']:<{width}}  {g['value']}   goal {g['goal']}: {g['verdict']}")
    if "predicted_wall_s_3000_cases" in derived:
        sizes = ",".join(str(r["cases"]) for r in results["runs"])
        print(
            f"3,000 cases are opt-in (--sizes {sizes},3000; about 40 min on 2 cores): by the fitted line, "
            f"a 3,000-case run would take {derived['predicted_wall_s_3000_cases'] / 60:.0f} min here"
        )


def sizes_of(text: str) -> list[int]:
    try:
        sizes = sorted({int(s) for s in text.split(",") if s.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of case counts: {text!r}") from None
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError(f"case counts must be >= 1: {text!r}")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=sizes_of, default=[30, 100, 300], help="cases per run (default 30,100,300; 3000 takes ~40 min)")  # fmt: skip
    parser.add_argument("--collect-sizes", type=sizes_of, default=[30, 300, 3000], help="cases per timed collection")
    parser.add_argument("--collect-repeats", type=int, default=3, help="collections per size; the fastest counts")
    parser.add_argument("--no-samples", action="store_true", help="skip the sampled N=1 / N=5 runs")
    parser.add_argument("--no-probe", action="store_true", help="pass --jarvis-no-probe to every run")
    parser.add_argument("--adapter", type=Path, default=None, help="LoRA folder (default: newest output/*/final)")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--collect-only", action="store_true", help="time the collections only (no run)")
    parser.add_argument("--out", type=Path, default=HERE / "scaling_results.json", help="where the results go")
    args = parser.parse_args()
    args.collect_repeats = max(1, args.collect_repeats)
    sys.path.insert(0, str(ROOT))
    from evals.adapters import find_latest_adapter
    from evals.models import resolve_model

    adapter = (
        args.adapter or find_latest_adapter(ROOT / "output") or sys.exit("no adapter: run `jarvis-evals train`")
    ).resolve()
    resolve_model(None)  # convert once, outside every timing
    # A plain kill still removes the temporary folder (measure's finally).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    before = os.getloadavg()[0]
    results: dict = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
        "cores": os.cpu_count() or 1,
        "adapter": str(adapter),
        "command": " ".join(["python", "benchmarks/scaling.py", *sys.argv[1:]]),
        "max_new_tokens": args.max_new_tokens,
        "probe_and_drift": not args.no_probe,
        "linear_tolerance": LINEAR_TOLERANCE,
        "rss_goal": RSS_GOAL,
        **measure(args, adapter),
    }
    results["load_average"] = {"before": round(before, 2), "after": round(os.getloadavg()[0], 2)}
    derived, goals = summarize(results)
    results["derived"] = derived
    results["goals"] = [{"measure": m, "value": v, "goal": g, "verdict": x} for m, v, g, x in goals]
    render(results)
    out = args.out.resolve()
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
