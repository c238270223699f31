"""``jarvis-evals compare``: what changed between two saved runs, per category and per case."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from evals.atomic import atomic_write_text, check_file_target
from evals.reports import load_results
from evals.reports.compare import compare_runs, render_comparison
from evals.reports.html import render_comparison_html

DEFAULT_OUT = Path("reports") / "comparison.txt"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", type=Path, metavar="A.json", help="the earlier run's results JSON")
    parser.add_argument("run_b", type=Path, metavar="B.json", help="the later run's results JSON")
    parser.add_argument(
        "--out",
        type=Path,
        default=DEFAULT_OUT,
        metavar="FILE",
        help=f"where to write the comparison (default: {DEFAULT_OUT})",
    )
    parser.add_argument(
        "--html",
        type=Path,
        default=None,
        metavar="OUT",
        help="also write the two runs side by side as one self-contained HTML page, "
        "the cases whose fine-tuned relevance flipped first",
    )


def run(args: argparse.Namespace) -> int:
    check_file_target(args.out, "--out")  # before any work: one line, not an OSError traceback
    if args.html is not None:
        check_file_target(args.html, "--html")
    a, b = load_results(args.run_a), load_results(args.run_b)
    comparison = compare_runs(a, b, label_a="A", label_b="B")
    comparison = replace(
        comparison, run_a=f"{args.run_a}: {comparison.run_a}", run_b=f"{args.run_b}: {comparison.run_b}"
    )
    text = render_comparison(comparison)
    print(text, end="")
    print(f"wrote {atomic_write_text(args.out, text)}")
    if args.html is not None:
        page = render_comparison_html(a, b, "A", "B", sources=(str(args.run_a), str(args.run_b)))
        print(f"wrote {atomic_write_text(args.html, page)}")
    return 0
