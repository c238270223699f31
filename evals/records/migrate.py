"""Every older file shape read as the current one, in one place.

- Results format 1 (rounds 1 and 2; no ``format_version``): two arms as field pairs
  (``base``/``finetuned``, ``avg_relevance_base``...), several adapters as an ``adapters``
  section that repeated the primary one, the primary found by its folder. Format 2 keys every
  record by arm.
- Baseline schema 2 (``schema_version: 2``): its own shape (an identity, answers and relevance per
  case). Format 2 baselines are the results' declared subset (``results.BASELINE_SECTIONS``). A
  schema-2 case kept no prompt, keywords or calls: ``LEGACY_BASELINE`` marks it, and the gate
  scores its answers again with the suite before comparing (``gate.baseline.load_baseline``).

Nothing else in the package knows an older shape: readers decode format 2 only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from evals.records.scores import BASE_ARM, default_adapter_name

# The results file's format: 1 (no ``format_version`` key) is what rounds 1 and 2 wrote, two arms
# as field pairs; 2 keys every record by arm.
FORMAT_VERSION = 2

LEGACY_BASELINE = "baseline schema 2"  # metadata.device of a migrated schema-2 baseline
_ARM_FLAGS = ("echo", "refusal", "recited", "loop")


def migrate(data: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``data`` (a results or baseline document of any known format) in the current format."""
    if not isinstance(data, Mapping):
        raise ValueError(f"the top level must be an object, got {type(data).__name__}")
    version = data.get("format_version")
    if version == FORMAT_VERSION:
        return dict(data)
    if version is not None:
        if isinstance(version, int) and not isinstance(version, bool) and version > FORMAT_VERSION:
            raise ValueError(f"format_version {version} is newer than this jarvis-evals reads ({FORMAT_VERSION})")
        raise ValueError(f"'format_version' must be a whole number up to {FORMAT_VERSION}, got {version!r}")
    if "schema_version" in data:
        return _baseline_schema2(data)
    return _results_format1(data)


# --- results format 1 --------------------------------------------------------------------------


def _results_format1(data: Mapping[str, Any]) -> dict[str, Any]:
    meta = dict(data["metadata"])
    extra = data.get("adapters") or {}
    if extra:  # several adapters: the primary is the one whose folder the metadata names
        names = {name: str(a["adapter"]) for name, a in extra.items()}
        primary = next((n for n, path in names.items() if path == meta["adapter"]), next(iter(names)))
    else:
        primary = default_adapter_name(Path(str(meta["adapter"])))
        names = {primary: str(meta["adapter"])}
    meta.update(primary=primary, adapters=names, generation=_generation(meta.get("generation") or {}))
    tuned = {primary: data["results"]} | {n: a["results"] for n, a in extra.items() if n != primary}
    stats = {primary: data["statistics"]} | {n: a["statistics"] for n, a in extra.items() if n != primary}
    out: dict[str, Any] = {
        "format_version": FORMAT_VERSION,
        "metadata": meta,
        "statistics": _statistics(stats),
        "results": _cases(tuned),
    }
    if data.get("paired") is not None:
        out["paired"] = {primary: _paired(data["paired"])}
    if data.get("baseline_comparison") is not None:
        out["baseline_comparison"] = {primary: _baseline_comparison(data["baseline_comparison"])}
    if data.get("leaderboard") is not None:
        board = data["leaderboard"]
        out["leaderboard"] = {"rows": board["rows"], "best_vs_runner_up": board.get("best_vs_runner_up")}
    for key in ("warnings", "noise", "baseline_error", "gate", "custom_checks", "environment", "robustness"):
        if data.get(key) is not None:
            out[key] = data[key]
    return out


def _generation(old: Mapping[str, Any]) -> dict[str, Any]:
    """Format 1 named the rendering ``prompt_format`` and how tools travel ``tools_format``."""
    new = {k: v for k, v in old.items() if k not in ("prompt_format", "tools_format")}
    if "prompt_format" in old:
        new["template"] = old["prompt_format"]
    if old.get("tools_format") is not None:
        new["prompt_format"] = old["tools_format"]
    return new


def _cases(tuned: Mapping[str, list[Mapping[str, Any]]]) -> list[dict[str, Any]]:
    """One record per case of the primary's list, every adapter's answer merged in by case id."""
    primary = next(iter(tuned))
    by_id = {name: {str(r["id"]): r for r in rows} for name, rows in tuned.items()}
    out = []
    for row in tuned[primary]:
        case = {k: row[k] for k in ("id", "category", "prompt", "expected_tools", "keywords") if k in row}
        case.update({k: row[k] for k in ("intended", "source", "level", "variant") if row.get(k) is not None})
        arms = {BASE_ARM: row["base"]}
        similarity = {}
        for name, rows in by_id.items():
            if str(row["id"]) in rows:
                arms[name] = rows[str(row["id"])]["finetuned"]
                similarity[name] = rows[str(row["id"])]["cosine_similarity"]
        out.append({"case": case, "arms": arms, "similarity": similarity})
    return out


