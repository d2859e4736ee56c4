"""The import layers of src/dialer (pyproject's [tool.importlinter]) hold, and the check
fails the build when a lower layer imports a higher one or a cycle appears."""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "dialer"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def _lint_imports(pythonpath: Path) -> subprocess.CompletedProcess[str]:
    # PYTHONPATH comes before the installed (editable) dialer, so the copy is analysed.
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--config", str(ROOT / "pyproject.toml")],
        capture_output=True,
        text=True,
        cwd=pythonpath,
        env={"PYTHONPATH": str(pythonpath), "PATH": "/usr/bin:/bin"},
        timeout=120,
    )


def test_the_source_keeps_its_layers_and_fails_on_an_upward_import(tmp_path: Path) -> None:
    kept = _lint_imports(ROOT / "src")
    assert kept.returncode == 0, kept.stdout + kept.stderr
    assert "Contracts: 2 kept, 0 broken." in kept.stdout

    # The same tree with one upward import: the clock (kit) importing the worker.
    shutil.copytree(SRC, tmp_path / "dialer", ignore=shutil.ignore_patterns("__pycache__"))
    clock = tmp_path / "dialer" / "kit" / "clock.py"
    clock.write_text(clock.read_text() + "\nimport dialer.worker.runner  # noqa\n")
    broken = _lint_imports(tmp_path)
    assert broken.returncode == 1, broken.stdout
    assert "layers BROKEN" in broken.stdout
    assert "dialer.kit.clock -> dialer.worker.runner" in broken.stdout
    # ... which is also a cycle (the worker imports the clock).
    assert "no import cycles between the modules or packages of one package BROKEN" in (
        broken.stdout
    )


def test_the_contracts_list_no_exception() -> None:
    """Every import obeys the layers: no contract tolerates a listed import (compliance,
    for one, never reads the batch; the dial-time filters live in the batch package)."""
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
    assert [c["name"] for c in contracts if c.get("ignore_imports")] == []


def _imports_inside_functions(path: Path) -> list[str]:
    found = []
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for inner in ast.walk(node):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    names = (
                        [inner.module or ""]
                        if isinstance(inner, ast.ImportFrom)
                        else [a.name for a in inner.names]
                    )
                    if any(n == "dialer" or n.startswith("dialer.") for n in names):
                        found.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno} (TYPE_CHECKING)")
    return found


def test_no_project_import_is_hidden_inside_a_function() -> None:
    """An import inside a function (or under TYPE_CHECKING) hides a dependency from the
    layer check; every project import sits at the top of its module."""
    hidden = [hit for path in sorted(SRC.rglob("*.py")) for hit in _imports_inside_functions(path)]
    assert hidden == []
