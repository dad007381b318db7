"""The application factory: configuration, the shared index, error pages, security headers.

The index is opened lazily on the first request that needs it, so the server starts (and
says what to do) before an archive has been indexed. One `Index` serves every thread: it
gives each thread its own searcher and refreshes it when the index changes on disk.
"""

from __future__ import annotations

import threading
from pathlib import Path

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge, RequestURITooLarge

from searchidx import (
    BadQuery,
    Index,
    IndexCorrupt,
    IndexLocked,
    IndexNotFound,
    PostNotFound,
    SearchIdxError,
)
from web.views import bp

MAX_CONTENT_LENGTH = 64 * 1024  # the app reads no bodies; anything big is a mistake
MAX_URL_CHARS = 8 * 1024  # a 1000-character query with filters fits easily

SECURITY_HEADERS = {
    # img-src allows http: because archived posts embed http: images (a third of BAIR's)
    # and rewriting them to https: breaks every host that serves only http. An image runs
    # no code, and https: images from anywhere are allowed already, so http: adds only what
    # a network observer could see or swap: the picture. Scripts, styles and frames stay
    # 'self'.
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' http: https: data:; style-src 'self'; "
        "script-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}

# Library errors -> HTTP status. Anything else from the library is a 500 with its message.
_STATUS = {
    BadQuery: 400,
    PostNotFound: 404,
    IndexNotFound: 503,
    IndexCorrupt: 503,
    IndexLocked: 503,
}


class IndexHolder:
    """Opens the index on first use and keeps that one `Index` for every thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser().absolute()
        self._index: Index | None = None
        self._lock = threading.Lock()

    def get(self) -> Index:
        if self._index is None:
            with self._lock:
                if self._index is None:
                    self._index = Index.open(self.path)  # IndexNotFound until indexed
        return self._index


def create_app(index_dir: str | Path) -> Flask:
    """The search page for the index at `index_dir` (which need not exist yet)."""
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_CONTENT_LENGTH
    app.json.sort_keys = False  # keep Results.to_json()'s order, like `search --json`
    app.json.ensure_ascii = False
    app.jinja_env.trim_blocks = True  # tidy HTML from block tags
    app.jinja_env.lstrip_blocks = True
    app.extensions["searchidx"] = IndexHolder(index_dir)
    app.register_blueprint(bp)

    @app.before_request
    def limit_request_size() -> None:
        if len(request.full_path) > MAX_URL_CHARS:
            raise RequestURITooLarge(f"the address is longer than {MAX_URL_CHARS} characters")
        # Flask only checks MAX_CONTENT_LENGTH when a body is read; no view reads one.
        if (request.content_length or 0) > MAX_CONTENT_LENGTH:
            raise RequestEntityTooLarge(
                f"the request body is larger than {MAX_CONTENT_LENGTH} bytes"
            )

    @app.after_request
    def add_security_headers(response):
        response.headers.update(SECURITY_HEADERS)
        return response

    @app.errorhandler(SearchIdxError)
    def library_error(exc: SearchIdxError):
        status = next((code for cls, code in _STATUS.items() if isinstance(exc, cls)), 500)
        if status == 500:
            app.logger.error("searchidx error on %s: %s", request.path, exc)
        missing = isinstance(exc, IndexNotFound)
        return _error(status, str(exc), missing_index=missing)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected_error(exc: Exception):
        # Log the traceback for the operator; show the visitor none of it.
        app.logger.exception("unexpected error on %s", request.path)
        return _error(500, "something went wrong on our side; the error has been logged")

    return app


def _error(status: int, message: str, *, missing_index: bool = False):
    if request.path.startswith("/api/"):
        return jsonify({"error": message}), status
    titles = {400: "Bad request", 404: "Not found", 503: "Not ready"}
    page = render_template(
        "error.html", status=status, title=titles.get(status, "Error"), message=message,
        missing_index=missing_index,
    )
    return page, status
