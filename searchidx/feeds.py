"""Feeds → posts in the archive: the feed list, polite downloads, safe writes, the state.

`fetch(index_dir)` downloads every subscribed feed, writes one markdown file per new item
under `ARCHIVE/<feed-slug>/`, rewrites a changed item's file only if it still holds what
searchidx wrote, then indexes the archive. A feed that fails is reported and the run goes
on. Parsing and rendering are feeditems.py's; this module does the I/O.

The state (feeds, their ETags, every item written and the hash of its file) is one SQLite
file in the index folder. The order of writes makes a run killed at any point harmless:
a post file appears whole (temporary file, then link or rename), is recorded after it is
written (the next run adopts an identical file it finds unrecorded), and a feed's ETag is
kept only once all its items are written (else the next run would get a 304 and miss them).

Longer than most modules: downloading (limits, redirects, conditional GET), the state and
the safe writes are the steps of one run and share its database and report; OPML import
and export is the feed list's own way in and out.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.client import HTTPException
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from searchidx import __version__, indexer
from searchidx.errors import SearchIdxError
from searchidx.feeditems import Item, NotAFeed, file_name, parse_feed, render_post, slug
from searchidx.records import IndexReport
from searchidx.store import STORE_NAME

# Named after the side store because the indexer keeps `searchidx.sqlite*` when it clears
# the index folder (a new or unreadable index); a plain `feeds.sqlite` would be deleted
# by the first `index` run. tests/test_feeds.py checks that the state survives it.
STATE_NAME = f"{STORE_NAME}-feeds"
LOCK_NAME = f"{STATE_NAME}.lock"
USER_AGENT = f"searchidx/{__version__}"
TEMP_SUFFIX = ".searchidx-tmp"  # hidden temporary files: the indexer skips dot files
ARCHIVE_KEY = "archive"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    name TEXT NOT NULL DEFAULT '',    -- given with --name; '' = the feed's own title
    title TEXT NOT NULL DEFAULT '',   -- the feed's title at the last fetch
    folder TEXT NOT NULL DEFAULT '',  -- its folder in the archive, fixed at the first fetch
    etag TEXT,
    last_modified TEXT,
    fetched_at TEXT,                  -- ISO 8601 UTC of the last successful fetch
    error TEXT                        -- why the last fetch failed; NULL when it did not
);
CREATE TABLE IF NOT EXISTS items (
    key TEXT PRIMARY KEY,             -- feeditems.item_key: guid, else url, else title + date
    feed_url TEXT NOT NULL,           -- the feed that wrote it: only that one updates it
    path TEXT NOT NULL,               -- absolute path of the file written
    digest TEXT NOT NULL,             -- Item.digest of the version written
    file_hash TEXT NOT NULL           -- sha256 of the bytes written: unchanged = not edited
);
CREATE INDEX IF NOT EXISTS items_path ON items (path);
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Limits:
    """How much one feed may cost."""

    timeout: float = 30.0  # seconds for the whole download, redirects included
    max_bytes: int = 20 * 1024 * 1024  # the body, before and after gzip
    max_redirects: int = 5


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Feed:
    url: str
    name: str = ""
    title: str = ""
    folder: str = ""
    etag: str | None = None
    last_modified: str | None = None
    fetched_at: str | None = None
    error: str | None = None

    @property
    def source(self) -> str:
        """What its posts give as `source`: --name, else the feed's title, else its host."""
        return self.name or self.title or urlsplit(self.url).hostname or self.url

    def to_json(self) -> dict:
        return {"url": self.url, "name": self.name, "title": self.title, "source": self.source,
                "folder": self.folder, "fetched_at": self.fetched_at, "error": self.error}


@dataclass
class FeedReport:
    """What one fetch did with one feed."""

    url: str
    source: str
    new: list[str] = field(default_factory=list)  # paths written
    updated: list[str] = field(default_factory=list)  # paths rewritten
    unchanged: int = 0
    left_alone: list[str] = field(default_factory=list)  # "path: why it was not rewritten"
    not_modified: bool = False  # the server said 304
    failed: str | None = None  # why the feed could not be fetched or read

    def to_json(self) -> dict:
        return {"url": self.url, "source": self.source, "new": self.new,
                "updated": self.updated, "unchanged": self.unchanged,
                "left_alone": self.left_alone, "not_modified": self.not_modified,
                "failed": self.failed}


