"""Searching an index: the one API the CLI and the web page share.

`Index.open(path)` once, then `search`, `get`, `similar`, `stats` from any number of
threads. Each thread gets its own Whoosh searcher (the index is opened without mmap, so
searchers must not be shared) and a new one when a writer has committed. Whoosh parses
the query and finds phrases and wildcards; matching, BM25F scoring, facets and copy
collapsing run over that searcher's `snapshot.Snapshot`.
Everything returned is a plain dataclass; nothing Whoosh escapes this module.
"""

from __future__ import annotations

import contextlib
import html
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from whoosh import query
from whoosh.filedb.filestore import FileStorage
from whoosh.support.charset import accent_map

from searchidx.errors import BadQuery, IndexCorrupt, IndexNotFound, PostNotFound
from searchidx.query import parse, parse_day, suggest
from searchidx.schema import (
    _IS_CJK,
    _WORD,
    MAX_TERM_CHARS,
    SCHEMA_VERSION,
    TEXT_FIELDS,
    has_index,
    identifies_post,
)
from searchidx.snapshot import Snapshot
from searchidx.store import STORE_NAME, Store

if TYPE_CHECKING:
    from searchidx.indexer import IndexReport

SORTS = ("relevance", "newest", "oldest")
MAX_PER_PAGE = 100
MAX_RESULT_WINDOW = 10_000  # page * per_page: deeper pages cost a full sort
MAX_QUERY_CHARS = 1_000  # a longer query (a pasted abstract) is cut to its first words
# Keyword queries (up to this many words) list the posts with every word first, then
# those with some. Longer queries read as descriptions get one BM25 ranking: tiering them
# let long digests that mention every word bury the post described (top-3 hit rate on
# the real archives 76% against 88%; SciFact unchanged; benchmarks/relevance.py).
ALL_WORDS_FIRST_MAX_WORDS = 3
SNIPPET_CHARS = 200  # a snippet's length: one passage

# What `Index.search` takes for a filter (one name, or several) and a date bound.
Names = str | Iterable[str] | None
Day = str | int | date | None


@dataclass(frozen=True)
class Hit:
    """One result: what a results list shows."""

    id: str
    path: str
    title: str
    url: str
    source: str
    date: datetime | None
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    summary: str
    thumbnail: str
    score: float | None
    # the snippet as (text, is_match) pieces; render it with `snippet`/`snippet_html`
    snippet_spans: tuple[tuple[str, bool], ...] = ()
    duplicates: int = 0  # other copies of this post (same url, or title) folded into this hit

    @property
    def link(self) -> str:
        """The post's own address: its url when that names the post (`identifies_post`),
        else "" (then the archived copy is the post's link)."""
        return _link(self.url)

    @property
    def snippet(self) -> str:
        return "".join(text for text, _ in self.snippet_spans)

    @property
    def snippet_html(self) -> str:
        return "".join(
            f"<mark>{html.escape(text)}</mark>" if is_match else html.escape(text)
            for text, is_match in self.snippet_spans
        )

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "path": self.path,
            "title": self.title,
            "url": self.url or None,
            "link": self.link or None,
            "source": self.source or None,
            "date": _iso(self.date),
            "tags": list(self.tags),
            "score": round(self.score, 4) if self.score is not None else None,
            "snippet": self.snippet,
            "duplicates": self.duplicates,
        }


@dataclass(frozen=True)
class Results:
    query: str
    total: int
    page: int
    per_page: int
    hits: list[Hit]
    facets: dict[str, dict[str, int]]
    suggestion: str | None = None
    notice: str | None = None  # e.g. "the query was read as plain words"
    seconds: float = 0.0

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    def to_json(self) -> dict:
        return {
            "query": self.query,
            "total": self.total,
            "page": self.page,
            "per_page": self.per_page,
            "hits": [hit.to_json() for hit in self.hits],
            "facets": self.facets,
            "suggestion": self.suggestion,
            "notice": self.notice,
        }


