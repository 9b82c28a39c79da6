"""Issue 19's budgets: labmf is the lab, labrec the recommender beside it, each kept small.

The import layers themselves are import-linter's contracts (pyproject.toml, `make lint`).
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import labmf

SRC = Path(__file__).resolve().parents[1] / "src"
EXPLORE = SRC / "labmf" / "explore"
# (files, at most this many lines in all)
PACKAGES = {
    "labmf": ([p for p in (SRC / "labmf").rglob("*.py") if EXPLORE not in p.parents], 4000),  # issue 19
    "labmf.explore": (list(EXPLORE.rglob("*.py")), 700),
    "labrec": ([p for p in (SRC / "labrec").rglob("*.py") if not p.name.startswith("spark")], 3500),
    # the optional Spark extra (issue 22): DSGD and MLlib ALS beside it
    "labrec.spark": (list((SRC / "labrec").glob("spark*.py")), 700),
}


def _code_lines(lines: list[str], fn: ast.FunctionDef) -> int:
    """Lines of ``fn`` that hold code: not blank, not a comment, not its docstring."""
    skip = set()
    if fn.body and isinstance(fn.body[0], ast.Expr) and isinstance(getattr(fn.body[0], "value", None), ast.Constant):
        skip = set(range(fn.body[0].lineno, fn.body[0].end_lineno + 1))
    return sum(1 for k in range(fn.lineno, fn.end_lineno + 1)
               if k not in skip and lines[k - 1].strip() and not lines[k - 1].strip().startswith("#"))


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_package_budget(package):
    files, budget = PACKAGES[package]
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    assert sum(len(t.splitlines()) for t in texts.values()) <= budget
    for path, text in texts.items():
        lines = text.splitlines()
        assert len(lines) <= 400, f"{path} has {len(lines)} lines"
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert _code_lines(lines, node) <= 60, f"{path}:{node.lineno} {node.name}"


def test_labmf_exports_at_most_30_names():
    assert len(labmf.__all__) <= 30
    assert all(hasattr(labmf, name) for name in labmf.__all__)


def test_importing_labmf_imports_neither_pandas_nor_ipywidgets_nor_the_recommender():
    code = ("import sys, labmf; bad = [m for m in ('pandas', 'ipywidgets', 'labrec', 'labmf.explore') "
            "if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
