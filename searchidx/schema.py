"""The Whoosh schema, its analyzers, and Post -> Whoosh document.

The only module that names index fields. The analyzer classes are pickled into the
index's TOC, so they must stay importable at this module path (WHOOSH.md section 6).

Longer than most modules: the analyzer (stems, compounds, CJK bigrams, term positions in
one pass) and the formats it feeds are what the fields mean, and stored fields are decoded
here beside `to_document`, which encodes them, so adding a field touches this file only.
"""

from __future__ import annotations

import re
import threading
import unicodedata
import zlib
from array import array
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from hashlib import sha1
from itertools import accumulate
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlencode, urlsplit

import Stemmer
from whoosh import fields, formats
from whoosh.analysis import Token, Tokenizer
from whoosh.lang import stopwords_for_language
from whoosh.support.charset import accent_map
from whoosh.system import pack_uint

from searchidx import engine
from searchidx.cites import Citation, index_terms

if TYPE_CHECKING:  # posts.py imports the frontmatter and markdown parsers: not for search
    from searchidx.posts import Post


# Bump when fields, analyzers or what a post is read as change: older indexes are then
# rebuilt, not misread (a re-sync does not read a file again that has not changed).
SCHEMA_VERSION = 12

# Words, with research tokens kept whole: GPT-4, state-of-the-art, GPT-3.5, C++, C#.
WORD_PATTERN = r"\w+(?:['’]\w+)?(?:[-./+]\w+(?:['’]\w+)?)*(?:\+\+|#)?"
_WORD = re.compile(WORD_PATTERN)
TEXT_FIELDS = ("title", "summary", "body")  # prose a query searches by default
# The fields whose postings a search reads term by term (Snapshot.postings): each
# segment also keeps them as arrays (engine.ArrayPostings). Not `spell` (half of all
# postings, read only as a lexicon) nor the one-value-a-post fields.
ARRAY_POSTINGS_FIELDS = frozenset(
    {*TEXT_FIELDS, "cites", "tags", "authors", "source_name", "hidden", "year"})
SPELLING_FIELD = "spell"  # their words as written
_CACHE_SIZE = 500_000  # distinct words remembered by an analyzer
# Longer "words" (base64, minified code, a 10 MB run of one letter) are not indexed, as in
# Lucene: nobody types them, and Whoosh's own stemmer was quadratic in their length.
MAX_TERM_CHARS = 255
_NAME_CHARS = 32  # a longer run of letters and digits is a hash or an id, not a model's name
COMPOUND_SEPARATORS = "-./+#"  # what stands between a compound's parts: GPT-4, Llama-3.1
_COMPOUND_SPLIT = re.compile(f"[{re.escape(COMPOUND_SEPARATORS)}]+")
_CJK = (
    r"\u3040-\u30ff"  # hiragana, katakana
    r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"  # CJK ideographs
    r"\uac00-\ud7af"  # hangul syllables
)
_CJK_RUNS = re.compile(rf"[{_CJK}]+|[^{_CJK}]+")
IS_CJK = re.compile(rf"[{_CJK}]")


