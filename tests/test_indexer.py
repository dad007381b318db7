"""indexer.py: incremental sync, malformed files, locking, recovery from corruption and kills."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchidx import Index, engine, indexer
from searchidx.errors import IndexCorrupt, IndexLocked, IndexNotFound, PostNotFound, SearchIdxError

POSTS = {
    "2023-01-01-alpha.md": "alpha particles and aardvarks",
    "2023-02-01-beta.md": "beta decay and badgers",
    "2023-03-01-gamma.md": "gamma rays and gazelles",
}


@pytest.fixture
def archive(tmp_path, write_post) -> Path:
    folder = tmp_path / "archive"
    for name, body in POSTS.items():
        write_post(folder, name, {"title": name[11:-3].title(), "source": "Lab Notes"}, body)
    return folder


@pytest.fixture
def index_dir(tmp_path, archive) -> Path:
    """An index of `archive`, already built once."""
    path = tmp_path / "index"
    report = indexer.update(path, [archive])
    assert (report.added, report.updated, report.removed) == (3, 0, 0)
    return path


def _titles(index_dir: Path, text: str = "") -> list[str]:
    return sorted(hit.title for hit in Index.open(index_dir).search(text, per_page=100).hits)


def _counts(report: indexer.IndexReport) -> tuple[int, int, int, int]:
    return report.added, report.updated, report.removed, report.unchanged


def _bump_mtime(path: Path) -> None:
    stat = path.stat()
    later = stat.st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))


# --- incremental sync --------------------------------------------------------------------

def test_second_run_is_a_no_op(index_dir, archive) -> None:
    report = indexer.update(index_dir, [archive])
    assert _counts(report) == (0, 0, 0, 3)
    assert report.skipped == []


def test_changed_file_is_reindexed_alone(index_dir, archive, write_post) -> None:
    path = write_post(archive, "2023-02-01-beta.md", {"title": "Beta"}, "bonobos instead")
    _bump_mtime(path)
    assert _counts(indexer.update(index_dir, [archive])) == (0, 1, 0, 2)
    assert _titles(index_dir, "bonobos") == ["Beta"]
    assert _titles(index_dir, "badgers") == []
    assert len(_titles(index_dir)) == 3


def test_touched_file_with_same_content_is_unchanged(index_dir, archive) -> None:
    _bump_mtime(archive / "2023-01-01-alpha.md")
    assert _counts(indexer.update(index_dir, [archive])) == (0, 0, 0, 3)
    assert _counts(indexer.update(index_dir, [archive])) == (0, 0, 0, 3)


def _edit_keeping_size_and_mtime(path: Path, old: str, new: str) -> None:
    """`sed -i` then `touch -r`: new bytes, same size, the old mtime put back."""
    assert len(old) == len(new)
    before = path.stat()
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(old, new), encoding="utf-8")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)


def test_edit_that_keeps_size_and_mtime_is_seen_by_ctime(index_dir, archive) -> None:
    _edit_keeping_size_and_mtime(archive / "2023-02-01-beta.md", "badgers", "beavers")
    assert _counts(indexer.update(index_dir, [archive])) == (0, 1, 0, 2)
    assert _titles(index_dir, "beavers") == ["Beta"]
    assert _titles(index_dir, "badgers") == []
    assert _counts(indexer.update(index_dir, [archive])) == (0, 0, 0, 3)


def test_store_without_ctime_hashes_each_file_once(index_dir, archive) -> None:
    _edit_keeping_size_and_mtime(archive / "2023-02-01-beta.md", "badgers", "beavers")
    db = sqlite3.connect(index_dir / "searchidx.sqlite")
    db.execute("ALTER TABLE files DROP COLUMN ctime_ns")  # as a store written before it
    db.commit()
    db.close()
    assert _counts(indexer.update(index_dir, [archive])) == (0, 1, 0, 2)
    assert _titles(index_dir, "beavers") == ["Beta"]
    assert _counts(indexer.update(index_dir, [archive])) == (0, 0, 0, 3)


def test_deleted_file_is_removed_alone(index_dir, archive) -> None:
    gone = archive / "2023-03-01-gamma.md"
    gone_id = Index.open(index_dir).search("gazelles").hits[0].id
    gone.unlink()
    assert _counts(indexer.update(index_dir, [archive])) == (0, 0, 1, 2)
    idx = Index.open(index_dir)
    assert idx.search("gazelles").total == 0
    with pytest.raises(PostNotFound):
        idx.get(gone_id)
    assert _titles(index_dir) == ["Alpha", "Beta"]


def test_added_file_is_added(index_dir, archive, write_post) -> None:
    write_post(archive, "sub/2023-04-01-delta.md", {"title": "Delta"}, "deltas and dingoes")
    assert _counts(indexer.update(index_dir, [archive])) == (1, 0, 0, 3)
    assert _titles(index_dir, "dingoes") == ["Delta"]


def test_rebuild_reindexes_everything(index_dir, archive) -> None:
    assert _counts(indexer.update(index_dir, [archive], rebuild=True)) == (3, 0, 0, 0)
    assert _titles(index_dir) == ["Alpha", "Beta", "Gamma"]


def test_roots_are_remembered(index_dir, archive, write_post) -> None:
    write_post(archive, "2023-05-01-epsilon.md", {"title": "Epsilon"}, "emus")
    report = indexer.update(index_dir)  # no roots: the previous run's
    assert _counts(report) == (1, 0, 0, 3)
    assert Index.open(index_dir).stats().roots == [str(archive)]


def test_no_roots_on_a_new_index_is_an_error(tmp_path) -> None:
    with pytest.raises(SearchIdxError, match="no archive to index"):
        indexer.update(tmp_path / "index")


def test_missing_root_is_an_error(tmp_path) -> None:
    with pytest.raises(SearchIdxError, match="no such file or folder"):
        indexer.update(tmp_path / "index", [tmp_path / "nowhere"])


def test_hidden_folders_and_other_extensions_are_ignored(tmp_path, write_post) -> None:
    archive = tmp_path / "archive"
    write_post(archive, "post.md", {"title": "Kept"}, "text")
    write_post(archive, "post.MARKDOWN", {"title": "Kept too"}, "text")
    write_post(archive, ".git/hooked.md", {"title": "Hidden folder"}, "text")
    write_post(archive, ".draft.md", {"title": "Hidden file"}, "text")
    write_post(archive, "notes.txt", {"title": "Not a post"}, "text")
    assert indexer.update(tmp_path / "index", [archive]).added == 2


def test_open_index_sees_later_updates(index_dir, archive, write_post) -> None:
    idx = Index.open(index_dir)
    assert idx.search("zebras").total == 0
    write_post(archive, "2023-06-01-zeta.md", {"title": "Zeta"}, "zebras")
    report = idx.update([archive])
    assert report.added == 1
    assert [hit.title for hit in idx.search("zebras").hits] == ["Zeta"]


def test_progress_is_reported(tmp_path, archive) -> None:
    calls: list[tuple[int, int]] = []
    indexer.update(tmp_path / "index", [archive], progress=lambda d, t: calls.append((d, t)))
    assert calls[-1] == (3, 3)


# --- malformed files ---------------------------------------------------------------------------

def _malformed_archive(folder: Path, write_post) -> dict[str, str]:
    """Writes good and bad posts; returns file name -> expected skip reason (bad ones)."""
    write_post(folder, "good.md", {"title": "Good post"}, "ordinary words")
    write_post(folder, "bad-yaml.md", "title: [oops\nsummary: a: b: c", "words")
    (folder / "binary.md").write_bytes(b"---\ntitle: x\n---\n\x89PNG\x00\x00\x01")
    (folder / "latin1.md").write_bytes("---\ntitle: Caf\u00e9\n---\nna\u00efve\n".encode("latin-1"))
    (folder / "empty.md").write_bytes(b"")
    write_post(folder, "frontmatter-only.md", {"title": "Only metadata"}, "")
    write_post(folder, "no-frontmatter.md", None, "# Heading title\n\nquokka sightings\n")
    write_post(folder, "controls.md", 'title: "Smart\u0096quotes"', "text with \u0085 controls")
    # ~5 MB of prose with one rare word at the very end
    big_body = "The model was trained on text. " * 170_000 + "Finally a narwhal appears."
    write_post(folder, "big.md", {"title": "Huge post"}, big_body)
    return {"bad-yaml.md": "YAML", "binary.md": "binary", "latin1.md": "UTF-8",
            "empty.md": "empty"}


def test_malformed_files_are_skipped_with_reasons_and_the_run_goes_on(
    tmp_path, write_post
) -> None:
    archive = tmp_path / "archive"
    expected = _malformed_archive(archive, write_post)
    assert (archive / "big.md").stat().st_size > 5_000_000
    report = indexer.update(tmp_path / "index", [archive])

    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert sorted(reasons) == sorted(expected)
    for name, word in expected.items():
        assert word in reasons[name]
    assert all(Path(s.path).is_absolute() for s in report.skipped)
    assert report.added == 5

    idx = Index.open(tmp_path / "index")
    assert [h.title for h in idx.search("quokka").hits] == ["Heading title"]
    assert [h.title for h in idx.search("narwhal").hits] == ["Huge post"]
    assert [h.title for h in idx.search("Smartquotes").hits] == ["Smartquotes"]
    assert "Only metadata" in [h.title for h in idx.search("").hits]


def test_skipped_file_fixed_later_is_added(tmp_path, write_post) -> None:
    archive = tmp_path / "archive"
    write_post(archive, "post.md", "title: [broken", "text")
    assert len(indexer.update(tmp_path / "index", [archive]).skipped) == 1
    path = write_post(archive, "post.md", {"title": "Fixed"}, "text")
    _bump_mtime(path)
    report = indexer.update(tmp_path / "index", [archive])
    assert report.added == 1 and report.skipped == []


# --- locking -------------------------------------------------------------------------------------

# A writer that stops inside its run (while holding the lock) until it is killed.
_HOLDER = """
import pathlib, sys, time
from searchidx import indexer
index_dir, root, marker, rebuild = sys.argv[1:5]
def progress(done, total):
    pathlib.Path(marker).touch()
    time.sleep(120)
