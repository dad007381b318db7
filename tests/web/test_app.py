"""The search page through Flask's test client, on a real index of corpus/."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from html import unescape
from pathlib import Path

import feedparser
import pytest

from searchidx import Index, indexer
from web import create_app


def write(folder: Path, name: str, text: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")


JS_URL = re.compile(r"""(href|src)\s*=\s*["']?\s*javascript:""", re.I)


def text_of(response) -> str:
    return response.get_data(as_text=True)


def facet_links(html: str, title: str) -> dict[str, str]:
    """{value: href} of one facet box on a results page."""
    box = re.search(rf"<h2>{title}</h2>(.*?)</section>", html, re.S)
    assert box, f"no {title} facet"
    return {
        unescape(value): unescape(href)
        for href, value in re.findall(r'<a href="([^"]*)">([^<]*)</a>', box.group(1))
    }


def hit_titles(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'<h2><a href="[^"]*">([^<]*)</a></h2>', html)]


# --- the search page ---------------------------------------------------------------------

def test_search_page_shows_ranked_highlighted_hits(client):
    response = client.get("/?q=chatgpt")
    html = text_of(response)
    assert response.status_code == 200
    assert hit_titles(html)[0] == "Introducing ChatGPT"
    assert '<a href="https://openai.com/blog/chatgpt">Introducing ChatGPT</a>' in html
    assert "<mark>ChatGPT</mark>" in html
    assert "archived copy" in html and "1 more copy" in html  # the repost is folded in
    assert 'loading="lazy"' in html and "https://example.org/thumbs/chatgpt.png" in html
    assert re.search(r"\d+ results</span>\s*<span class=\"time\">\(\d+\.\d{3} s\)", html)
    assert 'name="q" value="chatgpt"' in html and "autofocus" in html


def test_page_head_links_feed_opensearch_help_and_assets(client):
    html = text_of(client.get("/?q=alphafold&source=DeepMind+Blog"))
    assert ('<link rel="search" type="application/opensearchdescription+xml" title="searchidx"'
            in html)
    assert re.search(r'rel="alternate" type="application/atom\+xml"[^>]*\s+href="'
                     r'/feed.atom\?q=alphafold&amp;source=DeepMind\+Blog"', html)
    assert 'href="/help"' in html
    assert '<link rel="stylesheet" href="/static/style.css">' in html
    assert '<script src="/static/app.js" defer></script>' in html


def test_empty_query_lists_newest_posts(client, idx):
    html = text_of(client.get("/"))
    dates = re.findall(r'<time datetime="([\d-]+)">', html)
    assert len(dates) == 10 and dates == sorted(dates, reverse=True)
    assert f"{idx.search('').total} posts, newest first" in html


def test_source_facet_link_adds_filter_and_counts_match(client):
    html = text_of(client.get("/?q=alphafold"))
    links = facet_links(html, "Source")
    count = int(re.search(r"DeepMind Blog</a> <span class=\"count\">(\d+)", html).group(1))
    assert links["DeepMind Blog"] == "/?q=alphafold&source=DeepMind+Blog"

    filtered = text_of(client.get(links["DeepMind Blog"]))
    assert f"{count} result" in filtered
    assert "<span>source: DeepMind Blog</span>" in filtered
    # the filter stays when the query is changed in the form
    assert '<input type="hidden" name="source" value="DeepMind Blog">' in filtered
    # and is removable
    remove = re.search(r'<a href="([^"]*)" aria-label="Remove filter source DeepMind Blog"',
                       filtered)
    assert unescape(remove.group(1)) == "/?q=alphafold"


def test_second_source_facet_adds_to_the_first(client):
    html = text_of(client.get("/?source=OpenAI+Blog"))
    assert facet_links(html, "Source")["OpenAI Blog"] == "/?source=OpenAI+Blog"  # no duplicate
    both = text_of(client.get("/?source=OpenAI+Blog&source=Anthropic"))
    sources = set(re.findall(r'<span class="source">([^<]*)</span>', both))
    assert sources == {"OpenAI Blog", "Anthropic"}


