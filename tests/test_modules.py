"""Issue 15: a module longer than ~400 lines says at its top why it is one module."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULES = sorted([*(ROOT / "searchidx").glob("*.py"), *(ROOT / "web").glob("*.py")])
LONG = 400


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_a_long_module_says_why_at_its_top(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    if text.count("\n") <= LONG:
        return
    docstring = ast.get_docstring(ast.parse(text)) or ""
    assert "longer than most modules" in docstring.lower(), (
        f"{path.name} has more than {LONG} lines and its docstring does not say why "
        "(\"Longer than most modules: ...\")")
