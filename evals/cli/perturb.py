"""``jarvis-evals perturb``: write a suite of speech-recognition variants of a suite's cases.

Each chosen case is kept as its level-0 variant and joined by ``--variants`` noisy variants at
each level; the file loads like any suite (``--jarvis-suite``), and a sample per level is
printed so that a person can judge the noise before trusting a curve built on it.
"""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path
from typing import Any

import yaml

from evals.atomic import atomic_write_text
from evals.parsers import parse_noise_levels, parse_positive_int
from evals.perturb.generator import DEFAULT_CATEGORIES, DEFAULT_LEVELS, noise_version, perturb_cases
from evals.records import CATEGORIES, Case
from evals.suite import SuiteError, default_suite_path, load_suite


def parse_categories(text: str) -> tuple[str, ...]:
    names = tuple(p.strip() for p in text.split(",") if p.strip())
    unknown = [n for n in names if n not in CATEGORIES]
    if not names or unknown:
        raise argparse.ArgumentTypeError(f"{text!r}: use categories among {', '.join(CATEGORIES)}")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--suite", type=Path, default=None, help="suite to perturb (default: the shipped JARVIS suite)")
    parser.add_argument(
        "--categories",
        type=parse_categories,
        default=DEFAULT_CATEGORIES,
        help=f"cases to perturb (default: {','.join(DEFAULT_CATEGORIES)})",
    )
    parser.add_argument(
        "--levels",
        type=parse_noise_levels,
        default=DEFAULT_LEVELS,
        help="noise levels, edits per request (default: 1,2,3)",
    )
    parser.add_argument("--variants", "-k", type=parse_positive_int, default=3, help="variants per case and level")
    parser.add_argument("--seed", type=int, default=0, help="the same seed always writes the same variants")
    parser.add_argument(
        "--out", type=Path, default=Path("reports/perturbed.yaml"), help="suite file to write (default: %(default)s)"
    )
    parser.add_argument("--sample", type=int, default=4, help="variants printed per level (default: %(default)s)")


def suite_document(source: Path, cases: list[Case], seed: int, k: int) -> dict[str, Any]:
    """Return the source suite's YAML with its cases replaced by ``cases`` and a version naming the noise."""
    data = yaml.safe_load(source.read_text(encoding="utf-8"))
    data["name"] = f"{data.get('name') or source.stem}-asr"
    # The version keys baselines and the cache; variants of another seed or K are another suite.
    data["version"] = noise_version(str(load_suite(source).version), seed, k, {c.level or 0 for c in cases})
    data["cases"] = [{k: v for k, v in c.to_dict().items() if v is not None} for c in cases]
    return data


def sample(cases: list[Case], per_level: int) -> dict[int, list[Case]]:
    """Pick ``per_level`` variants per level, spread over the cases (the first variant of every n-th case)."""
    by_level: dict[int, list[Case]] = {}
    for case in cases:
        if case.level and case.variant == 0:
            by_level.setdefault(case.level, []).append(case)
    return {lv: found[:: max(1, len(found) // per_level)][:per_level] for lv, found in sorted(by_level.items())}


class _NoAliases(yaml.SafeDumper):
    """Variants share their source's setup and expect; a suite refuses aliases, so each is written out."""

    def ignore_aliases(self, data: object) -> bool:
        return True


def run(args: argparse.Namespace) -> int:
    source = args.suite or default_suite_path()
    suite = load_suite(source)
    # Variants already in the file (a suite this command wrote) are not perturbed again.
    chosen = [c for c in suite.cases if c.category in args.categories and not c.level]
    if not chosen:
        raise SuiteError(f"suite file {source}: no case in {', '.join(args.categories)}; pass --categories")
    cases = perturb_cases(chosen, args.levels, args.variants, args.seed)
    header = f"# Written by: jarvis-evals perturb --suite {shlex.quote(str(source))} " + (
        f"--categories {','.join(args.categories)} --levels {','.join(map(str, args.levels))} "
        f"--variants {args.variants} --seed {args.seed}\n"
    )
    body = yaml.dump(
        suite_document(Path(source), cases, args.seed, args.variants),
        Dumper=_NoAliases,
        allow_unicode=True,
        sort_keys=False,
        width=120,
    )
    atomic_write_text(args.out, header + body)
    load_suite(args.out)  # what was written must load: fail here rather than in the next run
    noisy = [c for c in cases if c.level]
    print(f"{len(chosen)} cases, {len(noisy)} variants (levels {','.join(map(str, args.levels))}) → {args.out}")
    clean = {c.id: c.prompt for c in chosen}
    for level, picked in sample(cases, args.sample).items():
        print(f"level {level}:")
        for case in picked:
            print(f"  {clean[case.source or case.id]!r:50} → {case.prompt!r}")
    return 0
