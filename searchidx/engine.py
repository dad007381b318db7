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
  `fieldwriter`, `per_document_reader`: our own posting pool, and `_flush_segment`
  overridden to write it (`_BlockSegmentWriter`); `_finalize_segment`: a worker's
  segment finished without a commit. `add_document` is overridden too, with the steps
  of Whoosh's (`_check_state`, `_check_fields`, `_doc_boost`, `_field_boost`, `docnum`,
  the per-document writer's `start_doc`, `add_field`, `add_column_value`, `finish_doc`
  and `cancel_doc`), to hand the pool a field's postings at once.
- `W3FieldWriter._codec` and `_postwriter`; `W3PostingsWriter`'s block buffers `_ids`,
  `_weights`, `_values`, `_maxweight`, `_minlength`, `_maxlength`, its `_blocklimit` and
  `_write_block`: every new segment's postings written a block at a time
  (`TermPool.write_postings`), the bytes of Whoosh's own posting-at-a-time loop.
- `PostingPool` (`_new_run`, `_open_run`, `_remove_run`, `runs`, `fieldnames`,
  `currentsize`, `limit`): the pool `TermPool` replaces, same stream of postings; a
  merge still adds its postings one `add` at a time.
- A block posting matcher's `_read_ids`, `_read_weights`, `_ids`, `_weights`,
  `_next_block`: postings a block at a time (`posting_blocks`).
- A segment reader's `_perdoc` and a column reader's `_dbfile`, `_basepos`, `_count`, and
  the `_{field}_len` column: field lengths in one read (`length_codes`); a numeric column
  reader's `_typecode`, `_fixedlen` and `_default` (big-endian fixed-width values, the
  default past `_count`): a NUMERIC column in one read (`numeric_column`); a VarBytes
  column reader's `_dbfile`, `_basepos`, `_length`, `_offsets` and `_lengths`: a text
  column in one read (`text_column`).
- A segment reader's `_terms` (`_fieldmap`, `_keycoder`, `_tindex`) and the record layout
  of `OrderedHashReader` and `W3TermInfo`: a field's terms in one pass (`field_lexicon`).
