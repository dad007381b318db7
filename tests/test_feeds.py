"""Feeds → archive → index, against a loopback HTTP server (tests/feed_server.py).

Every feed here is written for these tests, except those of ../shared/feeds (real saved
feeds, used in place and skipped when the folder is absent).
"""

from __future__ import annotations

import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchidx import Index, SearchIdxError, __version__, feeds, indexer
from searchidx.cli import cli
from searchidx.posts import read_post
from tests.feed_server import FeedServer, rss

SHARED_FEEDS = Path(__file__).resolve().parents[2] / "shared" / "feeds"
FAST = feeds.Limits(timeout=1.0, max_bytes=1024 * 1024, max_redirects=3)

RSS2 = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"
     xmlns:media="http://search.yahoo.com/mrss/">
<channel>
  <title>Tidepool Lab Notes</title>
  <link>https://tidepool.example/</link>
  <description>Field notes from the shore</description>
  <item>
    <title>Kelp forests &amp; sonar: a field report</title>
    <link>/posts/kelp-sonar/</link>
    <guid isPermaLink="false">tidepool-1</guid>
    <pubDate>Thu, 27 Apr 2023 09:30:00 +0200</pubDate>
    <description>We mapped &lt;em&gt;kelp&lt;/em&gt; canopies with sonar &#8212; quickly.
    </description>
    <content:encoded><![CDATA[<p>We towed a <strong>side-scan sonar</strong> along the reef.
      See <a href="/data/kelp.csv">the data</a>.</p><h2>Method</h2>
      <ul><li>Tow at dawn</li><li>Log the tides</li></ul>
      <p><img src="/img/kelp.png" alt="kelp map"></p>]]></content:encoded>
    <media:thumbnail url="https://cdn.tidepool.example/kelp-thumb.jpg"/>
    <category>ecology</category>
  </item>
  <item>
    <title>Barnacle larvae counts</title>
    <link>https://tidepool.example/posts/barnacles/</link>
    <pubDate>Fri, 28 Apr 2023 00:00:00 GMT</pubDate>
    <description><![CDATA[<p>Counts rose <b>threefold</b> after the storm.</p>]]></description>
    <enclosure url="/img/barnacles.jpg" type="image/jpeg" length="1000"/>
  </item>
  <item>
    <title>Undated musings on plankton</title>
    <link>https://tidepool.example/posts/plankton/</link>
    <description>&lt;p&gt;Plankton drift. &lt;img src="/img/plankton.png"&gt;&lt;/p&gt;
    </description>
  </item>
  <item>
    <title>Lab meeting minutes</title>
    <pubDate>Mon, 01 May 2023 12:00:00 +0000</pubDate>
    <description>Minutes of the meeting about tidal gauges.</description>
  </item>
</channel>
</rss>
"""

RSS091 = """<?xml version="1.0"?>
<rss version="0.91"><channel>
  <title>Old Station Log</title><link>http://station.example/</link>
  <description>Weather station</description><language>en</language>
  <item><title>Anemometer recalibrated</title><link>http://station.example/log/anemometer</link>
    <description>The anemometer reads true again after the gale.</description></item>
</channel></rss>
"""

RSS1 = """<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
         xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="http://glacier.example/rss">
    <title>Glacier Survey</title><link>http://glacier.example/</link>
    <description>Ice notes</description>
    <items><rdf:Seq><rdf:li rdf:resource="http://glacier.example/2022/melt"/></rdf:Seq></items>
  </channel>
  <item rdf:about="http://glacier.example/2022/melt">
    <title>Meltwater season starts early</title><link>http://glacier.example/2022/melt</link>
    <description>Meltwater channels opened in March.</description>
    <dc:date>2022-03-14T08:00:00Z</dc:date>
  </item>
</rdf:RDF>
"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:media="http://search.yahoo.com/mrss/"
      xml:base="https://orbit.example/blog/">
  <title>Orbit &amp; Ops</title>
  <id>urn:uuid:5d1c6a52-orbit</id>
  <updated>2024-01-10T00:00:00Z</updated>
  <entry>
    <title type="html">Station-keeping with &lt;em&gt;ion&lt;/em&gt; thrusters</title>
    <link rel="alternate" href="posts/ion-thrusters.html"/>
    <id>tag:orbit.example,2024:ion</id>
    <published>2024-01-09T22:15:00-05:00</published>
    <updated>2024-01-10T00:00:00Z</updated>
    <summary>A short note on ion thrusters.</summary>
    <content type="html">&lt;p&gt;Ion thrusters push gently.
      &lt;a href="../data/thrust.csv"&gt;Thrust data&lt;/a&gt;&lt;/p&gt;
      &lt;p&gt;&lt;img src="img/ion.png" alt="ion plume"&gt;&lt;/p&gt;</content>
    <media:content url="https://cdn.orbit.example/ion.jpg" medium="image"/>
    <author><name>Ada Lovecraft</name></author>
  </entry>