@dataclass(frozen=True)
class PostRecord:
    """A whole archived post: metadata and text (for `show` and the archived view)."""

    id: str
    path: str
    title: str
    summary: str
    url: str
    source: str
    date: datetime | None
    tags: tuple[str, ...]
    authors: tuple[str, ...]
    thumbnail: str
    hidden: bool
    body: str  # plain text
    markdown: str  # as written

    @property
    def link(self) -> str:
        """The post's own address, or "" when its url does not name it (see `Hit.link`)."""
        return _link(self.url)

    def to_json(self) -> dict:
        return {
            "id": self.id, "path": self.path, "title": self.title, "summary": self.summary,
            "url": self.url or None, "link": self.link or None,
            "source": self.source or None, "date": _iso(self.date),
            "tags": list(self.tags), "authors": list(self.authors),
            "thumbnail": self.thumbnail or None, "hidden": self.hidden, "body": self.body,
        }


@dataclass(frozen=True)
class Stats:
    posts: int
    sources: dict[str, int]
    first_date: datetime | None
    last_date: datetime | None
    duplicates: int  # posts that share their url with another post
    hidden: int
    index_bytes: int
    updated_at: str | None
    roots: list[str] = field(default_factory=list)
    # Files the last run could not read ({"path", "reason"}); none of them is searchable.
    unreadable: list[dict[str, str]] = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "posts": self.posts, "sources": self.sources,
            "first_date": _iso(self.first_date), "last_date": _iso(self.last_date),
            "duplicates": self.duplicates, "hidden": self.hidden,
            "index_bytes": self.index_bytes, "updated_at": self.updated_at, "roots": self.roots,
            "unreadable": self.unreadable,
        }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _link(url: str) -> str:
    # `url` stays as written (the JSON shows it): a placeholder is still what the file says.
    return url.strip() if identifies_post(url) else ""