@dataclass
class FetchReport:
    archive: str
    feeds: list[FeedReport] = field(default_factory=list)
    index: IndexReport | None = None  # None: nothing to index, or index=False
    notices: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failed(self) -> list[FeedReport]:
        return [feed for feed in self.feeds if feed.failed]

    def to_json(self) -> dict:
        return {"archive": self.archive, "feeds": [feed.to_json() for feed in self.feeds],
                "index": self.index.to_json() if self.index else None,
                "notices": self.notices, "seconds": round(self.seconds, 3)}


@dataclass(frozen=True)
class ImportReport:
    added: list[str] = field(default_factory=list)
    known: list[str] = field(default_factory=list)  # subscribed already
    skipped: list[str] = field(default_factory=list)  # "url: reason"


# --- the feed list --------------------------------------------------------------------

def list_feeds(index_dir: str | Path) -> list[Feed]:
    """The subscribed feeds, in the order they were added."""
    if not (Path(index_dir).expanduser() / STATE_NAME).exists():
        return []
    with _state(index_dir) as db:
        return _feeds(db)


def add_feed(index_dir: str | Path, url: str, name: str | None = None) -> bool:
    """Subscribe to `url` (True), or rename a subscribed feed when `name` is given (False)."""
    url = check_url(url)
    with _state(index_dir) as db:
        known = db.execute("SELECT 1 FROM feeds WHERE url = ?", (url,)).fetchone()
        if known and name is not None:
            db.execute("UPDATE feeds SET name = ? WHERE url = ?", (name.strip(), url))
        elif not known:
            db.execute("INSERT INTO feeds (url, name) VALUES (?, ?)", (url, (name or "").strip()))
        return not known


def remove_feed(index_dir: str | Path, url: str) -> None:
    """Unsubscribe. Its posts stay in the archive, and stay known: a feed added again
    later does not write them twice."""
    with _state(index_dir) as db:
        if not db.execute("DELETE FROM feeds WHERE url = ?", (url.strip(),)).rowcount:
            raise SearchIdxError(f"{url}: not a subscribed feed (see `searchidx feeds list`)")


def check_url(url: str) -> str:
    """`url` if it is an http(s) address; SearchIdxError otherwise."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SearchIdxError(f"{url or '(empty)'}: not an http(s) address")
    return url


def import_opml(index_dir: str | Path, path: str | Path) -> ImportReport:
    """Subscribe to every feed of an OPML file (outlines with an xmlUrl, at any depth)."""
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise SearchIdxError(f"{path}: not valid OPML ({exc}) — nothing imported") from exc
    except OSError as exc:
        raise SearchIdxError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    report = ImportReport()
    with _state(index_dir) as db:
        for outline in root.iter("outline"):
            if not (outline.get("xmlUrl") or "").strip():
                continue  # a folder, or a link that is not a feed
            try:
                url = check_url(outline.get("xmlUrl"))
            except SearchIdxError as exc:
                report.skipped.append(str(exc))
                continue
            name = " ".join((outline.get("title") or outline.get("text") or "").split())
            added = db.execute("INSERT OR IGNORE INTO feeds (url, name) VALUES (?, ?)",
                               (url, name)).rowcount
            (report.added if added else report.known).append(url)
    return report


def export_opml(index_dir: str | Path) -> str:
    """The feed list as OPML 2.0, for a feed reader (or `feeds import` elsewhere)."""
    opml = ET.Element("opml", version="2.0")
    head = ET.SubElement(opml, "head")
    ET.SubElement(head, "title").text = "searchidx feeds"
    body = ET.SubElement(opml, "body")
    for feed in list_feeds(index_dir):
        attributes = {"type": "rss", "text": feed.source, "xmlUrl": feed.url}
        if feed.name:
            attributes["title"] = feed.name
        ET.SubElement(body, "outline", attributes)
    ET.indent(opml)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(opml, encoding="unicode")


# --- fetching -------------------------------------------------------------------------

def fetch(
    index_dir: str | Path,
    archive: str | Path | None = None,
    *,
    limits: Limits = DEFAULT_LIMITS,
    index: bool = True,
) -> FetchReport:
    """Fetch every feed, write new and changed posts under `archive`, then (with `index`)
    bring the index in step with the archive. `archive` is remembered: without it, the
    last one given is used. Only one fetch runs at a time per index."""
    started = time.monotonic()
    index_dir = Path(index_dir).expanduser()
    with _state(index_dir) as db, _fetch_lock(index_dir):
        subscribed = _feeds(db)
        if not subscribed:
            return FetchReport("", notices=["no feeds: add one with `searchidx feeds add URL`"])
        root = _archive(db, archive)
        report = FetchReport(str(root))
        _remove_temporary_files(root)
        seen: set[str] = set()  # item keys met in this run: a repeated item is written once
        for feed in subscribed:
            report.feeds.append(_fetch_feed(db, feed, root, limits, seen))
    if index and root.is_dir():
        try:
            report.index = indexer.update(index_dir, [root])
        except SearchIdxError as exc:
            report.notices.append(f"the posts are written but not indexed ({exc}); "
                                  f"run `searchidx index` to index them")
    report.seconds = time.monotonic() - started
    return report


def _archive(db: sqlite3.Connection, archive: str | Path | None) -> Path:
    if archive is not None:
        root = Path(os.path.abspath(Path(archive).expanduser()))
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (ARCHIVE_KEY, str(root)))
        return root
    row = db.execute("SELECT value FROM meta WHERE key = ?", (ARCHIVE_KEY,)).fetchone()
    if row is None:
        raise SearchIdxError("no archive folder yet: give one once with "
                             "`searchidx fetch --archive DIR` (it is remembered)")
    return Path(row[0])


def _parsed(response):
    """The feed in a response. Whatever odd thing a feed holds is that feed's failure,
    never the whole fetch's."""
    try:
        return parse_feed(response.body, response.url, response.content_type)
    except NotAFeed:
        raise
    except Exception as exc:  # noqa: BLE001
        raise NotAFeed(f"not a feed searchidx can read ({type(exc).__name__}: {exc})") from exc


