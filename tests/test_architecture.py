"""The layering of docs/architecture.md, checked: which package may import which (static scan of every import
statement, and fresh interpreters whose sys.modules are inspected), and the documented `python -m` names.

    sast_core  <-  sast_theory  <-  sast_models  <-  verification, paper_figures
    (stdlib)       (numpy, scipy, sympy; no torch)
"""

from __future__ import annotations

import ast
import json
import os
import runpy
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PROJECT = ("sast_core", "sast_theory", "sast_models", "verification", "paper_figures")
FORBIDDEN = {
    "sast_core": {"sast_theory", "sast_models", "verification", "paper_figures", "numpy", "torch"},
    "sast_theory": {"sast_models", "verification", "paper_figures", "torch"},
    "sast_models": {"verification", "paper_figures"},
}
# The one place a lower package names an upper one: the documented command `python -m sast_theory.report` hands
# its command line to the commands layer, inside `if __name__ == "__main__":` (never run by an import).
COMMAND_ALIASES = {("sast_theory/report.py", "sast_models.cli.report")}
DOCUMENTED_COMMANDS = (
    "sast_models.train", "sast_models.evaluate", "sast_models.sweep", "sast_models.export", "sast_models.data.inspect",
    "sast_theory.report", "verification.all", "verification.check_state_bound", "verification.check_lipschitz",
    "verification.check_contraction", "verification.check_smoothness", "verification.check_sam",
    "verification.check_local",
    "paper_figures.reproduce", "paper_figures.measure", "paper_figures.transfer_gap", "paper_figures.rho_sweep",
    "paper_figures.beta_sweep", "paper_figures.hardware_table", "paper_figures.membrane", "paper_figures.corruption",
    "paper_figures.bounds", "paper_figures.certificates", "paper_figures.theory_table",
)


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(absolute module name, inside an `if __name__ == "__main__":` block) of every import in a file."""
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    tree = ast.parse(path.read_text(), filename=str(path))
    main_blocks = [node for node in ast.walk(tree) if isinstance(node, ast.If) and "__main__" in ast.unparse(node.test)]
    in_main = {id(child) for block in main_blocks for child in ast.walk(block)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in in_main) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            found.append((base, id(node) in in_main))
    return found


def _violations(package: str) -> tuple[list[str], set[tuple[str, str]]]:
    bad, aliases = [], set()
    for path in sorted((ROOT / package).rglob("*.py")):
        relative = str(path.relative_to(ROOT))
        for name, in_main in _imports(path):
            top = name.split(".")[0]
            if top in FORBIDDEN[package]:
                if in_main:
                    aliases.add((relative, name))
                else:
                    bad.append(f"{relative} imports {name}")
    return bad, aliases


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_statement_reaches_up(package: str) -> None:
    bad, aliases = _violations(package)
    assert bad == []
    assert aliases <= COMMAND_ALIASES


def test_the_machinery_never_imports_a_command() -> None:
    """Only the commands (sast_models/cli) and the `__main__` blocks of the alias modules import sast_models.cli."""
    bad = []
    for package in PROJECT:
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if relative.parts[:2] == ("sast_models", "cli") or relative.parts[0] == "paper_figures":
                continue
            bad += [f"{relative} imports {name}" for name, in_main in _imports(path)
                    if name.startswith("sast_models.cli") and not in_main]
    assert bad == []


IMPORT_IN_LAYER_ORDER = """
import importlib, json, pkgutil, sys
loaded = {}
for package in ("sast_core", "sast_theory", "sast_models"):
    root = importlib.import_module(package)
    for info in pkgutil.walk_packages(root.__path__, package + "."):
        importlib.import_module(info.name)
    loaded[package] = sorted({name.split(".")[0] for name in sys.modules})
print(json.dumps(loaded))
"""


def test_importing_a_layer_loads_nothing_above_it() -> None:
    """In one fresh interpreter, every module of sast_core, then of sast_theory (no torch), then of sast_models."""
    run = subprocess.run([sys.executable, "-c", IMPORT_IN_LAYER_ORDER], capture_output=True, text=True, cwd=ROOT,
                         timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert run.returncode == 0, run.stderr
    loaded = {package: set(names) for package, names in json.loads(run.stdout.splitlines()[-1]).items()}
    for package, modules in loaded.items():
        assert package in modules and not modules & FORBIDDEN[package], package
    assert "torch" in loaded["sast_models"]


@pytest.mark.parametrize("name", DOCUMENTED_COMMANDS)
@pytest.mark.filterwarnings("ignore:.*found in sys.modules:RuntimeWarning")
def test_documented_command_names_run(name: str, monkeypatch, capsys) -> None:
    """`python -m NAME --help` (what -m does: run the module as __main__) prints the usage and exits 0."""
    monkeypatch.setattr(sys, "argv", [name, "--help"])
    with pytest.raises(SystemExit) as info:
        runpy.run_module(name, run_name="__main__", alter_sys=True)
    assert info.value.code == 0
    assert "usage:" in capsys.readouterr().out