class Index:
    """An open index. Safe to share between threads."""

    def __init__(self, path: Path, ix, identity: tuple[int, ...] | None = None) -> None:
        self.path = path
        self._ix = ix
        # Which side-store file `_ix` was opened with (`_identity`): a different one means
        # the folder was deleted and built again, and everything open points at old files.
        self._opened = identity if identity is not None else _identity(path)
        self._reopen_lock = threading.Lock()
        self._local = threading.local()

    @classmethod
    def open(cls, path: str | Path) -> Index:
        path = Path(path).expanduser().absolute()
        identity = _identity(path)
        return cls(path, _open_ix(path), identity)

    def _current_ix(self, identity: tuple[int, ...]):
        """The shared Whoosh index for the side store `identity`, reopened (once, by the
        first thread to notice) if the folder was replaced since it was opened."""
        if self._opened != identity:
            with self._reopen_lock:
                if self._opened != identity:
                    self._ix = _open_ix(self.path)  # IndexNotFound while it is rebuilt
                    self._opened = identity
        return self._ix

    def update(self, roots: Sequence[str | Path] | None = None, **options) -> IndexReport:
        """Sync the index with the archive folders (see `indexer.update`)."""
        from searchidx import indexer  # the parsers it needs cost ~0.1 s to import

        return indexer.update(self.path, roots, **options)

    # --- per-thread resources ---
    def _searcher(self):
        """This thread's searcher, current with the index on disk. Every public method
        calls it first: it also drops this thread's side-store connection when the index
        folder was deleted (IndexNotFound) or replaced by a new one."""
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

    def _snapshot(self, searcher) -> Snapshot:
        """The snapshot of `searcher` (this thread's current one: take it once per call,
        as a later _searcher() may replace and close it)."""
        snapshot = getattr(self._local, "snapshot", None)
        if snapshot is None or snapshot.searcher is not searcher:
            snapshot = self._local.snapshot = Snapshot(searcher)
        return snapshot

    def _store(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.path, readonly=True)
        return store

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
        _check_paging(sort, page, per_page)
        typed = _query_text(text)
        text, cut_notice = _first_words(typed)
        searcher = self._searcher()
        filter_query = _filter_query(source, tag, author, since, until)
        snapshot = self._snapshot(searcher)
        parsed = parse(text, searcher.schema, snapshot.vocabulary)
        all_words, any_word = parsed.every, parsed.any
        notice = "; ".join(n for n in (cut_notice, parsed.notice) if n) or None
        if any_word is None:
            all_words = any_word = query.Every()
            sort = "newest" if sort == "relevance" else sort
        wanted_posts = any_word
        if filter_query is not None:
            wanted_posts = query.Require(wanted_posts, filter_query)
        if not include_hidden:
            wanted_posts = query.AndNot(wanted_posts, query.Term("hidden", True))

        # Copies of one post (same url) count once, show as their fullest matching copy and
        # rank as their best-matching one.
        matched = snapshot.matching(wanted_posts)
        shown, copies = snapshot.collapse(matched)
        facet_counts = snapshot.facets(shown) if facets else {}
        terms = snapshot.query_terms(any_word)  # scored, and marked in snippets

        wanted = page * per_page
        if sort == "relevance":
            scores = snapshot.best_of_copies(matched, snapshot.scores(terms))
            tiers = [shown]
            if all_words != any_word and parsed.words <= ALL_WORDS_FIRST_MAX_WORDS:
                every = snapshot.best_of_copies(matched, matched & snapshot.matching(all_words))
                tiers = [shown & every, shown & ~every]
            ranked = [(docnum, float(scores[docnum]))
                      for docnum in snapshot.best(tiers, scores, wanted)]
        else:
            rank = snapshot.newest_rank if sort == "newest" else snapshot.oldest_rank
            ranked = [(docnum, None) for docnum in snapshot.best([shown], -rank, wanted)]
        window = ranked[(page - 1) * per_page : wanted]

        stored = [searcher.stored_fields(docnum) for docnum, _ in window]
        bodies = self._store().get_bodies(f["content_hash"] for f in stored) if snippets else {}
        wanted = _snippet_query(terms, any_word) if snippets and text.strip() else {}
        analyzer = searcher.schema["body"].analyzer
        hits = [
            _make_hit(fields, score, bodies.get(fields["content_hash"], ""), wanted, analyzer,
                      duplicates=copies.get(docnum, 0))
            for (docnum, score), fields in zip(window, stored, strict=True)
        ]
        # A word found nowhere in the archive is a typo whatever the total: with partial
        # matches allowed, "alphafoldd structure" still has hits, all of them weak.
        suggestion = suggest(text, searcher.schema, snapshot.vocabulary) if text.strip() else None
        return Results(
            query=typed, total=int(shown.sum()), page=page, per_page=per_page, hits=hits,
            facets=facet_counts, suggestion=suggestion, notice=notice,
            seconds=time.perf_counter() - started,
        )

    # --- single posts ---
    def get(self, post_id: str) -> PostRecord:
        return self._record(self._searcher(), post_id)

    def _record(self, searcher, post_id: str) -> PostRecord:
        fields = searcher.document(id=post_id)
        if fields is None:
            raise PostNotFound(f"no post with id {post_id!r}")
        stored = self._store().get_text(fields["content_hash"])
        return PostRecord(
            id=fields["id"], path=fields["path"], title=fields.get("title", ""),
            summary=fields.get("summary", ""), url=fields.get("url", ""),
            source=fields.get("source_name", ""), date=fields.get("date"),
            tags=_split(fields.get("tags")), authors=_split(fields.get("authors")),
            thumbnail=fields.get("thumbnail", ""), hidden=fields.get("hidden", False),
            body=stored.body if stored else "", markdown=stored.markdown if stored else "",
        )

    def similar(self, post_id: str, limit: int = 5, include_hidden: bool = False) -> list[Hit]:
        """Posts like this one: its 20 most telling words (Whoosh's key terms, Bo1), ranked
        with BM25F over title, summary and body like any search; copies of it left out."""
        searcher = self._searcher()  # once: a later call may replace and close it
        snapshot = self._snapshot(searcher)
        post = self._record(searcher, post_id)
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
        return [
            _make_hit(searcher.stored_fields(found), float(scores[found]), "", {}, None)
            for found in snapshot.best([shown], scores, limit)
        ]

    def stats(self) -> Stats:
        searcher = self._searcher()
        snapshot = self._snapshot(searcher)
        dated = np.flatnonzero(snapshot.live & snapshot.dated)
        first = last = None
        if len(dated):
            first = searcher.stored_fields(int(dated[snapshot.date[dated].argmin()]))["date"]
            last = searcher.stored_fields(int(dated[snapshot.date[dated].argmax()]))["date"]
        store = self._store()
        return Stats(
            posts=searcher.doc_count(),
            sources=snapshot.source.counts(snapshot.live),
            first_date=first,
            last_date=last,
            duplicates=snapshot.copies_count(),
            hidden=int(snapshot.matching(query.Term("hidden", True)).sum()),
            index_bytes=sum(p.stat().st_size for p in self.path.iterdir() if p.is_file()),
            updated_at=store.meta("updated_at"),
            roots=list(store.meta("roots") or []),
            unreadable=list(store.meta("unreadable") or []),
        )


