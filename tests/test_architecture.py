"""The shape of the code: no import cycles between bot's modules, and no module importing from
a layer above its own. Imports are read from the source with `ast` (those inside functions and
under `TYPE_CHECKING` too), so a lazy import cannot hide a dependency."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

BOT = Path(__file__).resolve().parents[1] / "bot"

LAYERS: tuple[tuple[str, ...], ...] = (
    # plain data and readers every other layer may use
    (
        "bot",
        "bot.events",
        "bot.conversation",
        "bot.reminders",
        "bot.content",
        "bot.content.catalog",
        "bot.content.conditions",
        "bot.content.report",
        "bot.content.yamlread",
        "bot.stats",
    ),
    # pure functions over the catalogue: composing and checking results
    ("bot.compose", "bot.drafts", "bot.replies", "bot.names", "bot.fragments"),
    ("bot.engine",),
    # reading content from YAML: above the engine, which never sees a file
    ("bot.content.reminders", "bot.content.flows", "bot.content.phrases", "bot.content.loader"),
    ("bot.store", "bot.store.protocol", "bot.store.copies", "bot.store.resp"),
    ("bot.store.memory", "bot.store.sqlite", "bot.store.redis"),
    ("bot.store.factory",),
    ("bot.service",),
    # front ends and tools
    (
        "bot.check*",
        "bot.console",
        "bot.graph",
        "bot.settings",
        "bot.stats_plot",
        "bot.telegram*",
    ),
    ("bot.cli", "bot.__main__"),
)
FORBIDDEN = (
    # reading YAML must not run the engine: content is data, checked without behaviour
    ("bot.content*", "bot.engine"),
)


def matches(module: str, pattern: str) -> bool:
    if pattern.endswith("*"):
        base = pattern[:-1]
        return module == base or module.startswith(base + ".")
    return module == pattern


def layer_of(module: str) -> int | None:
    for index, layer in enumerate(LAYERS):
        if any(matches(module, pattern) for pattern in layer):
            return index
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(BOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(BOT.rglob("*.py"))}


def imports(module: str) -> Iterator[tuple[str, int]]:
    """(imported bot module, line) for every import in a module's source."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "bot":
                    yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            if base.split(".")[0] != "bot":
                continue
            for alias in node.names:
                child = f"{base}.{alias.name}"
                yield (child if child in MODULES else base), node.lineno


GRAPH = {module: sorted(set(imports(module))) for module in MODULES}


def test_every_module_has_a_layer() -> None:
    assert [m for m in MODULES if layer_of(m) is None] == [], "add new modules to LAYERS"


def upward_imports(graph: dict[str, list[tuple[str, int]]]) -> list[str]:
    """`file:line: module imports other (why)` for each import that runs up a layer."""
    found = []
    for module, imported_at in graph.items():
        own = layer_of(module)
        where = MODULES[module].relative_to(BOT.parent)
        for imported, line in imported_at:
            theirs = layer_of(imported)
            if own is not None and theirs is not None and theirs > own:
                found.append(
                    f"{where}:{line}: {module} imports {imported} (layer {theirs} > {own})"
                )
            for low, high in FORBIDDEN:
                if matches(module, low) and matches(imported, high):
                    found.append(f"{where}:{line}: {module} imports {imported} (forbidden)")
    return found


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert upward_imports(GRAPH) == []


def find_cycle(graph: dict[str, list[tuple[str, int]]]) -> list[str] | None:
    """One import cycle as a list of modules (first = last), or None."""
    edges = {
        m: sorted({i for i, _ in found if i in graph and i != m}) for m, found in graph.items()
    }
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in edges[module]:
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (cycle := visit(target)) is not None:
                return cycle
        stack.pop()
        state[module] = 2
        return None

    for module in edges:
        if module not in state and (cycle := visit(module)) is not None:
            return cycle
    return None


def test_no_import_cycles() -> None:
    cycle = find_cycle(GRAPH)
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_checks_name_a_planted_upward_import_and_its_cycle() -> None:
    planted = {module: list(found) for module, found in GRAPH.items()}
    planted["bot.engine"].append(("bot.content.loader", 7))
    planted["bot.store.protocol"].append(("bot.store.redis", 3))
    found = upward_imports(planted)
    assert "bot/engine.py:7: bot.engine imports bot.content.loader (layer 3 > 2)" in found
    assert (
        "bot/store/protocol.py:3: bot.store.protocol imports bot.store.redis (layer 5 > 4)" in found
    )
    planted["bot.content.loader"].append(("bot.engine", 9))
    assert "bot/content/loader.py:9: bot.content.loader imports bot.engine (forbidden)" in (
        upward_imports(planted)
    )
    cycle = find_cycle(planted)
    assert cycle is not None and {"bot.engine", "bot.content.loader"} <= set(cycle), cycle