def _fetch_feed(db: sqlite3.Connection, feed: Feed, root: Path, limits: Limits,
                seen: set[str]) -> FeedReport:
    report = FeedReport(feed.url, feed.source)
    try:
        response = download(feed.url, feed.etag, feed.last_modified, limits)
        if response.status == 304:
            report.not_modified = True
            _record_fetch(db, feed)
            return report
        parsed = _parsed(response)
    except (FetchFailed, NotAFeed) as exc:
        report.failed = str(exc)
        db.execute("UPDATE feeds SET error = ? WHERE url = ?", (report.failed, feed.url))
        return report
    title = parsed.title or feed.title
    folder = feed.folder or _new_folder(db, slug(feed.name or title) or slug(feed.source))
    feed = Feed(feed.url, feed.name, title, folder)
    report.source = feed.source
    try:
        for item in parsed.items:
            if item.key not in seen:
                seen.add(item.key)
                _store_item(db, feed, item, root / feed.folder, report)
            else:
                report.unchanged += 1
    except OSError as exc:  # disk full, no permission: the next run tries the feed again
        report.failed = f"cannot write to {root / feed.folder} ({exc.strerror or exc})"
        db.execute("UPDATE feeds SET error = ? WHERE url = ?", (report.failed, feed.url))
        return report
    _record_fetch(db, feed, response)
    return report


def _new_folder(db: sqlite3.Connection, name: str) -> str:
    """A folder no other feed writes to: two feeds of the same title (a blog's English and
    Chinese editions) stay apart."""
    name, number = name or "feed", 1
    folder = name
    while db.execute("SELECT 1 FROM feeds WHERE folder = ?", (folder,)).fetchone():
        number += 1
        folder = f"{name}-{number}"
    return folder


