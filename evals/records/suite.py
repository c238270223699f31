"""The suite as records: tools, their lexicon, cases and the suite that holds them.

These are read from the suite YAML (``evals.suite``), not from results files: ``Tool`` keeps its
own ``to_dict``/``from_dict`` in the suite file's shape (parameters as an object), and
``Case.to_dict`` is the canonical form ``suite_hash`` digests.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

# The seed's three categories, then the full suite's (issue 24): requests where nothing should run,
# argument-heavy requests, and follow-ups that depend on earlier turns.
CATEGORIES: tuple[str, ...] = ("commands", "corrections", "routing", "no_tool", "arguments", "follow_up")
SEED_CATEGORIES = CATEGORIES[:3]
NO_TOOL = "no_tool"
# `expect: nothing`: no call may run.
EXPECT_NOTHING = "nothing"
TurnRole = Literal["user", "assistant", "tool"]
# How the tools reach the model: listed in the system prompt, or as function schemas.
ToolsFormat = Literal["system-text", "native-tools"]
SYSTEM_TEXT: ToolsFormat = "system-text"
NATIVE_TOOLS: ToolsFormat = "native-tools"
PROMPT_FORMATS: tuple[str, ...] = (SYSTEM_TEXT, NATIVE_TOOLS)


def _tuple(value: Any) -> tuple[str, ...]:
    return tuple(str(v) for v in (value or ()))


@dataclass(frozen=True)
class Intent:
    """Words that name a tool together: an action and, when objects are listed, an object in the same sentence."""

    actions: tuple[str, ...]
    objects: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"actions": list(self.actions), "objects": list(self.objects)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Intent:
        return cls(actions=_tuple(data.get("actions")), objects=_tuple(data.get("objects")))


@dataclass(frozen=True)
class Tool:
    """One tool of the JARVIS registry and the lexicon that names it in free text.

    ``phrases`` name the tool alone ("sourdine"); ``intents`` name it by an action and an
    object in one sentence ("monté" + "volume"); ``aliases`` (suite version 1.0) count as phrases.
    """

    id: str
    description: str
    aliases: tuple[str, ...] = ()
    phrases: tuple[str, ...] = ()
    intents: tuple[Intent, ...] = ()
    # The tool's arguments as a JSON schema (canonical JSON text, so the record stays hashable);
    # empty: no argument. Used by the native-tools prompt format.
    parameters: str = ""

    def function_schema(self) -> dict[str, Any]:
        """Return the tool as an OpenAI/Hermes function schema, as chat templates and servers take it."""
        parameters = json.loads(self.parameters) if self.parameters else {"type": "object", "properties": {}}
        return {
            "type": "function",
            "function": {"name": self.id, "description": self.description, "parameters": parameters},
        }

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "description": self.description, "aliases": list(self.aliases)}
        if self.phrases:
            out["phrases"] = list(self.phrases)
        if self.intents:
            out["intents"] = [i.to_dict() for i in self.intents]
        if self.parameters:
            out["parameters"] = json.loads(self.parameters)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tool:
        return cls(
            id=data["id"],
            description=data.get("description", ""),
            aliases=_tuple(data.get("aliases")),
            phrases=_tuple(data.get("phrases")),
            intents=tuple(Intent.from_dict(i) for i in data.get("intents") or ()),
            parameters=json.dumps(data["parameters"], sort_keys=True) if data.get("parameters") else "",
        )


@dataclass(frozen=True)
class Turn:
    """One earlier turn of a follow-up case: what the user said, what JARVIS answered, or a tool's result."""

    role: TurnRole
    content: str


@dataclass(frozen=True)
class Case:
    """One evaluation prompt with what a good answer must contain."""

    id: str
    category: str
    prompt: str
    expected_tools: tuple[str, ...]
    keywords: tuple[str, ...]
    intended: str | None = None
    # A generated speech-recognition variant (evals/perturb): the clean case's id, the noise
    # level (0 = the clean prompt) and the variant's index. None on hand-written cases.
    source: str | None = None
    level: int | None = None
    variant: int | None = None
    # What should happen (evals/runtime, docs/metrics.md): the state before the turn, the earlier
    # turns whose calls run first, and the expected state change ("nothing": no call may run).
    # None: the case says nothing, and task success is not measured for it. Mappings are left out
    # of the hash (a frozen record must stay hashable); equality still compares them.
    setup: Mapping[str, Any] | None = field(default=None, hash=False)
    expect: Mapping[str, Any] | str | None = field(default=None, hash=False)
    history: tuple[Turn, ...] = ()

    @property
    def expects_nothing(self) -> bool:
        """True when no call may run (``expected_tools: []``, ``expect: nothing``)."""
        return self.expect == EXPECT_NOTHING

    def to_dict(self) -> dict[str, Any]:
        """The canonical form ``suite_hash`` digests (results files store cases through the codec)."""
        data: dict[str, Any] = {
            "id": self.id,
            "category": self.category,
            "prompt": self.prompt,
            "expected_tools": list(self.expected_tools),
            "keywords": list(self.keywords),
            "intended": self.intended,
        }
        if self.level is not None:
            # Only variants carry these keys, so a run without them writes what it always wrote.
            data.update(source=self.source, level=self.level, variant=self.variant)
        # Only cases with an expectation carry these keys, for the same reason.
        if self.setup is not None:
            data["setup"] = self.setup
        if self.expect is not None:
            data["expect"] = self.expect
        if self.history:
            data["history"] = [{"role": t.role, "content": t.content} for t in self.history]
        return data


@dataclass(frozen=True)
class Suite:
    """A versioned set of cases, the system prompt they are asked under and the tool registry."""

    name: str
    version: str
    system_prompt: str
    tools: tuple[Tool, ...]
    cases: tuple[Case, ...]
    path: str = ""
    # How the tools reach the model: listed in the system prompt text ("system-text"), or passed as
    # function schemas to the chat template / the server ("native-tools"), with
    # ``native_system_prompt`` (the instructions without the tool list) as the system prompt.
    prompt_format: str = "system-text"
    native_system_prompt: str = ""

    @property
    def tool_ids(self) -> frozenset[str]:
        return frozenset(t.id for t in self.tools)

    def system_prompt_for(self, prompt_format: str) -> str:
        """Return the system prompt a format asks with (native tools: the instructions alone)."""
        if prompt_format == NATIVE_TOOLS and self.native_system_prompt:
            return self.native_system_prompt
        return self.system_prompt

    def function_schemas(self) -> list[dict[str, Any]]:
        """Return every tool as a function schema, in registry order."""
        return [t.function_schema() for t in self.tools]

    def counts(self) -> dict[str, int]:
        """Return the number of cases per category, in the canonical category order."""
        present = {case.category for case in self.cases}
        return {
            c: sum(1 for case in self.cases if case.category == c)
            for c in CATEGORIES
            if c in present or c in SEED_CATEGORIES
        }