</feed>
"""

JSON_FEED = json.dumps({
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Reef Radio",
    "home_page_url": "https://reef.example/",
    "items": [
        {"id": "reef-7", "url": "/episodes/7", "title": "Episode 7: coral spawning night",
         "content_html": '<p>Spawning <em>night</em> at the reef. <a href="/notes/7">notes</a>'
                         "</p><script>alert('x')</script>",
         "summary": "Coral spawning, live.", "date_published": "2023-11-02T21:00:00+10:00",
         "image": "/art/7.png", "tags": ["coral"], "authors": [{"name": "Mo Reef"}]},
        {"id": 8, "title": "Episode 8 transcript",
         "content_text": "Plain text with <angle> brackets & ampersands.\n\nSecond paragraph."},
    ],
})


def numbered(count: int, words: str = "Glacier report", extra: str = "") -> list[dict]:
    return [{"guid": f"item-{n}", "title": f"{words} number {n}",
             "link": f"https://example.org/{n}", "date": "Tue, 02 May 2023 10:00:00 +0000",
             "html": f"<p>Report {n} of the survey.{extra}</p><p>END-{n}</p>"}
            for n in range(count)]


@pytest.fixture
def server():
    running = FeedServer()
    yield running
    running.close()


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"


@pytest.fixture
def archive(tmp_path: Path) -> Path:
    return tmp_path / "archive"


def posts_in(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.md"))


def assert_searchable(index_dir: Path, path: Path, title: str) -> None:
    hits = Index.open(index_dir).search(title, per_page=20).hits
    assert str(path) in [hit.path for hit in hits], f"{title!r} does not find {path}"


# --- formats and fields ----------------------------------------------------------------

def test_rss2_items_become_posts_with_every_field_mapped(server, index_dir, archive):
    url = server.serve("/tidepool/rss.xml", RSS2)
    feeds.add_feed(index_dir, url)
    report = feeds.fetch(index_dir, archive, limits=FAST)

    (feed,) = report.feeds
    assert (len(feed.new), feed.failed, feed.source) == (4, None, "Tidepool Lab Notes")
    folder = archive / "tidepool-lab-notes"
    assert sorted(p.name for p in posts_in(archive)) == [
        "2023-04-27-kelp-forests-sonar-a-field-report.md",
        "2023-04-28-barnacle-larvae-counts.md",
        "2023-05-01-lab-meeting-minutes.md",
        "undated-musings-on-plankton.md",
    ]
    kelp_path = folder / "2023-04-27-kelp-forests-sonar-a-field-report.md"
    text = kelp_path.read_text(encoding="utf-8")
    assert "pubDate: Thu, 27 Apr 2023 07:30:00 +0000\n" in text  # RFC 2822, in UTC
    kelp = read_post(kelp_path)
    assert kelp.title == "Kelp forests & sonar: a field report"
    assert kelp.date == datetime(2023, 4, 27, 7, 30)
    assert kelp.url == server.url("/posts/kelp-sonar/")  # relative link resolved
    assert kelp.source == "Tidepool Lab Notes"
    assert kelp.thumbnail == "https://cdn.tidepool.example/kelp-thumb.jpg"  # media:thumbnail
    assert kelp.summary == "We mapped kelp canopies with sonar — quickly."  # entities decoded
    assert "description: We mapped kelp canopies with sonar — quickly." in text
    assert kelp.tags == ("ecology",)
    # content:encoded (CDATA) is the body, as markdown with absolute links
    assert "We towed a **side-scan sonar** along the reef." in kelp.markdown
    assert f"[the data]({server.url('/data/kelp.csv')})" in kelp.markdown
    assert "## Method" in kelp.markdown and "- Tow at dawn\n- Log the tides" in kelp.markdown
    assert f"![kelp map]({server.url('/img/kelp.png')})" in kelp.markdown
    assert "<" not in kelp.markdown

    barnacles = read_post(folder / "2023-04-28-barnacle-larvae-counts.md")
    assert barnacles.thumbnail == server.url("/img/barnacles.jpg")  # enclosure image
    assert barnacles.markdown.strip() == "Counts rose **threefold** after the storm."

    plankton = read_post(folder / "undated-musings-on-plankton.md")
    assert plankton.date is None  # no date in the feed: none in the archive (never "now")
    # the first image of the content, relative to the item's page on its own site
    assert plankton.thumbnail == "https://tidepool.example/img/plankton.png"

    minutes = read_post(folder / "2023-05-01-lab-meeting-minutes.md")
    assert minutes.url == "" and minutes.date == datetime(2023, 5, 1, 12)  # no link, no guid

    assert report.index is not None and report.index.added == 4
    for path in posts_in(archive):
        assert_searchable(index_dir, path, read_post(path).title)


def test_links_are_relative_to_the_items_page_and_a_title_keeps_its_words(
        server, index_dir, archive):
    """Without xml:base, a link in an item is relative to the item's page, as a reader of
    that page would follow it (`../`, `#section`), not to the feed's address. A title
    whose text looks like markup (`<think>`) or an entity (`&amp;`) keeps it: the
    archive's titles are read as HTML."""
    page = server.url("/posts/2024/notes/")
    url = server.serve("/feed/index.xml", rss("Deep Notes", [{
        "guid": "n1", "title": "&lt;think&gt;...&lt;/think&gt; Notes &amp;amp; Q&amp;A",
        "link": page, "date": "Tue, 02 May 2023 10:00:00 +0000",
        "html": '<p>See <a href="../earlier/">earlier</a>, <a href="#method">the '
                'method</a> and <img src="fig.png" alt="a figure"></p>'}]))
    feeds.add_feed(index_dir, url)
    feeds.fetch(index_dir, archive, limits=FAST)
    (path,) = posts_in(archive)
    post = read_post(path)
    assert post.title == "<think>...</think> Notes &amp; Q&A"
    assert f"[earlier]({server.url('/posts/2024/earlier/')})" in post.markdown
    assert f"[the method]({page}#method)" in post.markdown
    assert f"![a figure]({page}fig.png)" in post.markdown
    assert post.thumbnail == f"{page}fig.png"