- `W3Codec`'s `_blocklimit`, `_compression`, `_inlinelimit`; `W3PostingsWriter`'s
  `_mini_ids`, `_mini_weights`, `_mini_values` (a block's parts before they are pickled)
  with `_ids`, `_weights`, `_values`, `_format`; `W3LeafMatcher`'s
  `_read_ids`, `_read_weights`, `_read_values` with `_data`, `_read_data`, `_fixedsize`,
  `_blocklength`: posting blocks of packed arrays (`PackedCodec`), written by every
  writer of `segment_writer` and `pooled_writer`.
- `SegmentWriter.pool` is swapped for `TermPool` (`segment_writer`, `pooled_writer`): every
  segment, merged ones too, is written from its postings stream, which `TermPool` also
  writes as arrays (`ArrayPostings`) under postings/ in the index folder.

Postings as arrays: Whoosh decodes a posting block in Python (ids, pickled weights,
zlib), which made a query's cost grow with its words' postings: at 200,000 posts 85% of a
search. Each segment's postings (document numbers and weights, not positions) are also
kept as one flat file that numpy reads without decoding (`ArrayPostings`), named by the
segment and dropped with it (`drop_stale_postings`). A segment without one (an index of
an older searchidx) is read through Whoosh, with the same result.

Everything else searchidx does with Whoosh goes through its public API.

Longer than most modules because it is the fence around Whoosh's private names: the
segment writing, the packed codec and the postings as arrays all need them, and splitting
it would put private names in more than one file, which is what it exists to prevent.
"""

from __future__ import annotations

import heapq
import mmap
import os
import pickle
import shutil
import struct
import sys
from array import array
from collections.abc import Iterable, Iterator
from functools import cached_property
from itertools import accumulate, groupby, pairwise
from operator import itemgetter
from pathlib import Path

import numpy as np
import whoosh
from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3Codec, W3LeafMatcher, W3PostingsWriter
from whoosh.fields import DATETIME, FieldType
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


def numeric_column(leaf, fieldname: str) -> np.ndarray:
    """A NUMERIC field's column of one segment as int64, one value a document, in one
    read: Whoosh's reader unpacks a value a document (~2.5 µs; 0.5 s a column at 200,000
    posts, paid by every cold `searchidx search`). A DATETIME's values are microseconds
    since year 1, as `column_reader(translate=False)` gives them."""
    count = leaf.doc_count_all()
    if count == 0 or not leaf.has_column(fieldname):
        return np.zeros(count, dtype=np.int64)
    field = leaf.schema[fieldname]
    if field.numtype is not int:
        raise TypeError(f"{fieldname} is not an integer field")
    column = leaf.column_reader(fieldname, translate=False)
    raw = np.full(count, column._default, dtype=np.uint64)
    data = column._dbfile.get(column._basepos, column._count * column._fixedlen)
    raw[: column._count] = np.frombuffer(data, np.dtype(">" + column._typecode))
    # A NUMERIC column holds Whoosh's sortable form: a signed number shifted by
    # 2 ** (bits - 1). DATETIME's `to_column_value` stores its microseconds unshifted.
    unshifted = isinstance(field, DATETIME) or not field.signed
    shift = np.uint64(0 if unshifted else 1 << (field.bits - 1))
    return (raw - shift).view(np.int64)


def text_column(leaf, fieldname: str) -> list[str | None]:
    """A text field's column (an ID field's `sortable=True`) of one segment, one value a
    document, from one read of its bytes (Whoosh's reader: a read a document); None for
    every document when the segment has no such column."""
    if leaf.doc_count_all() == 0 or not leaf.has_column(fieldname):
        return [None] * leaf.doc_count_all()
    column = leaf.column_reader(fieldname, translate=False)
    data = column._dbfile.get(column._basepos, column._length)
    return [data[start : start + size].decode("utf-8")
            for start, size in zip(column._offsets, column._lengths, strict=True)]


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

def segment_writer(ix, limitmb: int, array_fields: frozenset[str]) -> SegmentWriter:
    """A writer for one new segment that takes no lock (the caller holds the index's);
    the postings of `array_fields` are also written as arrays (`ArrayPostings`)."""
    writer = _BlockSegmentWriter(ix, _lk=False, limitmb=limitmb, codec=PackedCodec())
    return _with_term_pool(writer, ix, limitmb, array_fields)


def pooled_writer(ix, limitmb: int, array_fields: frozenset[str]) -> SegmentWriter:
    """`ix.writer()` (it takes the lock, commits and merges as usual) with our pool."""
    writer = _BlockSegmentWriter(ix, limitmb=limitmb, codec=PackedCodec())
    return _with_term_pool(writer, ix, limitmb, array_fields)


class _BlockSegmentWriter(SegmentWriter):
    """Whoosh's segment writer, whose documents' postings reach the pool a field at a
    time (`add_document`), and whose new segment's postings are written a block at a
    time (`TermPool.write_postings`) with the field lengths read into memory first,
    whether a commit or `finish_segment` finishes it. Whoosh's own flush spent ~40% of
    a build in its posting-at-a-time loop."""

    def add_document(self, **fields) -> None:
        """Whoosh's `add_document`, but each field's terms go to the pool in one call
        (`TermPool.add_field`), a text field's as strings: Whoosh made a generator step,
        a UTF-8 encoding, a tuple and a pool call of each posting (a third of
        `add_document`). Fields with term vectors or a separate spelling field, which
        our schema has none of, take Whoosh's way."""
        self._check_state()
        schema = self.schema
        fieldnames = sorted(name for name in fields if not name.startswith("_"))
        self._check_fields(schema, fieldnames)
        if not self._whooshs_way.isdisjoint(fieldnames):
            super().add_document(**fields)
            return
        perdocwriter, docnum = self.perdocwriter, self.docnum
        docboost = self._doc_boost(fields)
        perdocwriter.start_doc(docnum)
        try:
            for fieldname in fieldnames:
                value = fields[fieldname]
                if value is None:
                    continue
                field = schema[fieldname]
                length = 0
                if field.indexed:
                    boost = self._field_boost(fields, fieldname, docboost)
                    as_text = type(field).index is FieldType.index
                    if not as_text:  # e.g. NUMERIC: its own terms, as bytes
                        terms = field.index(value)
                    elif isinstance(value, str | list | tuple):  # words, as strings
                        terms = field.format.word_values(value, field.analyzer, mode="index")
                    else:
                        raise ValueError(f"{value!r} is not unicode or sequence")
                    length = self.pool.add_field(fieldname, docnum, terms, boost, as_text)
                    if not field.scorable:
                        length = 0
                stored = fields.get(f"_stored_{fieldname}", value)
                perdocwriter.add_field(fieldname, field, stored if field.stored else None,
                                       length)
                if field.column_type and stored is not None:
                    perdocwriter.add_column_value(fieldname, field.column_type,
                                                  field.to_column_value(stored))
        except Exception:
            perdocwriter.cancel_doc()
            raise
        perdocwriter.finish_doc()
        self._added = True
        self.docnum += 1

    @cached_property
    def _whooshs_way(self) -> frozenset[str]:
        """The fields `add_document` leaves to Whoosh's (none in our schema)."""
        return frozenset(name for name, field in self.schema.items()
                         if field.vector or field.separate_spelling())

    def _flush_segment(self) -> None:
        self.perdocwriter.close()
        pdr = self.per_document_reader()
        try:
            self.pool.write_postings(self.fieldwriter, self.schema,
                                     _PreloadedLengths(pdr, self.schema))
        finally:
            pdr.close()
        self.fieldwriter.close()


def _with_term_pool(writer: SegmentWriter, ix, limitmb: int,
                    array_fields: frozenset[str]) -> SegmentWriter:
    path = postings_path(ix.storage.folder, writer.newsegment.segment_id())
    writer.pool = TermPool(writer._tempstorage, writer.newsegment, limitmb, path, array_fields)
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
    """Whoosh's posting pool, as columns.

    Whoosh's own pool keeps a (field, term, docnum, weight, value) tuple per posting
    (~230 bytes) and sorts them all at the end; past its memory limit it writes sorted
    runs to disk and merges them back one posting at a time, which made a 50k build
    slower per post than a 10k one. Here a document's postings of a field are appended
    at once to flat arrays (term number, docnum, weight, value size; the value bytes
    run together): ~20 bytes a posting and no Python object. Only the distinct terms are
    sorted; numpy then groups the postings by term with a stable sort, and documents
    arrive in docnum order, so each term's postings stay in it: the output is the same
    sorted stream as Whoosh's. Past the memory limit the terms go to disk as sorted
    runs of whole terms, merged back a group of terms (not a posting) at a time.
    """

    _POSTING_BYTES = 40  # its 20 bytes in the columns, and 20 more while they are grouped
    _TERM_BYTES = 200  # its key, term bytes and number
    # Postings grouped by term at a time, and pickled together in a run: what a group
    # holds (~2 MB), and moving its value bytes, is all the memory grouping takes beyond
    # `_POSTING_BYTES`, and merging runs holds a group of each.
    _GROUP = 1 << 16

    def __init__(self, tempstore, segment, limitmb: int, arrays_path: Path,
                 array_fields: frozenset[str]) -> None:
        super().__init__(tempstore, segment, limitmb=limitmb)
        self.arrays_path = arrays_path  # where the segment's `ArrayPostings` go,
        self.array_fields = array_fields  # and of which fields
        self._last_docnum = -1
        self._in_order = True  # always, from add_document; else sort it all at the end
        self._empty()

    def _empty(self) -> None:
        self._numbers: dict[str, dict[bytes, int]] = {}  # field -> term -> term number
        self._keys: list[tuple[str, bytes]] = []  # term number -> (field, term)
        # A posting a place: its term number, docnum, weight and value size
        self._term_numbers, self._docnums = array("i"), array("i")
        self._weights, self._sizes = array("d"), array("I")
        self._values = bytearray()  # the postings' values, run together
        self.currentsize = 0

    def add(self, item) -> None:
        """One posting (Whoosh's calls: a merge adds the merged segments' this way)."""
        fieldname, btext, docnum, weight, value = item
        # add_postings writes a missing value as empty bytes
        self.add_field(fieldname, docnum, [(btext, 0, weight, value or b"")], 1.0, False)

    def add_field(self, fieldname: str, docnum: int, terms, boost: float,
                  as_text: bool) -> int:
        """A document's postings of one field: (term, frequency, weight, value bytes)
        each, as a field's format gives them, each term once; terms are strings if
        `as_text`, else bytes. Returns the frequencies' sum (the field's length in the
        document)."""
        terms = list(terms)
        if not terms:
            return 0
        words, frequencies, weights, values = zip(*terms, strict=True)
        if as_text:
            words = [word.encode("utf-8") for word in words]
        # Everything that can fail on a bad value first: the columns stay in step.
        weights = array("d", weights if boost == 1 else [w * boost for w in weights])
        joined, sizes = b"".join(values), array("I", map(len, values))
        length = sum(frequencies)
        if docnum < self._last_docnum:  # documents out of order
            self._in_order = False
        self._last_docnum = docnum
        numbers = self._numbers.get(fieldname)
        if numbers is None:
            numbers = self._numbers[fieldname] = {}
            self.fieldnames.add(fieldname)
        found = list(map(numbers.get, words))
        if None in found:  # terms new to the pool
            for i, number in enumerate(found):
                if number is None:
                    number = numbers.get(words[i])
                    if number is None:
                        number = numbers[words[i]] = len(self._keys)
                        self._keys.append((fieldname, words[i]))
                        self.currentsize += self._TERM_BYTES
                    found[i] = number
        self._term_numbers.extend(found)
        self._docnums.extend([docnum] * len(found))
        self._weights.extend(weights)
        self._values += joined
        self._sizes.extend(sizes)
        self.currentsize += len(found) * self._POSTING_BYTES + len(joined)
        if self.currentsize > self.limit:
            self.save()
        return length

    def _groups(self):
        """The postings held, grouped by term, terms in order, ~`_GROUP` postings a
        group (a term's postings all in one): (keys, where each term's postings start
        and the last ends, docnums, weights, value bytes, value sizes, where each term's
        value bytes start and the last ends)."""
        count = len(self._keys)
        if not count:
            return
        order = sorted(range(count), key=self._keys.__getitem__)
        rank = np.empty(count, dtype=np.int32)
        rank[order] = np.arange(count, dtype=np.int32)
        term_ranks = rank[np.frombuffer(self._term_numbers, dtype=np.int32)]
        by_term = np.argsort(term_ranks, kind="stable")  # each term's in arrival order
        ends = np.cumsum(np.bincount(term_ranks, minlength=count))
        del term_ranks
        docnums = np.frombuffer(self._docnums, dtype=np.int32)
        weights = np.frombuffer(self._weights, dtype=np.float64)
        sizes = np.frombuffer(self._sizes, dtype=np.uint32)
        starts = np.cumsum(sizes, dtype=np.int64) - sizes
        values = np.frombuffer(self._values, dtype=np.uint8)
        first = 0
        while first < count:
            begin = int(ends[first - 1]) if first else 0
            last = max(first + 1, int(np.searchsorted(ends, begin + self._GROUP, "right")))
            postings = by_term[begin : ends[last - 1]]
            group_sizes = sizes[postings]
            value_ends = np.cumsum(group_sizes, dtype=np.int64)
            # each posting's value bytes, from where they arrived to their place here
            moved = np.repeat(starts[postings] - (value_ends - group_sizes), group_sizes)
            bounds = np.concatenate(([0], ends[first:last] - begin))
            yield ([self._keys[number] for number in order[first:last]], bounds.tolist(),
                   docnums[postings], weights[postings],
                   values[moved + np.arange(len(moved))].tobytes(), group_sizes,
                   np.concatenate(([0], value_ends))[bounds].tolist())
            first = last

    def _records(self):
        """The terms held, in order: (key, docnums, weights, value bytes, value sizes)."""
        for group in self._groups():
            yield from _group_records(group)

    def save(self) -> None:
        """Over the memory limit: write the terms held to disk as one sorted run."""
        path, f = self._new_run()
        with f:
            for group in self._groups():
                pickle.dump(group, f, pickle.HIGHEST_PROTOCOL)
        self.runs.append(path)
        self._empty()

    def _read_run(self, path):
        with self._open_run(path) as f:
            while True:
                try:
                    group = pickle.load(f)
                except EOFError:
                    break
                yield from _group_records(group)
        self._remove_run(path)

    def _all_records(self):
        """The terms of the runs on disk and in memory, in order; a term spilled to
        several runs comes once from each, earlier documents first."""
        records = self._records()
        if self.runs:  # earlier runs hold earlier documents: merge by term, runs in order
            runs, self.runs = self.runs, []
            records = heapq.merge(*map(self._read_run, runs), records, key=itemgetter(0))
        return records

    def items(self, maxfiles: int = 128):
        records = self._all_records()
        arrays = _ArrayPostingsWriter(self.array_fields, self.arrays_path)
        if self._in_order:
            postings = self._postings(records, arrays)
        else:  # a merge, or postings added out of order: the sorted stream, term by term
            postings = arrays.collecting(sorted(self._postings(records, None)))
        yield from arrays.written_after(postings)

    def write_postings(self, fieldwriter, schema, lengths: _PreloadedLengths) -> None:
        """Write the postings to a segment's field writer: what Whoosh's
        `fieldwriter.add_postings(schema, lengths, self.items())` writes, byte for byte,
        but a block at a time. Its loop costs a few µs a posting (~40% of a worker's
        time); here each block's buffers are filled from the term's arrays as
        `W3PostingsWriter.add_posting` fills them, and written by Whoosh's own code."""
        if not self._in_order or not isinstance(fieldwriter._codec, PackedCodec):
            fieldwriter.add_postings(schema, lengths, self.items())
            return
        arrays = _ArrayPostingsWriter(self.array_fields, self.arrays_path)
        current_field = None
        for (fieldname, btext), docnums, weights, values, sizes in arrays.written_after(
                _whole_terms(self._all_records())):
            # As lists: most terms have a posting or two, too few for numpy to pay
            docnums, weights, sizes = docnums.tolist(), weights.tolist(), sizes.tolist()
            if fieldname != current_field:
                if current_field is not None:
                    fieldwriter.finish_field()
                fieldwriter.start_field(fieldname, schema[fieldname])
                current_field = fieldname
            if fieldname in arrays.fields:
                arrays.add_term(fieldname, btext, docnums, weights)
            field_lengths = lengths.field(fieldname)
            fieldwriter.start_term(btext)
            postings = fieldwriter._postwriter
            limit = postings._blocklimit
            ends = list(accumulate(sizes, initial=0))
            for first in range(0, len(docnums), limit):
                if first:  # add_posting writes a full block when the next posting comes
                    postings._write_block()
                last = min(first + limit, len(docnums))
                postings._ids = array("I", docnums[first:last])
                postings._weights = array("f", weights[first:last])
                postings._values = [values[ends[i] : ends[i + 1]]
                                    for i in range(first, last) if sizes[i]]
                postings._maxweight = max(0, *weights[first:last])
                block_lengths = [field_lengths[d] for d in postings._ids
                                 if field_lengths and field_lengths[d]]
                postings._minlength = min(block_lengths, default=None)
                postings._maxlength = max(block_lengths, default=0)
            fieldwriter.finish_term()
        if current_field is not None:
            fieldwriter.finish_field()

    @staticmethod
    def _postings(records, arrays: _ArrayPostingsWriter | None):
        for (fieldname, btext), docnums, weights, values, sizes in records:
            docnums, weights = docnums.tolist(), weights.tolist()
            if arrays is not None and fieldname in arrays.fields:
                arrays.add_term(fieldname, btext, docnums, weights)
            end = 0
            for docnum, weight, size in zip(docnums, weights, sizes.tolist(), strict=True):
                start, end = end, end + size
                yield fieldname, btext, docnum, weight, values[start:end]


def _group_records(group):
    """The records of a group of `TermPool._groups`, a term each."""
    keys, bounds, docnums, weights, values, sizes, value_bounds = group
    for i, key in enumerate(keys):
        begin, end = bounds[i], bounds[i + 1]
        yield (key, docnums[begin:end], weights[begin:end],
               values[value_bounds[i] : value_bounds[i + 1]], sizes[begin:end])


def _whole_terms(records):
    """Records of one term in a row (runs of a spilled pool) joined into one."""
    for key, group in groupby(records, key=itemgetter(0)):
        first, *rest = group
        if not rest:
            yield first
            continue
        parts = [first, *rest]
        yield (key, *(np.concatenate([part[i] for part in parts]) for i in (1, 2)),
               b"".join(part[3] for part in parts),
               np.concatenate([part[4] for part in parts]))


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

    def field(self, fieldname: str) -> list[int] | None:
        """Each document's length of a field; None for a field without lengths."""
        return self._lengths.get(fieldname)

    def doc_field_length(self, docnum: int, fieldname: str, default: int = 0):
        lengths = self._lengths.get(fieldname)
        return default if lengths is None else lengths[docnum]


def finish_segment(writer: SegmentWriter):
    """The writer's documents (from `segment_writer`) as a finished segment, not
    committed."""
    return writer._finalize_segment()


# --- postings as arrays --------------------------------------------------------------

POSTINGS_FOLDER = "postings"
_MAGIC = b"searchidx-postings-3\n"
# terms, postings, bytes of the keys, weight type, bytes of the field names
_HEADER = struct.Struct("<qqqqq")
# Weights are term frequencies: whole numbers, kept in two bytes when they fit (a third
# of the file's size), else as float32.
_WEIGHT_TYPES = (np.float32, np.uint16)


def postings_path(index_folder: str | Path, segment_id: str) -> Path:
    return Path(index_folder) / POSTINGS_FOLDER / f"{segment_id}.postings"


def _key(fieldname: str, btext: bytes) -> bytes:
    # Field names are ASCII and end at the NUL, so keys sort as (field, term) do.
    return fieldname.encode("ascii") + b"\0" + btext


class _ArrayPostingsWriter:
    """A segment's postings of `fields`, gathered as they stream to Whoosh, then written
    as one file: the magic line, the header, the field names (comma-separated), then key
    ends (int64, terms + 1), posting ends (int64, terms + 1), document numbers (int32),
    weights (`_WEIGHT_TYPES`) and the keys. Document numbers and weights go to temporary
    files as they come (a segment of 100,000 posts has ~40 million), so memory holds only
    the terms."""

    _BUFFERED = 1 << 20  # postings held before they are written out

    def __init__(self, fields: frozenset[str], path: Path) -> None:
        self.fields = fields
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._docnum_file = open(path.with_suffix(".docnums.tmp"), "w+b")  # noqa: SIM115
        self._weight_file = open(path.with_suffix(".weights.tmp"), "w+b")  # noqa: SIM115
        self.keys = bytearray()
        self.key_ends = array("q", [0])
        self.posting_ends = array("q", [0])
        self.docnums = array("i")
        self.weights = array("f")
        self.small_weights = True  # all whole numbers that fit in two bytes
        self._last: tuple[str, bytes] | None = None

    def add_term(self, fieldname: str, btext: bytes, docnums: list[int],
                 weights: list[float]) -> None:
        """A term's postings, in order; the same term again (from the next run of a
        spilled pool) continues it."""
        self._start(fieldname, btext)
        self.docnums.extend(docnums)
        self.weights.extend(array("f", weights))
        self.posting_ends[-1] += len(docnums)
        if len(self.docnums) >= self._BUFFERED:
            self._write_out()

    def collecting(self, postings: Iterable[tuple]) -> Iterator[tuple]:
        """The sorted stream passed on, its postings gathered term by term."""
        for posting in postings:
            fieldname, btext, docnum, weight, _ = posting
            if fieldname in self.fields:
                self._start(fieldname, btext)
                self.docnums.append(docnum)
                self.weights.append(weight)
                self.posting_ends[-1] += 1
                if len(self.docnums) >= self._BUFFERED:
                    self._write_out()
            yield posting

    def _start(self, fieldname: str, btext: bytes) -> None:
        if (fieldname, btext) != self._last:
            self._last = fieldname, btext
            self.keys += _key(fieldname, btext)
            self.key_ends.append(len(self.keys))
            self.posting_ends.append(self.posting_ends[-1])

    def _write_out(self) -> None:
        weights = np.frombuffer(self.weights, np.float32)
        self.small_weights = self.small_weights and bool(
            not len(weights) or (weights.min() >= 0 and weights.max() <= 65535
                                 and np.array_equal(weights, np.round(weights))))
        self.docnums.tofile(self._docnum_file)
        self.weights.tofile(self._weight_file)
        self.docnums, self.weights = array("i"), array("f")

    def written_after(self, postings: Iterator[tuple]) -> Iterator[tuple]:
        """The stream passed on; once it has all gone to Whoosh, the file is written
        (a temporary file renamed: a reader never sees half of one)."""
        try:
            yield from postings
            self._write_out()
            self._assemble()
        finally:
            for part in (self._docnum_file, self._weight_file):
                part.close()
                Path(part.name).unlink(missing_ok=True)

    def _assemble(self) -> None:
        temporary = self.path.with_suffix(".tmp")
        names = ",".join(sorted(self.fields)).encode("ascii")
        weight_type = _WEIGHT_TYPES[self.small_weights]
        with open(temporary, "wb") as f:
            f.write(_MAGIC)
            f.write(_HEADER.pack(len(self.key_ends) - 1, self.posting_ends[-1], len(self.keys),
                                 int(self.small_weights), len(names)))
            f.write(names)
            self.key_ends.tofile(f)
            self.posting_ends.tofile(f)
            self._docnum_file.seek(0)
            shutil.copyfileobj(self._docnum_file, f)
            self._weight_file.seek(0)
            while chunk := self._weight_file.read(self._BUFFERED * 4):
                f.write(np.frombuffer(chunk, np.float32).astype(weight_type).tobytes())
            f.write(self.keys)
            f.flush()
            os.fsync(f.fileno())  # whole on disk before its name says it is there
        os.replace(temporary, self.path)


class ArrayPostings:
    """One segment's postings file (`_ArrayPostingsWriter`), mapped into memory; `fields`
    are the fields it holds (the others: ask Whoosh)."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            self._map = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        at = len(_MAGIC) + _HEADER.size
        if len(self._map) < at or self._map[: len(_MAGIC)] != _MAGIC:
            raise SearchIdxError(f"{path}: not a searchidx postings file")
        terms, postings, keys, weight_type, names = _HEADER.unpack_from(self._map, len(_MAGIC))
        weight_type = _WEIGHT_TYPES[weight_type]
        size = at + names + 16 * (terms + 1) + (4 + np.dtype(weight_type).itemsize) * postings
        if len(self._map) != size + keys:
            raise SearchIdxError(f"{path}: a postings file cut short")
        self.fields = frozenset(self._map[at : at + names].decode("ascii").split(","))
        at += names
        self._key_ends = np.frombuffer(self._map, np.int64, terms + 1, at)
        at += 8 * (terms + 1)
        self._posting_ends = np.frombuffer(self._map, np.int64, terms + 1, at)
        at += 8 * (terms + 1)
        self._docnums = np.frombuffer(self._map, np.int32, postings, at)
        at += 4 * postings
        self._weights = np.frombuffer(self._map, weight_type, postings, at)
        self._keys_at = at + np.dtype(weight_type).itemsize * postings
        self._terms = terms

    def get(self, fieldname: str, btext: bytes) -> tuple[np.ndarray, np.ndarray] | None:
        """(document numbers, weights) of a term, as Whoosh's postings hold them (deleted
        documents included), or None when the segment does not have it."""
        wanted = _key(fieldname, btext)
        low, high = 0, self._terms
        while low < high:  # binary search over the sorted keys
            middle = (low + high) // 2
            start = self._keys_at + int(self._key_ends[middle])
            key = self._map[start : self._keys_at + int(self._key_ends[middle + 1])]
            if key < wanted:
                low = middle + 1
            elif key > wanted:
                high = middle
            else:
                first, end = int(self._posting_ends[middle]), int(self._posting_ends[middle + 1])
                return self._docnums[first:end], self._weights[first:end].astype(np.float32)
        return None


def array_postings(index_folder: str | Path, leaf) -> ArrayPostings | None:
    """The postings file of a segment reader's segment, or None if it has none."""
    if leaf.doc_count_all() == 0:
        return None
    path = postings_path(index_folder, leaf.segment().segment_id())
    try:
        return ArrayPostings(path)
    except (FileNotFoundError, ValueError, SearchIdxError):  # none, empty, or another format
        return None


def drop_stale_postings(ix) -> None:
    """Remove the postings files of segments the index no longer has (after a commit;
    a reader still using one keeps its mapping). The caller holds the indexing run's
    lock, so no other run has written a file for a segment not committed yet."""
    folder = Path(ix.storage.folder) / POSTINGS_FOLDER
    if not folder.is_dir():
        return
    with ix.reader() as reader:
        current = {f"{leaf.segment().segment_id()}.postings"
                   for leaf, _ in reader.leaf_readers() if leaf.doc_count_all()}
    for path in folder.iterdir():
        if path.name not in current:
            path.unlink(missing_ok=True)


# --- posting blocks of arrays --------------------------------------------------------

class PackedCodec(W3Codec):
    """Whoosh's codec, with posting blocks whose parts are packed arrays.

    Whoosh pickles a block's document numbers, weights and values as tuples of Python
    objects (a weight is 9 bytes before zlib); here each is an array of the narrowest
    type that holds it, and the values are run together after an array of their sizes.
    The block's framing, its info (count, last id, maximum weight) and the term infos
    are Whoosh's own, so skipping and merging work unchanged. Body postings shrank to
    ~35% (measured on a 10,000-post synthetic archive). Segments remember their codec
    (pickled into the TOC): this class must stay importable here."""

    def postings_writer(self, dbfile, byteids=False):
        if byteids:  # term vectors (searchidx keeps none): Whoosh reads them with its own
            return super().postings_writer(dbfile, byteids=True)
        return _PackedPostingsWriter(dbfile, blocklimit=self._blocklimit,
                                     compression=self._compression,
                                     inlinelimit=self._inlinelimit)

    def postings_reader(self, dbfile, terminfo, format_, term=None, scorer=None):
        if terminfo.is_inlined():  # a term in one document: Whoosh keeps it in the term info
            return super().postings_reader(dbfile, terminfo, format_, term, scorer)
        offset, length = terminfo.extent()
        return _PackedMatcher(dbfile, offset, length, format_, term=term, scorer=scorer)


def packed(numbers: list[int]) -> bytes:
    """Unsigned integers as an array of the narrowest type (`_typed`): posting blocks, and
    the positions of `schema.ResearchPositions`."""
    largest = max(numbers, default=0)
    if largest <= 0xFF:  # most often: bytes() makes these sooner than an array does
        return b"B" + bytes(numbers)
    typecode = "H" if largest <= 0xFFFF else "I"
    if len(numbers) == 1:  # most often, a word once in a text: `_typed`'s bytes, sooner
        return typecode.encode() + largest.to_bytes(_ITEM_SIZES[typecode], "little")
    return _typed(typecode, numbers)


_ITEM_SIZES = {typecode: array(typecode).itemsize for typecode in "BHI"}


def _typed(typecode: str, numbers) -> bytes:
    """Numbers as an array, after a byte naming its type: what `unpacked` reads."""
    values = array(typecode, numbers)
    if sys.byteorder == "big":  # the index is little-endian on every machine
        values.byteswap()
    return typecode.encode() + values.tobytes()


def unpacked(data: bytes) -> array:
    numbers = array(chr(data[0]), data[1:])
    if sys.byteorder == "big":
        numbers.byteswap()
    return numbers


class _PackedPostingsWriter(W3PostingsWriter):
    """Writes each block's parts packed (`PackedCodec`); the rest is Whoosh's."""

    def _mini_ids(self):
        return packed([b - a for a, b in pairwise([0, *self._ids])])

    def _mini_weights(self):
        weights = self._weights
        if weights.count(1.0) == len(weights):  # array methods and list compares run in C
            return None
        # frequencies, for most fields (a NaN or an infinity is left out, so not equal)
        integers = [int(w) for w in weights if 0 <= w <= 0xFFFFFFFF]
        if integers == weights.tolist():
            return packed(integers)
        return _typed("d", weights)

    def _mini_values(self):
        size = self._format.fixed_value_size()
        if size is not None and size >= 0:  # none, or all one size: Whoosh's own
            return super()._mini_values()
        return packed([len(v) for v in self._values]), b"".join(self._values)


class _PackedMatcher(W3LeafMatcher):
    """Reads the blocks `_PackedPostingsWriter` writes."""

    def _read_ids(self):
        if self._data is None:
            self._read_data()
        self._ids = array("I", accumulate(unpacked(self._data[0])))

    def _read_weights(self):
        if self._data is None:
            self._read_data()
        weights = self._data[1]
        if weights is None:  # all 1.0
            self._weights = array("d", [1.0]) * self._blocklength
        else:
            self._weights = array("d", unpacked(weights))

    def _read_values(self):
        if self._data is None:
            self._read_data()
        size = self._fixedsize
        if size is not None and size >= 0:
            return super()._read_values()
        sizes, joined = self._data[2]
        self._values = [joined[start:end]
                        for start, end in pairwise(accumulate(unpacked(sizes), initial=0))]