# --- helpers -----------------------------------------------------------------------------

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


def _query_text(text: str | None) -> str:
    """The query as given; anything but text is a caller's slip, said plainly."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise BadQuery(f"the query must be text, not {text!r}")
    return text


def _first_words(text: str) -> tuple[str, str | None]:
    """The query cut to the whole words within MAX_QUERY_CHARS, and a notice if it was.
    People paste an abstract to find related posts: its first words find them, and the
    parsing and matching stay bounded whatever was pasted."""
    text = text.strip() if len(text) > MAX_QUERY_CHARS else text
    if len(text) <= MAX_QUERY_CHARS:
        return text, None
    words = re.match(r"(.*)\s", text[: MAX_QUERY_CHARS + 1], re.DOTALL)
    if words is None:  # one "word" fills it all
        return text[:MAX_QUERY_CHARS], (
            f"the query was cut to its first {MAX_QUERY_CHARS} characters")
    count = len(words.group(1).split())
    unit = "word" if count == 1 else "words"
    return words.group(1), f"the query was cut to its first {count} {unit}"


def _check_paging(sort: str, page: int, per_page: int) -> None:
    if sort not in SORTS:
        raise BadQuery(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    for name, value in (("page", page), ("per_page", per_page)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadQuery(f"{name} must be a whole number, not {value!r}")
    if page < 1:
        raise BadQuery(f"page must be 1 or more, not {page!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadQuery(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page!r}")
    if page * per_page > MAX_RESULT_WINDOW:
        raise BadQuery(
            f"page {page} is too deep: at most {MAX_RESULT_WINDOW} results can be paged through;"
            " narrow the search instead"
        )


def _filter_query(source: Names, tag: Names, author: Names, since: Day,
                  until: Day) -> query.Query | None:
    """The filters as one query. A name field's terms match by words (Snapshot.matching)."""
    parts: list[query.Query] = []
    sources = _names_arg("source", source)
    if sources:  # a post has one source: any of those given
        parts.append(query.Or([query.Term("source_name", s) for s in sources]))
    parts.extend(query.Term("tags", t) for t in _names_arg("tag", tag))  # every tag given
    parts.extend(query.Term("authors", a) for a in _names_arg("author", author))
    start = _day_arg(since, end=False, option="since")
    stop = _day_arg(until, end=True, option="until")
    if start or stop:
        if start and stop and start > stop:
            raise BadQuery(f"since ({since}) is after until ({until})")
        parts.append(query.DateRange("date", start, stop))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)


