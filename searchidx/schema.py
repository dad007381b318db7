"""The Whoosh schema, its analyzers, and Post -> Whoosh document.

The only module that names index fields. The analyzer classes are pickled into the
index's TOC, so they must stay importable at this module path (WHOOSH.md section 6).
"""

from __future__ import annotations

import re
import unicodedata
from itertools import pairwise
from pathlib import Path
from pickle import dumps
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from whoosh import fields, formats
from whoosh.analysis import Token, Tokenizer
from whoosh.lang import stemmer_for_language, stopwords_for_language
from whoosh.support.charset import accent_map
from whoosh.system import pack_uint

if TYPE_CHECKING:  # posts.py imports the frontmatter and markdown parsers: not for search
    from searchidx.posts import Post


# Bump when fields or analyzers change: older indexes are then rebuilt, not misread.
SCHEMA_VERSION = 4

# Words, with research tokens kept whole: GPT-4, state-of-the-art, GPT-3.5, C++, C#.
WORD_PATTERN = r"\w+(?:['’]\w+)?(?:[-./+]\w+(?:['’]\w+)?)*(?:\+\+|#)?"
_WORD = re.compile(WORD_PATTERN)
_CACHE_SIZE = 500_000  # distinct words remembered by an analyzer
# Longer "words" (base64, minified code, a 10 MB run of one letter) are not indexed, as in
# Lucene: the Snowball stemmer is quadratic in word length (1 MB of "y": 25 s).
MAX_TERM_CHARS = 255
_COMPOUND_SPLIT = re.compile(r"[-./+#]+")
_CJK = (
    r"\u3040-\u30ff"  # hiragana, katakana
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    r"\uac00-\ud7af"  # hangul syllables
)
_CJK_RUNS = re.compile(rf"[{_CJK}]+|[^{_CJK}]+")
_IS_CJK = re.compile(rf"[{_CJK}]")


class ResearchAnalyzer(Tokenizer):
    """The analyzer of every prose field, in one pass over the text.

    - Case, Unicode compatibility forms (full-width Ｇ) and accents are folded.
    - Indexing `GPT-4` yields `gpt-4`, `gpt4`, `gpt`, `4`, so the queries `GPT-4`, `GPT4`
      and `GPT` all find it; a query keeps the compound whole, so `GPT-4` does not turn
      into "gpt or 4". Parts take successive positions, so phrases still match.
    - Chinese, Japanese and Korean have no spaces, so runs of those characters are split
      into overlapping bigrams (as Lucene's CJKBigramFilter does): a query word inside a
      sentence still matches.
    - With `stem`, English stop words are dropped and words are reduced by the Snowball
      stemmer (not Whoosh's default Porter stemmer: WHOOSH.md bug B8).

    One class rather than a chain of Whoosh filters because analysis is most of the
    indexing time and each filter in a chain costs a generator step per token.
    """

    def __init__(self, stem: bool = True) -> None:
        self.stem = stem
        self.is_morph = stem  # tells Whoosh's spelling code that terms are stemmed

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResearchAnalyzer) and other.stem == self.stem

    def __hash__(self) -> int:
        return hash((ResearchAnalyzer, self.stem))

    def __getstate__(self) -> dict:
        return {"stem": self.stem, "is_morph": self.is_morph}  # not the caches

    def __call__(self, value: str, positions=False, chars=False, keeporiginal=False,
                 removestops=True, start_pos=0, start_char=0, tokenize=True, mode="",
                 **kwargs):
        t = Token(positions, chars, removestops=removestops, mode=mode, **kwargs)
        t.boost = 1.0
        t.stopped = False
        if not tokenize:
            t.original = t.text = value
            t.pos, t.startchar, t.endchar = start_pos, start_char, start_char + len(value)
            yield t
            return
        cache = self._cache()
        query_mode = mode == "query"
        pos = start_pos
        for match in _WORD.finditer(value):
            raw = match.group()
            pieces = cache[raw.lower(), query_mode]
            if chars:
                t.startchar, t.endchar = start_char + match.start(), start_char + match.end()
            if keeporiginal:
                t.original = raw
            for word, offset, span, stopped in pieces:
                if stopped and removestops:
                    continue
                t.text = word
                t.stopped = stopped
                if positions:
                    t.pos = pos + offset
                if chars and span is not None:
                    t.startchar = start_char + match.start() + span[0]
                    t.endchar = start_char + match.start() + span[1]
                yield t
            pos += pieces[-1][1] + 1 if pieces else 1

    def term_positions(self, value: str, mode: str = "") -> dict[str, list[int]]:
        """Each term of the text with its positions: the tokens `__call__` yields (stop
        words removed), without a Token object and two generator steps per word. The
        indexing formats below use it; analysis is the largest share of indexing time."""
        cache = self._cache()
        query_mode = mode == "query"
        found: dict[str, list[int]] = {}
        pos = 0
        for raw in _WORD.findall(value):
            pieces = cache[raw.lower(), query_mode]
            for word, offset, _span, stopped in pieces:
                if not stopped:
                    positions = found.get(word)
                    if positions is None:
                        found[word] = [pos + offset]
                    else:
                        positions.append(pos + offset)
            pos += pieces[-1][1] + 1 if pieces else 1
        return found

    def _cache(self) -> _TermCache:
        """(lower-cased word, query mode) -> its terms; not pickled with the schema."""
        cache = getattr(self, "_terms", None)
        if cache is None:
            cache = self._terms = _TermCache(self._analyse)
            self._stopwords = stopwords_for_language("en") if self.stem else frozenset()
            self._stem = stemmer_for_language("en") if self.stem else None
        return cache

    def _analyse(self, text: str, query_mode: bool) -> tuple:
        """The terms of one lower-cased word: (term, position offset, (start, end) within
        the word or None for all of it, is a stop word)."""
        if not text.isascii():
            text = unicodedata.normalize("NFKC", text).translate(accent_map)
        if text.isalnum() and not _IS_CJK.search(text):
            pieces = [(text, 0, None)]  # the common case: a plain word
        elif _IS_CJK.search(text):
            pieces = _cjk_bigrams(text)
        else:
            pieces = [(text, 0, None)]
            parts = [p for p in _COMPOUND_SPLIT.split(text) if p]
            if not query_mode and len(parts) > 1:
                pieces.append(("".join(parts), 0, None))
                pieces.extend((part, i, None) for i, part in enumerate(parts))
        terms = []
        for piece, offset, span in pieces:
            if len(piece) > MAX_TERM_CHARS:
                continue
            stopped = self.stem and (len(piece) < 2 or piece in self._stopwords)
            word = piece if stopped or not self.stem else self._stem(piece)
            terms.append((word, offset, span, stopped))
        return tuple(terms)


