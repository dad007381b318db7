"""A plain reference matcher for tests/test_differential.py: what a query must find.

Brute force, with no index and no Whoosh query: every post's title, summary and body are
walked word by word, each word analysed by the index's own `schema.ResearchAnalyzer`
(so terms are tokenized and stemmed the same way), and kept as position -> terms. A query
is answered by looking at every post. Positions are counted here, not taken from the
analyzer's arithmetic: a word takes one position per part (`GPT-4`: two, a CJK run: one
per bigram), and a stop word takes its position even though it leaves no term.

A query is a small tree (`Word`, `Phrase`, `Pattern`, `Meta`, `Year`, `Dates`, `Group`,
`And`, `Or`); `str(node)` is the text a user types and `Reference.find(node, filters)` the
posts it must find. The semantics are those of issue 12 and the README's query syntax:

- a word matches a post whose title, summary or body holds its term; a stop word adds no
  condition; a compound (`DeepSeek-R1`) matches itself, its joined stem (`deepseekr1`) or
  the phrase of its parts, so `DeepSeek-R1`, `deepseek-r1` and `"DeepSeek R1"` find the same posts;
  a word with a letter first and a digit in it (`deepseekr1`, `llama3.1`) also matches the
  phrases of the parts of the compounds the archive writes with its letters and digits,
  and those compounds whole;
- a phrase matches when its terms sit at successive positions of one field, stop words
  being gaps that any word (or none indexed) may fill; stop words alone add no condition;
  `"…"~N` lets each term stand further from the one before, by N positions in all; a
  phrase of two or more words without `~N` whose words run together are such a name
  (`"DeepSeek R1"`: deepseekr1) also matches what the name typed joined matches;
- `pre*`, `a?c`, `a*c`, `word~`, `word~2` are matched against the written (unstemmed)
  words of the archive and mean the OR of those words, searched as typed: the 50 written
  in most posts, if more match (README; issue 12 said 200). `~2` allows 2 edits from 6
  letters, 1 from 3, none below (README, as Lucene);
- words side by side: any of them; with `+word`s, those (the others only rank); `NOT x`
  and `-x` exclude x from what the terms beside them find (`a b NOT c` is (a OR b) without
  c, `a OR (NOT c)` is a without c), and alone they find every post without x; `+` inside
  parentheses is text (the engine says so); `AND`, `OR` and parentheses as usual;
- `source:`, `tag:`, `author:` (and the API filters) match when the value's words are a
  run of the words of the post's source / one of its tags / one of its authors, folded;
  a hyphenated name is one word (README: `tag:offline-rl`);
- `year:`, `date:` and `since`/`until` cover whole years, months or days;
- an acronym of searchidx/synonyms.py's table, typed as a word (in its own case, in
  capitals, or in lower case unless it is capitals-only; `LLMs` too), also matches the
  phrases of what it stands for; and words side by side (ANDed, ORed or in a group; stop
  words between them skipped; one field; phrases and compounds count with their words)
  that spell out one of those meanings also match the acronym — except beside a `+word`.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache, cached_property

from whoosh.support.charset import accent_map

from searchidx.posts import Post
from searchidx.schema import (
    _COMPOUND_SPLIT,
    COPY_KEY_SEPARATOR,
    WORD_PATTERN,
    ResearchAnalyzer,
    copy_key,
)
from searchidx.synonyms import BUILT_IN, CAPITALS_ONLY

TEXT_FIELDS = ("title", "summary", "body")
MAX_EXPANSIONS = 50  # a pattern stands for at most this many written words (README),
EXPANSION_POSTINGS = 30_000  # whose posts, summed, are at most this many (but one word always)
STEMMED = ResearchAnalyzer(stem=True)
WRITTEN = ResearchAnalyzer(stem=False)
_WORD = re.compile(WORD_PATTERN)
# Chinese, Japanese and Korean characters (the ranges schema.py bigrams).
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af]")

Pieces = tuple[tuple[int, str], ...]  # (offset, term) of a phrase, first offset 0


# --- the query tree ---------------------------------------------------------------------

@dataclass(frozen=True, repr=False)
class Node:
    def __repr__(self) -> str:  # what hypothesis prints for a failing example
        return f"<query {str(self)!r}>"

    def _repr_pretty_(self, printer, cycle) -> None:  # hypothesis prints dataclasses by field
        printer.text(repr(self))


@dataclass(frozen=True, repr=False)
class Word(Node):
    text: str
    field: str | None = None  # title, summary or body; None for all three

    def __str__(self) -> str:
        return f"{self.field}:{self.text}" if self.field else self.text


@dataclass(frozen=True, repr=False)
class Phrase(Node):
    words: tuple[str, ...]
    field: str | None = None
    extra_words: int = 0  # `"…"~N`: up to N other words between them, in all

    def __str__(self) -> str:
        quoted = '"' + " ".join(self.words) + '"'
        if self.extra_words:
            quoted += f"~{self.extra_words}"
        return f"{self.field}:{quoted}" if self.field else quoted


@dataclass(frozen=True, repr=False)
class Pattern(Node):
    text: str  # pre*, a?c, a*c, word~, word~2
    field: str | None = None

    def __str__(self) -> str:
        return f"{self.field}:{self.text}" if self.field else self.text


@dataclass(frozen=True, repr=False)
class Meta(Node):
    name: str  # source, tag, tags, author, authors
    value: str

    def __str__(self) -> str:
        bare = re.fullmatch(r"\w+", self.value)
        return f"{self.name}:{self.value}" if bare else f'{self.name}:"{self.value}"'


@dataclass(frozen=True, repr=False)
class Year(Node):
    year: int

    def __str__(self) -> str:
        return f"year:{self.year}"


@dataclass(frozen=True, repr=False)
class Dates(Node):
    start: str  # 2023, 2023-04 or 2023-04-27
    end: str | None = None  # with an end: the range [start to end]

    def __str__(self) -> str:
        return f"date:[{self.start} to {self.end}]" if self.end else f"date:{self.start}"


SIGNS = ("", "+", "-", "NOT ")


@dataclass(frozen=True, repr=False)
class Group(Node):
    """Terms side by side, each with a sign: "" (plain), "+" (required), "-" or "NOT "."""

    items: tuple[tuple[str, Node], ...]

    def __str__(self) -> str:
        return " ".join(sign + _wrapped(node) for sign, node in self.items)


@dataclass(frozen=True, repr=False)
class And(Node):
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " AND ".join(_wrapped(child) for child in self.children)


@dataclass(frozen=True, repr=False)
class Or(Node):
    children: tuple[Node, ...]

    def __str__(self) -> str:
        return " OR ".join(_wrapped(child) for child in self.children)


def _wrapped(node: Node) -> str:
    """A child as text, in parentheses when it has more than one term or a sign."""
    grouped = (isinstance(node, And | Or) and len(node.children) > 1) or (
        isinstance(node, Group) and (len(node.items) > 1 or node.items[0][0]))
    return f"({node})" if grouped else str(node)


def nested_plus(node: Node, depth: int = 0) -> bool:
    """Whether a `+word` stands inside parentheses: the engine cannot read that, and
    then reads every `+` as text (with a notice)."""
    if isinstance(node, Group):
        return any((sign == "+" and depth > 0) or nested_plus(child, depth + 1)
                   for sign, child in node.items)
    if isinstance(node, And | Or):
        return any(nested_plus(child, depth + 1) for child in node.children)
    return False


def only_exclusions(node: Node) -> bool:
    """A group of NOT/- terms only: beside other terms, it excludes from what they find."""
    return isinstance(node, Group) and all(sign in ("-", "NOT ") for sign, _ in node.items)


@dataclass(frozen=True)
class Filters:
    """The keyword filters of `Index.search`."""

    source: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()
    author: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None

    def options(self) -> dict:
        return {"source": list(self.source), "tag": list(self.tag),
                "author": list(self.author), "since": self.since, "until": self.until}

    def __str__(self) -> str:
        shown = {k: v for k, v in self.options().items() if v}
        return ", ".join(f"{k}={v!r}" for k, v in shown.items()) or "none"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(f"<filters {self}>")


# --- text as the index sees it -------------------------------------------------------------

def fold(text: str) -> str:
    """Lower case, Unicode compatibility forms and accents folded (as the analyzer does),
    and the combining dot that lower-casing İ leaves."""
    return unicodedata.normalize("NFKC", text.lower()).translate(accent_map).replace("\u0307", "")


def compound_parts(word: str) -> list[str]:
    """`GPT-4` -> [gpt, 4]; a word that is not a compound (or is CJK) -> [word]."""
    parts = [part for part in _COMPOUND_SPLIT.split(word.lower()) if part]
    return parts if len(parts) > 1 and not _CJK.search(word) else [word]


def word_tokens(analyzer: ResearchAnalyzer, word: str, mode: str) -> list[tuple[int, str | None]]:
    """(offset within the word, term) of each token of one word; term None for a stop word.
    The values are copied at once: the analyzer reuses one Token object."""
    return [
        (t.pos, None if getattr(t, "stopped", False) else t.text)
        for t in analyzer(word, positions=True, mode=mode, removestops=False)
    ]


def word_width(word: str, tokens: list[tuple[int, str | None]]) -> int:
    """How many positions a word takes: one per part, at least one (a stop word too)."""
    return max(1, len(compound_parts(word)), *(offset + 1 for offset, _ in tokens))


@dataclass(frozen=True)
class FieldText:
    at: dict[int, frozenset[str]]  # position -> terms there
    where: dict[str, tuple[int, ...]]  # term -> its positions


@cache
def _indexed_word(word: str) -> tuple[tuple[tuple[int, str], ...], int]:
    """One written word's (offset, term) pairs, stop words left out, and its width."""
    tokens = word_tokens(STEMMED, word, "index")
    return tuple((o, t) for o, t in tokens if t is not None), word_width(word, tokens)


