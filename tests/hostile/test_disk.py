"""A read-only location and a full disk: a clear error, the old index still usable, and
the lock released.

Tests run as root, where chmod does not stop writes, so the read-only location is a
read-only bind mount of the index folder (skipped where mounting is not allowed). A full
disk is simulated by making the write of the index's table of contents (the last step of
a Whoosh commit) or the side store's write raise ENOSPC.
"""

from __future__ import annotations

import errno
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import whoosh.index
from click.testing import CliRunner

from searchidx import Index, indexer
from searchidx.cli import cli
from searchidx.errors import SearchIdxError
from searchidx.store import Store
from tests.hostile.conftest import run_cli, unique_word, write_tiny_archive


@pytest.fixture()
def old_index(tmp_path: Path) -> tuple[Path, Path]:
    """(archive, index): 30 posts indexed, then 10 more added to the archive."""
    archive, index_dir = tmp_path / "archive", tmp_path / "data" / "index"
    write_tiny_archive(archive, 0, 30)
    indexer.update(index_dir, [archive], jobs=1)
    write_tiny_archive(archive, 30, 10)
    return archive, index_dir


@pytest.fixture()
def readonly_view(old_index, tmp_path: Path) -> Iterator[Path]:
    """The folder holding the index, seen through a read-only bind mount."""
    view = tmp_path / "readonly"
    view.mkdir()
    source = old_index[1].parent
    mounted = subprocess.run(["mount", "--bind", str(source), str(view)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot bind-mount here ({mounted.stderr.decode().strip()})")
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        yield view / old_index[1].name
    finally:
        # lazy: a failed test may still hold a file open under the mount
        subprocess.run(["umount", "--lazy", str(view)], check=True)


def _assert_old_index_usable(index_dir: Path) -> None:
    idx = Index.open(index_dir)
    assert idx.search("").total == 30
    assert idx.search(unique_word(3)).total == 1


def test_readonly_location_library(old_index, readonly_view: Path) -> None:
    archive, index_dir = old_index
    with pytest.raises(SearchIdxError, match="Read-only file system"):
        indexer.update(readonly_view, [archive])
    _assert_old_index_usable(index_dir)


def test_readonly_location_cli(old_index, readonly_view: Path) -> None:
    archive, index_dir = old_index
    for target in (readonly_view, readonly_view / "new"):
        result = run_cli("--index", str(target), "index", str(archive))
        assert result.returncode == 2, result.stderr
        assert "Read-only file system" in result.stderr
        assert "Traceback" not in result.stderr + result.stdout
    _assert_old_index_usable(index_dir)


def test_index_on_readonly_storage_can_be_searched(readonly_view: Path) -> None:
    _assert_old_index_usable(readonly_view)


def _toc_write_fails(self, storage, indexname) -> None:
    raise OSError(errno.ENOSPC, "No space left on device")


def _store_write_fails(self, texts) -> None:
    raise sqlite3.OperationalError("database or disk is full")


FULL_DISKS = {
    "whoosh-commit": (whoosh.index.TOC, "write", _toc_write_fails),
    "side-store": (Store, "put_texts", _store_write_fails),
}


@pytest.mark.parametrize("where", FULL_DISKS)
def test_full_disk_keeps_old_index_and_releases_lock(old_index, monkeypatch, where) -> None:
    archive, index_dir = old_index
    owner, name, failing = FULL_DISKS[where]
    with monkeypatch.context() as patch:
        patch.setattr(owner, name, failing)
        with pytest.raises(SearchIdxError, match="full|No space"):
            indexer.update(index_dir, [archive])
        result = CliRunner().invoke(cli, ["--index", str(index_dir), "index", str(archive)])
        assert result.exit_code == 2 and "Traceback" not in result.output, result.output
        _assert_old_index_usable(index_dir)
    # Both locks (ours and Whoosh's WRITELOCK, WHOOSH.md B6) were released: a new run in
    # the same process starts at once and finishes the job.
    report = indexer.update(index_dir, [archive], lock_timeout=0.1)
    assert report.added == 10
    assert Index.open(index_dir).search("").total == 40
