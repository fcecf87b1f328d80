"""The house rules that keep the library easy to live in, checked: no import cycle, no
import of the package's own modules inside a function (except the CLI's deferred ones),
and the reads that must not import torch do not."""

from __future__ import annotations

import ast
import subprocess
import sys

from recsys_core.catalog import ZOO
from recsys_core.cli import MODELS_HELP, PROTOCOL_NAMES
from recsys_core.splits import PROTOCOLS
from tests.conftest import ROOT

PACKAGE = ROOT / "recsys_core"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = ast.parse(f.read_text())
    return out


def test_no_import_cycle_among_the_package_modules():
    mods = _modules()
    graph = {}
    for name, tree in mods.items():
        deps = set()
        for node in tree.body:  # top-level imports only: TYPE_CHECKING blocks are types
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recsys_core"):
                deps |= {f"{node.module}.{a.name}" for a in node.names if f"{node.module}.{a.name}" in mods}
                deps.add(node.module)
        graph[name] = deps & set(mods)
    state: dict[str, int] = {}

    def visit(u, path):
        state[u] = 1
        for v in graph[u]:
            assert state.get(v) != 1, f"import cycle: {' -> '.join([*path, u, v])}"
            if v not in state:
                visit(v, [*path, u])
        state[u] = 2

    for m in graph:
        if m not in state:
            visit(m, [])


def test_own_modules_are_imported_at_the_top_except_by_the_cli():
    for name, tree in _modules().items():
        if name == "recsys_core.cli" or name.startswith("recsys_core.cli."):
            continue  # defers heavy imports for start-up time (its docstring says so)
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, ast.ImportFrom) and (inner.module or "").startswith("recsys_core"):
                        raise AssertionError(f"{name}.{node.name} imports {inner.module} inside a function")


def test_help_reads_and_a_warm_build_check_do_not_import_torch():
    code = (
        "import sys, recsys_core.cli, recsys_core.cli.common, recsys_core.cli.data, recsys_core.cli.evaluation,"
        " recsys_core.cli.training, recsys_core.cli.sweeps, recsys_core.catalog, recsys_core.results, recsys_core.data.summary;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_cli_knows_every_protocol():
    assert set(PROTOCOL_NAMES) == set(PROTOCOLS)


def test_the_cli_help_names_every_model():
    named = MODELS_HELP.replace(" or ", ", ").split(", ")
    assert named == list(ZOO)
