"""The package's shape: layers import one way, no import cycle, analysis without a driver.

``docs/architecture.md`` draws the layers; this test reads every module's imports (with
``ast``, without importing anything) and fails on an import that points up the table or
on a cycle among module-level imports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import dualdb

PACKAGE = Path(dualdb.__file__).resolve().parent

# the table of docs/architecture.md, top to bottom: a module may import its own layer or one above
LAYERS = [
    ("leaves", ["dualdb", "dualdb.errors", "dualdb.config", "dualdb.ids", "dualdb.records", "dualdb.normalize",
                "dualdb.sql", "dualdb.harness_notes", "dualdb.adoption"]),
    ("analysis", ["dualdb.compare", "dualdb.explain"]),
    ("capture", ["dualdb.capture"]),
    ("engines", ["dualdb.engines"]),
    ("dual", ["dualdb.dual"]),
    ("run state", ["dualdb.run"]),
    ("report", ["dualdb.report"]),
    ("redirect", ["dualdb.redirect"]),
    ("integrations", ["dualdb.contrib", "dualdb.fastapi", "dualdb.flask", "dualdb.hypothesis"]),
    ("pytest layer", ["dualdb.plugin"]),
    ("command", ["dualdb.cli"]),
]


def _modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = ("dualdb", *path.relative_to(PACKAGE).with_suffix("").parts)
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


MODULES = _modules()


def _layer(module: str) -> int:
    matches = [(len(prefix), rank) for rank, (_, prefixes) in enumerate(LAYERS) for prefix in prefixes
               if module == prefix or (prefix != "dualdb" and module.startswith(prefix + "."))]
    assert matches, f"{module} is in no layer of docs/architecture.md"
    return max(matches)[1]


def _imports(path: Path) -> list[tuple[str, int, bool]]:
    """(imported module, line, at module level) for each import of the package, outside TYPE_CHECKING."""
    found: list[tuple[str, int, bool]] = []

    def walk(node: ast.AST, top: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
                continue
            if isinstance(child, ast.ImportFrom) and child.module and child.module.split(".")[0] == "dualdb":
                for alias in child.names:
                    full = f"{child.module}.{alias.name}"
                    found.append((full if full in MODULES else child.module, child.lineno, top))
            elif isinstance(child, ast.Import):
                found.extend((a.name, child.lineno, top) for a in child.names if a.name.split(".")[0] == "dualdb")
            walk(child, top and not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)))

    walk(ast.parse(path.read_text()), True)
    return found


def test_every_import_points_down_the_layers():
    upward = [
        f"{module} ({LAYERS[_layer(module)][0]}) imports {target} ({LAYERS[_layer(target)][0]}), line {line}"
        for module, path in MODULES.items()
        for target, line, _ in _imports(path)
        if target in MODULES and _layer(target) > _layer(module)  # dualdb.probes lives in probes/
    ]
    assert upward == []


def test_no_import_cycle():
    graph = {module: {t for t, _, top in _imports(path) if top and t != module} for module, path in MODULES.items()}
    cycles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        if module in path:
            cycles.append(" -> ".join(path[path.index(module):] + [module]))
        elif module not in done:
            for target in sorted(graph.get(module, ())):
                visit(target, [*path, module])
            done.add(module)

    for module in sorted(graph):
        visit(module, [])
    assert cycles == []


BLOCK = '''
import sys
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {"psycopg", "sqlalchemy", "pytest", "_pytest", "sqlite3"}:
            raise ImportError(f"blocked: {name}")
sys.meta_path.insert(0, Block())
import dualdb.compare, dualdb.explain, dualdb.report, dualdb.report.build, dualdb.report.markdown
from dualdb.explain import explain_entry
print("ok")
'''


def test_analysis_and_report_import_without_a_driver_sqlalchemy_or_pytest():
    done = subprocess.run([sys.executable, "-c", BLOCK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