def test_rss_091_rss_10_atom_and_json_feed(server, index_dir, archive):
    for path, body, content_type in (
        ("/old.xml", RSS091, "text/xml"), ("/rdf.xml", RSS1, "application/rdf+xml"),
        ("/atom.xml", ATOM, "application/atom+xml"),
        ("/feed.json", JSON_FEED, "application/feed+json"),
    ):
        feeds.add_feed(index_dir, server.serve(path, body, content_type=content_type))
    feeds.add_feed(index_dir, server.url("/atom.xml"), name="Orbit Ops Team")  # a rename
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert [(f.source, len(f.new), f.failed) for f in report.feeds] == [
        ("Old Station Log", 1, None), ("Glacier Survey", 1, None),
        ("Orbit Ops Team", 1, None), ("Reef Radio", 2, None)]

    (station,) = map(read_post, posts_in(archive / "old-station-log"))
    assert (station.title, station.url, station.date) == (
        "Anemometer recalibrated", "http://station.example/log/anemometer", None)
    assert station.body == "The anemometer reads true again after the gale."

    (glacier,) = map(read_post, posts_in(archive / "glacier-survey"))
    assert (glacier.title, glacier.date) == ("Meltwater season starts early",
                                             datetime(2022, 3, 14, 8))

    (ion_path,) = posts_in(archive / "orbit-ops-team")
    assert ion_path.name == "2024-01-10-station-keeping-with-ion-thrusters.md"
    ion = read_post(ion_path)
    assert ion.title == "Station-keeping with ion thrusters"  # type="html" title as text
    assert ion.url == "https://orbit.example/blog/posts/ion-thrusters.html"  # xml:base
    assert ion.date == datetime(2024, 1, 10, 3, 15)
    assert ion.source == "Orbit Ops Team"
    assert ion.summary == "A short note on ion thrusters."
    assert ion.authors == ("Ada Lovecraft",)
    assert ion.thumbnail == "https://cdn.orbit.example/ion.jpg"  # media:content
    assert "[Thrust data](https://orbit.example/data/thrust.csv)" in ion.markdown
    assert "![ion plume](https://orbit.example/blog/img/ion.png)" in ion.markdown

    episode7, episode8 = map(read_post, posts_in(archive / "reef-radio"))
    assert episode7.title == "Episode 7: coral spawning night"
    assert episode7.url == server.url("/episodes/7")
    assert episode7.date == datetime(2023, 11, 2, 11)
    assert episode7.thumbnail == server.url("/art/7.png")
    assert (episode7.tags, episode7.authors) == (("coral",), ("Mo Reef",))
    assert episode7.summary == "Coral spawning, live."
    assert "Spawning *night* at the reef." in episode7.markdown
    assert "alert" not in episode7.markdown  # scripts are not content
    assert episode8.title == "Episode 8 transcript" and episode8.date is None
    assert "Plain text with <angle> brackets & ampersands." in episode8.body
    assert "Second paragraph." in episode8.body

    for path in posts_in(archive):
        assert_searchable(index_dir, path, read_post(path).title)