def test_year_facet_sets_since_and_until(client):
    links = facet_links(text_of(client.get("/?q=language")), "Year")
    assert links["2023"] == "/?q=language&since=2023&until=2023"
    html = text_of(client.get(links["2023"]))
    dates = re.findall(r'<time datetime="([\d-]+)">', html)
    assert dates and all(d.startswith("2023-") for d in dates)
    assert "<span>since: 2023</span>" in html and "<span>until: 2023</span>" in html


def test_tag_facet_filters_by_tag(client):
    links = facet_links(text_of(client.get("/")), "Tag")
    assert links["llm"] == "/?tag=llm"
    html = text_of(client.get(links["llm"]))
    assert "2 posts" in html and "<span>tag: llm</span>" in html


def test_date_range_and_sort(client):
    html = text_of(client.get("/?since=2020-06&until=2021&sort=oldest"))
    dates = re.findall(r'<time datetime="([\d-]+)">', html)
    assert dates == sorted(dates) and dates[0] >= "2020-06-01" and dates[-1] <= "2021-12-31"
    assert '<option value="oldest" selected>' in html
    assert 'name="since" value="2020-06"' in html


def test_pagination_links_and_pages_differ(client):
    first = text_of(client.get("/?per_page=5"))
    nav = re.search(r'<nav class="pages".*?</nav>', first, re.S).group(0)
    assert 'aria-current="page">1<' in nav and 'rel="next" href="/?per_page=5&amp;page=2"' in nav
    assert 'href="/?per_page=5&amp;page=10"' in nav  # the last page is always linked
    second = text_of(client.get("/?per_page=5&page=2"))
    assert 'rel="prev" href="/?per_page=5&amp;page=1"' in second
    assert not set(hit_titles(first)) & set(hit_titles(second))
    assert '<ol class="hits" start="6">' in second


def test_summary_names_the_sort_used(client, idx):
    total = idx.search("").total
    html = text_of(client.get("/?q=&sort=oldest"))
    assert f"{total} posts, oldest first" in html and "newest first" not in html
    assert f"{total} posts, newest first" in text_of(client.get("/?q=&sort=relevance"))
    ranked = text_of(client.get("/?q=alphafold&sort=newest"))
    assert re.search(r"\d+ results?, newest first", ranked)


def test_page_past_the_end_links_to_the_last_page(client):
    html = text_of(client.get("/?per_page=5&page=107"))
    assert "No posts match" not in html
    assert "Page 107 is past the last page" in html
    assert '<a href="/?per_page=5&amp;page=10">the last page (10)</a>' in html


def test_year_facet_is_ordered_newest_first(client):
    for query in ("/?q=diffusion", "/"):
        years = list(facet_links(text_of(client.get(query)), "Year"))
        assert len(years) > 1 and years == sorted(years, reverse=True), query


def test_did_you_mean_links_to_the_suggestion(client):
    html = text_of(client.get("/?q=tranformer&sort=newest"))
    assert 'Did you mean <a href="/?q=transformer&amp;sort=newest">transformer</a>?' in html
    assert "No posts match" in html


def test_notice_is_shown(client):
    html = text_of(client.get("/?q=AND+OR"))
    assert '<p class="notice">Note: the query has no words to search for' in html


@pytest.mark.parametrize("q", ['"unclosed', "GPT-4", "C++", "AND OR", "title:(", "*", "\x00",
                               "a" * 1000, "é<>&'\"", "date:[2020 TO", "-", "((("])
def test_odd_queries_never_fail(client, q):
    response = client.get("/", query_string={"q": q})
    assert response.status_code == 200
    assert client.get("/api/search", query_string={"q": q}).status_code == 200


def test_a_pasted_abstract_is_searched_with_a_notice(client):
    q = "AlphaFold protein structure " * 200
    html = text_of(client.get("/", query_string={"q": q}))
    assert '<p class="notice">Note: the query was cut to its first 107 words' in html
    assert hit_titles(html)
    data = client.get("/api/search", query_string={"q": q}).get_json()
    assert data["query"] == q and data["notice"].startswith("the query was cut")


