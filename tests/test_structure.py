"""The structure the README's "Layout" section describes, kept by reading the source (ast):

(a) no import cycles among ctrnet's modules (core, backends and conformance; imports inside
    functions and under TYPE_CHECKING count: they are dependencies all the same);
(b) no imports inside functions in the core (ctrnet/ without backends/ and conformance/):
    the exceptions are the registry's lazy imports of the backends (ctrnet/registry.py),
    which is also the only core module that imports a backend at all, and the command
    line's lazy imports of grading and pytest (ctrnet/cli_lazy.py);
(c) no probing of our own interfaces (`getattr(backend, "netns_path")`, `hasattr(...)`) and
    no decisions on a backend's name (`backend.name == "kernel"`) outside backends/: what a
    backend can do is on the Backend protocol or in its capabilities.

Violations that others are still removing are listed in KNOWN_* with who removes them. The
lists only shrink: a listed violation that no longer exists fails the test too, so that the
list is updated in the same change that fixes it.
"""

from __future__ import annotations

import ast
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ctrnet import backend as backend_module
from ctrnet.registry import REGISTRY

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "ctrnet"
#: Sub-packages of ctrnet that are not the core.
NOT_CORE = ("ctrnet.backends", "ctrnet.conformance")
#: (b) The documented exception: the registry imports each backend when it is first asked for
#: (the kernel's pyroute2 is an optional dependency; one backend never loads the other).
LAZY_ALLOWED = {"ctrnet.registry": ("ctrnet.backends.",),
                #: ... and the command line's lazy point imports what only grading and the
                #: suite use (pytest) when those commands run.
                "ctrnet.cli_lazy": ("ctrnet.grade.main", "pytest")}
#: (c) The registry maps backend names to backends: comparing names is its job.
NAME_COMPARISON_ALLOWED = {"ctrnet/registry.py"}

# -- what is still being fixed (each with its owner); these lists only shrink ----------------
#: (a) Strongly connected groups of modules (each group is one or more cycles).
KNOWN_CYCLES: dict[frozenset[str], str] = {}
#: (b) "path: import statement"
KNOWN_FUNCTION_IMPORTS: dict[str, str] = {}
#: (c) "path: expression"
KNOWN_PROBES: dict[str, str] = {}


@dataclass(frozen=True)
class Source:
    module: str  # dotted name
    path: str  # relative to the project root, as a reader finds it (through the symlinks)
    tree: ast.Module
    is_package: bool


