"""What the library returns: plain records, each with its JSON shape (searches, posts,
stats, and the report of an indexing run).

Nothing Whoosh is in them. `Hit.of` and `PostRecord.of` take a post's stored values as
`schema.from_stored` decodes them.
"""

from __future__ import annotations

import dataclasses
import html
from dataclasses import dataclass, field
from datetime import datetime

from searchidx.cites import Citation
from searchidx.schema import identifies_post


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

    @classmethod
    def of(cls, post: dict, score: float | None,
           snippet_spans: tuple[tuple[str, bool], ...] = (), duplicates: int = 0) -> Hit:
        """The hit for a post's stored values (`schema.from_stored`)."""
        return cls(**_pick(cls, post), score=score, snippet_spans=snippet_spans,
                   duplicates=duplicates)

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
            "authors": list(self.authors),
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
    # as typed -> what was searched for too: {"RL": ["reinforcement learning"]}
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    seconds: float = 0.0
    # The earliest dated post of all the matches (with the facets): "first mentioned".
    first: Hit | None = None

    @property
    def also_searched(self) -> str | None:
        """The synonyms used, for people: "RL = reinforcement learning"."""
        return "; ".join(f"{typed} = {' / '.join(also)}"
                         for typed, also in self.synonyms.items()) or None

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
            "synonyms": self.synonyms,
            "first": self.first.to_json() if self.first else None,
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
    cites: tuple[Citation, ...] = ()  # papers and code it cites (cites.py)

    @classmethod
    def of(cls, post: dict, body: str, markdown: str) -> PostRecord:
        """The record for a post's stored values (`schema.from_stored`) and its text."""
        return cls(**_pick(cls, post), body=body, markdown=markdown)

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
            "cites": [{"kind": c.kind, "id": c.id, "url": c.url} for c in self.cites],
        }

    def to_export(self) -> dict:
        """Every field, the markdown as written included: a line of `searchidx export`."""
        return {**self.to_json(), "markdown": self.markdown}


@dataclass(frozen=True)
class Stats:
    posts: int
    sources: dict[str, int]
    first_date: datetime | None
    last_date: datetime | None
    undated: int  # posts with no date (none, or a placeholder, and none in the file name)
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
            "undated": self.undated, "duplicates": self.duplicates, "hidden": self.hidden,
            "index_bytes": self.index_bytes, "updated_at": self.updated_at, "roots": self.roots,
            "unreadable": self.unreadable,
        }


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str
    was_indexed: bool = False  # its last readable version was taken out of the index


@dataclass
class IndexReport:
    """What one `update` or `forget` run did."""

    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)  # what the user should know or do
    seconds: float = 0.0
    rebuilt_because: str | None = None  # set when an unreadable index was rebuilt

    def to_json(self) -> dict:
        return {
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": self.unchanged,
            "skipped": [{"path": s.path, "reason": s.reason, "was_indexed": s.was_indexed}
                        for s in self.skipped],
            "notices": self.notices,
            "seconds": round(self.seconds, 3),
        }


def _pick(record: type, post: dict) -> dict:
    """The stored values a record type has fields for."""
    names = {f.name for f in dataclasses.fields(record)}
    return {name: value for name, value in post.items() if name in names}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() + "Z" if value else None


def _link(url: str) -> str:
    # `url` stays as written (the JSON shows it): a placeholder is still what the file says.
    return url.strip() if identifies_post(url) else ""
