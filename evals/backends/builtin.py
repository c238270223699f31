"""The built-in backends: importing this module registers them, one line each."""

from __future__ import annotations

from evals.backends import hf, served

BUILTIN = (hf.ENTRY, served.ENTRY)
