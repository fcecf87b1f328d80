"""The house rules that keep the library easy to live in, checked: the packages import only
the layers below them (the table below), no import cycle, no import of the package's own
modules inside a function (except the CLI's deferred ones), files a person can hold in their
head, and the reads that must not import torch do not."""

from __future__ import annotations

import ast
import subprocess
import sys

from recsys_core.cli import MODELS_HELP, PROTOCOL_NAMES
from recsys_core.evaluation.protocols import PROTOCOLS
from recsys_core.runs.catalog import ZOO
from tests.conftest import ROOT

PACKAGE = ROOT / "recsys_core"


def _modules() -> dict[str, ast.Module]:
    out = {}
    for f in PACKAGE.rglob("*.py"):
        name = ".".join(f.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out[name] = ast.parse(f.read_text())
    return out


# The layers, bottom up: a package may import the foundation and the packages listed for it,
# never one above it. docs/architecture.md draws the same table.
FOUNDATION = {"recsys_core", "recsys_core.config", "recsys_core.errors", "recsys_core.paths"}
ALLOWED = {
    "data": set(),
    "models": {"data"},
    "evaluation": {"data", "models"},
    "training": {"data", "models", "evaluation"},
    "runs": {"data", "models", "evaluation", "training"},
    "sweeps": {"data", "models", "evaluation", "training", "runs"},
    "jobs": {"data", "models", "evaluation", "training", "runs", "sweeps"},
    "cli": {"data", "models", "evaluation", "training", "runs", "sweeps"},
}
MAX_LINES = 400
MAX_FUNCTION = 60  # lines; a longer function says why in its docstring ("long: ...")


def _package(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in ALLOWED else None


def _imports(tree: ast.Module) -> set[str]:
    found = set()
    for node in ast.walk(tree):  # every import, deferred ones included
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("recsys_core"):
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("recsys_core")}
    return found


def test_every_package_imports_only_the_layers_below_it():
    mods = _modules()
    assert {_package(m) for m in mods} - {None} == set(ALLOWED), "every package has its row in the table"
    wrong = []
    for name, tree in mods.items():
        here = _package(name)
        for imported in _imports(tree):
            there = _package(imported)
            if imported in mods and there is None and imported not in FOUNDATION:
                wrong.append(f"{name} imports {imported}, which belongs to no layer")
            if here is None and there is not None and name in FOUNDATION:
                wrong.append(f"{name} (the foundation) imports {imported}")
            if here and there and there != here and there not in ALLOWED[here]:
                wrong.append(f"{name} ({here}) imports {imported} ({there})")
    assert not wrong, "\n".join(wrong)


def test_every_package_says_what_it_holds_and_what_it_may_import():
    for init in PACKAGE.glob("*/__init__.py"):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "Holds" in doc and "May import" in doc, f"{init.relative_to(ROOT)}: what it holds, what it may import"


def test_files_and_functions_a_person_can_hold_in_their_head():
    long = []
    for f in [*PACKAGE.rglob("*.py"), *(ROOT / "app_pages").glob("*.py")]:
        text = f.read_text()
        if len(text.splitlines()) > MAX_LINES:
            long.append(f"{f.relative_to(ROOT)}: {len(text.splitlines())} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1
                if size > MAX_FUNCTION and "long:" not in (ast.get_docstring(node) or ""):
                    long.append(f"{f.relative_to(ROOT)}: {node.name} is {size} lines with no reason given")
    assert not long, "\n".join(long)


def test_the_suite_mirrors_the_packages():
    """A package's tests live in tests/<package>/ (the CLI's beside the package each command
    drives, the pages' in tests/app/); the house rules stay at the top."""
    for package in [p for p in ALLOWED if p != "cli"]:
        assert list((ROOT / "tests" / package).glob("test_*.py")), f"tests/{package}/ has no tests"
    assert [f.name for f in (ROOT / "tests").glob("test_*.py")] == ["test_house.py"]


def test_one_life_for_a_run_only_the_run_life_writes_its_row():
    """Single trainings, sweep points on every executor, the Ray driver and the jobs change a
    run's row through `runs.life.RunLife` alone."""
    writers = {"create_run", "start_run", "add_epoch", "finish_run", "set_status", "update_meta"}
    allowed = {"recsys_core.runs.life", "recsys_core.runs.store", "recsys_core.runs.export"}  # export: MLflow's own
    found = []
    for name, tree in _modules().items():
        for node in ast.walk(tree):
            call = isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in writers
            if call and name not in allowed:
                found.append(f"{name} calls {node.func.attr}")
    assert not found, "\n".join(found)


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
        " recsys_core.cli.training, recsys_core.cli.sweeps, recsys_core.runs.catalog, recsys_core.runs.results,"
        " recsys_core.runs.reports, recsys_core.runs.findings, recsys_core.runs.store, recsys_core.data.summary,"
        " recsys_core.evaluation.protocols, recsys_core.evaluation.splits, recsys_core.evaluation.paired;"
        "print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_the_cli_knows_every_protocol():
    assert set(PROTOCOL_NAMES) == set(PROTOCOLS)


def test_the_cli_help_names_every_model():
    named = MODELS_HELP.replace(" or ", ", ").split(", ")
    assert named == list(ZOO)
