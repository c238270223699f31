"""Load and validate a suite file (YAML) into a typed ``Suite``."""

from __future__ import annotations

import contextlib
import functools
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from evals.errors import JarvisError
from evals.records import (
    CATEGORIES,
    EXPECT_NOTHING,
    PROMPT_FORMATS,
    SYSTEM_TEXT,
    Case,
    Intent,
    Suite,
    Tool,
    Turn,
)

if TYPE_CHECKING:
    from evals.config import EvalConfig

DEFAULT_SUITE = "jarvis.yaml"
# The shipped suites by short name (--jarvis-suite=jarvis-full): the seed's 30 prompts, and those
# 30 plus no-tool, argument and follow-up cases.
SHIPPED_SUITES = {"jarvis": DEFAULT_SUITE, "jarvis-full": "jarvis_full.yaml"}
MAX_EXTENDS = 4  # a chain of `extends:` longer than this is a loop or a mistake


class SuiteError(JarvisError, ValueError):
    """A suite file that cannot be used; the message names the file and the fix."""


def default_suite_path(name: str = "jarvis") -> Path:
    """Return the path of a suite shipped in the package (``jarvis`` or ``jarvis-full``)."""
    return Path(str(resources.files("evals") / "suites" / SHIPPED_SUITES[name]))


def resolve_suite(value: str | Path | None) -> Path:
    """A suite option's value as a path: a shipped suite's short name, unless a file of that name exists."""
    if value is None:
        return default_suite_path()
    if str(value) in SHIPPED_SUITES and not Path(value).exists():
        return default_suite_path(str(value))
    return Path(value)


# A suite nests 4 levels (cases > case > keywords > word); deeper is damage or an attack on the parser.
MAX_YAML_DEPTH = 32


class _SuiteLoader(yaml.SafeLoader):
    """SafeLoader without aliases and with a depth limit.

    An alias makes a suite a graph: nine nested anchors expand a 1 KB file into gigabytes of
    prompt (the "billion laughs"), so a pull request editing the suite could exhaust a CI
    runner's memory. A suite never needs one, so any alias is refused where it is written.
    """

    _depth = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"alias *{event.anchor} is not allowed in a suite; write the value out", event.start_mark
            )
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_YAML_DEPTH} levels deep", self.peek_event().start_mark
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


def _load_yaml(text: str) -> Any:
    """A suite file's data: through libyaml when PyYAML has it, else (and for any problem) ``_SuiteLoader``.

    Python's YAML parser takes 5 s for a suite of 3,000 cases, libyaml's about a second, most of
    collecting them. The fast path first reads the events, refusing what ``_SuiteLoader`` refuses
    (an alias, a node nested deeper than ``MAX_YAML_DEPTH``) before anything is built; a file it
    refuses or cannot parse is read again by ``_SuiteLoader``, which says what is wrong, with line
    and column, in the same words either way. Both build the data with PyYAML's safe constructor.
    """
    fast = getattr(yaml, "CSafeLoader", None)
    if fast is not None and _plain_yaml(text, fast):
        with contextlib.suppress(yaml.YAMLError):
            return yaml.load(text, Loader=fast)  # noqa: S506 (a safe loader; aliases were refused above)
    return yaml.load(text, Loader=_SuiteLoader)  # noqa: S506 (a SafeLoader without aliases)


def _plain_yaml(text: str, loader: Any) -> bool:
    """Whether ``text`` parses, with no alias and no node nested deeper than ``MAX_YAML_DEPTH`` (the root is 1)."""
    depth = 0
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, yaml.AliasEvent):
                return False
            if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and depth + 1 > MAX_YAML_DEPTH:
                return False
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
    except yaml.YAMLError:
        return False
    return True


def _fail(path: Path, where: str, what: str) -> SuiteError:
    return SuiteError(f"suite file {path}: {where}{what}")


class _NotText(ValueError):
    """A field that must be text (or a list of text) holds something else."""


