"""Keeping the index in step with the archive while it changes (`watch`, `serve --watch`).

The file watcher (watchfiles: inotify on Linux) only says *that* something changed under a
root; `indexer.update` finds out *what* with its incremental scan, so a burst of events
costs one re-sync and an event merged or missed costs nothing. A watcher cannot see into a
root that is deleted and made again (its inotify watch dies with the folder), so once a
tick the loop also looks at the roots themselves, and starts a new watcher when one has
appeared, vanished or been replaced. With `fetch_every`, the loop also fetches the feeds
(feeds.py) on that schedule; what a fetch writes into a root is indexed by the fetch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import watchfiles

from searchidx import indexer
from searchidx.errors import IndexLocked, SearchIdxError
from searchidx.records import IndexReport
from searchidx.store import STORE_NAME, Store

TICK_MS = 1000  # how often the roots are looked at, and a locked index is tried again
QUIET_MS = 200  # a burst of writes (an editor's save, a git pull) ends after this much quiet,
MAX_BURST_MS = 2000  # or after this long, so that a long copy is indexed as it goes

# (device, inode) of a root that exists now; None for a remembered root that is missing
Identity = tuple[int, int] | None


def keep_in_step(
    index_dir: str | Path,
    *,
    on_update: Callable[[IndexReport], None],
    on_note: Callable[[str], None],
    stop: threading.Event | None = None,
    fetch_every: float | None = None,
    on_fetch: Callable[[object], None] | None = None,
) -> None:
    """Re-sync the index at `index_dir` with the folders it follows (its remembered roots)
    whenever a file under them changes, until `stop` is set or KeyboardInterrupt.

    `on_update` gets the report of each re-sync, `on_note` one line about what is watched
    and why a re-sync waits. A root that appears, vanishes or is replaced is re-synced (its
    posts stay while it is missing, as with `searchidx index`). A re-sync that finds the
    index locked by another run is tried again on the next tick.

    With `fetch_every` (seconds), the feeds are fetched at the start and then that long
    after each fetch began; `on_fetch` gets each `feeds.FetchReport`. A fetch runs in the
    loop: changes made meanwhile wait for the re-sync after it.
    """
    index_dir = Path(index_dir).expanduser().absolute()
    stop = stop or threading.Event()
    looked = _look(index_dir)
    _tell({}, looked, on_note)
    changes = _changes(looked, index_dir, stop)
    pending = True  # the first re-sync catches up with changes made while nothing watched
    said_locked = False
    next_fetch = time.monotonic() if fetch_every else None
    while not stop.is_set():
        # The first `next` starts the watcher: a change made during the re-sync that
        # follows is seen by it, one made before it is in the re-sync.
        batch = next(changes, None)
        if next_fetch is not None and time.monotonic() >= next_fetch:
            next_fetch = time.monotonic() + fetch_every
            _fetch(index_dir, on_fetch, on_note)
        now = _look(index_dir)
        if batch is None or now != looked:
            # A root appeared, vanished or was replaced (or the watcher ended as one
            # vanished): a new watcher, and one re-sync once it has started.
            _tell(looked, now, on_note)
            changes.close()
            changes = _changes(now, index_dir, stop)
            looked, pending = now, True
            continue
        pending = pending or bool(batch)
        if not (pending and looked):
            continue
        try:
            on_update(indexer.update(index_dir, lock_timeout=TICK_MS / 1000))
            pending = said_locked = False
        except IndexLocked as exc:  # a concurrent `searchidx index`: our turn comes after it
            if not said_locked:
                on_note(f"{exc} (watch will, by itself)")
                said_locked = True
        except SearchIdxError as exc:  # e.g. a full disk: worth another try on a change
            on_note(f"{exc}; watch tries again on the next change")
            pending = False


def _fetch(index_dir: Path, on_fetch: Callable[[object], None] | None,
           on_note: Callable[[str], None]) -> None:
    from searchidx import feeds  # its parsers are needed only with --fetch-every

    try:
        report = feeds.fetch(index_dir)
    except Exception as exc:  # noqa: BLE001 - e.g. no archive given yet: watching goes on
        on_note(f"the feeds were not fetched ({exc}); watch fetches again at the next time")
        return
    if on_fetch is not None:
        on_fetch(report)


def _look(index_dir: Path) -> dict[Path, Identity]:
    """The remembered roots, each with its identity now: a root deleted and made again
    between two looks is another folder, which the old watcher cannot see into."""
    found: dict[Path, Identity] = {}
    for path in _remembered(index_dir):
        try:
            info = path.stat()
            found[path] = (info.st_dev, info.st_ino)
        except OSError:
            found[path] = None
    return found


def _remembered(index_dir: Path) -> list[Path]:
    """The roots the index follows. Read from the side store's meta once a tick: cheaper
    than `indexer.roots`, which also counts every file under them."""
    if not (index_dir / STORE_NAME).exists():
        return []  # nothing indexed yet: the first `searchidx index FOLDER` starts the watch
    store = Store(index_dir, readonly=True)
    try:
        return [Path(path) for path in store.meta("roots") or []]
    finally:
        store.close()


def _tell(before: dict[Path, Identity], after: dict[Path, Identity],
          on_note: Callable[[str], None]) -> None:
    """One note for each root that appeared (or was replaced), vanished or was forgotten."""
    for path, ident in after.items():
        if ident is not None and before.get(path) != ident:
            on_note(f"watching {path}")
        elif ident is None and before.get(path) is not None:
            on_note(f"{path} vanished; looking for it again every {TICK_MS / 1000:g} s")
    for path in before.keys() - after.keys():
        on_note(f"{path} is no longer indexed; stopped watching it")


def _changes(looked: dict[Path, Identity], index_dir: Path,
             stop: threading.Event) -> Iterator[set[str]]:
    """The paths changed under the roots that exist, one set per burst of changes, and an
    empty set after each quiet tick; it ends when `stop` is set."""
    roots = [path for path, ident in looked.items() if ident is not None]
    if not roots:
        while not stop.wait(TICK_MS / 1000):
            yield set()
        return
    try:
        for batch in watchfiles.watch(
            *roots, watch_filter=_PostFilter(roots, index_dir), debounce=MAX_BURST_MS,
            step=QUIET_MS, rust_timeout=TICK_MS, yield_on_timeout=True, stop_event=stop,
            ignore_permission_denied=True,  # the indexer skips unreadable folders too
        ):
            yield {path for _, path in batch}
    except FileNotFoundError:
        # A root vanished between the look and the start; the next look sees it.
        stop.wait(TICK_MS / 1000)


class _PostFilter(watchfiles.DefaultFilter):
    """Changes that may touch a post. Not the index's own writes (an index folder inside
    a root would otherwise re-sync itself forever), nor hidden files and folders inside a
    root (editors' swap files, .git), which the indexer skips."""

    def __init__(self, roots: list[Path], index_dir: Path) -> None:
        super().__init__()
        self.roots = roots
        self.index_dir = index_dir

    def __call__(self, change: watchfiles.Change, path: str) -> bool:
        changed = Path(path)
        if changed.is_relative_to(self.index_dir) or not super().__call__(change, path):
            return False
        root = next((root for root in self.roots if changed.is_relative_to(root)), None)
        inside = changed.relative_to(root).parts if root else changed.parts
        return not any(part.startswith(".") for part in inside)
