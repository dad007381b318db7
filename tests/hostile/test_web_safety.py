"""The web app under hostile posts and hostile requests: payloads are inert (parsed HTML
and real headless Chromium), ids cannot traverse paths, big requests are 4xx, and no
response ever carries a traceback."""

from __future__ import annotations

import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml

from searchidx import Index, indexer
from web import create_app

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
# Each payload sets window.__xss or opens a dialog if it ever runs.
PAYLOADS = [
    "<script>alert(1)</script>", "<img src=x onerror=alert(2)>",
    "\"><svg onload=alert(3)>", "' onmouseover='alert(4)", "javascript:alert(5)",
    "</textarea><script>window.__xss=6</script>", "{{7*7}}<iframe src=javascript:alert(8)>",
]
FRONTMATTER = {
    "title": f"Xsstitle {PAYLOADS[0]} {PAYLOADS[1]}",
    "summary": f"Xsssummary {PAYLOADS[2]} {PAYLOADS[5]}",
    "tags": [PAYLOADS[0], PAYLOADS[3]],
    "authors": [PAYLOADS[1], PAYLOADS[2]],
    "source": f"{PAYLOADS[2]} source",
    "url": "javascript:window.__xss=9",
    "thumbnail": 'x" onerror="window.__xss=10',
    "date": "2022-02-02",
}
BODY = f"""Xssbody {PAYLOADS[6]}

<script>window.__xss=11</script> [link](javascript:alert(12)) <a href="javascript:alert(13)">a</a>
"""
QUERY_PARAMS = ["q", "source", "tag", "author", "since", "until", "sort", "page"]


class _Audit(HTMLParser):
    """Finds anything that could run script: handlers, javascript: URLs, inline scripts."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_script = False
        self._in_svg = False

    def handle_starttag(self, tag, attrs) -> None:
        for name, value in attrs:
            if name.startswith("on"):
                self.problems.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction", "srcdoc") and value and (
                    "".join(value.split()).lower().startswith(("javascript:", "data:text"))):
                self.problems.append(f"<{tag} {name}={value!r}>")
        if tag == "svg" and dict(attrs).get("aria-label") == "Matches per month":
            self._in_svg = True  # the server-drawn timeline: only bars linking to months
        elif tag in ("iframe", "object", "embed", "svg"):
            self.problems.append(f"<{tag}>")
        elif self._in_svg and (tag not in ("a", "rect", "title") or any(
                name == "href" and not (value or "").startswith("/?") for name, value in attrs)):
            self.problems.append(f"<{tag}> in the timeline")
        self._in_script = tag == "script"
        if tag == "script" and not dict(attrs).get("src"):
            self.problems.append("inline <script>")

    def handle_endtag(self, tag) -> None:
        self._in_script = False
        if tag == "svg":
            self._in_svg = False


def audit(html: str) -> list[str]:
    parser = _Audit()
    parser.feed(html)
    return parser.problems


@pytest.fixture(scope="module")
def app_and_id(tmp_path_factory: pytest.TempPathFactory):
    base = tmp_path_factory.mktemp("web-hostile")
    (base / "archive").mkdir()
    (base / "archive" / "hostile.md").write_text(
        f"---\n{yaml.safe_dump(FRONTMATTER)}---\n{BODY}", encoding="utf-8")
    (base / "archive" / "plain.md").write_text("---\ntitle: Plain\n---\nXssbody plain\n")
    report = indexer.update(base / "index", [base / "archive"], jobs=1)
    assert report.added == 2, report.to_json()
    post_id = Index.open(base / "index").search("xsstitle").hits[0].id
    return create_app(base / "index"), post_id


def _pages(post_id: str) -> list[str]:
    return ["/", "/?q=xssbody", "/?q=xsstitle&sort=newest", f"/post/{post_id}", "/help",
            "/api/search?q=xsstitle", f"/api/post/{post_id}", "/feed.atom?q=xssbody",
            "/opensearch.xml"]


def test_hostile_post_fields_are_inert(app_and_id) -> None:
    app, post_id = app_and_id
    client = app.test_client()
    for url in _pages(post_id):
        response = client.get(url)
        body = response.get_data(as_text=True)
        assert response.status_code == 200, (url, response.status_code)
        assert "Traceback" not in body
        if response.mimetype == "text/html":
            assert audit(body) == [], (url, audit(body))
            assert "<script>alert" not in body and "<img src=x" not in body


@pytest.mark.parametrize("payload", PAYLOADS + ["%00", "\x00", "a" * 2000, "../../etc/passwd"])
def test_hostile_query_parameters_are_inert(app_and_id, payload: str) -> None:
    app, _ = app_and_id
    client = app.test_client()
    for name in QUERY_PARAMS:
        for path in ("/", "/api/search", "/feed.atom"):
            response = client.get(path, query_string={name: payload})
            body = response.get_data(as_text=True)
            assert response.status_code in (200, 400), (path, name, response.status_code)
            assert "Traceback" not in body
            if response.mimetype == "text/html":
                assert audit(body) == [], (path, name, audit(body))


@pytest.mark.parametrize("post_id", [
    "../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    quote("../../../../etc/passwd", safe=""), "....//....//etc/passwd", "/etc/passwd",
    "%252e%252e%252fetc%252fpasswd", "..\\..\\etc\\passwd", "0" * 5000,
])
def test_path_traversal_ids_are_404(app_and_id, post_id: str) -> None:
    app, _ = app_and_id
    client = app.test_client()
    for prefix in ("/post/", "/api/post/"):
        response = client.get(prefix + post_id)
        body = response.get_data(as_text=True)
        assert response.status_code in (404, 414), (prefix, post_id, response.status_code)
        assert "root:x:0:0" not in body and "Traceback" not in body


def test_oversized_requests_are_4xx(app_and_id) -> None:
    app, _ = app_and_id
    client = app.test_client()
    cases = [
        client.get("/", query_string={"q": "x" * 20_000}),
        client.post("/", data=b"x" * 2_000_000),
        client.post("/api/search", data=b"x" * 2_000_000),
        client.get("/?" + "&".join(f"tag=t{i}" for i in range(3000))),
    ]
    for response in cases:
        assert 400 <= response.status_code < 500, response.status_code
        assert "Traceback" not in response.get_data(as_text=True)
    # a long query within the URL limit is searched by its first words, not refused
    pasted = client.get("/api/search", query_string={"q": "x " * 750})
    assert pasted.status_code == 200 and "cut to its first" in pasted.get_json()["notice"]


@pytest.mark.slow
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium")
def test_no_script_runs_in_chromium(app_and_id) -> None:
    import waitress
    from playwright.sync_api import sync_playwright

    app, post_id = app_and_id
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=2)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}"
    urls = [u for u in _pages(post_id) if not u.startswith(("/api", "/feed", "/opensearch"))]
    urls += [f"/?{name}={quote(p)}" for name in ("q", "source", "tag") for p in PAYLOADS]
    dialogs: list[str] = []
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message),
                                              dialog.dismiss()))
            for url in urls:
                page.goto(base + url)
                page.hover("body")
                for link in page.locator("a").all()[:40]:
                    link.hover()
                assert page.evaluate("window.__xss") is None, url
            browser.close()
    finally:
        server.close()
        thread.join(timeout=5)
    assert dialogs == []
