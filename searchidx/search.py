"""Searching an index: the one API the CLI and the web page share.

`Index.open(path)` once, then `search`, `get`, `similar`, `stats` from any number of
threads. Each thread gets its own Whoosh searcher (the index is opened without mmap, so
searchers must not be shared) and a new one when a writer has committed. Whoosh parses
the query and finds phrases and wildcards; matching, BM25F scoring, facets and copy
collapsing run over that searcher's `snapshot.Snapshot`.
Everything returned is a plain record (records.py); nothing Whoosh escapes this module.
What `search` takes is checked in arguments.py, snippets are made in snippets.py.

A little longer than most modules: `Index` is the one public API, and its methods share
the per-thread views; each method's own work lives in the modules named above.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from whoosh import query
from whoosh.filedb.filestore import FileStorage

from searchidx.arguments import (
    Day,
    Names,
    check_paging,
    filter_query,
    first_words,
    query_text,
)
from searchidx.errors import IndexCorrupt, IndexNotFound, PostNotFound, SearchIdxError
from searchidx.query import ParsedQuery, parse, suggest
from searchidx.ranking import DEFAULT_RANKING, Ranking
from searchidx.records import Hit, IndexReport, PostRecord, Results, Stats
from searchidx.schema import SCHEMA_VERSION, TEXT_FIELDS, from_stored, has_index
from searchidx.snapshot import Snapshot
from searchidx.snippets import match_spans, snippet_query, snippet_spans
from searchidx.store import STORE_NAME, Store
from searchidx.synonyms import DEFAULT_SYNONYMS, Synonyms


@dataclass(frozen=True)
class _View:
    """What one call reads, taken together: a searcher (one index generation), its
    snapshot and the side store."""

    searcher: object
    snapshot: Snapshot
    store: Store


class Index:
    """An open index. Safe to share between threads."""

    def __init__(self, path: Path, ix, identity: tuple[int, ...] | None = None,
                 ranking: Ranking = DEFAULT_RANKING) -> None:
        self.path = path
        self.ranking = ranking
        self._ix = ix
        # Which side-store file `_ix` was opened with (`_identity`): a different one means
        # the folder was deleted and built again, and everything open points at old files.
        self._opened = identity if identity is not None else _identity(path)
        self._reopen_lock = threading.Lock()
        self._local = threading.local()
        # (the configuration files and their mtimes, the synonyms read from them, a notice)
        self._synonyms: tuple[tuple, Synonyms, str | None] = ((), DEFAULT_SYNONYMS, None)

    @classmethod
    def open(cls, path: str | Path, *, ranking: Ranking = DEFAULT_RANKING) -> Index:
        """The index at `path` (IndexNotFound if there is none: `Index.create` makes one)."""
        path = Path(path).expanduser().absolute()
        identity = _identity(path)
        return cls(path, _open_ix(path), identity, ranking)

    def _current_ix(self, identity: tuple[int, ...]):
        """The shared Whoosh index for the side store `identity`, reopened (once, by the
        first thread to notice) if the folder was replaced since it was opened."""
        if self._opened != identity:
            with self._reopen_lock:
                if self._opened != identity:
                    self._ix = _open_ix(self.path)  # IndexNotFound while it is rebuilt
                    self._opened = identity
        return self._ix

    @classmethod
    def create(cls, path: str | Path, roots: Sequence[str | Path], *,
               config_path: str | Path | None = None, jobs: int | None = None,
               ranking: Ranking = DEFAULT_RANKING) -> Index:
        """Index the archive folders `roots` at `path` (a new index, or an update of the
        one there) and open it: the one way in for a first use."""
        from searchidx import indexer  # the parsers it needs cost ~0.1 s to import

        indexer.update(path, roots, config_path=config_path, jobs=jobs)
        return cls.open(path, ranking=ranking)

    def update(self, roots: Sequence[str | Path] | None = None, *, rebuild: bool = False,
               verify: bool = False, config_path: str | Path | None = None,
               jobs: int | None = None) -> IndexReport:
        """Sync the index with the archive folders (`indexer.update`: roots are added to
        the remembered ones; none re-syncs those)."""
        from searchidx import indexer

        return indexer.update(self.path, roots, rebuild=rebuild, verify=verify,
                              config_path=config_path, jobs=jobs)

    # --- per-thread resources ---
    def _searcher(self):
        """This thread's searcher, current with the index on disk (for `_view`). It also
        drops this thread's side-store connection when the index folder was deleted
        (IndexNotFound) or replaced by a new one."""
        identity = _identity(self.path)
        local = self._local
        if getattr(local, "identity", None) != identity:
            self._close_local()
            ix = self._current_ix(identity)
            local.searcher, local.identity = ix.searcher(), identity
            return local.searcher
        searcher = local.searcher
        if not searcher.up_to_date():
            # Not searcher.refresh(): in Whoosh 2.7.5 a refreshed reader keeps the old
            # segments that a merge or a rebuild dropped, so deleted posts come back.
            searcher.close()
            searcher = local.searcher = self._current_ix(identity).searcher()
        return searcher

    def _close_local(self) -> None:
        """Close this thread's searcher and side-store connection (opened on files that
        may be gone); the next use opens new ones."""
        local = self._local
        for name in ("searcher", "store"):
            resource = getattr(local, name, None)
            if resource is not None:
                with contextlib.suppress(Exception):  # its files may be deleted already
                    resource.close()
        local.searcher = local.store = local.snapshot = local.identity = None

    def _view(self) -> _View:
        """This thread's view of the index as it is now. Every public method takes one,
        once, and reads through it only: a later `_view()` may close its searcher."""
        searcher = self._searcher()
        local = self._local
        snapshot = getattr(local, "snapshot", None)
        if snapshot is None or snapshot.searcher is not searcher:
            snapshot = local.snapshot = Snapshot(searcher, self.ranking, self.path)
        store = getattr(local, "store", None)
        if store is None:
            store = local.store = Store(self.path, readonly=True)
        return _View(searcher, snapshot, store)

    # --- search ---
    def search(
        self,
        text: str = "",
        *,
        source: Names = (),
        tag: Names = (),
        author: Names = (),
        since: Day = None,
        until: Day = None,
        sort: str = "relevance",
        page: int = 1,
        per_page: int = 10,
        include_hidden: bool = False,
        facets: bool = True,
        snippets: bool = True,
    ) -> Results:
        """Ranked search. Never fails on query syntax or length: see `Results.notice`.

        source, tag and author filters each take one name or several, matched by words
        (`Snapshot.matching_names`): a post from any of the sources given, with every tag
        given, by every author given. since and until take a year, a date, a datetime (a
        moment) or text such as 2023-04."""
        started = time.perf_counter()
        check_paging(sort, page, per_page)
        typed = query_text(text)
        view = self._view()
        searcher, snapshot = view.searcher, view.snapshot
        filters = filter_query(source, tag, author, since, until)
        text, parsed, notice = self._parse(view, typed)
        all_words, any_word = parsed.every, parsed.any
        if any_word is None:
            all_words = any_word = query.Every()
            sort = "newest" if sort == "relevance" else sort
        wanted_posts = any_word
        if filters is not None:
            wanted_posts = query.Require(wanted_posts, filters)
        if not include_hidden:
            wanted_posts = query.AndNot(wanted_posts, query.Term("hidden", True))

        # Copies of one post (same url) count once, show as their fullest matching copy and
        # rank as their best-matching one.
        matched = snapshot.matching(wanted_posts)
        shown, copies = snapshot.collapse(matched)
        shown_docs = np.flatnonzero(shown) if facets else None
        facet_counts = snapshot.facets(shown_docs) if facets else {}
        terms = snapshot.query_terms(any_word)  # scored, and marked in snippets

        wanted = page * per_page
        if sort == "relevance":
            scores = snapshot.best_of_copies(matched, snapshot.scores(terms))
            tiers = [shown]
            if all_words != any_word and parsed.words <= self.ranking.all_words_first_max_words:
                every = snapshot.best_of_copies(matched, matched & snapshot.matching(all_words))
                tiers = [shown & every, shown & ~every]
            if parsed.exact is not None:  # within each tier, what matches as typed first
                exact = snapshot.best_of_copies(matched, matched & snapshot.matching(parsed.exact))
                tiers = [tier & part for tier in tiers for part in (exact, ~exact)]
            ranked = [(docnum, float(scores[docnum]))
                      for docnum in snapshot.best(tiers, scores, wanted)]
        else:
            rank = snapshot.newest_rank if sort == "newest" else snapshot.oldest_rank
            ranked = [(docnum, None) for docnum in snapshot.best([shown], -rank, wanted)]
        window = ranked[(page - 1) * per_page : wanted]

        posts = [from_stored(searcher.stored_fields(docnum)) for docnum, _ in window]
        bodies = view.store.get_bodies(p["content_hash"] for p in posts) if snippets else {}
        wanted = snippet_query(terms, any_word) if snippets and text.strip() else {}
        analyzer = searcher.schema["body"].analyzer
        hits = [
            Hit.of(post, score, snippet_spans(bodies.get(post["content_hash"], ""),
                                              post["summary"], wanted, analyzer),
                   duplicates=copies.get(docnum, 0))
            for (docnum, score), post in zip(window, posts, strict=True)
        ]
        # A word found nowhere in the archive is a typo whatever the total: with partial
        # matches allowed, "alphafoldd structure" still has hits, all of them weak.
        suggestion = suggest(text, searcher.schema, snapshot.vocabulary) if text.strip() else None
        first = None
        oldest = snapshot.oldest(shown_docs) if facets else None  # the timeline's first post
        if oldest is not None:
            first = Hit.of(from_stored(searcher.stored_fields(oldest)), None,
                           duplicates=copies.get(oldest, 0))
        return Results(
            query=typed, total=int(shown.sum()), page=page, per_page=per_page, hits=hits,
            facets=facet_counts, suggestion=suggestion, notice=notice,
            synonyms=parsed.synonyms, seconds=time.perf_counter() - started, first=first,
        )

    def _parse(self, view: _View, typed: str) -> tuple[str, ParsedQuery, str | None]:
        """The query as a search reads it: cut to its first words, with the archive's
        synonyms. Returns the text searched, the parsed query and the notices."""
        text, cut_notice = first_words(typed)
        synonyms, config_notice = self._synonyms_of(view.store)
        parsed = parse(text, view.searcher.schema, view.snapshot.vocabulary, synonyms)
        notice = "; ".join(n for n in (cut_notice, config_notice, parsed.notice) if n) or None
        return text, parsed, notice

    def _synonyms_of(self, store: Store) -> tuple[Synonyms, str | None]:
        """The built-in synonyms with the `[synonyms]` of the archives' configuration
        files, read again when one changes (no re-index needed). A file that cannot be
        read leaves the built-in ones and a notice: searching goes on."""
        paths = store.meta("config_files") or []  # recorded by each indexing run
        key = tuple((path, _file_version(Path(path))) for path in paths)
        cached = self._synonyms
        if key == cached[0]:
            return cached[1:]
        synonyms, notice = DEFAULT_SYNONYMS, None
        for path, version in key:
            if version is None:
                continue
            from searchidx.config import load_synonyms  # imports posts.py's parsers: ~50 ms

            try:
                synonyms = synonyms.with_entries(load_synonyms(Path(path)))
            except SearchIdxError as exc:
                notice = f"{exc}; its synonyms were not used"
        self._synonyms = (key, synonyms, notice)
        return synonyms, notice

    def match_spans(self, text: str, within: str) -> list[tuple[int, int]]:
        """Where the query `text` matches the plain text `within` (an archived copy's
        text), as (start, end) spans in order: the words and phrases a search for `text`
        finds in a body, found as its snippets find them. Never fails on query syntax."""
        view = self._view()
        schema = view.searcher.schema
        any_word = self._parse(view, query_text(text))[1].any
        if any_word is None:
            return []
        wanted = snippet_query(view.snapshot.query_terms(any_word), any_word).get("body")
        return match_spans(within, wanted, schema["body"].analyzer) if wanted else []

    # --- single posts ---
    def get(self, post_id: str) -> PostRecord:
        return self._record(self._view(), post_id)

    @staticmethod
    def _record(view: _View, post_id: str) -> PostRecord:
        fields = view.searcher.document(id=post_id)
        if fields is None:
            raise PostNotFound(f"no post with id {post_id!r}")
        post = from_stored(fields)
        stored = view.store.get_text(post["content_hash"])
        return PostRecord.of(post, body=stored.body if stored else "",
                             markdown=stored.markdown if stored else "")

    def similar(self, post_id: str, limit: int = 5, include_hidden: bool = False) -> list[Hit]:
        """Posts like this one: its 20 most telling words (Whoosh's key terms, Bo1), ranked
        with BM25F over title, summary and body like any search; copies of it left out."""
        view = self._view()
        searcher, snapshot = view.searcher, view.snapshot
        post = self._record(view, post_id)
        docnum = searcher.document_number(id=post_id)
        text = f"{post.title}\n{post.summary}\n{post.body}"
        words = [word for word, _ in searcher.key_terms_from_text("body", text, numterms=20)]
        like = query.Or([query.Term(name, word) for word in words for name in TEXT_FIELDS])
        wanted = like if include_hidden else query.AndNot(like, query.Term("hidden", True))
        matched = snapshot.matching(wanted)
        matched[docnum] = False
        if snapshot.copy_group[docnum] >= 0:
            matched &= snapshot.copy_group != snapshot.copy_group[docnum]
        shown, _ = snapshot.collapse(matched)
        scores = snapshot.best_of_copies(matched, snapshot.scores(snapshot.query_terms(like)))
        hits = []
        for found in snapshot.best([shown], scores, limit):
            post = from_stored(searcher.stored_fields(found))
            hits.append(Hit.of(post, float(scores[found]),
                               snippet_spans("", post["summary"], {}, None)))
        return hits

    def export(self) -> Iterator[PostRecord]:
        """Every post the index holds (hidden ones and copies too), in path order, with
        all its fields and text: what `searchidx export` writes, one JSON object a line."""
        view = self._view()
        posts = sorted((from_stored(fields) for fields in view.searcher.all_stored_fields()),
                       key=lambda post: post["path"])
        # The caller may search in this thread between two records, and that call's
        # `_view()` may close this thread's store: the texts come through a store of the
        # export's own, opened with the posts read above.
        store = Store(self.path, readonly=True)
        try:
            for post in posts:
                stored = store.get_text(post["content_hash"])
                yield PostRecord.of(post, body=stored.body if stored else "",
                                    markdown=stored.markdown if stored else "")
        finally:
            store.close()

    def stats(self) -> Stats:
        view = self._view()
        searcher, snapshot = view.searcher, view.snapshot
        dated = np.flatnonzero(snapshot.live & snapshot.dated)
        first = last = None
        if len(dated):
            dates = snapshot.date[dated]
            oldest, newest = int(dated[dates.argmin()]), int(dated[dates.argmax()])
            first = from_stored(searcher.stored_fields(oldest))["date"]
            last = from_stored(searcher.stored_fields(newest))["date"]
        store = view.store
        posts = searcher.doc_count()
        return Stats(
            posts=posts,
            sources=snapshot.source.counts(np.flatnonzero(snapshot.live)),
            first_date=first,
            last_date=last,
            undated=posts - len(dated),
            duplicates=snapshot.copies_count(),
            hidden=int(snapshot.matching(query.Term("hidden", True)).sum()),
            index_bytes=sum(p.stat().st_size for p in self.path.iterdir() if p.is_file()),
            updated_at=store.meta("updated_at"),
            roots=list(store.meta("roots") or []),
            unreadable=list(store.meta("unreadable") or []),
        )


# --- helpers -----------------------------------------------------------------------------

def _file_version(path: Path) -> tuple[int, int] | None:
    """(mtime, size) of a file, None if there is none: a change to either is a new one."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def _not_found(path: Path) -> IndexNotFound:
    return IndexNotFound(
        f"no index at {path}; create it with `searchidx --index {path} index ARCHIVE`"
    )


def _identity(path: Path) -> tuple[int, ...]:
    """Which side-store file the index folder holds now: (device, inode, change time).
    Cheap (one stat) for every call; it changes when the folder is deleted and built
    again (and after an update writes the store, which only costs a reopen)."""
    try:
        info = (path / STORE_NAME).stat()
    except OSError:
        raise _not_found(path) from None
    return (info.st_dev, info.st_ino, info.st_ctime_ns)


def _has_index(path: Path) -> bool:
    try:
        return path.is_dir() and has_index(path)
    except OSError:  # deleted while we looked
        return False


def _open_ix(path: Path):
    """The Whoosh index at `path`, after checking it was built by this version."""
    if not _has_index(path):
        raise _not_found(path)
    rebuild_hint = f"rebuild it with `searchidx --index {path} index`"
    try:
        store = Store(path, readonly=True)
    except sqlite3.Error as exc:  # deleted or replaced while we looked
        raise _not_found(path) from exc
    try:
        if store.meta("schema_version") != SCHEMA_VERSION:
            raise IndexCorrupt(
                f"the index at {path} was built by another searchidx version; {rebuild_hint}"
            )
    finally:
        store.close()
    try:
        return FileStorage(str(path), supports_mmap=False).open_index()
    except Exception as exc:  # noqa: BLE001 - whatever broke, the fix is the same
        if not _has_index(path):  # deleted while we opened it
            raise _not_found(path) from exc
        raise IndexCorrupt(
            f"the index at {path} cannot be opened ({exc}); {rebuild_hint}"
        ) from exc


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