def _statistics(by_adapter: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    primary = next(iter(by_adapter))
    categories = by_adapter[primary].get("by_category") or {}
    return {
        "overall": _group(by_adapter),
        "by_category": {
            cat: _group(
                {n: s["by_category"][cat] for n, s in by_adapter.items() if cat in (s.get("by_category") or {})}
            )
            for cat in categories
        },
    }


def _group(flat: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Format-1 statistics (one flat object per adapter) as one group keyed by arm."""
    first = next(iter(flat.values()))
    arms = {BASE_ARM: _arm_stats(first, "base")}
    pairs = {}
    for name, s in flat.items():
        arms[name] = _arm_stats(s, "finetuned")
        pairs[name] = {
            "n_cases": s["n_cases"],
            "cosine_similarity": s["avg_cosine_similarity"],
            "regressions": s.get("regressions", 0),
            "improvements": s.get("improvements", 0),
        }
    return {"n_cases": first["n_cases"], "arms": arms, "pairs": pairs}


def _arm_stats(s: Mapping[str, Any], side: str) -> dict[str, Any]:
    out = {
        "relevance": s[f"avg_relevance_{side}"],
        "keyword_match": s[f"avg_keyword_match_{side}"],
        "valid_call": s.get(f"avg_valid_call_{side}"),
    }
    out.update({flag: s.get(f"{flag}_{side}") for flag in _ARM_FLAGS})
    out["echo"] = out["echo"] or 0  # counted since format 1 began; absent only in hand-made files
    return out


def _paired(old: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "resamples": old["resamples"],
        "seed": old["seed"],
        "confidence": old["confidence"],
        "overall": old["global"],
        "by_category": old.get("by_category") or {},
    }


def _baseline_comparison(old: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "baseline": old["baseline"],
        "overall": {k: v for k, v in old.items() if k not in ("baseline", "by_category")},
        "by_category": old.get("by_category") or {},
    }


# --- baseline schema 2 ------------------------------------------------------------------------


def _baseline_schema2(data: Mapping[str, Any]) -> dict[str, Any]:
    schema = data["schema_version"]
    if isinstance(schema, bool) or not isinstance(schema, int):
        raise ValueError(f"'schema_version' must be a whole number, got {schema!r}")
    if schema != 2:
        raise OutdatedFile(schema)
    identity = data["identity"]
    if not isinstance(identity, Mapping):
        raise ValueError(f"'identity' must be an object, got {type(identity).__name__}")
    adapter = data["adapter"]
    if not isinstance(adapter, str):
        raise ValueError(f"'adapter' must be text, got {adapter!r}")
    primary = default_adapter_name(Path(adapter))
    generation = dict(identity["generation"])
    generation.setdefault("prompt_format", identity.get("prompt_format"))  # the rendering, in schema 2
    cases = data["cases"]
    if not isinstance(cases, Mapping):
        raise ValueError(f"'cases' must be an object, got {type(cases).__name__}")
    statistics = data["statistics"]
    if not isinstance(statistics, Mapping):
        raise ValueError(f"'statistics' must be an object, got {type(statistics).__name__}")
    results = []
    for case_id, case in cases.items():
        if not isinstance(case, Mapping):
            raise ValueError(f"case {case_id}: must be an object, got {type(case).__name__}")
        arms = {
            BASE_ARM: {"answer": case["answer_base"], "relevance": case["relevance_base"]},
            primary: {"answer": case["answer_finetuned"], "relevance": case["relevance_finetuned"]},
        }
        for arm in arms.values():  # keyword matches are re-scored from the answers with the suite
            arm.update(keyword_hits=0, keyword_total=0)
        base_case = {
            "id": str(case_id),
            "category": case["category"],
            "prompt": "",
            "expected_tools": [],
            "keywords": [],
        }
        results.append({"case": base_case, "arms": arms, "similarity": {primary: 0.0}})
    meta = {
        "model": identity["model"],
        "adapter": adapter,
        "quantization": identity["quantization"],
        "device": LEGACY_BASELINE,
        "generation": _generation(generation),
        "suite_name": identity["suite_name"],
        "suite_version": identity["suite_version"],
        "suite_path": "",
        "timestamp": str(data.get("created", "")),
        "primary": primary,
        "adapters": {primary: adapter},
        "packages": data.get("packages", {}),
        "categories": list(dict.fromkeys(str(c["category"]) for c in cases.values())),
        "partial": data.get("partial", False),
        "model_fingerprint": identity["model_fingerprint"],
        "suite_hash": identity["suite_hash"],
        "metric_version": data["metric_version"],
        "scope": str(data.get("scope", "")),
    }
    return {
        "format_version": FORMAT_VERSION,
        "kind": "baseline",
        "metadata": meta,
        "statistics": _statistics({primary: statistics}),
        "results": results,
    }


class OutdatedFile(ValueError):
    """A baseline of schema 1: no answers to re-score, no identity to compare."""

    def __init__(self, schema: int) -> None:
        super().__init__(f"schema_version {schema}")
        self.schema = schema
