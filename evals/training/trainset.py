"""The JARVIS training set: built from the tool registry, kept apart from the evaluation prompts.

``python -m evals.training.trainset`` regenerates ``evals/suites/jarvis_train.jsonl`` deterministically
from the phrasings in ``evals/suites/jarvis_train_phrases.yaml``.
Each line is ``{"prompt": ..., "answer": ..., "tools": [...]}``; the answer has the shape the
suite's system prompt (version 2.0) asks for: the call(s) with their arguments, a dash, then a short
French confirmation (``open_app(app="firefox") — J'ouvre Firefox.``), or, when nothing is to be
done (thanks, greetings, conversation), a short French reply with no tool at all (``tools`` empty).

The set never contains an evaluation prompt of either shipped suite (``jarvis.yaml`` and, when it
is there, ``jarvis_full.yaml``: its prompts and its history's user turns), compared after
``normalize``, nor a prompt that contains a whole evaluation prompt of two words or more, nor the
evaluation's own entities and misspellings (``forbidden`` in the phrasings file): the benchmark
measures whether routing generalises, not whether it was memorised.
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
FULL_SUITE_FILE = "jarvis_full.yaml"
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


@dataclass(frozen=True)
class EvalText:
    """A text the model is evaluated on: a case's prompt, its intended reading, or a history user turn.

    ``prompt``: a case's own request (no training prompt may contain it); a history turn is only
    kept from being copied, since it is context ("augmente la luminosité") and not what is scored.
    """

    case: str
    text: str
    prompt: bool = True


def evaluation_texts(suite: Suite, full_suite: str | Path | None = None) -> tuple[EvalText, ...]:
    """The evaluation texts of ``suite`` and of the full suite (``jarvis_full.yaml``) when it exists.

    The full suite is read with yaml directly (its own ``cases:`` only; the ones it extends are
    ``suite``'s): prompts, ``intended`` readings and the user turns of ``history``.
    """
    texts = [EvalText(c.id, t) for c in suite.cases for t in (c.prompt, c.intended) if t]
    path = Path(full_suite) if full_suite is not None else default_full_suite_path()
    for case in _full_suite_cases(str(path)):
        texts += [EvalText(case["id"], t) for t in case["prompts"]]
        texts += [EvalText(case["id"], t, prompt=False) for t in case["history"]]
    return tuple(texts)


def default_full_suite_path() -> Path:
    return Path(str(resources.files("evals") / "suites" / FULL_SUITE_FILE))


@lru_cache(maxsize=4)
def _full_suite_cases(path: str) -> tuple[dict[str, Any], ...]:
    import yaml

    file = Path(path)
    if not file.is_file():
        return ()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8")) or {}
        out = []
        for i, raw in enumerate(data.get("cases") or ()):
            history = raw.get("history") or ()
            users = [str(t["content"]) for t in history if t.get("role") == "user" and t.get("content")]
            prompts = [str(raw["prompt"]), *([str(raw["intended"])] if raw.get("intended") else [])]
            out.append({"id": str(raw.get("id", f"case {i}")), "prompts": prompts, "history": users})
        return tuple(out)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise JarvisError(f"full suite {file} is unusable for the disjointness check ({exc})") from None


def evaluation_overlap(prompt: str, suite: Suite, full_suite: str | Path | None = None) -> str | None:
    """Return why ``prompt`` is too close to the evaluation cases, or None when it is apart.

    Too close: equal to an evaluation text (after ``normalize``, or with spaces removed), or
    containing an evaluation prompt of two words or more as whole words ("jarvis, coupe le son"),
    or containing a ``forbidden`` word of the evaluation. A one-word evaluation prompt ("merci")
    and a history turn are only kept from being copied: forbidding every training prompt that
    holds them would forbid the word, or the plainest request ("augmente la luminosité").
    """
    norm, flat = normalize(prompt), compact(prompt)
    for item in evaluation_texts(suite, full_suite):
        text = normalize(item.text)
        if norm == text or flat == compact(item.text):
            return f"equals evaluation case {item.case}"
        if item.prompt and " " in text and _contains_words(norm, text):
            return f"contains the prompt of evaluation case {item.case}"
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
# Generation. Each tool has requests (clean, indirect, terse, misheard, and levels for volume and
# brightness); slots in braces are filled from the entity lists, none of them an evaluation entity,
# and each filled slot passes its argument to the call. `chat` holds the requests that need no tool.


@dataclass(frozen=True)
class Entity:
    """A slot value: how the request says it, how the confirmation says it, what the call passes."""

    said: str
    confirmed: str
    arg: str | int
    misheard: tuple[str, ...] = ()


@dataclass(frozen=True)
class Template:
    """A request: its text with {slots}, and the arguments and confirmation it fixes, if any."""

    say: str
    args: Mapping[str, Any]
    confirm: str = ""


@dataclass(frozen=True)
class Phrases:
    """The data the training set is built from (``jarvis_train_phrases.yaml``), read once."""

    forbidden: tuple[str, ...]
    arguments: Mapping[str, str]
    entities: Mapping[str, tuple[Entity, ...]]
    polite: tuple[str, ...]
    joiners: tuple[str, ...]
    tools: Mapping[str, Mapping[str, tuple[Template, ...]]]
    confirms: Mapping[str, tuple[str, ...]]
    defaults: Mapping[str, Mapping[str, Any]]
    multi: tuple[tuple[str, ...], ...]
    chat: Mapping[str, tuple[tuple[str, str], ...]]


ENTITY_KINDS = (
    "apps",
    "cities",
    "when",
    "durations",
    "contacts",
    "messages",
    "times",
    "chores",
    "topics",
    "log_queries",
    "music",
    "high",
    "low",
    "level",
    "step",
)
# The slot name each entity list fills in a template ("{app}", "{city}"...).
SLOT = {
    "apps": "app",
    "cities": "city",
    "durations": "duration",
    "contacts": "contact",
    "messages": "message",
    "times": "time",
    "chores": "chore",
    "topics": "topic",
    "log_queries": "query",
}


def default_phrases_path() -> Path:
    return Path(str(resources.files("evals") / "suites" / PHRASES_FILE))


def _keys(item: Mapping[str, Any], allowed: set[str]) -> None:
    """A comma left unquoted in a YAML flow mapping makes a key of the rest: refuse it."""
    if not set(item) <= allowed:
        raise KeyError(f"unexpected key(s) {sorted(set(item) - allowed)} in {dict(item)} (quote values with commas)")


def _entity(item: Any) -> Entity:
    if isinstance(item, Mapping):
        _keys(item, {"said", "confirmed", "arg", "misheard"})
        said = str(item["said"])
        arg = item.get("arg", said)
        return Entity(said, str(item.get("confirmed", said)), arg, tuple(str(m) for m in item.get("misheard", ())))
    if isinstance(item, bool) or not isinstance(item, str | int):
        raise TypeError(f"entity {item!r} is neither text, a number nor a mapping")
    return Entity(str(item), str(item), item)


def _template(item: Any) -> Template:
    if isinstance(item, Mapping):
        _keys(item, {"say", "args", "confirm"})
        return Template(str(item["say"]), dict(item.get("args") or {}), str(item.get("confirm", "")))
    return Template(str(item), {})


def _chat(groups: Mapping[str, Any]) -> dict[str, tuple[tuple[str, str], ...]]:
    """Each group's (prompt, answer) pairs; a bare prompt's answer is "" (drawn from ``answers`` later)."""
    out: dict[str, tuple[tuple[str, str], ...]] = {}
    for name, group in groups.items():
        pairs = []
        for p in group["prompts"]:
            if isinstance(p, Mapping):
                _keys(p, {"say", "answer"})
            pairs.append((str(p["say"]), str(p["answer"])) if isinstance(p, Mapping) else (str(p), ""))
        out[name] = tuple(pairs)
        if any(not a for _, a in pairs) and not group.get("answers"):
            raise KeyError(f"chat group {name} has prompts without an answer and no 'answers'")
        out[f"{name}:answers"] = tuple((str(a), str(a)) for a in group.get("answers") or ())
    return out


@lru_cache(maxsize=4)
def load_phrases(path: str | None = None) -> Phrases:
    """Read the phrasings file; raise ``JarvisError`` naming the file when it is unusable."""
    import yaml

    file = Path(path) if path else default_phrases_path()
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
        tools = data["tools"]
        return Phrases(
            forbidden=tuple(data["forbidden"]),
            arguments={str(k): str(v) for k, v in data["arguments"].items()},
            entities={k: tuple(_entity(e) for e in data[k]) for k in ENTITY_KINDS},
            polite=tuple(data["polite"]),
            joiners=tuple(data["joiners"]),
            tools={
                t: {
                    reg: tuple(_template(v) for v in vs)
                    for reg, vs in regs.items()
                    if reg not in ("confirm", "defaults")
                }
                for t, regs in tools.items()
            },
            confirms={t: tuple(regs["confirm"]) for t, regs in tools.items()},
            defaults={t: dict(regs.get("defaults") or {}) for t, regs in tools.items()},
            multi=tuple(tuple(c) for c in data["multi"]),
            chat=_chat(data["chat"]),
        )
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError, AttributeError) as exc:
        raise JarvisError(f"training phrases {file} are unusable ({exc}): restore the shipped file") from None


# How many requests of each register every tool gets (before polite, noisy and alias forms).
PER_TOOL = {"clean": 6, "indirect": 4, "terse": 2, "misheard": 7, "levels": 9}
# Levels and steps are taught twice per phrasing, with other numbers: the number is the lesson.
REPEAT = {"levels": 2}


def _picks(rng: random.Random) -> dict[str, Entity]:
    """Pick one entity per slot, deterministic for a given ``rng`` state."""
    entities = load_phrases().entities
    return {SLOT.get(kind, kind): rng.choice(entities[kind]) for kind in ENTITY_KINDS}


def _slots(picks: Mapping[str, Entity], rng: random.Random) -> dict[str, str]:
    slots: dict[str, str] = {}
    for name, entity in picks.items():
        slots[name], slots[f"{name}_name"] = entity.said, entity.confirmed
    slots["misheard"] = rng.choice(picks["app"].misheard)
    return slots


def _bases(template: str) -> set[str]:
    """Return the slot kinds a template mentions ("{misheard}" is an app too)."""
    return {"app" if s == "misheard" else s.split("_")[0] for s in re.findall(r"{(\w+)}", template)}


def _confirm(tool: str, slots: Mapping[str, str], rng: random.Random, prompt_template: str) -> str:
    """Return a first-person confirmation naming as many of the request's entities as possible."""
    have = _bases(prompt_template)
    fitting = [o for o in load_phrases().confirms[tool] if _bases(o) <= have]
    if not fitting:
        raise JarvisError(
            f"tool {tool}: no confirmation fits the request '{prompt_template}'; add one to {PHRASES_FILE}"
        )
    most = max(len(_bases(o)) for o in fitting)
    return rng.choice([o for o in fitting if len(_bases(o)) == most]).format(**slots)


def format_call(tool: str, arguments: Mapping[str, Any]) -> str:
    """``open_app(app="firefox")``: arguments in the schema's order, text quoted (JSON), integers bare."""
    from evals.runtime.tools import REGISTRY

    order = list(REGISTRY[tool].schema.get("properties", {})) if tool in REGISTRY else []
    keys = sorted(arguments, key=lambda k: order.index(k) if k in order else len(order))
    parts = [
        f"{k}={v}" if isinstance(v, int) else f"{k}={json.dumps(str(v), ensure_ascii=False)}"
        for k in keys
        for v in (arguments[k],)
    ]
    return f"{tool}({', '.join(parts)})"


def _arguments(tool: str, template: Template, picks: Mapping[str, Entity]) -> dict[str, Any]:
    """The call's arguments: the tool's defaults, then each slot the request fills, then the fixed ones."""
    phrases = load_phrases()
    args = dict(phrases.defaults.get(tool, {}))
    for base in sorted(_bases(template.say)):
        args[phrases.arguments[base]] = picks[base].arg
    args.update(template.args)
    return args


def _answer(calls: Sequence[str], clauses: Sequence[str]) -> str:
    text = " et ".join(clauses)
    return f"{', '.join(calls)}{SEPARATOR}{text[0].upper()}{text[1:]}."


@dataclass(frozen=True)
class _Rendered:
    prompt: str
    call: str
    clause: str


_ELISION = re.compile(r"\b([dD]|[qQ]u)e ([aeiouéèêâAEIOUÉ])")


def elide(text: str) -> str:
    """French elision where a slot meets its template: "de appeler" -> "d'appeler", "que on" -> "qu'on"."""
    return _ELISION.sub(r"\1'\2", text)


def _render(tool: str, template: Template, rng: random.Random, say: str | None = None) -> _Rendered:
    """Fill a request's slots; return the request, its call and its confirmation clause."""
    picks = _picks(rng)
    slots = _slots(picks, rng)
    prompt = elide((say or template.say).format(**slots))
    call = format_call(tool, _arguments(tool, template, picks))
    clause = template.confirm.format(**slots) if template.confirm else _confirm(tool, slots, rng, template.say)
    return _Rendered(prompt, call, elide(clause))


def _single(tool: str, template: Template, rng: random.Random, say: str | None = None) -> TrainExample:
    r = _render(tool, template, rng, say)
    return TrainExample(prompt=r.prompt, answer=_answer([r.call], [r.clause]), tools=(tool,))


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


def generate(suite: Suite, seed: int = SEED, full_suite: str | Path | None = None) -> list[TrainExample]:
    """Build the training set from the registry: every tool in every register, multi-tool requests,
    then the requests that need no tool.

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
        # for the CPU budget of `jarvis-evals train`.
        for register, k in PER_TOOL.items():
            templates = data.get(register, ())
            for template in rng.sample(templates, k=min(k, len(templates))):
                for _ in range(REPEAT.get(register, 1)):
                    candidates.append(_single(tool, template, rng))
        for template in rng.sample(data["clean"], k=2):
            candidates.append(_single(tool, template, rng, rng.choice(phrases.polite).replace("{p}", template.say)))
        for template in rng.sample((*data["clean"], *data["indirect"]), k=3):
            example = _single(tool, template, rng)
            candidates.append(TrainExample(_noisy(example.prompt, rng), example.answer, example.tools))
        # The tool's own aliases, said as requests: the registry is the vocabulary.
        if any(not _bases(o) for o in phrases.confirms[tool]):
            aliases = next(t.aliases for t in suite.tools if t.id == tool)
            for alias in rng.sample(aliases, k=min(2, len(aliases))):
                alias_template = Template(alias.replace("{", "{{").replace("}", "}}"), {})
                candidates.append(_single(tool, alias_template, rng))
    candidates.extend(_multi(rng))
    candidates.extend(_chat_examples(rng))

    kept: list[TrainExample] = []
    seen: set[str] = set()
    for example in candidates:
        prompt = _capitalised(example.prompt, rng)
        key = compact(prompt)
        if key in seen or evaluation_overlap(prompt, suite, full_suite):
            continue
        seen.add(key)
        kept.append(TrainExample(prompt, example.answer, example.tools))
    rng.shuffle(kept)
    return kept


def _multi(rng: random.Random) -> Iterator[TrainExample]:
    """Yield requests that need several tools, each joined from the tools' own phrasings."""
    phrases = load_phrases()
    for combo in phrases.multi:  # pairs (and a few triples) a person would plausibly ask in one breath
        for _ in range(2):
            parts, calls, clauses = [], [], []
            for tool in combo:
                data = phrases.tools[tool]
                template = rng.choice((*data["clean"], *data["clean"], *data["misheard"]))
                r = _render(tool, template, rng)
                parts.append(r.prompt)
                calls.append(r.call)
                clauses.append(r.clause)
            prompt = parts[0]
            for part in parts[1:]:
                prompt += rng.choice(phrases.joiners) + part
            yield TrainExample(prompt=prompt, answer=_answer(calls, clauses), tools=tuple(combo))


def _chat_examples(rng: random.Random) -> Iterator[TrainExample]:
    """Yield the requests that need no tool, each with its spoken reply and no call."""
    chat = load_phrases().chat
    for name, pairs in chat.items():
        if name.endswith(":answers"):
            continue
        answers = [a for a, _ in chat[f"{name}:answers"]]
        for prompt, answer in pairs:
            yield TrainExample(prompt=prompt, answer=answer or rng.choice(answers), tools=())


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
    parser.add_argument(
        "--full-suite",
        default=None,
        help=f"the full suite whose cases the set must also avoid (default: the shipped {FULL_SUITE_FILE}, if any)",
    )
    args = parser.parse_args(argv)
    examples = generate(load_suite(args.suite), seed=args.seed, full_suite=args.full_suite)
    write_examples(examples, args.out)
    none = sum(1 for e in examples if not e.tools)
    multi = sum(1 for e in examples if len(e.tools) > 1)
    print(f"wrote {len(examples)} examples to {args.out} ({none} with no tool, {multi} with several tools)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