def _names_arg(option: str, value: Names) -> tuple[str, ...]:
    """A filter's values. One str is one name: iterated, "DeepMind Blog" would filter by
    its letters and match nothing, silently."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    names = tuple(value) if isinstance(value, Iterable) else (value,)
    if not all(isinstance(name, str) for name in names):
        raise BadQuery(f"{option} must be a name or a list of names, not {value!r}")
    return names


def _day_arg(value: Day, *, end: bool, option: str) -> datetime | None:
    """since or until as a naive UTC datetime: a datetime is that moment; a date, a year
    (int) or text (`parse_day`) is its first moment, or with end its last."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return parse_day(value.isoformat(), end=end, option=option)
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_day(str(value), end=end, option=option)
    if isinstance(value, str):
        return parse_day(value, end=end, option=option)
    raise BadQuery(f"{option} must be a year, a date or text such as 2023-04, not {value!r}")


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__


# --- snippets ------------------------------------------------------------------------------
#
# A snippet is the passage of a post's body (else its summary) that best shows the query's
# words, a phrase counting as a whole, cut on word boundaries, with "…" where text is left
# out. Matches are found by the analyzer that indexed the text (`ResearchAnalyzer.word`),
# so a stem (quantization -> "quantize"), a compound's parts or joined form (GPT-4, gpt4)
# and CJK bigrams are marked wherever the index found them. Whoosh's highlighter is not
# used: it analyses all the text it is given (~20 ms a long post) and marks overlapping
# tokens (CJK bigrams) in pieces.


@dataclass(frozen=True)
class _Wanted:
    """What a snippet of one field marks: the query's terms in that field, its phrases
    there (each a tuple of (position offset, term)), and a regex finding the places
    where those terms may be written (`_term_pattern`)."""

    terms: frozenset[str]
    phrases: tuple[tuple[tuple[int, str], ...], ...]
    pattern: re.Pattern


def _snippet_query(terms: dict[str, dict[str, float]], q: query.Query | None
                   ) -> dict[str, _Wanted]:
    """Per text field, what its snippets mark: the scored terms (`Snapshot.query_terms`)
    and every phrase of the query `q` outside a NOT, unscored ones included (a compound's
    parts in a row, "GPT 4", are how such a post matched)."""
    words: dict[str, set[str]] = {}
    for word, fields in terms.items():
        for name in fields:
            words.setdefault(name, set()).add(word)
    phrases: dict[str, list[tuple[tuple[int, str], ...]]] = {}

    def visit(node: query.Query) -> None:
        if isinstance(node, query.Not):
            return
        if isinstance(node, query.AndNot):
            visit(node.a)
            return
        if isinstance(node, query.Phrase):
            offsets = getattr(node, "offsets", range(len(node.words)))
            phrase = tuple(zip(offsets, node.words, strict=True))
            if node.fieldname in TEXT_FIELDS and phrase not in phrases.get(node.fieldname, []):
                phrases.setdefault(node.fieldname, []).append(phrase)
            return
        for child in node.children():
            visit(child)

    if q is not None:
        visit(q)
    wanted = {}
    for name in words.keys() | phrases.keys():
        found = frozenset(words.get(name, ()))
        field_phrases = tuple(phrases.get(name, ()))
        written = found | {term for phrase in field_phrases for _, term in phrase}
        wanted[name] = _Wanted(found, field_phrases, _term_pattern(written))
    return wanted