class ResearchAnalyzer(Tokenizer):
    """The analyzer of every prose field, in one pass over the text.

    - Case, Unicode compatibility forms (full-width Ｇ) and accents are folded.
    - Indexing `GPT-4` yields `gpt-4`, `gpt4`, `gpt`, `4`, so the queries `GPT-4`, `GPT4`
      and `GPT` all find it; a query keeps the compound whole, so `GPT-4` does not turn
      into "gpt or 4". Parts take successive positions, so phrases still match.
    - Chinese, Japanese and Korean have no spaces, so runs of those characters are split
      into overlapping bigrams (as Lucene's CJKBigramFilter does): a query word inside a
      sentence still matches.
    - With `stem`, words are reduced by Snowball's English stemmer, from the Snowball
      project's own C library (PyStemmer): Whoosh's default Porter stemmer does not
      un-double consonants (WHOOSH.md bug B8), and its Snowball port stems "added" to
      "ad", "organic" to "organ" and "paste" to "past".
    - With `stop` (by default, when stemming) English stop words leave no term but keep
      their position, so phrases still line up.

    One class rather than a chain of Whoosh filters because analysis is most of the
    indexing time and each filter in a chain costs a generator step per token.
    """

    def __init__(self, stem: bool = True, stop: bool | None = None) -> None:
        self.stem = stem
        self.stop = stem if stop is None else stop  # drop English stop words
        self.is_morph = stem  # tells Whoosh's spelling code that terms are stemmed

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ResearchAnalyzer) and (other.stem, other.stop) == (
            self.stem, self.stop)

    def __hash__(self) -> int:
        return hash((ResearchAnalyzer, self.stem, self.stop))

    def __getstate__(self) -> dict:
        return {"stem": self.stem, "stop": self.stop, "is_morph": self.is_morph}  # no caches

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
            word = cache[raw.lower()]
            if chars:
                t.startchar, t.endchar = start_char + match.start(), start_char + match.end()
            if keeporiginal:
                t.original = raw
            for term, offset, span, stopped in word.query if query_mode else word.index:
                if stopped and removestops:
                    continue
                t.text = term
                t.stopped = stopped
                if positions:
                    t.pos = pos + offset
                if chars and span is not None:
                    t.startchar = start_char + match.start() + span[0]
                    t.endchar = start_char + match.start() + span[1]
                yield t
            pos += word.width

    def term_positions(self, value: str, mode: str = "") -> dict[str, list[int]]:
        """Each term of the text with its positions: the tokens `__call__` yields (stop
        words removed), without a Token object and two generator steps per word. The
        indexing formats below use it; analysis is the largest share of indexing time."""
        cache = self._cache()
        query_mode = mode == "query"
        found: dict[str, list[int]] = {}
        pos = 0
        for raw in _WORD.findall(value):
            word = cache[raw.lower()]
            for term, offset, _span, stopped in word.query if query_mode else word.index:
                if not stopped:
                    positions = found.get(term)
                    if positions is None:
                        found[term] = [pos + offset]
                    else:
                        positions.append(pos + offset)
            pos += word.width
        return found

    def term_counts(self, value: str, mode: str = "") -> dict[str, int]:
        """Each term of the text with the number of times it occurs: `term_positions`
        without positions, for the formats that keep only frequencies. The words are
        counted in C (a Counter) and each distinct word is analysed once, which took a
        third of the `spell` field's indexing time."""
        cache = self._cache()
        query_mode = mode == "query"
        counts: dict[str, int] = {}
        for raw, times in Counter(map(str.lower, _WORD.findall(value))).items():
            word = cache[raw]
            for term, _offset, _span, stopped in word.query if query_mode else word.index:
                if not stopped:
                    counts[term] = counts.get(term, 0) + times
        return counts

    def word(self, raw: str) -> WordTerms:
        """The terms of one word of a query (a WORD_PATTERN match), as indexed."""
        return self._cache()[raw.lower()]

    def letters(self, raw: str) -> str | None:
        """A name typed with a letter first and a digit in it (`deepseekr1`, `Llama-3.1`,
        `GPT4`), folded as indexed and without its separators (`deepseekr1`, `llama31`,
        `gpt4`): what every spelling of it has in common. None for any other word (a
        plain word or a number is not looked for among the archive's compounds)."""
        letters = _COMPOUND_SPLIT.sub("", _folded(raw.lower()))
        if (not letters[:1].isalpha() or not letters.isalnum() or IS_CJK.search(letters)
                or not any(c.isdigit() for c in letters) or len(letters) > _NAME_CHARS):
            return None
        return letters

    def phrase_terms(self, text: str) -> list[str | None]:
        """The terms of a phrase at successive positions, as the index holds them: a
        compound contributes its parts, a stop word None (its position is kept)."""
        cache = self._cache()
        return [term for raw in _WORD.findall(text) for term in cache[raw.lower()].parts]

    def _cache(self) -> _TermCache:
        """lower-cased word -> its WordTerms; not pickled with the schema."""
        cache = getattr(self, "_terms", None)
        if cache is None:
            self._stopwords = stopwords_for_language("en") if self.stop else frozenset()
            cache = self._terms = _TermCache(self._analyse)
        return cache

    def _analyse(self, text: str) -> WordTerms:
        """The terms of one lower-cased word."""
        text = _folded(text)
        if text.isalnum() and not IS_CJK.search(text):
            pieces = [(text, None)]  # the common case: a plain word
        elif IS_CJK.search(text):
            pieces = _cjk_bigrams(text)
        else:
            pieces = [(part, None) for part in _COMPOUND_SPLIT.split(text) if part]
            if len(pieces) < 2:  # C++, C#: the word is its own single piece
                pieces = [(text, None)]
        parts = [self._term(piece) for piece, _span in pieces]
        index = [(term, offset, span, stopped) for offset, ((term, stopped), (_piece, span))
                 in enumerate(zip(parts, pieces, strict=True))]
        query = index
        joined = None
        if len(pieces) > 1 and not IS_CJK.search(text):
            whole, stopped = self._term(text)
            joined, _ = self._term("".join(piece for piece, _span in pieces))
            index = [(whole, 0, None, stopped), (joined, 0, None, False), *index]
            query = index[:1]
        return WordTerms(
            index=tuple(entry for entry in index if entry[0] is not None),
            query=tuple(entry for entry in query if entry[0] is not None),
            width=len(pieces),
            parts=tuple(None if stopped else term for term, stopped in parts),
            joined=joined,
        )

    def _term(self, piece: str) -> tuple[str | None, bool]:
        """(term, is a stop word) of one piece; None for a piece too long to index."""
        if len(piece) > MAX_TERM_CHARS:
            return None, False
        if piece in self._stopwords:
            return piece, True
        if not self.stem:
            return piece, False
        with _STEMMER_LOCK:
            return _STEMMER.stemWord(piece), False