@cache
def _written_word(word: str) -> tuple[str, ...]:
    """One word as written: the unstemmed analyzer's tokens (folded; compounds also whole,
    joined and in parts)."""
    return tuple(t.text for t in WRITTEN(word, mode="index"))


def analyse_field(text: str) -> FieldText:
    """A field's text as position -> terms, counting positions word by word."""
    at: dict[int, set[str]] = {}
    pos = 0
    for word in _WORD.findall(text):
        terms, width = _indexed_word(word)
        for offset, term in terms:
            at.setdefault(pos + offset, set()).add(term)
        pos += width
    where: dict[str, list[int]] = {}
    for position in sorted(at):
        for term in at[position]:
            where.setdefault(term, []).append(position)
    return FieldText({p: frozenset(t) for p, t in at.items()},
                     {t: tuple(ps) for t, ps in where.items()})


def holds(text: FieldText, pieces: Pieces, extra_words: int = 0) -> bool:
    """Whether the field has every piece's term at some position p + the piece's offset,
    or, with `extra_words`, each term further from the one before by some number of
    positions, at most `extra_words` in all: every such placement is tried."""
    def placed(i: int, at: int, spare: int) -> bool:
        if i == len(pieces):
            return True
        offset, term = pieces[i]
        wanted = at + offset - pieces[i - 1][0]
        return any(placed(i + 1, wanted + moved, spare - moved)
                   for moved in range(spare + 1) if term in text.at.get(wanted + moved, ()))

    return any(placed(1, start, extra_words) for start in text.where.get(pieces[0][1], ()))