def test_filters_match_words_of_names(client):
    exact = client.get("/api/search?source=DeepMind+Blog").get_json()["total"]
    assert client.get("/api/search?source=deepmind").get_json()["total"] == exact > 0
    assert client.get("/api/search?source=DEEPMIND+blog").get_json()["total"] == exact
    hits = client.get("/api/search?author=Levine").get_json()["hits"]
    assert [h["title"] for h in hits] == [
        client.get("/api/search?q=author:levine").get_json()["hits"][0]["title"]]
    html = text_of(client.get("/?tag=Robotics"))
    assert "1 post" in html and "<span>tag: Robotics</span>" in html


def test_drafts_only_with_all(client):
    draft = "An empirical analysis of compute-optimal large language model training"
    assert draft not in hit_titles(text_of(client.get("/?q=chinchilla")))
    html = text_of(client.get("/?q=chinchilla&all=1"))
    assert draft in hit_titles(html) and "<span>including: drafts</span>" in html


# --- the archived copy -------------------------------------------------------------------

def test_post_page_renders_markdown_and_similar(client, idx):
    hit = idx.search("introducing chatgpt").hits[0]
    html = text_of(client.get(f"/post/{hit.id}"))
    assert "<h1>Introducing ChatGPT</h1>" in html
    assert "<h2>How it was trained</h2>" in html and "<strong>ChatGPT</strong>" in html
    assert '<a href="https://openai.com/blog/chatgpt" rel="noopener noreferrer">' in html
    similar = re.search(r'<section class="similar">.*?</section>', html, re.S).group(0)
    titles = re.findall(r'<a href="/post/\w+">([^<]*)</a>', similar)
    assert titles and "Introducing ChatGPT" not in titles  # neither itself nor its copy


def test_unknown_post_is_404(client):
    response = client.get("/post/doesnotexist")
    assert response.status_code == 404
    assert "no post with id" in text_of(response)


# --- hostile content ---------------------------------------------------------------------

def test_hostile_post_is_escaped_on_results_page(client):
    html = text_of(client.get("/?q=zorblax"))
    assert "Zorblax &lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert" not in html and "<script>window" not in html
    assert "<img src=x" not in html and "onerror=" not in html.replace("onerror=alert", "")
    assert "&lt;b&gt;Hostile&lt;/b&gt; Source" in html and "<b>Hostile" not in html
    assert not JS_URL.search(html)  # neither the url nor the thumbnail is linked
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script src="/static/app.js" defer>']


def test_hostile_post_body_is_sanitized(client, hostile_id):
    response = client.get(f"/post/{hostile_id}")
    html = text_of(response)
    assert response.status_code == 200
    body = re.search(r'<div class="body">(.*?)</div>', html, re.S).group(1)
    assert "Zorblax body text" in body
    assert "<script" not in body and "onerror" not in body and "onclick" not in body
    assert not JS_URL.search(html)
    assert "[click](javascript:alert(1))" in body  # CommonMark refuses the link: plain text
    assert '<a href="https://example.org/" rel="noopener noreferrer nofollow">' in body
    assert re.findall(r"<script[^>]*>", html) == ['<script src="/static/app.js" defer>']


def test_security_headers_on_every_response(client, hostile_id):
    for url in ["/", f"/post/{hostile_id}", "/api/search?q=x", "/nope", "/?sort=x",
                "/static/style.css", "/feed.atom", "/opensearch.xml", "/help"]:
        headers = client.get(url).headers
        csp = headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, url
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["X-Frame-Options"] == "DENY"


# --- JSON --------------------------------------------------------------------------------

def test_api_search_is_results_to_json(client, idx):
    response = client.get("/api/search?q=alphafold&source=DeepMind+Blog&sort=newest&per_page=3")
    assert response.status_code == 200 and response.is_json
    expected = idx.search("alphafold", source=["DeepMind Blog"], sort="newest", per_page=3)
    assert list(response.get_json()) == list(expected.to_json())  # same keys, same order
    assert response.get_json() == json.loads(json.dumps(expected.to_json()))


def test_api_post_is_post_record_to_json(client, idx, hostile_id):
    response = client.get(f"/api/post/{hostile_id}")
    assert response.get_json() == json.loads(json.dumps(idx.get(hostile_id).to_json()))