# Snowball's English stemmer, one for the process: a PyStemmer object must not be used by
# two threads at once (its documentation), and a server's threads share the analyzers.
# Only words not yet in an analyzer's cache reach it, so the lock is rarely waited on; its
# own cache is off, as the analyzers' hold every word.
_STEMMER = Stemmer.Stemmer("english", 0)
_STEMMER_LOCK = threading.Lock()

# Accents folded as Whoosh folds them, and the combining dot that lower-casing the Turkish
# İ leaves after its i ("İstanbul".lower() is "i̇stanbul", which "istanbul" would not find).
ACCENT_FOLDING = {**accent_map, 0x0307: None}


def _folded(word: str) -> str:
    """A lower-cased word as the index holds it: compatibility forms and accents folded."""
    if word.isascii():
        return word
    return unicodedata.normalize("NFKC", word).translate(ACCENT_FOLDING)


@dataclass(frozen=True, slots=True)
class WordTerms:
    """What the analyzer makes of one word.

    `index`: (term, position offset, (start, end) within the word or None for all of it,
    is a stop word), as indexed. A compound (`GPT-4`) is indexed as the whole word, its
    parts joined (`gpt4`) and its parts at successive positions (`gpt`, `4`), so a
    phrase of the parts finds both spellings. `query` is what Whoosh's own query-time
    analysis yields (the whole compound). `width` is the positions the word takes,
    `parts` its terms at those positions (None for a stop word), `joined` the term of its
    parts run together (compounds only).
    """

    index: tuple[tuple[str, int, tuple[int, int] | None, bool], ...]
    query: tuple[tuple[str, int, tuple[int, int] | None, bool], ...]
    width: int
    parts: tuple[str | None, ...]
    joined: str | None


class _TermCache(dict):
    """Words repeat (Zipf), so most tokens cost one dict lookup; a new word is analysed
    once, by `__missing__`."""

    def __init__(self, analyse) -> None:
        super().__init__()
        self._analyse = analyse

    def __missing__(self, key: str) -> WordTerms:
        if len(self) > _CACHE_SIZE:
            self.clear()
        terms = self[key] = self._analyse(key)
        return terms


def _cjk_bigrams(text: str) -> list[tuple[str, tuple[int, int]]]:
    """CJK runs as overlapping bigrams, other runs whole: (piece, span), a position each."""
    pieces = []
    start = 0
    for run in _CJK_RUNS.findall(text):
        if IS_CJK.match(run) and len(run) > 1:
            pieces.extend((run[i : i + 2], (start + i, start + i + 2)) for i in range(len(run) - 1))
        else:
            pieces.append((run, (start, start + len(run))))
        start += len(run)
    return pieces


def text_analyzer(stem: bool = True, stop: bool | None = None) -> ResearchAnalyzer:
    return ResearchAnalyzer(stem=stem, stop=stop)


def _fast_path(value, analyzer, kwargs) -> bool:
    """Whether a format can ask the analyzer for term positions in one call: our analyzer,
    a plain string, and no options beyond the mode (as when indexing a document)."""
    return isinstance(analyzer, ResearchAnalyzer) and isinstance(value, str) and (
        kwargs.keys() <= {"mode"})


class ResearchPositions(formats.Positions):
    """Whoosh's Positions format with a compact value, fed by
    `ResearchAnalyzer.term_positions`. Whoosh's value is the frequency as 4 bytes and the
    position gaps as a pickled list (~14 bytes for one position); ours is the gaps as an
    array of the narrowest unsigned type that holds them, after a byte naming the type
    (3 bytes for one position). Body postings took 9.6 bytes a position on disk."""

    def word_values(self, value, analyzer, **kwargs):
        if not _fast_path(value, analyzer, kwargs):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        return [
            (word, len(positions), len(positions) * boost, self.encode(positions))
            for word, positions in analyzer.term_positions(value, kwargs.get("mode", "")).items()
        ]

    def encode(self, poslist) -> bytes:
        if len(poslist) == 1:  # most terms occur once in a text (71% of body postings)
            return _one_position(poslist[0])
        return engine.packed([b - a for a, b in zip([0, *poslist], poslist, strict=False)])

    def decode_positions(self, valuestring: bytes) -> list[int]:
        return list(accumulate(engine.unpacked(valuestring)))

    def decode_frequency(self, valuestring: bytes) -> int:
        return (len(valuestring) - 1) // array(chr(valuestring[0])).itemsize


