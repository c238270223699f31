"""The JARVIS training set: built from the tool registry, kept apart from the evaluation prompts.

``python -m evals.training.trainset`` regenerates ``evals/suites/jarvis_train.jsonl`` deterministically
from the phrasings in ``evals/suites/jarvis_train_phrases.yaml``.
Each line is ``{"prompt": ..., "answer": ..., "tools": [...]}``; the answer has the shape the
suite's system prompt asks for: the tool id(s), a dash, then a short French confirmation.

The set never contains an evaluation prompt (compared after ``normalize``), nor a prompt that
contains a whole evaluation prompt, nor the evaluation's own entities and misspellings
(``forbidden`` in the phrasings file): the benchmark measures whether routing generalises, not whether it was memorised.
"""

from __future__ import annotations

import argparse
import json
import random
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from evals.atomic import atomic_write_text
from evals.errors import JarvisError
from evals.metrics import tokens
from evals.records import Suite
from evals.suite import load_suite

DEFAULT_TRAIN_FILE = "jarvis_train.jsonl"
PHRASES_FILE = "jarvis_train_phrases.yaml"
SEPARATOR = " — "
SEED = 20261125


@dataclass(frozen=True)
class TrainExample:
    """One training pair: a spoken request and the answer JARVIS should give."""

    prompt: str
    answer: str
    tools: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"prompt": self.prompt, "answer": self.answer, "tools": list(self.tools)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainExample:
        return cls(prompt=str(data["prompt"]), answer=str(data["answer"]), tools=tuple(str(t) for t in data["tools"]))


def default_train_path() -> Path:
    """Return the path of the training set shipped in the package."""
    return Path(str(resources.files("evals") / "suites" / DEFAULT_TRAIN_FILE))


def normalize(text: str) -> str:
    """Lower-case, strip accents and punctuation, collapse spaces: "Ouvre Chrome !" -> "ouvre chrome"."""
    return " ".join(tokens(text))


def compact(text: str) -> str:
    """Return ``normalize`` without spaces, so "faire me" and "fairme" compare equal."""
    return normalize(text).replace(" ", "")


def _contains_words(haystack: str, needle: str) -> bool:
    return f" {needle} " in f" {haystack} "


def evaluation_overlap(prompt: str, suite: Suite) -> str | None:
    """Return why ``prompt`` is too close to the evaluation cases, or None when it is apart."""
    norm, flat = normalize(prompt), compact(prompt)
    for case in suite.cases:
        for text in filter(None, (case.prompt, case.intended)):
            if norm == normalize(text) or flat == compact(text):
                return f"equals evaluation case {case.id}"
        if _contains_words(norm, normalize(case.prompt)):
            return f"contains the prompt of evaluation case {case.id}"
    for phrase in load_phrases().forbidden:
        if _contains_words(norm, normalize(phrase)):
            return f"contains the evaluation's own words '{phrase}'"
    return None


def load_examples(path: str | Path | None = None, tool_ids: Iterable[str] | None = None) -> list[TrainExample]:
    """Read a JSONL training set; raise ``JarvisError`` naming the file and line on any problem."""
    path = Path(path) if path is not None else default_train_path()
    known = set(tool_ids) if tool_ids is not None else None
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise JarvisError(f"training file {path} not found: pass an existing JSONL file to --data") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise JarvisError(f"training file {path} cannot be read ({exc}): check the path and that it is UTF-8") from None
    examples: list[TrainExample] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"training file {path}, line {number}"
        try:
            data = json.loads(line)
            example = TrainExample.from_dict(data)
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as exc:
            raise JarvisError(
                f'{where}: not a {{"prompt", "answer", "tools"}} JSON object ({exc}); fix that line'
            ) from None
        if not example.prompt.strip() or not example.answer.strip():
            raise JarvisError(f"{where}: empty prompt or answer; fill both in")
        if known is not None:
            unknown = [t for t in example.tools if t not in known]
            if unknown:
                raise JarvisError(f"{where}: unknown tool id {', '.join(unknown)}; use the ids of the suite's registry")
        examples.append(example)
    if not examples:
        raise JarvisError(f"training file {path} has no examples: add JSON lines with prompt, answer and tools")
    return examples


# ---------------------------------------------------------------------------------------
# Generation. Each tool has requests (clean, polite, terse, indirect) and misheard forms;
# slots in braces are filled from the entity lists below, none of them an evaluation entity.


@dataclass(frozen=True)
class Phrases:
    """The data the training set is built from (``jarvis_train_phrases.yaml``), read once."""

    forbidden: tuple[str, ...]
    entities: Mapping[str, tuple[Any, ...]]
    polite: tuple[str, ...]
    joiners: tuple[str, ...]
    tools: Mapping[str, Mapping[str, tuple[str, ...]]]
    multi: tuple[tuple[str, ...], ...]


def default_phrases_path() -> Path:
    return Path(str(resources.files("evals") / "suites" / PHRASES_FILE))


