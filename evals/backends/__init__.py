"""The backends: the seam and the registry (``evals.backends.base``), re-exported here.

The built-in backends register themselves when ``evals.backends.builtin`` imports them; a new
backend is one module calling ``register_backend`` plus its import line there (a backend outside
this package registers the same way from its own module, loaded with ``-p module``): see
docs/development.md.
"""

from __future__ import annotations

from evals.backends.base import (
    BASE_ARM,
    Answer,
    Arm,
    Backend,
    BackendEntry,
    BackendStats,
    OnAnswers,
    Prompt,
    backend_entry,
    parse_backend,
    register_backend,
    registered_backends,
    unregister_backend,
)

__all__ = [
    "BASE_ARM",
    "Answer",
    "Arm",
    "Backend",
    "BackendEntry",
    "BackendStats",
    "OnAnswers",
    "Prompt",
    "backend_entry",
    "parse_backend",
    "register_backend",
    "registered_backends",
    "unregister_backend",
]
