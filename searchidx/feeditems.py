"""Feed documents → items → post files in the archive's shape. Pure: bytes in, text out.

`parse_feed` reads RSS 0.9x/1.0/2.0 and Atom (with feedparser, which copes with their dirt:
entities, CDATA, xml:base, loose dates) and JSON Feed (a small spec feedparser 6 lacks),
into `Item`s. `render_post` turns an item into the text of its markdown file: the
frontmatter the archive's posts carry and the content as clean markdown. The network,
the feed state and the files are feeds.py's.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import io
import json
import re
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit, urlunsplit

import bs4
import feedparser
import markdownify
import nh3
import yaml

from searchidx.posts import html_to_text, is_placeholder_date, parse_date, title_text

DESCRIPTION_CHARS = 1000  # a description longer than this is a copy of the content
SUMMARY_CHARS = 300
SLUG_CHARS = 60
_JSON_FEED_VERSION = "https://jsonfeed.org/version/"
_NOT_SLUG = re.compile(r"[^\w]+")
_BLANK_LINES = re.compile(r"\n[ \t]*(?:\n[ \t]*)+")


class NotAFeed(ValueError):
    """The document is not an RSS, Atom or JSON feed; the message says why."""


@dataclass(frozen=True)
class Item:
    """One feed item, normalised. HTML fields are as the feed gave them (sanitized)."""

    key: str  # identity across runs and feeds: guid/id, else canonical url, else title + date
    title: str
    url: str  # the canonical link, absolute; "" when the item has none
    date: datetime | None  # naive UTC; None when the feed gives none (never "now")
    content_html: str  # the full content, else the description
    description_html: str  # the description/summary, "" when it only repeats the content
    base_url: str  # what relative links in the HTML are relative to
    thumbnail: str = ""
    authors: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    @property
    def digest(self) -> str:
        """Changes when anything the post is made from changes (not when the way we
        render it does, so an upgrade of searchidx does not rewrite the archive)."""
        fields = asdict(self)
        fields["date"] = self.date.isoformat() if self.date else None
        return hashlib.sha256(json.dumps(fields, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    items: list[Item]


def parse_feed(data: bytes, url: str, content_type: str = "") -> ParsedFeed:
    """The items of a feed document fetched from `url`. Raises NotAFeed."""
    stripped = data.lstrip()
    if "json" in content_type or stripped.startswith(b"{"):
        return _parse_json_feed(data, url)
    # A file object, never bytes or str: feedparser opens a string that names a file or URL.
    # Relative links are resolved by _item_from_entry, which knows each item's page.
    parsed = feedparser.parse(
        io.BytesIO(data), response_headers={"content-location": url, "content-type": content_type},
        resolve_relative_uris=False,
    )
    if not parsed.version and not parsed.entries:
        reason = parsed.get("bozo_exception") or "no RSS, Atom or JSON Feed document found"
        raise NotAFeed(f"not a feed ({_one_line(str(reason))})")
    title = _text(parsed.feed.get("title_detail"))
    return ParsedFeed(title, [_item_from_entry(entry, url) for entry in parsed.entries])


def _item_from_entry(entry, feed_url: str) -> Item:
    title = _text(entry.get("title_detail"))
    date = _entry_date(entry)
    link = _absolute(entry.get("link", ""), feed_url)
    contents = entry.get("content") or []
    html = [c for c in contents if c.get("type") in ("text/html", "application/xhtml+xml")]
    content = (html or contents or [None])[0]
    summary = entry.get("summary_detail")
    content_html = _html_of(content) if content else ""
    description_html = _html_of(summary) if summary else ""
    # feedparser gives xml:base, else the feed's own address; without xml:base a link in
    # an item is relative to the post's page, as a reader of the page would follow it.
    base = ((content if content_html else summary) or {}).get("base") or feed_url
    if base == feed_url and link:
        base = link
    content_html = content_html or description_html
    if description_html.strip() == content_html.strip():
        description_html = ""  # feedparser copies a lone content into summary
    return Item(
        key=item_key(entry.get("id", ""), link, title, date, feed_url),
        title=title,
        url=link,
        date=date,
        content_html=content_html,
        description_html=description_html,
        base_url=base,
        thumbnail=_entry_thumbnail(entry, feed_url),
        authors=tuple(a["name"].strip() for a in entry.get("authors", []) if a.get("name")),
        tags=tuple(term for term in ((t.get("term") or "").strip() for t in entry.get("tags", []))
                   if term),
    )


def _text(detail) -> str:
    """A feed's title or an item's, as one line of plain text."""
    if not detail:
        return ""
    value = detail.get("value", "")
    if detail.get("type") in ("text/html", "application/xhtml+xml"):
        return title_text(value)
    return " ".join(value.split())


def _html_of(detail) -> str:
    """Content or summary as HTML: plain text is escaped, so `<T>` stays text."""
    value = detail.get("value", "")
    if detail.get("type") == "text/plain":
        return "".join(f"<p>{_escape(p)}</p>" for p in value.split("\n\n") if p.strip())
    return value


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _entry_date(entry) -> datetime | None:
    for name in ("published", "updated", "created"):
        # not entry.get: asked for a missing updated_parsed, feedparser warns and maps it
        parsed = dict.get(entry, f"{name}_parsed")
        if parsed:
            try:
                return _plausible(datetime.fromtimestamp(calendar.timegm(parsed), UTC))
            except (ValueError, OverflowError, OSError):  # year 0 or 9999 and a time zone
                continue
    return None


def _plausible(value: datetime | None) -> datetime | None:
    """A UTC date as naive UTC; None for a placeholder (posts.is_placeholder_date)."""
    if value is None:
        return None
    naive = value.replace(tzinfo=None)
    return None if is_placeholder_date(naive) else naive


def _entry_thumbnail(entry, feed_url: str) -> str:
    candidates = [t.get("url") for t in entry.get("media_thumbnail", [])]
    candidates += [m.get("url") for m in entry.get("media_content", [])
                   if m.get("medium") == "image" or (m.get("type") or "").startswith("image/")]
    candidates += [e.get("href") for e in entry.get("enclosures", [])
                   if (e.get("type") or "").startswith("image/")]
    for candidate in candidates:
        url = _absolute(candidate or "", feed_url)
        if url:
            return url
    return ""  # render_post falls back to the first image of the content


def _parse_json_feed(data: bytes, url: str) -> ParsedFeed:
    try:
        feed = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        raise NotAFeed(f"not a feed (invalid JSON: {exc})") from exc
    if not isinstance(feed, dict) or not str(feed.get("version", "")).startswith(
            _JSON_FEED_VERSION):
        raise NotAFeed("not a feed (JSON without a jsonfeed.org version)")
    items = [_item_from_json(item, url) for item in _list(feed.get("items"))
             if isinstance(item, dict)]
    return ParsedFeed(_one_line(str(feed.get("title") or "")), items)


def _item_from_json(item: dict, feed_url: str) -> Item:
    def text(name: str) -> str:
        value = item.get(name)
        return value if isinstance(value, str) else ""

    title = _one_line(text("title"))
    date = _plausible(_aware(parse_date(text("date_published") or text("date_modified"))))
    link = _absolute(text("url") or text("external_url"), feed_url)
    text_html = "".join(f"<p>{_escape(p)}</p>" for p in text("content_text").split("\n\n")
                        if p.strip())
    content_html = nh3.clean(text("content_html")) or text_html
    summary_html = _escape(text("summary"))
    authors = _list(item.get("authors")) or (
        [item["author"]] if isinstance(item.get("author"), dict) else [])
    return Item(
        key=item_key(str(item.get("id") or ""), link, title, date, feed_url),
        title=title,
        url=link,
        date=date,
        content_html=content_html or summary_html,
        description_html=summary_html if content_html else "",
        base_url=link or feed_url,  # relative to the post's page, as in an RSS item
        thumbnail=_absolute(text("image") or text("banner_image"), feed_url),
        authors=tuple(a["name"].strip() for a in authors
                      if isinstance(a, dict) and isinstance(a.get("name"), str)),
        tags=tuple(t.strip() for t in _list(item.get("tags")) if isinstance(t, str) and t.strip()),
    )


def _list(value) -> list:
    """A JSON Feed member that should be a list, or [] when a feed wrote something else."""
    return value if isinstance(value, list) else []


def _aware(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=UTC) if value else None


def item_key(guid: str, url: str, title: str, date: datetime | None, feed_url: str) -> str:
    """An item's identity: its guid/id, else its canonical url, else its title and date.
    A guid that is a URI (`https://…`, `tag:…`, `urn:…`) names the item wherever it is
    found; a bare one (`42`, as JSON Feeds often have) only within its site, so items of
    two sites never pass for one."""
    guid = guid.strip()
    if guid and _URI_SCHEME.match(guid):
        return f"id:{guid}"
    if guid:
        return f"id:{urlsplit(feed_url).netloc.lower()}|{guid}"
    if url:
        return f"url:{canonical_url(url)}"
    return f"title:{title.casefold()}|{date.isoformat() if date else ''}"


_URI_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:\S")


def canonical_url(url: str) -> str:
    """The same page written two ways is one url: scheme and host in lower case, no
    fragment, no default port."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.port and (parts.scheme, parts.port) not in (("http", 80), ("https", 443)):
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme.lower(), host, parts.path or "/", parts.query, ""))


