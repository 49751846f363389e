"""The shape of the tree holds: layers import downwards only, the toolkit imports nothing
from the domain, no product module outside the vendor folders names a vendor, every
module imports on its own, the product loads the simulator only when `simulate` or
`demo` runs."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from aicode_exporter.vendors.registry import vendors

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "aicode_exporter"
CORE = ("pipeline", "expose")
# Top-level wiring allowed to name vendors: the CLI's help text. (The demo's providers come
# from the simulator's vendor table.)
WIRING = {PACKAGE / "cli.py"}
# The only functions that may import the simulator: the `simulate` and `demo` subcommands
# and the flags only they have.
SIM_LOADERS = {(PACKAGE / "__main__.py", "_simulate"), (PACKAGE / "__main__.py", "_demo"),
               (PACKAGE / "cli.py", "_sim_flags")}


def modules(top: str) -> list[str]:
    out = []
    for path in sorted((ROOT / top).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        out.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return out


def imports_of(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
    return found


def test_core_layers_import_no_vendor_and_nothing_above_them() -> None:
    pkg = "aicode_exporter"
    above = {"expose": (f"{pkg}.pipeline", f"{pkg}.vendors"),
             "pipeline": (f"{pkg}.vendors",)}
    bad = []
    for layer in CORE:
        for path in (PACKAGE / layer).rglob("*.py"):
            for mod in imports_of(path):
                top = mod in (f"{pkg}.app", f"{pkg}.config", f"{pkg}.commitdetail")
                if top or mod.startswith((*above[layer], "aicode_sim")):
                    bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, bad


def test_the_toolkit_imports_nothing_from_the_domain() -> None:
    pkg = "aicode_exporter"
    domain = tuple(f"{pkg}.{m}" for m in ("vendors", "pipeline", "expose", "app", "cli",
                                           "commitdetail", "__main__"))
    allowed = {f"{pkg}.errors", f"{pkg}.version", f"{pkg}.config.web", f"{pkg}.config.otlp",
               f"{pkg}.config.base"}
    bad = []
    paths = sorted((PACKAGE / "toolkit").rglob("*.py"))
    assert len(paths) > 10
    for path in paths:
        for mod in imports_of(path):
            ours = mod == pkg or mod.startswith(f"{pkg}.")
            if mod.startswith(domain) or mod.split(".")[0] == "aicode_sim" or (
                    ours and mod not in allowed and not mod.startswith(f"{pkg}.toolkit")):
                bad.append(f"{path.relative_to(ROOT)} imports {mod}")
    assert not bad, bad


def test_the_simulator_imports_nothing_from_the_exporter() -> None:
    bad = [f"{p.relative_to(ROOT)} imports {m}" for p in (ROOT / "aicode_sim").rglob("*.py")
           for m in imports_of(p) if m.split(".")[0] == "aicode_exporter"]
    assert not bad, bad


def test_the_simulators_shared_modules_import_no_vendor_folder() -> None:
    # A vendor folder's __init__ loads its API, which uses the shared modules: a shared
    # module importing a vendor folder back is an import cycle (and a leak of the vendor).
    folders = {p.parent.name for p in (ROOT / "aicode_sim").glob("*/__init__.py")}
    assert folders >= {"qoder", "cursor"}
    bad = [f"{p.relative_to(ROOT)} imports {m}" for p in (ROOT / "aicode_sim").glob("*.py")
           for m in imports_of(p) if m.split(".")[:2][-1] in folders
           and m.startswith("aicode_sim.")]
    assert not bad, bad


def _sim_imports(node: ast.AST, function: str | None = None) -> list[tuple[str | None, int]]:
    """(enclosing top-level function or None for import time, line) of each import of
    aicode_sim below node; class bodies and if/try/with blocks run at import time."""
    found = []
    for child in ast.iter_child_nodes(node):
        inner = function
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            inner = function or getattr(child, "name", "<lambda>")
        if isinstance(child, ast.Import | ast.ImportFrom):
            names = [a.name for a in child.names] if isinstance(child, ast.Import) else [
                child.module or ""]
            if any(n.split(".")[0] == "aicode_sim" for n in names):
                found.append((function, child.lineno))
        found += _sim_imports(child, inner)
    return found


def test_the_product_imports_the_simulator_only_in_the_subcommands_that_run_it() -> None:
    bad = [f"{path.relative_to(ROOT)}:{line} imports aicode_sim "
           + (f"in {function}()" if function else "at import time")
           for path in PACKAGE.rglob("*.py")
           for function, line in _sim_imports(ast.parse(path.read_text()))
           if (path, function) not in SIM_LOADERS]
    assert not bad, bad
    found = {(path, function) for path, _ in SIM_LOADERS
             for function, _ in _sim_imports(ast.parse(path.read_text()))}
    assert found == SIM_LOADERS  # the allow-list names no function that no longer needs it


def test_the_check_sees_imports_in_if_try_and_class_bodies() -> None:
    source = ("if True:\n    import aicode_sim\ntry:\n    from aicode_sim.server import X\n"
              "except ImportError:\n    pass\nclass C:\n    import aicode_sim.vendor\n"
              "def f():\n    from aicode_sim import serve\n    def g():\n"
              "        import aicode_sim\nimport aicode_simulator_like\n")
    assert _sim_imports(ast.parse(source)) == [(None, 2), (None, 4), (None, 8), ("f", 10),
                                               ("f", 12)]


def test_importing_the_exporter_does_not_load_the_simulator() -> None:
    code = ("import aicode_exporter.__main__, sys; "
            "assert not any(m.startswith('aicode_sim') for m in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]


def _names_in_code(path: Path) -> list[str]:
    """Identifiers and string literals (docstrings excluded) that name a vendor."""
    tree = ast.parse(path.read_text())
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, ast.Module | ast.ClassDef | ast.FunctionDef)
                  and n.body and isinstance(n.body[0], ast.Expr)
                  and isinstance(n.body[0].value, ast.Constant)}
    hits = []
    for node in ast.walk(tree):
        text = None
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = None if id(node) in docstrings else node.value
        elif isinstance(node, ast.Name):
            text = node.id
        elif isinstance(node, ast.Attribute):
            text = node.attr
        elif isinstance(node, ast.alias):
            text = node.name
        elif isinstance(node, ast.ImportFrom):
            text = node.module
        if text and any(v in text.lower() for v in vendors()):
            hits.append(f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}: {text!r}")
    return hits


def test_no_product_module_outside_the_vendor_folders_names_a_vendor() -> None:
    assert len(vendors()) >= 2
    hits = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "vendors") in path.parents and path.parent != PACKAGE / "vendors":
            continue  # inside a vendor's own folder
        if path in WIRING:
            continue
        hits += _names_in_code(path)
    assert not hits, hits


@pytest.mark.slow
@pytest.mark.parametrize("module", modules("aicode_exporter") + modules("aicode_sim"))
def test_every_module_imports_on_its_own(module: str) -> None:
    proc = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
