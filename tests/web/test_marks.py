"""The archived copy shows why it matched (issue 17, item 5): reached from a result
(/post/ID?q=…), the query's places in its text are marked as the search found them, with
jumps from each mark to the next, in the test client and in headless Chromium."""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser
from pathlib import Path

import pytest

from searchidx import Index, indexer
from tests.conftest import _write_post
from web import create_app
from web.render import mark_html, markdown_html

# Every form the marking must get right: stems (models, modeling, Model), a phrase split
# by formatting, words inside link addresses, image alt text and titles, an entity next to
# a word, code, and a link's own text (marked, but not a jump: a link holds no link).
MARKING_POST = """\
Our models beat the baseline. See [the page on modeling](https://models.example.org/models?model=1)
and ![a model figure](https://img.example.org/model.png "model title").

Reinforcement learning, then *reinforcement* **learning** apart, and AT&amp;T models &lt;b&gt;.

<abbr title="models everywhere">MDL</abbr> and `model_code` and a Model.

| model | other |
|-------|-------|
| x     | y     |
"""
OTHER_POST = "Quibblestone notes with no such words in them.\n"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    posts = {
        "2023-01-02-marking.md": ({"title": "Quibblestone marking",
                                   "url": "https://blog.quibble-lab.org/2023/marking/"},
                                  MARKING_POST),
        "2023-01-03-sidenote.md": ({"title": "Quibblestone sidenote", "summary": "A model summary"},
                                OTHER_POST),
    }
    for name, (meta, body) in posts.items():
        _write_post(folder, name, meta, body)
    return folder


@pytest.fixture(scope="module")
def idx(archive, tmp_path_factory) -> Index:
    index_dir = tmp_path_factory.mktemp("index")
    report = indexer.update(index_dir, [archive])
    assert report.added == 2 and not report.skipped
    return Index.open(index_dir)


@pytest.fixture(scope="module")
def app(idx):  # this module's archive, for the client and the browser fixtures alike
    return create_app(idx.path)


def post_id(idx: Index, title_word: str) -> str:
    hits = idx.search(f"title:{title_word}").hits
    assert len(hits) == 1, [hit.title for hit in hits]
    return hits[0].id


def body_of(page: str) -> str:
    return re.search(r'<div class="body">(.*?)</div>\n</article>', page, re.S).group(1)


def marks_of(html: str) -> list[str]:
    return [unescape(text) for text in re.findall(r"<mark[^>]*>(.*?)</mark>", html)]