def _term_pattern(terms: Iterable[str]) -> re.Pattern:
    """A regex for the places where a word yielding one of `terms` may be written, run
    over `_fold`ed text. A stem may differ from the word in its last letter
    (quantization -> "quantize", happy -> "happi"), so a term longer than three letters
    is looked for by all but its last letter, and a compound's joined form (gpt4, abc)
    with or without its separators (GPT-4, A/B/C); each place found is checked by
    analysing its word. CJK terms (bigrams) sit inside runs with no word boundary."""
    prefixes = sorted({term[:-1] if len(term) > 3 else term for term in terms},
                      key=len, reverse=True)
    if not prefixes:
        return re.compile(r"(?!)")
    alternatives = [re.escape(p) if _IS_CJK.search(p)
                    else r"\b" + "[-./+#]*".join(re.escape(letter) for letter in p)
                    for p in prefixes]
    # The lookahead on first letters lets the regex skip most positions at C speed.
    first = "".join(sorted({p[0].lower() for p in prefixes} | {p[0].upper() for p in prefixes}))
    return re.compile(f"(?=[{re.escape(first)}])(?:{'|'.join(alternatives)})", re.IGNORECASE)


# Accents and full-width forms folded one character for one, so offsets in the folded text
# are offsets in the text (the analyzer folds them the same way: NFKC, accent_map).
_FOLD = {**{chr(c): v for c, v in accent_map.items() if c > 127},
         **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}}
_FOLDED = re.compile("[" + "".join(re.escape(c) for c in sorted(_FOLD)) + "]")


def _fold(text: str) -> str:
    # A regex finds the few characters to fold: str.translate with a dict costs ~10 ms on
    # a 200 kB digest.
    return text if text.isascii() else _FOLDED.sub(lambda m: _FOLD[m.group()], text)


_PART = re.compile(r"[^-./+#]+")  # a compound's parts: the complement of the analyzer's split
MAX_SNIPPET_MATCHES = 1_000  # matches looked at in one text (a 200 kB digest has ~300)
SNIPPET_LEAD_CHARS = 60  # at most this much text before the passage's first mark


def _word_at(text: str, i: int) -> re.Match | None:
    """The word (a WORD_PATTERN match) that holds the character at `i`, if any."""
    # Words hold no whitespace: start at the last space or line break before `i`.
    lo = max(0, i - MAX_TERM_CHARS)
    start = max(text.rfind(" ", lo, i), text.rfind("\n", lo, i), lo - 1) + 1
    for word in _WORD.finditer(text, start):
        if word.end() > i:
            return word if word.start() <= i else None
    return None


def _inside_word(text: str, i: int) -> bool:
    """Whether a cut at `i` would split a word (between two CJK characters it would not:
    those languages put no space between words)."""
    if i <= 0 or i >= len(text):
        return False
    word = _word_at(text, i)
    return (word is not None and word.start() < i
            and not (_IS_CJK.match(text, i - 1) and _IS_CJK.match(text, i)))


def _word_entries(word: re.Match, analyzer) -> tuple[int, list[tuple[int, str, int, int]]]:
    """(positions the word takes, its terms as (position, term, start, end)): a part of a
    compound or a CJK bigram spans its own characters, a compound's whole and joined
    forms the whole word. Stop words leave no entry."""
    terms = analyzer.word(word.group())
    start, end = word.span()
    spans = [(start, end)]
    if terms.joined is not None:  # a compound: GPT-4
        spans = [(start + part.start(), start + part.end())
                 for part in _PART.finditer(word.group())]
    elif len(terms.parts) > 1:  # CJK bigrams, whose entries carry their spans
        spans = [(start + entry[2][0], start + entry[2][1]) if entry[2] else (start, end)
                 for entry in terms.index]
    if len(spans) != len(terms.parts):  # not the analyzer's split (a form NFKC changed)
        spans = [(start, end)] * len(terms.parts)
    entries = [(pos, term, s, e) for pos, (term, (s, e))
               in enumerate(zip(terms.parts, spans, strict=True)) if term is not None]
    if terms.joined is not None:
        entries += [(0, whole, start, end) for whole in {terms.index[0][0], terms.joined}]
    return terms.width, entries