def _absolute(link: str, base: str) -> str:
    """`link` resolved against `base`; "" unless it is an http(s) address."""
    url = urljoin(base, link.strip()) if link.strip() else ""
    return url if urlsplit(url).scheme in ("http", "https") else ""


def _one_line(text: str) -> str:
    return " ".join(text.split())


# --- the post file ---------------------------------------------------------------------

class _Converter(markdownify.MarkdownConverter):
    """markdownify, with every link and image made absolute: a post is read far from
    the site it came from."""

    def __init__(self, base_url: str, **options) -> None:
        super().__init__(**options)
        self.base_url = base_url

    def escape(self, text, parent_tags):
        # A `<` of the text would open an HTML tag in markdown (and its word would vanish
        # from the indexed text): as an entity it reads back as `<`.
        return super().escape(text, parent_tags).replace("<", "&lt;")

    def convert_a(self, el, text, parent_tags):
        if el.get("href"):
            el["href"] = _absolute(el["href"], self.base_url)
        return super().convert_a(el, text, parent_tags)

    def convert_img(self, el, text, parent_tags):
        src = _absolute(el.get("src") or "", self.base_url)
        if not src:
            return el.get("alt") or ""
        el["src"] = src
        return super().convert_img(el, text, parent_tags)


def html_to_markdown(html: str, base_url: str) -> str:
    """An item's HTML as clean markdown: ATX headings, `-` bullets, fenced code, absolute
    links; scripts, styles and unknown elements' tags gone (their text stays)."""
    soup = bs4.BeautifulSoup(nh3.clean(html), "html.parser")
    converter = _Converter(base_url, heading_style="ATX", bullets="-", code_language="")
    try:
        markdown = converter.convert_soup(soup)
    except RecursionError:  # markdownify recurses per element: a few hundred nested tags
        markdown = html_to_text(html)  # the text, without its markup, is better than nothing
    lines = "\n".join(line.rstrip() for line in markdown.splitlines())
    return _BLANK_LINES.sub("\n\n", lines).strip()


