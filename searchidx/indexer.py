"""Keeping the index in step with the archive: scan, diff, parse in parallel, write, commit once.

`update()` is the only writer. It holds a lock file for the whole run, so a second run
fails with the first one's pid, and readers are never blocked (Whoosh readers see the
last committed generation). A run that dies at any point leaves the previous generation
intact; the next run redoes what was lost (see store.py for the order of writes).

Longer than most modules because a run is one concept: roots, scan, diff,
parse and write share the run's candidates and report; the Whoosh internals it needs are
in engine.py. The worker-process half (`_build_in_parallel` onwards) is the natural cut
if it grows.
"""

from __future__ import annotations

import fcntl
import gc
import hashlib
import multiprocessing
import os
import pickle
import queue
import shutil
import sqlite3
import stat
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

from whoosh import writing
from whoosh.filedb.filestore import FileStorage

from searchidx import engine
from searchidx.config import CONFIG_NAME, Config, load_config
from searchidx.errors import IndexLocked, PostError, SearchIdxError
from searchidx.posts import Post, post_id, read_post
from searchidx.records import IndexReport, Skipped
from searchidx.schema import (
    ARRAY_POSTINGS_FIELDS,
    SCHEMA_VERSION,
    PostSchema,
    has_index,
    to_document,
)
from searchidx.store import STORE_NAME, FileState, Store, signature

LOCK_NAME = "writer.lock"
# The postings the writers of one run hold in memory, all together; past it each spills
# sorted runs of whole terms to disk, merged back a few MB of each at a time
# (engine.TermPool). At 200,000 posts two writers of 512 MB each made the peak 1.6 GB.
INDEXING_MEMORY_MB = 384
# Indexing allocates millions of objects (parsed posts, analysed words, a merge's posting
# tuples) and no cycles worth chasing: collecting the youngest generation every 100,000
# allocations instead of 700 saved ~25% of CPU.
_INDEXING_GC_THRESHOLDS = (100_000, 50, 1000)
_BATCH = 100  # files per parse task sent to a worker process
_POOL_THRESHOLD = 200  # fewer files than this are parsed in-process (no pool start-up)
_PARALLEL_BUILD_THRESHOLD = 1000  # a build from scratch this large writes on every core

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Root:
    """An archive folder (or file) the index follows, and the configuration file given
    for it with `--config` (None: the `searchidx.toml` in the folder, if any)."""

    path: Path
    config: Path | None = None

    @property
    def folder(self) -> Path:
        """The root itself, or the folder of a root that is one file."""
        return self.path if self.path.is_dir() else self.path.parent

    @property
    def config_file(self) -> Path:
        """The one given with the root, else `searchidx.toml` in its folder."""
        return self.config or self.folder / CONFIG_NAME

    def holds(self, path: str) -> bool:
        root = str(self.path)
        return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


class _Scope(NamedTuple):  # one per root scanned
    """What a root gives each post file under it."""

    name: str  # the archive folder's name, which starts a post's key
    inside: int  # where a path's part below that folder starts
    aliases: dict[str, tuple[str, ...]]
    defaults: dict[str, str | list[str]]
    config: str  # Config.digest: a post is read again when its configuration changes


class _Candidate(NamedTuple):  # one per file found: a tuple, the fastest to make
    path: str
    mtime_ns: int
    size: int
    ctime_ns: int  # changes on every write and on `touch -r`, which can restore the mtime
    scope: _Scope
    own_key: str | None = None  # its path, when another archive folder of its name has its key

    @property
    def key(self) -> str:
        """Archive folder name + path inside it: what the post id is made from."""
        return self.own_key or _key(self.scope, self.path)

    @property
    def config(self) -> str:
        return self.scope.config

    @property
    def id(self) -> str:
        return post_id(self.key)


def _key(scope: _Scope, path: str) -> str:
    return f"{scope.name}/{path[scope.inside:].replace(os.sep, '/')}"