class _Checker(HTMLParser):
    """Well-formedness as the marking could break it: every element closed in order, no
    link inside a link, no id twice; and every attribute value, to look into."""

    VOID = {"br", "hr", "img"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.ids: list[str] = []
        self.values: list[str] = []
        self.problems: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a" and "a" in self.open:
            self.problems.append("a link inside a link")
        self.values += [value or "" for _, value in attrs]
        self.ids += [value for name, value in attrs if name == "id"]
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.problems.append(f"</{tag}> closes nothing open")


def check(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.problems == [] and checker.open == []
    assert len(checker.ids) == len(set(checker.ids))
    return checker


def test_stemmed_words_are_marked_in_text_only(app, idx):
    marking = post_id(idx, "marking")
    plain = body_of(app.test_client().get(f"/post/{marking}").text)
    page = app.test_client().get(f"/post/{marking}?q=models").text
    body = body_of(page)
    # "models" finds model, models, modeling and Model, as the search does; the link's
    # text is marked too, and the code span's model_code is one word, not "model".
    assert [m.lower() for m in marks_of(body)] == [
        "models", "modeling", "models", "model", "model"]
    checker = check(body)
    assert not any("<mark" in value for value in checker.values)  # none in an attribute
    assert 'href="https://models.example.org/models?model=1"' in body
    assert 'alt="a model figure" title="model title"' in body
    assert '<abbr title="models everywhere">' in body
    assert "AT&amp;T <mark" in body and "&lt;b&gt;" in body  # entities kept whole
    # Take the marks away and the text is what it was, byte for byte.
    unmarked = re.sub(r'<a class="next-mark" href="#mark-\d+">next match</a>', "", body)
    assert re.sub(r"</?mark[^>]*>", "", unmarked) == plain


def test_jumps_run_from_the_first_mark_to_the_last_and_back(app, idx):
    page = app.test_client().get(f"/post/{post_id(idx, 'marking')}?q=models").text
    body = body_of(page)
    ids = re.findall(r'<mark id="(mark-\d+)">', body)
    nexts = re.findall(r'<a class="next-mark" href="#(mark-\d+)">', body)
    # The mark in the link's text has no jump (a link cannot hold the "next" link).
    assert ids == ["mark-1", "mark-2", "mark-3", "mark-4"]
    assert nexts == ["mark-2", "mark-3", "mark-4", "mark-1"]
    assert re.search(r'<a href="[^"]*"[^>]*>the page on <mark>modeling</mark></a>', body)
    assert '<a href="#mark-1">go to the first</a>' in page
    assert "5 places in the text" in page


def test_a_phrase_is_marked_where_it_is_one_even_across_formatting(app, idx):
    body = body_of(app.test_client().get(
        f"/post/{post_id(idx, 'marking')}", query_string={"q": '"reinforcement learning"'}).text)
    assert "<mark>Reinforcement learning</mark>" in body.replace(' id="mark-1"', "")
    # Split by <em> and <strong>: one place in three pieces (the space between them too),
    # the jump at its end.
    assert ('<em><mark>reinforcement</mark></em><mark> </mark><strong><mark id="mark-2">'
            "learning</mark>") in body
    assert len(re.findall(r'<mark id="mark-\d+">', body)) == 2


def test_words_side_by_side_are_one_place(idx):
    html = markdown_html("The language models here, and language alone.")
    marked = mark_html(html, lambda text: idx.match_spans("language models", text))
    assert marks_of(marked.html) == ["language models", "language"]
    assert (marked.marks, marked.jumps) == (2, 2)


def test_search_results_link_the_archived_copy_with_the_query(app, idx):
    page = app.test_client().get("/?q=quibblestone+models").text
    archived = re.findall(r'href="(/post/[0-9a-f]+[^"]*)">archived copy', page)
    assert archived and all(link.endswith("?q=quibblestone+models") for link in archived)
    # With no query there is nothing to mark: the links carry none.
    everything = app.test_client().get("/").text
    archived = re.findall(r'href="(/post/[0-9a-f]+[^"]*)">archived copy', everything)
    assert len(archived) == 2 and not any("?" in link for link in archived)


def test_no_query_no_marks_and_a_note_when_the_text_has_none(app, idx):
    client = app.test_client()
    other = post_id(idx, "sidenote")
    assert 'class="marks"' not in client.get(f"/post/{other}").text
    assert 'class="marks"' not in client.get(f"/post/{other}?q=++").text
    page = client.get(f"/post/{other}?q=model").text  # it matched on its summary
    assert "<mark" not in body_of(page)
    assert "No words of <strong>model</strong> are in this copy" in page


@pytest.mark.parametrize("query", [
    '"unclosed', "AND OR", "(((", ")(", "title:", "model*", "*", "date:>x", "NOT model",
    "+", '"', "cites:", "model\x00s", "<script>alert(1)</script>", "a" * 5000,
    "models " * 300, "m\u0301odels", "ＭＯＤＥＬＳ",
])
def test_a_malformed_query_never_fails_the_page(app, idx, query):
    response = app.test_client().get(f"/post/{post_id(idx, 'marking')}",
                                     query_string={"q": query})
    assert response.status_code == 200
    assert "Traceback" not in response.text and "<script>alert" not in response.text
    check(body_of(response.text))
    if query == "NOT model":  # words under NOT only exclude: nothing to mark
        assert "<mark" not in body_of(response.text)


def test_full_width_and_wildcard_queries_mark_as_search_matches(app, idx):
    client = app.test_client()
    marking = post_id(idx, "marking")
    for query in ("ＭＯＤＥＬＳ", "model*"):
        body = body_of(client.get(f"/post/{marking}", query_string={"q": query}).text)
        assert {m.lower() for m in marks_of(body)} >= {"models", "model"}, query


# --- in Chromium -----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("javascript", [True, False], ids=["js", "no-js"])
def test_next_mark_jumps_in_the_browser(open_page, base_url, idx, javascript):
    page = open_page(java_script_enabled=javascript, viewport={"width": 800, "height": 400})
    page.goto(f"{base_url}/post/{post_id(idx, 'marking')}?q=models")
    # The n/N hint is for the keys only JavaScript adds.
    assert page.locator(".marks .keys").is_visible() == javascript
    page.get_by_role("link", name="go to the first").click()
    page.wait_for_url("**#mark-1")
    first = page.locator("#mark-1")
    assert first.evaluate("el => el.matches(':target')")
    assert first.is_visible() and page.locator("#mark-1 + .next-mark").is_visible()
    assert not page.locator("#mark-2 + .next-mark").is_visible()  # only the one jumped to
    page.locator("#mark-1 + .next-mark").click()
    page.wait_for_url("**#mark-2")
    assert page.locator("#mark-2").evaluate("el => el.matches(':target')")
    assert page.locator("#mark-2 + .next-mark").is_visible()
    if javascript:
        page.keyboard.press("n")
        page.wait_for_url("**#mark-3")
        page.keyboard.press("N")
        page.keyboard.press("N")
        page.wait_for_url("**#mark-1")
        page.keyboard.press("N")  # from the first, back round to the last
        page.wait_for_url("**#mark-4")
        box = page.evaluate("document.getElementById('mark-4').getBoundingClientRect().top")
        assert 0 <= box <= 400  # scrolled into view
    assert page.errors == []


def test_marking_every_corpus_post_keeps_its_html(index_dir):
    """Over all of corpus/ (and the hostile post): the marked copy is well formed, and with
    the marks taken away it is the copy as it was, byte for byte."""
    corpus = Index.open(index_dir)
    marked_places = 0
    for record in corpus.export():
        html = markdown_html(record.markdown, base_url=record.link)
        for query in ("models learning", '"language model"', "data*", "zorblax script"):
            marked = mark_html(html, lambda text, q=query: corpus.match_spans(q, text))
            check(marked.html)
            unmarked = re.sub(r'<a class="next-mark" href="#mark-\d+">next match</a>', "",
                              marked.html)
            assert re.sub(r"</?mark[^>]*>", "", unmarked) == html, (record.path, query)
            marked_places += marked.marks
    assert marked_places > 500