@pytest.mark.skipif(not SHARED_FEEDS.is_dir(), reason="../shared/feeds is not here")
def test_real_saved_feeds(server, index_dir, archive):
    # Item counts as ../shared/feeds/README.md gives them.
    counts = {"lilianweng-lillog.xml": 53, "colah-blog.xml": 6, "qwen-blog.xml": 44,
              "qwen-blog-zh.xml": 44, "iclr-blogposts-2024.xml": 10,
              "anthropic-news-mirror.xml": 255, "meta-ai-blog-mirror.xml": 88,
              "arxiv-api-2018-einstein.xml": 10}
    for name in counts:
        feeds.add_feed(index_dir, server.serve(f"/{name}", (SHARED_FEEDS / name).read_bytes()))
    report = feeds.fetch(index_dir, archive)
    assert [(Path(f.url).name, len(f.new), f.failed) for f in report.feeds] == [
        (name, count, None) for name, count in counts.items()]
    assert report.index.added == sum(counts.values()) and not report.index.skipped
    # The English and Chinese Qwen feeds share a title, not a folder.
    assert {p.name for p in archive.iterdir()} >= {"blog-on-qwen", "blog-on-qwen-2", "lillog"}

    sources = {f.url: f.source for f in report.feeds}
    for feed in report.feeds:
        for path in map(Path, feed.new):
            post = read_post(path)
            assert post.title and post.url.startswith("http") and post.markdown is not None
            assert post.source == sources[feed.url]
    first_of_each = [Path(feed.new[0]) for feed in report.feeds]
    for path in first_of_each:
        assert_searchable(index_dir, path, read_post(path).title)

    faq = read_post(archive / "lillog" / "faq.md")  # Hugo's zero date: undated, not 2001
    assert faq.date is None
    colah = [read_post(p) for p in posts_in(archive / "colahs-blog")]
    assert sorted(p.date.date().isoformat() for p in colah) == [  # "Thurs, 3 Sep 2015 … UTC"
        "2015-01-16", "2015-08-27", "2015-08-31", "2015-09-03", "2015-09-03", "2019-05-30"]
    iclr = [read_post(path) for path in posts_in(archive / "iclr-blogposts-2024")]
    thumbnails = [post.thumbnail for post in iclr if post.thumbnail]
    assert len(thumbnails) == 9  # the entries with an <img>
    assert all(t.startswith("https://") for t in thumbnails)  # `src="/2024/…"` resolved
    assert sum(t.startswith("https://iclr-blogposts.github.io/2024/") for t in thumbnails) == 8
    for post in iclr:
        assert "](/2024/" not in post.markdown  # relative links resolved against xml:base
        assert post.authors and len(post.markdown) > 2000  # the full content, not the summary

    again = feeds.fetch(index_dir, archive)
    assert sum(len(f.new) + len(f.updated) for f in again.feeds) == 0
    assert sum(f.unchanged for f in again.feeds) == sum(counts.values())


# --- politeness and failures ----------------------------------------------------------

def test_conditional_get_user_agent_and_gzip(server, index_dir, archive):
    url = server.serve("/tidepool.xml", RSS2, etag='"v1"', gzipped=True)
    dated = server.serve("/station.xml", RSS091, last_modified="Wed, 03 May 2023 10:00:00 GMT")
    feeds.add_feed(index_dir, url)
    feeds.add_feed(index_dir, dated)
    first = feeds.fetch(index_dir, archive, limits=FAST)
    assert [len(f.new) for f in first.feeds] == [4, 1]  # the gzipped body was read

    second = feeds.fetch(index_dir, archive, limits=FAST)
    assert [f.not_modified for f in second.feeds] == [True, True]
    assert [len(f.new) for f in second.feeds] == [0, 0]
    tidepool = [r.headers for r in server.requests if r.path == "/tidepool.xml"]
    assert "If-None-Match" not in tidepool[0] and tidepool[1]["If-None-Match"] == '"v1"'
    station = [r.headers for r in server.requests if r.path == "/station.xml"]
    assert station[1]["If-Modified-Since"] == "Wed, 03 May 2023 10:00:00 GMT"
    assert tidepool[0]["User-Agent"] == f"searchidx/{__version__}"
    assert "gzip" in tidepool[0]["Accept-Encoding"]


def _dripping(handler) -> None:
    """Headers at once, then one byte every 0.1 s: each read is quick, the whole is not."""
    handler.send_response(200)
    handler.send_header("Content-Length", "1000")
    handler.end_headers()
    for _ in range(100):
        handler.wfile.write(b" ")
        handler.wfile.flush()
        time.sleep(0.1)