def update(
    index_dir: str | Path,
    roots: Sequence[str | Path] | None = None,
    *,
    rebuild: bool = False,
    jobs: int | None = None,
    config_path: str | Path | None = None,
    progress: Progress | None = None,
    lock_timeout: float = 3.0,
    verify: bool = False,
) -> IndexReport:
    """Bring the index at `index_dir` in step with the posts under `roots`.

    Roots are remembered, each with the `config_path` given with it: the roots given are
    added to those of earlier runs, and with no roots the remembered ones are re-synced
    (with `config_path`, all of them now use it). `rebuild` starts over with the roots
    given (or the remembered ones if none are given). A root inside a remembered one is
    already indexed and is not added: a post's id comes from the innermost root holding
    it, so adding an outer root later keeps every id.

    A file whose mtime, size, ctime and configuration all match what was recorded is
    taken as unchanged; otherwise it is hashed, and read again only if its content or
    configuration differs. `verify` hashes every file, whatever its stat says.

    A remembered root that is missing keeps its posts as they were (it may be a disk that
    is not mounted right now), and the report says how to drop it (`forget`).
    """
    config = Path(os.path.abspath(Path(config_path).expanduser())) if config_path else None
    given = [_absolute(root) for root in roots or []]
    for path in given:
        if not path.exists():
            raise SearchIdxError(f"{path}: no such file or folder")

    def choose(remembered: list[Root], report: IndexReport) -> list[Root]:
        kept = [] if rebuild and given else remembered
        if config is not None and not given:
            return [Root(root.path, config) for root in kept]
        for path in given:
            known = next((root for root in kept if root.path == path), None)
            outer = next((root for root in kept if root.path != path and root.holds(str(path))),
                         None)
            if known is not None:
                kept[kept.index(known)] = Root(path, config or known.config)
            elif outer is not None:
                if config is not None:
                    raise SearchIdxError(
                        f"{path} is inside {outer.path}, which is indexed already; to read it "
                        f"with {config}, give --config with {outer.path}")
                report.notices.append(f"{path} is already indexed as part of {outer.path}")
            else:
                kept.append(Root(path, config))
        if not kept:
            raise SearchIdxError(
                "no archive to index: give a folder, e.g. `searchidx index ~/archive`")
        return kept

    return _run(index_dir, choose, rebuild=rebuild, jobs=jobs, progress=progress,
                lock_timeout=lock_timeout, verify=verify)


def forget(index_dir: str | Path, folders: Sequence[str | Path], *,
           lock_timeout: float = 3.0, jobs: int | None = None) -> IndexReport:
    """Stop following these remembered roots: their posts leave the index (posts that
    another root also holds stay, under that root). The other roots are re-synced."""
    wanted = [_absolute(folder) for folder in folders]

    def choose(remembered: list[Root], report: IndexReport) -> list[Root]:
        for path in wanted:
            if all(root.path != path for root in remembered):
                listed = ", ".join(str(root.path) for root in remembered) or "none"
                raise SearchIdxError(f"{path} is not an indexed folder (indexed: {listed})")
        return [root for root in remembered if root.path not in wanted]

    return _run(index_dir, choose, rebuild=False, jobs=jobs, progress=None,
                lock_timeout=lock_timeout, verify=False)


def roots(index_dir: str | Path) -> list[tuple[Root, int]]:
    """The roots the index follows, each with the number of files indexed under it
    (a file under nested roots counts for the innermost)."""
    index_dir = Path(index_dir).expanduser().absolute()
    if not (index_dir / STORE_NAME).exists():
        return []
    store = Store(index_dir, readonly=True)
    try:
        followed = _remembered(store)
        counts = dict.fromkeys(followed, 0)
        for path in store.files():
            owner = _innermost(followed, path)
            if owner is not None:
                counts[owner] += 1
    finally:
        store.close()
    return list(counts.items())


def _absolute(path: str | Path) -> Path:
    return Path(os.path.abspath(Path(path).expanduser()))


