"""Planted records for tests that need scored cases or whole runs but no model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from evals.records import (
    BASE_ARM,
    ArmScore,
    Case,
    CaseResult,
    GenerationSettings,
    RunMetadata,
    RunResults,
    ScoredCase,
    Stats,
    Summary,
)
from evals.scoring import group_stats, summarize


def scored(
    case_id: str,
    category: str,
    base: float | ArmScore,
    tuned: float | ArmScore,
    *,
    cosine: float = 0.5,
    case: Case | None = None,
) -> ScoredCase:
    """The one builder of planted cases: an adapter against the base, each arm a relevance or an ``ArmScore``."""
    if case is None:
        case = Case(
            id=case_id, category=category, prompt="monte le son", expected_tools=("volume_up",), keywords=("son",)
        )
    if not isinstance(base, ArmScore):
        base = ArmScore(answer="b", keyword_hits=0, keyword_total=1, relevance=base)
    if not isinstance(tuned, ArmScore):
        tuned = ArmScore(answer="f", keyword_hits=1, keyword_total=1, relevance=tuned)
    return ScoredCase(case=case, base=base, finetuned=tuned, cosine_similarity=cosine)


def make_metadata(cases: Sequence[ScoredCase] = (), **changes: Any) -> RunMetadata:
    """Metadata of a small CPU run on the shipped suite; ``changes`` override any field."""
    fields: dict[str, Any] = {
        "model": "tiny",
        "adapter": "lora",
        "quantization": "none",
        "device": "cpu",
        "generation": GenerationSettings(),
        "suite_name": "jarvis",
        "suite_version": "1.0",
        "suite_path": "jarvis.yaml",
        "timestamp": "2026-01-01T00:00:00+00:00",
        "primary": "lora",
        "adapters": {"lora": "lora"},
        "categories": tuple(dict.fromkeys(c.category for c in cases)),
    }
    return RunMetadata(**{**fields, **changes})


def keyed(cases: Sequence[ScoredCase | CaseResult], name: str = "lora") -> tuple[CaseResult, ...]:
    """The cases keyed by arm; a ``ScoredCase`` (one adapter against the base) becomes adapter ``name``."""
    return tuple(
        c
        if isinstance(c, CaseResult)
        else CaseResult(c.case, {BASE_ARM: c.base, name: c.finetuned}, {name: c.cosine_similarity})
        for c in cases
    )


def make_results(
    cases: Sequence[ScoredCase | CaseResult],
    metadata: RunMetadata | None = None,
    sections: Mapping[str, Any] | None = None,
    **metadata_changes: Any,
) -> RunResults:
    """A run of ``cases`` (adapter ``lora``); ``sections`` are later sections as JSON (``paired``, ``gate``...),
    read as a file would be."""
    meta = metadata or make_metadata(cases, **metadata_changes)
    results_ = keyed(cases, meta.primary)
    results = RunResults(metadata=meta, statistics=summarize(results_), results=results_)
    if not sections:
        return results
    return RunResults.from_dict({**results.to_dict(), **sections})


def pair_stats(cases: Sequence[ScoredCase]) -> Stats:
    """The statistics of ``cases`` (adapter ``lora`` against the base) over the whole group."""
    return group_stats(keyed(cases)).versus("lora")


def pair_summary(cases: Sequence[ScoredCase]) -> Summary:
    """The summary of ``cases`` (adapter ``lora`` against the base), overall and per category."""
    return summarize(keyed(cases)).versus("lora")


def make_adapters_run(
    adapters: Mapping[str, tuple[str, Sequence[ScoredCase]]], primary: str, **metadata_changes: Any
) -> RunResults:
    """A run of several adapters on one base: ``name -> (source, its cases against the base)``.

    The base's answers are the primary's cases' ``base`` sides; each case gets every adapter's arm.
    """
    by_id = {name: {c.id: c for c in cases} for name, (_, cases) in adapters.items()}
    results = tuple(
        CaseResult(
            c.case,
            {BASE_ARM: c.base, **{name: by_id[name][c.id].finetuned for name in adapters if c.id in by_id[name]}},
            {name: by_id[name][c.id].cosine_similarity for name in adapters if c.id in by_id[name]},
        )
        for c in adapters[primary][1]
    )
    meta = make_metadata(
        adapters[primary][1],
        **{
            "adapter": adapters[primary][0],
            "primary": primary,
            "adapters": {name: source for name, (source, _) in adapters.items()},
            **metadata_changes,
        },
    )
    return RunResults(metadata=meta, statistics=summarize(results), results=results)


def task_run(answers: Mapping[str, tuple[str, str]], *, paired: bool = True, **metadata_changes: Any) -> RunResults:
    """A run on cases of the shipped jarvis-full suite, each ``case id -> (base answer, fine-tuned answer)``,
    scored as a run scores them (relevance and the tool runtime's task success), with the paired sections."""
    from dataclasses import replace

    from evals.scoring import score_case
    from evals.stats import measures, paired_section
    from evals.suite import load_suite

    suite = load_suite("jarvis-full")
    by_id = {c.id: c for c in suite.cases}
    results_ = tuple(
        score_case(by_id[cid], {BASE_ARM: base, "lora": tuned}, suite) for cid, (base, tuned) in answers.items()
    )
    meta = make_metadata(
        [r.versus("lora") for r in results_],
        **{"suite_name": "jarvis-full", "suite_version": suite.version, **metadata_changes},
    )
    results = RunResults(metadata=meta, statistics=summarize(results_), results=results_)
    if not paired:
        return results
    pairs = results.pairs()
    return replace(
        results,
        paired={"lora": paired_section(pairs)},
        paired_task={"lora": paired_section(pairs, metric="task_success")} if measures(pairs, "task_success") else {},
    )


# Answers to seven cases of jarvis-full, one or two per category: the fine-tune does most tasks, the
# base few; fu_* follow a history, nt_* expect nothing (the base's call there is a false activation).
TASK_ANSWERS: dict[str, tuple[str, str]] = {
    "cmd_volume_mute": ("Je coupe le son.", "volume_mute() — Je coupe le son."),
    "cmd_open_chrome": ('open_app(app="chrome") — J\'ouvre Chrome.', 'open_app(app="chrome") — J\'ouvre Chrome.'),
    "fix_volume_up": ("volume_up() — Je monte le son.", "volume_up(step=10) — Je monte le son."),
    "arg_volume_30": ("volume_down(step=30) — Je baisse le son.", "volume_down(step=30) — Je baisse le son."),
    "nt_merci_jarvis": ("volume_mute() — D'accord.", "Avec plaisir, je reste à votre écoute."),
    "nt_salut": ("Bonjour !", "Bonjour ! Que puis-je faire pour vous ?"),
    "fu_encore_volume": ("volume_down(step=10) — Je baisse le son.", "volume_up(step=10) — Je monte encore le son."),
}
