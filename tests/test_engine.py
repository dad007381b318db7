"""searchidx/engine.py is the one module that uses Whoosh's private names (issue 15)."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import searchidx
from searchidx import engine

PACKAGE = Path(searchidx.__file__).parent
WEB = PACKAGE.parent / "web"
# Private names of the standard library that are meant to be used.
STDLIB_PRIVATE = {"os._exit", "sys._getframe"}


def _private_uses(path: Path) -> list[str]:
    """`x._name` on anything but self/cls, and `from whoosh... import _name`."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")
                and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
                and ast.unparse(node) not in STDLIB_PRIVATE):
            found.append(f"{path.name}:{node.lineno} {ast.unparse(node)}")
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("whoosh"):
            found += [f"{path.name}:{node.lineno} import {alias.name}"
                      for alias in node.names if alias.name.startswith("_")]
    return found


@pytest.mark.parametrize("path", sorted([*PACKAGE.glob("*.py"), *WEB.glob("*.py")]),
                         ids=lambda p: p.name)
def test_only_engine_touches_whoosh_privates(path: Path) -> None:
    if path.name == "engine.py":
        assert _private_uses(path), "engine.py should be where the private names are"
        return
    assert _private_uses(path) == []


def test_the_check_sees_a_private_use(tmp_path) -> None:
    module = tmp_path / "sample.py"
    module.write_text("from whoosh.x import _y\n\ndef f(m):\n    return m._ids, self._ok\n")
    assert _private_uses(module) == ["sample.py:1 import _y", "sample.py:4 m._ids"]


def test_every_private_name_used_is_listed_in_the_docstring() -> None:
    source = Path(engine.__file__).read_text(encoding="utf-8")
    used = {use.split(" ")[-1].split(".")[-1] for use in _private_uses(Path(engine.__file__))}
    assert used, "no private use found"
    missing = {name for name in used if f"`{name}`" not in engine.__doc__
               and f"{name}`" not in engine.__doc__}
    assert not missing, f"engine.py uses {sorted(missing)} without saying so in its docstring"
    assert "Whoosh-Reloaded 2.7.5" in source


def test_another_whoosh_version_fails_at_import_with_what_to_do() -> None:
    code = "import whoosh; whoosh.__version__ = (2, 7, 6); import searchidx.engine"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode != 0
    assert "pip install Whoosh-Reloaded==2.7.5" in done.stderr