def _innermost(followed: Iterable[Root], path: str) -> Root | None:
    holding = [root for root in followed if root.holds(path)]
    return max(holding, key=lambda root: len(str(root.path)), default=None)


def _remembered(store: Store) -> list[Root]:
    configs = store.meta("root_configs") or {}
    return [Root(Path(path), Path(configs[path]) if configs.get(path) else None)
            for path in store.meta("roots") or []]


def _run(index_dir: str | Path, choose: Callable[[list[Root], IndexReport], list[Root]], *,
         rebuild: bool, jobs: int | None, progress: Progress | None, lock_timeout: float,
         verify: bool) -> IndexReport:
    """One writing run: lock, choose the roots from the remembered ones, scan, sync."""
    started = time.monotonic()
    index_dir = Path(index_dir).expanduser().absolute()
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        with _WriterLock(index_dir, lock_timeout):
            store = Store(index_dir)
            try:
                report = IndexReport()
                remembered = _remembered(store)
                followed = choose(remembered, report)
                for root in followed:
                    if root.config is not None and not root.config.is_file():
                        raise SearchIdxError(
                            f"{root.config}: the configuration file of {root.path} is missing; "
                            f"give another with `searchidx index {root.path} --config FILE`")
                present = [root for root in followed if root.path.exists()]
                missing = [root for root in followed if root not in present]
                ix, start_over = _open_or_create(index_dir, rebuild, store, report)
                candidates = _scan(present, report)
                _sync(ix, store, candidates, followed, missing, report, jobs, progress,
                      start_over, verify, _keys_as_recorded(followed, remembered))
            finally:
                store.close()
    except (OSError, sqlite3.Error) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise SearchIdxError(
            f"cannot write the index at {index_dir} ({reason}); the previous index is unchanged"
        ) from exc
    report.seconds = time.monotonic() - started
    return report


# --- locking -------------------------------------------------------------------------

class _WriterLock:
    """An exclusive flock held for the whole run. The kernel drops it when the holder
    dies, so a lock left by a killed run never needs deleting by hand."""

    def __init__(self, index_dir: Path, timeout: float) -> None:
        self.path = index_dir / LOCK_NAME
        self.timeout = timeout
        self.fd = -1

    def __enter__(self) -> None:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = os.pread(self.fd, 32, 0).decode("ascii", "replace").strip()
                    os.close(self.fd)
                    raise IndexLocked(
                        f"the index at {self.path.parent} is being updated by pid "
                        f"{holder or '?'}; try again when it has finished"
                    ) from None
                time.sleep(0.1)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, str(os.getpid()).encode(), 0)

    def __exit__(self, *exc_info) -> None:
        os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing releases the flock


# --- opening --------------------------------------------------------------------------

def _open_or_create(index_dir: Path, rebuild: bool, store: Store, report: IndexReport):
    """The index to write to, and whether this run replaces all of its contents.

    A requested rebuild keeps the old index readable until the new one is committed
    (the commit drops the old segments). An index that cannot be read at all is wiped.
    """
    storage = FileStorage(str(index_dir), supports_mmap=False)
    if has_index(index_dir):
        if store.meta("schema_version") != SCHEMA_VERSION:
            report.rebuilt_because = "the index was built by another searchidx version; rebuilt it"
        else:
            try:
                return storage.open_index(), rebuild
            except Exception as exc:  # noqa: BLE001 - any failure to open means: rebuild
                report.rebuilt_because = f"the index could not be opened ({exc}); rebuilt it"
    for entry in index_dir.iterdir():
        if entry.name in (LOCK_NAME, STORE_NAME) or entry.name.startswith(STORE_NAME):
            continue
        if entry.is_dir():
            shutil.rmtree(entry)
        else:
            entry.unlink()
    store.clear()
    ix = storage.create_index(PostSchema())
    store.set_meta({"schema_version": SCHEMA_VERSION})
    return ix, True


# --- scanning -------------------------------------------------------------------------

