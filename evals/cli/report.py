"""``jarvis-evals report``: re-render the text, CSV, PNG and HTML reports from a saved results JSON."""

from __future__ import annotations

import argparse
from pathlib import Path

from evals.atomic import check_folder_target
from evals.reports import CSV_NAME, HTML_NAME, JSON_NAME, PNG_NAME, TEXT_NAME, load_results, write_derived

DEFAULT_RESULTS = Path("reports") / JSON_NAME


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"Writes {TEXT_NAME}, {CSV_NAME}, {PNG_NAME} and {HTML_NAME}, the last one a self-contained page "
        "(open it in any browser, offline). The text and CSV of a saved run come out byte for byte."
    )
    parser.add_argument(
        "results",
        nargs="?",
        type=Path,
        default=DEFAULT_RESULTS,
        help=f"the results JSON a run wrote (default: {DEFAULT_RESULTS})",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where to write the text, CSV, PNG and HTML reports (default: the folder of the results JSON)",
    )


def run(args: argparse.Namespace) -> int:
    out_dir = args.out if args.out is not None else args.results.parent
    check_folder_target(out_dir, "--out")  # before any work: one line, not an OSError traceback
    results = load_results(args.results)
    for path in write_derived(results, out_dir):
        print(f"wrote {path}")
    return 0
