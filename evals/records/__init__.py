"""Typed, frozen records that flow through a run: suite -> answers -> scores -> summary -> reports.

- ``suite``: tools, cases and the suite (read from the suite YAML);
- ``scores``: settings, calls, each arm's scores and statistics, keyed by arm, and the
  two-sided views (``ScoredCase``, ``Stats``, ``Summary``: one adapter against the base);
- ``sections``: what later stages add (paired statistics, baseline comparison, gate...);
- ``results``: ``RunResults``, the one record every report and the gate read;
- ``codec``: the one JSON codec (``encode``/``decode``), checked against the annotations;
- ``migrate``: every older file shape read as the current one.
"""

from evals.records.codec import decode, encode
from evals.records.migrate import FORMAT_VERSION
from evals.records.results import BASELINE_SECTIONS, RunResults
from evals.records.scores import (
    BASE_ARM,
    DEFAULT_MAX_NEW_TOKENS,
    NAME_CHARS,
    RESERVED_NAMES,
    ArmScore,
    ArmStats,
    Call,
    CallForm,
    CaseResult,
    GenerationSettings,
    GroupStats,
    PairStats,
    RunMetadata,
    ScoredCase,
    Statistics,
    Stats,
    Summary,
    default_adapter_name,
)
from evals.records.sections import (
    GATE_STATUSES,
    BaselineBlock,
    BaselineComparison,
    CurvePoint,
    CustomCheck,
    EnvironmentChange,
    GateOutcome,
    GateStatus,
    GateViolation,
    Leaderboard,
    LeaderboardRow,
    NoiseExample,
    NoiseFloor,
    PairedBlock,
    PairedStats,
    PowerBlock,
    PowerSection,
    Robustness,
)
from evals.records.suite import (
    CATEGORIES,
    NATIVE_TOOLS,
    PROMPT_FORMATS,
    SYSTEM_TEXT,
    Case,
    Intent,
    Suite,
    Tool,
    ToolsFormat,
)

__all__ = [
    "BASELINE_SECTIONS",
    "BASE_ARM",
    "DEFAULT_MAX_NEW_TOKENS",
    "NAME_CHARS",
    "RESERVED_NAMES",
    "CATEGORIES",
    "FORMAT_VERSION",
    "GATE_STATUSES",
    "NATIVE_TOOLS",
    "PROMPT_FORMATS",
    "SYSTEM_TEXT",
    "ArmScore",
    "ArmStats",
    "BaselineBlock",
    "BaselineComparison",
    "Call",
    "CallForm",
    "Case",
    "CaseResult",
    "CurvePoint",
    "CustomCheck",
    "EnvironmentChange",
    "GateOutcome",
    "GateStatus",
    "GateViolation",
    "GenerationSettings",
    "GroupStats",
    "Intent",
    "Leaderboard",
    "LeaderboardRow",
    "NoiseExample",
    "NoiseFloor",
    "PairStats",
    "PairedBlock",
    "PairedStats",
    "PowerBlock",
    "PowerSection",
    "Robustness",
    "RunMetadata",
    "RunResults",
    "ScoredCase",
    "Statistics",
    "Stats",
    "Suite",
    "Summary",
    "Tool",
    "ToolsFormat",
    "decode",
    "default_adapter_name",
    "encode",
]