def _rebased(pieces: list[tuple[int, str]]) -> Pieces:
    """Leading stop words dropped: offsets counted from the first term."""
    if not pieces:
        return ()
    first = pieces[0][0]
    return tuple((offset - first, term) for offset, term in pieces)


def phrase_pieces(text: str) -> Pieces:
    """The terms of a phrase at successive offsets; stop words leave gaps. Empty when the
    phrase has no word that is not a stop word (it then adds no condition)."""
    pieces: list[tuple[int, str]] = []
    offset = 0
    for match in _WORD.finditer(text):
        for part in compound_parts(match.group()):
            tokens = word_tokens(STEMMED, part, "query")
            pieces.extend((offset + o, term) for o, term in tokens if term is not None)
            offset += max(1, *(o + 1 for o, _ in tokens))
    return _rebased(pieces)


def name_letters(text: str) -> str | None:
    """The letters and digits of a word with a letter first and a digit in it (at most
    32 of them), folded: `DeepSeek-R1` -> deepseekr1; None for any other word."""
    letters = _COMPOUND_SPLIT.sub("", fold(text))
    if (not letters[:1].isalpha() or not letters.isalnum() or _CJK.search(letters)
            or not any(c.isdigit() for c in letters) or len(letters) > 32):
        return None
    return letters


