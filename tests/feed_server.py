"""A loopback HTTP server for the feed tests: the standard library's, on 127.0.0.1, in a thread.

Each path answers as told (`serve`, or any handler with `route`), and every request is
recorded, so a test can check what searchidx sent (User-Agent, conditional headers).
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:  # noqa: N802 - the standard library's name
        self.server.owner.requests.append(Request(self.path, dict(self.headers)))
        answer = self.server.owner.routes.get(self.path)
        if answer is None:
            self.send_error(404)
            return
        # The client may give up (a timeout or a size cap): that is what the test wanted.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            answer(self)

    def log_message(self, *args) -> None:  # quiet: pytest shows stderr of failing tests
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: FeedServer


class FeedServer:
    def __init__(self) -> None:
        self.routes: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.requests: list[Request] = []
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self._server.server_port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def route(self, path: str, answer: Callable[[BaseHTTPRequestHandler], None]) -> str:
        self.routes[path] = answer
        return self.url(path)

    def serve(self, path: str, body: bytes | str, *, status: int = 200,
              content_type: str = "application/xml", headers: dict[str, str] | None = None,
              etag: str | None = None, last_modified: str | None = None,
              gzipped: bool = False, delay: float = 0.0) -> str:
        """Answer `path` with `body`; with `etag` or `last_modified`, a matching
        conditional request gets 304. Returns the full URL."""
        data = body.encode("utf-8") if isinstance(body, str) else body

        def answer(handler: BaseHTTPRequestHandler) -> None:
            time.sleep(delay)
            if (etag and handler.headers.get("If-None-Match") == etag) or (
                    last_modified and handler.headers.get("If-Modified-Since") == last_modified):
                handler.send_response(304)
                handler.end_headers()
                return
            payload = gzip.compress(data) if gzipped else data
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            handler.send_header("Content-Length", str(len(payload)))
            if gzipped:
                handler.send_header("Content-Encoding", "gzip")
            if etag:
                handler.send_header("ETag", etag)
            if last_modified:
                handler.send_header("Last-Modified", last_modified)
            for name, value in (headers or {}).items():
                handler.send_header(name, value)
            handler.end_headers()
            handler.wfile.write(payload)

        return self.route(path, answer)

    def redirect(self, path: str, to: str, status: int = 302) -> str:
        def answer(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(status)
            handler.send_header("Location", to)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        return self.route(path, answer)


def rss(title: str, items: list[dict]) -> str:
    """An RSS 2.0 feed of `items` (guid, title, date, link, html)."""
    parts = []
    for item in items:
        parts.append(
            f"<item><title>{item['title']}</title><guid>{item['guid']}</guid>"
            + (f"<link>{item['link']}</link>" if item.get("link") else "")
            + (f"<pubDate>{item['date']}</pubDate>" if item.get("date") else "")
            + f"<description><![CDATA[{item['html']}]]></description></item>")
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>'
            f"<link>https://example.org/</link><description>d</description>"
            f"{''.join(parts)}</channel></rss>")
