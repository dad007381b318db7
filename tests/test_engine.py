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


def _all_postings(ix) -> dict:
    """Every term's postings, (document, weight, value) each, segment by segment."""
    found = {}
    with ix.reader() as reader:
        for number, (leaf, _) in enumerate(reader.leaf_readers()):
            for fieldname, btext in leaf.all_terms():
                matcher = leaf.postings(fieldname, btext)
                rows = []
                while matcher.is_active():
                    rows.append((matcher.id(), matcher.weight(), matcher.value()))
                    matcher.next()
                found[number, fieldname, btext] = rows
    return found


def test_packed_posting_blocks_read_back_what_whooshs_codec_reads(tmp_path: Path) -> None:
    """The same posts written with PackedCodec and with Whoosh's W3Codec: every term of
    every field has the same postings, and skipping lands on the same documents."""
    from whoosh.codec.whoosh3 import W3Codec
    from whoosh.filedb.filestore import FileStorage

    from benchmarks.generate import generate
    from searchidx.posts import read_post
    from searchidx.schema import PostSchema, to_document

    generate(tmp_path / "archive", 300, seed=5)
    documents = []
    for number, path in enumerate(sorted((tmp_path / "archive").rglob("*.md"))):
        document = to_document(read_post(path))
        if number % 7 == 0:  # weights that are not whole numbers
            document["_body_boost"] = 1.5
        documents.append(document)
    indexes = []
    for name, codec in (("packed", engine.PackedCodec()), ("whoosh", W3Codec())):
        (tmp_path / name).mkdir()
        ix = FileStorage(str(tmp_path / name)).create_index(PostSchema())
        with ix.writer(codec=codec) as writer:
            for document in documents:
                writer.add_document(**document)
        indexes.append(ix)
    packed, whooshs = map(_all_postings, indexes)
    assert packed == whooshs
    assert sum(len(rows) > 128 for rows in packed.values()) > 100  # many blocks
    assert any(weight % 1 for rows in packed.values() for _, weight, _ in rows)

    longest = sorted(packed, key=lambda key: -len(packed[key]))
    with indexes[0].reader() as ours, indexes[1].reader() as theirs:
        for text in [btext for _, fieldname, btext in longest if fieldname == "body"][:3]:
            for target in range(0, 300, 37):
                matchers = [reader.postings("body", text) for reader in (ours, theirs)]
                for matcher in matchers:
                    matcher.skip_to(target)
                landed = [m.id() if m.is_active() else None for m in matchers]
                assert landed[0] == landed[1], (text, target)