class _TermCache(dict):
    """Words repeat (Zipf), so most tokens cost one dict lookup; a new word is analysed
    once, by `__missing__`."""

    def __init__(self, analyse) -> None:
        super().__init__()
        self._analyse = analyse

    def __missing__(self, key: tuple[str, bool]) -> tuple:
        if len(self) > _CACHE_SIZE:
            self.clear()
        terms = self[key] = self._analyse(*key)
        return terms


def _cjk_bigrams(text: str) -> list[tuple[str, int, tuple[int, int]]]:
    """CJK runs as overlapping bigrams, other runs whole: (piece, position, span)."""
    pieces = []
    start = 0
    for run in _CJK_RUNS.findall(text):
        if _IS_CJK.match(run) and len(run) > 1:
            pieces.extend((run[i : i + 2], (start + i, start + i + 2)) for i in range(len(run) - 1))
        else:
            pieces.append((run, (start, start + len(run))))
        start += len(run)
    return [(piece, number, span) for number, (piece, span) in enumerate(pieces)]


def text_analyzer(stem: bool = True) -> ResearchAnalyzer:
    return ResearchAnalyzer(stem=stem)


def _fast_path(value, analyzer, kwargs) -> bool:
    """Whether a format can ask the analyzer for term positions in one call: our analyzer,
    a plain string, and no options beyond the mode (as when indexing a document)."""
    return isinstance(analyzer, ResearchAnalyzer) and isinstance(value, str) and (
        kwargs.keys() <= {"mode"})


class ResearchPositions(formats.Positions):
    """Whoosh's Positions format, fed by `ResearchAnalyzer.term_positions`. Yields
    exactly what `Positions.word_values` yields (same terms, weights and bytes)."""

    def word_values(self, value, analyzer, **kwargs):
        if not _fast_path(value, analyzer, kwargs):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        values = []
        for word, positions in analyzer.term_positions(value, kwargs.get("mode", "")).items():
            freq = len(positions)
            deltas = [b - a for a, b in pairwise([0, *positions])]
            values.append((word, freq, freq * boost, pack_uint(freq) + dumps(deltas, 2)))
        return values


class ResearchFrequency(formats.Frequency):
    """Whoosh's Frequency format, fed by `ResearchAnalyzer.term_positions`. Yields
    exactly what `Frequency.word_values` yields."""

    def word_values(self, value, analyzer, **kwargs):
        if not _fast_path(value, analyzer, kwargs):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        return [
            (word, len(positions), len(positions) * boost, pack_uint(len(positions)))
            for word, positions in analyzer.term_positions(value, kwargs.get("mode", "")).items()
        ]


def prose(stem: bool = True, phrase: bool = True, **options) -> fields.TEXT:
    """A TEXT field analysed by ResearchAnalyzer, with the formats above."""
    field = fields.TEXT(analyzer=text_analyzer(stem), phrase=phrase, **options)
    fast = ResearchPositions if phrase else ResearchFrequency
    field.format = fast(field_boost=field.format.field_boost)
    return field


class PostSchema(fields.SchemaClass):
    id = fields.ID(unique=True, stored=True)
    path = fields.STORED()
    title = prose(stored=True, multitoken_query="and")
    summary = prose(stored=True, multitoken_query="and")
    body = prose(multitoken_query="and")
    # Unstemmed words of title and summary: "did you mean" suggests real words (B10).
    spell = prose(stem=False, phrase=False, spelling=True)
    source = prose(stem=False, multitoken_query="and")
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


def has_index(index_dir: Path) -> bool:
    """Whether a Whoosh index was ever committed here (without unpickling its schema,
    which fails if the analyzers changed: that is a reason to rebuild, not to crash)."""
    return any(p.name.startswith("_MAIN_") and p.name.endswith(".toc") for p in index_dir.iterdir())
