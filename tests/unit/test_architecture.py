"""The layers of shared/ and the borders of the services, held by reading every import (ast).

docs/SERVICE_GUIDE.md draws the layers; this test is their definition. Every import counts,
at module level or inside a function, so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

LAYERS: dict[str, set[str]] = {
    # layer: the layers it may import (besides itself)
    "kernel": set(),
    "contract": {"kernel"},
    "service": {"kernel", "contract"},
    "web": {"kernel", "contract", "service"},
    "kafka": {"kernel", "contract", "service"},
    "runtime": {"kernel", "contract", "service", "web", "kafka"},
    "platform": {"kernel", "contract", "service", "kafka"},
    "apps": {"kernel", "contract", "service", "kafka", "platform"},
    "cli": {"kernel", "contract", "service", "web", "kafka", "runtime", "platform", "apps"},
}
"""Upwards only: the contract and the kernel import nothing else of ours, the service layer never
the runtime; the web layer is given a publisher, it does not build one."""

FRAMEWORKS = {"faust", "mode", "rocksdict"}
"""Their private parts are patched in shared/runtime/hooks.py: only the runtime may import them,
and each service's app.py (its composition root builds the faust App through the runtime)."""

KAFKA_CLIENT = {"aiokafka"}
"""The plain client: the runtime (under faust) and shared/kafka (tools' clients, the dev broker)."""

SERVICE_WIRING = {"app.py"}
"""The only file of a service that may name the runtime: its composition root (agents and views
are given the `Wiring` port, shared/service/wiring.py)."""


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted([*ROOT.glob("shared/**/*.py"), *ROOT.glob("services/**/*.py")]):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


def _imports(name: str, path: Path) -> set[str]:
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            found.add(module)
            # `from shared.runtime import fetch_loop`: the name may be a module of its own
            found.update(f"{module}.{alias.name}" for alias in node.names)
    return found


MODULES = dict(_modules())
GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _ours(imported: str) -> str | None:
    """The module of ours that an import names (longest known prefix), or None."""
    parts = imported.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in MODULES:
            return candidate
        parts.pop()
    return None


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "shared" and len(parts) > 1 and parts[1] in LAYERS else None


def test_every_module_of_shared_is_in_a_layer():
    loose = [m for m in MODULES if m.startswith("shared.") and _layer(m) is None]
    assert loose == [], f"modules outside the layers of shared/: {loose}"


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_a_layer_imports_only_the_layers_below_it(layer):
    wrong = []
    for module, imports in GRAPH.items():
        if _layer(module) != layer:
            continue
        for imported in imports:
            target = _ours(imported)
            if target is None:
                continue
            if target.startswith("services"):
                wrong.append(f"{module} imports the service {target}")
            elif (other := _layer(target)) not in LAYERS[layer] | {layer, None}:
                wrong.append(f"{module} ({layer}) imports {target} ({other})")
    assert wrong == []


def test_services_never_import_each_other_and_name_the_runtime_only_in_their_wiring():
    wrong = []
    for module, imports in GRAPH.items():
        if not module.startswith("services."):
            continue
        service, file = module.split(".")[1], MODULES[module].name
        for imported in imports:
            target = _ours(imported) or ""
            if target.startswith("services.") and target.split(".")[1] != service:
                wrong.append(f"{module} imports another service: {target}")
            if _layer(target) in {"runtime", "kafka", "platform", "cli"} and file not in SERVICE_WIRING:
                wrong.append(f"{module} imports {target}: only app.py builds the runtime")
    assert wrong == []


def test_only_the_runtime_imports_faust_rocksdb_and_the_kafka_client():
    wrong = []
    for module, imports in GRAPH.items():
        roots = {i.split(".")[0] for i in imports}
        layer, file = _layer(module), MODULES[module].name
        if roots & FRAMEWORKS and not (layer == "runtime" or (module.startswith("services.") and file == "app.py")):
            wrong.append(f"{module} imports {sorted(roots & FRAMEWORKS)}")
        if roots & KAFKA_CLIENT and layer not in {"runtime", "kafka"}:
            wrong.append(f"{module} imports {sorted(roots & KAFKA_CLIENT)}")
    assert wrong == []


def test_there_are_no_import_cycles():
    edges = {m: {t for i in imports if (t := _ours(i)) and t != m} for m, imports in GRAPH.items()}
    # a package's __init__ handing on its own modules is not a cycle of design
    edges = {m: {t for t in ts if not (m == t.rsplit(".", 1)[0] and MODULES[m].name == "__init__.py")}
             for m, ts in edges.items()}
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt, [*stack, nxt])
        state[node] = "done"

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


KEY_LITERAL = __import__("re").compile(r"^[A-Za-z-]{1,12}\|")


def _key_literals(path: Path) -> list[str]:
    """String literals that start like a store key (`v|`, `issued|`): outside keys.py they mean
    a key built by hand again. Docstrings are prose, not keys."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                  and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
            head = node.values[0].value
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            head = node.value
        else:
            continue
        if KEY_LITERAL.match(head):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {head[:30]!r}")
    return found


def test_store_keys_are_named_once_per_service_in_its_keys_module():
    """A newcomer finds every key of a service's stores, and what fact it holds, in keys.py."""
    found = [hit for name in ("handlers", "web", "domain", "agents", "app")
             for path in sorted(ROOT.glob(f"services/*/{name}.py")) for hit in _key_literals(path)]
    assert found == []
