"""Postings read as arrays (engine.ArrayPostings), and columns read in one call,
give exactly what Whoosh's own readers give: term by term, and search by search, on a
real index written in several runs (parallel build, in-process updates, merges,
deletions)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from whoosh.fields import NUMERIC
from whoosh.filedb.compound import CompoundStorage
from whoosh.filedb.filestore import FileStorage
from whoosh.writing import SegmentWriter

from benchmarks.generate import generate, queries
from searchidx import Index, SearchIdxError, engine, indexer
from searchidx.posts import DEFAULT_ALIASES, read_post
from searchidx.schema import ARRAY_POSTINGS_FIELDS, PostSchema, to_document
from searchidx.snapshot import Snapshot

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory) -> Path:
    """corpus/ and 600 generated posts: built in parallel, then updated in three more
    runs that edit, delete and add posts (so segments are merged and hold deletions)."""
    tmp = tmp_path_factory.mktemp("array-postings")
    archive = tmp / "archive"
    shutil.copytree(CORPUS, archive / "corpus")
    generate(archive / "generated", 600, seed=3)
    index_dir = tmp / "index"
    indexer.update(index_dir, [archive], jobs=2)
    posts = sorted((archive / "generated").rglob("*.md"))
    for run in range(3):
        for path in posts[run * 40 : run * 40 + 20]:
            path.write_text(path.read_text().replace("the", "a wombat and the", 3))
        for path in posts[run * 40 + 20 : run * 40 + 25]:
            path.unlink()
        (archive / "corpus" / f"extra-{run}.md").write_text(
            f"---\ntitle: Extra {run}\n---\nA wombat digs a burrow number {run}.\n")
        indexer.update(index_dir)
    return index_dir


def test_every_segment_has_its_postings_file_and_no_other(index_dir: Path):
    snapshot = Index.open(index_dir)._view().snapshot
    leaves = [leaf for leaf, _ in snapshot.reader.leaf_readers()]
    assert len(leaves) > 1 and any(leaf.has_deletions() for leaf in leaves)
    assert all(arrays is not None for arrays in snapshot._array_postings)
    files = {path.name for path in (index_dir / engine.POSTINGS_FOLDER).iterdir()}
    assert files == {f"{leaf.segment().segment_id()}.postings" for leaf in leaves}


def test_every_term_has_the_same_postings_as_arrays_and_through_whoosh(index_dir: Path):
    view = Index.open(index_dir)._view()
    fast = view.snapshot
    plain = Snapshot(view.searcher, fast.ranking, index_folder=None)
    assert all(arrays is None for arrays in plain._array_postings)
    compared = 0
    for fieldname, field in view.searcher.schema.items():
        # numeric fields (the date) are searched by range through Whoosh, not as terms
        if not field.indexed or isinstance(field, NUMERIC):
            continue
        terms = {text for leaf, _ in fast.reader.leaf_readers()
                 for text, _ in engine.field_lexicon(leaf, fieldname)}
        for btext in sorted(terms):
            text = field.from_bytes(btext)
            ours, whooshs = fast.postings(fieldname, text), plain.postings(fieldname, text)
            assert np.array_equal(ours[0], whooshs[0]), (fieldname, text)
            assert np.array_equal(ours[1], whooshs[1]), (fieldname, text)
            compared += 1
    assert compared > 10_000


def _answers(index: Index, text: str) -> tuple:
    results = index.search(text, per_page=50)
    return (results.total, [(hit.id, hit.score, hit.snippet) for hit in results.hits],
            results.facets, results.suggestion)


def test_searches_give_the_same_results_with_and_without_the_postings_files(
        index_dir: Path, tmp_path: Path):
    texts = queries(0)[:120] + ['"the wombat"', "wombat*", "burow~", "title:extra",
                                "wombat -burrow", "RL agents", "cites:arxiv", ""]
    with_arrays = [_answers(Index.open(index_dir), text) for text in texts]
    copy = tmp_path / "index"
    shutil.copytree(index_dir, copy)
    files = sorted((copy / engine.POSTINGS_FOLDER).iterdir())
    files[0].write_bytes(b"searchidx-postings-0\n")  # a file of another format is not used
    for path in files[1:]:
        path.unlink()  # as in an index of an older searchidx
    through_whoosh = Index.open(copy)
    assert all(arrays is None for arrays in through_whoosh._view().snapshot._array_postings)
    for text, expected in zip(texts, with_arrays, strict=True):
        assert _answers(through_whoosh, text) == expected, text
    assert sum(total for total, *_ in with_arrays) > 1000


def test_a_postings_file_cut_short_is_refused_not_misread(index_dir: Path, tmp_path: Path):
    whole = sorted((index_dir / engine.POSTINGS_FOLDER).iterdir())[0]
    assert engine.ArrayPostings(whole).fields == ARRAY_POSTINGS_FIELDS
    for size in (10, 60, whole.stat().st_size - 1):
        cut = tmp_path / f"cut-{size}.postings"
        cut.write_bytes(whole.read_bytes()[:size])
        with pytest.raises(SearchIdxError, match="not a searchidx postings file|cut short"):
            engine.ArrayPostings(cut)


def test_numeric_columns_read_in_one_call_equal_whooshs_reader(index_dir: Path):
    reader = Index.open(index_dir)._view().snapshot.reader
    for name in ("length", "id_number"):
        for leaf, _ in reader.leaf_readers():
            ours = engine.numeric_column(leaf, name).tolist()
            assert ours == list(leaf.column_reader(name)), name
            assert len(ours) == leaf.doc_count_all() and any(ours)
    # A DATETIME column is not in the sortable form: its values are microseconds, and
    # an undated post's is the default, 2 ** 64 - 1 (-1 as int64).
    for leaf, _ in reader.leaf_readers():
        ours = engine.numeric_column(leaf, "date").view(np.uint64).tolist()
        assert ours == list(leaf.column_reader("date", translate=False)) and any(ours)


def test_a_text_column_read_in_one_call_equals_whooshs_reader(index_dir: Path):
    reader = Index.open(index_dir)._view().snapshot.reader
    for leaf, _ in reader.leaf_readers():
        ours = engine.text_column(leaf, "url_key")
        assert ours == list(leaf.column_reader("url_key")) and len(ours) == leaf.doc_count_all()
        assert all(isinstance(key, str) for key in ours) and any(ours)


def _finished_by_worker(ix, limitmb: int, posts) -> str:
    writer = engine.segment_writer(ix, limitmb, ARRAY_POSTINGS_FIELDS)
    for post in posts:
        writer.add_document(**to_document(post))
    return engine.finish_segment(writer).segment_id()


def _committed(ix, limitmb: int, posts) -> str:
    writer = engine.pooled_writer(ix, limitmb, ARRAY_POSTINGS_FIELDS)
    for post in posts:
        writer.add_document(**to_document(post))
    writer.commit()
    with ix.reader() as reader:  # one segment: its own reader
        return reader.segment().segment_id()


@pytest.mark.parametrize("limitmb", [64, 1])  # 1 MB: the pool spills runs to disk
@pytest.mark.parametrize("finish", [_finished_by_worker, _committed])
def test_a_segment_written_a_block_at_a_time_equals_whooshs_posting_loop(
        tmp_path: Path, limitmb: int, finish, monkeypatch):
    """Every new segment's postings are written a block at a time, by a worker's
    `engine.finish_segment` or a commit in the indexing process: its postings and terms
    files must be those Whoosh's own `add_postings` loop writes."""
    generate(tmp_path / "archive", 300, seed=5)
    posts = [read_post(str(path), DEFAULT_ALIASES)
             for path in sorted((tmp_path / "archive").rglob("*.md"))]

    def segment_files(name: str) -> dict[str, bytes]:
        ix = FileStorage(str(tmp_path)).create().create_index(PostSchema(), indexname=name)
        segment_id = finish(ix, limitmb, posts)
        parts = CompoundStorage(ix.storage.open_file(f"{segment_id}.seg"))
        files = {part.removeprefix(segment_id): parts.open_file(part).read()
                 for part in parts.list() if part.endswith((".pst", ".trm"))}
        files["arrays"] = engine.postings_path(tmp_path, segment_id).read_bytes()
        return files

    block_writer, written = engine.TermPool.write_postings, []
    monkeypatch.setattr(engine.TermPool, "write_postings",
                        lambda pool, *args: written.append(pool) or block_writer(pool, *args))
    blocks = segment_files("BLOCKS")
    assert written, "the segment was not written by TermPool.write_postings"
    monkeypatch.setattr(engine.TermPool, "write_postings",
                        lambda pool, fieldwriter, schema, lengths:
                        fieldwriter.add_postings(schema, lengths, pool.items()))
    loop = segment_files("LOOP")
    assert sorted(blocks) == [".pst", ".trm", "arrays"]
    assert blocks == loop


