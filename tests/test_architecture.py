"""The architecture holds: dependencies point one way and no package has an import cycle.

The contracts are in pyproject.toml (``[tool.importlinter]``): ``api`` over ``notifications``
over ``workflow``; within the domain, the case engine (``workflow.cases``) over the machines'
tables (``workflow.machines``) over the case record (``workflow.case_records``); and no cycle
among the modules of any package. Imports sit at the top of files: one inside a function is
allowed only with a comment on its line saying why.
"""
from __future__ import annotations

import ast
from pathlib import Path

from importlinter.cli import EXIT_STATUS_SUCCESS, lint_imports

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("api", "workflow", "notifications", "console")


def test_the_layer_and_acyclic_contracts_are_kept(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    status = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert status == EXIT_STATUS_SUCCESS, capsys.readouterr().out


def _local_project_imports(path: Path):
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.Import, ast.ImportFrom)) and node.col_offset > 0:
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            if any(n.split(".")[0] in PACKAGES for n in names):
                yield node.lineno, lines[node.lineno - 1]


def test_a_function_local_import_says_why():
    unexplained = [f"{path.relative_to(ROOT)}:{lineno}: {line.strip()}"
                   for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))
                   for lineno, line in _local_project_imports(path) if "#" not in line]
    assert not unexplained, "imports belong at the top of the file:\n" + "\n".join(unexplained)
