"""A snippet is the passage of a post's body or summary that best shows the query's
words, a phrase counting as a whole, cut on word boundaries, with "…" where text is left
out. Matches are found by the analyzer that indexed the text (`ResearchAnalyzer.word`),
so a stem (quantization -> "quantize"), a compound's parts or joined form (GPT-4, gpt4)
and CJK bigrams are marked wherever the index found them. Whoosh's highlighter is not
used: it analyses all the text it is given (~20 ms a long post) and marks overlapping
tokens (CJK bigrams) in pieces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from whoosh import query
from whoosh.support.charset import accent_map

from searchidx.query import searched_leaves
from searchidx.schema import IS_CJK, MAX_TERM_CHARS, TEXT_FIELDS, WORD_PATTERN

SNIPPET_CHARS = 200  # a snippet's length: one passage
_WORD = re.compile(WORD_PATTERN)



@dataclass(frozen=True)
class Wanted:
    """What a snippet of one field marks: the query's terms in that field, its phrases
    there (each a tuple of (position offset, term)), and a regex finding the places
    where those terms may be written (`_term_pattern`)."""

    terms: frozenset[str]
    phrases: tuple[tuple[tuple[int, str], ...], ...]
    pattern: re.Pattern


def snippet_query(terms: dict[str, dict[str, float]], q: query.Query | None
                   ) -> dict[str, Wanted]:
    """Per text field, what its snippets mark: the scored terms (`Snapshot.query_terms`)
    and every phrase of the query `q` outside a NOT, unscored ones included (a compound's
    parts in a row, "GPT 4", are how such a post matched)."""
    words: dict[str, set[str]] = {}
    for word, fields in terms.items():
        for name in fields:
            words.setdefault(name, set()).add(word)
    phrases: dict[str, list[tuple[tuple[int, str], ...]]] = {}

    for node in searched_leaves(q) if q is not None else ():
        if isinstance(node, query.Phrase) and node.fieldname in TEXT_FIELDS:
            offsets = getattr(node, "offsets", range(len(node.words)))
            phrase = tuple(zip(offsets, node.words, strict=True))
            if phrase not in phrases.get(node.fieldname, []):
                phrases.setdefault(node.fieldname, []).append(phrase)
    wanted = {}
    for name in words.keys() | phrases.keys():
        found = frozenset(words.get(name, ()))
        field_phrases = tuple(phrases.get(name, ()))
        written = found | {term for phrase in field_phrases for _, term in phrase}
        wanted[name] = Wanted(found, field_phrases, _term_pattern(written))
    return wanted


def _term_pattern(terms: Iterable[str]) -> re.Pattern:
    """A regex for the places where a word yielding one of `terms` may be written, run
    over `_fold`ed, lower-cased text. A stem may differ from the word in its last letter
    (quantization -> "quantize", happy -> "happi"), so a term longer than three letters
    is looked for by all but its last letter, and a compound's joined form (gpt4, abc)
    with or without its separators (GPT-4, A/B/C); each place found is checked by
    analysing its word, which also drops places inside another word. Case-sensitive and
    without word boundaries, the regex engine skips to each place at C speed (three
    times sooner than case-insensitive, or with `\b`)."""
    prefixes = sorted({term[:-1] if len(term) > 3 else term for term in terms},
                      key=len, reverse=True)
    if not prefixes:
        return re.compile(r"(?!)")
    return re.compile("|".join("[-./+#]*".join(re.escape(letter) for letter in prefix)
                               for prefix in prefixes))


# Accents and full-width forms folded one character for one, so offsets in the folded text
# are offsets in the text (the analyzer folds them the same way: NFKC, accent_map).
_FOLD = {**{chr(c): v for c, v in accent_map.items() if c > 127},
         **{chr(c): chr(c - 0xFEE0) for c in range(0xFF01, 0xFF5F)}}
_FOLDED = re.compile("[" + "".join(re.escape(c) for c in sorted(_FOLD)) + "]")


def _fold(text: str) -> str:
    """The text folded and lower-cased, as the analyzer folds words, character for
    character (accent_map folds İ, the one character whose lower case is two)."""
    # A regex finds the few characters to fold: str.translate with a dict costs ~10 ms on
    # a 200 kB digest.
    return (text if text.isascii() else _FOLDED.sub(lambda m: _FOLD[m.group()], text)).lower()


_PART = re.compile(r"[^-./+#]+")  # a compound's parts: the complement of the analyzer's split
_SPACE = re.compile(r"\s")
MAX_SNIPPET_MATCHES = 1_000  # matches looked at in one text (a 200 kB digest has ~300)
SNIPPET_LEAD_CHARS = 60  # at most this much text before the passage's first mark


def _word_at(text: str, i: int) -> re.Match | None:
    """The word (a WORD_PATTERN match) that holds the character at `i`, if any."""
    # Words hold no whitespace: start at the last space or line break before `i`.
    lo = max(0, i - MAX_TERM_CHARS)
    start = max(text.rfind(" ", lo, i), text.rfind("\n", lo, i), lo - 1) + 1
    for word in _WORD.finditer(text, start):
        if word.end() > i:
            return word if word.start() <= i else None
    return None


def _inside_word(text: str, i: int) -> bool:
    """Whether a cut at `i` would split a word (between two CJK characters it would not:
    those languages put no space between words)."""
    if i <= 0 or i >= len(text):
        return False
    word = _word_at(text, i)
    return (word is not None and word.start() < i
            and not (IS_CJK.match(text, i - 1) and IS_CJK.match(text, i)))


def _word_entries(word: re.Match, analyzer) -> tuple[int, list[tuple[int, str, int, int]]]:
    """(positions the word takes, its terms as (position, term, start, end)): a part of a
    compound or a CJK bigram spans its own characters, a compound's whole and joined
    forms the whole word. Stop words leave no entry."""
    terms = analyzer.word(word.group())
    start, end = word.span()
    spans = [(start, end)]
    if terms.joined is not None:  # a compound: GPT-4
        spans = [(start + part.start(), start + part.end())
                 for part in _PART.finditer(word.group())]
    elif len(terms.parts) > 1:  # CJK bigrams, whose entries carry their spans
        spans = [(start + entry[2][0], start + entry[2][1]) if entry[2] else (start, end)
                 for entry in terms.index]
    if len(spans) != len(terms.parts):  # not the analyzer's split (a form NFKC changed)
        spans = [(start, end)] * len(terms.parts)
    entries = [(pos, term, s, e) for pos, (term, (s, e))
               in enumerate(zip(terms.parts, spans, strict=True)) if term is not None]
    if terms.joined is not None:
        entries += [(0, whole, start, end) for whole in {terms.index[0][0], terms.joined}]
    return terms.width, entries


def _phrase_end(text: str, word: re.Match, position: int,
                phrase: tuple[tuple[int, str], ...], analyzer) -> int | None:
    """Where the phrase ends when its first term is at `position` of `word`, or None when
    the words after it are not the phrase's."""
    needed = {position + offset: term for offset, term in phrase}
    last = max(needed)
    found: set[int] = set()
    end = None
    base = 0
    for following in _WORD.finditer(text, word.start()):
        width, entries = _word_entries(following, analyzer)
        for pos, term, _start, term_end in entries:
            if needed.get(base + pos) == term:
                found.add(base + pos)
                if base + pos == last:
                    end = term_end
        base += width
        if base > last:
            break
    return end if len(found) == len(needed) else None