def _strings(value: Any) -> list[str]:
    """Read a list of words: a string is a list of one; a number or a mapping is refused, never ``str()``-ed."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise _NotText(f"must be a list of text, got {_kind(value)}")
    for item in value:
        if not isinstance(item, (str, int, float)) or isinstance(item, bool):
            raise _NotText(f"must be a list of text, got an item that is {_kind(item)}")
    return [str(v) for v in value]


def _text(value: Any, default: str = "") -> str:
    """Read one text field; a number is its spelling, a list or a mapping is refused."""
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise _NotText(f"must be text, got {_kind(value)}")
    return str(value)


def _field(path: Path, where: str, raw: dict[Any, Any], key: str, read: Any = _text) -> Any:
    """Read ``raw[key]`` with ``read`` (``_text`` or ``_strings``); a value of the wrong kind is one line."""
    try:
        return read(raw.get(key))
    except _NotText as exc:
        raise _fail(path, where, f"'{key}' {exc}") from None


def _kind(value: Any) -> str:
    return {dict: "a mapping", list: "a list", bool: "true/false", type(None): "nothing"}.get(
        type(value), f"the {type(value).__name__} {str(value)[:20]!r}"
    )


def _version_as_written(text: str, value: Any) -> str:
    """Return the version exactly as the file spells it: unquoted ``1.10`` must not read as "1.1"."""
    if isinstance(value, str):
        return value
    # Baselines and the generation cache are keyed on the version, so a lossy float would
    # silently share them between 1.1 and 1.10; the scalar's source text is what was meant.
    root = yaml.compose(text, Loader=_SuiteLoader)
    for key, node in root.value if root is not None else ():
        if isinstance(node, yaml.ScalarNode) and key.value == "version":
            return node.value
    return str(value)


def _intents(path: Path, tool_id: str, value: Any) -> tuple[Intent, ...]:
    """Read a tool's ``intents``: a list of ``{actions: [...], objects: [...]}``; objects may be omitted."""
    if value is None:
        return ()
    where = f"tool '{tool_id}': "
    if not isinstance(value, list):
        raise _fail(path, where, "'intents' must be a list of {actions: [...], objects: [...]} mappings")
    intents = []
    for n, raw in enumerate(value, 1):
        if not isinstance(raw, dict) or set(raw) - {"actions", "objects"}:
            raise _fail(path, where, f"intent #{n} must be a mapping with 'actions' and optional 'objects' only")
        actions = tuple(a for a in _field(path, f"{where}intent #{n}: ", raw, "actions", _strings) if a.strip())
        if not actions:
            raise _fail(path, where, f"intent #{n} has no actions; list the verbs or nouns that name the action")
        objects = _field(path, f"{where}intent #{n}: ", raw, "objects", _strings)
        intents.append(Intent(actions=actions, objects=tuple(o for o in objects if o.strip())))
    return tuple(intents)