@lru_cache(maxsize=2**16)
def _one_position(position: int) -> bytes:
    """The value of a term at one position: the same few thousand recur in every text.
    Encoding positions took ~40% of a body's indexing time."""
    return engine.packed([position])


class ResearchFrequency(formats.Frequency):
    """Whoosh's Frequency format, fed by `ResearchAnalyzer.term_counts`. Yields
    exactly what `Frequency.word_values` yields."""

    def word_values(self, value, analyzer, **kwargs):
        if not _fast_path(value, analyzer, kwargs):
            return super().word_values(value, analyzer, **kwargs)
        boost = self.field_boost
        return [
            (word, count, count * boost, pack_uint(count))
            for word, count in analyzer.term_counts(value, kwargs.get("mode", "")).items()
        ]


def prose(stem: bool = True, phrase: bool = True, **options) -> fields.TEXT:
    """A TEXT field analysed by ResearchAnalyzer, with the formats above."""
    field = fields.TEXT(analyzer=text_analyzer(stem), phrase=phrase, **options)
    fast = ResearchPositions if phrase else ResearchFrequency
    field.format = fast(field_boost=field.format.field_boost)
    return field


class ColumnNumber(fields.NUMERIC):
    """A NUMERIC field kept only as a column (sortable, and stored if asked), not indexed:
    nothing searches for these values, and a 64-bit NUMERIC indexes 16 terms a post
    (7% of a segment)."""

    indexed = False


class PostSchema(fields.SchemaClass):
    id = fields.ID(unique=True, stored=True)
    path = fields.STORED()
    title = prose(stored=True, multitoken_query="and")
    summary = prose(stored=True, multitoken_query="and")
    body = prose(multitoken_query="and")
    # The words of title, summary and body as written (unstemmed): patterns and fuzzy
    # words expand against them, and "did you mean" suggests real words (B10).
    spell = prose(stem=False, phrase=False, spelling=True)
    source = prose(stem=False, multitoken_query="and")
    source_name = fields.ID(stored=True, sortable=True)  # exact, for filters and facets
    tags = fields.KEYWORD(stored=True, commas=True, lowercase=True, scorable=True)
    authors = fields.KEYWORD(stored=True, commas=True, lowercase=True)
    date = fields.DATETIME(stored=True, sortable=True)
    year = fields.ID(sortable=True)
    url = fields.STORED()
    url_key = fields.ID(sortable=True)  # copy_key: copies of one post share its identity
    thumbnail = fields.STORED()
    undated = fields.ID(sortable=True)  # "1" sorts undated posts last in date order
    hidden = fields.BOOLEAN(stored=True)
    length = ColumnNumber(stored=True, sortable=True)  # body characters: fullest copy wins
    # A number from the post id: among copies of one length, the one shown is the same in
    # every index of the archive, whatever order the posts were added in.
    id_number = ColumnNumber(bits=64, sortable=True)
    content_hash = fields.STORED()
    cites = fields.KEYWORD(commas=True, lowercase=True)  # cited ids and kinds (cites.py)
    citations = fields.STORED()  # "kind:id,…" for the post page


NO_YEAR = "none"
DATED, UNDATED = "0", "1"  # the `undated` column: "1" sorts undated posts last


# Query parameters that say how a reader came to a page, not which page it is: links to
# one post carry them in endless variants. Any other parameter may name the post
# (youtube.com/watch?v=...), so it is kept.
TRACKING_PARAMETERS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "gbraid", "wbraid", "msclkid", "yclid", "twclid",
    "mc_cid", "mc_eid", "ref", "ref_src", "ref_url", "igshid", "igsh", "si", "_hsenc",
    "_hsmi", "mkt_tok",
})
COPY_KEY_SEPARATOR = "\n"  # between a copy key's identity and its title key


