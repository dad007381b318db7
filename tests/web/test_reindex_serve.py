"""`searchidx serve` in a real subprocess (waitress) while its index folder is deleted and
built again, as the README invites: 503 "not ready" in between, then the new index with its
snippets and bodies, without a restart (issue 13)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import quote

from searchidx import indexer

THREADS = 4
REQUESTS = 3 * THREADS  # enough to reach every waitress thread's own searcher and store


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def _wait_until_up(url: str, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            _get(url)
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


def _api_search(base: str, text: str) -> list[tuple[int, dict]]:
    found = []
    for _ in range(REQUESTS):
        status, body = _get(f"{base}/api/search?q={quote(text)}")
        found.append((status, json.loads(body)))
    return found


def test_serve_survives_index_deleted_and_rebuilt(tmp_path, write_post) -> None:
    archive, index_dir = tmp_path / "archive", tmp_path / "index"
    write_post(archive, "2021-01-01-quokka.md", {"title": "Quokka notes", "date": "2021-01-01"},
               "The quokka smiles at the camera on Rottnest Island.")
    indexer.update(index_dir, [archive])

    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        [sys.executable, "-m", "searchidx", "--index", str(index_dir), "serve",
         "--port", str(port), "--threads", str(THREADS)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_until_up(f"{base}/help", process)
        for status, data in _api_search(base, "quokka"):
            assert status == 200, data
            assert data["total"] == 1 and "quokka" in data["hits"][0]["snippet"].lower()

        shutil.rmtree(index_dir)
        for status, data in _api_search(base, "quokka"):
            assert status == 503, data
            assert "no index at" in data["error"]
        for _ in range(REQUESTS):
            status, page = _get(f"{base}/?q=quokka")
            assert status == 503 and "Not ready" in page and "does not need a restart" in page

        write_post(archive, "2021-02-01-wombat.md", {"title": "Wombat notes",
                                                      "date": "2021-02-01"},
                   "The wombat digs a burrow and leaves cube-shaped droppings.")
        indexer.update(index_dir, [archive])
        for text in ("wombat", "quokka"):
            for status, data in _api_search(base, text):
                assert status == 200, data
                assert data["total"] == 1, data
                assert text in data["hits"][0]["snippet"].lower(), data
        post_id = _api_search(base, "wombat")[0][1]["hits"][0]["id"]
        for _ in range(REQUESTS):
            status, body = _get(f"{base}/api/post/{post_id}")
            assert status == 200, body
            assert "burrow" in json.loads(body)["body"]
        for _ in range(REQUESTS):
            status, page = _get(f"{base}/?q=wombat")
            assert status == 200 and "<mark>" in page
    finally:
        process.terminate()
        try:
            _, stderr = process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
    assert "Traceback" not in stderr, stderr
