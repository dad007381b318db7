"""Links a reader follows (issue 14 item 6): a url that does not name a post (a bare site
root such as https://example.com, which feed stubs carry) is never shown as the post's
link, the archived copy is; and every Atom entry has an id of its own.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import feedparser
import pytest

from searchidx import Index, indexer
from searchidx.schema import identifies_post, title_key
from web import create_app

PLACEHOLDER = "https://example.com"
REAL_URL = "https://zoo.example.org/blog/kiwi-calls"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "corpora"


class _Links(HTMLParser):
    """Every <a href> of a page, and those of the result titles (`.hit h2 a`)."""

    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.titles: list[str] = []
        self._in_title = False

    def handle_starttag(self, tag, attrs) -> None:
        href = dict(attrs).get("href")
        if tag == "h2":
            self._in_title = True
        elif tag == "a" and href is not None:
            self.hrefs.append(href)
            if self._in_title:
                self.titles.append(href)

    def handle_endtag(self, tag) -> None:
        if tag == "h2":
            self._in_title = False


def _links(html: bytes) -> _Links:
    parser = _Links()
    parser.feed(html.decode("utf-8"))
    return parser


def _placeholders(hrefs: list[str]) -> list[str]:
    """The absolute http(s) links that do not name a post."""
    return [h for h in hrefs if re.match(r"https?://", h) and not identifies_post(h)]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """An archive of two placeholder posts (one with text, one a stub) and a real one."""
    from tests.conftest import _write_post

    folder = tmp_path_factory.mktemp("links") / "archive"
    _write_post(folder, "2000-01-01-kiwi-stub.md",
                {"title": "Kiwi nesting burrows", "url": PLACEHOLDER, "date": "2000-01-01"},
                "Kiwi dig nesting burrows under ferns; the kiwi egg is huge.")
    _write_post(folder, "2000-01-01-kiwi-eggs.md",
                {"title": "Kiwi egg sizes", "url": PLACEHOLDER + "/", "date": "2000-01-01"},
                "A kiwi egg fills a fifth of the kiwi hen; kiwi nesting lasts weeks.")
    _write_post(folder, "2023-05-01-kiwi-calls.md",
                {"title": "Kiwi calls at night", "url": REAL_URL, "date": "2023-05-01"},
                "Kiwi whistle after dark to keep their nesting territory.")
    index_dir = folder.parent / "index"
    assert indexer.update(index_dir, [folder]).added == 3
    idx = Index.open(index_dir)
    ids = {Path(h.path).name: h.id for h in idx.search("kiwi", per_page=100).hits}
    return create_app(index_dir).test_client(), ids


def test_result_titles_link_to_the_archived_copy_not_a_placeholder(site) -> None:
    client, ids = site
    links = _links(client.get("/?q=kiwi").data)
    assert sorted(links.titles) == sorted([  # an archived copy carries the query, to mark it
        f"/post/{ids['2000-01-01-kiwi-stub.md']}?q=kiwi",
        f"/post/{ids['2000-01-01-kiwi-eggs.md']}?q=kiwi",
        REAL_URL,
    ])
    assert _placeholders(links.hrefs) == []


def test_similar_posts_link_to_archived_copies(site) -> None:
    client, ids = site
    html = client.get(f"/post/{ids['2023-05-01-kiwi-calls.md']}").data.decode()
    similar = html[html.index('class="similar"'):]
    hrefs = _links(similar.encode()).hrefs
    assert hrefs and all(h.startswith("/post/") for h in hrefs)


def test_the_post_page_does_not_offer_a_placeholder_as_the_original(site) -> None:
    client, ids = site
    page = client.get(f"/post/{ids['2000-01-01-kiwi-stub.md']}").data
    assert _placeholders(_links(page).hrefs) == []


def test_the_post_page_links_a_real_original(site) -> None:
    client, ids = site
    assert REAL_URL in _links(client.get(f"/post/{ids['2023-05-01-kiwi-calls.md']}").data).hrefs


def test_atom_entries_have_their_own_ids_and_link_the_archived_copy(site) -> None:
    client, ids = site
    feed = feedparser.parse(client.get("/feed.atom?q=kiwi").data)
    assert feed.bozo == 0 and len(feed.entries) == 3
    by_title = {e.title: e for e in feed.entries}
    for name, title in (("2000-01-01-kiwi-stub.md", "Kiwi nesting burrows"),
                        ("2000-01-01-kiwi-eggs.md", "Kiwi egg sizes")):
        assert by_title[title].id == f"tag:searchidx,2024:post/{ids[name]}"
        assert by_title[title].link == f"http://localhost/post/{ids[name]}"
    real = by_title["Kiwi calls at night"]
    assert real.id == f"tag:searchidx,2024:post/{ids['2023-05-01-kiwi-calls.md']}"
    assert real.link == REAL_URL
    # Stable: the same search gives the same ids.
    again = feedparser.parse(client.get("/feed.atom?q=kiwi").data)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]


def test_json_keeps_the_url_as_written_and_gives_the_link(site) -> None:
    client, ids = site
    hits = {h["id"]: h for h in client.get("/api/search?q=kiwi").get_json()["hits"]}
    stub = hits[ids["2000-01-01-kiwi-stub.md"]]
    assert (stub["url"], stub["link"]) == (PLACEHOLDER, None)
    real = hits[ids["2023-05-01-kiwi-calls.md"]]
    assert (real["url"], real["link"]) == (REAL_URL, REAL_URL)
    post = client.get(f"/api/post/{ids['2000-01-01-kiwi-eggs.md']}").get_json()
    assert (post["url"], post["link"]) == (PLACEHOLDER + "/", None)


# --- the real archives ------------------------------------------------------------------------

def test_real_archives_links_feed_ids_and_stubs(tmp_path) -> None:
    """The three archives of ../shared/corpora indexed together (one test, so that one
    worker indexes them: ~70 s on 2 cores): no placeholder link on the search page, no
    Atom id twice, and no stub shown beside its full copy."""
    if not SHARED.is_dir():
        pytest.skip("../shared/corpora is not here")
    roots = sorted(p for p in SHARED.iterdir() if p.is_dir())
    assert indexer.update(tmp_path / "index", roots).added > 3000
    idx, client = Index.open(tmp_path / "index"), create_app(tmp_path / "index").test_client()

    # Every post, newest first, and those with a placeholder url (raisex's 244)
    hits, page = [], 1
    while True:
        results = idx.search("", per_page=100, page=page, snippets=False, facets=False)
        hits += results.hits
        if page >= results.pages:
            break
        page += 1
    placeholder_titles = [hit.title for hit in hits if hit.url and not identifies_post(hit.url)]
    assert len(placeholder_titles) > 20
    # a query that finds ten of them (within the 125 words a query is cut to)
    titled = " OR ".join('title:"' + title.replace('"', " ") + '"'
                         for title in placeholder_titles[:10])

    for query, pages in (("", (1, 2)), (titled, (1,)), ("model", (1, 2)),
                         ("vision language", (1, 2))):
        for page in pages:
            html = client.get("/", query_string={"q": query, "per_page": 100, "page": page}).data
            links = _links(html)
            assert links.titles and _placeholders(links.hrefs) == [], (query, page)
        feed = feedparser.parse(client.get("/feed.atom", query_string={"q": query}).data)
        ids = [e.id for e in feed.entries]
        assert feed.bozo == 0 and len(set(ids)) == len(ids), query
        assert len(ids) == 20 or query == titled and len(ids) >= 10, (query, len(ids))
        assert all(identifies_post(e.link) or "/post/" in e.link for e in feed.entries)
        if query == titled:  # the placeholders' entries link to their archived copies
            assert sum("/post/" in entry.link for entry in feed.entries) >= 10

    # A stub (no url naming it, no body) shows only when no post with the same title key,
    # a url or text, and a source that does not differ shows.
    has_text = {h.id: bool(h.link or idx.get(h.id).body.strip()) for h in hits}
    stubs = [h for h in hits if not has_text[h.id]]
    assert stubs  # the raisex archive has stubs with no full copy
    shown: dict[str, list[str]] = {}
    for hit in hits:
        if has_text[hit.id]:
            shown.setdefault(title_key(hit.title), []).append(hit.source.casefold())
    for stub in stubs:
        source = stub.source.casefold()
        sources = shown.get(title_key(stub.title), [])
        assert not [s for s in sources if not source or not s or s == source], stub.title