def first_image(html: str, base_url: str) -> str:
    soup = bs4.BeautifulSoup(html, "html.parser")
    for img in soup.find_all("img"):
        src = _absolute(img.get("src") or "", base_url)
        if src:
            return src
    return ""


def render_post(item: Item, source: str) -> str:
    """The text of the markdown file for `item`: frontmatter, then the body."""
    body = html_to_markdown(item.content_html, item.base_url)
    description = html_to_text(item.description_html) or html_to_text(item.content_html)
    description = _one_line(description)
    meta = {
        "title": _as_html_text(item.title),
        "description": _as_html_text(_shorten(description, DESCRIPTION_CHARS)),
        "summary": _as_html_text(_shorten(description, SUMMARY_CHARS)),
        "pubDate": email.utils.format_datetime(item.date.replace(tzinfo=UTC))
        if item.date else "",
        "source": source,
        "url": item.url,
        "thumbnail": item.thumbnail or first_image(item.content_html, item.base_url),
        "authors": list(item.authors),
        "tags": list(item.tags),
    }
    meta = {name: value for name, value in meta.items() if value}
    head = yaml.safe_dump(meta, allow_unicode=True, sort_keys=False, width=10**6)
    return f"---\n{head}---\n{body}\n"


def _as_html_text(text: str) -> str:
    """Plain text for a frontmatter field that is read as HTML (`posts.title_text`,
    `summary_text`: titles are HTML where they are published), so that a title
    `<think>…</think> QwQ` keeps its words. Only what HTML would read as markup or as
    an entity is escaped: "Q&A" stays as written in the file."""
    return re.sub(r"&(?=#?\w+;)", "&amp;", text).replace("<", "&lt;")


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    cut = text[:limit].rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"


def file_name(item: Item) -> str:
    """`YYYY-MM-DD-<slug>.md`; an undated item is `<slug>.md`, so that its file name
    gives it no date either."""
    stem = slug(item.title) or slug(urlsplit(item.url).path.rstrip("/").rsplit("/", 1)[-1])
    if not stem:
        stem = "item-" + hashlib.sha256(item.key.encode()).hexdigest()[:10]
    return f"{item.date:%Y-%m-%d}-{stem}.md" if item.date else f"{stem}.md"


def slug(text: str) -> str:
    """Lower-case words joined by `-`. Letters of any script stay (a Chinese title gives a
    Chinese file name); at most SLUG_CHARS characters, cut at a word."""
    text = re.sub(r"['’]", "", unicodedata.normalize("NFKC", text))  # "Claude's" -> claudes
    words = _NOT_SLUG.sub("-", text.casefold()).strip("-_")
    words = words.replace("_", "-")
    if len(words) > SLUG_CHARS:
        words = words[:SLUG_CHARS].rsplit("-", 1)[0] if "-" in words[:SLUG_CHARS] else words[
            :SLUG_CHARS]
    return words.strip("-")