def _scan(followed: list[Root], report: IndexReport) -> Iterator[_Candidate]:
    """Every post file under the roots, with its stat. Hidden files and folders are
    skipped. A file under nested roots belongs to the innermost (scanned first), whose
    folder name starts its key; a file reached by two paths (links) is indexed once.
    A generator: a re-sync keeps no object for a file that has not changed."""
    seen: set[tuple[int, int]] = set()  # (device, inode) of every file taken
    names = Counter(root.folder.name for root in followed)
    keys: set[str] = set()  # those of roots whose folder name another root has
    root_paths = frozenset(str(root.path) for root in followed)
    for root in sorted(followed, key=lambda root: (-len(root.path.parts), str(root.path))):
        folder = root.folder
        config = load_config(root.config_file)
        scope = _Scope(folder.name, len(os.path.join(folder, "")), config.aliases,
                       config.defaults, config.digest)
        name_shared = names[folder.name] > 1
        for path, st in _walk(root.path, config, report, root_paths - {str(root.path)}):
            if (st.st_dev, st.st_ino) in seen:
                continue
            seen.add((st.st_dev, st.st_ino))
            own_key = None
            if name_shared:
                key = _key(scope, path)
                if key in keys:  # two archive folders of the same name: fall back to the path
                    own_key = key = path
                keys.add(key)
            yield _Candidate(path, st.st_mtime_ns, st.st_size, st.st_ctime_ns, scope, own_key)


def _keys_as_recorded(followed: list[Root], remembered: list[Root]) -> bool:
    """Whether every file found has the key, so the id, recorded for it: true when the
    roots are those of the last run (which checked every id) and no two have a folder of
    the same name (whose keys depend on which files exist). A re-sync then computes no
    id for a file it finds unchanged (0.5 s of a 200,000-post re-sync)."""
    names = [root.folder.name for root in followed]
    return ({root.path for root in followed} == {root.path for root in remembered}
            and len(set(names)) == len(names))


def _walk(root: Path, config: Config, report: IndexReport,
          other_roots: frozenset[str]) -> Iterator[tuple[str, os.stat_result]]:
    """The post files under a root, in name order, with their stat. Symbolic links are
    followed (archives are often assembled from linked folders); a link to a folder
    already walked (a loop, or a second way in) is not walked again, and said so. A
    folder that is a root of its own (`other_roots`) is walked as that root, not here:
    its files would be read twice and its unreadable ones reported twice.
    Paths are strings, and each folder is listed and its entries stat'ed relative to its
    descriptor: pathlib objects took 60% of a re-sync that changed nothing, os.walk,
    os.path.join and DirEntry objects another 20%."""
    if root.is_file():
        yield str(root), root.stat()
        return
    walked: set[tuple[int, int]] = set()
    extensions = config.extensions
    pending = [str(root)]  # folders still to read, the next one last
    while pending:
        folder = pending.pop()
        try:
            fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue  # vanished since listed, or unreadable (as os.walk, which this replaces)
        try:
            st = os.fstat(fd)
            if (st.st_dev, st.st_ino) in walked:
                report.notices.append(f"{folder}: a link to a folder already indexed "
                                      "(under another name); not followed again")
                continue
            walked.add((st.st_dev, st.st_ino))
            subfolders = []
            inside = os.path.join(folder, "")
            for name in sorted(os.listdir(fd)):
                if name.startswith("."):
                    continue
                is_post = name.lower().endswith(extensions)
                path = inside + name
                try:
                    st = os.stat(name, dir_fd=fd)  # follows a link
                except OSError as exc:
                    if is_post and os.path.islink(path):
                        report.skipped.append(Skipped(path, "a symbolic link to a file that "
                                                      "does not exist"))
                    elif is_post and os.path.lexists(path):
                        report.skipped.append(Skipped(path, f"cannot be read ({exc.strerror})"))
                    continue  # otherwise it vanished since listed
                if stat.S_ISDIR(st.st_mode):
                    if path not in other_roots:
                        subfolders.append(path)
                elif is_post:
                    yield path, st
            pending += reversed(subfolders)
        finally:
            os.close(fd)


