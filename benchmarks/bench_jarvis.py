"""pytest-benchmark timings of jarvis-evals on the embedded model and the newest demo adapter.

    make bench      # pytest -c benchmarks/pytest.ini --benchmark-autosave --benchmark-compare ...

Whole runs are timed once each (pedantic, one round: a cold run takes most of a minute); scoring and
cache look-ups in normal rounds. Each saved run is compared with the previous one on this machine
(.benchmarks/), and the target fails when a mean got more than 25 % slower. The goals themselves
(ratios such as cached/cold) are printed by benchmarks/speed.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def adapter() -> Path:
    from evals.adapters import find_latest_adapter

    found = find_latest_adapter(ROOT / "output")
    if found is None:
        pytest.exit("no adapter under output/: run `jarvis-evals train` first (make bench does)", returncode=4)
    return found


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generation cache for the module: the cold run fills it, the cached run reads it."""
    return tmp_path_factory.mktemp("cache")


def jarvis_run(adapter: Path, reports: Path, cache: Path) -> dict:
    """Run ``pytest -m jarvis`` on the whole suite in a fresh process; return its results JSON."""
    args = [sys.executable, "-m", "pytest", "-m", "jarvis", "-q", "-p", "no:cacheprovider",
            f"--jarvis-adapter={adapter}", f"--jarvis-reports={reports}", f"--jarvis-cache-dir={cache}",
            "--jarvis-assert=none"]  # fmt: skip
    done = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"})
    written = reports / "benchmark_results.json"
    if not written.exists():
        pytest.fail(f"pytest -m jarvis wrote no results (exit {done.returncode}):\n{done.stdout[-3000:]}")
    return json.loads(written.read_text(encoding="utf-8"))


def test_cold_run(benchmark, adapter: Path, cache_dir: Path, tmp_path: Path) -> None:
    """Load the 4-bit model, generate 30 prompts x 2 arms, score, write every report."""
    data = benchmark.pedantic(jarvis_run, args=(adapter, tmp_path / "reports", cache_dir), rounds=1, iterations=1)
    meta = data["metadata"]
    assert meta["n_cached_answers"] == 0 and meta["n_generate_calls"] == 2
    benchmark.extra_info.update(generation_s=meta["generation_seconds"], load_s=meta["load_seconds"])


def test_cached_run(benchmark, adapter: Path, cache_dir: Path, tmp_path: Path) -> None:
    """Every answer from the cache: no model loaded, nothing generated."""
    if not any(cache_dir.iterdir()):  # test_cold_run was deselected: fill the cache first, untimed
        jarvis_run(adapter, tmp_path / "fill", cache_dir)
    data = benchmark.pedantic(jarvis_run, args=(adapter, tmp_path / "reports", cache_dir), rounds=1, iterations=1)
    assert data["metadata"]["n_cached_answers"] == 60 and data["metadata"]["n_generate_calls"] == 0


@pytest.fixture(scope="module")
def answered() -> list:
    """The suite's cases with answers of the kinds the metric meets: a call, a refusal, a recital, an echo."""
    from evals.suite import load_suite

    suite = load_suite()
    kinds = [
        lambda c: f"{c.expected_tools[0]}()",
        lambda c: "Je ne peux pas faire ça.",
        lambda c: ", ".join(t.id for t in suite.tools),
        lambda c: c.prompt.capitalize() + ".",
    ]
    return [
        (suite, case, kinds[i % 4](case), f"C'est fait : {case.expected_tools[0]}.")
        for i, case in enumerate(suite.cases)
    ]


def test_scoring_the_suite(benchmark, answered: list) -> None:
    """Score 30 cases x 2 arms (relevance, valid call, keywords, cosine) and summarize them."""
    from evals.scoring import score_case, summarize

    def score() -> object:
        return summarize([score_case(case, base, tuned, suite) for suite, case, base, tuned in answered])

    summary = benchmark(score)
    assert summary is not None


def test_cache_lookup_of_a_whole_run(benchmark, tmp_path: Path) -> None:
    """Look up 60 answers (30 prompts x 2 arms) in a cache holding a few thousand entries."""
    from evals.cache import CacheContext, CachedAnswer, GenerationCache, entry_key

    context = CacheContext(backend={"model": "sha256:bench"}, generation={"max_new_tokens": 64})
    keys = [entry_key(context, f"arm{i % 50}", "Tu es JARVIS.", f"requête {i}") for i in range(3000)]
    with GenerationCache(tmp_path / "cache.sqlite") as cache:
        cache.put_many({key: CachedAnswer(text=f"réponse {i}", new_tokens=8) for i, key in enumerate(keys)})
        wanted = keys[::50][:60]
        found = benchmark(cache.get_many, wanted)
    assert len(found) == 60