def _endless(handler) -> None:
    """A body with no Content-Length: only counting what arrives can stop it."""
    handler.send_response(200)
    handler.end_headers()
    for _ in range(64):
        handler.wfile.write(b" " * 64 * 1024)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_failing_feed_is_reported_with_its_reason_and_the_run_goes_on(
        server, index_dir, archive):
    failing = {
        server.url("/missing.xml"): "HTTP 404",
        server.serve("/broken.xml", "oops", status=500): "HTTP 500",
        server.serve("/slow.xml", RSS091, delay=3): "timed out after 1 s",
        server.route("/drip.xml", _dripping): "timed out after 1 s",
        server.redirect("/loop-a.xml", "/loop-b.xml"): "redirect loop",
        server.redirect("/ftp.xml", "ftp://127.0.0.1/feed.xml"): "not http(s)",
        server.serve("/garbage.xml", os.urandom(4000), content_type="text/html"): "not a feed",
        server.serve("/page.html", "<html><body><p>Hello</p></body></html>",
                     content_type="text/html"): "not a feed",
        server.serve("/huge.xml", b"<rss>" + b" " * (2 * 1024 * 1024)): "larger than 1 MB",
        server.route("/endless.xml", _endless): "larger than 1 MB",
        server.serve("/bomb.xml", gzip.compress(b" " * (5 * 1024 * 1024)),
                     headers={"Content-Encoding": "gzip"}): "larger than 1 MB uncompressed",
        f"http://127.0.0.1:{_closed_port()}/feed.xml": "cannot connect",
    }
    server.redirect("/loop-b.xml", "/loop-a.xml")
    good = server.serve("/good.xml", RSS091)
    for url in [*list(failing)[:5], good, *list(failing)[5:]]:
        feeds.add_feed(index_dir, url)

    started = time.monotonic()
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert time.monotonic() - started < 8  # each slow feed costs its timeout, no more

    reasons = {f.url: f.failed for f in report.feeds}
    for url, expected in failing.items():
        assert reasons[url] and expected in reasons[url], (url, reasons[url])
    assert reasons[good] is None
    assert [p.name for p in posts_in(archive)] == ["anemometer-recalibrated.md"]
    listed = {feed.url: feed.error for feed in feeds.list_feeds(index_dir)}
    assert "HTTP 404" in listed[server.url("/missing.xml")] and listed[good] is None


def test_too_many_redirects(server, index_dir, archive):
    for hop in range(5):
        server.redirect(f"/hop{hop}.xml", f"/hop{hop + 1}.xml")
    server.serve("/hop5.xml", RSS091)
    feeds.add_feed(index_dir, server.url("/hop2.xml"))  # 3 redirects: allowed
    feeds.add_feed(index_dir, server.url("/hop0.xml"))  # 5: more than FAST allows
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert [f.failed for f in report.feeds] == [None, "more than 3 redirects"]


