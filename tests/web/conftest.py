"""A real index of corpus/ plus one hostile post, built once per session, and the app on it."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from searchidx import Index, indexer
from web import create_app

ROOT = Path(__file__).resolve().parents[2]
CORPUS = ROOT / "corpus"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]

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


# A post citing a repository whose name is wider than the page's side column.
LONG_REPOSITORY = "github.com/averyverylongorganisationname/anequallylongrepositoryname"
LONG_NAME_POST = f"""\
---
title: Quuxwell notes
date: 2021-06-02
---
Quuxwell builds on https://{LONG_REPOSITORY} for its experiments.
"""


@pytest.fixture(scope="session")
def extra_archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("extra")
    (folder / "2021-06-01-hostile.md").write_text(HOSTILE_POST, encoding="utf-8")
    (folder / "2021-06-02-long-name.md").write_text(LONG_NAME_POST, encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def index_dir(tmp_path_factory, extra_archive) -> Path:
    path = tmp_path_factory.mktemp("index")
    report = indexer.update(path, [CORPUS, extra_archive])
    assert report.added == 50 and not report.skipped, report.to_json()
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


# Headless Chromium on the app served by waitress, as `searchidx serve` does (the browser
# tests: test_browser.py, test_instant.py, test_marks.py).
@pytest.fixture(scope="module")
def base_url(app):
    import waitress

    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.effective_port}"
    server.task_dispatcher.shutdown(timeout=5)  # let running requests finish first
    server.close()
    thread.join(timeout=5)


@pytest.fixture(scope="module")
def browser(base_url):  # depends on the server so that it closes before the server does
    if not CHROMIUM.exists():
        pytest.skip("needs /usr/bin/chromium (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture()
def open_page(browser):
    """Opens fresh pages (in contexts made with Playwright's `new_context` options, such
    as color_scheme="dark") that record every dialog and script error they see."""
    contexts = []

    def open_(**options):
        context = browser.new_context(**options)
        contexts.append(context)
        context.set_default_timeout(10_000)
        page = context.new_page()
        page.dialogs = []
        page.errors = []

        def on_dialog(dialog) -> None:
            page.dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", on_dialog)
        # Images that cannot load (no network here; the hostile post's src=x) are not
        # errors; script errors and Content-Security-Policy violations are.
        page.on("console", lambda msg: msg.type == "error"
                and not msg.text.startswith("Failed to load resource")
                and page.errors.append(msg.text))
        page.on("pageerror", lambda exc: page.errors.append(str(exc)))
        return page

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture()
def page(open_page):
    """A fresh page that records every dialog and script error it sees."""
    return open_page()
