"""Helpers for the hardening tests: tiny archives, a hang guard, and an indexing subprocess
that can be paused mid-write (to race readers and a second writer against it) or killed.

The plain functions here are also imported by tests/stress (as `hostile.conftest`).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from searchidx import Index

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
SEARCHIDX = [sys.executable, "-m", "searchidx"]

# Runs indexer.update in its own process. Its progress callback prints one JSON line per
# call (so the parent knows the writer is open and how far it got) and, while the file
# named by argv[3] exists, waits: the run then holds the lock and an open writer.
_INDEXER_SCRIPT = """
import json, os, sys, time
from searchidx import indexer
index_dir, root, hold = sys.argv[1], sys.argv[2], sys.argv[3]
def progress(done, total):
    print(json.dumps({"pid": os.getpid(), "done": done, "total": total}), flush=True)
    deadline = time.monotonic() + 60
    while hold and os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.05)
report = indexer.update(index_dir, [root], jobs=int(os.environ.get("JOBS", "2")),
                        progress=progress)
print(json.dumps({"report": report.to_json()}), flush=True)
"""


def unique_word(number: int) -> str:
    """A word that occurs in exactly one planted post: letters only, so no analyzer
    step splits it (`qzbcdaa` for 12300)."""
    return "qz" + "".join(chr(ord("a") + int(d)) for d in f"{number:05d}")


def write_tiny_archive(folder: Path, start: int, count: int) -> list[Path]:
    """`count` small posts, each findable by its `unique_word`."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number in range(start, start + count):
        path = folder / f"2021-01-01-post-{number:05d}.md"
        path.write_text(
            f"---\ntitle: Post {number}\nsource: Tiny\ntags: [t{number % 7}]\n---\n"
            f"Body of post {number} with {unique_word(number)} and common words.\n",
            encoding="utf-8",
        )
        paths.append(path)
    return paths


@contextlib.contextmanager
def hang_guard(seconds: int, what: str) -> Iterator[None]:
    """Fail (rather than hang the suite) if the block runs longer than `seconds`.
    A hang detector, not a benchmark: the bound is generous."""

    def on_alarm(signum, frame):
        raise TimeoutError(f"{what} did not finish within {seconds} s")

    previous = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def all_ids(idx: Index) -> list[str]:
    """Every post id the index shows, hidden posts included, duplicates kept."""
    ids: list[str] = []
    page = 1
    while True:
        results = idx.search("", include_hidden=True, per_page=100, page=page,
                             facets=False, snippets=False)
        ids.extend(hit.id for hit in results.hits)
        if page >= results.pages:
            return ids
        page += 1


def start_indexer(index_dir: Path, root: Path, hold: Path | None = None,
                  jobs: int = 2) -> subprocess.Popen:
    """An `indexer.update` run in a new process group (so a test can kill all of it)."""
    return subprocess.Popen(
        [sys.executable, "-c", _INDEXER_SCRIPT, str(index_dir), str(root), str(hold or "")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        start_new_session=True, env={**_env(), "JOBS": str(jobs)},
    )


def wait_for_progress(proc: subprocess.Popen, timeout: float = 30) -> dict:
    """The first progress line of a `start_indexer` run: the lock is held and the
    writer is open from then on."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line:
            return json.loads(line)
        if proc.poll() is not None:
            raise AssertionError(f"indexer exited early: {proc.stderr.read()}")
    raise AssertionError("indexer printed no progress")


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real `searchidx` command in a subprocess."""
    return subprocess.run([*SEARCHIDX, *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=timeout, env=_env())


def _env() -> dict[str, str]:
    return {**os.environ, "NO_COLOR": "1", "PYTHONDONTWRITEBYTECODE": "1"}


@pytest.fixture(scope="session")
def tiny_index(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(archive, index) of 300 tiny posts, built once; tests must not write to it."""
    from searchidx import indexer

    base = tmp_path_factory.mktemp("tiny")
    archive = base / "archive"
    write_tiny_archive(archive, 0, 300)
    indexer.update(base / "index", [archive], jobs=1)
    return archive, base / "index"


def serve(app, threads: int = 8):
    """The app on waitress on a free loopback port, as `searchidx serve` runs it.
    Returns (base_url, stop)."""
    import threading

    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=threads)

    def run() -> None:
        # close() from another thread leaves the loop's select() on a closed socket.
        with contextlib.suppress(OSError):
            server.run()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def stop() -> None:
        server.task_dispatcher.shutdown(timeout=5)  # let running requests finish first
        server.close()
        thread.join(timeout=5)

    return f"http://127.0.0.1:{server.effective_port}", stop


def load(base_url: str, paths: list[str], clients: int, seconds: float) -> dict:
    """`clients` threads GET the paths round-robin for `seconds`. Returns requests,
    errors (a 5xx status or a connection failure, with samples) and latencies. That no
    page shows a traceback is checked in test_web_safety.py."""
    import http.client
    import threading
    from urllib.parse import urlsplit

    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    latencies: list[float] = []
    errors: list[str] = []
    deadline = time.monotonic() + seconds

    def client(number: int) -> None:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        i = number
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += 1
            started = time.perf_counter()
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                response.read()  # the whole page, as a browser would
            except OSError as exc:
                errors.append(f"{path}: {exc!r}")
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=30)
                continue
            latencies.append(time.perf_counter() - started)
            # Not a search for "Traceback" in the body: the synthetic posts are made of
            # Python docstrings, and their snippets quote the word.
            if response.status >= 500:
                errors.append(f"{path}: {response.status}")
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0

    return {"requests": len(latencies) + len(errors), "errors": errors,
            "p50_ms": round(pct(0.5) * 1000, 1), "p99_ms": round(pct(0.99) * 1000, 1)}
