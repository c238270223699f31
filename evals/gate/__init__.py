"""The CI gate: the blessed baseline file and the rules a run is held to against it."""

from __future__ import annotations

from evals.gate.baseline import DEFAULT_BASELINE_PATH, Baseline, BaselineError, load_baseline, save_baseline
from evals.gate.rules import GATE_MODES, GateConfig, GateConfigError, NoBaseline, evaluate_gate, evaluate_gate_all

__all__ = [
    "DEFAULT_BASELINE_PATH",
    "GATE_MODES",
    "Baseline",
    "BaselineError",
    "GateConfig",
    "GateConfigError",
    "NoBaseline",
    "evaluate_gate",
    "evaluate_gate_all",
    "load_baseline",
    "save_baseline",
]
