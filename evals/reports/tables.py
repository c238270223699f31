"""The per-case table of a run: one row per case, as a pandas frame and the CSV pandas writes from it."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from evals.records import ArmScore, Leaderboard, RunResults
from evals.reports.stability import case_unstable, pass_all

if TYPE_CHECKING:  # pandas is imported where a frame is built: not by the terminal summary, nor a cached run
    import pandas as pd

# Columns of the per-case CSV, in order; lists are joined with ';' so a cell stays one value.
COLUMNS: tuple[str, ...] = (
    "id",
    "category",
    "prompt",
    "intended",
    "expected_tools",
    "base_answer",
    "finetuned_answer",
    "keyword_match_base",
    "keyword_match_finetuned",
    "relevance_base",
    "relevance_finetuned",
    "relevance_delta",
    "regression",
    "cosine_similarity",
    "tools_named_base",
    "tools_named_finetuned",
    "echo_base",
    "echo_finetuned",
)
# Appended when the run was scored by metric version 2; calls are ``name(arguments)`` joined by ';'.
VERSION_2_COLUMNS: tuple[str, ...] = (
    "valid_call_base",
    "valid_call_finetuned",
    "refusal_base",
    "refusal_finetuned",
    "recited_base",
    "recited_finetuned",
    "malformed_base",
    "malformed_finetuned",
    "calls_base",
    "calls_finetuned",
)
# Always last: what the answer's calls did in the tool runtime; empty where not measured (a case
# without `expect:`, a results file of an earlier version; ``abstained`` only where nothing should run).
TASK_COLUMNS: tuple[str, ...] = (
    "task_success_base",
    "task_success_finetuned",
    "tool_names_ok_base",
    "tool_names_ok_finetuned",
    "arguments_ok_base",
    "arguments_ok_finetuned",
    "abstained_base",
    "abstained_finetuned",
)

# Appended after those, in sampled runs only (N > 1): the relevance, valid-call and task-success
# columns above then hold each case's rates over its samples. ``pass_all``: every answer scored full
# marks (relevance and, where judged, task success); ``unstable``: some did and some did not.
SAMPLED_COLUMNS: tuple[str, ...] = (
    "samples",
    "base_pass_all",
    "finetuned_pass_all",
    "base_unstable",
    "finetuned_unstable",
)


# Appended last in runs the routing probe measured: each arm's margin (nats) and near-tie flag.
PROBE_COLUMNS: tuple[str, ...] = (
    "routing_margin_base",
    "routing_margin_finetuned",
    "near_tie_base",
    "near_tie_finetuned",
)


def results_rows(results: RunResults) -> tuple[list[str], list[dict[str, object]]]:
    """Return the per-case table: its columns and one row per scored case, every score included."""
    rows: list[dict[str, object]] = [
        {
            "id": c.id,
            "category": c.category,
            "prompt": c.case.prompt,
            "intended": c.case.intended or "",
            "expected_tools": ";".join(c.case.expected_tools),
            "base_answer": c.base.answer,
            "finetuned_answer": c.finetuned.answer,
            "keyword_match_base": c.base.keyword_match,
            "keyword_match_finetuned": c.finetuned.keyword_match,
            "relevance_base": c.base.relevance,
            "relevance_finetuned": c.finetuned.relevance,
            "relevance_delta": c.relevance_delta,
            "regression": c.regression,
            "cosine_similarity": c.cosine_similarity,
            "tools_named_base": ";".join(c.base.tools_named),
            "tools_named_finetuned": ";".join(c.finetuned.tools_named),
            "echo_base": c.base.echo,
            "echo_finetuned": c.finetuned.echo,
            **{f"{key}_{arm}": value for arm in ("base", "finetuned") for key, value in _version_2(c.arm(arm)).items()},
            **{f"{key}_{arm}": getattr(c.arm(arm), key) for arm in ("base", "finetuned") for key in _TASK_FIELDS},
        }
        for c in results.pairs()
    ]
    columns = [*COLUMNS, *VERSION_2_COLUMNS] if results.summary().overall.has_valid_call else list(COLUMNS)
    columns += TASK_COLUMNS
    if results.stability_for() is not None:  # sampled answers only
        columns += SAMPLED_COLUMNS
        for row, c in zip(rows, results.pairs(), strict=True):
            row["samples"] = max(c.base.n_samples, c.finetuned.n_samples)
            for arm in ("base", "finetuned"):
                row[f"{arm}_pass_all"] = pass_all(c.arm(arm))
                row[f"{arm}_unstable"] = case_unstable(c.arm(arm))
    section = results.margins.get(results.primary)
    if section is not None:  # probed runs only: an unprobed run's table is that of every earlier round
        columns += PROBE_COLUMNS
        for row, c in zip(rows, results.pairs(), strict=True):
            for arm in ("base", "finetuned"):
                probe = c.arm(arm).probe
                row[f"routing_margin_{arm}"] = "" if probe is None else round(probe.routing_margin, 4)
                row[f"near_tie_{arm}"] = "" if probe is None else probe.is_near_tie(section.near_tie)
    return columns, rows


_TASK_FIELDS = ("task_success", "tool_names_ok", "arguments_ok", "abstained")


def results_frame(results: RunResults) -> pd.DataFrame:
    """Return the per-case table as a pandas DataFrame, one row per case (the CSV is this frame)."""
    return _frame(*results_rows(results))


def _frame(columns: list[str], rows: list[dict[str, object]]) -> pd.DataFrame:
    import pandas as pd

    # Object columns keep each cell's Python value: an integer column with an empty cell stays integer.
    return pd.DataFrame(rows, columns=columns, dtype=object)


# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...) opens a
# URL, =cmd|... ran programs in old Excel). Answers, prompts and ids come from a model or a
# suite, so such a text cell gets a leading apostrophe, as OWASP advises: shown, never run.
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _inert(value: object) -> object:
    """Return a text cell a spreadsheet will not evaluate; numbers and booleans stay as they are."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA_STARTS) else value


