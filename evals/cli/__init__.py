"""jarvis-evals: train the demo JARVIS adapter, re-render and compare reports, measure noise, check the set-up.

The benchmark itself runs under pytest (``pytest -m jarvis``); these commands do the rest.
"""

# Each subcommand is a module of this package with ``add_arguments(parser)`` and
# ``run(args) -> int``, imported only when used, so ``jarvis-evals report`` never imports torch.

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from evals.errors import JarvisError

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {}


def register(name: str, module: str, help: str) -> None:
    SUBCOMMANDS[name] = (module, help)


register("train", "evals.cli.train", "fine-tune the demo LoRA adapter on the shipped JARVIS training set")
register("report", "evals.cli.report", "re-render the text, CSV and PNG reports from a saved results JSON")
register("compare", "evals.cli.compare", "compare two saved runs per category and per case")
register("noise", "evals.cli.noise", "generate each arm twice and count answers that differ (the noise floor)")
register(
    "perturb", "evals.cli.perturb", "write a suite of speech-recognition variants (noise levels 1-3) of a suite's cases"
)
register("history", "evals.cli.history", "print the run history and draw relevance per category over runs")
register("check", "evals.cli.check", "check that everything the benchmark needs is installed and readable")
register("validate-metric", "evals.cli.validate_metric", "check the relevance metric against answers you labelled")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jarvis-evals", description=__doc__.splitlines()[0], allow_abbrev=False)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(
            name, help=help_text, description=help_text, allow_abbrev=False
        )  # --out is not --output-dir
        sp.set_defaults(_module=module)
        try:
            importlib.import_module(module).add_arguments(sp)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            sp.set_defaults(_missing=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "_missing", False):
        parser.error(f"'{args.command}' is not available in this version")
    try:
        return int(importlib.import_module(args._module).run(args) or 0)
    except JarvisError as exc:
        print(f"jarvis-evals {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"jarvis-evals {args.command}: interrupted; nothing half-written was kept", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
