"""How realistic the speech-recognition noise is (issue 28): a script, not a test.

    PYTHONPATH=. python benchmarks/perturb_realism.py [--draws 300]

1. The plausible share per level of the hand-labelled variants in docs/data/realism_labels.tsv
   (labelled once, before the generator was tuned; see docs/robustness.md for the rule) and in
   docs/data/realism_labels_tuned.tsv (a fresh seed after tuning).
2. Coverage of the suite's ten hand-written corrections: each correction's clean command
   (``intended``) is perturbed ``--draws`` times at level 1 and at level 2 (seeds 0..draws-1);
   a correction is *produced* when one draw equals it (case and accents ignored), and each of
   its edited words is *reached* when some draw contains that word.
"""

from __future__ import annotations

import argparse
import csv
from collections import Counter
from pathlib import Path

from evals.perturb.generator import perturb_case
from evals.perturb.lexicon import load_lexicon
from evals.records import Case
from evals.suite import load_suite

DATA = Path(__file__).parents[1] / "docs" / "data"
# Labelled before tuning (the honest measure), then a fresh seed after tuning (an optimistic one).
LABELS = (DATA / "realism_labels.tsv", DATA / "realism_labels_tuned.tsv")


def plausible_share(path: Path) -> dict[str, tuple[int, int]]:
    rows = list(csv.DictReader((ln for ln in path.open(encoding="utf-8") if not ln.startswith("#")), delimiter="\t"))
    yes, total = Counter(r["level"] for r in rows if r["plausible"] == "yes"), Counter(r["level"] for r in rows)
    return {lv: (yes[lv], total[lv]) for lv in sorted(total)}


def _norm(text: str) -> str:
    return " ".join(text.lower().replace("'", " ").split())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=300)
    args = parser.parse_args()

    for labels in LABELS:
        print(f"plausible share per level ({labels.name}):")
        for level, (yes, total) in plausible_share(labels).items():
            print(f"  level {level}: {yes}/{total} = {yes / total:.0%}")

    lex = load_lexicon()
    fixes = [c for c in load_suite().cases if c.category == "corrections"]
    produced = reached = edited = 0
    print(f"\nthe ten hand-written corrections, {args.draws} draws per level from the clean command:")
    for fix in fixes:
        clean = Case(fix.id, "commands", fix.intended or "", fix.expected_tools, fix.keywords)
        outputs = {_norm(perturb_case(clean, lv, 0, seed, lex).prompt) for lv in (1, 2) for seed in range(args.draws)}
        target = _norm(fix.prompt)
        words = set(target.split()) - set(_norm(clean.prompt).split())
        hit = {w for w in words if any(w in o.split() for o in outputs)}
        produced += target in outputs
        reached += len(hit)
        edited += len(words)
        print(
            f"  {clean.prompt!r:34} → {fix.prompt!r:36} {'produced' if target in outputs else 'not produced':12} "
            f"edited words reached {len(hit)}/{len(words)} {sorted(hit) or ''}"
        )
    print(
        f"corrections produced exactly at levels 1-2: {produced}/{len(fixes)}; edited words reached: {reached}/{edited}"
    )


if __name__ == "__main__":
    main()