def url_key(url: str, fallback: str) -> str:
    """The url that identifies a post for duplicate detection.

    Scheme, `www.`, the host's case, tracking parameters (`utm_*`, `fbclid`, ...), the
    order of the other parameters, the fragment and trailing slashes do not make a
    different post. A bare site root (a placeholder such as https://example.com) does
    not identify a post, so such posts keep their own key, `fallback`.
    """
    try:
        parts = urlsplit(url.strip())
        parameters = parse_qsl(parts.query, keep_blank_values=True)
    except ValueError:
        return fallback
    kept = sorted((name, value) for name, value in parameters
                  if not (name.lower().startswith("utm_") or name.lower() in TRACKING_PARAMETERS))
    path = parts.path.rstrip("/")
    if not parts.netloc or not (path or kept):
        return fallback
    host = parts.netloc.lower().removeprefix("www.")
    return f"{host}{path}?{urlencode(kept)}" if kept else f"{host}{path}"


def identifies_post(url: str) -> bool:
    """Whether `url` names one post, so it can be the post's link: not empty, not a non-url
    and not a bare site root such as https://example.com (what feed stubs carry)."""
    return bool(url_key(url, fallback=""))


def title_key(title: str) -> str:
    """A title as its copies share it: case, width and accents folded, punctuation and
    spacing collapsed (`Vision-Language Models:` and `vision language models`)."""
    folded = unicodedata.normalize("NFKC", title).casefold().translate(ACCENT_FOLDING)
    return " ".join(re.findall(r"\w+", folded))


def copy_key(post: Post) -> str:
    """Who a post is, for folding its copies into one hit: "identity\ntitle key" (the
    url_key column; `snapshot.Snapshot.copy_group` forms the groups).

    The identity is the url when it names the post (`url_key`). A url that does not is
    blind to copies, so the identity is then the post's text: another file with the same
    title, source and body is a copy. A post with no body (a stub holding only a title)
    gets no identity: the collapse step folds it into the fullest post with its title
    key. Dates are not used: the raisex stubs all carry 2000-01-01, and smol-ainews has
    252 different daily posts titled "Not much happened today", some a day apart.
    """
    identity = url_key(post.url, fallback="")
    if not identity and post.body.strip():
        text = COPY_KEY_SEPARATOR.join((title_key(post.title), post.source.casefold(), post.body))
        identity = "#" + sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return f"{identity}{COPY_KEY_SEPARATOR}{title_key(post.title)}"


def to_document(post: Post) -> dict:
    """The Whoosh document for a post. Every value is validated here, before
    add_document, because a failed add corrupts the writer (WHOOSH.md bug B5)."""
    document = {
        "id": post.id,
        "path": post.path,
        "title": post.title,
        "summary": post.summary,
        "body": post.body,
        "spell": f"{post.title}\n{post.summary}\n{post.body}",
        "source": post.source,
        "source_name": post.source,
        "tags": ",".join(t.replace(",", " ") for t in post.tags),
        "authors": ",".join(a.replace(",", " ") for a in post.authors),
        "date": post.date,
        "year": str(post.date.year) if post.date else NO_YEAR,
        "undated": DATED if post.date else UNDATED,
        "url": post.url,
        "url_key": copy_key(post),
        "thumbnail": post.thumbnail,
        "hidden": post.hidden,
        "length": len(post.body),
        "id_number": zlib.crc32(post.id.encode("utf-8", "surrogateescape")),
        "content_hash": post.content_hash,
        "cites": ",".join(index_terms(post.cites)),
        "citations": ",".join(str(c) for c in post.cites),
    }
    return {name: value for name, value in document.items() if value not in ("", None)}


def from_stored(fields: dict) -> dict:
    """A post's stored fields decoded from the encodings `to_document` gives them: the
    values `records.Hit` and `records.PostRecord` are made of."""
    return {
        "id": fields["id"], "path": fields["path"], "title": fields.get("title", ""),
        "summary": fields.get("summary", ""), "url": fields.get("url", ""),
        "source": fields.get("source_name", ""), "date": fields.get("date"),
        "tags": _listed(fields.get("tags")), "authors": _listed(fields.get("authors")),
        "thumbnail": fields.get("thumbnail", ""), "hidden": fields.get("hidden", False),
        "content_hash": fields["content_hash"],
        "cites": cited_in(fields),
    }


def cited_in(fields: dict) -> tuple[Citation, ...]:
    """The papers and code a post cites, as written, from its stored fields."""
    return tuple(Citation(*c.split(":", 1)) for c in _listed(fields.get("citations")))


def _listed(value: str | None) -> tuple[str, ...]:
    return tuple(v for v in (value or "").split(",") if v)


def has_index(index_dir: Path) -> bool:
    """Whether a Whoosh index was ever committed here (without unpickling its schema,
    which fails if the analyzers changed: that is a reason to rebuild, not to crash)."""
    return any(p.name.startswith("_MAIN_") and p.name.endswith(".toc") for p in index_dir.iterdir())
