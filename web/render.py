"""Turning library records into HTML and XML: the archived copy, Atom, OpenSearch.

Pure functions of their arguments; the views pass in URLs so nothing here needs Flask.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import nh3
from markdown_it import MarkdownIt

from searchidx import Results
from searchidx.posts import strip_template_tags

ATOM_NS = "http://www.w3.org/2005/Atom"
# An entry's id is a tag URI (RFC 4151) from the post id, never its url: urls repeat (244
# raisex stubs share https://example.com, and readers merge entries with one id) and
# change, while a post id is fixed by its place in the archive. The date is part of the
# name, not a timestamp: it must never change.
ENTRY_ID_PREFIX = "tag:searchidx,2024:post/"
OPENSEARCH_NS = "http://a9.com/-/spec/opensearch/1.1/"
# Characters XML 1.0 cannot carry at all; a post with one would break the whole feed.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_EPOCH = datetime(1970, 1, 1)

# Formatting a post body can use; anything else (script, style, iframe, form...) goes.
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "details", "div", "dl", "dt",
    "em", "figcaption", "figure", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins",
    "kbd", "li", "mark", "ol", "p", "pre", "q", "s", "small", "span", "strong", "sub",
    "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "ol": {"start"},
}
URL_SCHEMES = {"http", "https", "mailto"}

# The same markdown the text for the index is read with (searchidx.posts), tables included.
_markdown = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")

# Hosts that stand for "some site" in a template or a feed stub (RFC 2606 and RFC 6761):
# a path resolved against them would name an image that does not exist.
_PLACEHOLDER_HOSTS = ("example.com", "example.net", "example.org")
_PLACEHOLDER_TLDS = (".example", ".invalid", ".localhost", ".test")
# An <img> as nh3 writes it: attribute values double-quoted, so a ">" in one is inside quotes.
_IMG = re.compile(r'<img\b(?:[^>"]|"[^"]*")*>')
_ATTRIBUTE = re.compile(r'\s([a-z]+)="([^"]*)"')


def markdown_html(markdown: str, base_url: str = "") -> str:
    """A post body as sanitized HTML: scripts, event handlers and javascript: links removed;
    template directives gone (a YouTube include becomes a link); relative links and images
    resolved against `base_url` (the post's url) when it names a post on a real site, or
    dropped; an image with no address left is shown as its alt text, never a broken box."""
    base = post_base_url(base_url)

    def resolve(url: str) -> str | None:
        url = url.strip()
        if url.startswith("#"):
            return url  # a place on this page (a footnote)
        if url.startswith("//"):
            return "https:" + url  # protocol-relative: the post's own scheme is unknown here
        if not (base and url):
            return None  # without the post's site it would point at this server: drop it
        try:
            return urljoin(base, url)
        except ValueError:  # "http://[broken" and the like
            return None

    html = nh3.clean(
        _markdown.render(strip_template_tags(markdown, video_links=True)),
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        url_relative=resolve,
        link_rel="noopener noreferrer nofollow",
    )
    return _IMG.sub(_image_or_alt, html)


def _image_or_alt(match: re.Match) -> str:
    """An <img> that still has an address, else its alt text (already escaped by nh3)."""
    attributes = dict(_ATTRIBUTE.findall(match.group(0)))
    if attributes.get("src", "").strip():
        return match.group(0)
    return attributes.get("alt", "")


# A tag as nh3 writes it (attribute values double-quoted: a ">" in one is inside quotes).
_TAG = re.compile(r'<(/?)([a-zA-Z][a-zA-Z0-9]*)(?:[^>"]|"[^"]*")*>')
# Text on either side of these runs on ("re<em>inforce</em>ment" is one word); any other
# tag (a paragraph, a cell, a line break) parts words, as it does on the screen.
_INLINE_TAGS = {"a", "abbr", "b", "code", "del", "em", "i", "ins", "kbd", "mark", "q", "s",
                "small", "span", "strong", "sub", "sup", "u"}


@dataclass(frozen=True)
class Marked:
    """An archived copy's HTML with the query's places marked: `marks` of them, `jumps`
    of those with an id (mark-1 … mark-N) to jump to."""

    html: str
    marks: int
    jumps: int


def mark_html(body_html: str, spans_of: Callable[[str], list[tuple[int, int]]]) -> Marked:
    """Sanitized HTML (`markdown_html`) with the places `spans_of` finds in its text (as
    a reader sees it: entities decoded, paragraphs apart) in <mark>. Only text changes:
    tags, attributes and every text node without a mark stay byte for byte. A mark outside
    a link is a place to jump to: `id="mark-N"`, then a link to the next (the stylesheet
    shows it at the mark jumped to; the last links to the first). A link may hold no
    other link, so marks inside one are not in that chain."""
    # The page's text, and each piece of markup with where its text starts in that text
    # (None for a tag).
    pieces: list[tuple[str, int | None]] = []
    text: list[str] = []
    length = at = 0
    for tag in [*_TAG.finditer(body_html), None]:
        end = tag.start() if tag else len(body_html)
        if end > at:
            node = html.unescape(body_html[at:end])
            pieces.append((body_html[at:end], length))
            text.append(node)
            length += len(node)
        if tag is None:
            break
        pieces.append((tag.group(), None))
        if tag.group(2).lower() not in _INLINE_TAGS:
            text.append("\n")
            length += 1
        at = tag.end()
    plain = "".join(text)
    spans: list[tuple[int, int]] = []
    for start, stop in spans_of(plain):
        if spans and not plain[spans[-1][1]:start].strip(" \t"):
            spans[-1] = (spans[-1][0], stop)  # words marked side by side on a line: one place
        else:
            spans.append((start, stop))
    if not spans:
        return Marked(body_html, 0, 0)

    out: list[str] = []
    in_link = jumps = 0
    last_next = None  # where in `out` the last jump's "next" link is
    span = 0  # the first span not yet marked to its end
    for raw, start in pieces:
        if start is None:
            if _TAG.match(raw).group(2).lower() == "a":
                in_link += -1 if raw.startswith("</") else 1
            out.append(raw)
            continue
        end = start + len(html.unescape(raw))
        if span == len(spans) or spans[span][0] >= end:
            out.append(raw)  # no mark in this node
            continue
        done = start
        while span < len(spans) and spans[span][0] < end:
            begin, stop = max(spans[span][0], start), min(spans[span][1], end)
            marked = html.escape(plain[begin:stop], quote=False)
            out.append(html.escape(plain[done:begin], quote=False))
            done = stop
            if spans[span][1] > end:  # the place goes on in the next text node
                out.append(f"<mark>{marked}</mark>")
                break
            if in_link:
                out.append(f"<mark>{marked}</mark>")
            else:  # the jump is to a place's last piece: the "next" link must follow it
                jumps += 1
                out.append(f'<mark id="mark-{jumps}">{marked}</mark>'
                           f'<a class="next-mark" href="#mark-{jumps + 1}">next match</a>')
                last_next = len(out) - 1
            span += 1
        out.append(html.escape(plain[done:end], quote=False))
    if last_next is not None:
        out[last_next] = out[last_next].replace(f'"#mark-{jumps + 1}"', '"#mark-1"')
    return Marked("".join(out), len(spans), jumps)


def post_base_url(url: str) -> str:
    """`url` if relative addresses in the post can be resolved against it, else "".
    It must be an http(s) url with a path on a real host: a bare site root or a placeholder
    (`https://example.com`) is what a feed stub carries when it does not know the post."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme.lower() not in ("http", "https") or "." not in host:
        return ""
    if host in _PLACEHOLDER_HOSTS or host.endswith(_PLACEHOLDER_TLDS) or any(
        host.endswith("." + placeholder) for placeholder in _PLACEHOLDER_HOSTS
    ):
        return ""
    if parts.path.strip("/") == "":
        return ""
    return url.strip()


def safe_url(url: str) -> str | None:
    """`url` if it is an http(s) address a page may link to, else None."""
    try:
        scheme = urlsplit(url.strip()).scheme.lower()
    except ValueError:
        return None
    return url.strip() if url and scheme in ("http", "https") else None


def _text(value: str) -> str:
    return _NOT_XML.sub("", value)


def _stamp(value: datetime) -> str:
    return value.replace(tzinfo=UTC, microsecond=0).isoformat().replace("+00:00", "Z")


def atom_feed(results: Results, *, self_url: str, page_url: str,
              post_url: Callable[[str], str]) -> bytes:
    """An Atom 1.0 feed of the hits (newest first). Undated posts carry the feed's date."""
    ET.register_namespace("", ATOM_NS)
    feed = ET.Element(f"{{{ATOM_NS}}}feed")

    def add(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
        element = ET.SubElement(parent, f"{{{ATOM_NS}}}{tag}", attrs)
        if text is not None:
            element.text = _text(text)
        return element

    dates = [hit.date for hit in results.hits if hit.date]
    updated = _stamp(max(dates) if dates else _EPOCH)
    title = f"searchidx: {results.query}" if results.query.strip() else "searchidx: newest posts"
    add(feed, "id", self_url)
    add(feed, "title", title)
    add(feed, "updated", updated)
    add(feed, "link", rel="self", type="application/atom+xml", href=self_url)
    add(feed, "link", rel="alternate", type="text/html", href=page_url)
    add(add(feed, "author"), "name", "searchidx")
    add(feed, "generator", "searchidx")
    for hit in results.hits:
        entry = add(feed, "entry")
        add(entry, "id", f"{ENTRY_ID_PREFIX}{hit.id}")
        link = safe_url(hit.link) or post_url(hit.id)
        add(entry, "title", hit.title or "(untitled)")
        add(entry, "updated", _stamp(hit.date) if hit.date else updated)
        add(entry, "link", rel="alternate", href=link)
        if hit.source:
            add(add(entry, "author"), "name", hit.source)
        for author in hit.authors:
            add(add(entry, "contributor"), "name", author)
        summary = hit.summary or hit.snippet
        if summary:
            add(entry, "summary", summary)
    return ET.tostring(feed, encoding="utf-8", xml_declaration=True)


TIMELINE_WIDTH, TIMELINE_HEIGHT = 600, 48


def timeline_svg(months: dict[str, int], month_url: Callable[[str], str]) -> str:
    """The matches per month ("2023-04" -> count) as an SVG bar chart, every month from
    the first to the last, each bar a link to that month. No script: it is drawn here."""
    if not months:
        return ""
    first, last = min(months), max(months)
    start = int(first[:4]) * 12 + int(first[5:]) - 1
    count = int(last[:4]) * 12 + int(last[5:]) - start
    every = [f"{(start + i) // 12:04d}-{(start + i) % 12 + 1:02d}" for i in range(count)]
    width = TIMELINE_WIDTH / len(every)
    tallest = max(months.values())
    svg = ET.Element("svg", xmlns="http://www.w3.org/2000/svg", role="img",
                     viewBox=f"0 0 {TIMELINE_WIDTH} {TIMELINE_HEIGHT}", width="100%",
                     height=str(TIMELINE_HEIGHT), attrib={"aria-label": "Matches per month"})
    for number, month in enumerate(every):
        posts = months.get(month, 0)
        if not posts:
            continue
        height = max(2.0, TIMELINE_HEIGHT * posts / tallest)
        link = ET.SubElement(svg, "a", href=month_url(month))
        bar = ET.SubElement(link, "rect", x=f"{number * width:.2f}",
                            y=f"{TIMELINE_HEIGHT - height:.2f}",
                            width=f"{max(width - 1, 1):.2f}", height=f"{height:.2f}")
        ET.SubElement(bar, "title").text = f"{month}: {posts} post{'s' if posts > 1 else ''}"
    return ET.tostring(svg, encoding="unicode")


def opensearch_description(*, html_template: str, atom_template: str) -> bytes:
    """The OpenSearch description that lets a browser add the page as a search engine."""
    ET.register_namespace("", OPENSEARCH_NS)
    root = ET.Element(f"{{{OPENSEARCH_NS}}}OpenSearchDescription")
    for tag, text in (("ShortName", "searchidx"),
                      ("Description", "Search the archive of research-blog posts"),
                      ("InputEncoding", "UTF-8")):
        ET.SubElement(root, f"{{{OPENSEARCH_NS}}}{tag}").text = text
    ET.SubElement(root, f"{{{OPENSEARCH_NS}}}Url", {"type": "text/html", "template": html_template})
    ET.SubElement(root, f"{{{OPENSEARCH_NS}}}Url",
                  {"type": "application/atom+xml", "template": atom_template})
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)