def _phrase_end(text: str, word: re.Match, position: int,
                phrase: tuple[tuple[int, str], ...], analyzer) -> int | None:
    """Where the phrase ends when its first term is at `position` of `word`, or None when
    the words after it are not the phrase's."""
    needed = {position + offset: term for offset, term in phrase}
    last = max(needed)
    found: set[int] = set()
    end = None
    base = 0
    for following in _WORD.finditer(text, word.start()):
        width, entries = _word_entries(following, analyzer)
        for pos, term, _start, term_end in entries:
            if needed.get(base + pos) == term:
                found.add(base + pos)
                if base + pos == last:
                    end = term_end
        base += width
        if base > last:
            break
    return end if len(found) == len(needed) else None


def _matches(text: str, wanted: _Wanted, analyzer) -> list[tuple[int, int, object]]:
    """(start, end, key) of each place the text shows a wanted term (key: the term) or a
    phrase (key: the phrase), in text order."""
    found = []
    seen: set[int] = set()
    for place in wanted.pattern.finditer(_fold(text)):
        word = _word_at(text, place.start())
        if word is None or word.start() in seen:
            continue
        seen.add(word.start())
        _width, entries = _word_entries(word, analyzer)
        for pos, term, start, end in entries:
            if term in wanted.terms:
                found.append((start, end, term))
            for phrase in wanted.phrases:
                if phrase[0][1] == term:
                    phrase_end = _phrase_end(text, word, pos, phrase, analyzer)
                    if phrase_end is not None:
                        found.append((start, phrase_end, phrase))
        if len(found) >= MAX_SNIPPET_MATCHES:
            break
    return sorted(found, key=lambda match: match[:2])


def _weight(key: object) -> int:
    # A phrase outweighs its words seen apart.
    return len(key) + 1 if isinstance(key, tuple) else 1


def _best_passage(matches: list[tuple[int, int, object]], size: int) -> tuple[int, int]:
    """(start of the first, end of the last) of the run of matches that fits in `size`
    characters and shows the most: distinct terms and phrases first (weighted by
    `_weight`), then more matches; the earliest of equals."""
    best, best_score = (matches[0][0], matches[0][1]), (0, 0)
    for i, (start, _end, _key) in enumerate(matches):
        keys: set[object] = set()
        count, last_end = 0, start
        for _s, end, key in matches[i:]:
            if end > start + size:
                break
            keys.add(key)
            count += 1
            last_end = max(last_end, end)
        score = (sum(_weight(key) for key in keys), count)
        if score > best_score:
            best, best_score = (start, last_end), score
    return best


def _cuts(text: str, lo: int, hi: int, *, ends: bool) -> list[int]:
    """Where in text[lo:hi] a passage may start (or, with `ends`, end), in order: at a
    word's start (end), at a space, and between two CJK characters; never inside a word."""
    cuts = set()
    for word in _WORD.finditer(text, lo, hi):
        cut = word.end() if ends else word.start()
        if not _inside_word(text, cut):
            cuts.add(cut)
        if _IS_CJK.search(word.group()):
            cuts.update(i for i in range(word.start() + 1, word.end())
                        if _IS_CJK.match(text, i - 1) and _IS_CJK.match(text, i))
    # After punctuation: "(QAT) models" starts at "(", "the end." ends after ".".
    for space in re.finditer(r"\s+", text[lo:hi]):
        cuts.add(lo + (space.start() if ends else space.end()))
    if ends and hi == len(text) or not ends and lo == 0:
        cuts.add(hi if ends else lo)
    return sorted(cut for cut in cuts if lo <= cut <= hi)