@pytest.mark.parametrize("merged", [False, True])
def test_a_segment_equals_the_one_whoosh_writes_through_its_own_pool(tmp_path: Path,
                                                                     merged: bool,
                                                                     monkeypatch):
    """Our add_document (a field's postings at a time) and columnar pool against
    Whoosh's own add_document, PostingPool and flush, with the same codec: every file
    of the segment (postings, terms, lengths, stored fields, columns) byte for byte.
    Our pool spills runs (1 MB) and groups ~50 postings at a time, so terms meet run
    and group boundaries. `merged`: a second commit merges the first segment in (its
    postings come out of docnum order, one `add` at a time)."""
    monkeypatch.setattr(engine.TermPool, "_GROUP", 50)
    generate(tmp_path / "archive", 200, seed=7)
    posts = [read_post(str(path), DEFAULT_ALIASES)
             for path in sorted((tmp_path / "archive").rglob("*.md"))]
    batches = [posts[:120], posts[120:]] if merged else [posts]

    def segment_files(name: str, writer_for) -> dict[str, bytes]:
        ix = FileStorage(str(tmp_path)).create().create_index(PostSchema(), indexname=name)
        for batch in batches:
            writer = writer_for(ix)
            for post in batch:
                writer.add_document(**to_document(post))
            writer.commit(optimize=merged)
        with ix.reader() as reader:
            segment_id = reader.segment().segment_id()
        parts = CompoundStorage(ix.storage.open_file(f"{segment_id}.seg"))
        return {part.removeprefix(segment_id): parts.open_file(part).read()
                for part in parts.list()}

    ours = segment_files("OURS", lambda ix: engine.pooled_writer(ix, 1, ARRAY_POSTINGS_FIELDS))
    whooshs = segment_files("WHOOSH", lambda ix: SegmentWriter(ix, codec=engine.PackedCodec()))
    assert {".pst", ".trm", "._body_len.col", "._stored.col", ".date.col"} <= set(ours)
    assert len(ours[".pst"]) > 10_000
    assert ours == whooshs