def _record_fetch(db: sqlite3.Connection, feed: Feed, response: Response | None = None) -> None:
    """A successful fetch (after its items are written: see the module docstring)."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    db.execute("UPDATE feeds SET fetched_at = ?, error = NULL, title = ?, folder = ? "
               "WHERE url = ?", (now, feed.title, feed.folder, feed.url))
    if response is not None:
        db.execute("UPDATE feeds SET etag = ?, last_modified = ? WHERE url = ?",
                   (response.etag, response.last_modified, feed.url))


def _store_item(db: sqlite3.Connection, feed: Feed, item: Item, folder: Path,
                report: FeedReport) -> None:
    known = db.execute("SELECT feed_url, path, digest, file_hash FROM items WHERE key = ?",
                       (item.key,)).fetchone()
    if known is None:
        data = render_post(item, feed.source).encode("utf-8")
        path = _write_new(db, folder, file_name(item), data)
        db.execute("INSERT INTO items VALUES (?, ?, ?, ?, ?)",
                   (item.key, feed.url, str(path), item.digest, _sha256(data)))
        report.new.append(str(path))
        return
    feed_url, path, digest, file_hash = known
    if digest == item.digest or feed_url != feed.url:
        report.unchanged += 1  # another feed wrote it: that feed's version stays
        return
    # The feed's version changed. The new digest is recorded whatever happens, so that a
    # file left alone is reported once, not on every run.
    db.execute("UPDATE items SET digest = ? WHERE key = ?", (item.digest, item.key))
    on_disk = _file_sha256(Path(path))
    if on_disk is None:
        report.left_alone.append(f"{path}: deleted since searchidx wrote it; not written again")
        return
    if on_disk != file_hash:
        report.left_alone.append(f"{path}: edited since searchidx wrote it; the feed's new "
                                 f"version was not written")
        return
    data = render_post(item, feed.source).encode("utf-8")
    if _sha256(data) == file_hash:
        report.unchanged += 1  # nothing the post shows changed
        return
    _write_atomically(Path(path), data)
    db.execute("UPDATE items SET file_hash = ? WHERE key = ?", (_sha256(data), item.key))
    report.updated.append(path)


# --- files ----------------------------------------------------------------------------

def _write_new(db: sqlite3.Connection, folder: Path, name: str, data: bytes) -> Path:
    """Write `data` under `name` in `folder`, or `<stem>-2.md`… if that name is taken: a
    file that is there already is never replaced. An identical file no item owns is
    adopted: a run killed between writing it and recording it left it."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = name.removesuffix(".md")
    number = 1
    while True:
        path = folder / (name if number == 1 else f"{stem}-{number}.md")
        number += 1
        owned = db.execute("SELECT 1 FROM items WHERE path = ?", (str(path),)).fetchone()
        if owned:
            continue
        if path.exists():
            if _file_sha256(path) == _sha256(data):
                return path
            continue
        if _create_atomically(path, data):
            return path


