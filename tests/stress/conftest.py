"""`pytest tests/stress --stress` (or `make stress`): long crash and load runs.

Without `--stress` every test here is skipped, so `make test` stays fast.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--stress", action="store_true", default=False,
                     help="run the long stress tests in tests/stress")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--stress"):
        return
    skip = pytest.mark.skip(reason="stress test: run with `make stress` (pytest --stress)")
    for item in items:
        if "tests/stress/" in item.nodeid or item.nodeid.startswith("stress/"):
            item.add_marker(skip)
