"""The one module that reaches into Whoosh's private names.

searchidx is built on Whoosh-Reloaded 2.7.5 (pinned in pyproject.toml). Where its public
API is too slow or cannot do a thing, this module uses what is underneath, and only this
module: a test (tests/test_engine.py) fails if any other searchidx module touches a
private Whoosh name. Importing it checks the installed version, so an upgrade fails at
once with a clear message rather than somewhere in a search.

What it relies on, and where Whoosh has it:

- `SegmentWriter(ix, _lk=False)`: a writer that takes no lock, for worker processes that
  each write a segment under the lock of the indexing process (as `whoosh.multiproc`).
- `SegmentWriter._check_state`, `_close_segment`, `_commit_toc`, `_finish`: the steps of
  `SegmentWriter.commit`, run with the workers' segments in place of its own.
- `SegmentWriter._tempstorage`, `newsegment`, `_added`, `pool`, `perdocwriter`,
  `fieldwriter`, `per_document_reader`, `_assemble_segment`, `get_segment`: a worker's
  segment finished without a commit (`_finalize_segment`), and our own posting pool.
- `PostingPool` (`_new_run`, `_open_run`, `_remove_run`, `runs`, `fieldnames`,
  `currentsize`, `limit`): the pool `TermPool` replaces, same stream of postings.
- A block posting matcher's `_read_ids`, `_read_weights`, `_ids`, `_weights`,
  `_next_block`: postings a block at a time (`posting_blocks`).
- A segment reader's `_perdoc` and a column reader's `_dbfile`, `_basepos`, `_count`, and
  the `_{field}_len` column: field lengths in one read (`length_codes`).
- A segment reader's `_terms` (`_fieldmap`, `_keycoder`, `_tindex`) and the record layout
  of `OrderedHashReader` and `W3TermInfo`: a field's terms in one pass (`field_lexicon`).

Everything else searchidx does with Whoosh goes through its public API.
"""

from __future__ import annotations

import heapq
import pickle
import struct
from array import array
from collections.abc import Iterator
from operator import itemgetter

import whoosh
from whoosh.codec.whoosh3 import LENGTHS_COLUMN
from whoosh.matching import FilterMatcher
from whoosh.writing import PostingPool, SegmentWriter

from searchidx.errors import SearchIdxError

WHOOSH_VERSION = (2, 7, 5)

if tuple(whoosh.__version__[:3]) != WHOOSH_VERSION:
    raise SearchIdxError(
        f"searchidx needs Whoosh-Reloaded {'.'.join(map(str, WHOOSH_VERSION))}, but "
        f"{whoosh.versionstring()} is installed: `pip install Whoosh-Reloaded==2.7.5`")


# --- reading -------------------------------------------------------------------------

def posting_blocks(leaf, fieldname: str, text) -> Iterator[tuple]:
    """A term's postings in one segment, a block at a time: (document numbers, weights),
    deleted documents included. Whoosh's per-posting `id()`/`next()` cost ~1 µs each."""
    matcher = leaf.postings(fieldname, text)
    if isinstance(matcher, FilterMatcher):  # the deletions filter: callers drop them
        matcher = matcher.child
    while matcher.is_active():
        matcher._read_ids()
        matcher._read_weights()
        yield matcher._ids, matcher._weights
        matcher._next_block()


def length_codes(leaf, fieldname: str) -> bytes:
    """Each document's length of a field in one segment, as Whoosh's one-byte codes
    (`byte_to_length`); b"" when no document has the field. Whoosh 2.7.5 reads this
    column a document (a seek and a read) at a time; its bytes are the codes."""
    if leaf.doc_count_all() == 0:  # an index of no post is an EmptyReader, with no columns
        return b""
    name = f"_{fieldname}_len"
    perdoc = leaf._perdoc
    if not perdoc.has_column(name):
        return b""
    column = perdoc.column_reader(name, LENGTHS_COLUMN)
    return column._dbfile.get(column._basepos, column._count)


_RECORD_LENGTHS = struct.Struct("!II")  # key and value sizes of a term record
_DOC_FREQUENCY = struct.Struct("!I")  # at byte 5 of a term's W3TermInfo (flags, weight)


def field_lexicon(leaf, fieldname: str) -> Iterator[tuple[bytes, int]]:
    """(term bytes, posts with it) for every term of a field in one segment, read from
    the segment's terms file in one pass. Whoosh's `iter_field` decodes a TermInfo object
    per term through several reads (~5 µs a term: 1.3 s for the 160,000 written words of
    the three real archives); this parses the records of Whoosh-Reloaded 2.7.5's
    `OrderedHashReader` (key: field number as 2 bytes, then the term; value: a W3TermInfo
    whose document frequency is at byte 5) straight from the bytes."""
    if leaf.doc_count_all() == 0:  # an index of no post is an EmptyReader, with no terms
        return
    terms = leaf._terms
    if fieldname not in terms._fieldmap:
        return
    prefix = terms._keycoder(fieldname, b"")
    table = terms._tindex
    start = table.closest_key_pos(prefix)
    if start is None:
        return
    data = table.dbfile.get(start, table.endofdata - start)
    pos, end = 0, len(data)
    while pos < end:
        key_size, value_size = _RECORD_LENGTHS.unpack_from(data, pos)
        key = data[pos + 8 : pos + 8 + key_size]
        if not key.startswith(prefix):
            return
        yield key[2:], _DOC_FREQUENCY.unpack_from(data, pos + 8 + key_size + 5)[0]
        pos += 8 + key_size + value_size


