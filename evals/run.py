"""One benchmark run: the selected cases, their answers (cache, else the backend) and their scores.

The flow is one-way: cases -> prompts -> answers (from the generation cache, else one batched
pass per arm through the backend) -> scored cases -> ``RunResults``. The plugin owns the pytest
side; this module knows nothing of it, and nothing here knows how a backend generates.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

from evals import metrics
from evals.adapters import AdapterSpec
from evals.backends.base import Answer, Arm, Backend, Prompt
from evals.budget import budget_line, measured_rate
from evals.cache import CACHE_FILE, AnswerCache, CacheContext, CachedAnswer, GenerationCache
from evals.config import EvalConfig
from evals.environment import recorded_versions
from evals.errors import JarvisError
from evals.gate.baseline import suite_hash
from evals.metrics import cosine_similarity, similarity_key
from evals.models import EMBEDDED_MODEL, is_embedded
from evals.plan import RunPlan, build_plan
from evals.records import (
    BASE_ARM,
    NATIVE_TOOLS,
    Case,
    CaseResult,
    DriftPrompt,
    DriftSection,
    GenerationSettings,
    ProbeCase,
    RunMetadata,
    RunResults,
    ScoredCase,
    Suite,
    decode,
    encode,
)
from evals.records.probe import summarize_drift
from evals.scoring import score_pair, summarize

T = TypeVar("T")

# Cached prompts a served run asks again before trusting the rest of an arm's cached answers.
PROBE_SIZE = 2


@dataclass
class EvalRun:
    """The state of one benchmark session; built from the run plan by ``from_plan``."""

    config: EvalConfig  # as the plan applies it (plan.settings)
    plan: RunPlan
    suite: Suite
    adapters: tuple[AdapterSpec, ...]  # one arm each, on the same base
    primary: str  # the adapter the statistics, chart and gate describe
    backend: Backend
    arms: tuple[Arm, ...]  # the base arm first, then one per adapter (named like it)
    selected: list[Case] = field(default_factory=list)
    answers: dict[tuple[str, str], Answer] = field(default_factory=dict)  # (arm name, case id): sample 0's
    sample_answers: dict[tuple[str, str], tuple[Answer, ...]] = field(default_factory=dict)  # every sample's
    probes: dict[tuple[str, str], ProbeCase] = field(default_factory=dict)  # (arm name, case id)
    drift: dict[str, DriftSection] = field(default_factory=dict)  # adapter name
    scored: dict[tuple[str, str], ScoredCase] = field(default_factory=dict)  # (adapter name, case id)
    similarities: dict[tuple[str, str], float] = field(default_factory=dict)  # (base answer, other answer)
    warnings: list[str] = field(default_factory=list)
    scope: str = ""  # why the selection is partial ("quick mode", "-k 'volume'"...), "" for the whole suite
    stored: int = 0  # fresh answers written to the cache, batch by batch
    started: str = field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))
    _store: GenerationCache | None = field(default=None, repr=False)
    _budget_said: bool = field(default=False, repr=False)
    _probe_skipped: str = field(default="", repr=False)  # why the routing probe does not run, once said

    @classmethod
    def from_config(cls, config: EvalConfig) -> EvalRun:
        """Plan the run from ``config`` and build it (``from_plan``)."""
        return cls.from_plan(build_plan(config))

    @classmethod
    def from_plan(cls, plan: RunPlan) -> EvalRun:
        """Check every input that is cheap to check now: bad input fails before any answer is generated.

        The plan's suite and adapters, a local model folder and the folders the run will write to
        are validated here; the embedded model is converted and a hub model fetched only when answering.
        """
        plan.check()
        assert plan.suite is not None and plan.primary is not None  # check() raised otherwise
        config = plan.settings
        problem = unwritable(config.reports_dir)
        if problem:
            raise JarvisError(
                f"reports folder {config.reports_dir} is not writable ({problem}): "
                "pass --jarvis-reports DIR with a writable folder"
            )
        problem = unwritable(config.baseline.parent) if config.save_baseline else None
        if problem:
            raise JarvisError(
                f"baseline {config.baseline} cannot be written ({problem}): point --jarvis-baseline at a writable file"
            )
        arms = (Arm(BASE_ARM), *(Arm(a.name, str(a.path)) for a in plan.adapters))
        backend = plan.backend.build(plan, arms)
        backend.validate()
        window = backend.context_window()
        if window is not None and config.max_new_tokens >= window[0]:
            # Generation would run past what the model was trained on (and the prompt needs room too).
            raise JarvisError(
                f"--jarvis-max-new-tokens {config.max_new_tokens} is not below the model's context window "
                f"({window[0]} tokens, {window[1]}): pass a smaller value; a JARVIS answer needs under 100"
            )
        return cls(
            config=config,
            plan=plan,
            suite=plan.suite,
            adapters=tuple(AdapterSpec(a.name, a.path) for a in plan.adapters),
            primary=plan.primary,
            backend=backend,
            arms=arms,
            warnings=list(plan.warnings),
        )

    def select_adapters(self, names: list[str]) -> None:
        """Answer only with the adapters whose tests were selected (``-k ckpt-500``); none named: all.

        When the primary adapter was deselected, the first selected one describes the run.
        """
        if not names:
            return
        kept = tuple(a for a in self.adapters if a.name in names)
        self.adapters = kept
        self.arms = tuple(arm for arm in self.arms if arm.is_base or arm.name in names)
        if self.primary not in names:
            self.warnings.append(f"primary adapter {self.primary} was not selected: {kept[0].name} describes this run")
            self.primary = kept[0].name

    def adapter(self, name: str | None = None) -> AdapterSpec:
        """Return the adapter called ``name`` (the primary one by default)."""
        wanted = name or self.primary
        return next(a for a in self.adapters if a.name == wanted)

    # -- answers ---------------------------------------------------------------------------

    @property
    def settings(self) -> GenerationSettings:
        return GenerationSettings(
            max_new_tokens=self.config.max_new_tokens,
            batch_size=self.config.batch_size,
            template=self.backend.template(),
            shared_prefix=self.config.shared_prefix if self.plan.backend.shared_prefix else None,
            prompt_format=self.prompt_format,
            do_sample=self.config.decoding == "sampled",
            decoding="sampled" if self.config.decoding == "sampled" else "greedy",
            samples=self.config.samples,
            temperature=self.config.temperature,
            top_p=self.config.top_p,
            top_k=self.config.top_k,
            seed=self.config.seed,
        )

    @property
    def prompt_format(self) -> str:
        """How the tools reach the model: the option, else the suite's setting."""
        return self.config.prompt_format or self.suite.prompt_format

    def prompt(self, case: Case) -> Prompt:
        prompt = self.ask(case.prompt)
        if not case.history:
            return prompt
        return replace(prompt, history=tuple((t.role, t.content) for t in case.history))

    def ask(self, user: str, system: str | None = None) -> Prompt:
        """Return the prompt for a request in the run's format: native tools travel as schemas."""
        return Prompt(
            system=self.suite.system_prompt_for(self.prompt_format) if system is None else system,
            user=user,
            tools=self._tools_json,
        )

    @functools.cached_property
    def _tools_json(self) -> str:
        """The suite's function schemas as sent with every prompt of the native-tools format, else ""."""
        if self.prompt_format != NATIVE_TOOLS:
            return ""
        # Key order kept (name before description), as a template renders the schemas it is given.
        return json.dumps(self.suite.function_schemas(), ensure_ascii=False)

    @property
    def samples_per_case(self) -> int:
        """How many answers each arm gives a case: ``--jarvis-samples`` when sampling, else one."""
        return self.config.samples if self.config.decoding == "sampled" else 1

    def asks(self, case: Case) -> list[Prompt]:
        """The prompts a case puts to each arm: one, or one per sample (``--jarvis-samples``), each with its index."""
        prompt = self.prompt(case)
        if self.config.decoding != "sampled":
            return [prompt]
        return [replace(prompt, sample=i) for i in range(self.samples_per_case)]

    def ensure_answers(self) -> None:
        """Answer every selected case with every arm, once: from the cache, else in one backend pass.

        A sampled run asks each case's N samples in the same pass, so they share batches and the
        prefix cache with every other prompt.
        """
        missing = {arm: [c for c in self.selected if (arm.name, c.id) not in self.answers] for arm in self.arms}
        missing = {arm: cases for arm, cases in missing.items() if cases}
        if not missing:
            return
        n = self.samples_per_case
        answers = self.answer_prompts({arm: [p for c in cases for p in self.asks(c)] for arm, cases in missing.items()})
        for arm, cases in missing.items():
            for i, case in enumerate(cases):
                samples = tuple(answers[arm][i * n : (i + 1) * n])
                answer = samples[0]
                self.answers[(arm.name, case.id)] = answer
                self.sample_answers[(arm.name, case.id)] = samples
                warning = f"case {case.id}: prompt longer than the model's context, truncated from the left"
                if answer.truncated_prompt and warning not in self.warnings:  # once per case, not per arm
                    self.warnings.append(warning)
                for notice in answer.notices:  # stored with the answer: a cached run says what the first said
                    if notice not in self.warnings and notice not in self.backend.stats.notices:
                        self.warnings.append(notice)
                        if answer.cached:  # the backend printed it when it generated; say it now instead
                            print(f"[jarvis] warning: {notice}", file=sys.stderr, flush=True)

    def ensure_probes(self) -> None:
        """Probe every selected case under every arm once: from the cache, else in the backend.

        The probe (evals/probe.py) reads the model's own probabilities, so only a backend that holds
        the model computes it; elsewhere, or with --jarvis-no-probe, it is skipped with one line.
        A probe that cannot run on this model (a template that renders no tool call) is skipped
        the same way: margins are an early warning beside the verdict, never a reason to lose it.
        """
        if not self.config.probe or self._probe_skipped:
            return
        missing = {arm: [c for c in self.selected if (arm.name, c.id) not in self.probes] for arm in self.arms}
        missing = {arm: cases for arm, cases in missing.items() if cases}
        if not missing:
            return
        # (arm, case id): the cache key of its probe record; no keys at all without the cache (hence strict=False).
        keys: dict[tuple[str, str], str] = {}
        for arm, cases in missing.items():
            keys.update(
                zip(((arm.name, c.id) for c in cases), self._record_keys(PROBE_RECORD, arm, cases), strict=False)
            )
        found = self._recall(ProbeCase, list(keys.values()))
        todo: dict[Arm, list[Case]] = {}
        for arm, cases in missing.items():
            for case in cases:
                hit = found.get(keys.get((arm.name, case.id), ""))
                if hit is not None:
                    self.probes[(arm.name, case.id)] = hit
                else:
                    todo.setdefault(arm, []).append(case)
        if not todo:
            return
        probe = getattr(self.backend, "probe", None)
        if probe is None:
            self._skip_probe(f"the {self.backend.kind} backend does not read the model's probabilities")
            return
        for arm, cases in todo.items():
            try:
                records = probe(arm, cases, self.suite, self.prompt_format)
            except (JarvisError, ValueError) as exc:
                self._skip_probe(str(exc))
                return
            for case, record in zip(cases, records, strict=True):
                self.probes[(arm.name, case.id)] = record
            # Keyed again now the model has loaded: the identity names the device really used.
            self._keep(dict(zip(self._record_keys(PROBE_RECORD, arm, cases), records, strict=False)))

    def ensure_drift(self) -> None:
        """Measure each adapter's drift from the base on the neutral prompts once: cached per adapter and prompt.

        It goes with the probe (--jarvis-no-probe turns both off) and runs only on a full run's
        adapters whose cases were probed: it reads the model's probabilities the same way.
        """
        if not self.config.probe or self._probe_skipped or not self.selected or self.scope:
            return  # a partial run (quick, -k, one category) is a quick look: drift waits for the full run
        drift = getattr(self.backend, "drift", None)
        from evals.drift import drift_label, load_neutral_set

        neutral = load_neutral_set()
        label = drift_label(neutral)
        asked = [self.ask(p.prompt, neutral.system_prompt) for p in neutral.prompts]
        for arm in self.arms:
            if arm.is_base or arm.name in self.drift:
                continue
            keys = self._record_keys(f"drift-1|{label}", arm, asked)
            found = self._recall(DriftPrompt, keys)
            if keys and all(k in found for k in keys):
                rows = [found[k] for k in keys]
            elif drift is None:  # a server returns at most a few log-probabilities per token, not a distribution
                print(
                    f"[jarvis] drift skipped: the {self.backend.kind} backend returns no full next-token "
                    "distributions, which KL needs (--jarvis-no-probe silences this)",
                    file=sys.stderr,
                    flush=True,
                )
                return
            else:
                answers_key, answers = self._drift_answers(asked, label)
                try:
                    rows = drift(arm, neutral, answers, lambda ids, key=answers_key: self._keep_answers(key, ids))
                except (JarvisError, ValueError) as exc:
                    self._skip_probe(f"drift: {exc}")
                    return
                self._keep(dict(zip(self._record_keys(f"drift-1|{label}", arm, asked), rows, strict=False)))
            self.drift[arm.name] = DriftSection(
                neutral_set=label, summary=summarize_drift(arm.name, rows), prompts=tuple(rows)
            )

    def _drift_answers(self, asked: list[Prompt], label: str) -> tuple[str, list[list[int]] | None]:
        """The cache key of the base's answers to the neutral prompts (token ids), and those answers if kept.

        They depend on the base model only: every later adapter is measured along the same answers.
        Without them the backend generates them (``_keep_answers`` stores them).
        """
        cache = self._cache()
        base_keys = cache.keys(self.backend.arm_identity(Arm(BASE_ARM)), asked) if cache is not None else []
        key = record_key(f"drift-answers-1|{label}", "|".join(base_keys))
        hit = cache.get([key]).get(key) if cache is not None else None
        return key, [list(ids) for ids in json.loads(hit.text)] if hit is not None else None

    def _keep_answers(self, key: str, answers: list[list[int]]) -> None:
        cache = self._cache()
        if cache is not None:
            cache.store.put_many({key: CachedAnswer(text=json.dumps(answers), new_tokens=0)})

    def _record_keys(self, kind: str, arm: Arm, asked: Sequence[Case | Prompt]) -> list[str]:
        """The cache keys of records of ``kind`` that go with the answers to ``asked`` (cases or prompts); [] uncached."""
        cache = self._cache()
        if cache is None:
            return []
        prompts = [a if isinstance(a, Prompt) else self.prompt(a) for a in asked]
        return [record_key(kind, k) for k in cache.keys(self.backend.arm_identity(arm), prompts)]

    def _recall(self, cls: type[T], keys: Sequence[str]) -> dict[str, T]:
        """The records of type ``cls`` stored under ``keys`` (the probe's, drift's), by key."""
        cache = self._cache()
        found = cache.get(keys) if cache is not None and keys else {}
        return {k: decode(cls, json.loads(v.text)) for k, v in found.items()}

    def _keep(self, records: Mapping[str, Any]) -> None:
        """Store records in the generation cache beside the answers they were computed from."""
        cache = self._cache()
        if cache is not None and records:
            cache.store.put_many(
                {
                    k: CachedAnswer(text=json.dumps(encode(r), ensure_ascii=False), new_tokens=0)
                    for k, r in records.items()
                }
            )

    def _skip_probe(self, why: str) -> None:
        self._probe_skipped = why
        print(f"[jarvis] routing margins skipped: {why} (--jarvis-no-probe silences this)", file=sys.stderr, flush=True)

    def answer_prompts(self, work: dict[Arm, list[Prompt]]) -> dict[Arm, list[Answer]]:
        """Answer each arm's prompts: cached answers first, the rest in one call to the backend.

        Fresh answers are stored batch by batch as the backend finishes them, under the identity
        read after loading (the device really used): an interrupted run keeps what is done.
        """
        cache = self._cache()
        out: dict[Arm, list[Answer | None]] = {}
        todo: dict[Arm, list[Prompt]] = {}
        for arm, prompts in work.items():
            keys = cache.keys(self.backend.arm_identity(arm), prompts) if cache else [""] * len(prompts)
            found = cache.get(keys) if cache else {}
            if found and not self.plan.backend.local_adapters:  # a served model: its weights can't be fingerprinted
                found = self._probe(arm, prompts, keys, found)
            out[arm] = []
            for key, prompt in zip(keys, prompts, strict=True):
                hit = found.get(key)
                if hit is None:
                    todo.setdefault(arm, []).append(prompt)
                    out[arm].append(None)
                else:
                    out[arm].append(
                        Answer(hit.text, hit.new_tokens, hit.truncated_prompt, cached=True, notices=hit.notices)
                    )
        if not todo:
            return {arm: [a for a in answers if a is not None] for arm, answers in out.items()}
        self._say_budget(sum(len(p) for p in todo.values()), sum(len(p) for p in work.values()))

        def store(arm: Arm, indices: list[int], answers: list[Answer]) -> None:
            fresh_cache = self._cache()
            if fresh_cache is not None:
                prompts = [todo[arm][i] for i in indices]
                keys = fresh_cache.keys(self.backend.arm_identity(arm), prompts)
                fresh_cache.put(dict(zip(keys, answers, strict=True)))
                self.stored += len(answers)

        fresh = self.backend.generate(todo, self.settings, on_answers=store)
        done: dict[Arm, list[Answer]] = {}
        for arm, answers in out.items():
            new = iter(fresh.get(arm, ()))
            done[arm] = [a if a is not None else next(new) for a in answers]
        return done

    def _say_budget(self, fresh: int, asked: int) -> None:
        """Say once, before generating, how many answers are to come and about how long they take."""
        if self._budget_said:
            return
        self._budget_said = True
        from evals.reports import JSON_NAME  # the reports package imports the run's records, not the run

        samples = self.samples_per_case
        described = f"{asked - fresh} of {asked} cached" + (
            f"; {samples} samples per case and arm" if samples > 1 else ""
        )
        rate = measured_rate(self.config.reports_dir / JSON_NAME)
        print(f"[jarvis] {budget_line(fresh, described, rate)}", file=sys.stderr, flush=True)

    def _probe(
        self, arm: Arm, prompts: list[Prompt], keys: list[str], found: dict[str, CachedAnswer]
    ) -> dict[str, CachedAnswer]:
        """Ask a served model ``PROBE_SIZE`` of its cached prompts again; trust its cache only if it answers the same.

        A server's weights cannot be fingerprinted: a worse model served under the same name and
        ``/v1/models`` entry would otherwise be scored from the old model's cached answers, and
        pass the gate. Greedy answers of one model repeat (docs/serving.md measured 20 of 20), so
        a difference means another model (or a nondeterministic server): either way no cached
        answer of this arm is used, and every prompt is asked again.
        """
        probes = [(key, prompt) for key, prompt in zip(keys, prompts, strict=True) if key in found][:PROBE_SIZE]
        fresh = self.backend.generate({arm: [p for _, p in probes]}, self.settings)[arm]
        changed = sum(answer.text != found[key].text for (key, _), answer in zip(probes, fresh, strict=True))
        if not changed:
            return found
        self.warnings.append(
            f"served model of arm {arm.name} answered {changed} of {len(probes)} cached prompts differently: "
            "the model behind its name changed (or, with sampled decoding, the server ignores the seed), so its "
            "cached answers were not used (re-bless the baseline if the change is meant)"
        )
        return {}

    def _cache(self) -> AnswerCache | None:
        if not self.config.use_cache:
            return None
        if self._store is None:
            self._store = GenerationCache(Path(self.config.cache_dir) / CACHE_FILE if self.config.cache_dir else None)
        context = CacheContext(backend=self.backend.identity(), generation=encode(self.settings))
        return AnswerCache(store=self._store, context=context)

    # -- scores ----------------------------------------------------------------------------

    def score(self, case: Case, adapter: str | None = None) -> ScoredCase:
        """Score one case for one adapter (the primary by default) against the base arm; remember it."""
        self.ensure_answers()
        self.ensure_probes()
        self.ensure_similarities()
        name = adapter or self.primary
        base = [a.text for a in self.sample_answers[(BASE_ARM, case.id)]]
        tuned = [a.text for a in self.sample_answers[(name, case.id)]]
        scored = score_pair(case, base, tuned, self.suite, self._similarity)
        scored = replace(
            scored,
            base=replace(scored.base, probe=self.probes.get((BASE_ARM, case.id))),
            finetuned=replace(scored.finetuned, probe=self.probes.get((name, case.id))),
        )
        self.scored[(name, case.id)] = scored
        return scored

    def ensure_similarities(self) -> None:
        """The cosine of every adapter's answer against the base's: from the cache, else computed and stored.

        Keyed by the two texts and the metric's version (``similarity_key``), not by the run: the
        cosine needs scikit-learn (about a second to import), which a run whose answers and scores
        are all cached then never imports.
        """
        pairs = {
            (self.answers[(BASE_ARM, c.id)].text, self.answers[(arm.name, c.id)].text)
            for c in self.selected
            for arm in self.arms[1:]
            if (arm.name, c.id) in self.answers and (BASE_ARM, c.id) in self.answers
        } - self.similarities.keys()
        if not pairs:
            return
        version = metric_version()
        keys = {pair: similarity_key(*pair, version) for pair in pairs}
        cache = self._cache()
        found = cache.get(list(keys.values())) if cache is not None else {}
        fresh: dict[str, CachedAnswer] = {}
        for pair, key in keys.items():
            hit = found.get(key)
            value = json.loads(hit.text) if hit is not None else None
            if not isinstance(value, float):  # missing (or not a number: computed again)
                value = cosine_similarity(*pair)
                fresh[key] = CachedAnswer(text=json.dumps(value), new_tokens=0)
            self.similarities[pair] = value
        if cache is not None and fresh:
            cache.store.put_many(fresh)

    def _similarity(self, a: str, b: str) -> float:
        found = self.similarities.get((a, b))
        return found if found is not None else cosine_similarity(a, b)

    def case_results(self) -> tuple[CaseResult, ...]:
        """Every scored case with the arms it was scored for (the base, then each adapter), in suite order."""
        by_case: dict[str, dict[str, ScoredCase]] = {}
        for (name, case_id), scored in self.scored.items():
            by_case.setdefault(case_id, {})[name] = scored
        out = []
        for case in self.suite.cases:
            views = by_case.get(case.id)
            if not views:
                continue
            names = [a.name for a in self.adapters if a.name in views]
            first = views[names[0]]
            out.append(
                CaseResult(
                    case=case,
                    arms={BASE_ARM: first.base, **{n: views[n].finetuned for n in names}},
                    similarity={n: views[n].cosine_similarity for n in names},
                )
            )
        return tuple(out)

    def results(self) -> RunResults:
        """Return the results of the cases scored so far, in suite order, every arm keyed by name."""
        cases = self.case_results()
        categories = tuple(dict.fromkeys(c.category for c in cases))
        all_categories = tuple(dict.fromkeys(c.category for c in self.suite.cases))
        scored_ids = {cid for _, cid in self.scored}
        used = [a for (_, cid), samples in self.sample_answers.items() if cid in scored_ids for a in samples]
        n_cached = sum(1 for a in used if a.cached)
        stats = self.backend.stats
        loaded = self.backend.device() != "not loaded"
        primary_cases = sum(1 for c in cases if self.primary in c.arms)
        meta = RunMetadata(
            model=EMBEDDED_MODEL if is_embedded(self.config.model) else self.config.model,
            adapter=str(self.adapter().path),
            quantization=self.config.quant,
            device=self.backend.device() if loaded else ("cache" if n_cached else "none"),
            generation=self.settings,
            suite_name=self.suite.name,
            suite_version=self.suite.version,
            suite_path=self.suite.path,
            timestamp=self.started,
            primary=self.primary,
            adapters={a.name: str(a.path) for a in self.adapters},
            packages=recorded_versions(),
            categories=categories,
            partial=bool(self.scope) or primary_cases < len(self.suite.cases) or categories != all_categories,
            n_generate_calls=stats.generate_calls,
            n_cached_answers=n_cached,
            n_fresh_answers=len(used) - n_cached,
            n_new_tokens=sum(a.new_tokens for a in used if not a.cached),
            generation_seconds=round(stats.generation_seconds, 3),
            load_seconds=round(stats.load_seconds, 3),
            model_fingerprint=str(self.backend.identity().get("model", "")),
            suite_hash=suite_hash(self.suite),
            metric_version=metric_version(),
            scope=self.scope,
        )
        return RunResults(
            metadata=meta,
            statistics=summarize(cases),
            results=cases,
            warnings=tuple(dict.fromkeys((*self.warnings, *self.backend.stats.notices))),
            drift={name: d for name, d in self.drift.items() if any(name in c.arms for c in cases)},
        )


PROBE_RECORD = "probe-1"  # the kind (and version) of a probe record in the cache


def record_key(kind: str, answer_key: str) -> str:
    """The cache key of a record of ``kind`` computed from the answer keyed ``answer_key`` (same identity and prompt)."""
    return hashlib.sha256(f"{kind}|{answer_key}".encode()).hexdigest()


def unwritable(folder: Path) -> str | None:
    """Say why files could not be written under ``folder`` (created on demand), or None; creates nothing."""
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        return f"{existing} is a file, not a folder"
    if not os.access(existing, os.W_OK | os.X_OK):
        return f"{existing} is read-only"
    return None


def metric_version() -> str:
    """Return the version of the scoring rules the results were computed with."""

    return str(getattr(metrics, "METRIC_VERSION", "1"))
