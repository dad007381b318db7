"""kill -9 an indexing run at random points: the index still opens and searches, holds
either the old or the new state, and the next run finishes the job without duplicates."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

from searchidx import Index, indexer
from tests.hostile.conftest import (
    all_ids,
    start_indexer,
    unique_word,
    wait_for_progress,
    write_tiny_archive,
)

OLD_POSTS = 400
ADDED_POSTS = 400
REMOVED_POSTS = 50  # the new state: old - removed + added


def make_template(work: Path) -> tuple[Path, Path, Path]:
    """(archive, index, new_files), saved next to `work`: an index of the old archive
    built at `work` (the index remembers its roots, so every crash run restores it
    there), and the files that turn the old archive into the new one."""
    write_tiny_archive(work / "archive", 0, OLD_POSTS)
    indexer.update(work / "index", [work / "archive"], jobs=1)
    saved = work.parent / f"{work.name}-template"
    shutil.copytree(work, saved)
    write_tiny_archive(saved / "new", OLD_POSTS, ADDED_POSTS)
    return saved / "archive", saved / "index", saved / "new"


def crash_and_recover(template: tuple[Path, Path, Path], work: Path, seed: int,
                      run_seconds: float) -> bool:
    """One crash cycle at a fixed place (`work`, so paths match the template's index).
    Returns whether the kill landed before the run finished."""
    archive_t, index_t, new_t = template
    archive, index_dir = work / "archive", work / "index"
    shutil.rmtree(work, ignore_errors=True)
    shutil.copytree(archive_t, archive)  # copy2 keeps mtimes: nothing looks changed
    shutil.copytree(index_t, index_dir)
    for path in sorted(archive.iterdir())[:REMOVED_POSTS]:
        path.unlink()
    for path in new_t.iterdir():
        shutil.copy2(path, archive / path.name)
    old_count, new_count = OLD_POSTS, OLD_POSTS - REMOVED_POSTS + ADDED_POSTS

    proc = start_indexer(index_dir, archive)
    time.sleep(random.Random(seed).uniform(0.0, 1.2) * run_seconds)
    killed = proc.poll() is None
    with contextlib.suppress(ProcessLookupError):  # the whole group: parent and workers
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()

    idx = Index.open(index_dir)
    ids = all_ids(idx)
    assert len(ids) in (old_count, new_count), (seed, len(ids))
    assert len(set(ids)) == len(ids), f"seed {seed}: duplicate ids after the kill"
    assert idx.search(unique_word(OLD_POSTS - 1)).total == 1

    report = indexer.update(index_dir, [archive], lock_timeout=0.5)  # a stale lock fails
    idx = Index.open(index_dir)
    ids = all_ids(idx)
    assert len(ids) == new_count == len(set(ids)), (seed, len(ids), report.to_json())
    assert idx.stats().posts == new_count
    assert idx.search(unique_word(OLD_POSTS + ADDED_POSTS - 1)).total == 1
    assert idx.search(unique_word(0)).total == 0  # removed
    return killed


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    return make_template(tmp_path_factory.mktemp("crash") / "work")


@pytest.fixture(scope="module")
def run_seconds(template, tmp_path_factory: pytest.TempPathFactory) -> float:
    """How long an undisturbed run takes here, so kills land across the whole run."""
    return time_one_run(template)


def work_dir(template: tuple[Path, Path, Path]) -> Path:
    return template[0].parent.parent / "work"


def time_one_run(template: tuple[Path, Path, Path]) -> float:
    work = work_dir(template)
    shutil.rmtree(work)
    shutil.copytree(template[0], work / "archive")
    shutil.copytree(template[1], work / "index")
    for path in template[2].iterdir():
        shutil.copy2(path, work / "archive" / path.name)
    started = time.monotonic()
    proc = start_indexer(work / "index", work / "archive")
    proc.wait(timeout=300)
    assert proc.returncode == 0, proc.stderr.read()
    return time.monotonic() - started


@pytest.mark.parametrize("seed", range(5))
def test_kill_minus_nine_at_random_points(template, run_seconds, seed):
    crash_and_recover(template, work_dir(template), seed, run_seconds)


def test_stale_lock_of_a_killed_run_is_recovered_at_once(tmp_path: Path) -> None:
    """A run killed while it holds the lock and an open writer (small archive: no
    worker processes) leaves nothing that blocks the next run."""
    archive = tmp_path / "archive"
    write_tiny_archive(archive, 0, 20)
    hold = tmp_path / "hold"
    hold.touch()
    proc = start_indexer(tmp_path / "index", archive, hold=hold)
    started = wait_for_progress(proc)
    assert str(started["pid"]) in (tmp_path / "index" / indexer.LOCK_NAME).read_text()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "index" / indexer.LOCK_NAME).exists()  # left behind, not deleted
    report = indexer.update(tmp_path / "index", [archive], lock_timeout=0.2)
    assert report.added == 20
    assert len(set(all_ids(Index.open(tmp_path / "index")))) == 20


def test_kill_of_the_indexer_alone_does_not_leave_its_workers_holding_the_lock(
        tmp_path: Path) -> None:
    """kill -9 of only the indexer's pid (the OOM killer does this), while its pool of
    parse workers is busy: the next run must still start."""
    archive = tmp_path / "archive"
    write_tiny_archive(archive, 0, 1200)  # above the pool threshold: parsed in workers
    proc = start_indexer(tmp_path / "index", archive)
    try:
        wait_for_progress(proc)  # a first batch came back: the pool is running
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        indexer.update(tmp_path / "index", [archive], lock_timeout=1)
    finally:
        with contextlib.suppress(ProcessLookupError):  # the orphaned workers, if any
            os.killpg(proc.pid, signal.SIGKILL)
