"""The side store next to the Whoosh index: one SQLite file.

Whoosh pickles stored fields per document, which makes a stored body slow to write and
large on disk (WHOOSH.md section 9). Bodies live here instead, compressed, keyed by the
content hash of the file they came from. The store also records what the index holds per
file (mtime, size, ctime, hash, the configuration it was read with) so a re-sync is a
table scan, and the roots, their configuration files and the last update.

Crash safety: texts are written before the Whoosh commit and removed only after it, and
`files` is written after it. A run killed in between leaves texts nobody uses (removed
by the next rebuild) or a `files` table behind the index (the next run re-does those files).
"""

from __future__ import annotations

import json
import sqlite3
import zlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import NamedTuple

STORE_NAME = "searchidx.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS texts (
    hash TEXT PRIMARY KEY,
    body BLOB NOT NULL,      -- zlib: plain text, for snippets and similar posts
    markdown BLOB NOT NULL   -- zlib, the plain text its preset dictionary: the body as written
);
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    id TEXT NOT NULL,
    mtime_ns INTEGER NOT NULL,
    size INTEGER NOT NULL,
    hash TEXT NOT NULL,
    ctime_ns INTEGER,        -- NULL: not known (a store from before it was recorded)
    config TEXT              -- digest of the configuration it was read with (NULL: not known)
);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL      -- JSON
);
"""


class FileState(NamedTuple):  # one per file
    """What the index holds for one file. A tuple, so the store's rows become states
    without a Python call each (a re-sync of 1,000,000 files reads them all)."""

    path: str
    id: str
    mtime_ns: int
    size: int
    hash: str
    ctime_ns: int | None = None  # None: not known, so the file is hashed on the next sync
    config: str | None = None  # Config.digest; None: not known, so the file is read again


def signature(mtime_ns: int, size: int, ctime_ns: int, config: str) -> str:
    """A file's stat and configuration digest as `Store.file_signatures` gives them: the
    same string exactly when all four are the same."""
    return f"{mtime_ns} {size} {ctime_ns} {config}"


@dataclass(frozen=True)
class StoredText:
    body: str
    markdown: str


class Store:
    """One connection to the side store. Not shared between threads."""

    def __init__(self, index_dir: str | Path, readonly: bool = False) -> None:
        """Readers open it read-only, so an index on read-only storage can be searched."""
        self.path = Path(index_dir) / STORE_NAME
        if readonly:
            self._db = _open_readonly(self.path)
            return
        self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(files)")}
        for column in ("ctime_ns INTEGER", "config TEXT"):  # stores from before they were
            if column.split()[0] not in columns:
                self._db.execute(f"ALTER TABLE files ADD COLUMN {column}")

    def close(self) -> None:
        self._db.close()

    # --- texts ---
    def put_texts(self, texts: Iterable[tuple[str, str, str]]) -> None:
        """Store (hash, body, markdown) rows in one transaction."""
        rows = ((h, *_compressed(body, markdown)) for h, body, markdown in texts)
        with self._transaction():
            self._db.executemany("INSERT OR IGNORE INTO texts VALUES (?, ?, ?)", rows)

    def get_text(self, content_hash: str) -> StoredText | None:
        row = self._db.execute(
            "SELECT body, markdown FROM texts WHERE hash = ?", (content_hash,)
        ).fetchone()
        if row is None:
            return None
        plain = zlib.decompress(row[0])
        written = zlib.decompressobj(zdict=plain).decompress(row[1])
        return StoredText(*(text.decode("utf-8", "surrogatepass") for text in (plain, written)))

    def get_bodies(self, hashes: Iterable[str]) -> dict[str, str]:
        hashes = list(set(hashes))
        if not hashes:
            return {}
        marks = ",".join("?" * len(hashes))
        rows = self._db.execute(f"SELECT hash, body FROM texts WHERE hash IN ({marks})", hashes)
        return {h: zlib.decompress(b).decode("utf-8", "surrogatepass") for h, b in rows}

    # --- files ---
    def file_signatures(self) -> dict[str, str | None]:
        """path -> `signature` of what was recorded for it, for every file: a string a
        row, as a re-sync that changes nothing needs no more (building a FileState a
        row took 0.6 s of such a re-sync at 200,000 files). None where the ctime or
        the configuration is not known."""
        return dict(self._db.execute(
            "SELECT path, mtime_ns || ' ' || size || ' ' || ctime_ns || ' ' || config"
            " FROM files"))

    def files(self) -> dict[str, FileState]:
        rows = self._db.execute(
            "SELECT path, id, mtime_ns, size, hash, ctime_ns, config FROM files")
        # tuple.__new__ directly: FileState._make is a Python call per row
        return {state.path: state for state in map(partial(tuple.__new__, FileState), rows)}

    def record_files(
        self,
        indexed: Iterable[FileState],
        removed: Iterable[str],
        replace_all: bool = False,
    ) -> None:
        """After a Whoosh commit: record what the index now holds, drop unused texts.
        With replace_all, `indexed` is everything the index holds (read once, as it
        comes: a build of 1,000,000 posts need not hold them all).

        Only the texts of the files replaced or removed can have become unused, so only
        they are looked at: sweeping every text took 1.2 s of a 200,000-post re-sync that
        changed nothing. Texts left by a run that died before this step are swept by the
        next rebuild (they are only disk: a file re-read later finds its text by hash)."""
        removed = list(removed)
        with self._transaction():
            if replace_all:
                self._db.execute("DELETE FROM files")
                replaced = []
            else:
                indexed = list(indexed)
                replaced = self._hashes_of([f.path for f in indexed] + removed)
            self._db.executemany(
                "INSERT OR REPLACE INTO files (path, id, mtime_ns, size, hash, ctime_ns, config) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)", indexed)
            self._db.executemany("DELETE FROM files WHERE path = ?", ((p,) for p in removed))
            if replace_all:
                self._db.execute("DELETE FROM texts WHERE hash NOT IN (SELECT hash FROM files)")
            elif stale := set(replaced) - {f.hash for f in indexed}:
                self._db.execute(
                    "DELETE FROM texts WHERE hash IN (SELECT value FROM json_each(?)) "
                    "AND hash NOT IN (SELECT hash FROM files)", (json.dumps(sorted(stale)),))

    def _hashes_of(self, paths: list[str]) -> list[str]:
        """The recorded content hashes of these paths (those recorded)."""
        rows = self._db.execute("SELECT hash FROM files WHERE path IN "
                                "(SELECT value FROM json_each(?))", (json.dumps(paths),))
        return [h for (h,) in rows]

    def clear(self) -> None:
        with self._transaction():
            self._db.execute("DELETE FROM files")
            self._db.execute("DELETE FROM texts")

    def set_meta(self, values: dict[str, object]) -> None:
        with self._transaction():
            self._db.executemany(
                "INSERT OR REPLACE INTO meta VALUES (?, ?)",
                ((key, json.dumps(value)) for key, value in values.items()),
            )

    def meta(self, key: str, default: object = None) -> object:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else default

    def _transaction(self):
        return _Transaction(self._db)


def _compressed(body: str, markdown: str) -> tuple[bytes, bytes]:
    """A post's plain text and markdown as stored. The markdown is compressed with the
    plain text as zlib's preset dictionary: it is mostly the same words, so it takes ~6%
    of what it takes alone (a sample of 3,000 generated posts). With the body at level 6,
    the side store of 50,000 generated posts went from 344 to 206 MB."""
    plain = body.encode("utf-8", "surrogatepass")
    compressor = zlib.compressobj(6, zdict=plain)
    written = markdown.encode("utf-8", "surrogatepass")
    return zlib.compress(plain, 6), compressor.compress(written) + compressor.flush()


def _open_readonly(path: Path) -> sqlite3.Connection:
    uri = path.absolute().as_uri()
    try:
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=30, isolation_level=None)
        db.execute("SELECT count(*) FROM meta").fetchone()
        return db
    except sqlite3.OperationalError:
        # A WAL database on read-only storage cannot create its -shm file; nothing can
        # be writing there, so reading it as immutable is safe.
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, isolation_level=None)


class _Transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type, exc, tb) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