def test_an_external_entity_does_not_read_local_files(server, index_dir, archive, tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET", encoding="utf-8")
    body = (f'<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file://{secret}">]>'
            "<rss version=\"2.0\"><channel><title>Sly</title><item><guid>1</guid>"
            "<title>Entity &x;</title><description>Text &x;</description></item>"
            "</channel></rss>")
    feeds.add_feed(index_dir, server.serve("/sly.xml", body))
    report = feeds.fetch(index_dir, archive, limits=FAST)
    (path,) = report.feeds[0].new
    assert "TOP-SECRET" not in Path(path).read_text(encoding="utf-8")


def test_a_feed_that_cannot_be_written_fails_alone(server, index_dir, archive):
    feeds.add_feed(index_dir, server.serve("/glacier.xml", rss("Glacier Blog", numbered(1))))
    feeds.add_feed(index_dir, server.serve("/station.xml", RSS091))
    archive.mkdir()
    (archive / "glacier-blog").write_text("a file where the feed's folder would go")
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert report.feeds[0].failed.startswith(f"cannot write to {archive / 'glacier-blog'}")
    assert len(report.feeds[1].new) == 1


def test_deeply_nested_html_still_gives_its_text(server, index_dir, archive):
    (item,) = numbered(1)
    item["html"] = "<div>" * 3000 + "Sediment <b>cores</b> from the fjord" + "</div>" * 3000
    feeds.add_feed(index_dir, server.serve("/deep.xml", rss("Deep Feed", [item])))
    (path,) = feeds.fetch(index_dir, archive, limits=FAST).feeds[0].new
    assert read_post(path).body == "Sediment cores from the fjord"


# --- never a duplicate, never someone else's file ---------------------------------------

def test_two_fetches_in_a_row_write_nothing_new(server, index_dir, archive):
    feeds.add_feed(index_dir, server.serve("/tidepool.xml", RSS2))  # no ETag: fetched again
    feeds.fetch(index_dir, archive, limits=FAST)
    before = {p: p.stat().st_mtime_ns for p in posts_in(archive)}
    again = feeds.fetch(index_dir, archive, limits=FAST)
    (feed,) = again.feeds
    assert (feed.new, feed.updated, feed.unchanged) == ([], [], 4)
    assert {p: p.stat().st_mtime_ns for p in posts_in(archive)} == before
    assert again.index.added == 0 and again.index.unchanged == 4


def test_an_item_is_written_once_across_feeds(server, index_dir, archive):
    items = numbered(3)
    feeds.add_feed(index_dir, server.serve("/main.xml", rss("Glacier Blog", items)))
    feeds.add_feed(index_dir, server.serve("/tag.xml", rss("Glacier Blog: ice", items[1:])))
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert [(len(f.new), f.unchanged) for f in report.feeds] == [(3, 0), (0, 2)]
    assert len(posts_in(archive)) == 3


def test_bare_guids_of_two_sites_are_two_items(server, index_dir, archive):
    feeds.add_feed(index_dir, server.serve("/a.xml", rss("Glacier Blog", numbered(2))))
    coral = [{"guid": "item-0", "title": "Coral note", "link": "https://coral.example/0",
              "html": "<p>Coral spawning.</p>"}]
    other_site = server.serve("/b.xml", rss("Coral Blog", coral)).replace("127.0.0.1",
                                                                          "localhost")
    feeds.add_feed(index_dir, other_site)
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert [(len(f.new), f.failed) for f in report.feeds] == [(2, None), (1, None)]
    assert len(posts_in(archive)) == 3


def test_odd_members_and_impossible_dates_are_read_as_missing(server, index_dir, archive):
    odd_json = json.dumps({"version": "https://jsonfeed.org/version/1.1", "title": "Odd",
                           "items": [{"id": "1", "title": "Odd members", "tags": "ai",
                                      "authors": 5, "content_text": "Still a post."}]})
    odd_rss = rss("Far dates", [
        {"guid": "d0", "title": "Year zero", "date": "Sat, 01 Jan 0000 00:00:00 +0500",
         "html": "<p>Zero.</p>"},
        {"guid": "d9", "title": "Year nine thousand", "date": "Fri, 31 Dec 9999 23:59:59 -0500",
         "html": "<p>Far.</p>"},
        {"guid": "d2", "title": "Placeholder", "date": "Sat, 01 Jan 2000 00:00:00 +0000",
         "html": "<p>Unknown.</p>"}])
    feeds.add_feed(index_dir, server.serve("/odd.json", odd_json,
                                           content_type="application/feed+json"))
    feeds.add_feed(index_dir, server.serve("/far.xml", odd_rss))
    feeds.add_feed(index_dir, server.serve("/none.json", json.dumps(
        {"version": "https://jsonfeed.org/version/1", "items": 5}),
        content_type="application/feed+json"))
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert [(len(f.new), f.failed) for f in report.feeds] == [(1, None), (3, None), (0, None)]
    posts = {read_post(path).title: read_post(path) for path in posts_in(archive)}
    assert posts["Odd members"].tags == () and posts["Odd members"].authors == ()
    assert posts["Year zero"].date is None and posts["Year nine thousand"].date is None
    assert posts["Placeholder"].date is None


def test_a_changed_item_rewrites_only_a_file_nobody_edited(server, index_dir, archive):
    url = server.serve("/glacier.xml", rss("Glacier Blog", numbered(3)))
    feeds.add_feed(index_dir, url)
    first = feeds.fetch(index_dir, archive, limits=FAST)
    kept, edited, deleted = (Path(p) for p in first.feeds[0].new)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nMy own note.\n", encoding="utf-8")
    deleted.unlink()

    server.serve("/glacier.xml", rss("Glacier Blog", numbered(3, extra=" Revised.")))
    report = feeds.fetch(index_dir, archive, limits=FAST)
    (feed,) = report.feeds
    assert feed.updated == [str(kept)] and feed.new == []
    assert "Revised." in kept.read_text(encoding="utf-8")
    assert "My own note." in edited.read_text(encoding="utf-8")
    assert "Revised." not in edited.read_text(encoding="utf-8")
    assert not deleted.exists()  # the user deleted it: not written again
    assert sorted(feed.left_alone) == sorted([
        f"{edited}: edited since searchidx wrote it; the feed's new version was not written",
        f"{deleted}: deleted since searchidx wrote it; not written again"])
    assert "Revised" in read_post(kept).body
    assert_searchable(index_dir, kept, read_post(kept).title)

    third = feeds.fetch(index_dir, archive, limits=FAST)  # reported once, not every run
    assert third.feeds[0].left_alone == [] and third.feeds[0].unchanged == 3


def test_a_file_searchidx_did_not_write_is_never_replaced(server, index_dir, archive):
    (item,) = numbered(1)
    mine = archive / "glacier-blog" / "2023-05-02-glacier-report-number-0.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("---\ntitle: My own post\n---\nHands off.\n", encoding="utf-8")
    feeds.add_feed(index_dir, server.serve("/glacier.xml", rss("Glacier Blog", [item])))
    report = feeds.fetch(index_dir, archive, limits=FAST)
    assert report.feeds[0].new == [str(mine.with_name(mine.stem + "-2.md"))]
    assert mine.read_text(encoding="utf-8") == "---\ntitle: My own post\n---\nHands off.\n"


def test_items_without_guid_link_or_date_are_not_duplicated(server, index_dir, archive):
    items = [{"guid": "", "title": "Only a title", "html": "<p>No link, no date.</p>"},
             {"guid": "", "title": "Title and date", "date": "Tue, 02 May 2023 10:00:00 +0000",
              "html": "<p>No link.</p>"},
             {"guid": "", "title": "", "link": "https://example.org/untitled",
              "html": "<p>Untitled but linked.</p>"}]
    body = rss("Sparse Feed", items).replace("<guid></guid>", "").replace("<title></title>", "")
    feeds.add_feed(index_dir, server.serve("/sparse.xml", body))
    first = feeds.fetch(index_dir, archive, limits=FAST)
    assert len(first.feeds[0].new) == 3
    assert sorted(p.name for p in posts_in(archive)) == [
        "2023-05-02-title-and-date.md", "only-a-title.md", "untitled.md"]
    second = feeds.fetch(index_dir, archive, limits=FAST)
    assert (second.feeds[0].new, second.feeds[0].unchanged) == ([], 3)


# --- state and crashes --------------------------------------------------------------------

def test_feed_state_survives_the_first_index_build_and_a_rebuild(
        server, index_dir, archive, tmp_path, write_post):
    feeds.add_feed(index_dir, server.serve("/glacier.xml", rss("Glacier Blog", numbered(2))))
    posts = tmp_path / "posts"
    write_post(posts, "a.md", {"title": "Hand-written"}, "Body.")
    indexer.update(index_dir, [posts])  # a new index: the indexer clears the folder
    indexer.update(index_dir, [posts], rebuild=True)
    assert [feed.url for feed in feeds.list_feeds(index_dir)] == [server.url("/glacier.xml")]
    feeds.fetch(index_dir, archive, limits=FAST)
    indexer.update(index_dir, [posts, archive], rebuild=True)
    again = feeds.fetch(index_dir, archive, limits=FAST)
    assert again.feeds[0].unchanged == 2 and not again.feeds[0].new


def test_the_archive_is_remembered(server, index_dir, archive):
    feeds.add_feed(index_dir, server.serve("/station.xml", RSS091))
    with pytest.raises(SearchIdxError, match="--archive"):
        feeds.fetch(index_dir, limits=FAST)
    feeds.fetch(index_dir, archive, limits=FAST)
    assert feeds.fetch(index_dir, limits=FAST).archive == str(archive)


KILL_ITEMS = 150


def test_kill_9_during_a_fetch_leaves_no_partial_post_and_the_next_run_completes(
        server, index_dir, archive):
    # Long posts, so that the writes take a while and the kill lands among them.
    items = numbered(KILL_ITEMS, extra=" Ice." * 2000)
    feeds.add_feed(index_dir, server.serve("/glacier.xml", rss("Glacier Blog", items)))
    folder = archive / "glacier-blog"
    process = subprocess.Popen(
        [sys.executable, "-m", "searchidx", "--index", str(index_dir), "fetch",
         "--archive", str(archive)], start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if folder.is_dir() and len(list(folder.glob("*.md"))) >= 10:
            break
        time.sleep(0.002)
    assert process.poll() is None, "the fetch ended before it could be killed"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()

    written = posts_in(archive)
    assert 10 <= len(written) < KILL_ITEMS
    for path in written:  # every post there is whole
        number = read_post(path).title.rsplit(" ", 1)[1]
        assert path.read_text(encoding="utf-8").endswith(f"END-{number}\n"), path

    report = feeds.fetch(index_dir)  # the archive remembered from the killed run
    assert len(report.feeds[0].new) + report.feeds[0].unchanged == KILL_ITEMS
    assert len(posts_in(archive)) == KILL_ITEMS  # none twice (no "-2.md")
    assert not list(folder.glob(f".*{feeds.TEMP_SUFFIX}"))
    assert report.index.skipped == []
    assert Index.open(index_dir).search("glacier report", per_page=1).total == KILL_ITEMS


# --- OPML ---------------------------------------------------------------------------------

def test_opml_export_then_import_round_trips(tmp_path, index_dir):
    feeds.add_feed(index_dir, "https://a.example/feed.xml", name="Alpha & Co")
    feeds.add_feed(index_dir, "https://b.example/atom.xml")
    opml = tmp_path / "feeds.opml"
    opml.write_text(feeds.export_opml(index_dir), encoding="utf-8")
    other = tmp_path / "other-index"
    report = feeds.import_opml(other, opml)
    assert report.added == ["https://a.example/feed.xml", "https://b.example/atom.xml"]
    assert [(f.url, f.name) for f in feeds.list_feeds(other)] == [
        ("https://a.example/feed.xml", "Alpha & Co"), ("https://b.example/atom.xml", "b.example")]
    again = feeds.import_opml(other, opml)
    assert (again.added, len(again.known)) == ([], 2)


def test_opml_import_skips_what_is_not_an_http_feed(tmp_path, index_dir):
    opml = tmp_path / "list.opml"
    opml.write_text(
        '<opml version="1.0"><body><outline text="Folder">'
        '<outline text="Good" xmlUrl="https://good.example/rss"/>'
        '<outline text="Local" xmlUrl="file:///etc/passwd"/>'
        '<outline text="No feed" htmlUrl="https://page.example/"/>'
        "</outline></body></opml>", encoding="utf-8")
    report = feeds.import_opml(index_dir, opml)
    assert report.added == ["https://good.example/rss"]
    assert report.skipped == ["file:///etc/passwd: not an http(s) address"]


@pytest.mark.skipif(not SHARED_FEEDS.is_dir(), reason="../shared/feeds is not here")
def test_real_opml_lists(index_dir):
    report = feeds.import_opml(index_dir, SHARED_FEEDS / "ai-ml-blogs-sayantanr.opml")
    assert len(report.added) == 34 and not report.skipped
    with pytest.raises(SearchIdxError, match="not valid OPML .*line 17"):
        feeds.import_opml(index_dir, SHARED_FEEDS / "ai-rssowl-roman-c-e-malformed.opml")
    assert len(feeds.list_feeds(index_dir)) == 34  # nothing of the broken list


# --- the command line ---------------------------------------------------------------------

def run(index_dir: Path, *args: str):
    return CliRunner().invoke(cli, ["--index", str(index_dir), *args])


def test_cli_feeds_commands(tmp_path, index_dir):
    url = "https://tidepool.example/rss.xml"
    empty = run(index_dir, "feeds", "list")
    assert empty.stdout == "" and "no feeds; add one" in empty.stderr
    added = run(index_dir, "feeds", "add", url, "--name", "Tidepool")
    assert (added.exit_code, added.stdout) == (0, f"added {url}\n")
    assert run(index_dir, "feeds", "add", url).stdout == f"{url} is subscribed already\n"
    listed = run(index_dir, "feeds", "list")
    assert listed.stdout == f"{url}  Tidepool  (never fetched)\n"
    as_json = json.loads(run(index_dir, "feeds", "list", "--json").stdout)
    assert as_json["feeds"][0]["url"] == url and as_json["feeds"][0]["source"] == "Tidepool"

    exported = run(index_dir, "feeds", "export")
    assert exported.exit_code == 0 and f'xmlUrl="{url}"' in exported.stdout
    (tmp_path / "mine.opml").write_text(exported.stdout, encoding="utf-8")
    assert run(index_dir, "feeds", "remove", url).stdout == f"removed {url}\n"
    missing = run(index_dir, "feeds", "remove", url)
    assert missing.exit_code == 2 and "not a subscribed feed" in missing.stderr
    imported = run(index_dir, "feeds", "import", str(tmp_path / "mine.opml"))
    assert imported.stdout == "1 added, 0 subscribed already, 0 skipped\n"

    assert run(index_dir, "feeds", "add", "ftp://x.example/feed").exit_code == 2
    assert run(index_dir, "feeds", "add").exit_code == 2  # usage: URL missing


def test_cli_fetch(server, index_dir, archive):
    run(index_dir, "feeds", "add", server.serve("/station.xml", RSS091))
    first = run(index_dir, "fetch")
    assert first.exit_code == 2 and "--archive DIR" in first.stderr

    done = run(index_dir, "fetch", "--archive", str(archive))
    assert done.exit_code == 0, done.output
    assert done.stdout.splitlines()[0] == "Old Station Log: 1 new, 0 updated, 0 unchanged"
    assert "1 new, 0 updated, 0 unchanged, 0 failed in" in done.stdout
    search = run(index_dir, "search", "anemometer")
    assert search.exit_code == 0 and "Anemometer recalibrated" in search.stdout

    run(index_dir, "feeds", "add", server.url("/gone.xml"))
    report = run(index_dir, "fetch", "--json")  # the archive is remembered
    assert report.exit_code == 1  # a feed failed
    data = json.loads(report.stdout)
    assert data["archive"] == str(archive)
    assert [(f["source"], f["unchanged"], f["failed"]) for f in data["feeds"]] == [
        ("Old Station Log", 1, None), ("127.0.0.1", 0, "HTTP 404 Not Found")]
    assert data["index"]["unchanged"] == 1


def test_cli_fetch_names_feeds_of_one_title_and_counts_what_it_left_alone(
        server, index_dir, archive):
    english = server.serve("/en/feed.xml", rss("Lab Blog", numbered(2, "Glacier report")))
    chinese = server.serve("/zh/feed.xml", rss("Lab Blog", numbered(1, "Ice report")))
    for url in (english, chinese):
        run(index_dir, "feeds", "add", url)
    first = run(index_dir, "fetch", "--archive", str(archive))
    assert first.stdout.splitlines()[:2] == [
        f"Lab Blog ({english}): 2 new, 0 updated, 0 unchanged",
        f"Lab Blog ({chinese}): 1 new, 0 updated, 0 unchanged"]

    edited = next(p for p in posts_in(archive) if "number-0" in p.name)
    edited.write_text(edited.read_text(encoding="utf-8") + "\nMy own note.\n", encoding="utf-8")
    server.serve("/en/feed.xml", rss("Lab Blog", numbered(2, "Glacier report", " Revised.")))
    second = run(index_dir, "fetch")
    assert second.stdout.splitlines()[0] == (
        f"Lab Blog ({english}): 0 new, 1 updated, 0 unchanged, 1 left alone")
    assert "1 left alone, 0 failed in" in second.stdout
    assert f"{edited}: edited since searchidx wrote it" in second.stderr
    assert "My own note." in edited.read_text(encoding="utf-8")