@lru_cache(maxsize=4)
def load_phrases(path: str | None = None) -> Phrases:
    """Read the phrasings file; raise ``JarvisError`` naming the file when it is unusable."""
    import yaml

    file = Path(path) if path else default_phrases_path()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        pairs = ("when", "durations", "messages", "chores", "music")
        entities: dict[str, tuple[Any, ...]] = {
            "apps": tuple((a["said"], a["confirmed"], tuple(a["misheard"])) for a in data["apps"]),
            **{k: tuple((e["said"], e["confirmed"]) for e in data[k]) for k in pairs},
            **{k: tuple(data[k]) for k in ("cities", "contacts", "times", "topics", "log_queries")},
        }
        return Phrases(
            forbidden=tuple(data["forbidden"]),
            entities=entities,
            polite=tuple(data["polite"]),
            joiners=tuple(data["joiners"]),
            tools={t: {reg: tuple(v) for reg, v in regs.items()} for t, regs in data["tools"].items()},
            multi=tuple(tuple(c) for c in data["multi"]),
        )
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise JarvisError(f"training phrases {file} are unusable ({exc}): restore the shipped file") from None


# How many requests of each register every tool gets (before polite, noisy and alias forms).
PER_TOOL = {"clean": 6, "indirect": 4, "terse": 2, "misheard": 7}


def _slots(tool: str, rng: random.Random) -> dict[str, str]:
    """Pick one value per slot, deterministic for a given ``rng`` state."""
    e = load_phrases().entities
    app = rng.choice(e["apps"])
    when, city = rng.choice(e["when"]), rng.choice(e["cities"])
    duration, contact, message = rng.choice(e["durations"]), rng.choice(e["contacts"]), rng.choice(e["messages"])
    time, chore, topic = rng.choice(e["times"]), rng.choice(e["chores"]), rng.choice(e["topics"])
    query, music = rng.choice(e["log_queries"]), rng.choice(e["music"])
    return {
        "app": app[0],
        "app_name": app[1],
        "misheard": rng.choice(app[2]),
        "when": when[0],
        "when_name": when[1],
        "city": city,
        "city_name": city,
        "duration": duration[0],
        "duration_name": duration[1],
        "contact": contact,
        "contact_name": contact,
        "message": message[0],
        "time": time,
        "time_name": time,
        "chore": chore[0],
        "chore_name": chore[1],
        "topic": topic,
        "topic_name": topic,
        "query": query,
        "query_name": query,
        "music": music[0],
        "music_name": music[1],
    }


def _bases(template: str) -> set[str]:
    """Return the entity kinds a template mentions ("{misheard}" is an app too)."""
    return {"app" if s == "misheard" else s.split("_")[0] for s in re.findall(r"{(\w+)}", template)}


def _confirm(tool: str, slots: Mapping[str, str], rng: random.Random, prompt_template: str) -> str:
    """Return a first-person confirmation naming as many of the request's entities as possible."""
    have = _bases(prompt_template)
    fitting = [o for o in load_phrases().tools[tool]["confirm"] if _bases(o) <= have]
    if not fitting:
        raise JarvisError(
            f"tool {tool}: no confirmation fits the request '{prompt_template}'; add one to {PHRASES_FILE}"
        )
    most = max(len(_bases(o)) for o in fitting)
    return rng.choice([o for o in fitting if len(_bases(o)) == most]).format(**slots)


def _answer(tools: Sequence[str], clauses: Sequence[str]) -> str:
    text = " et ".join(clauses)
    return f"{', '.join(tools)}{SEPARATOR}{text[0].upper()}{text[1:]}."


def _single(tool: str, template: str, rng: random.Random) -> TrainExample:
    slots = _slots(tool, rng)
    prompt = template.format(**slots)
    return TrainExample(prompt=prompt, answer=_answer([tool], [_confirm(tool, slots, rng, template)]), tools=(tool,))


_NOISE_SWAPS = (
    ("é", "e"),
    ("è", "e"),
    ("ê", "e"),
    ("'", ""),
    ("'", " "),
    ("ss", "s"),
    ("mm", "m"),
    ("ll", "l"),
    ("au", "o"),
    ("qu", "k"),
    ("ph", "f"),
    ("ai", "è"),
)


def _noisy(prompt: str, rng: random.Random) -> str:
    """Apply one speech-recognition-like corruption: a sound-alike spelling, a split or a dropped letter."""
    words = prompt.split()
    long_words = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    choice = rng.randrange(4)
    if choice == 0:
        swaps = [s for s in _NOISE_SWAPS if s[0] in prompt]
        if swaps:
            old, new = rng.choice(swaps)
            return prompt.replace(old, new, 1)
    if choice == 1 and long_words:
        i = rng.choice(long_words)
        cut = rng.randrange(2, len(words[i]) - 2)
        words[i] = f"{words[i][:cut]} {words[i][cut:]}"
        return " ".join(words)
    if choice == 2 and long_words:
        i = rng.choice(long_words)
        j = rng.randrange(1, len(words[i]) - 1)
        words[i] = words[i][:j] + words[i][j + 1 :]
        return " ".join(words)
    if len(words) >= 2:
        i = rng.randrange(len(words) - 1)
        if len(words[i]) <= 3:
            return " ".join([*words[:i], words[i] + words[i + 1], *words[i + 2 :]])
    return prompt.replace("'", "", 1) if "'" in prompt else prompt + "s"


