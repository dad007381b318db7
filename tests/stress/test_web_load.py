"""The real app on waitress over a 10,000-post synthetic index: 16 clients for 60 s with
mixed queries, zero errors, while slow clients read their responses a byte at a time."""

from __future__ import annotations

import socket
import threading
import time
from urllib.parse import quote_plus, urlsplit

import pytest

from benchmarks.generate import generate, queries
from searchidx import indexer
from tests.hostile.conftest import load, serve
from web import create_app

POSTS = 10_000
CLIENTS = 16
SECONDS = 60
SLOW_CLIENTS = 2


@pytest.fixture(scope="module")
def big_index(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("load")
    archive = generate(base / "archive", POSTS, seed=7)
    report = indexer.update(base / "index", [archive])
    assert report.added == POSTS and not report.skipped
    return base / "index"


def _slow_reader(base_url: str, stop: threading.Event, read_bytes: list[int]) -> None:
    """Asks for a big results page, then reads it one byte every 50 ms."""
    url = urlsplit(base_url)
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(b"GET /?q=the&per_page=100 HTTP/1.1\r\nHost: x\r\n\r\n")
        while not stop.is_set():
            chunk = sock.recv(1)
            if not chunk:
                return
            read_bytes[0] += 1
            time.sleep(0.05)


def test_sixteen_clients_for_a_minute(big_index) -> None:
    words = queries(seed=7)
    paths = []
    for number, text in enumerate(words):
        q = quote_plus(text)
        paths.append([f"/?q={q}", f"/api/search?q={q}", f"/?q={q}&sort=newest&page=2",
                      f"/feed.atom?q={q}", f"/?q={q}*"][number % 5])
    base_url, stop_server = serve(create_app(big_index), threads=8)
    stop = threading.Event()
    read_bytes = [0]
    slow = [threading.Thread(target=_slow_reader, args=(base_url, stop, read_bytes))
            for _ in range(SLOW_CLIENTS)]
    try:
        for thread in slow:
            thread.start()
        figures = load(base_url, paths, clients=CLIENTS, seconds=SECONDS)
    finally:
        stop.set()
        for thread in slow:
            thread.join(timeout=10)
        stop_server()
    print(f"\nload: {POSTS} posts, {len(set(paths))} distinct queries, {CLIENTS} clients, "
          f"{SECONDS} s: {figures['requests']} requests, {len(figures['errors'])} errors, "
          f"p50 {figures['p50_ms']} ms, p99 {figures['p99_ms']} ms "
          f"({SLOW_CLIENTS} slow readers read {read_bytes[0]} bytes meanwhile)")
    assert figures["errors"] == [], figures["errors"][:10]
    assert figures["requests"] > CLIENTS * 10
    assert read_bytes[0] > 0