def word_alternatives(word: str) -> list[Pieces] | None:
    """What one query word matches: any of these phrases (a one-term phrase is a term).
    None for a stop word, which adds no condition."""
    parts = compound_parts(word)
    if len(parts) > 1:
        joined = [t for _, t in word_tokens(STEMMED, "".join(parts), "query") if t is not None]
        alternatives = [((0, term),) for term in joined[:1]]
        # ... or itself, whole: a compound written inside CJK text ("のGPT-3.5は") is
        # indexed whole only, as the text around it has no word breaks to split on
        whole = [t for _, t in word_tokens(STEMMED, word, "query") if t is not None]
        alternatives += [((0, term),) for term in whole[:1]]
        spelled_out = phrase_pieces(" ".join(parts))
        if spelled_out:
            alternatives.append(spelled_out)
        return alternatives or None
    terms = [(o, t) for o, t in word_tokens(STEMMED, word, "query") if t is not None]
    return [_rebased(terms)] if terms else None


def acronym_meanings(typed: str) -> tuple[str, ...]:
    """What an acronym typed as a word stands for (BUILT_IN), or () if it is none."""
    for form in (typed, typed[:-1] if len(typed) > 2 and typed[-1] in "sS" else ""):
        for acronym, meanings in BUILT_IN.items():
            if form in (acronym, acronym.upper()) or (
                    form == acronym.lower() and acronym not in CAPITALS_ONLY):
                return meanings
    return ()


@cache
def _spelled_acronyms() -> dict[tuple[str, ...], str]:
    """The stems of each meaning of more than one word -> its acronym (the first one)."""
    spelled: dict[tuple[str, ...], str] = {}
    for acronym, meanings in BUILT_IN.items():
        for meaning in meanings:
            stems = tuple(term for _, term in phrase_pieces(meaning))
            if len(stems) > 1:
                spelled.setdefault(stems, acronym)
    return spelled


def stems_in_a_run(node: Node) -> tuple[str, ...] | None:
    """The stems a node adds to a run of words that may spell out an acronym's meaning:
    () for a stop word, None when it ends the run (an acronym, a pattern…)."""
    if isinstance(node, Word):
        if acronym_meanings(node.text):
            return None
        parts = compound_parts(node.text)
        if len(parts) > 1:  # a compound: its parts, when two or more are not stop words
            pieces = phrase_pieces(" ".join(parts))
            return tuple(term for _, term in pieces) if len(pieces) > 1 else None
        alternatives = word_alternatives(node.text)
        return () if alternatives is None else tuple(term for _, term in alternatives[0])
    if isinstance(node, Phrase):
        pieces = phrase_pieces(" ".join(node.words))
        return tuple(term for _, term in pieces) or None
    return None