def _parameters(path: Path, tool_id: str, value: Any) -> str:
    """Read a tool's optional ``parameters`` JSON schema (an object schema); return it as canonical JSON."""
    if value is None:
        return ""
    if not isinstance(value, dict) or value.get("type", "object") != "object":
        raise _fail(
            path,
            f"tool '{tool_id}': ",
            "'parameters' must be a JSON-schema object, e.g. {type: object, properties: {...}}",
        )
    try:
        return json.dumps(value, sort_keys=True, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise _fail(path, f"tool '{tool_id}': ", f"'parameters' is not JSON ({exc})") from None


NOISE_LEVELS = range(4)  # evals/perturb's levels: 0 (clean) to 3 edits per request


def _noise(path: Path, where: str, raw: dict[str, Any]) -> tuple[int | None, int | None]:
    """Read a generated variant's ``level`` (0-3) and ``variant`` index; (None, None) on hand-written cases."""
    if raw.get("level") is None:
        return None, None
    level, variant = raw.get("level"), raw.get("variant", 0)
    if not isinstance(level, int) or isinstance(level, bool) or level not in NOISE_LEVELS:
        raise _fail(
            path, where, f"'level' must be a noise level 0-3, not {level!r}; regenerate with jarvis-evals perturb"
        )
    if not isinstance(variant, int) or isinstance(variant, bool) or variant < 0:
        raise _fail(
            path, where, f"'variant' must be an index >= 0, not {variant!r}; regenerate with jarvis-evals perturb"
        )
    return level, variant


def load_run_suite(config: EvalConfig) -> Suite:
    """Return the suite a run asks: the file as written, or with speech-recognition variants (``--jarvis-perturb``)."""
    suite = load_suite(config.suite)
    if not config.perturb:
        return suite
    # The generator reads the French lexicon (a second) only on this path: never on a plain run.
    from evals.perturb.generator import perturb_suite

    return perturb_suite(suite, config.perturb, config.perturb_variants, config.perturb_seed)


def load_suite(path: str | Path | None = None) -> Suite:
    """Read a suite file (or a shipped suite's short name), validating it fully; raise ``SuiteError`` naming file and case."""
    path = resolve_suite(path)
    try:
        stat = path.stat()
    except OSError:
        return _parse_suite(path)  # says why, in one line
    # Parsed once per process and file version (the plugin and the run both ask): a Suite is frozen.
    return _parsed_suite(path.resolve(), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=8)
def _parsed_suite(path: Path, mtime_ns: int, size: int) -> Suite:
    return _parse_suite(path)


def _parse_suite(path: Path, depth: int = 0) -> Suite:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SuiteError(f"suite file {path} not found: pass an existing file to --jarvis-suite") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SuiteError(f"suite file {path} cannot be read ({exc}): check the path and that it is UTF-8") from None
    try:
        data = _load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise _fail(path, where, f"malformed YAML ({problem}); fix the syntax there") from None
    if not isinstance(data, dict):
        raise _fail(path, "", "must be a mapping with version, system_prompt, tools and cases")
    parent = _parent(path, data, depth)
    required = ("version", "cases") if parent else ("version", "system_prompt", "tools", "cases")
    for key in required:
        if not data.get(key):
            raise _fail(path, "", f"missing or empty '{key}'")

    for key in ("tools", "cases"):
        if key in data and not isinstance(data[key], list):
            raise _fail(path, "", f"'{key}' must be a list of mappings, got {_kind(data[key])}")
    if parent and data.get("tools"):
        raise _fail(path, "", "a suite that 'extends' another takes its tools; remove 'tools' here")
    tools: list[Tool] = list(parent.tools) if parent else []
    for i, raw in enumerate(data.get("tools") or ()):
        if not isinstance(raw, dict) or not _field(path, f"tool #{i + 1}: ", raw, "id").strip():
            raise _fail(path, f"tool #{i + 1}: ", "needs an 'id'")
        tool_id = str(raw["id"]).strip()
        where = f"tool '{tool_id}': "
        tool = Tool(
            id=tool_id,
            description=_field(path, where, raw, "description"),
            aliases=tuple(_field(path, where, raw, "aliases", _strings)),
            phrases=tuple(p for p in _field(path, where, raw, "phrases", _strings) if p.strip()),
            intents=_intents(path, tool_id, raw.get("intents")),
            parameters=_parameters(path, tool_id, raw.get("parameters")),
        )
        if tool.id in {t.id for t in tools}:
            raise _fail(path, f"tool '{tool.id}': ", "duplicate tool id; give each tool a unique id")
        tools.append(tool)
    tool_ids = {t.id for t in tools}

    cases: list[Case] = list(parent.cases) if parent else []
    seen: set[str] = {c.id for c in cases}
    for i, raw in enumerate(data["cases"]):
        if not isinstance(raw, dict):
            raise _fail(path, f"case #{i + 1}: ", "must be a mapping")
        case_id = _field(path, f"case #{i + 1}: ", raw, "id").strip()
        if not case_id:
            raise _fail(path, f"case #{i + 1}: ", "needs an 'id'")
        where = f"case '{case_id}': "
        if case_id in seen:
            raise _fail(path, where, "duplicate case id; give each case a unique id")
        seen.add(case_id)
        category = _field(path, where, raw, "category")
        if category not in CATEGORIES:
            raise _fail(path, where, f"unknown category '{category}'; use one of {', '.join(CATEGORIES)}")
        prompt = _field(path, where, raw, "prompt").strip()
        if not prompt:
            raise _fail(path, where, "empty prompt")
        expected = _field(path, where, raw, "expected_tools", _strings)
        setup, expect, history = _expectation(path, where, raw, tool_ids)
        if not expected and expect != EXPECT_NOTHING:
            raise _fail(path, where, "no expected_tools; list at least one tool id, or say 'expect: nothing'")
        if expected and expect == EXPECT_NOTHING:
            raise _fail(path, where, "'expect: nothing' means no call may run: make expected_tools []")
        unknown = [t for t in expected if t not in tool_ids]
        if unknown:
            raise _fail(path, where, f"unknown tool id {', '.join(unknown)}; add it to 'tools' or fix the spelling")
        keywords = [k for k in _field(path, where, raw, "keywords", _strings) if k.strip()]
        if not keywords:
            raise _fail(path, where, "no keywords; list the 2-4 words a good answer contains")
        intended = _field(path, where, raw, "intended")
        if category == "corrections" and not intended.strip():
            raise _fail(path, where, "a correction needs 'intended' (the clean command)")
        level, variant = _noise(path, where, raw)
        cases.append(
            Case(
                id=case_id,
                category=category,
                prompt=prompt,
                expected_tools=tuple(expected),
                keywords=tuple(keywords),
                intended=intended.strip() or None,
                source=(_field(path, where, raw, "source") or case_id) if level is not None else None,
                level=level,
                variant=variant,
                setup=setup,
                expect=expect,
                history=history,
            )
        )
    if isinstance(data["version"], (list, dict)):  # any scalar, read below as the file spells it
        raise _fail(path, "", f"'version' must be text, got {_kind(data['version'])}")
    prompt_format = _field(path, "", data, "prompt_format") or (parent.prompt_format if parent else SYSTEM_TEXT)
    if prompt_format not in PROMPT_FORMATS:
        raise _fail(path, "", f"unknown prompt_format '{prompt_format}'; use one of {', '.join(PROMPT_FORMATS)}")
    return Suite(
        name=_field(path, "", data, "name") or path.stem,
        version=_version_as_written(text, data["version"]),
        system_prompt=_field(path, "", data, "system_prompt").strip() or (parent.system_prompt if parent else ""),
        tools=tuple(tools),
        cases=tuple(cases),
        path=str(path),
        prompt_format=prompt_format,
        native_system_prompt=_field(path, "", data, "native_system_prompt").strip()
        or (parent.native_system_prompt if parent else ""),
    )


def _parent(path: Path, data: dict[str, Any], depth: int) -> Suite | None:
    """The suite named by ``extends:`` (relative to this file): its tools, prompts and cases come first."""
    name = _field(path, "", data, "extends").strip()
    if not name:
        return None
    if depth >= MAX_EXTENDS:
        raise _fail(path, "", f"'extends' chains more than {MAX_EXTENDS} files; check for a loop")
    parent_path = path.parent / name
    if not parent_path.is_file():
        raise _fail(path, "", f"'extends: {name}' names no file next to this one ({parent_path})")
    return _parse_suite(parent_path, depth + 1)


TURN_ROLES = ("user", "assistant", "tool")


def _expectation(
    path: Path, where: str, raw: dict[str, Any], tool_ids: set[str]
) -> tuple[dict[str, Any] | None, dict[str, Any] | str | None, tuple[Turn, ...]]:
    """Read a case's ``setup``, ``expect`` and ``history``, validated by the runtime that will run them."""
    # The runtime is pure Python; it is imported here so that only suites reach it.
    from evals.metrics import parse_calls
    from evals.runtime import State, execute, parse_expect

    setup, expect, history = raw.get("setup"), raw.get("expect"), raw.get("history")
    try:
        state = State.from_setup(setup)
        if expect is not None:
            parse_expect(expect)
    except ValueError as exc:
        raise _fail(path, where, f"{exc}; see docs/metrics.md for the expect language") from None
    if isinstance(expect, str):
        expect = expect.strip()
    turns: list[Turn] = []
    if history is not None:
        if not isinstance(history, list):
            raise _fail(path, where, "'history' must be a list of {role: user|assistant|tool, content: ...}")
        for n, turn in enumerate(history, 1):
            if not isinstance(turn, dict) or set(turn) != {"role", "content"} or turn["role"] not in TURN_ROLES:
                raise _fail(path, where, f"history turn #{n} must be {{role: user|assistant|tool, content: ...}}")
            turns.append(Turn(role=turn["role"], content=_field(path, f"{where}history turn #{n}: ", turn, "content")))
        # A history whose own calls fail would make the case test the history, not the answer.
        for n, turn in enumerate(turns, 1):
            if turn.role == "assistant":
                run = execute(parse_calls(turn.content, tool_ids), state)
                if run.errors:
                    raise _fail(path, where, f"history turn #{n}: {run.errors[0].error}; fix the earlier answer")
                state = run.after
    return (dict(setup) if setup is not None else None), expect, tuple(turns)