# --- syncing --------------------------------------------------------------------------

def _sync(ix, store: Store, candidates: Iterable[_Candidate], followed: list[Root],
          missing: list[Root], report: IndexReport, jobs: int | None,
          progress: Progress | None, start_over: bool, verify: bool,
          keys_as_recorded: bool) -> None:
    # What was recorded, first as one string a file: enough to see that a file has not
    # changed, and all a re-sync that changes nothing reads (`known` is read if not).
    recorded = {} if start_over else store.file_signatures()
    present = [root for root in followed if root not in missing]
    for root in missing:
        count = sum(1 for path in recorded if _innermost(followed, path) == root)
        report.notices.append(
            f"{root.path} is missing; its {count} posts are kept as they were. If it moved, "
            f"index the new place and run `searchidx forget {root.path}`; if it is a disk "
            "that is not mounted, mount it and run again")

    fresh_build = start_over or ix.doc_count_all() == 0
    workers = jobs or os.cpu_count() or 1
    if fresh_build and not recorded and workers > 1:
        # Every file is to be read: deal them straight to the workers' shares on disk,
        # and build on every core if there are enough, else read them back.
        with _Shares(Path(ix.storage.folder), workers) as shares:
            for cand in candidates:
                shares.add(cand)
            shares.close()
            if shares.total >= _PARALLEL_BUILD_THRESHOLD:
                _record(store, _build_in_parallel(ix, shares, progress, report), [],
                        followed, report, start_over)
                return
            candidates = [cand for path in shares.paths for cand in _read_batches(path)]

    unseen = recorded  # what the scan has not found (yet)
    to_parse: list[_Candidate] = []
    suspects: list[_Candidate] = []  # recorded with another stat or configuration
    for cand in candidates:
        if cand.path not in unseen:
            to_parse.append(cand)  # new
        elif (unseen.pop(cand.path) == signature(cand.mtime_ns, cand.size, cand.ctime_ns,
                                                 cand.config)
              and keys_as_recorded and not verify):
            report.unchanged += 1
        else:
            suspects.append(cand)

    known = store.files() if not start_over and (to_parse or suspects or unseen) else {}
    refreshed: list[FileState] = []  # touched, same content: only the stat changes
    for cand in suspects:
        state = known[cand.path]
        if (state.config != cand.config
                or (not keys_as_recorded and state.id != cand.id)):
            to_parse.append(cand)  # its root or configuration changed
        elif not verify and _stat_matches(state, cand):
            report.unchanged += 1
        elif _file_hash(cand.path) == state.hash:
            report.unchanged += 1
            if not _stat_matches(state, cand):
                refreshed.append(FileState(state.path, state.id, cand.mtime_ns, cand.size,
                                           state.hash, cand.ctime_ns, cand.config))
        else:
            to_parse.append(cand)

    def kept_while_missing(path: str) -> bool:
        """A file under a missing root whose folder no present root holds: kept as it was."""
        return (any(root.holds(path) for root in missing)
                and not any(root.holds(path) for root in present))

    gone = [known[path] for path in unseen if not kept_while_missing(path)]
    removed = []
    if gone:
        # A moved archive keeps its ids (see post_id): a file that left one place and is
        # found in another under the same id is not taken out, only its old place is
        # forgotten. The ids in use: those of the files to read, unchanged or kept.
        in_use = {cand.id for cand in to_parse}
        reread = {cand.path for cand in to_parse}
        in_use.update(state.id for path, state in known.items() if path not in reread and (
            path not in unseen or kept_while_missing(path)))
        removed = [state for state in gone if state.id not in in_use]

    indexed: list[FileState] = list(refreshed)
    dropped: list[str] = []  # indexed before, unreadable now
    if to_parse or gone or start_over:
        written, dropped = _write_in_process(ix, store, to_parse, known, removed, fresh_build,
                                             start_over, jobs, progress, report)
        indexed += written
    _record(store, indexed, [state.path for state in gone] + dropped, followed, report,
            start_over)