def test_api_unknown_post_is_json_404(client):
    response = client.get("/api/post/doesnotexist")
    assert response.status_code == 404
    assert response.get_json() == {"error": "no post with id 'doesnotexist'"}


# --- bad input ---------------------------------------------------------------------------

BAD_INPUT = [
    ("sort=sideways", "unknown sort 'sideways'"),
    ("page=0", "page must be 1 or more"),
    ("page=1000000000", "page must be a whole number"),
    ("page=10000", "too deep"),
    ("page=-1", "page must be a whole number"),
    ("page=two", "page must be a whole number"),
    ("per_page=0", "per_page must be between 1 and 100"),
    ("per_page=101", "per_page must be between 1 and 100"),
    ("since=2023-13", "since: '2023-13' is not a date"),
    ("until=yesterday", "until: 'yesterday' is not a date"),
    ("since=2024&until=2023", "since (2024) is after until (2023)"),
    # digits that str.isdigit() accepts and int() does not
    ("page=%C2%B2", "page must be a whole number, not '²'"),
    ("per_page=%C2%B9", "per_page must be a whole number, not '¹'"),
    ("page=%E2%91%A0", "page must be a whole number, not '①'"),
]


@pytest.mark.parametrize(("params", "message"), BAD_INPUT)
def test_bad_input_is_a_400_page(client, params, message):
    response = client.get(f"/?{params}")
    assert response.status_code == 400
    html = text_of(response)
    assert "Bad request" in html and message in unescape(html)
    assert "Traceback" not in html


@pytest.mark.parametrize(("params", "message"), BAD_INPUT)
def test_bad_input_is_a_json_400_from_the_api(client, params, message):
    response = client.get(f"/api/search?{params}")
    assert response.status_code == 400
    error = response.get_json()
    assert list(error) == ["error"] and message in error["error"]