def spelled_runs(children: Sequence[Node]) -> list[tuple[int, int, str]]:
    """(start, end, acronym) of each longest run of `children` spelling out a meaning."""
    spelled = _spelled_acronyms()
    runs, start = [], 0
    while start < len(children):
        best, stems = None, ()
        for end in range(start, len(children)):
            part = stems_in_a_run(children[end])
            if part is None or (not part and end == start) or (
                    part and getattr(children[end], "field", None)
                    != getattr(children[start], "field", None)):
                break
            stems += part
            if part and stems in spelled:
                best = (start, end + 1, spelled[stems])
        if best:
            runs.append(best)
            start = best[1]
        else:
            start += 1
    return runs


def meta_words(text: str) -> tuple[str, ...]:
    """The words of a source, tag or author name, case-, width- and accent-folded (and
    the dot lower-casing İ leaves). A hyphenated name is one word:
    `Reinforcement-Learning` -> (reinforcement-learning,)."""
    folded = (unicodedata.normalize("NFKC", text).casefold().translate(accent_map)
              .replace("\u0307", ""))
    return tuple(_WORD.findall(folded))


def is_run(needle: tuple[str, ...], words: tuple[str, ...]) -> bool:
    n = len(needle)
    return n > 0 and any(words[i : i + n] == needle for i in range(len(words) - n + 1))