# --- writing ---------------------------------------------------------------------------

def segment_writer(ix, limitmb: int) -> SegmentWriter:
    """A writer for one new segment that takes no lock (the caller holds the index's)."""
    writer = SegmentWriter(ix, _lk=False, limitmb=limitmb)
    writer.pool = TermPool(writer._tempstorage, writer.newsegment, limitmb)
    return writer


def has_documents(writer: SegmentWriter) -> bool:
    return bool(writer._added)


def commit_segments(writer: SegmentWriter, segments: list) -> None:
    """`writer.commit()` with these segments (from `finish_segment`) in place of its own."""
    writer._check_state()
    writer._close_segment()
    writer._commit_toc(segments)
    writer._finish()


class TermPool(PostingPool):
    """Whoosh's posting pool, grouped by term as the postings arrive.

    Whoosh's own pool keeps a (field, term, docnum, weight, value) tuple per posting
    (~230 bytes) and sorts them all at the end; past its memory limit it writes sorted
    runs to disk and merges them back one posting at a time, which made a 50k build
    slower per post than a 10k one. Here a posting is its docnum, weight and value
    bytes appended to its term's arrays (~60 bytes with the term's share), and only the
    distinct terms are sorted. Past the memory limit the terms go to disk as sorted
    runs of whole terms, merged back one term (not one posting) at a time.
    Documents arrive in docnum order, so each term's postings already are: the output
    is the same sorted stream as Whoosh's.
    """

    _POSTING_BYTES = 24  # docnum, weight and value size in arrays, with their slack
    _TERM_BYTES = 800  # the key, its term bytes and the four arrays

    def __init__(self, tempstore, segment, limitmb: int) -> None:
        super().__init__(tempstore, segment, limitmb=limitmb)
        # (field, term bytes) -> docnums, weights, value bytes run together, value sizes
        self._terms: dict[tuple[str, bytes], tuple[array, array, bytearray, array]] = {}
        self._last_docnum = -1
        self._in_order = True  # always, from add_document; else sort it all at the end

    def add(self, item) -> None:
        fieldname, btext, docnum, weight, value = item
        postings = self._terms.get((fieldname, btext))
        if postings is None:
            postings = self._terms[fieldname, btext] = (
                array("i"), array("d"), bytearray(), array("I"))
            self.fieldnames.add(fieldname)
            self.currentsize += self._TERM_BYTES
        elif docnum <= postings[0][-1]:  # a term twice in a document (never from add_document)
            self._in_order = False
        if docnum < self._last_docnum:  # documents out of order
            self._in_order = False
        self._last_docnum = docnum
        value = value or b""  # add_postings writes a missing value as empty bytes
        postings[0].append(docnum)
        postings[1].append(weight)
        postings[2].extend(value)
        postings[3].append(len(value))
        self.currentsize += self._POSTING_BYTES + len(value)
        if self.currentsize > self.limit:
            self.save()

    def _records(self):
        """The terms held in memory, in order, each with its postings."""
        terms = self._terms
        return ((key, *terms[key]) for key in sorted(terms))

    def save(self) -> None:
        """Over the memory limit: write the terms held to disk as one sorted run."""
        path, f = self._new_run()
        with f:
            for record in self._records():
                pickle.dump(record, f, pickle.HIGHEST_PROTOCOL)
        self.runs.append(path)
        self._terms = {}
        self.currentsize = 0

    def _read_run(self, path):
        with self._open_run(path) as f:
            while True:
                try:
                    yield pickle.load(f)
                except EOFError:
                    break
        self._remove_run(path)

    def items(self, maxfiles: int = 128):
        records = self._records()
        if self.runs:  # earlier runs hold earlier documents: merge by term, runs in order
            runs, self.runs = self.runs, []
            records = heapq.merge(*map(self._read_run, runs), records, key=itemgetter(0))
        postings = self._postings(records)
        return postings if self._in_order else iter(sorted(postings))

    @staticmethod
    def _postings(records):
        for (fieldname, btext), docnums, weights, values, sizes in records:
            values = bytes(values)
            end = 0
            for docnum, weight, size in zip(docnums, weights, sizes, strict=True):
                start, end = end, end + size
                yield fieldname, btext, docnum, weight, values[start:end]


class _PreloadedLengths:
    """The per-document field lengths that add_postings asks for once per posting.

    Whoosh reads each answer from the segment's length column file (a seek and a read,
    and a stat of the disk for every posting of a field without lengths). Read once
    here, through the same reader, so the values (byte-quantised) are identical."""

    def __init__(self, pdr, schema) -> None:
        count = pdr.doc_count_all()
        self._lengths = {
            name: [pdr.doc_field_length(docnum, name) for docnum in range(count)]
            for name, field_type in schema.items() if field_type.scorable
        }

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0):
        lengths = self._lengths.get(fieldname)
        return default if lengths is None else lengths[docnum]


def finish_segment(writer: SegmentWriter):
    """The writer's documents as a finished segment, not committed: Whoosh's
    `SegmentWriter._finalize_segment` with the field lengths read into memory first."""
    writer.perdocwriter.close()
    pdr = writer.per_document_reader()
    try:
        writer.fieldwriter.add_postings(writer.schema, _PreloadedLengths(pdr, writer.schema),
                                        writer.pool.iter_postings())
    finally:
        pdr.close()
    writer.fieldwriter.close()
    writer._close_segment()
    writer._assemble_segment()
    return writer.get_segment()
