"""One index generation as numpy arrays: matching, ranking, facets and copy-collapsing.

Whoosh stores the index and parses queries; the per-post work of a search (which posts
match, their BM25F scores, facet counts, the fullest copy of each url, date order) runs
here over arrays indexed by Whoosh document number. Whoosh's own collectors do that work
one Python call per posting, which made a 50,000-post search take ~70 ms; numpy does it
in a few vectorised passes over posting lists decoded once and cached (per generation
and thread, within CACHE_BYTES).

A `Snapshot` belongs to one searcher and one thread (see `search.Index`).

Longer than most modules: it is the adapter from Whoosh to arrays for
matching, columns, postings and the written-word `Vocabulary` (patterns, fuzzy words,
did-you-mean); the arithmetic over those arrays is in scoring.py.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Set
from contextlib import suppress
from functools import cached_property
from pathlib import Path

import numpy as np
import rapidfuzz
from rapidfuzz.distance import OSA
from whoosh import query
from whoosh.util.numeric import byte_to_length

from searchidx import engine, scoring
from searchidx.cites import KINDS as CITATION_KINDS
from searchidx.query import (
    EXPANSION_POSTINGS,
    MAX_EXPANSIONS,
    Phrase,
    UnscoredTerm,
    searched_leaves,
)
from searchidx.ranking import DEFAULT_RANKING, Ranking
from searchidx.schema import (
    ACCENT_FOLDING,
    COMPOUND_SEPARATORS,
    COPY_KEY_SEPARATOR,
    DATED,
    NO_YEAR,
    SPELLING_FIELD,
    TEXT_FIELDS,
    WORD_PATTERN,
    cited_in,
)

# Posting lists and filters kept per generation and thread, as common words recur. A word
# in most of 50,000 posts takes ~0.4 MB; web threads each hold a cache of their own.
CACHE_BYTES = 64 * 2**20
# Fields of names (a post's source, tags, authors): a term of one matches by its words,
# `Snapshot.matching_names`, in filters and in the query text alike.
NAME_FIELDS = ("source_name", "tags", "authors")
_WORD = re.compile(WORD_PATTERN)

PAPERS_SHOWN = 10  # the "paper" facet: the most cited of a result set
# Copy groups are worked out over every post (~0.25 s at 200,000, most of a cold CLI
# search's own time), so the first search of a generation saves them beside the index.
COPY_GROUPS_FILE = "copy-groups-{}.npy"

# Whoosh records a field's length per post as one byte on a log scale.
_BYTE_LENGTHS = np.array([byte_to_length(b) for b in range(256)], dtype=np.float32)


class Snapshot:
    """What one searcher (one index generation) knows, as arrays over document numbers."""

    def __init__(self, searcher, ranking: Ranking = DEFAULT_RANKING,
                 index_folder: Path | None = None) -> None:
        """`index_folder`: where the segments' postings files are (`engine.ArrayPostings`);
        None reads every posting through Whoosh (the same results, slower)."""
        self.searcher = searcher
        self.ranking = ranking
        self.index_folder = index_folder
        self.reader = searcher.reader()
        self.size = self.reader.doc_count_all()
        self.live = np.ones(self.size, dtype=bool)  # not deleted
        for leaf, offset in self.reader.leaf_readers():
            if leaf.has_deletions():  # the deleted ones, not each post (~2 µs a post)
                deleted = np.fromiter(leaf.deleted_docs_set, dtype=np.int64)
                self.live[offset + deleted] = False
        self._cache: dict[tuple, object] = {}
        self._cache_bytes = 0
        self._name_words: dict[str, list[tuple[str, str]]] = {}
        self._written: dict[str, str] = {}  # `cites` terms as written (`_as_written`)

    @cached_property
    def vocabulary(self) -> Vocabulary:
        return Vocabulary(self)

    # --- columns, each read on first use: a one-off CLI search needs few of them ---
    @cached_property
    def url_key(self) -> list[str]:
        return self._texts("url_key")

    @cached_property
    def length(self) -> np.ndarray:
        return self._numbers("length")

    @cached_property
    def id_number(self) -> np.ndarray:
        return self._numbers("id_number")

    def _numbers(self, name: str) -> np.ndarray:
        parts = [engine.numeric_column(leaf, name) for leaf, _ in self.reader.leaf_readers()]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def _texts(self, name: str) -> list[str | None]:
        return [text for leaf, _ in self.reader.leaf_readers()
                for text in engine.text_column(leaf, name)]

    @cached_property
    def dated(self) -> np.ndarray:
        return np.array([v == DATED for v in self._texts("undated")], dtype=bool)

    @cached_property
    def date(self) -> np.ndarray:
        """Each date as Whoosh's column holds it (microseconds since year 1), 0 where not
        `dated`. Read in one call a segment: a value at a time (this and `dated`) took
        0.6 s at 200,000 posts, paid by the first search of each index generation."""
        return np.where(self.dated, self._numbers("date"), 0).astype(np.uint64)

    @cached_property
    def month_numbers(self) -> tuple[list[str], np.ndarray]:
        """The months from the first dated post's to the last's, named (2023-11), and
        each post's month as a number in that list (an undated post's: the list's
        length): small numbers, so a timeline is a bincount rather than a sort (np.unique
        took 2.4 ms of a 13 ms search at 200,000 posts), and names made once (naming
        them took 0.8 ms)."""
        since_year_one = self.date.astype(np.int64).astype("timedelta64[us]")
        months = (np.datetime64("0001-01-01", "us") + since_year_one).astype("datetime64[M]")
        if not self.dated.any():
            return [], np.zeros(self.size, dtype=np.int64)
        first, last = months[self.dated].min(), months[self.dated].max()
        labels = [str(month) for month in np.arange(first, last + 1)]
        return labels, np.where(self.dated, months - first, len(labels)).astype(np.int64)

    def months(self, docs: np.ndarray) -> dict[str, int]:
        """How many of the posts `docs` (document numbers) are from each month, oldest
        first: a timeline."""
        labels, numbers = self.month_numbers
        return scoring.month_counts(labels, numbers, docs)

    def oldest(self, docs: np.ndarray) -> int | None:
        """The earliest dated post of the posts `docs` (document numbers), or None: a
        gather over those posts, not a top-N over all (half the time at 200,000 posts).
        Undated posts rank last, so the first is undated only if all are."""
        if not len(docs):
            return None
        first = int(docs[np.argmin(self.oldest_rank[docs])])
        return first if self.dated[first] else None

    @cached_property
    def newest_rank(self) -> np.ndarray:
        """Each post's place in newest-first order; undated posts come last."""
        return self._rank(self.date.max(initial=0) - self.date)

    @cached_property
    def oldest_rank(self) -> np.ndarray:
        return self._rank(self.date)

    def _rank(self, key: np.ndarray) -> np.ndarray:
        """Each post's place when sorted by key, undated posts last, equal keys by id."""
        rank = np.empty(self.size, dtype=np.int64)
        rank[np.lexsort((self.id_number, key, ~self.dated))] = np.arange(self.size)
        return rank

    @cached_property
    def live_count(self) -> int:
        return int(self.live.sum())

    @cached_property
    def source(self) -> _Values:
        return _Values(self, "source_name")

    @cached_property
    def year(self) -> _Values:
        return _Values(self, "year")

    @cached_property
    def tags(self) -> _Values:
        return _Values(self, "tags")

    @cached_property
    def copy_group(self) -> np.ndarray:
        """For each post with copies, a number for its group of copies; else -1. Read
        from the file the first search of this generation saved, if there is one."""
        generation = self.reader.generation()
        if self.index_folder is None or generation is None:
            return self._copy_groups()
        try:
            saved = np.load(self.index_folder / COPY_GROUPS_FILE.format(generation),
                            allow_pickle=False)
            if saved.shape == (self.size,) and saved.dtype == np.int64:
                return saved
        except (OSError, ValueError):  # not saved yet, or not readable: work them out
            pass
        groups = self._copy_groups()
        _save_copy_groups(self.index_folder, generation, groups)
        return groups

    def _copy_groups(self) -> np.ndarray:
        """For each post with copies, a number for its group of copies; else -1.

        Posts with the same identity (`schema.copy_key`: the url that names them, or
        their text) are copies. A post with no identity (a stub: a title and no body)
        is a copy of the fullest post with an identity, the same title key and the same
        source (an unknown source, on either side, is no objection); with no such post,
        of the stubs with the same title key and source. Done here, over every live post,
        because a stub's own fields cannot say which post it copies."""
        # Every key holds one separator: its halves in one split, and then whole-list
        # steps in C, as a loop over the posts took ~0.5 s of a cold search at 200,000.
        keys = self.url_key
        halves = COPY_KEY_SEPARATOR.join(keys).split(COPY_KEY_SEPARATOR) if keys else []
        identities, titles = halves[0::2], halves[1::2]
        for docnum in np.flatnonzero(~self.live).tolist():
            identities[docnum] = titles[docnum] = None  # deleted: in no group
        stubs = [docnum for docnum, identity in enumerate(identities)
                 if identity == "" and titles[docnum]]
        stub_groups: dict[str, list[int]] = {}
        if stubs:
            sources = [(s or "").casefold() for s in self._texts("source_name")]
            stub_titles = {titles[docnum] for docnum in stubs}
            by_title: dict[str, list[tuple[int, str, int]]] = {}  # -length, identity, docnum
            for docnum, title in enumerate(titles):
                if title in stub_titles and identities[docnum]:
                    by_title.setdefault(title, []).append(
                        (-int(self.length[docnum]), identities[docnum], docnum))
            for docnum in stubs:
                title, source = titles[docnum], sources[docnum]
                fullest = min(
                    ((length, identity) for length, identity, other in by_title.get(title, ())
                     if not source or not sources[other] or sources[other] == source),
                    default=None,
                )
                # No identity starts with the separator: stub-only groups stay apart.
                key = fullest[1] if fullest else COPY_KEY_SEPARATOR.join(("", title, source))
                stub_groups.setdefault(key, []).append(docnum)
        counts = Counter(identities)
        grouped = {identity for identity, count in counts.items()
                   if identity and (count > 1 or identity in stub_groups)}
        groups: dict[str, list[int]] = {}
        for docnum, identity in enumerate(identities):
            if identity in grouped:
                groups.setdefault(identity, []).append(docnum)
        for key, docs in stub_groups.items():
            groups.setdefault(key, []).extend(docs)
        group = np.full(self.size, -1, dtype=np.int64)
        for number, docs in enumerate(d for d in groups.values() if len(d) > 1):
            group[docs] = number
        return group

    def field_lengths(self, fieldname: str) -> np.ndarray:
        """Each post's length of a text field, in terms (Whoosh's one-byte estimate)."""

        def read() -> np.ndarray:
            parts = []
            for leaf, _ in self.reader.leaf_readers():
                codes = np.zeros(leaf.doc_count_all(), dtype=np.uint8)
                raw = engine.length_codes(leaf, fieldname)
                codes[: len(raw)] = np.frombuffer(raw, dtype=np.uint8)
                parts.append(_BYTE_LENGTHS[codes])
            return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

        return self._cached(("lengths", fieldname), read)

    # --- posting lists ---
    def postings(self, fieldname: str, text) -> tuple[np.ndarray, np.ndarray]:
        """(document numbers, term frequencies) of a term, live posts only. The numbers
        are numpy's index type: indexing with int32 converts them on every use, which
        made each gather and scatter of a search 2-5 times slower."""

        def read() -> tuple[np.ndarray, np.ndarray]:
            ids, weights = [], []
            btext = self.reader.schema[fieldname].to_bytes(text)
            for (leaf, offset), arrays in zip(self.reader.leaf_readers(), self._array_postings,
                                              strict=True):
                if arrays is not None and fieldname in arrays.fields:
                    found = arrays.get(fieldname, btext)
                    if found is not None:
                        ids.append(found[0].astype(np.intp) + offset)
                        weights.append(found[1])
                    continue
                if (fieldname, text) not in leaf:
                    continue
                for block_ids, block_weights in engine.posting_blocks(leaf, fieldname, text):
                    ids.append(np.asarray(block_ids, dtype=np.intp) + offset)
                    weights.append(np.asarray(block_weights, dtype=np.float32))
            if not ids:
                return np.zeros(0, dtype=np.intp), np.zeros(0, dtype=np.float32)
            docs, freqs = np.concatenate(ids), np.concatenate(weights)
            keep = self.live[docs]
            return docs[keep], freqs[keep]

        return self._cached(("postings", fieldname, text), read)

    @cached_property
    def _array_postings(self) -> list[engine.ArrayPostings | None]:
        """Each segment's postings file, in the order of `leaf_readers` (None: read that
        segment through Whoosh)."""
        return [None if self.index_folder is None else
                engine.array_postings(self.index_folder, leaf)
                for leaf, _ in self.reader.leaf_readers()]

    def _cached(self, key: tuple, compute):
        value = self._cache.get(key)
        if value is None:
            value = compute()
            size = sum(a.nbytes for a in (value if isinstance(value, tuple) else (value,)))
            if self._cache_bytes + size > CACHE_BYTES:
                self._cache.clear()
                self._cache_bytes = 0
            self._cache[key] = value
            self._cache_bytes += size
        return value

    # --- matching ---
    def matching(self, q: query.Query) -> np.ndarray:
        """A boolean mask of the posts matching a query, by set algebra over postings."""
        if isinstance(q, query.Term) and q.fieldname in NAME_FIELDS:
            return self.matching_names(q.fieldname, q.text)
        if isinstance(q, query.Term):
            return self._mask(self.postings(q.fieldname, q.text)[0])
        if isinstance(q, query.Not):
            return self.live & ~self.matching(q.query)
        if isinstance(q, query.Every):
            return self.live.copy()
        if type(q) in (query.Or, query.And) and q.subqueries:
            masks = [self.matching(sub) for sub in q.subqueries]
            combine = np.logical_or if isinstance(q, query.Or) else np.logical_and
            return combine.reduce(masks)
        if isinstance(q, query.AndNot):
            return self.matching(q.a) & ~self.matching(q.b)
        if isinstance(q, query.Require):
            return self.matching(q.a) & self.matching(q.b)
        if isinstance(q, query.NumericRange) and q.fieldname == "date":
            return self._dated(q).copy()
        if isinstance(q, query.AndMaybe):
            return self.matching(q.a)
        if q is query.NullQuery:  # e.g. a pattern that matched no word
            return np.zeros(self.size, dtype=bool)
        if isinstance(q, Phrase):
            return self._mask(self._cached(("phrase", repr(q)), lambda: self._phrase(q)))
        # Ranges (year:, date: in the query): Whoosh finds them; cached like a term.
        docs = self._cached(
            ("query", repr(q)),
            lambda: np.fromiter(self.searcher.docs_for_query(q), dtype=np.int64),
        )
        return self._mask(docs)

    def _phrase(self, q: Phrase) -> np.ndarray:
        """The posts holding the phrase's terms at its offsets from one another (or
        further apart by `q.extra_words` in all): the posts with every term, then, for
        those only, the terms' positions."""
        words = list(dict.fromkeys(q.words))
        candidates = self._mask(self.postings(q.fieldname, words[0])[0])
        for word in words[1:]:
            candidates &= self._mask(self.postings(q.fieldname, word)[0])
        found: list[int] = []
        docs = np.flatnonzero(candidates)
        for leaf, offset in self.reader.leaf_readers():
            local = docs[(docs >= offset) & (docs < offset + leaf.doc_count_all())] - offset
            if not len(local):
                continue
            matchers = {word: leaf.postings(q.fieldname, word) for word in words}
            for docnum in local.tolist():
                positions = {}
                for word, matcher in matchers.items():
                    matcher.skip_to(docnum)
                    positions[word] = matcher.value_as("positions")
                if scoring.holds_phrase(positions, q.words, q.offsets, q.extra_words):
                    found.append(docnum + offset)
        return np.array(found, dtype=np.int64)

    def matching_names(self, fieldname: str, value: str) -> np.ndarray:
        """A mask of the posts whose source, tag or author (`fieldname`, one of NAME_FIELDS)
        `value` names: the stored value itself, or a name of which the value's words,
        case- and accent-folded, are a run of whole words. So "deepmind", "deepmind blog"
        and "DeepMind Blog" all match "DeepMind Blog", "levine" matches "Sergey Levine",
        but "mind" and "blog deepmind" do not. People filter by a name as they remember
        it, not as the archive spells it. Words are the analyzer's (WORD_PATTERN), so a
        tag such as offline-rl is one word, as GPT-4 is."""

        def compute() -> np.ndarray:
            wanted = f" {_folded_words(value)} "
            docs = [self.postings(fieldname, name)[0]
                    for name, words in self._names(fieldname)
                    if name == value or (wanted.strip() and wanted in words)]
            return self._mask(np.concatenate(docs)) if docs else np.zeros(self.size, bool)

        return self._cached(("names", fieldname, value), compute).copy()

    def _names(self, fieldname: str) -> list[tuple[str, str]]:
        """Each distinct value of a name field, with its words space-padded for `in`."""
        names = self._name_words.get(fieldname)
        if names is None:
            names = self._name_words[fieldname] = [
                (name, f" {_folded_words(name)} ") for name in self.reader.field_terms(fieldname)
            ]
        return names

    def _mask(self, docs: np.ndarray) -> np.ndarray:
        mask = np.zeros(self.size, dtype=bool)
        mask[docs] = True
        return mask

    def _dated(self, q: query.NumericRange) -> np.ndarray:
        """Posts in a date range, from the date column: Whoosh expands a range into one
        term per distinct date, which took ~0.8 s at 50,000 posts."""

        def inside() -> np.ndarray:
            mask = self.dated & self.live
            if q.start is not None:
                mask &= self.date > q.start if q.startexcl else self.date >= q.start
            if q.end is not None:
                mask &= self.date < q.end if q.endexcl else self.date <= q.end
            return mask

        return self._cached(("date", q.start, q.end, q.startexcl, q.endexcl), inside)

    # --- ranking ---
    def scores(self, terms: dict[str, dict[str, float]]) -> np.ndarray:
        """BM25F score of every post for a query's terms (`query_terms`; 0 where none
        occurs)."""
        postings = [
            [(*self.postings(fieldname, text), weight, self._length_norm(fieldname))
             for fieldname, weight in fields.items()]
            for text, fields in terms.items()
        ]
        return scoring.bm25f(self.size, self.live_count, postings, self.ranking.k1)

    def _length_norm(self, fieldname: str) -> np.ndarray:
        return self._cached(("norm", fieldname), lambda: scoring.length_norm(
            self.field_lengths(fieldname), self.live, self.ranking.b))

    def query_terms(self, q: query.Query) -> dict[str, dict[str, float]]:
        """term -> {text field: weight} for the words a query searches for (wildcards
        expanded): what is scored and highlighted. Words under NOT only exclude; other
        fields (source:, tag:) only filter."""
        terms: dict[str, dict[str, float]] = {}

        def add(fieldname: str, texts: Iterable, boost: float) -> None:
            for text in texts:
                text = text.decode("utf-8") if isinstance(text, bytes) else str(text)
                fields = terms.setdefault(text, {})
                fields[fieldname] = max(fields.get(fieldname, 0.0),
                                        boost * self.ranking.field_weights[fieldname])

        for node in searched_leaves(q):
            fieldname = node.fieldname
            if fieldname not in self.ranking.field_weights:
                continue
            if isinstance(node, UnscoredTerm):
                continue
            if isinstance(node, query.Term):
                add(fieldname, [node.text], node.boost)
            elif isinstance(node, query.Phrase) and getattr(node, "scored", True):
                add(fieldname, node.words, node.boost)
        return terms

    def best(self, tiers: list[np.ndarray], keys: np.ndarray, wanted: int) -> list[int]:
        return scoring.top(tiers, keys, self.id_number, wanted)

    def best_of_copies(self, matched: np.ndarray, values: np.ndarray) -> np.ndarray:
        return scoring.best_of_copies(matched, self.copy_group, values)

    # --- results ---
    def collapse(self, matched: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
        return scoring.collapse(matched, self.copy_group, self.length, self.id_number)

    @cached_property
    def papers(self) -> _Values:
        return _Values(self, "cites")

    def facets(self, docs: np.ndarray) -> dict[str, dict[str, int]]:
        """The facets of the posts `docs` (document numbers)."""
        return {
            "source": self.source.counts(docs),
            "year": self.year.counts(docs, left_out={NO_YEAR}),
            "tag": self.tags.counts(docs),
            "paper": self._most_cited(docs),
            "month": self.months(docs),
        }

    def _most_cited(self, docs: np.ndarray) -> dict[str, int]:
        """The papers and repositories most cited by the posts `docs`, not the kinds,
        each as a post writes it: the field holds ids lower-cased, and an OpenReview id
        (`_VjQlMeSB_J`) is not the same id in lower case."""
        most = self.papers.counts(docs, left_out=set(CITATION_KINDS), limit=PAPERS_SHOWN)
        return {self._as_written(term): count for term, count in most.items()}

    def _as_written(self, term: str) -> str:
        """A `cites` term as the first post citing it writes it."""
        if term not in self._written:
            citing = self.postings("cites", term)[0]
            cited = cited_in(self.reader.stored_fields(int(citing[0]))) if len(citing) else ()
            self._written[term] = next((c.id for c in cited if c.id.lower() == term), term)
        return self._written[term]

    def copies_count(self) -> int:
        """Posts that have a copy (see `copy_group`)."""
        return int((self.copy_group[self.live] >= 0).sum())


class Vocabulary:
    """The archive's words as written, each with the number of posts it is in: the
    lexicon of the unstemmed `spell` field (title, summary and body). Patterns, fuzzy
    words and "did you mean" are matched against it, so `learning*` means the words
    that start with "learning", not the stems. Read once per index generation."""

    def __init__(self, snapshot: Snapshot) -> None:
        self._snapshot = snapshot
        self.posts = snapshot.live_count
        self._expansions: dict[tuple, tuple[list[str], bool]] = {}
        self._spelled: dict[str, list[str]] = {}

    @cached_property
    def _lexicon(self) -> tuple[list[str], np.ndarray]:
        """The words, sorted, and the number of posts with each (deleted posts count
        until their segment is merged). ~0.2 s for 160,000 words: read on first use."""
        counts: dict[bytes, int] = {}
        for leaf, _ in self._snapshot.reader.leaf_readers():
            for text, count in engine.field_lexicon(leaf, SPELLING_FIELD):
                counts[text] = counts.get(text, 0) + count
        ordered = sorted(counts)  # UTF-8 byte order is code point order: bisect works
        return ([text.decode("utf-8") for text in ordered],
                np.array([counts[text] for text in ordered], dtype=np.int64))

    @property
    def words(self) -> list[str]:
        return self._lexicon[0]

    @property
    def counts(self) -> np.ndarray:
        return self._lexicon[1]

    @cached_property
    def _text(self) -> tuple[str, np.ndarray]:
        """The words one a line, and where each line starts: a pattern is one regex scan."""
        starts = np.zeros(len(self.words), dtype=np.int64)
        if self.words:
            np.cumsum([len(w) + 1 for w in self.words[:-1]], out=starts[1:])
        return "\n".join(self.words), starts

    @cached_property
    def _by_length(self) -> dict[int, tuple[list[str], np.ndarray]]:
        """Word numbers by word length: an edit distance ≤ d only compares lengths ± d."""
        groups: dict[int, list[int]] = {}
        for number, word in enumerate(self.words):
            groups.setdefault(len(word), []).append(number)
        return {length: ([self.words[n] for n in numbers], np.array(numbers, dtype=np.int64))
                for length, numbers in groups.items()}

    def frequency(self, word: str) -> int:
        """The number of posts with the word (as written); one lookup, no lexicon read."""
        return self._snapshot.reader.doc_frequency(SPELLING_FIELD, word)

    def term_frequency(self, term: str) -> int:
        """The number of posts with an analysed term in their title, summary or body (at
        least: the largest of the three fields' counts)."""
        reader = self._snapshot.reader
        return max(reader.doc_frequency(name, term) for name in TEXT_FIELDS)

    def expand(self, pattern: str, kind: str, maxdist: int = 0,
               prefix: int = 0) -> tuple[list[str], bool]:
        """The words a wildcard pattern (`kind` "wildcard") or a fuzzy word ("fuzzy",
        within `maxdist` edits, the first `prefix` letters fixed) matches, most frequent
        first, at most MAX_EXPANSIONS of them; and whether there were more. Remembered:
        a query expands each pattern once per field and per tier."""
        key = (pattern, kind, maxdist, prefix)
        if key not in self._expansions:
            if len(self._expansions) >= 1_000:  # bounded, like the posting cache
                self._expansions.clear()
            self._expansions[key] = self._expand(pattern, kind, maxdist, prefix)
        return self._expansions[key]

    def _expand(self, pattern: str, kind: str, maxdist: int,
                prefix: int) -> tuple[list[str], bool]:
        if kind == "fuzzy":
            numbers = np.array([n for n, _ in self._within(pattern, maxdist, prefix)],
                               dtype=np.int64)
        else:
            numbers = self._matching(pattern)
        numbers = numbers[np.lexsort((numbers, -self.counts[numbers]))]
        live = [n for n in numbers[: MAX_EXPANSIONS * 2].tolist() if self._live(self.words[n])]
        kept = live[:_within_budget(self.counts[live].tolist())]
        return [self.words[n] for n in kept], (
            len(kept) < len(live) or len(numbers) > MAX_EXPANSIONS * 2)

    def spellings(self, letters: str) -> list[str]:
        """The compounds the archive writes with these letters and digits between its
        separators (`deepseekr1`: deepseek-r1; `llama31`: llama-3.1, llama3.1), in most
        posts first, at most MAX_EXPANSIONS. Each starts with some of the letters and a
        separator, so a few reads of the term index find them (a few ms for a word, on
        the real archives) without reading the lexicon."""
        if letters not in self._spelled:
            if len(self._spelled) >= 1_000:  # bounded, like the posting cache
                self._spelled.clear()
            self._spelled[letters] = self._spellings(letters)
        return self._spelled[letters]

    def _spellings(self, letters: str) -> list[str]:
        separators = f"[{re.escape(COMPOUND_SEPARATORS)}]*"
        spelled = re.compile(separators.join(re.escape(c) for c in letters))
        # One read per place of the first separator: the separators are neighbours in
        # byte order ("#" to "/"), so the words there are one run of the term index.
        lowest, highest = min(COMPOUND_SEPARATORS), max(COMPOUND_SEPARATORS)
        found = set()
        for k in range(1, len(letters)):
            start = (letters[:k] + lowest).encode("utf-8")
            end = (letters[:k] + highest).encode("utf-8") + b"\xff"
            for fieldname, text in self._snapshot.reader.terms_from(SPELLING_FIELD, start):
                if fieldname != SPELLING_FIELD or text > end:
                    break
                found.add(text.decode("utf-8"))
        words = [word for word in found if spelled.fullmatch(word) and self._live(word)]
        words.sort(key=lambda word: (-self.frequency(word), word))
        return words[:MAX_EXPANSIONS]

    def near(self, word: str, maxdist: int) -> list[tuple[str, int, int]]:
        """(word, edit distance, posts) for the words within `maxdist` edits of `word`,
        a transposition counting as one edit."""
        return [(self.words[n], distance, int(self.counts[n]))
                for n, distance in self._within(word, maxdist, 0)
                if self._live(self.words[n])]

    def _within(self, word: str, maxdist: int, prefix: int) -> list[tuple[int, int]]:
        found = []
        for length in range(len(word) - maxdist, len(word) + maxdist + 1):
            words, numbers = self._by_length.get(length, ((), None))
            if not words:
                continue
            for _match, distance, at in rapidfuzz.process.extract(
                word, words, scorer=OSA.distance, score_cutoff=maxdist, limit=None
            ):
                if words[at][:prefix] == word[:prefix]:
                    found.append((int(numbers[at]), int(distance)))
        return found

    def _matching(self, pattern: str) -> np.ndarray:
        """The numbers of the words a pattern of `*` and `?` matches."""
        literal = re.match(r"[^*?]*", pattern).group()
        low = bisect_left(self.words, literal)
        high = bisect_left(self.words, literal + "\U0010ffff")
        if literal == pattern[:-1] and pattern.endswith("*"):  # a prefix: a range of words
            return np.arange(low, high, dtype=np.int64)
        regex = "".join(
            "[^\n]*" if c == "*" else "[^\n]" if c == "?" else re.escape(c) for c in pattern
        )
        text, starts = self._text
        begin = int(starts[low]) if low < len(starts) else len(text)
        end = int(starts[high]) if high < len(starts) else len(text)
        found = re.finditer(f"^{regex}$", text[begin:end], re.MULTILINE)
        return np.searchsorted(starts, [m.start() + begin for m in found]).astype(np.int64)

    def _live(self, word: str) -> bool:
        """Whether a post that is not deleted has the word (the lexicon keeps the words
        of deleted posts until their segment is merged). Whoosh's matcher skips deleted
        posts, so reading up to the first live one answers it."""
        for leaf, _ in self._snapshot.reader.leaf_readers():
            if (SPELLING_FIELD, word) in leaf and (
                not leaf.has_deletions() or leaf.postings(SPELLING_FIELD, word).is_active()
            ):
                return True
        return False


def _save_copy_groups(folder: Path, generation: int, groups: np.ndarray) -> None:
    """Write them whole or not at all (another process may be reading), and drop those
    of older generations. A folder that cannot be written only costs speed."""
    path = folder / COPY_GROUPS_FILE.format(generation)
    temporary = None
    try:  # a file of its own: the web server's threads may each be saving them
        handle, temporary = tempfile.mkstemp(dir=folder, prefix=path.name, suffix=".tmp")
        with os.fdopen(handle, "wb") as out:
            np.save(out, groups, allow_pickle=False)
        os.replace(temporary, path)
        prefix, suffix = COPY_GROUPS_FILE.split("{}")
        for old in folder.glob(COPY_GROUPS_FILE.format("*")):
            older = old.name.removeprefix(prefix).removesuffix(suffix)
            if older.isdigit() and int(older) < generation:
                old.unlink(missing_ok=True)
    except OSError:
        if temporary is not None:
            with suppress(OSError):
                os.unlink(temporary)


def _within_budget(counts: list[int]) -> int:
    """How many of the words (most frequent first, with these post counts) a pattern
    keeps: at most MAX_EXPANSIONS, and no more than EXPANSION_POSTINGS posts in all
    (but always the first): each word's posting lists are read, so `*tion` or `pro*`
    at 50,000 posts would read millions of postings."""
    total = 0
    for kept, count in enumerate(counts[:MAX_EXPANSIONS]):
        total += count
        if total > EXPANSION_POSTINGS and kept:
            return kept
    return min(len(counts), MAX_EXPANSIONS)


class _Values:
    """The values of a facet field (source, year, tags) of each post, from the posting
    list of each value: a few blocks per value, where the column would cost a read per
    post (~80 ms at 50,000 posts)."""

    def __init__(self, snapshot: Snapshot, fieldname: str) -> None:
        self.names = list(snapshot.reader.field_terms(fieldname))
        docs = [snapshot.postings(fieldname, name)[0] for name in self.names]
        numbers = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
        docs = np.concatenate(docs) if docs else np.zeros(0, dtype=np.int64)
        per_post = np.bincount(docs, minlength=snapshot.size)
        if per_post.max(initial=0) <= 1:  # one value a post at most (source, year)
            self.value_of = np.full(snapshot.size, len(self.names), dtype=np.int64)
            self.value_of[docs] = numbers  # len(names): none
        else:  # tags, papers: each post's values in `values`, from `offsets`
            self.value_of = None
            self.values = numbers[np.argsort(docs, kind="stable")]
            self.offsets = np.zeros(snapshot.size + 1, dtype=np.int64)
            np.cumsum(per_post, out=self.offsets[1:])

    def counts(self, docs: np.ndarray, left_out: Set[str] = frozenset(),
               limit: int | None = None) -> dict[str, int]:
        """How many of the posts `docs` (document numbers) have each value
        (`scoring.facet_counts`). In proportion to the posts, not the archive: a mask
        over every post's values took ~2 ms a facet at 200,000 posts."""
        if not self.names:  # no post has a value (an archive without tags)
            return {}
        if self.value_of is not None:
            found = self.value_of[docs]
        else:
            found = scoring.values_of_posts(self.offsets, self.values, docs)
        counts = np.bincount(found, minlength=len(self.names) + 1)[: len(self.names)]
        return scoring.facet_counts(self.names, counts, left_out, limit)


def _folded_words(text: str) -> str:
    """A name's words, case-, width- and accent-folded, one space between them."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(ACCENT_FOLDING)
    return " ".join(_WORD.findall(folded))