def _record(store: Store, indexed: Iterable[FileState], removed: list[str],
            followed: list[Root], report: IndexReport, start_over: bool) -> None:
    """After the commit: what the index holds now, then the run's facts (which include
    the files found unreadable while `indexed` is read)."""
    store.record_files(indexed, removed, replace_all=start_over)
    store.set_meta(
        {"roots": [str(root.path) for root in followed],
         "root_configs": {str(root.path): str(root.config)
                          for root in followed if root.config is not None},
         # what search reads `[synonyms]` from (existing or not: it may be added later)
         "config_files": [str(root.config_file) for root in followed],
         "unreadable": [{"path": s.path, "reason": s.reason} for s in report.skipped],
         "updated_at": datetime.now(UTC).isoformat()})


def _stat_matches(state: FileState, cand: _Candidate) -> bool:
    """Whether the file's stat is the one recorded. An unknown ctime (a store from before
    it was recorded) never matches, so such a file is hashed once."""
    return (state.ctime_ns is not None
            and (state.mtime_ns, state.size, state.ctime_ns)
            == (cand.mtime_ns, cand.size, cand.ctime_ns))


def _write_in_process(ix, store: Store, to_parse: list[_Candidate],
                      known: dict[str, FileState], removed: list[FileState],
                      fresh_build: bool, start_over: bool, jobs: int | None,
                      progress: Progress | None, report: IndexReport
                      ) -> tuple[list[FileState], list[str]]:
    """One writer in this process: deletions, additions and updates, one commit.
    Returns what was indexed, and the files indexed before that cannot be read now:
    they leave the index (their old text would be found, but is no longer the file's)."""
    indexed: list[FileState] = []
    dropped: list[str] = []
    writer = engine.pooled_writer(ix, INDEXING_MEMORY_MB, ARRAY_POSTINGS_FIELDS)
    default_gc_thresholds = gc.get_threshold()
    gc.set_threshold(*_INDEXING_GC_THRESHOLDS)
    try:
        for state in removed:
            writer.delete_by_term("id", state.id)
        texts: list[tuple[str, str, str]] = []
        for cand, result in _parse_all(to_parse, jobs, progress):
            old = known.get(cand.path)
            if isinstance(result, PostError):
                report.skipped.append(Skipped(result.path, result.reason, old is not None))
                if old is not None:
                    writer.delete_by_term("id", old.id)
                    dropped.append(cand.path)
                continue
            if old is not None and old.id != result.id:  # indexed before under another root
                writer.delete_by_term("id", old.id)
            document = to_document(result)
            (writer.add_document if fresh_build else writer.update_document)(**document)
            texts.append((result.content_hash, result.body, result.markdown))
            if len(texts) >= 500:
                store.put_texts(texts)
                texts.clear()
            if cand.path in known:
                report.updated += 1
            else:
                report.added += 1
            indexed.append(FileState(cand.path, result.id, cand.mtime_ns, cand.size,
                                     result.content_hash, cand.ctime_ns, cand.config))
        store.put_texts(texts)
        writer.commit(mergetype=writing.CLEAR if start_over else None)
    except BaseException:
        writer.cancel()  # a failed commit keeps the lock otherwise (WHOOSH.md B6)
        raise
    finally:
        gc.set_threshold(*default_gc_thresholds)
    engine.drop_stale_postings(ix)
    report.removed = len(removed) + len(dropped)
    return indexed, dropped


