"""The search page: `create_app(index_dir)` returns the Flask app `searchidx serve` runs."""

from web.app import create_app

__all__ = ["create_app"]
