"""Reading one post file: frontmatter, field aliases, dates, markdown to plain text.

Pure: no index, no I/O but reading the file. `read_post` either returns a `Post`
or raises `PostError` naming the file and the reason.

Longer than most modules: most of it is turning markdown and HTML into the text a post
shows (each block ends a word, template tags go, titles and summaries become plain
text), which is what reading a post means.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from html.parser import HTMLParser
from pathlib import Path

import frontmatter
import yaml
from dateutil import parser as dateutil_parser
from markdown_it import MarkdownIt

from searchidx.cites import Citation, citations
from searchidx.errors import PostError

# Where each post field may be found in the frontmatter, first match wins.
# Users extend this map in searchidx.toml (see config.py); dotted keys reach nested maps.
DEFAULT_ALIASES: dict[str, tuple[str, ...]] = {
    "title": ("title",),
    "summary": ("summary", "description", "excerpt"),
    "date": (
        "pubDate", "date", "published", "publishedAt", "published_at",
        "publishedDateTime", "created",
    ),
    "url": ("url", "link", "canonical_url", "originalUrl", "sourceUrl", "source_url"),
    "source": ("source", "blog", "site", "provider.name", "feed"),
    "tags": ("tags", "categories", "topics", "keywords"),
    "authors": ("author", "authors"),
    "thumbnail": ("thumbnail", "image", "img", "cover"),
}

MAX_FILE_BYTES = 20 * 1024 * 1024
_FILENAME_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:\D|$)")
# Liquid/Jinja template directives are not markdown: the site that published a post ran
# them, and their text (`include youtubePlayer…`, `{{ person.name }}`) is not the post's.
# Code is matched first so that template text *shown* as code (a chat template in a fence,
# `{{CURRENT_DATE}}` in backticks) stays. `{{{x}}}` is a Mustache triple.
_CODE_OR_TEMPLATE = re.compile(
    r"(?P<fence>^[ \t]*(?P<mark>`{3,}|~{3,}).*?^[ \t]*(?P=mark)[ \t]*$)"
    r"|(?P<span>(?P<ticks>`+)(?:(?!\n[ \t]*\n).)+?(?<!`)(?P=ticks)(?!`))"
    r"|(?P<lead>^[ \t]*)?"
    r"(?P<tag>\{%(?:(?!\n[ \t]*\n).)*?%\}|\{\{(?:(?!\n[ \t]*\n).)*?\}\}\}?)"
    r"(?P<trail>[ \t]*(?:\n|\Z))?",
    re.DOTALL | re.MULTILINE,
)
# Jekyll's video include; the id is checked so that nothing else reaches the link.
_YOUTUBE_INCLUDE = re.compile(
    r"\{%-?\s*include\s+youtubePlayer\.html\s+id\s*=\s*[\"']([A-Za-z0-9_-]{6,20})[\"']"
    r"\s*-?%\}"
)
# C0/C1 control characters other than tab/newline/CR: libyaml rejects them.
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_HIDDEN_ELEMENT = re.compile(r"<(script|style|template|noscript)\b", re.IGNORECASE)
_WHITESPACE_RUN = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class Post:
    """One archived post, as read from its file. Text fields are plain text."""

    path: str  # absolute path of the file
    title: str
    summary: str = ""
    body: str = ""  # plain text, for indexing and snippets
    markdown: str = ""  # the body as written, for the archived view
    date: datetime | None = None  # naive UTC
    source: str = ""
    url: str = ""
    tags: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    thumbnail: str = ""
    hidden: bool = False
    cites: tuple[Citation, ...] = ()  # papers and code its text and links cite
    content_hash: str = field(default="", compare=False)
    id: str = ""  # see post_id


def post_id(key: str) -> str:
    """A short id for a post, from its archive key: the archive folder's name and the
    path inside it (`corpus/2020-11-30-alphafold.md`). Moving or cloning the archive
    elsewhere keeps every id, so links to /post/<id> stay valid."""
    return hashlib.sha1(key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def read_post(
    path: str | Path,
    aliases: Mapping[str, tuple[str, ...]] = DEFAULT_ALIASES,
    key: str | None = None,
    defaults: Mapping[str, object] | None = None,
) -> Post:
    """Read and parse one post file. Raises PostError with the reason if it cannot.
    `key` names the post for its id; by default its absolute path. `defaults`: a value
    per field for a post that has none under any of the field's keys (`aliases`)."""
    path = Path(path).absolute()
    shown = str(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PostError(shown, f"cannot be read ({exc.strerror or exc})") from exc
    return parse_post(shown, data, aliases, key, defaults)


def parse_post(
    path: str,
    data: bytes,
    aliases: Mapping[str, tuple[str, ...]] = DEFAULT_ALIASES,
    key: str | None = None,
    defaults: Mapping[str, object] | None = None,
) -> Post:
    """Parse the bytes of a post file found at `path` (see `read_post`)."""
    if not data.strip():
        raise PostError(path, "file is empty")
    if len(data) > MAX_FILE_BYTES:
        raise PostError(path, f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
    if b"\x00" in data:
        raise PostError(path, "binary file (contains NUL bytes)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PostError(
            path, f"not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start})"
        ) from exc
    text = _CONTROL_CHARS.sub("", text.replace("\r\n", "\n"))

    try:
        meta, markdown = frontmatter.parse(text)
    except yaml.YAMLError as exc:
        raise PostError(path, f"frontmatter is not valid YAML ({_yaml_reason(exc)})") from exc
    except (ValueError, TypeError, RecursionError) as exc:
        raise PostError(path, f"frontmatter cannot be read ({exc})") from exc

    def get(name: str) -> object:
        for key in aliases.get(name, ()):
            value = _lookup(meta, key)
            if value not in (None, [], {}) and not (isinstance(value, str) and not value.strip()):
                return value
        return (defaults or {}).get(name)

    body = markdown_to_text(markdown)
    title = title_text(_as_text(get("title"))) or _first_heading(markdown) or Path(path).stem
    date_value = get("date")
    return Post(
        path=path,
        title=title,
        summary=summary_text(_as_text(get("summary"))),
        body=body,
        markdown=markdown,
        date=_post_date(date_value, path),
        source=_as_text(get("source")),
        url=_as_text(get("url")),
        tags=_as_list(get("tags")),
        authors=_authors(get("authors")),
        thumbnail=_as_text(get("thumbnail")),
        hidden=_is_hidden(meta),
        cites=citations(f"{markdown}\n{_as_text(get('summary'))}"),
        content_hash=hashlib.sha1(data).hexdigest(),
        id=post_id(key or path),
    )


def _yaml_reason(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    return f"line {mark.line + 1}: {problem}" if mark else problem


def _lookup(meta: Mapping, key: str) -> object:
    value: object = meta
    for part in key.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _as_text(value: object) -> str:
    """A scalar frontmatter value as one line of text; lists are joined, maps ignored."""
    if value is None or isinstance(value, (Mapping, bool)):
        return ""
    if isinstance(value, (list, tuple)):
        return ", ".join(s for s in (_as_text(v) for v in value if not isinstance(v, list)) if s)
    return " ".join(str(value).split())


def _as_list(value: object) -> tuple[str, ...]:
    """Tags: a YAML list, or a comma-separated string. Only one level deep (YAML bombs)."""
    if isinstance(value, (list, tuple)):
        items = [_as_text(v) for v in value if not isinstance(v, (list, tuple, Mapping))]
    elif isinstance(value, str):
        items = value.split(",")
    elif value is None or isinstance(value, Mapping):
        items = []
    else:
        items = [str(value)]
    seen: dict[str, None] = {}
    for item in items:
        item = " ".join(html_to_text(item).split())
        if item:
            seen.setdefault(item[:200], None)
    return tuple(seen)


def _authors(value: object) -> tuple[str, ...]:
    """Authors from a list, or one string like '<a href=…>A</a> and B, C'."""
    if isinstance(value, str):
        text = html_to_text(value)
        return _as_list(re.sub(r",?\s+and\s+|\s*&\s*|;", ",", text))
    return _as_list(value)


def _is_hidden(meta: Mapping) -> bool:
    return meta.get("draft") is True or meta.get("visible") is False or meta.get("hidden") is True


def _first_heading(markdown: str) -> str:
    tokens = _MD.parse(strip_template_tags(markdown))
    for opening, inline in zip(tokens, tokens[1:], strict=False):
        if opening.type == "heading_open" and inline.type == "inline":
            return " ".join(_inline_text(inline).split())
    return ""


# --- dates -----------------------------------------------------------------------------

def parse_date(value: object) -> datetime | None:
    """A frontmatter date in any common form, as naive UTC; None if it is not a date."""
    if isinstance(value, datetime):
        return _naive_utc(value)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return None  # a bare number is more likely an id than a timestamp
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or not any(ch.isdigit() for ch in text):
        return None
    try:
        return _naive_utc(email.utils.parsedate_to_datetime(text))
    except (TypeError, ValueError, IndexError):
        pass
    try:
        return _naive_utc(datetime.fromisoformat(text))
    except ValueError:
        pass
    try:
        return _naive_utc(dateutil_parser.parse(text))
    except (ValueError, OverflowError, dateutil_parser.ParserError):
        return None


def _naive_utc(value: datetime) -> datetime | None:
    if value.tzinfo is not None:
        try:
            value = value.astimezone(UTC)
        except (OverflowError, ValueError):
            return None
    if not 1 <= value.year <= 9998:
        return None
    return value.replace(tzinfo=None)


# What fetchers write for "no date": the Unix epoch; midnight of 1 January 2000 (244
# raisex-ai-news posts carry it, beside the placeholder url https://example.com); and any
# year before 1900 (Hugo's and Go's year 1).
_PLACEHOLDER_DATES = frozenset({datetime(1970, 1, 1), datetime(2000, 1, 1)})


def is_placeholder_date(value: datetime) -> bool:
    """Whether a date (naive UTC) stands for "unknown" rather than for a day."""
    return value.year < 1900 or value in _PLACEHOLDER_DATES


def _post_date(value: object, path: str) -> datetime | None:
    """The frontmatter's date, else the file name's (Jekyll's 2021-07-14-mappo.md): a
    placeholder date counts as none. (The 244 raisex-ai-news posts with a placeholder
    have their day in their file name: 2017-05-24-openai-baselines-dqn.md.)"""
    parsed = parse_date(value)
    if parsed is None or is_placeholder_date(parsed):
        return date_from_filename(path)
    return parsed


def date_from_filename(path: str) -> datetime | None:
    match = _FILENAME_DATE.match(Path(path).name)
    if not match:
        return None
    try:
        return datetime(*(int(part) for part in match.groups()))
    except ValueError:
        return None


# --- markdown and HTML to plain text ---------------------------------------------------

_MD = MarkdownIt("commonmark", {"html": True}).enable("table").enable("strikethrough")


# Elements that end a word wherever they open or close: a heading, paragraph, list item,
# table cell or caption is never run into the next one ("TransformerThe").
BLOCK_TAGS = frozenset({
    "address", "article", "aside", "blockquote", "br", "caption", "center", "dd", "details",
    "div", "dl", "dt", "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6",
    "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "summary", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "ul",
})
_TAG_NAME = re.compile(r"</?([a-zA-Z][a-zA-Z0-9]*)")
# A `**` or `__` markdown left as text at a word's edge: its pair was lost when the summary
# was cut short ("**Over 2500 members… **Claude 3**"). It is markup, not text.
_STRAY_STRONG = re.compile(r"(?<!\w)(?:\*\*|__)(?=\w)|(?<=\w)(?:\*\*|__)(?!\w)")


def strip_template_tags(markdown: str, *, video_links: bool = False) -> str:
    """`markdown` without Liquid/Jinja directives (`{% … %}`, `{{ … }}`) outside code.
    With `video_links`, a Jekyll `{% include youtubePlayer.html id="…" %}` becomes an HTML
    link to the video (for the archived page); otherwise it goes like any directive."""

    def replace(match: re.Match) -> str:
        if match.group("tag") is None:
            return match.group(0)  # code: shown as written
        lead, trail = match.group("lead"), match.group("trail")
        video = _YOUTUBE_INCLUDE.fullmatch(match.group("tag"))
        if video_links and video:
            url = f"https://www.youtube.com/watch?v={video.group(1)}"
            return f'{lead or ""}<a href="{url}">Watch the video on YouTube</a>{trail or ""}'
        if lead is not None and trail is not None:
            # A directive on a line of its own goes with its line: left blank, the line
            # would end an HTML block (`{% for %}` inside a <div>) and turn the rest of
            # it into a code block of raw tags.
            return ""
        return f"{lead or ''} {trail or ''}"  # a space, so the words either side stay apart

    if "{%" not in markdown and "{{" not in markdown:
        return markdown  # nothing to strip: the scan costs ~1 ms a post (a tenth of indexing)
    return _CODE_OR_TEMPLATE.sub(replace, markdown)


def markdown_to_text(markdown: str) -> str:
    """Markdown (with raw HTML) as plain text: no link targets, tags, comments or template tags.
    Every block ends a word."""
    tokens = _MD.parse(strip_template_tags(markdown))
    parts: list[str] = []
    for token in tokens:
        if token.type == "inline":
            parts.append(_inline_text(token))
        elif token.type in ("fence", "code_block"):
            parts.append(token.content)
        elif token.type == "html_block":
            parts.append(html_to_text(token.content))
        # html_block is a block too (nesting 0): `<h3>A</h3>` then `<p>B</p>` is "A\nB".
        if token.block and token.nesting == -1 or token.type in (
            "fence", "code_block", "html_block"
        ):
            parts.append("\n")
    return _tidy("".join(parts))


def title_text(value: str) -> str:
    """A title as text. Titles are HTML where they are published (Jekyll prints them raw,
    hence `Learning<br> from`), not markdown: a block tag or `<br>` becomes a space, other
    tags go without one (`<i>In</i>creasing` stays one word), entities are decoded."""
    return " ".join(html_to_text(value).split())


def summary_text(value: str) -> str:
    """A summary as plain text. Summaries are HTML (feed descriptions) or markdown
    (`**bold**`, `[a](url)`): tags go first, as a browser reads them (markdown-it passes
    `<img src=x onerror=a=1>` as text), then the markdown is read inline only, since a
    summary is one paragraph and "2023. A year…" is not a numbered list."""
    tokens = _MD.parseInline(strip_template_tags(html_to_text(value)))
    for token in tokens:
        for child in token.children or ():
            if child.type == "text":  # not code: `**kwargs` in backticks is shown as is
                child.content = _STRAY_STRONG.sub("", child.content)
    return _tidy("".join(_inline_text(token) for token in tokens))


def _inline_text(token) -> str:
    parts: list[str] = []
    hidden_until = None  # inside an inline <script> or <style>: the closing tag we wait for
    for child in token.children or ():
        if hidden_until:
            if child.type == "html_inline" and child.content.lower().startswith(hidden_until):
                hidden_until = None
            continue
        if child.type == "html_inline" and _HIDDEN_ELEMENT.match(child.content):
            name = _HIDDEN_ELEMENT.match(child.content).group(1).lower()
            if not child.content.rstrip().endswith("/>"):
                hidden_until = f"</{name}"
            continue
        if child.type in ("text", "code_inline"):
            parts.append(child.content)
        elif child.type == "image":
            parts.append(child.content)  # the alt text
        elif child.type in ("softbreak", "hardbreak") or _is_block_tag(child):
            parts.append("\n")
    return "".join(parts)


def _is_block_tag(token) -> bool:
    """An inline `<br>`, `</p>`, `<td>`…: it ends a word as the whole block would."""
    if token.type != "html_inline":
        return False
    name = _TAG_NAME.match(token.content)
    return bool(name) and name.group(1).lower() in BLOCK_TAGS


class _TextExtractor(HTMLParser):
    _SKIP = {"script", "style", "template", "noscript"}
    _BLOCK = BLOCK_TAGS

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Text content of an HTML fragment (scripts, styles and comments dropped)."""
    if "<" not in html and "&" not in html:
        return _tidy(html)
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    return _tidy("".join(extractor.parts))


def _tidy(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    lines = (line.strip() for line in _WHITESPACE_RUN.sub(" ", text).split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()