def _temporary(path: Path, data: bytes) -> Path:
    """A hidden, fsynced copy of `data` beside `path` (same file system: rename is atomic)."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}{TEMP_SUFFIX}")
    with open(temporary, "wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())
    return temporary


def _create_atomically(path: Path, data: bytes) -> bool:
    """Make `path` hold `data`, whole or not at all; False if `path` exists already."""
    temporary = _temporary(path, data)
    try:
        os.link(temporary, path)  # fails if `path` exists, unlike a rename
    except FileExistsError:
        return False
    except OSError:  # a file system without hard links (FAT, some network mounts)
        if path.exists():
            return False
        os.replace(temporary, path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
    return True


def _write_atomically(path: Path, data: bytes) -> None:
    os.replace(_temporary(path, data), path)


def _remove_temporary_files(root: Path) -> None:
    """Temporary files a killed run left in the feed folders. Only one fetch runs at a
    time (the lock), so none of them is being written."""
    if root.is_dir():
        for temporary in root.glob(f"*/.*{TEMP_SUFFIX}"):
            temporary.unlink(missing_ok=True)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_sha256(path: Path) -> str | None:
    try:
        return _sha256(path.read_bytes())
    except FileNotFoundError:
        return None


# --- downloading ----------------------------------------------------------------------

class FetchFailed(Exception):
    """A feed could not be downloaded; the message is the reason, for the report."""


@dataclass(frozen=True)
class Response:
    status: int  # 200 (or another 2xx), or 304 Not Modified
    url: str  # after redirects: what relative links are relative to
    body: bytes = b""  # decompressed
    content_type: str = ""
    etag: str | None = None
    last_modified: str | None = None


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Redirects come back as errors; `download` follows them itself, checking each."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)
_REDIRECTS = (301, 302, 303, 307, 308)


def download(url: str, etag: str | None = None, last_modified: str | None = None,
             limits: Limits = DEFAULT_LIMITS) -> Response:
    """GET a feed politely: conditional, gzip, bounded in time, size and redirects, http(s)
    only. Raises FetchFailed with the reason."""
    deadline = time.monotonic() + limits.timeout
    visited: list[str] = []
    while True:
        if urlsplit(url).scheme not in ("http", "https"):
            raise FetchFailed(f"redirected to {url}, which is not http(s)")
        headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "gzip",
                   "Accept": "application/rss+xml, application/atom+xml, application/feed+json,"
                             " application/xml;q=0.9, */*;q=0.8"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            with _OPENER.open(urllib.request.Request(url, headers=headers),
                              timeout=_remaining(deadline, limits)) as response:
                body = _read(response, deadline, limits)
                return Response(response.status, url, body,
                                response.headers.get("Content-Type", ""),
                                response.headers.get("ETag"),
                                response.headers.get("Last-Modified"))
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 304:
                return Response(304, url, etag=etag, last_modified=last_modified)
            location = exc.headers.get("Location")
            if exc.code not in _REDIRECTS or not location:
                raise FetchFailed(f"HTTP {exc.code} {exc.reason}") from None
            visited.append(url)
            url = urljoin(url, location)
            if url in visited:
                raise FetchFailed(f"redirect loop ({' -> '.join([*visited, url])})") from None
            if len(visited) > limits.max_redirects:
                raise FetchFailed(f"more than {limits.max_redirects} redirects") from None
        except urllib.error.URLError as exc:
            raise FetchFailed(_reason(exc.reason, limits)) from None
        except (TimeoutError, OSError, HTTPException, ValueError) as exc:
            raise FetchFailed(_reason(exc, limits)) from None


def _remaining(deadline: float, limits: Limits) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError
    return left


def _read(response, deadline: float, limits: Limits) -> bytes:
    """The body, at most `max_bytes` before and after decompression, within the deadline."""
    declared = response.headers.get("Content-Length", "")
    if declared.isdigit() and int(declared) > limits.max_bytes:
        raise FetchFailed(f"larger than {_megabytes(limits.max_bytes)} ({declared} bytes)")
    chunks, size = [], 0
    while chunk := response.read1(64 * 1024):  # read1: a server sending a byte at a time
        size += len(chunk)                    # still meets the deadline
        if size > limits.max_bytes:
            raise FetchFailed(f"larger than {_megabytes(limits.max_bytes)}")
        chunks.append(chunk)
        _remaining(deadline, limits)
    body = b"".join(chunks)
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchFailed(f"unsupported Content-Encoding {encoding!r}")
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib, by its header
        plain = inflater.decompress(body, limits.max_bytes + 1)
    except zlib.error as exc:
        raise FetchFailed(f"broken {encoding} body ({exc})") from None
    if len(plain) > limits.max_bytes:
        raise FetchFailed(f"larger than {_megabytes(limits.max_bytes)} uncompressed")
    return plain


def _megabytes(size: int) -> str:
    return f"{size / 1024 / 1024:g} MB"


def _reason(error: object, limits: Limits) -> str:
    if isinstance(error, TimeoutError):
        return f"timed out after {limits.timeout:g} s"
    if isinstance(error, FetchFailed):
        return str(error)
    if isinstance(error, OSError) and error.strerror:
        return f"cannot connect ({error.strerror})"
    return f"cannot fetch ({error})"


# --- state ----------------------------------------------------------------------------

@contextlib.contextmanager
def _state(index_dir: str | Path) -> Iterator[sqlite3.Connection]:
    """The feed state, in autocommit mode: every statement is durable on its own."""
    index_dir = Path(index_dir).expanduser()
    index_dir.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(index_dir / STATE_NAME, timeout=30, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")  # `feeds list` while a fetch writes
        # A commit per item; NORMAL does not sync each one. What a power cut loses is only
        # records of files already written, and the next run adopts those files.
        db.execute("PRAGMA synchronous=NORMAL")
        db.executescript(_SCHEMA)
        yield db
    finally:
        db.close()


def _feeds(db: sqlite3.Connection) -> list[Feed]:
    rows = db.execute("SELECT url, name, title, folder, etag, last_modified, fetched_at, error "
                      "FROM feeds ORDER BY rowid")
    return [Feed(*row) for row in rows]


@contextlib.contextmanager
def _fetch_lock(index_dir: Path) -> Iterator[None]:
    fd = os.open(index_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SearchIdxError(
                f"another `searchidx fetch` is running for the index {index_dir}") from None
        yield
    finally:
        os.close(fd)  # closing releases the flock