class _Shares:
    """The files of a large build, dealt in turn into one file per worker (pickled
    batches), so that no process holds the whole list: at 1,000,000 posts, with the lists
    passed in memory, each of two workers was at 725 MB once it had parsed its share.
    Removed on leaving the block."""

    def __init__(self, index_dir: Path, count: int) -> None:
        for stale in index_dir.glob(_SHARES_PREFIX + "*"):  # left by a killed run
            shutil.rmtree(stale, ignore_errors=True)
        self.folder = Path(tempfile.mkdtemp(prefix=_SHARES_PREFIX, dir=index_dir))
        self.paths = [self.folder / f"share-{number}" for number in range(count)]
        self._files = [open(path, "wb") for path in self.paths]  # noqa: SIM115 - see close
        self._batches: list[list[_Candidate]] = [[] for _ in self.paths]
        self.total = 0

    def add(self, cand: _Candidate) -> None:
        number = self.total % len(self.paths)
        batch = self._batches[number]
        batch.append(cand)
        self.total += 1
        if len(batch) >= _SHARE_BATCH:
            pickle.dump(batch, self._files[number], pickle.HIGHEST_PROTOCOL)
            batch.clear()

    def close(self) -> None:
        """Write what is left; the shares can be read from now on."""
        for batch, f in zip(self._batches, self._files, strict=True):
            if batch and not f.closed:
                pickle.dump(batch, f, pickle.HIGHEST_PROTOCOL)
            f.close()

    def __enter__(self) -> _Shares:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)


_SHARES_PREFIX = "build-"
_SHARE_BATCH = 1000  # files (and results) pickled together in a share


def _read_batches(path: str | Path) -> Iterator:
    """The items of a file of pickled batches, in order."""
    with open(path, "rb") as f:
        while True:
            try:
                batch = pickle.load(f)
            except EOFError:
                return
            yield from batch


def _build_in_parallel(ix, shares: _Shares, progress: Progress | None,
                       report: IndexReport) -> Iterator[FileState]:
    """A large build from scratch: each worker process parses a share of the files and
    writes its own segment, and this process commits the segments together. Returns
    what was indexed, read from the shares and the workers' results as it is used.

    Analysis and writing postings are most of the indexing time (WHOOSH.md section 9);
    this runs them on every core. Whoosh's own MpWriter forks its workers, which then
    outlive a killed indexer; ours come from a forkserver pool and stop with it.
    """
    writer = ix.writer()  # holds Whoosh's lock; the workers' writers take none
    index_dir = ix.storage.folder
    context = _pool_context()
    done = context.Queue()
    memory_mb = INDEXING_MEMORY_MB // len(shares.paths)
    try:
        with ProcessPoolExecutor(len(shares.paths), mp_context=context,
                                 initializer=_start_worker,
                                 initargs=(os.getpid(), done)) as pool:
            futures = [pool.submit(_write_segment, index_dir, str(share), memory_mb)
                       for share in shares.paths]
            parsed = 0
            while not all(future.done() for future in futures):
                try:
                    parsed += done.get(timeout=0.2)
                except queue.Empty:
                    continue
                if progress:
                    progress(parsed, shares.total)
            segments = [future.result() for future in futures]
        engine.commit_segments(writer, [segment for segment in segments if segment is not None])
    except BaseException:
        writer.cancel()
        raise
    engine.drop_stale_postings(ix)
    return _indexed_from(shares, report)


def _indexed_from(shares: _Shares, report: IndexReport) -> Iterator[FileState]:
    for share in shares.paths:
        outcomes = _read_batches(_results_path(share))
        for cand, (doc_id, content_hash, reason) in zip(
                _read_batches(share), outcomes, strict=True):
            if reason is not None:
                report.skipped.append(Skipped(cand.path, reason))
                continue
            report.added += 1
            yield FileState(cand.path, doc_id, cand.mtime_ns, cand.size, content_hash,
                            cand.ctime_ns, cand.config)


def _results_path(share: str | Path) -> str:
    return f"{share}.results"


_done_queue = None  # in a worker of _build_in_parallel: where it reports progress


def _start_worker(indexer_pid: int, done=None) -> None:
    """Worker set-up: where to report progress, and a watch on the indexer process.

    A worker of a killed indexer would otherwise finish its share and then block for
    ever writing its result to a pipe nobody reads."""
    global _done_queue
    _done_queue = done

    def exit_when_orphaned() -> None:
        while True:
            time.sleep(1)
            try:
                os.kill(indexer_pid, 0)
            except ProcessLookupError:
                os._exit(1)

    threading.Thread(target=exit_when_orphaned, daemon=True).start()