def _matches(text: str, wanted: Wanted, analyzer) -> list[tuple[int, int, object]]:
    """(start, end, key) of each place the text shows a wanted term (key: the term) or a
    phrase (key: the phrase), in text order."""
    found = []
    seen: set[int] = set()
    for place in wanted.pattern.finditer(_fold(text)):
        word = _word_at(text, place.start())
        if word is None or word.start() in seen:
            continue
        seen.add(word.start())
        _width, entries = _word_entries(word, analyzer)
        for pos, term, start, end in entries:
            if term in wanted.terms:
                found.append((start, end, term))
            for phrase in wanted.phrases:
                if phrase[0][1] == term:
                    phrase_end = _phrase_end(text, word, pos, phrase, analyzer)
                    if phrase_end is not None:
                        found.append((start, phrase_end, phrase))
        if len(found) >= MAX_SNIPPET_MATCHES:
            break
    return sorted(found, key=lambda match: match[:2])


def match_spans(text: str, wanted: Wanted, analyzer) -> list[tuple[int, int]]:
    """Every place the text shows a wanted term or phrase (up to MAX_SNIPPET_MATCHES), as
    (start, end) in text order, overlapping or touching places merged: the marks of a
    whole text, as a snippet's are of one passage (the archived copy marks its text)."""
    merged: list[tuple[int, int]] = []
    for start, end, _key in _matches(text, wanted, analyzer):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _weight(key: object) -> int:
    # A phrase outweighs its words seen apart.
    return len(key) + 1 if isinstance(key, tuple) else 1