def _capitalised(prompt: str, rng: random.Random) -> str:
    """Vary surface form the way transcripts do: sometimes a capital, sometimes end punctuation."""
    style = rng.randrange(5)
    if style == 1:
        return prompt[0].upper() + prompt[1:]
    if style == 2:
        return prompt + (" ?" if prompt.startswith(("est", "quel", "comment", "pourquoi", "il ")) else " !")
    if style == 3:
        return prompt[0].upper() + prompt[1:] + "."
    return prompt


def generate(suite: Suite, seed: int = SEED) -> list[TrainExample]:
    """Build the training set from the registry: every tool in every register, then multi-tool requests.

    Prompts too close to the evaluation (``evaluation_overlap``) and duplicates (after
    ``normalize``) are dropped; the order is shuffled with ``seed``.
    """
    rng = random.Random(seed)
    phrases = load_phrases()
    missing = sorted(suite.tool_ids - phrases.tools.keys())
    if missing:
        raise JarvisError(f"no training phrasings for tool(s) {', '.join(missing)}: add them to {PHRASES_FILE}")
    candidates: list[TrainExample] = []
    for tool in (t.id for t in suite.tools):
        data = phrases.tools[tool]
        # A fixed share per register keeps every tool equally taught and the set small enough
        # for the 5-minute CPU budget of `jarvis-evals train`.
        for register, k in PER_TOOL.items():
            for template in rng.sample(data[register], k=min(k, len(data[register]))):
                candidates.append(_single(tool, template, rng))
        for template in rng.sample(data["clean"], k=2):
            candidates.append(_single(tool, rng.choice(phrases.polite).replace("{p}", template), rng))
        for template in rng.sample((*data["clean"], *data["indirect"]), k=3):
            example = _single(tool, template, rng)
            candidates.append(TrainExample(_noisy(example.prompt, rng), example.answer, example.tools))
        # The tool's own aliases, said as requests: the registry is the vocabulary.
        if any(not _bases(o) for o in data["confirm"]):
            aliases = next(t.aliases for t in suite.tools if t.id == tool)
            for alias in rng.sample(aliases, k=min(2, len(aliases))):
                candidates.append(TrainExample(alias, _answer([tool], [_confirm(tool, {}, rng, "")]), (tool,)))
    candidates.extend(_multi(suite, rng))

    kept: list[TrainExample] = []
    seen: set[str] = set()
    for example in candidates:
        prompt = _capitalised(example.prompt, rng)
        key = compact(prompt)
        if key in seen or evaluation_overlap(prompt, suite):
            continue
        seen.add(key)
        kept.append(TrainExample(prompt, example.answer, example.tools))
    rng.shuffle(kept)
    return kept


def _multi(suite: Suite, rng: random.Random) -> Iterator[TrainExample]:
    """Yield requests that need several tools, each joined from the tools' own phrasings."""
    phrases = load_phrases()
    for combo in phrases.multi:  # pairs (and a few triples) a person would plausibly ask in one breath
        for _ in range(2):
            parts, clauses = [], []
            for tool in combo:
                data = phrases.tools[tool]
                template = rng.choice((*data["clean"], *data["clean"], *data["misheard"]))
                slots = _slots(tool, rng)
                parts.append(template.format(**slots))
                clauses.append(_confirm(tool, slots, rng, template))
            prompt = parts[0]
            for part in parts[1:]:
                prompt += rng.choice(phrases.joiners) + part
            yield TrainExample(prompt=prompt, answer=_answer(list(combo), clauses), tools=tuple(combo))


def write_examples(examples: Iterable[TrainExample], path: str | Path) -> Path:
    """Write the examples as JSON lines (UTF-8, accents kept)."""
    text = "".join(json.dumps(e.to_dict(), ensure_ascii=False) + "\n" for e in examples)
    return atomic_write_text(path, text)


def main(argv: Sequence[str] | None = None) -> int:
    """Regenerate the shipped training set from the shipped suite."""
    parser = argparse.ArgumentParser(prog="python -m evals.training.trainset", description=main.__doc__)
    parser.add_argument("--suite", default=None, help="suite YAML (default: the shipped jarvis.yaml)")
    parser.add_argument("--out", default=str(default_train_path()), help="JSONL file to write")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    examples = generate(load_suite(args.suite), seed=args.seed)
    write_examples(examples, args.out)
    print(f"wrote {len(examples)} examples to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