def _write_segment(index_dir: str, share: str, memory_mb: int):
    """In a worker: parse the files of a share and write them as one new segment (not
    committed). Returns the segment (None if no post could be read); writes, for each
    file in order, (post id, content hash, None) or (None, None, why it could not be
    read) to the share's results file."""
    ix = FileStorage(index_dir, supports_mmap=False).open_index()
    writer = engine.segment_writer(ix, memory_mb, ARRAY_POSTINGS_FIELDS)
    store = Store(index_dir)
    outcomes, texts = [], []
    gc.set_threshold(*_INDEXING_GC_THRESHOLDS)  # this process only indexes
    try:
        with open(_results_path(share), "wb") as results:
            for number, cand in enumerate(_read_batches(share), 1):
                result = _parse_one(cand)
                if isinstance(result, PostError):
                    outcomes.append((None, None, result.reason))
                else:
                    writer.add_document(**to_document(result))
                    texts.append((result.content_hash, result.body, result.markdown))
                    outcomes.append((result.id, result.content_hash, None))
                if len(texts) >= 200:
                    store.put_texts(texts)
                    texts.clear()
                if len(outcomes) >= _SHARE_BATCH:
                    pickle.dump(outcomes, results, pickle.HIGHEST_PROTOCOL)
                    outcomes.clear()
                if number % 50 == 0:
                    _done_queue.put(50)
            pickle.dump(outcomes, results, pickle.HIGHEST_PROTOCOL)
        store.put_texts(texts)
        if not engine.has_documents(writer):
            writer.cancel()
            return None
        return engine.finish_segment(writer)
    except BaseException:
        writer.cancel()
        raise
    finally:
        store.close()


def _pool_context():
    # forkserver, not fork: forked workers would inherit the lock files' descriptors and,
    # if this process were killed, live on holding the index lock.
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["searchidx.indexer"])
    return context


def _file_hash(path: str) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha1").hexdigest()


def _parse_all(
    candidates: list[_Candidate], jobs: int | None, progress: Progress | None
) -> Iterator[tuple[_Candidate, Post | PostError]]:
    """Parse files, in worker processes when there are many, in the order given."""
    total = len(candidates)
    jobs = jobs or os.cpu_count() or 1
    if jobs <= 1 or total < _POOL_THRESHOLD:
        for done, cand in enumerate(candidates, 1):
            yield cand, _parse_one(cand)
            if progress:
                progress(done, total)
        return

    batches = [candidates[i : i + _BATCH] for i in range(0, total, _BATCH)]
    done = 0
    with ProcessPoolExecutor(max_workers=jobs, mp_context=_pool_context(),
                             initializer=_start_worker, initargs=(os.getpid(),)) as pool:
        pending: deque[tuple[list[_Candidate], Future]] = deque()
        queue = iter(batches)
        for batch in queue:  # keep a few batches in flight, so memory stays bounded
            pending.append((batch, pool.submit(_parse_batch, batch)))
            if len(pending) >= 2 * jobs:
                break
        while pending:
            batch, future = pending.popleft()
            nxt = next(queue, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(_parse_batch, nxt)))
            for cand, result in zip(batch, future.result(), strict=True):
                yield cand, result
            done += len(batch)
            if progress:
                progress(done, total)


def _parse_batch(batch: list[_Candidate]) -> list[Post | PostError]:
    return [_parse_one(cand) for cand in batch]


def _parse_one(cand: _Candidate) -> Post | PostError:
    try:
        post = read_post(cand.path, cand.scope.aliases, cand.key, cand.scope.defaults)
    except PostError as exc:
        return exc
    except RecursionError:
        return PostError(cand.path, "nested too deeply to parse")
    except MemoryError:
        return PostError(cand.path, "too large to parse")
    return post