def _best_passage(matches: list[tuple[int, int, object]], size: int
                  ) -> tuple[tuple[int, int], tuple[int, int]]:
    """(start of the first, end of the last) of the run of matches that fits in `size`
    characters and shows the most, and what it shows: (distinct terms and phrases,
    weighted by `_weight`; matches), compared in that order. The earliest of equals."""
    best, best_score = (matches[0][0], matches[0][1]), (0, 0)
    for i, (start, _end, _key) in enumerate(matches):
        keys: set[object] = set()
        count, last_end = 0, start
        for _s, end, key in matches[i:]:
            if end > start + size:
                break
            keys.add(key)
            count += 1
            last_end = max(last_end, end)
        score = (sum(_weight(key) for key in keys), count)
        if score > best_score:
            best, best_score = (start, last_end), score
    return best, best_score


def _cuts(text: str, lo: int, hi: int, *, ends: bool) -> list[int]:
    """Where in text[lo:hi] a passage may start (or, with `ends`, end), in order: at a
    word's start (end), at a space, and between two CJK characters; never inside a word."""
    cuts = set()
    # Words hold no whitespace, so from the first whitespace on, the words found are the
    # text's own and a cut at their ends splits none: only the words before it (the first
    # may be the end of one that starts before `lo`) need the check, which was half a
    # snippet's time. The words after it are read whole: `hi` may cut the last one short.
    first_space = _SPACE.search(text, lo, hi)
    settled = first_space.start() if first_space else hi
    for word in _WORD.finditer(text, lo, settled):
        cut = word.end() if ends else word.start()
        if not _inside_word(text, cut):
            cuts.add(cut)
        cuts.update(_between_cjk(text, word.start(), word.end()))
    last = hi + 1 if ends else hi  # a passage may end at `hi`, inside a CJK word
    for word in _WORD.finditer(text, settled):
        if word.start() >= hi:
            break
        cuts.add(word.end() if ends else word.start())
        cuts.update(_between_cjk(text, word.start(), min(word.end(), last)))
    # After punctuation: "(QAT) models" starts at "(", "the end." ends after ".".
    for space in re.finditer(r"\s+", text[lo:hi]):
        cuts.add(lo + (space.start() if ends else space.end()))
    if ends and hi == len(text) or not ends and lo == 0:
        cuts.add(hi if ends else lo)
    return sorted(cut for cut in cuts if lo <= cut <= hi)


def _between_cjk(text: str, start: int, end: int) -> list[int]:
    """The places inside text[start:end] between two CJK characters (those languages put
    no space between words, so a passage may be cut there)."""
    if not IS_CJK.search(text, start, end):
        return []
    return [i for i in range(start + 1, end)
            if IS_CJK.match(text, i - 1) and IS_CJK.match(text, i)]


