"""The archived copy and the text around it, through the real app on posts we wrote
(issue 14, items 2-5): plain titles and summaries, no template text, images that show."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import feedparser
import pytest

from searchidx import Index, indexer
from tests.conftest import _write_post
from web import create_app
from web.render import markdown_html, post_base_url

TEMPLATE_POST = """\
{% assign team = site.data.team | sort: 'name' %}
<div class="team">
    {% for member in team %}
    <div class="card"><h4>{{ member.name }}</h4><a href="{{ member.site }}">{{ member.site }}</a>
    </div>
    {% endfor %}
</div>

Gribbleton video below.

{% include youtubePlayer.html id="Xy_9-AbCdEf" %}

{%- if page.extra -%}Extra words{%- endif -%}

Typed as code, so shown: `{{ user_prompt }}`.
"""

IMAGES_POST = """\
Plonkwise figures.

![First plonk figure](/blog/assets/plonk/first.png)

<img src="http://old-images.plonk-lab.org/second.png" alt="Second plonk figure">

<img src="figures/third.png" alt="">

![Fourth plonk figure](https://cdn.plonk-lab.org/fourth.png)
"""

SITE_RELATIVE_POST = "Snorfle figure.\n\n![Snorfle chart](/blog/assets/snorfle/chart.png)\n"


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("archive")
    posts = {
        "2022-01-01-template.md": ({"title": "Gribbleton team page"}, TEMPLATE_POST),
        "2022-01-02-images.md": ({"title": "Plonkwise figures"}, IMAGES_POST),
        "2022-01-03-stub.md": ({"title": "Snorfle stub", "url": "https://example.com"},
                               SITE_RELATIVE_POST),
        "2022-01-04-site.md": (
            {"title": "Snorfle on its site",
             "url": "https://blog.snorfle-lab.org/2022/01/04/snorfle/"},
            SITE_RELATIVE_POST),
        "2022-01-05-marked.md": (
            {"title": "Wuzzle Models<br> for <i>Tiny</i> Robots &amp; Arms",
             "summary": "**Wuzzle** results with [a link](https://wuzzle.example.org/p) and"
                        " __more__"},
            "Wuzzle body text."),
    }
    for name, (meta, body) in posts.items():
        _write_post(folder, name, meta, body)
    return folder


@pytest.fixture(scope="module")
def idx(archive, tmp_path_factory) -> Index:
    index_dir = tmp_path_factory.mktemp("index")
    report = indexer.update(index_dir, [archive])
    assert report.added == 5 and not report.skipped
    return Index.open(index_dir)


@pytest.fixture(scope="module")
def client(idx):
    return create_app(idx.path).test_client()


def post_id(idx: Index, title_word: str) -> str:
    """The id of the one post whose title has `title_word`."""
    hits = idx.search(f"title:{title_word}").hits
    assert len(hits) == 1, [hit.title for hit in hits]
    return hits[0].id


def body_of(page: str) -> str:
    return re.search(r'<div class="body">(.*?)</div>\n</article>', page, re.S).group(1)


# --- 2 and 3: titles and summaries as text -------------------------------------------------

def test_title_and_summary_are_text_on_every_surface(client, idx):
    title = "Wuzzle Models for Tiny Robots & Arms"
    summary = "Wuzzle results with a link and more"
    found = client.get("/api/search?q=wuzzle").get_json()["hits"][0]
    assert found["title"] == title
    record = client.get(f"/api/post/{found['id']}").get_json()
    assert (record["title"], record["summary"]) == (title, summary)
    page = client.get(f"/post/{found['id']}").get_data(as_text=True)
    assert f"<h1>{title.replace('&', '&amp;')}</h1>" in page
    assert f'<p class="lead">{summary}</p>' in page
    results = unescape(client.get("/?q=wuzzle").get_data(as_text=True))
    assert title in results and "<br>" not in results.split("<main")[1]
    entry = feedparser.parse(client.get("/feed.atom?q=wuzzle").data).entries[0]
    assert (entry.title, entry.summary) == (title, summary)


# --- 4: template directives ------------------------------------------------------------

def test_archived_copy_shows_no_template_directive(client, idx):
    page = client.get(f"/post/{post_id(idx, 'gribbleton')}").get_data(as_text=True)
    body = body_of(page)
    outside_code = re.sub(r"<code>.*?</code>", "", body, flags=re.S)
    assert "{%" not in outside_code and "{{" not in outside_code, body
    assert "<code>{{ user_prompt }}</code>" in body  # typed as code: the post's text
    # A directive's line goes with it: left blank, it would end the HTML block and show
    # the indented tags after it as a code block.
    assert "&lt;div" not in body


def test_youtube_include_becomes_a_link_to_the_video(client, idx):
    body = body_of(client.get(f"/post/{post_id(idx, 'gribbleton')}").get_data(as_text=True))
    assert re.search(r'<a href="https://www\.youtube\.com/watch\?v=Xy_9-AbCdEf"[^>]*>', body)
    assert "youtubePlayer" not in body


def test_template_links_left_empty_are_not_links(client, idx):
    body = body_of(client.get(f"/post/{post_id(idx, 'gribbleton')}").get_data(as_text=True))
    assert re.findall(r'href="([^"]*)"', body) == ["https://www.youtube.com/watch?v=Xy_9-AbCdEf"]


# --- 5: images ---------------------------------------------------------------------------

def test_csp_lets_http_images_show(client):
    policy = client.get("/help").headers["Content-Security-Policy"]
    img_src = next(d for d in policy.split(";") if d.strip().startswith("img-src")).split()
    assert "http:" in img_src and "https:" in img_src
    script_src = next(d for d in policy.split(";") if d.strip().startswith("script-src"))
    assert script_src.split()[1:] == ["'self'"]  # images only: scripts stay our own


def test_images_that_cannot_be_resolved_show_their_alt_text(client, idx):
    body = body_of(client.get(f"/post/{post_id(idx, 'plonkwise')}").get_data(as_text=True))
    sources = re.findall(r'<img [^>]*src="([^"]*)"', body)
    assert sources == ["http://old-images.plonk-lab.org/second.png",
                       "https://cdn.plonk-lab.org/fourth.png"]
    assert len(re.findall(r"<img\b", body)) == 2  # no <img> without a source: no broken box
    assert "First plonk figure" in body  # the site-relative one, its site unknown


def test_placeholder_url_is_not_the_posts_site(client, idx):
    record = idx.get(post_id(idx, "stub"))
    html = markdown_html(record.markdown, record.url)
    assert "example.com" not in html and "<img" not in html
    assert "Snorfle chart" in html
    page = client.get(f"/post/{record.id}").get_data(as_text=True)
    assert "<img" not in body_of(page) and "Snorfle chart" in body_of(page)


def test_site_relative_image_resolves_against_the_posts_site(idx):
    record = idx.get(post_id(idx, "site"))
    html = markdown_html(record.markdown, record.url)
    assert '<img src="https://blog.snorfle-lab.org/blog/assets/snorfle/chart.png"' in html


@pytest.mark.parametrize(("url", "base"), [
    ("https://blog.snorfle-lab.org/2022/01/04/snorfle/",
     "https://blog.snorfle-lab.org/2022/01/04/snorfle/"),
    ("https://example.com", ""),
    ("https://example.com/posts/1", ""),
    ("https://www.example.org/a", ""),
    ("https://snorfle-lab.org/", ""),  # a bare site root names no post
    ("http://localhost/a", ""),
    ("javascript:alert(1)", ""),
    ("", ""),
])
def test_post_base_url(url, base):
    assert post_base_url(url) == base