indexer.update(index_dir, [root], jobs=1, progress=progress, rebuild=rebuild == "rebuild")
"""


def _wait_for(path: Path, proc: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert proc.poll() is None, proc.stderr.read()
        assert time.monotonic() < deadline, "the subprocess never started writing"
        time.sleep(0.02)


def _start_holder(tmp_path: Path, index_dir: Path, archive: Path, mode: str) -> subprocess.Popen:
    marker = tmp_path / "started"
    proc = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(index_dir), str(archive), str(marker), mode],
        stderr=subprocess.PIPE, text=True,
    )
    _wait_for(marker, proc)
    return proc


def test_second_writer_fails_naming_the_first_pid(tmp_path, index_dir, archive, write_post):
    write_post(archive, "2023-04-01-delta.md", {"title": "Delta"}, "dingoes")  # work to do
    proc = _start_holder(tmp_path, index_dir, archive, "sync")
    try:
        with pytest.raises(IndexLocked) as caught:
            indexer.update(index_dir, [archive], lock_timeout=0.2)
        assert f"pid {proc.pid}" in str(caught.value)
        # readers are not blocked by the writer and see the last committed state
        assert _titles(index_dir) == ["Alpha", "Beta", "Gamma"]
    finally:
        proc.kill()
        proc.wait()
    # the kernel dropped the dead writer's lock: no stale lock file to delete by hand
    assert _counts(indexer.update(index_dir, [archive], lock_timeout=0.2)) == (1, 0, 0, 3)


def test_readers_keep_the_old_index_during_a_rebuild(tmp_path, index_dir, archive) -> None:
    proc = _start_holder(tmp_path, index_dir, archive, "rebuild")
    try:
        assert _titles(index_dir) == ["Alpha", "Beta", "Gamma"]
    finally:
        proc.kill()
        proc.wait()


# --- recovery ----------------------------------------------------------------------------------

def _toc(index_dir: Path) -> Path:
    (toc,) = index_dir.glob("_MAIN_*.toc")
    return toc


@pytest.mark.parametrize("garbage", [b"this is not a table of contents", b""])
def test_damaged_toc_makes_open_raise_index_corrupt(index_dir, garbage: bytes) -> None:
    _toc(index_dir).write_bytes(garbage)
    with pytest.raises(IndexCorrupt, match="rebuild it"):
        Index.open(index_dir)


@pytest.mark.parametrize("garbage", [b"this is not a table of contents", b""])
def test_damaged_toc_is_rebuilt_from_the_roots(index_dir, garbage: bytes) -> None:
    _toc(index_dir).write_bytes(garbage)
    report = indexer.update(index_dir)
    assert report.rebuilt_because
    assert report.added == 3
    assert _titles(index_dir, "gazelles") == ["Gamma"]


def test_deleted_toc_is_rebuilt_from_the_roots(index_dir) -> None:
    _toc(index_dir).unlink()
    with pytest.raises(IndexNotFound):
        Index.open(index_dir)
    assert indexer.update(index_dir).added == 3
    assert _titles(index_dir) == ["Alpha", "Beta", "Gamma"]


# A run that SIGKILLs itself halfway through writing (after 600 of 1,500 documents).
_KILLED = """
import os, signal, sys
from searchidx import indexer
index_dir, root = sys.argv[1:3]
def progress(done, total):
    if done == 600:
        os.kill(os.getpid(), signal.SIGKILL)
