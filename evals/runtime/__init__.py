"""A JARVIS tool runtime: run an answer's parsed calls against a deterministic state, check the result.

Standalone (pure Python, no third-party dependency) and not yet wired into runs: a case's
`setup:` builds a ``State`` (``State.from_setup``), ``execute`` runs the answer's ``Call``s
(``evals.metrics.parse_calls``) through the tools' schemas and effects, and ``check_expect``
compares the state change with the case's `expect:` (``parse_expect`` validates it up front).
See docs/runtime.md.
"""

from evals.runtime.execute import ERROR_KINDS, CallResult, Execution, execute, run_call
from evals.runtime.expect import Expect, ExpectResult, check_expect, parse_expect
from evals.runtime.state import FIELD_KINDS, Message, Reminder, State, Timer, WeatherLookup
from evals.runtime.tools import DEFAULT_STEP, REGISTRY, Registry, ToolError, ToolSpec

__all__ = [
    "DEFAULT_STEP",
    "ERROR_KINDS",
    "FIELD_KINDS",
    "REGISTRY",
    "CallResult",
    "Execution",
    "Expect",
    "ExpectResult",
    "Message",
    "Registry",
    "Reminder",
    "State",
    "Timer",
    "ToolError",
    "ToolSpec",
    "WeatherLookup",
    "check_expect",
    "execute",
    "parse_expect",
    "run_call",
]
