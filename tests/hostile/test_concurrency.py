"""Readers keep answering while a run writes; a second writer is refused with the pid."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from searchidx import Index, indexer
from searchidx.errors import IndexLocked
from tests.hostile.conftest import (
    CORPUS,
    all_ids,
    load,
    run_cli,
    serve,
    start_indexer,
    unique_word,
    wait_for_progress,
    write_tiny_archive,
)


@pytest.fixture()
def paused_run(tmp_path: Path):
    """An index of 100 posts, then a run adding 100 more that is paused with its lock
    held and its writer open. Yields (index_dir, archive, proc, release)."""
    archive, index_dir, hold = tmp_path / "archive", tmp_path / "index", tmp_path / "hold"
    write_tiny_archive(archive, 0, 100)
    indexer.update(index_dir, [archive], jobs=1)
    write_tiny_archive(archive, 100, 100)
    hold.touch()
    proc = start_indexer(index_dir, archive, hold=hold, jobs=1)
    wait_for_progress(proc)
    yield index_dir, archive, proc, hold.unlink
    hold.unlink(missing_ok=True)
    proc.wait(timeout=60)


# Not strict: it is a race, so on a slow run the commit may fall between searches.
def test_searches_answer_while_a_run_writes(paused_run) -> None:
    index_dir, _, proc, release = paused_run
    idx = Index.open(index_dir)
    errors: list[BaseException] = []
    totals: set[int] = set()
    stop = threading.Event()

    def reader() -> None:
        while not stop.is_set():
            try:
                totals.add(idx.search("").total)
                idx.search(f"common {unique_word(5)}")
            except BaseException as exc:  # noqa: BLE001 - any failure is the finding
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for thread in threads:
        thread.start()
    cli = run_cli("--index", str(index_dir), "search", unique_word(7), "--json")
    assert cli.returncode == 0 and unique_word(7) not in cli.stderr, cli.stderr
    assert totals == {100}  # the open writer is invisible until it commits
    release()
    proc.wait(timeout=60)
    stop.set()
    for thread in threads:
        thread.join(timeout=30)
    assert proc.returncode == 0, proc.stderr.read()
    assert not errors, errors
    assert idx.search("").total == 200
    assert run_cli("--index", str(index_dir), "search", unique_word(150)).returncode == 0


def test_second_run_is_refused_with_the_pid(paused_run) -> None:
    index_dir, archive, proc, release = paused_run
    with pytest.raises(IndexLocked, match=f"being updated by pid {proc.pid}"):
        indexer.update(index_dir, [archive], lock_timeout=0.2)
    cli = run_cli("--index", str(index_dir), "index", str(archive))
    assert cli.returncode == 2, cli.stderr
    assert f"being updated by pid {proc.pid}" in cli.stderr
    assert "Traceback" not in cli.stderr
    release()
    proc.wait(timeout=60)
    assert proc.returncode == 0
    ids = all_ids(Index.open(index_dir))
    assert len(ids) == len(set(ids)) == 200
    assert os.path.exists(index_dir / indexer.LOCK_NAME)


def test_web_under_light_load_has_no_errors(tmp_path: Path) -> None:
    """4 clients for 3 s over the corpus index, through waitress: zero errors."""
    from web import create_app

    indexer.update(tmp_path / "index", [CORPUS], jobs=1)
    base_url, stop = serve(create_app(tmp_path / "index"), threads=4)
    paths = ["/?q=scaling+laws", "/api/search?q=chatgpt", "/?q=%22unclosed", "/?q=*a*",
             "/?sort=newest&page=2", "/feed.atom?q=model", "/?q=transfromer+atention"]
    try:
        figures = load(base_url, paths, clients=4, seconds=3)
    finally:
        stop()
    assert figures["errors"] == [] and figures["requests"] > len(paths), figures