indexer.update(index_dir, [root], jobs=1, progress=progress)
"""


def test_killed_run_leaves_the_previous_state_and_the_next_run_finishes(
    tmp_path, index_dir, archive
) -> None:
    batch = archive / "batch"
    batch.mkdir()
    for n in range(1500):
        (batch / f"2022-01-01-post-{n:04d}.md").write_text(
            f"---\ntitle: Batch post {n}\n---\nwombat number {n}\n", encoding="utf-8"
        )
    proc = subprocess.run(
        [sys.executable, "-c", _KILLED, str(index_dir), str(archive)],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    idx = Index.open(index_dir)
    assert idx.search("wombat").total == 0
    assert idx.stats().posts == 3
    assert _titles(index_dir) == ["Alpha", "Beta", "Gamma"]

    report = indexer.update(index_dir, lock_timeout=0.5)
    assert report.added == 1500 and report.unchanged == 3
    idx = Index.open(index_dir)
    assert idx.stats().posts == 1503
    assert idx.search("wombat").total == 1500


# --- the parallel build's posting pool ------------------------------------------------------

@pytest.mark.parametrize("limit_mb", [512, 0.005])  # in memory; spilled to many disk runs
def test_term_pool_yields_whooshs_posting_order(tmp_path, limit_mb: float,
                                                 monkeypatch) -> None:
    import random

    # the arrays file is written out a few postings at a time, as at full size
    monkeypatch.setattr(engine._ArrayPostingsWriter, "_BUFFERED", 7)

    from whoosh.filedb.filestore import FileStorage
    from whoosh.writing import PostingPool

    rng = random.Random(7)
    words = [f"w{i}".encode() for i in range(300)]
    stream = []
    for docnum in range(400):  # documents arrive in order, each term once per field
        for fieldname in ("body", "title"):
            for word in sorted(set(rng.choices(words, k=rng.randint(1, 40)))):
                freq = rng.randint(1, 5)
                stream.append((fieldname, word, docnum, float(freq), bytes([freq]) * freq))
    rng.shuffle(stream)  # within a document Whoosh adds fields and terms in any order
    stream.sort(key=lambda posting: posting[2])

    runs, arrays = tmp_path / "runs", tmp_path / "index" / "postings" / "MAIN_x.postings"
    runs.mkdir()
    ours = engine.TermPool(FileStorage(str(runs)), None, limit_mb, arrays,
                           frozenset({"body"}))
    whooshs = PostingPool(FileStorage(str(runs)), None, limitmb=limit_mb)
    for posting in stream:
        ours.add(posting)
        whooshs.add(posting)
    assert bool(ours.runs) == (limit_mb < 1)
    expected = list(whooshs.iter_postings())
    assert list(ours.iter_postings()) == expected
    assert not list(runs.iterdir())  # the runs were removed
    # ... and the same postings, as arrays, in the segment's postings file
    written = engine.ArrayPostings(arrays)
    by_term: dict[tuple[str, bytes], list[tuple[int, float]]] = {}
    for fieldname, word, docnum, weight, _ in expected:
        by_term.setdefault((fieldname, word), []).append((docnum, weight))
    for (fieldname, word), postings in by_term.items():
        if fieldname == "title":  # not one of the array fields asked for
            assert written.get(fieldname, word) is None
            continue
        docnums, weights = written.get(fieldname, word)
        assert list(zip(docnums.tolist(), weights.tolist(), strict=True)) == postings
    assert written.get("body", b"absent") is None and written.get("bod", b"w1") is None


def _index_contents(index_dir: Path) -> tuple[dict, dict, dict]:
    """Every posting (weight and value), field length and stored field, keyed by post id."""
    from whoosh.filedb.filestore import FileStorage

    reader = FileStorage(str(index_dir)).open_index().reader()
    ids = {docnum: reader.stored_fields(docnum)["id"] for docnum in reader.all_doc_ids()}
    postings = {}
    for name in reader.schema.names():
        if not reader.schema[name].indexed:
            continue
        for term in reader.lexicon(name):
            matcher = reader.postings(name, term)
            while matcher.is_active():
                postings[name, term, ids[matcher.id()]] = (matcher.weight(), matcher.value())
                matcher.next()
    lengths = {(ids[d], name): reader.doc_field_length(d, name)
               for d in ids for name in reader.schema.scorable_names()}
    stored = {ids[d]: reader.stored_fields(d) for d in ids}
    reader.close()
    return postings, lengths, stored


def test_parallel_build_writes_what_the_single_writer_writes(tmp_path, write_post) -> None:
    import random

    rng = random.Random(7)
    words = ["GPT-4", "state-of-the-art", "C++", "日本語の文章", "naïve", "running", "runs",
             "the", "of", *(f"w{i}" for i in range(300))]
    archive = tmp_path / "archive"
    for n in range(indexer._PARALLEL_BUILD_THRESHOLD + 100):
        meta = {"title": " ".join(rng.choices(words, k=4)),
                "summary": " ".join(rng.choices(words, k=8)),
                "source": rng.choice(["Lab A", "Lab B"]), "tags": rng.sample(["ml", "cv"], 1)}
        write_post(archive, f"d{n // 100}/p{n}.md", meta,
                   " ".join(rng.choices(words, k=rng.randint(0, 80))))
    indexer.update(tmp_path / "parallel", [archive], jobs=2)
    indexer.update(tmp_path / "single", [archive], jobs=1)
    assert _index_contents(tmp_path / "parallel") == _index_contents(tmp_path / "single")
    # The posts were added in another order, so equal scores (and the undated posts'
    # equal dates) must be ordered by something of the posts' own.
    parallel, single = Index.open(tmp_path / "parallel"), Index.open(tmp_path / "single")
    for typed, sort in [("w1", "relevance"), ("running", "relevance"), ("", "newest"),
                        ("w2 OR w3", "oldest")]:
        orders = [[hit.id for hit in index.search(typed, sort=sort, per_page=50).hits]
                  for index in (parallel, single)]
        assert orders[0] == orders[1], (typed, sort)


def test_a_large_build_leaves_no_share_files_and_removes_a_killed_runs(tmp_path) -> None:
    index_dir = tmp_path / "index"
    stale = index_dir / "build-left-by-a-killed-run"
    stale.mkdir(parents=True)
    (stale / "share-0").write_bytes(b"half a batch")
    scope = indexer._Scope("arch", 0, {}, {}, "digest")
    cands = [indexer._Candidate(f"/arch/p{n}.md", n, n, n, scope) for n in range(2500)]
    with indexer._Shares(index_dir, 2) as shares:
        assert not stale.exists()
        for cand in cands:
            shares.add(cand)
        shares.close()
        dealt = [list(indexer._read_batches(path)) for path in shares.paths]
        assert dealt == [cands[0::2], cands[1::2]] and shares.total == 2500
    assert list(index_dir.iterdir()) == []