def write_csv(columns: list[str], rows: list[dict[str, object]]) -> str:
    """Write rows as CSV through pandas: minimal quoting, '\n' line ends, no index, empty for None."""
    inert = [{key: _inert(value) for key, value in row.items()} for row in rows]
    return str(_frame(columns, inert).to_csv(index=False, lineterminator="\n", na_rep=""))


def _version_2(arm: ArmScore) -> dict[str, object]:
    calls = ";".join(f"{c.name or c.raw_name}({json.dumps(c.arguments, ensure_ascii=False)})" for c in arm.calls)
    return {
        "valid_call": arm.valid_call,
        "refusal": arm.refusal,
        "recited": arm.recited,
        "malformed": arm.malformed,
        "calls": calls,
    }


def results_csv(results: RunResults) -> str:
    """Return the per-case CSV text (UTF-8, '\\n' line ends, no index column)."""
    return write_csv(*results_rows(results))


LEADERBOARD_COLUMNS: tuple[str, ...] = (
    "rank",
    "name",
    "adapter",
    "n_cases",
    "avg_relevance",
    "avg_keyword_match",
    "avg_valid_call",
    "mean_diff_vs_base",
    "ci_low_vs_base",
    "ci_high_vs_base",
    "sign_test_p_vs_base",
    "wins_vs_base",
    "losses_vs_base",
    "significant_vs_base",
    "avg_task_success",
    "metric",
)


def leaderboard_csv(board: Leaderboard) -> str:
    """Return the leaderboard as CSV, one row per adapter in rank order."""
    return write_csv(*leaderboard_rows(board))


def leaderboard_rows(board: Leaderboard) -> tuple[list[str], list[dict[str, object]]]:
    """Return the leaderboard's columns and one row per adapter in rank order."""
    rows: list[dict[str, object]] = [
        {
            "rank": r.rank,
            "name": r.name,
            "adapter": r.adapter,
            "n_cases": r.n_cases,
            "avg_relevance": r.avg_relevance,
            "avg_keyword_match": r.avg_keyword_match,
            "avg_valid_call": r.avg_valid_call,
            "mean_diff_vs_base": r.vs_base.mean_diff,
            "ci_low_vs_base": r.vs_base.ci_low,
            "ci_high_vs_base": r.vs_base.ci_high,
            "sign_test_p_vs_base": r.vs_base.sign_test_p,
            "wins_vs_base": r.vs_base.wins,
            "losses_vs_base": r.vs_base.losses,
            "significant_vs_base": r.vs_base.significant,
            "avg_task_success": r.avg_task_success,
            "metric": r.metric,
        }
        for r in board.rows
    ]
    return list(LEADERBOARD_COLUMNS), rows