def _passage_bounds(text: str, first: int, last: int, size: int) -> tuple[int, int]:
    """A passage of about `size` characters holding text[first:last], cut on words. It
    starts up to SNIPPET_LEAD_CHARS before `first`, at the start of the sentence or line
    `first` is in when that start is that near."""
    lead = min(SNIPPET_LEAD_CHARS, max(0, (size - (last - first)) // 2))
    starts = _cuts(text, max(0, first - lead), first, ends=False)
    begin = starts[0] if starts else first
    sentence = max(text.rfind("\n", begin, first),
                   *(text.rfind(mark, begin, first) + 1 for mark in (". ", "? ", "! ", "。")))
    if sentence > begin:
        begin = next((cut for cut in starts if cut > sentence), first)
    ends = _cuts(text, last, max(last, min(len(text), begin + size)), ends=True)
    return begin, ends[-1] if ends else last


def _passage_spans(text: str, begin: int, end: int,
                   marks: list[tuple[int, int]]) -> tuple[tuple[str, bool], ...]:
    """text[begin:end] as (text, is_match) pieces, whitespace collapsed, "…" where text is
    left out. Overlapping or touching marks merge into one (CJK bigrams overlap)."""
    merged: list[list[int]] = []
    for start, stop in sorted(marks):
        start, stop = max(start, begin), min(stop, end)
        if start >= stop:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], stop)
        else:
            merged.append([start, stop])
    pieces: list[tuple[str, bool]] = []
    at = begin
    for start, stop in merged:
        pieces += [(text[at:start], False), (text[start:stop], True)]
        at = stop
    pieces.append((text[at:end], False))
    if text[:begin].strip():
        pieces.insert(0, ("… ", False))
    if text[end:].strip():
        pieces.append((" …", False))
    spans = [(re.sub(r"\s+", " ", piece), is_match) for piece, is_match in pieces]
    spans = [(piece, is_match) for piece, is_match in spans if piece]
    # No space at either end, and one space (not two) where an ellipsis meets a space.
    joined: list[tuple[str, bool]] = []
    for piece, is_match in spans:
        if joined and joined[-1][0].endswith(" ") and piece.startswith(" "):
            piece = piece[1:]
        if piece:
            joined.append((piece, is_match))
    if joined and not joined[0][1]:
        joined[0] = (joined[0][0].lstrip(), False)
    if joined and not joined[-1][1]:
        joined[-1] = (joined[-1][0].rstrip(), False)
    return tuple((piece, is_match) for piece, is_match in joined if piece)


def _snippet(text: str, matches: list[tuple[int, int, object]], first: int, last: int,
             size: int = SNIPPET_CHARS) -> tuple[tuple[str, bool], ...]:
    """The passage of `text` around text[first:last] (`_best_passage`), its matches marked."""
    begin, end = _passage_bounds(text, first, last, size)
    marks = [(start, stop) for start, stop, _key in matches if start >= begin and stop <= end]
    return _passage_spans(text, begin, end, marks)


def _lead(text: str, size: int = SNIPPET_CHARS) -> tuple[tuple[str, bool], ...]:
    """The opening of a text, cut on a word, for a post whose text shows no query word."""
    start = len(text) - len(text.lstrip())
    if start == len(text):
        return ()
    cuts = _cuts(text, start, min(len(text), start + size), ends=True)
    end = max((cut for cut in cuts if cut > start), default=min(len(text), start + size))
    return _passage_spans(text, start, end, [])


def snippet_spans(body: str, summary: str, wanted: dict[str, Wanted],
                  analyzer) -> tuple[tuple[str, bool], ...]:
    """A hit's snippet as (text, is_match) pieces: the best passage of its summary, or of
    its body when that shows more of the query; else the opening of either. The summary
    is the post's own account of itself (search engines show a page's description when it
    holds the query for the same reason), and a body may name the query's words only in
    passing or in a link's path (a digest's one line pointing at its archived HTML)."""
    best = None  # (what it shows, text, matches, passage): only the winner is cut out
    for name, text in (("summary", summary), ("body", body)):
        if text and name in wanted:
            matches = _matches(text, wanted[name], analyzer)
            if matches:
                passage, shows = _best_passage(matches, SNIPPET_CHARS)
                if best is None or shows > best[0]:
                    best = (shows, text, matches, passage)
    if best is None:
        return _lead(summary or body)
    _shows, text, matches, (first, last) = best
    return _snippet(text, matches, first, last)