def _sources() -> Iterator[Source]:
    for dirpath, dirnames, filenames in os.walk(PACKAGE, followlinks=True):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
        for name in sorted(filenames):
            if not name.endswith(".py"):
                continue
            file = Path(dirpath) / name
            rel = file.relative_to(PACKAGE.parent)
            parts = list(rel.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            shown = str(rel)
            for alias in ("backends", "conformance"):  # the folders people open
                shown = shown.replace(f"ctrnet/{alias}/", f"{alias}/", 1)
            yield Source(".".join(parts), shown, ast.parse(file.read_text(), str(file)),
                         is_package)


SOURCES = list(_sources())
MODULES = {s.module for s in SOURCES}


def _is_core(module: str) -> bool:
    return not any(module == p or module.startswith(p + ".") for p in NOT_CORE)


def _resolve(source: Source, node: ast.ImportFrom) -> str:
    """The absolute module an ImportFrom names (relative imports resolved)."""
    if not node.level:
        return node.module or ""
    base = source.module.split(".")
    if not source.is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _targets(source: Source, node: ast.Import | ast.ImportFrom) -> set[str]:
    """Our modules an import statement depends on."""
    found = set()
    if isinstance(node, ast.Import):
        for alias in node.names:
            name = alias.name
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name:
                found.add(name)
        return found
    base = _resolve(source, node)
    for alias in node.names:
        if f"{base}.{alias.name}" in MODULES:  # `from pkg import module`
            found.add(f"{base}.{alias.name}")
        elif base in MODULES:  # `from module import name`
            found.add(base)
    return found


def _function_imports(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    for fn in ast.walk(tree):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for node in ast.walk(fn):
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    yield node


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {s.module: set() for s in SOURCES}
    for source in SOURCES:
        for node in ast.walk(source.tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                graph[source.module] |= _targets(source, node) - {source.module}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        # Iterative DFS: the graph is deep enough to make recursion a worry.
        work = [(node, iter(sorted(graph[node])))]
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        while work:
            current, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[current] = min(low[current], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[current])
            if low[current] == index[current]:
                group = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.add(member)
                    if member == current:
                        break
                if len(group) > 1:
                    found.append(frozenset(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def a_cycle(graph: dict[str, set[str]], group: frozenset[str]) -> list[str]:
    """One concrete cycle inside `group`, to show in a failure: a -> b -> ... -> a."""
    start = min(group)
    paths = {start: [start]}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for child in sorted(graph[node] & group):
            if child == start:
                return [*paths[node], start]
            if child not in paths:
                paths[child] = [*paths[node], child]
                queue.append(child)
    return sorted(group)


def function_imports() -> set[str]:
    found = set()
    for source in SOURCES:
        if not _is_core(source.module):
            continue
        allowed = LAZY_ALLOWED.get(source.module, ())
        for node in _function_imports(source.tree):
            names = [_resolve(source, node)] if isinstance(node, ast.ImportFrom) else \
                [alias.name for alias in node.names]
            if allowed and all(name.startswith(allowed) for name in names):
                continue
            found.add(f"{source.path}: {ast.unparse(node)}")
    return found


def _interface_names() -> set[str]:
    """Attributes of our own interfaces: everything public the Backend protocol, its
    Capture and Listener declare, and what the kernel backend alone used to offer."""
    names = {"real_netns"}
    for cls in (backend_module.Backend, backend_module.Capture, backend_module.Listener):
        names |= {n for n in dir(cls) if not n.startswith("_")}
    return names


def _probe_sources() -> Iterator[tuple[str, ast.Module]]:
    for source in SOURCES:
        if not source.module.startswith("ctrnet.backends"):
            yield source.path, source.tree
    for file in sorted((ROOT / "tests").glob("*.py")):
        yield str(file.relative_to(ROOT)), ast.parse(file.read_text(), str(file))


def _compares_a_backend_name(node: ast.Compare) -> bool:
    """`backend.name == "kernel"`, `backend_name != "sim"`, `request.backend == "kernel"`:
    a comparison of something naming a backend with a backend's name (not a word of a
    command line that happens to be "sim")."""
    sides = [node.left, *node.comparators]
    named = any(isinstance(s, ast.Constant) and s.value in ("kernel", "sim") for s in sides)
    subject = any(not isinstance(s, ast.Constant)
                  and ("backend" in ast.unparse(s) or ast.unparse(s).split(".")[-1] == "name")
                  for s in sides)
    return named and subject and any(isinstance(op, (ast.Eq, ast.NotEq)) for op in node.ops)


def probes(sources: Iterator[tuple[str, ast.Module]] | None = None) -> set[str]:
    interface = _interface_names()
    found = set()
    for path, tree in sources if sources is not None else _probe_sources():
        asserted = {id(n) for a in ast.walk(tree) if isinstance(a, ast.Assert)
                    for n in ast.walk(a)}
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("getattr", "hasattr") and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant)
                    and node.args[1].value in interface):
                found.add(f"{path}: {ast.unparse(node)}")
            elif (isinstance(node, ast.Compare) and path not in NAME_COMPARISON_ALLOWED
                  and id(node) not in asserted and _compares_a_backend_name(node)):
                found.add(f"{path}: {ast.unparse(node)}")
    return found


# -- the checks ------------------------------------------------------------------------------
def test_the_sources_are_all_read_through_the_symlinks() -> None:
    assert {"ctrnet.registry", "ctrnet.backends.sim.backend", "ctrnet.backends.kernel.backend",
            "ctrnet.conformance.plugin"} <= MODULES


def test_no_import_cycles_among_ctrnet_modules() -> None:
    graph = import_graph()
    found = {group: " -> ".join(a_cycle(graph, group)) for group in cycles(graph)}
    new = {group: path for group, path in found.items() if group not in KNOWN_CYCLES}
    assert not new, "import cycles:\n" + "\n".join(sorted(new.values()))
    gone = [sorted(group) for group in KNOWN_CYCLES if group not in found]
    assert not gone, f"these cycles are gone (or changed): update KNOWN_CYCLES: {gone}"


def test_no_imports_inside_functions_in_the_core() -> None:
    found = function_imports()
    new = sorted(found - set(KNOWN_FUNCTION_IMPORTS))
    assert not new, "imports inside functions in the core (move them to the top, or break " \
                    "the cycle they dodge):\n" + "\n".join(new)
    gone = sorted(set(KNOWN_FUNCTION_IMPORTS) - found)
    assert not gone, f"fixed: remove from KNOWN_FUNCTION_IMPORTS: {gone}"


def test_the_core_reaches_the_backends_only_through_the_registry() -> None:
    found = sorted(
        f"{source.path}: {ast.unparse(node)}"
        for source in SOURCES if _is_core(source.module) and source.module not in LAZY_ALLOWED
        for node in ast.walk(source.tree) if isinstance(node, (ast.Import, ast.ImportFrom))
        if any(t.startswith("ctrnet.backends") for t in _targets(source, node)))
    assert found == [], "import the backend through ctrnet.registry:\n" + "\n".join(found)


def test_the_core_never_imports_the_suite() -> None:
    """The suite tests the core, never the reverse: what both need (the oracle of `ctrnet sim
    compare`, for one) lives in the core and the suite imports it from there."""
    found = sorted(
        f"{source.path}: {ast.unparse(node)}"
        for source in SOURCES if _is_core(source.module)
        for node in ast.walk(source.tree) if isinstance(node, (ast.Import, ast.ImportFrom))
        if any(t.startswith("ctrnet.conformance") for t in _targets(source, node)))
    assert found == [], "the core imports the conformance suite:\n" + "\n".join(found)


def test_no_probing_of_our_interfaces_and_no_decisions_on_backend_names() -> None:
    found = probes()
    new = sorted(found - set(KNOWN_PROBES))
    assert not new, "declare it on the Backend protocol or as a capability " \
                    "(ctrnet.backend) instead:\n" + "\n".join(new)
    gone = sorted(set(KNOWN_PROBES) - found)
    assert not gone, f"fixed: remove from KNOWN_PROBES: {gone}"


# -- the checks themselves can fail --------------------------------------------------------------
def test_the_cycle_finder_finds_a_cycle_and_shows_it() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [frozenset({"a", "b", "c"})]
    assert a_cycle(graph, frozenset({"a", "b", "c"})) == ["a", "b", "c", "a"]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_probe_scanner_flags_getattr_on_a_backend_method_and_a_name_comparison() -> None:
    tree = ast.parse('if backend.name == "kernel":\n    f = getattr(backend, "netns_path")\n'
                     'g = getattr(options, "verbose")\nassert remote.name == "sim"\n'
                     'h = hasattr(world, "capture_start")\n'
                     'if request.backend != "sim" or argv[1] == "sim":\n    pass\n')
    assert probes(iter([("x.py", tree)])) == {
        "x.py: backend.name == 'kernel'", "x.py: getattr(backend, 'netns_path')",
        "x.py: hasattr(world, 'capture_start')", "x.py: request.backend != 'sim'"}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_what_the_registry_says_before_opening_a_backend_its_worlds_declare(name: str) -> None:
    entry = REGISTRY[name]
    reason = entry.unavailable()
    if reason is not None:
        pytest.skip(reason)
    with entry.open() as world:
        assert entry.capabilities <= world.capabilities
        assert world.name == entry.name
