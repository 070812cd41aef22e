"""No import loops: every module of bot/, handlers/ and demo/ imports, and the graph of their
imports (read with `ast`, so a loop hidden by import order is found too) is acyclic, at module
level and counting the imports inside functions too (a loop held apart only by a function-level
import is still a loop). `if TYPE_CHECKING:` blocks never run and are left out."""

import ast
import importlib
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "demo")


def modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts and "versions" in path.parts:
                continue  # Alembic loads revisions by path
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _imports(tree: ast.Module, *, in_functions: bool) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def walk(nodes: list[ast.stmt]) -> None:
        for node in nodes:
            if isinstance(node, ast.Import | ast.ImportFrom):
                found.append(node)
            elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if in_functions or isinstance(node, ast.ClassDef):
                    walk(node.body)
            else:
                for field in ("body", "orelse", "finalbody", "handlers"):
                    inner = getattr(node, field, [])
                    walk([n for n in inner if isinstance(n, ast.stmt | ast.excepthandler)])

    walk(tree.body)
    return found


def import_graph(*, in_functions: bool = False) -> dict[str, set[str]]:
    """Module -> the project modules it imports (at module level, or anywhere)."""
    known = modules()
    graph: dict[str, set[str]] = {}
    for name, path in known.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        edges: set[str] = set()
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in _imports(tree, in_functions=in_functions):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
            for target in targets:
                while target and target not in known:
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


@pytest.mark.parametrize("in_functions", [False, True], ids=["module level", "anywhere"])
def test_the_import_graph_has_no_cycle(in_functions: bool) -> None:
    graph = import_graph(in_functions=in_functions)
    try:
        list(TopologicalSorter(graph).static_order())
    except CycleError as exc:
        pytest.fail(f"import loop: {' -> '.join(exc.args[1])}")


def test_slack_listeners_do_not_import_each_other_or_the_app() -> None:
    graph = import_graph()
    listeners = {f"handlers.slack.{n}" for n in ("actions", "commands", "home", "intake")}
    for listener in listeners:
        assert "handlers.slack.deps" in graph[listener]  # what they share sits below them
        assert not graph[listener] & (listeners | {"handlers.slack.app"}), listener


def test_the_core_imports_no_adapter() -> None:
    for name, edges in import_graph().items():
        if name.startswith("bot."):
            assert not {e for e in edges if e.startswith(("handlers", "demo"))}, name


@pytest.mark.parametrize("name", sorted(m for m in modules() if ".migrations" not in m))
def test_every_module_imports(name: str) -> None:
    importlib.import_module(name)
