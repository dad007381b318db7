"""What a user would compare searchidx against, on the same posts and queries.

- SQLite FTS5 (stdlib `sqlite3`, porter stemming, BM25): indexing and query latency.
- A naive Whoosh indexer (the tutorial way: default writer, one `add_document` per post,
  `StemmingAnalyzer`, body stored): indexing only.

Both read the files with python-frontmatter, so the parse cost is the same kind of cost
searchidx pays.
"""

from __future__ import annotations

import os
import re
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import frontmatter
from whoosh import fields
from whoosh import index as whoosh_index
from whoosh.analysis import StemmingAnalyzer

from searchidx.posts import parse_date


def post_files(root: str | Path) -> list[Path]:
    """Every .md file under root, in a stable order."""
    found = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()
        found.extend(Path(folder, name) for name in sorted(filenames) if name.endswith(".md"))
    return found


def _read(path: Path) -> tuple[str, str, str, str]:
    """(title, summary, body, ISO date) of one post, as the baselines index it."""
    post = frontmatter.load(str(path))
    meta = post.metadata
    date = parse_date(meta.get("pubDate") or meta.get("date"))
    summary = meta.get("summary") or meta.get("description") or ""
    return (str(meta.get("title") or ""), str(summary), post.content,
            date.strftime("%Y-%m-%d") if date else "")


def _rows(files: list[Path]) -> Iterator[tuple[str, str, str, str, str]]:
    for path in files:
        try:
            title, summary, body, date = _read(path)
        except Exception:  # noqa: BLE001 - a baseline skips what it cannot read, as we do
            continue
        yield title, summary, body, date, str(path)


# --- SQLite FTS5 -------------------------------------------------------------------------

FTS_SCHEMA = (
    "CREATE VIRTUAL TABLE posts USING fts5("
    "title, summary, body, date UNINDEXED, path UNINDEXED, tokenize='porter unicode61')"
)


def fts5_index(files: list[Path], db_path: str | Path) -> float:
    """Build an FTS5 table of the posts; returns seconds taken."""
    started = time.perf_counter()
    Path(db_path).unlink(missing_ok=True)
    db = sqlite3.connect(str(db_path))
    try:
        db.execute(FTS_SCHEMA)
        with db:
            db.executemany("INSERT INTO posts VALUES (?, ?, ?, ?, ?)", _rows(files))
    finally:
        db.close()
    return time.perf_counter() - started


def fts5_match(text: str) -> str:
    """A user's words as an FTS5 query: each word quoted, any word may match (like the
    OR-with-bonus ranking searchidx uses), so punctuation never breaks the syntax."""
    words = re.findall(r"\w+", text)
    return " OR ".join(f'"{w}"' for w in words)


class Fts5Searcher:
    """Top-10 BM25 queries against an FTS5 table, with the same column weights as searchidx
    (title 3, summary 1.5, body 1)."""

    def __init__(self, db_path: str | Path) -> None:
        self.db = sqlite3.connect(str(db_path))

    def search(self, text: str, *, snippets: bool = False, since: str | None = None) -> list:
        sql = "SELECT path, title, date"
        if snippets:
            sql += ", snippet(posts, 2, '<mark>', '</mark>', '…', 24)"
        sql += " FROM posts WHERE posts MATCH ?"
        params: list = [fts5_match(text)]
        if since:
            sql += " AND date >= ?"
            params.append(since)
        # searchidx's field weights (ranking.DEFAULT_RANKING: title 2, summary 5, body 1)
        sql += " ORDER BY bm25(posts, 2.0, 5.0, 1.0) LIMIT 10"
        return self.db.execute(sql, params).fetchall()

    def close(self) -> None:
        self.db.close()


# --- naive Whoosh ------------------------------------------------------------------------

def naive_whoosh_schema() -> fields.Schema:
    return fields.Schema(
        path=fields.ID(stored=True, unique=True),
        title=fields.TEXT(stored=True),
        summary=fields.TEXT(stored=True),
        body=fields.TEXT(analyzer=StemmingAnalyzer(), stored=True),
        date=fields.DATETIME(stored=True),
    )


def naive_whoosh_index(files: list[Path], index_dir: str | Path) -> float:
    """Index the posts the way Whoosh's tutorial does; returns seconds taken."""
    started = time.perf_counter()
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    ix = whoosh_index.create_in(str(index_dir), naive_whoosh_schema())
    writer = ix.writer()
    for title, summary, body, date, path in _rows(files):
        writer.add_document(
            path=path, title=title, summary=summary, body=body,
            date=parse_date(date) if date else None,
        )
    writer.commit()
    return time.perf_counter() - started


def dir_bytes(path: str | Path) -> int:
    """Bytes on disk under path (a file or a folder)."""
    path = Path(path)
    if path.is_file():
        return path.stat().st_size
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