def period(text: str) -> tuple[datetime, datetime]:
    """`2023`, `2023-04` or `2023-04-27` as [start, end): the whole year, month or day."""
    numbers = [int(n) for n in text.split("-")]
    year, month, day = (numbers + [1, 1])[:3]
    start = datetime(year, month, day)
    if len(numbers) == 1:
        return start, datetime(year + 1, 1, 1)
    if len(numbers) == 2:
        return start, datetime(year + month // 12, month % 12 + 1, 1)
    return start, datetime.fromordinal(start.toordinal() + 1)


def fuzzy_edits(word: str, asked: int) -> int:
    """The edits `word~` (1) or `word~2` (2) allows: at most 1 for words of 3-5 letters
    and none for shorter ones (README, as Lucene's AUTO)."""
    return min(asked, 0 if len(word) < 3 else 1 if len(word) < 6 else 2)


def edit_distance(a: str, b: str, limit: int) -> int:
    """Damerau-Levenshtein distance, optimal string alignment (a swap of neighbours is one
    edit), by the textbook table; any answer above `limit` is returned as limit + 1.

    Stopping early is safe: a cell is at least the smaller of the row above's least cell
    and the least cell two rows up plus one, so once two rows in a row are all above the
    limit, every later row is too."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = a[i - 1] != b[j - 1]
            row[j] = min(previous[j] + 1, row[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], previous2[j - 2] + 1)
        if min(row) > limit and min(previous) > limit:
            return limit + 1
        previous2, previous = previous, row
    return min(previous[len(b)], limit + 1)


# --- the reference --------------------------------------------------------------------------

def copy_keys(posts: Sequence[Post]) -> list[str]:
    """Each post's group of copies, as a name (issue 14 items 7 and 8). Posts whose
    `schema.copy_key` identity (the url that names them, else a digest of title, source
    and body) is the same are copies. A post without one (no such url and no body) is a
    copy of the post with an identity, the same title key and a source that is the same
    or unknown on either side, whose body is longest (then whose identity sorts first);
    with none, of the posts like it with the same title key and source; with no title
    key, of no post."""
    split = [copy_key(post).split(COPY_KEY_SEPARATOR) for post in posts]
    keys = []
    for post, (identity, title) in zip(posts, split, strict=True):
        if identity or not title:
            keys.append(identity or post.path)
            continue
        source = post.source.casefold()
        candidates = [
            (-len(other.body), other_identity)
            for other, (other_identity, other_title) in zip(posts, split, strict=True)
            if other_identity and other_title == title
            and (not source or not other.source or other.source.casefold() == source)
        ]
        keys.append(min(candidates)[1] if candidates else f"stub {title!r} {source!r}")
    return keys


@dataclass
class _Indexed:
    post: Post
    key: str  # copies of one post share it (`copy_keys`)
    texts: dict[str, FieldText]
    source: tuple[str, ...]
    tags: tuple[tuple[str, ...], ...]
    authors: tuple[tuple[str, ...], ...]
    written: frozenset[str]


@dataclass(repr=False)
class Reference:
    """Every post, analysed; `find` answers a query by looking at each of them."""

    posts: Sequence[Post]
    indexed: list[_Indexed] = field(init=False)

    def __post_init__(self) -> None:
        keys = copy_keys(self.posts)
        self.indexed = [
            _Indexed(
                post=post,
                key=key,
                texts={name: analyse_field(getattr(post, name)) for name in TEXT_FIELDS},
                source=meta_words(post.source),
                tags=tuple(meta_words(tag) for tag in post.tags),
                authors=tuple(meta_words(author) for author in post.authors),
                written=frozenset(
                    term for name in TEXT_FIELDS for word in _WORD.findall(getattr(post, name))
                    for term in _written_word(word)
                ),
            )
            for post, key in zip(self.posts, keys, strict=True)
        ]
        self.key_by_path = {doc.post.path: doc.key for doc in self.indexed}
        self._words: dict[tuple[str, tuple[str, ...]], frozenset[int] | None] = {}
        self._expansions: dict[str, tuple[str, ...]] = {}

    def __repr__(self) -> str:
        return f"<Reference over {len(self.indexed)} posts>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    @cached_property
    def everything(self) -> frozenset[int]:
        return frozenset(range(len(self.indexed)))

    @cached_property
    def posts_with_term(self) -> dict[str, dict[str, set[int]]]:
        """Field -> stemmed term -> the posts whose field holds it."""
        found: dict[str, dict[str, set[int]]] = {name: {} for name in TEXT_FIELDS}
        for i, doc in enumerate(self.indexed):
            for name in TEXT_FIELDS:
                for term in doc.texts[name].where:
                    found[name].setdefault(term, set()).add(i)
        return found

    @cached_property
    def posts_with_word(self) -> Counter[str]:
        """Written word -> number of posts it is written in."""
        return Counter(word for doc in self.indexed for word in doc.written)

    @cached_property
    def vocabulary(self) -> list[str]:
        """The archive's written words (unstemmed, folded), sorted."""
        return sorted(self.posts_with_word)

    # --- answers ---
    def find(self, node: Node, filters: Filters | None = None) -> frozenset[int]:
        """The posts (indexes into `posts`) the query and filters must find."""
        if not isinstance(node, Group | And | Or):  # the engine's parser groups it too
            node = Group((("", node),))
        found = self.evaluate(node, plus=not nested_plus(node))
        if found is None:  # only stop words: every post
            found = self.everything
        filters = filters or Filters()
        return frozenset(i for i in found if self.passes(self.indexed[i], filters))

    def url_keys(self, found: Iterable[int]) -> set[str]:
        """What a results list shows: one hit per post (copies fold into one)."""
        return {self.indexed[i].key for i in found}

    def evaluate(self, node: Node, plus: bool, spell: bool = True) -> frozenset[int] | None:
        """The posts a node matches; None when it adds no condition (stop words).
        `plus`: whether `+word` is an operator (see `nested_plus`); `spell`: whether words
        side by side that spell out an acronym's meaning also match the acronym."""
        fields = TEXT_FIELDS if getattr(node, "field", None) is None else (node.field,)
        if isinstance(node, Word):
            found = self.word(node.text, fields)
            meanings = [self._matching([pieces], fields) for meaning in
                        acronym_meanings(node.text) if (pieces := phrase_pieces(meaning))]
            return found.union(*meanings) if meanings else found
        if isinstance(node, Phrase):
            pieces = phrase_pieces(" ".join(node.words))
            found = self._matching([pieces], fields, node.extra_words) if pieces else None
            # A name spaced in quotes ("DeepSeek R1") also matches as typed joined.
            letters = name_letters("".join(node.words)) if len(node.words) > 1 else None
            if found is None or node.extra_words or letters is None:
                return found
            return found | (self.word(letters, fields) or frozenset())
        if isinstance(node, Pattern):
            found = [self.word(word, fields) for word in self.expand(node.text)]
            return frozenset().union(*(f for f in found if f is not None))
        if isinstance(node, Meta):
            return self._where(lambda doc: self.meta_matches(doc, node.name, node.value))
        if isinstance(node, Year):
            return self._where(lambda doc: doc.post.date is not None
                               and doc.post.date.year == node.year)
        if isinstance(node, Dates):
            start = period(node.start)[0]
            end = period(node.end or node.start)[1]
            return self._where(lambda doc: doc.post.date is not None
                               and start <= doc.post.date < end)
        if isinstance(node, And):
            found = [self.evaluate(c, plus, spell) for c in node.children]
            for start, end, acronym in spelled_runs(node.children) if spell else ():
                run = [f for f in found[start:end] if f is not None]
                found[start:end] = [frozenset.intersection(*run) | self.word(acronym, fields
                                    if node.children[start].field is None else
                                    (node.children[start].field,))]
            found = [f for f in found if f is not None]
            return frozenset.intersection(*found) if found else None
        if isinstance(node, Or):
            return self._terms([("", child) for child in node.children], plus, spell)
        if isinstance(node, Group):
            spell = spell and not (plus and any(sign == "+" for sign, _ in node.items))
            return self._terms(list(node.items), plus, spell)
        raise TypeError(f"not a query node: {node!r}")

    def _terms(self, items: list[tuple[str, Node]], plus: bool,
               spell: bool) -> frozenset[int] | None:
        """Terms side by side (or ORed): any of the plain ones, or every `+` one; less
        the posts of the NOT/- ones, and of groups of only those. A run of them spelling
        out an acronym's meaning adds the acronym as one more plain term."""
        plain, required, excluded = [], [], []
        in_runs = [None if sign in ("-", "NOT ") else child for sign, child in items]
        for start, _, acronym in spelled_runs(in_runs) if spell else ():
            field = in_runs[start].field
            plain.append(self.word(acronym, TEXT_FIELDS if field is None else (field,)))
        for sign, child in items:
            if not sign and only_exclusions(child):
                excluded.extend(f for f in (self.evaluate(c, plus, spell) for _, c in child.items)
                                if f is not None)
                continue
            found = self.evaluate(child, plus, spell)
            if found is not None:
                negated = sign in ("-", "NOT ")
                (excluded if negated else required if sign == "+" and plus else plain).append(
                    found)
        if required:
            base = frozenset.intersection(*required)
        elif plain:
            base = frozenset.union(*plain)
        elif excluded:
            base = self.everything
        else:
            return None
        return base - frozenset().union(*excluded)

    def word(self, text: str, fields: tuple[str, ...]) -> frozenset[int] | None:
        key = (text, fields)
        if key not in self._words:
            alternatives = word_alternatives(text)
            self._words[key] = None if alternatives is None else self._matching(
                alternatives + self.spelled_apart(text), fields)
        return self._words[key]

    def spelled_apart(self, text: str) -> list[Pieces]:
        """The phrases of the parts of the compounds the archive writes with the letters
        and digits of a word that has a letter first and a digit in it, 32 of them at
        most (the 50 written in most posts): `deepseekr1` also finds "DeepSeek R1" when
        the archive writes DeepSeek-R1."""
        letters = name_letters(text)
        if letters is None:
            return []
        spellings = sorted(self.compounds.get(letters, ()),
                           key=lambda w: (-self.posts_with_word[w], w))[:MAX_EXPANSIONS]
        apart = [pieces for word in spellings
                 if (pieces := phrase_pieces(" ".join(compound_parts(word))))]
        # ... and whole: a compound written inside CJK text is indexed whole only
        whole = [((0, terms[0]),) for word in spellings
                 if (terms := [t for _, t in word_tokens(STEMMED, word, "query") if t])]
        return apart + whole

    @cached_property
    def compounds(self) -> dict[str, list[str]]:
        """The written words with separators (`deepseek-r1`), by their letters and digits
        (`deepseekr1`)."""
        found: dict[str, list[str]] = {}
        for word in self.vocabulary:
            parts = compound_parts(word)
            if len(parts) > 1:
                found.setdefault("".join(parts), []).append(word)
        return found

    def _matching(self, alternatives: list[Pieces], fields: tuple[str, ...],
                  extra_words: int = 0) -> frozenset[int]:
        """Posts with one of the phrases in one of the fields. Only the posts holding a
        phrase's first term are looked at (a shortcut, not a different rule)."""
        found = set()
        for name in fields:
            for pieces in alternatives:
                candidates = self.posts_with_term[name].get(pieces[0][1], ())
                found.update(i for i in candidates
                             if holds(self.indexed[i].texts[name], pieces, extra_words))
        return frozenset(found)

    def _where(self, test) -> frozenset[int]:
        return frozenset(i for i, doc in enumerate(self.indexed) if test(doc))

    # --- patterns ---
    def expansions(self, pattern: str) -> tuple[str, ...]:
        """Every written word the pattern matches, in most posts first."""
        if pattern not in self._expansions:
            self._expansions[pattern] = self._expand(fold(pattern))
        return self._expansions[pattern]

    def _expand(self, pattern: str) -> tuple[str, ...]:
        fuzzy = re.fullmatch(r"(.+)~([12]?)", pattern)
        if fuzzy:
            word = fuzzy.group(1)
            distance = fuzzy_edits(word, int(fuzzy.group(2) or 1))
            found = [w for w in self.vocabulary if abs(len(w) - len(word)) <= distance
                     and edit_distance(word, w, distance) <= distance]
        else:
            wildcard = re.compile(
                "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
                re.DOTALL,
            )
            found = [w for w in self.vocabulary if wildcard.fullmatch(w)]
        return tuple(sorted(found, key=lambda w: (-self.posts_with_word[w], w)))

    def expand(self, pattern: str) -> tuple[str, ...]:
        """The written words a pattern stands for, most posts first: at most
        MAX_EXPANSIONS, in EXPANSION_POSTINGS posts in all (the first word always)."""
        kept: list[str] = []
        total = 0
        for word in self.expansions(pattern)[:MAX_EXPANSIONS]:
            total += self.posts_with_word[word]
            if kept and total > EXPANSION_POSTINGS:
                break
            kept.append(word)
        return tuple(kept)

    # --- source, tags, authors, filters ---
    @staticmethod
    def meta_matches(doc: _Indexed, name: str, value: str) -> bool:
        words = meta_words(value)
        if name == "source":
            return is_run(words, doc.source)
        names = doc.tags if name in ("tag", "tags") else doc.authors
        return any(is_run(words, one) for one in names)

    def passes(self, doc: _Indexed, filters: Filters) -> bool:
        if filters.source and not any(self.meta_matches(doc, "source", s)
                                      for s in filters.source):
            return False
        if not all(self.meta_matches(doc, "tag", t) for t in filters.tag):
            return False
        if not all(self.meta_matches(doc, "author", a) for a in filters.author):
            return False
        if filters.since or filters.until:
            date = doc.post.date
            if date is None:
                return False
            if filters.since and date < period(filters.since)[0]:
                return False
            if filters.until and date >= period(filters.until)[1]:
                return False
        return True

    def describe(self, key: str) -> str:
        """A url key as a reader knows it: file name and title of its posts."""
        docs = [doc.post for doc in self.indexed if doc.key == key]
        return "; ".join(f"{p.id} {p.path.rsplit('/', 1)[-1]} ({p.title[:60]!r})" for p in docs)
