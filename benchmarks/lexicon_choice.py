"""How the French lexicon was chosen (issue 28): coverage of the suite's words, load time, memory.

    PYTHONPATH=. python benchmarks/lexicon_choice.py lexique
    pip download --no-deps gruut-lang-fr==2.0.2 && tar xzf gruut_lang_fr-2.0.2.tar.gz
    PYTHONPATH=. python benchmarks/lexicon_choice.py gruut gruut_lang_fr-2.0.2/gruut_lang_fr/lexicon.db

Run each in its own process: the peak memory is the process's.
"""

from __future__ import annotations

import re
import resource
import sqlite3
import sys
import time

from evals.perturb.generator import DEFAULT_CATEGORIES
from evals.perturb.lexicon import load_lexicon
from evals.suite import load_suite


def main() -> None:
    which = sys.argv[1]
    words = {
        w
        for c in load_suite().cases
        if c.category in DEFAULT_CATEGORIES
        for w in re.findall(r"[^\W\d_]+", c.prompt.lower())
    }
    start = time.perf_counter()
    if which == "lexique":
        known = set(load_lexicon().by_ortho)
    else:
        with sqlite3.connect(sys.argv[2]) as db:
            known = {w for (w,) in db.execute("SELECT word FROM word_phonemes")}
    seconds = time.perf_counter() - start
    missing = sorted(words - known)
    print(
        f"{which}: {len(known):,} forms, loaded in {seconds:.2f} s, peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
    )
    print(f"  suite words (commands + routing): {len(words) - len(missing)}/{len(words)} known; missing {missing}")


if __name__ == "__main__":
    main()
