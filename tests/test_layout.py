"""The package's layout: no import cycle, short modules, a thin plugin, one plan per run, open backends."""

from __future__ import annotations

import ast
import json
import re
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.test_plugin import TEST_FILE

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "evals"
MAX_MODULE_LINES = 600
MAX_PLUGIN_LINES = 250


# -- the import graph ----------------------------------------------------------------------------


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(tree: ast.AST, here: str, is_package: bool) -> Iterator[tuple[str, int]]:
    """Every ``evals`` module name an import names, top level and inside functions; not under TYPE_CHECKING."""

    def walk(node: ast.AST) -> Iterator[tuple[str, int]]:
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for child in node.orelse:
                yield from walk(child)
            return
        if isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            if node.level:  # relative: resolved against this module's package
                package = here if is_package else here.rpartition(".")[0]
                for _ in range(node.level - 1):
                    package = package.rpartition(".")[0]
                module = f"{package}.{module}".rstrip(".")
            yield module, node.lineno
            yield from ((f"{module}.{a.name}", node.lineno) for a in node.names)  # `from evals import run`
        for child in ast.iter_child_nodes(node):
            yield from walk(child)

    yield from walk(tree)


def import_graph() -> dict[str, dict[str, int]]:
    """Module -> {module it imports: line}, for every module of ``evals/``."""
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, dict[str, int]] = {}
    for name, path in files.items():
        edges: dict[str, int] = {}
        for target, line in _imported(ast.parse(path.read_text(encoding="utf-8")), name, path.name == "__init__.py"):
            if target in files and target != name:
                edges.setdefault(target, line)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, dict[str, int]]) -> list[str] | None:
    """Return one cycle as a list of modules (first repeated last), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_and_names_a_cycle() -> None:
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3}, "d": {"a": 4}}
    assert find_cycle(graph) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": 1}, "b": {}}) is None


def test_the_package_has_no_import_cycle_even_inside_functions() -> None:
    graph = import_graph()
    cycle = find_cycle(graph)
    if cycle:
        steps = [f"{a} imports {b} (line {graph[a][b]})" for a, b in zip(cycle, cycle[1:], strict=False)]
        pytest.fail("import cycle: " + " -> ".join(cycle) + "\n  " + "\n  ".join(steps), pytrace=False)


# -- sizes ---------------------------------------------------------------------------------------


def _lines(path: Path) -> int:
    return len(path.read_text(encoding="utf-8").splitlines())


def test_the_plugin_is_thin() -> None:
    assert _lines(PACKAGE / "plugin.py") <= MAX_PLUGIN_LINES


def test_no_module_is_longer_than_600_lines() -> None:
    long = {str(p.relative_to(ROOT)): _lines(p) for p in sorted(PACKAGE.rglob("*.py")) if _lines(p) > MAX_MODULE_LINES}
    assert not long, f"modules over {MAX_MODULE_LINES} lines: {long}"


# -- one plan per run: the suite read once, each adapter folder inspected once ----------------------------


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """Count ``load_suite`` calls and adapter inspections, wherever the function was imported."""
    import evals.models
    import evals.suite

    calls: dict[str, list[str]] = {"load_suite": [], "inspect_adapter": []}
    for module, name in ((evals.suite, "load_suite"), (evals.models, "inspect_adapter")):
        original = getattr(module, name)

        def counting(*args, _original=original, _name=name, **kwargs):  # type: ignore[no-untyped-def]
            calls[_name].append(str(args[0]) if args else "")
            return _original(*args, **kwargs)

        for loaded in [m for key, m in sys.modules.items() if key == "evals" or key.startswith("evals.")]:
            if getattr(loaded, name, None) is original:
                monkeypatch.setattr(loaded, name, counting)
    return calls


def test_a_run_reads_the_suite_once_and_inspects_each_adapter_once(
    counted: dict[str, list[str]], pytester: pytest.Pytester, tiny_model_dir: Path, tiny_adapter_dir: Path
) -> None:
    from tests.test_gate_e2e import MINI_SUITE

    pytester.makepyfile(test_bench=TEST_FILE)
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    result = pytester.runpytest_inprocess(
        "-m", "jarvis", "--jarvis-suite=mini.yaml", f"--jarvis-model={tiny_model_dir}", "--jarvis-quant=none",
        "--jarvis-max-new-tokens=4", "--jarvis-no-cache", "--jarvis-assert=none", "-p", "no:cacheprovider",
        f"--jarvis-adapter=one={tiny_adapter_dir}", f"--jarvis-adapter=two={tiny_adapter_dir}",
    )  # fmt: skip
    assert result.ret == 0, result.stdout.str()
    assert len(counted["load_suite"]) == 1, counted["load_suite"]
    # Two arms on one folder: the folder is inspected once, never again by the backend or the cache keys.
    assert counted["inspect_adapter"] == [str(tiny_adapter_dir)]


# -- a third backend: the one docs/development.md shows ----------------------------------------------------


def doc_backend() -> str:
    """The echo backend's code, exactly as docs/development.md shows it."""
    text = (ROOT / "docs" / "development.md").read_text(encoding="utf-8")
    section = text.split("## Adding a backend", 1)[1]
    found = re.search(r"```python\n(.*?)```", section, re.S)
    assert found, "docs/development.md: no python block under 'Adding a backend'"
    return found.group(1)


def test_the_documented_backend_runs_the_benchmark_end_to_end(pytester: pytest.Pytester) -> None:
    from evals.backends import registered_backends, unregister_backend
    from tests.test_gate_e2e import MINI_SUITE

    code = doc_backend()
    assert len(code.splitlines()) <= 70
    pytester.makepyfile(echo_backend=code, test_bench=TEST_FILE)
    pytester.syspathinsert()
    (pytester.path / "mini.yaml").write_text(MINI_SUITE, encoding="utf-8")
    try:
        result = pytester.runpytest_inprocess(
            "-p", "echo_backend", "-m", "jarvis", "--jarvis-suite=mini.yaml", "--jarvis-backend=echo",
            "--jarvis-echo-text=open_app firefox", "--jarvis-no-cache", "-p", "no:cacheprovider",
        )  # fmt: skip
        assert result.ret == 0, result.stdout.str()
        result.assert_outcomes(passed=3)
        data = json.loads((pytester.path / "reports" / "benchmark_results.json").read_text())
        primary = data["metadata"]["primary"]
        assert {c["arms"][primary]["answer"] for c in data["results"]} == {"open_app firefox"}
        assert data["metadata"]["model_fingerprint"] == "echo:open_app firefox"
        # Its option belongs to it: with another backend it is a one-line usage error.
        other = pytester.runpytest_inprocess("-p", "echo_backend", "-m", "jarvis", "--jarvis-echo-text=x")
        assert other.ret == pytest.ExitCode.USAGE_ERROR
        other.stderr.fnmatch_lines(["ERROR: --jarvis-echo-text: only with --jarvis-backend=echo"])
    finally:
        if "echo" in registered_backends():
            unregister_backend("echo")