def test_unknown_route_is_404_page_and_json(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "Not found" in text_of(response)
    api = client.get("/api/nothing")
    assert api.status_code == 404 and "error" in api.get_json()


def test_too_large_requests_are_refused(client):
    body = client.post("/api/search", data=b"x" * (100 * 1024))
    assert body.status_code == 413 and "larger than" in body.get_json()["error"]
    url = client.get("/?q=" + "a" * 9000)
    assert url.status_code == 414 and "longer than" in text_of(url)
    assert client.post("/", data=b"x").status_code == 405


def test_unexpected_error_is_plain_500_without_traceback(index_dir, monkeypatch, caplog):
    app = create_app(index_dir)

    def explode(*args, **kwargs):
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(Index, "search", explode)
    client = app.test_client()
    for url, is_json in (("/?q=x", False), ("/api/search?q=x", True)):
        response = client.get(url)
        assert response.status_code == 500
        body = text_of(response)
        assert "secret internal detail" not in body and "Traceback" not in body
        assert response.is_json is is_json
    assert "secret internal detail" in caplog.text  # logged for the operator


# --- feeds and OpenSearch -----------------------------------------------------------------

def test_atom_feed_is_valid_and_filtered(client):
    response = client.get("/feed.atom?q=alphafold&source=DeepMind+Blog")
    assert response.mimetype == "application/atom+xml"
    feed = feedparser.parse(response.data)
    assert feed.bozo == 0, feed.get("bozo_exception")
    assert feed.version == "atom10"
    assert feed.feed.title == "searchidx: alphafold"
    assert any(link.rel == "self" for link in feed.feed.links)
    assert feed.entries and all(e.author == "DeepMind Blog" for e in feed.entries)
    dates = [e.updated for e in feed.entries]
    assert dates == sorted(dates, reverse=True)
    assert all(e.id and e.link and e.title and e.summary for e in feed.entries)


def test_feed_link_is_the_same_search_as_the_page(client):
    html = text_of(client.get("/?q=diffusion&source=OpenAI+Blog&tag=dall-e&author=Aditya"
                              "&since=2022&until=2022&sort=oldest&page=2&per_page=5"))
    links = re.findall(r'href="(/feed\.atom\?[^"]*)"', html)
    assert len(links) == 2 and links[0] == links[1]  # the <link> in the head and the aside
    assert unescape(links[0]) == ("/feed.atom?q=diffusion&source=OpenAI+Blog&tag=dall-e"
                                  "&author=Aditya&since=2022&until=2022")


def test_atom_feed_keeps_the_date_range(client):
    everything = feedparser.parse(client.get("/feed.atom?q=diffusion").data)
    assert any(not e.updated.startswith("2022-") for e in everything.entries)
    feed = feedparser.parse(client.get("/feed.atom?q=diffusion&since=2022&until=2022").data)
    assert feed.bozo == 0 and feed.entries
    assert all(e.updated.startswith("2022-") for e in feed.entries)
    drafts = feedparser.parse(client.get("/feed.atom?all=1").data)
    assert drafts.bozo == 0 and len(drafts.entries) == 20


def test_atom_feed_of_everything_has_twenty_entries_and_escapes(client):
    feed = feedparser.parse(client.get("/feed.atom").data)
    assert feed.bozo == 0 and len(feed.entries) == 20
    hostile = feedparser.parse(client.get("/feed.atom?q=zorblax").data)
    entry = hostile.entries[0]
    assert entry.id.startswith("tag:searchidx,2024:post/")  # the javascript: url is not used
    assert entry.link.startswith("http://localhost/post/")
    assert "<script>" in entry.title  # kept as text in the XML, escaped on the wire


def test_opensearch_description(client):
    response = client.get("/opensearch.xml")
    assert response.mimetype == "application/opensearchdescription+xml"
    ns = {"os": "http://a9.com/-/spec/opensearch/1.1/"}
    root = ET.fromstring(response.data)
    assert root.tag == "{http://a9.com/-/spec/opensearch/1.1/}OpenSearchDescription"
    assert root.find("os:ShortName", ns).text == "searchidx"
    templates = {u.get("type"): u.get("template") for u in root.findall("os:Url", ns)}
    assert templates["text/html"] == "http://localhost/?q={searchTerms}"
    assert templates["application/atom+xml"] == "http://localhost/feed.atom?q={searchTerms}"


def test_help_page(client):
    response = client.get("/help")
    assert response.status_code == 200
    assert "Query syntax" in text_of(response) and '"language model"' in unescape(
        text_of(response))


def test_static_files(client):
    css = client.get("/static/style.css")
    assert css.status_code == 200 and css.mimetype == "text/css"
    assert "prefers-color-scheme: dark" in text_of(css)
    assert client.get("/static/app.js").mimetype in ("text/javascript", "application/javascript")


# --- the index on disk -------------------------------------------------------------------

def test_missing_index_is_503_until_it_is_built(tmp_path, corpus_dir):
    index_dir = tmp_path / "index"
    client = create_app(index_dir).test_client()
    response = client.get("/?q=chatgpt")
    assert response.status_code == 503
    html = text_of(response)
    assert "No index yet" in html and "searchidx index ARCHIVE" in html
    api = client.get("/api/search?q=chatgpt")
    assert api.status_code == 503 and "no index at" in api.get_json()["error"]

    indexer.update(index_dir, [corpus_dir / "2022-11-30-chatgpt.md"])
    assert "Introducing ChatGPT" in text_of(client.get("/?q=chatgpt"))  # no restart


def test_new_post_appears_without_restart(tmp_path):
    archive, index_dir = tmp_path / "archive", tmp_path / "index"
    write(archive, "a.md", "---\ntitle: First post\ndate: 2024-01-01\n---\nAbout owls.\n")
    indexer.update(index_dir, [archive])
    client = create_app(index_dir).test_client()
    assert client.get("/api/search?q=owls").get_json()["total"] == 1
    assert client.get("/api/search?q=quokkas").get_json()["total"] == 0

    write(archive, "b.md", "---\ntitle: Second post\ndate: 2024-02-01\n---\nQuokkas.\n")
    indexer.update(index_dir, [archive])
    found = client.get("/api/search?q=quokkas").get_json()
    assert found["total"] == 1 and found["hits"][0]["title"] == "Second post"
    assert "Second post" in text_of(client.get("/"))
