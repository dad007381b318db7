"""The Whoosh schema, its analyzers, and Post -> Whoosh document.

The only module that names index fields. The analyzer classes are pickled into the
index's TOC, so they must stay importable at this module path (WHOOSH.md section 6).
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import urlsplit

from whoosh import fields
from whoosh.analysis import Filter, RegexTokenizer, StemFilter, StopFilter
from whoosh.support.charset import accent_map

from searchidx.posts import Post

# Bump when fields or analyzers change: older indexes are then rebuilt, not misread.
SCHEMA_VERSION = 2

# Words, with research tokens kept whole: GPT-4, state-of-the-art, GPT-3.5, C++, C#.
WORD_PATTERN = r"\w+(?:['’]\w+)?(?:[-./+]\w+(?:['’]\w+)?)*(?:\+\+|#)?"
_COMPOUND_SPLIT = re.compile(r"[-./+#]+")
_CJK = (
    r"\u3040-\u30ff"  # hiragana, katakana
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    r"\uac00-\ud7af"  # hangul syllables
)
_CJK_RUNS = re.compile(rf"[{_CJK}]+|[^{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")


class ResearchTokenFilter(Filter):
    """Normalises words and makes research tokens and CJK text findable.

    - Case, Unicode compatibility forms (full-width Ｇ) and accents are folded.
    - Indexing `GPT-4` yields `gpt-4`, `gpt4`, `gpt`, `4`, so the queries `GPT-4`, `GPT4`
      and `GPT` all find it; a query keeps the compound whole, so `GPT-4` does not turn
      into "gpt or 4". Parts take successive positions, so phrases still match.
    - Chinese, Japanese and Korean have no spaces, so runs of those characters are split
      into overlapping bigrams (as Lucene's CJKBigramFilter does), and a query word
      inside a sentence still matches.

    One filter rather than a chain of three: analysis is most of the indexing time and
    every filter in a Whoosh chain costs a generator step per token.
    """

    def __call__(self, tokens):
        shift = 0  # positions added so far by tokens split into several
        for t in tokens:
            text = t.text.lower()
            if not text.isascii():
                text = unicodedata.normalize("NFKC", text).translate(accent_map)
            if t.positions:
                t.pos += shift
            if text.isalnum() and (text.isascii() or not _IS_CJK.search(text)):
                t.text = text  # the common case: a plain word
                yield t
            elif _IS_CJK.search(text):
                shift += yield from _cjk_bigrams(t, text)
            else:
                parts = [p for p in _COMPOUND_SPLIT.split(text) if p]
                t.text = text
                yield t
                if t.mode == "query" or len(parts) < 2:
                    continue
                start = t.pos if t.positions else 0
                t.text = "".join(parts)
                yield t
                for offset, part in enumerate(parts):
                    t.text = part
                    if t.positions:
                        t.pos = start + offset
                    yield t
                shift += len(parts) - 1


def _cjk_bigrams(t, text: str):
    """Yield the token split into CJK bigrams and other runs; return the extra positions."""
    start_pos = t.pos if t.positions else 0
    start_char = t.startchar if t.chars else 0
    pieces = []  # (text, offset of its first character in the token)
    offset = 0
    for run in _CJK_RUNS.findall(text):
        if _IS_CJK.match(run) and len(run) > 1:
            pieces.extend((run[i : i + 2], offset + i) for i in range(len(run) - 1))
        else:
            pieces.append((run, offset))
        offset += len(run)
    for number, (piece, char_offset) in enumerate(pieces):
        t.text = piece
        if t.positions:
            t.pos = start_pos + number
        if t.chars:
            t.startchar = start_char + char_offset
            t.endchar = t.startchar + len(piece)
        yield t
    return len(pieces) - 1


def text_analyzer(stem: bool = True):
    """Analysis for prose fields: research tokens, case and accent folding, CJK bigrams,
    English stop words and Snowball stemming (not Whoosh's default Porter: bug B8)."""
    chain = RegexTokenizer(WORD_PATTERN) | ResearchTokenFilter()
    if stem:
        # cachesize=-1: an unbounded stem cache; the LRU one is slow (WHOOSH.md section 7)
        chain = chain | StopFilter(lang="en", renumber=False) | StemFilter(lang="en", cachesize=-1)
    return chain


class PostSchema(fields.SchemaClass):
    id = fields.ID(unique=True, stored=True)
    path = fields.STORED()
    title = fields.TEXT(analyzer=text_analyzer(), stored=True, multitoken_query="and")
    summary = fields.TEXT(analyzer=text_analyzer(), stored=True, multitoken_query="and")
    body = fields.TEXT(analyzer=text_analyzer(), multitoken_query="and")
    # Unstemmed words of title and summary: "did you mean" suggests real words (B10).
    spell = fields.TEXT(analyzer=text_analyzer(stem=False), phrase=False, spelling=True)
    source = fields.TEXT(analyzer=text_analyzer(stem=False), multitoken_query="and")
    source_name = fields.ID(stored=True, sortable=True)  # exact, for filters and facets
    tags = fields.KEYWORD(stored=True, commas=True, lowercase=True, scorable=True)
    authors = fields.KEYWORD(stored=True, commas=True, lowercase=True)
    date = fields.DATETIME(stored=True, sortable=True)
    year = fields.ID(sortable=True)
    url = fields.STORED()
    url_key = fields.ID(sortable=True)  # normalised url: copies of one post share it
    thumbnail = fields.STORED()
    undated = fields.ID(sortable=True)  # "1" sorts undated posts last in date order
    hidden = fields.BOOLEAN(stored=True)
    length = fields.NUMERIC(stored=True, sortable=True)  # body characters: fullest copy wins
    content_hash = fields.STORED()


NO_YEAR = "none"


def url_key(url: str, fallback: str) -> str:
    """The url that identifies a post for duplicate detection.

    Scheme, `www.`, query strings for tracking and trailing slashes do not make a
    different post. A bare site root (a placeholder such as https://example.com) does
    not identify a post, so such posts keep their own key.
    """
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return fallback
    path = parts.path.rstrip("/")
    if not parts.netloc or not path:
        return fallback
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{path}"


def to_document(post: Post) -> dict:
    """The Whoosh document for a post. Every value is validated here, before
    add_document, because a failed add corrupts the writer (WHOOSH.md bug B5)."""
    document = {
        "id": post.id,
        "path": post.path,
        "title": post.title,
        "summary": post.summary,
        "body": post.body,
        "spell": f"{post.title}\n{post.summary}",
        "source": post.source,
        "source_name": post.source,
        "tags": ",".join(t.replace(",", " ") for t in post.tags),
        "authors": ",".join(a.replace(",", " ") for a in post.authors),
        "date": post.date,
        "year": str(post.date.year) if post.date else NO_YEAR,
        "undated": "0" if post.date else "1",
        "url": post.url,
        "url_key": url_key(post.url, fallback=post.id),
        "thumbnail": post.thumbnail,
        "hidden": post.hidden,
        "length": len(post.body),
        "content_hash": post.content_hash,
    }
    return {name: value for name, value in document.items() if value not in ("", None)}
