"""A real index of corpus/ plus one hostile post, built once per session, and the app on it."""

from __future__ import annotations

from pathlib import Path

import pytest

from searchidx import Index, indexer
from web import create_app

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"

# Every payload sets window.__xss or opens a dialog if it ever runs in a browser. A title
# is text: its tags go, and its entities become characters (shown escaped, never run).
HOSTILE_POST = """\
---
title: "Zorblax &lt;script&gt;alert(1)&lt;/script&gt; <img src=x onerror=alert(1)>\
  <script>window.__xss=1</script>"
summary: "Zorblax summary <img src=x onerror=window.__xss=2>"
date: 2021-06-01
source: "<b>Hostile</b> Source"
tags: ["<i>evil</i>"]
url: "javascript:window.__xss=3"
thumbnail: "javascript:window.__xss=4"
---
Zorblax body text with payloads.

<script>alert(1)</script>
<script>window.__xss=5</script>

<img src=x onerror=alert(1)>

<img src="x" onerror="window.__xss=6">

[click](javascript:alert(1)) and [also](javascript:window.__xss=7)

<a href="https://example.org/" onclick="window.__xss=8">safe link with a handler</a>
<a href="javascript:window.__xss=9">raw javascript link</a>
"""


@pytest.fixture(scope="session")
def extra_archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("extra")
    (folder / "2021-06-01-hostile.md").write_text(HOSTILE_POST, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, extra_archive) -> Path:
    path = tmp_path_factory.mktemp("index")
    report = indexer.update(path, [CORPUS, extra_archive])
    assert report.added == 47 and not report.skipped, report.to_json()
    return path


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def idx(index_dir) -> Index:
    return Index.open(index_dir)


@pytest.fixture(scope="session")
def app(index_dir):
    return create_app(index_dir)


@pytest.fixture()
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def hostile_id(idx) -> str:
    return idx.search("zorblax").hits[0].id