def _passage_bounds(text: str, first: int, last: int, size: int) -> tuple[int, int]:
    """A passage of about `size` characters holding text[first:last], cut on words. It
    starts up to SNIPPET_LEAD_CHARS before `first`, at the start of the sentence or line
    `first` is in when that start is that near."""
    lead = min(SNIPPET_LEAD_CHARS, max(0, (size - (last - first)) // 2))
    starts = _cuts(text, max(0, first - lead), first, ends=False)
    begin = starts[0] if starts else first
    sentence = max(text.rfind("\n", begin, first),
                   *(text.rfind(mark, begin, first) + 1 for mark in (". ", "? ", "! ", "。")))
    if sentence > begin:
        begin = next((cut for cut in starts if cut > sentence), first)
    ends = _cuts(text, last, max(last, min(len(text), begin + size)), ends=True)
    return begin, ends[-1] if ends else last


def _passage_spans(text: str, begin: int, end: int,
                   marks: list[tuple[int, int]]) -> tuple[tuple[str, bool], ...]:
    """text[begin:end] as (text, is_match) pieces, whitespace collapsed, "…" where text is
    left out. Overlapping or touching marks merge into one (CJK bigrams overlap)."""
    merged: list[list[int]] = []
    for start, stop in sorted(marks):
        start, stop = max(start, begin), min(stop, end)
        if start >= stop:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    pieces: list[tuple[str, bool]] = []
    at = begin
    for start, stop in merged:
        pieces += [(text[at:start], False), (text[start:stop], True)]
        at = stop
    pieces.append((text[at:end], False))
    if text[:begin].strip():
        pieces.insert(0, ("… ", False))
    if text[end:].strip():
        pieces.append((" …", False))
    spans = [(re.sub(r"\s+", " ", piece), is_match) for piece, is_match in pieces]
    spans = [(piece, is_match) for piece, is_match in spans if piece]
    # No space at either end, and one space (not two) where an ellipsis meets a space.
    joined: list[tuple[str, bool]] = []
    for piece, is_match in spans:
        if joined and joined[-1][0].endswith(" ") and piece.startswith(" "):
            piece = piece[1:]
        if piece:
            joined.append((piece, is_match))
    if joined and not joined[0][1]:
        joined[0] = (joined[0][0].lstrip(), False)
    if joined and not joined[-1][1]:
        joined[-1] = (joined[-1][0].rstrip(), False)
    return tuple((piece, is_match) for piece, is_match in joined if piece)


def _snippet(text: str, wanted: _Wanted, analyzer,
             size: int = SNIPPET_CHARS) -> tuple[tuple[str, bool], ...]:
    """The passage of `text` that best shows the wanted words, or () if it shows none."""
    matches = _matches(text, wanted, analyzer)
    if not matches:
        return ()
    first, last = _best_passage(matches, size)
    begin, end = _passage_bounds(text, first, last, size)
    marks = [(start, stop) for start, stop, _key in matches if start >= begin and stop <= end]
    return _passage_spans(text, begin, end, marks)


def _lead(text: str, size: int = SNIPPET_CHARS) -> tuple[tuple[str, bool], ...]:
    """The opening of a text, cut on a word, for a post whose text shows no query word."""
    start = len(text) - len(text.lstrip())
    if start == len(text):
        return ()
    cuts = _cuts(text, start, min(len(text), start + size), ends=True)
    end = max((cut for cut in cuts if cut > start), default=min(len(text), start + size))
    return _passage_spans(text, start, end, [])


def _make_hit(fields: dict, score: float | None, body: str, wanted: dict[str, _Wanted],
              analyzer, duplicates: int = 0) -> Hit:
    summary = fields.get("summary", "")
    spans: tuple[tuple[str, bool], ...] = ()
    for name, text in (("body", body), ("summary", summary)):
        if text and name in wanted:
            spans = _snippet(text, wanted[name], analyzer)
            if spans:
                break
    if not spans:
        spans = _lead(summary or body)
    return Hit(
        id=fields["id"], path=fields["path"], title=fields.get("title", ""),
        url=fields.get("url", ""), source=fields.get("source_name", ""),
        date=fields.get("date"), tags=_split(fields.get("tags")),
        authors=_split(fields.get("authors")), summary=summary,
        thumbnail=fields.get("thumbnail", ""), score=score, snippet_spans=spans,
        duplicates=duplicates,
    )
