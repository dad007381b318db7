"""The user's query text -> Whoosh queries, leniently; and "did you mean".

Whoosh's parser reads the syntax (AND, OR, NOT, `-word`, parentheses, `field:`,
quotes, `*`, `?`, `~`), and this module builds what each piece means:
- a word matches its stem in title, summary or body; a compound (`GPT-4`, `Llama-3.1`)
  matches the posts that write it joined, hyphenated or spaced (the phrase of its parts),
  and a name typed joined (`deepseekr1`) the spellings of the compounds the archive
  writes with its letters, whole and spaced (`Vocabulary.spellings`: DeepSeek-R1, so
  DeepSeek R1), as does that name spaced in quotes (`"DeepSeek R1"`);
- a phrase matches its words at their positions; a stop word inside keeps its place
  but matches any word (stop words are not indexed), as in Lucene: indexing them would
  grow the index by ~40% for the few phrases that hinge on which stop word it is;
  `"…"~N` lets N other words stand between them in all, the words kept in order;
- a pattern (`learn*`, `tr?nsformer`, `protien~`) is matched against the words as
  written in the archive (`Vocabulary`), then each word it matches is searched as if
  typed, so `learning*` finds every post `learning` finds;
- `source:`, `tag:` and `author:` match names by their words, as the filters do;
- an acronym (`RL`) also matches what it stands for, and that written out also matches
  the acronym (`synonyms.py`); posts that match as typed rank first (`ParsedQuery.exact`).
The query is never an error: what cannot be read is searched as plain words, with a
notice saying so in the user's terms.

Longer than most modules: each query form's meaning and its notice sit together here,
so one file answers "what does this query do".
"""

from __future__ import annotations

import re
from calendar import monthrange
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Protocol

from whoosh import qparser
from whoosh import query as wq
from whoosh.qparser.common import attach

from searchidx.cites import bare_arxiv_id, query_term
from searchidx.errors import BadQuery
from searchidx.schema import TEXT_FIELDS, WORD_PATTERN, ResearchAnalyzer
from searchidx.synonyms import Synonyms

# What a synonym adds is scored at this weight of a word typed: it finds more posts, but
# the words the user chose rank them ("vision transformers on gigapixel satellite
# imagery" fell from the top 3 to 7th at 1.0, to 5th at 0.5; real-archive top-3 82% at
# 0.2, as without synonyms; SciFact unchanged).
SYNONYM_WEIGHT = 0.2
MAX_EXPANSIONS = 50  # words a pattern or fuzzy word may expand to: the most frequent (as Lucene)
EXPANSION_POSTINGS = 30_000  # and the posts those words are in, summed: what reading costs
# query fields of names -> the index field matched by the name's words (Snapshot.matching)
NAME_FIELDS = {"source": "source_name", "tags": "tags", "authors": "authors"}
USER_FIELDS = ("title", "summary", "body", "source", "tag", "tags", "author", "authors",
               "date", "year", "cites")
NO_WORDS_NOTICE = "the query has no words to search for; showing the newest posts"
_FIELD_ALIASES = {"tags": ["tag"], "authors": ["author"]}
_WORD = re.compile(WORD_PATTERN)
# `cites:https://…`: Whoosh would read `https:` as a field; the scheme says nothing.
_CITES_SCHEME = re.compile(r"\bcites:(?:https?://)?(?:www\.)?", re.IGNORECASE)
_ARXIV_FIELD = re.compile(r"(?<![\w:])arxiv:(\d{4}\.\d{4,5}(?:v\d+)?)\b", re.IGNORECASE)
_FIELD_PREFIX = re.compile(r'"[^"]*"|(?<![\w:])(\w+):(?=\S)')
# words whose letters a typo may have changed: not operators, numbers, field names, nor
# the names after source:, tag:, author:, nor what cites: (they are not spelled like the
# posts' words)
_TYPO_CANDIDATE = re.compile(
    r'\b(?:source|tags?|authors?|cites):(?:"[^"]*"|\S*)|\b\w+:|'
    r'(?<![\w~*?])([^\W\d_]{3,})(?![\w~*?:])')
_OPERATORS = {"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"}
_DATE_COMPARISON = re.compile(r"(?<![\w:])date:(>=|<=|>|<)([\d-]+)", re.IGNORECASE)
# `-word` and `+word`: operators at the start of a word (GPT-4 and C++ stay words), and
# not before a number ("+1 nucleosomes", "-10 °C" are text); not inside a phrase.
_MINUS = re.compile(r'("[^"]*")|(?<![^\s(])-(?=[^\W\d]|["(])')
_PLUS = re.compile(r'(?<![^\s(])\+(?=[^\W\d]|["(])')


class Vocabulary(Protocol):
    """The archive's words as written (see `snapshot.Vocabulary`)."""

    posts: int

    def expand(self, pattern: str, kind: str, maxdist: int = 0,
               prefix: int = 0) -> tuple[list[str], bool]: ...

    def frequency(self, word: str) -> int: ...

    def term_frequency(self, term: str) -> int: ...

    def near(self, word: str, maxdist: int) -> list[tuple[str, int, int]]: ...

    def spellings(self, letters: str) -> list[str]: ...


class UnscoredTerm(wq.Term):
    """A term that finds posts but adds nothing to their score: a compound's whole form
    (`gpt-4`). A post that writes the compound, hyphenated or joined, holds its joined
    term (`gpt4`: the analyzer indexes both), which is scored; scoring the whole form as
    well counted such a compound as two words of the query (real-archive top-3 82% ->
    88% when it stopped). Only a compound inside CJK text ("のGPT-4は") is indexed whole
    alone: found, not scored by that word."""

    scored = False


class Phrase(wq.Phrase):
    """Terms at fixed offsets from one another in one field; the gaps are stop words.
    Matched by `Snapshot.matching`, not by a Whoosh matcher. `extra_words`: how many
    other words may stand between the terms, in all, the terms kept in order (`"…"~N`;
    Whoosh's own `slop` counts differently and is not used). `scored`: whether its terms
    are scored (and marked in snippets) as words of the query."""

    def __init__(self, fieldname: str, words: list[str], offsets: list[int],
                 boost: float = 1.0, scored: bool = True, extra_words: int = 0) -> None:
        super().__init__(fieldname, words, boost=boost)
        self.offsets = tuple(offsets)
        self.scored = scored
        self.extra_words = extra_words

    def __repr__(self) -> str:
        return (f"Phrase({self.fieldname!r}, {self.words!r}, {self.offsets!r}, "
                f"{self.extra_words!r})")

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Phrase) and self.fieldname == other.fieldname
                and self.words == other.words and self.offsets == other.offsets
                and self.extra_words == other.extra_words)

    def __hash__(self) -> int:
        return hash((Phrase, self.fieldname, tuple(self.words), self.offsets,
                     self.extra_words))

    def normalize(self) -> wq.Query:
        return self

    def matcher(self, searcher, context=None):
        raise TypeError("searchidx phrases are matched by Snapshot.matching")


@dataclass(frozen=True)
class ParsedQuery:
    """A query for posts with every word, one for posts with any, and a notice.
    `every` and `any` are None when there is nothing to search for. When synonyms were
    added (`synonyms`: as typed -> what else was searched for), `exact` is `any` without
    them: the posts that rank first."""

    every: wq.Query | None
    any: wq.Query | None
    notice: str | None
    words: int  # the words, phrases and field clauses the user typed
    synonyms: dict[str, list[str]] = field(default_factory=dict)
    exact: wq.Query | None = None


def parse(text: str, schema, vocabulary: Vocabulary,
          synonyms: Synonyms | None = None) -> ParsedQuery:
    """The user's text as queries. Never raises on syntax."""
    if not text.strip():
        return ParsedQuery(None, None, None, 0)
    analyzer = schema["body"].analyzer
    text = _ARXIV_FIELD.sub(r"cites:\1", _CITES_SCHEME.sub("cites:", text))
    text, notices = _unknown_fields(text)
    text, unbalanced = _closed(text)
    notices.append(unbalanced)
    text = _minus_as_not(_date_comparisons(text))
    used: dict[str, list[str]] = {}
    try:
        every, loose = _syntax(text, schema, analyzer, vocabulary, notices, synonyms, used)
    except Exception as exc:  # noqa: BLE001
        # Whoosh's parser fails in many ways (B4's ValueError; IndexError on
        # "x NOT AND y"); whatever it fails on, the words are still searched.
        reason = str(exc) if isinstance(exc, _Unreadable) else _error_notice(text)
        words = " ".join(f'"{word}"' for word in _WORD.findall(text))
        every = _Parser(schema, qparser.AndGroup, analyzer, vocabulary, plain=True).parse(words)
        loose = _Parser(schema, qparser.OrGroup, analyzer, vocabulary, plain=True).parse(words)
        notices.append(f"the query syntax was not used ({reason}); searched for its words")
        used.clear()
    if every is wq.NullQuery:
        return ParsedQuery(None, None, NO_WORDS_NOTICE, 0)
    every, capped = _expand_patterns(every, analyzer, vocabulary)
    loose, _ = _expand_patterns(loose, analyzer, vocabulary)
    if capped:
        notices.append(f"a pattern matched too many words; searched for the most frequent "
                       f"({MAX_EXPANSIONS} at most)")
    exact = None
    if used:  # parsed again without synonyms: the same notices, so they are not kept
        exact = _expand_patterns(_syntax(text, schema, analyzer, vocabulary, [])[1],
                                 analyzer, vocabulary)[0]
    words = len(every.subqueries) if isinstance(every, wq.And) else 1
    notice = "; ".join(n for n in notices if n) or None
    return ParsedQuery(every, loose, notice, words, used, exact)


def _syntax(text: str, schema, analyzer: ResearchAnalyzer, vocabulary: Vocabulary,
            notices: list[str | None], synonyms: Synonyms | None = None,
            used: dict[str, list[str]] | None = None) -> tuple[wq.Query, wq.Query]:
    """The query with words side by side ANDed, and ORed; raises where Whoosh cannot
    read it (`_Unreadable` says why in the user's terms). With `synonyms`, what they
    added is recorded in `used`."""

    def read(group) -> wq.Query:
        parser = _Parser(schema, group, analyzer, vocabulary, synonyms=synonyms)
        # Not normalized before `_exclusions_apart`: normalizing flattens `a (b NOT c)`
        # into `a b NOT c`, and the NOT would then exclude from `a` too; and acronyms
        # are found while the words are still side by side.
        tree = parser.parse(text, normalize=False)
        if synonyms is not None:
            tree = _with_acronyms(tree, synonyms, analyzer, parser.synonyms_used)
            if used is not None:
                used.update(parser.synonyms_used)
        return _exclusions_apart(tree).normalize()

    try:
        every = read(qparser.AndGroup)
    except NotImplementedError:  # Whoosh cannot group `+word` inside parentheses
        text = _PLUS.sub("", text)
        notices.append("+ inside parentheses is not supported; read as a plain word")
        every = read(qparser.AndGroup)
    if any(getattr(node, "error", None) for node in every.leaves()):
        raise _Unreadable(_error_notice(text))
    if every is wq.NullQuery and _WORD.search(text) and not _only_stop_words(text, analyzer):
        raise _Unreadable("its operators left no word to search for")  # e.g. "+the"
    return every, read(_OrBrackets)


def suggest(text: str, schema, vocabulary: Vocabulary) -> str | None:
    """'Did you mean': each rare word (see `_better_spelling`) replaced by the most
    frequent word within one edit, or two for long words (a transposition is one)."""
    analyzer = schema["body"].analyzer
    changed = False

    def better(match: re.Match) -> str:
        nonlocal changed
        word = match.group(1)
        if word is None or word in _OPERATORS:
            return match.group()
        found = _better_spelling(word.lower(), analyzer, vocabulary)
        if found is None:
            return word
        changed = True
        return found

    suggestion = _TYPO_CANDIDATE.sub(better, text)
    return suggestion if changed else None


# A rare word is taken for a typo of a neighbour in this many times more posts.
_TYPO_RATIO = 20


def _better_spelling(word: str, analyzer: ResearchAnalyzer,
                     vocabulary: Vocabulary) -> str | None:
    """A better spelling of a word written in a handful of posts (typos get into a few
    bodies too), or None. The word a typo was meant as is nearly always far more
    frequent; "reinforcment" shares its stem with "reinforcement", so that counts too,
    but not another form of the word (molecule, molecules: the search finds both)."""
    written = vocabulary.frequency(word)
    if written >= max(3, vocabulary.posts / 2_000):
        return None  # a word of this archive, not a typo
    parts = analyzer.word(word).parts
    if len(parts) != 1 or parts[0] is None:
        return None  # a stop word, or Chinese or Japanese text (bigrams, not words)
    stem = parts[0]
    # Another word must be in this many posts: more than the typed word finds already.
    wanted = max(1, _TYPO_RATIO * max(written, vocabulary.term_frequency(stem)))
    best = None
    for candidate, distance, count in vocabulary.near(word, 1 if len(word) < 8 else 2):
        terms = analyzer.word(candidate).parts
        if len(terms) != 1 or terms[0] is None:
            continue  # a stop word or a compound
        if terms[0] == stem:
            if _inflection(word, candidate):
                continue
        elif count < wanted:
            continue
        key = (distance, -count, candidate)
        if best is None or key < best[0]:
            best = (key, candidate)
    return best[1] if best else None


def _inflection(word: str, other: str) -> bool:
    """Whether two words of one stem differ only in their last letters (trains, trained),
    not inside (reinforcment, reinforcement)."""
    common = 0
    while common < min(len(word), len(other)) and word[common] == other[common]:
        common += 1
    return common >= min(len(word), len(other)) - 2


class _Unreadable(Exception):
    """The query's syntax cannot be used; the message says why, in the user's terms."""


class _OrBrackets(qparser.syntax.GroupNode):
    """Words side by side, ORed, as `qparser.OrGroup`, but not one: Whoosh merges what an
    OR joins into a group of the OR's own type, so `(a NOT b) OR c` became `(a NOT b c)`
    and the NOT excluded from c too."""

    qclass = wq.Or


class _Parser(qparser.QueryParser):
    """Whoosh's parser over title, summary and body (as `MultifieldParser`), with the
    meaning of words, phrases and names from this module."""

    def __init__(self, schema, group, analyzer: ResearchAnalyzer, vocabulary: Vocabulary,
                 plain: bool = False, synonyms: Synonyms | None = None):
        super().__init__(None, schema, group=group)
        self.add_plugin(qparser.MultifieldPlugin(list(TEXT_FIELDS)))
        self.analyzer = analyzer
        self.vocabulary = vocabulary
        self.synonyms = synonyms
        self.synonyms_used: dict[str, list[str]] = {}  # as typed -> also searched for
        self.remove_plugin_class(qparser.PhrasePlugin)
        self.add_plugin(_PhrasePlugin())
        if plain:
            self.remove_plugin_class(qparser.FieldsPlugin)
            self.remove_plugin_class(qparser.WildcardPlugin)
            return
        self.add_plugin(qparser.FieldAliasPlugin(_FIELD_ALIASES))
        # `+word` only at the start of a word (C++ stays a word) and not before a number
        # ("+1 nucleosomes" is text); `-word` was made `NOT word` (`_minus_as_not`).
        self.add_plugin(qparser.PlusMinusPlugin(plusexpr=_PLUS.pattern, minusexpr=r"(?!)"))
        self.add_plugin(qparser.FuzzyTermPlugin())

    def term_query(self, fieldname, text, termclass, boost=1.0, tokenize=True,
                   removestops=True):
        if fieldname in NAME_FIELDS:  # source:deepmind, author:levine
            return wq.Term(NAME_FIELDS[fieldname], text, boost=boost)
        if fieldname == "cites":  # cites:2303.08774v2, cites:https://github.com/a/b/
            return wq.Term("cites", query_term(text), boost=boost)
        if fieldname not in TEXT_FIELDS:
            return super().term_query(fieldname, text, termclass, boost, tokenize, removestops)
        if termclass is wq.Term:
            words = [word_query(self.analyzer, fieldname, raw, boost, self._spellings(raw))
                     for raw in _WORD.findall(text)]
            words = [w for w in words if w is not None]
            if not words:
                return None
            found = words[0] if len(words) == 1 else wq.And(words)
            paper = bare_arxiv_id(text)
            if paper and fieldname == TEXT_FIELDS[0]:  # `1801.01290`: the posts citing it too
                return wq.Or([found, wq.Term("cites", paper)])
            acronym = self.synonyms.expansions(text) if self.synonyms else None
            if acronym is not None:
                meanings = [phrase_query(fieldname, self.analyzer.phrase_terms(meaning),
                                         boost * SYNONYM_WEIGHT)
                            for meaning in acronym[1]]
                self.synonyms_used[text] = list(acronym[1])
                return _Meanings([found, *(q for q in meanings if q is not None)])
            return found
        return termclass(fieldname, text.lower(), boost=boost)  # a pattern: expanded later

    def _spellings(self, raw: str) -> list[str]:
        """The compounds of the archive a name typed joined may be written as."""
        letters = self.analyzer.letters(raw)
        return self.vocabulary.spellings(letters) if letters else []

    def phrase_query(self, fieldname, text, boost, extra_words=0):
        if fieldname in NAME_FIELDS:  # author:"sergey levine"
            return wq.Term(NAME_FIELDS[fieldname], text, boost=boost)
        if fieldname not in TEXT_FIELDS:
            return super().term_query(fieldname, text, wq.Term, boost)
        phrase = phrase_query(fieldname, self.analyzer.phrase_terms(text), boost, extra_words)
        # A name spaced in quotes ("DeepSeek R1") finds what it typed joined finds: the
        # archive writes DeepSeekR1 too.
        words = _WORD.findall(text)
        letters = self.analyzer.letters("".join(words)) if len(words) > 1 else None
        if phrase is None or extra_words or letters is None:
            return phrase
        joined = word_query(self.analyzer, fieldname, letters, boost, self._spellings(letters))
        return wq.Or([phrase, joined]) if joined is not None else phrase


class _Meanings(wq.Or):
    """An acronym as typed or what it stands for: not searched for acronyms again by
    `_with_acronyms` (normalizing merges it into the Or around it)."""


class _PhrasePlugin(qparser.PhrasePlugin):
    """Quoted text, read by `_Parser.phrase_query` (Whoosh's drops stop-word positions),
    with `~N` after it as the phrase's `extra_words`."""

    class PhraseNode(qparser.PhrasePlugin.PhraseNode):
        def __init__(self, text: str, textstartchar: int, extra_words: int) -> None:
            super().__init__(text, textstartchar)
            self.extra_words = extra_words

        def query(self, parser):
            q = parser.phrase_query(self.fieldname or parser.fieldname, self.text, self.boost,
                                    self.extra_words)
            return attach(q if q is not None else wq.NullQuery, self)

    class PhraseTagger(qparser.PhrasePlugin.PhraseTagger):
        def create(self, parser, match):
            return _PhrasePlugin.PhraseNode(match.group("text"), match.start("text"),
                                            int(match.group("slop") or 0))


def word_query(analyzer: ResearchAnalyzer, fieldname: str, raw: str, boost: float = 1.0,
               spellings: Sequence[str] = ()) -> wq.Query | None:
    """One word as typed (a WORD_PATTERN match), in one field; None for a stop word.
    `spellings`: the compounds the archive writes with the word's letters (`Vocabulary.
    spellings`), which it also matches, whole or with their parts in a row: `deepseekr1`
    finds "DeepSeek R1" as `DeepSeek-R1` does."""
    word = analyzer.word(raw)
    if word.joined is None:  # a plain word (None: a stop word)
        alternatives = [phrase_query(fieldname, list(word.parts), boost)]
        written_apart = []
    else:  # a compound: written joined (gpt4), or with its parts in a row (GPT-4, GPT 4)
        alternatives = [wq.Term(fieldname, word.joined, boost=boost)]
        if word.query[0][0] != word.joined:
            alternatives.append(UnscoredTerm(fieldname, word.query[0][0], boost=boost))
        written_apart = [word.parts]
    spelled = [analyzer.word(spelling) for spelling in spellings]
    written_apart += [spelling.parts for spelling in spelled]
    # ... and whole: inside CJK text ("のDeepSeek-R1は") a compound is not split.
    alternatives += [UnscoredTerm(fieldname, spelling.query[0][0], boost=boost)
                     for spelling in spelled if spelling.query]
    # Only the joined term is scored: scoring the parts would rank posts that use them
    # anywhere ("research", "level") next to those with "research-level".
    for parts in dict.fromkeys(written_apart):
        phrase = phrase_query(fieldname, list(parts), boost)
        if isinstance(phrase, Phrase):
            phrase.scored = False
        alternatives.append(phrase)
    alternatives = [q for q in alternatives if q is not None]
    if word.joined is None and len(alternatives) <= 1:
        return alternatives[0] if alternatives else None
    return wq.Or(alternatives)


def phrase_query(fieldname: str, terms: list[str | None], boost: float = 1.0,
                 extra_words: int = 0) -> wq.Query | None:
    """Terms at successive positions (None: a stop word, any word may stand there), with
    up to `extra_words` other words between them."""
    offsets = [i for i, term in enumerate(terms) if term is not None]
    if not offsets:
        return None
    words = [terms[i] for i in offsets]
    if len(words) == 1:
        return wq.Term(fieldname, words[0], boost=boost)
    return Phrase(fieldname, words, [i - offsets[0] for i in offsets], boost=boost,
                  extra_words=extra_words)


def _with_acronyms(q: wq.Query, synonyms: Synonyms, analyzer: ResearchAnalyzer,
                   used: dict[str, list[str]]) -> wq.Query:
    """Words that spell out an acronym ("reinforcement learning", `"mixture of experts"`,
    side by side in the query) also match the acronym: ANDed words become
    `(reinforcement AND learning) OR RL`; ORed words get `OR RL`. Beside a `+word` the
    words are searched as typed (Whoosh has moved them apart by then). `q` is the
    parsed, not yet normalized query, where each word is still a node of its own."""
    spelled, longest = _spelled_out(synonyms, analyzer)

    def visit(node: wq.Query) -> wq.Query:
        if isinstance(node, _Meanings | wq.AndMaybe):
            return _as_typed(node)
        if type(node) not in (wq.And, wq.Or) or _word_of(node) is not None:
            return node.apply(visit)
        children = [visit(child) for child in node.subqueries]
        if type(node) is wq.Or:
            children = _words_together(children)
        out: list[wq.Query] = []
        added: list[wq.Query] = []
        start = 0
        while start < len(children):
            found = _spelled_at(children, start, spelled, longest)
            if found is None:
                out.append(children[start])
                start += 1
                continue
            end, (acronym, meaning), fields = found
            also = wq.Or([q for f in fields
                          if (q := word_query(analyzer, f, acronym, SYNONYM_WEIGHT)) is not None])
            if acronym not in used.setdefault(meaning, []):
                used[meaning].append(acronym)
            if type(node) is wq.And:
                out.append(wq.Or([wq.And(children[start:end]), also]))
            else:
                out.extend(children[start:end])
                added.append(also)
            start = end
        return type(node)(out + added, boost=node.boost)

    # A phrase alone is the whole ORed query (ANDed, it is in a group of one already)
    return visit(wq.And([q]) if _word_of(q) is not None else q)


@lru_cache(maxsize=16)
def _spelled_out(synonyms: Synonyms, analyzer: ResearchAnalyzer) -> tuple[dict, int]:
    """The stems of each meaning of more than one word -> (its acronym, the meaning),
    and the most stems one has: analysed once per table, not once per query."""
    spelled = {}
    for acronym, meanings in synonyms.table.items():
        for meaning in meanings:
            stems = tuple(t for t in analyzer.phrase_terms(meaning) if t is not None)
            if len(stems) > 1:
                spelled.setdefault(stems, (acronym, meaning))
    return spelled, max(map(len, spelled), default=0)


def _as_typed(node: wq.Query) -> wq.Query:
    """The query with its `_Meanings` as plain Ors (what `Snapshot.matching` reads)."""
    if isinstance(node, _Meanings):
        return wq.Or([_as_typed(child) for child in node.subqueries], boost=node.boost)
    return node.apply(_as_typed)


def _words_together(children: list[wq.Query]) -> list[wq.Query]:
    """ORed children with the per-field nodes of one word gathered into one node again:
    Whoosh's OR merges the first word's `title:w OR summary:w OR body:w` into its own
    list, where they would look like three words (a compound's too: three Ors)."""
    out: list[wq.Query] = []
    gathered: list[wq.Query] = []  # the nodes of the word being gathered, if any
    for child in children:
        word = _word_of(child)
        word = word if word and len(word[1]) == 1 else None  # a word in one field
        before = _word_of(out[-1]) if out and word else None
        if word and before and before[0] == word[0] and word[1][0] not in before[1]:
            gathered = (gathered or [out[-1]]) + [child]
            out[-1] = wq.Or(gathered)
        else:
            gathered = []
            out.append(child)
    return out


def _spelled_at(children: list[wq.Query], start: int, spelled: dict, longest: int):
    """(end, (acronym, meaning), fields) for the longest run of word nodes from `start`
    that spells out an acronym's meaning (stop words between them skipped), or None."""
    stems: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    best = None
    for end in range(start, len(children)):
        word = _word_of(children[end])
        if word is None or (not word[0] and end == start) or (word[0] and fields
                                                              and word[1] != fields):
            break
        stems, fields = stems + word[0], fields or word[1]
        if len(stems) > longest:
            break
        if word[0] and stems in spelled:
            best = (end + 1, spelled[stems], fields)
    return best


def _word_of(node: wq.Query) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """(its stems, its fields) when a node searches for one word, compound or phrase in
    text fields (a stop word: no stems), else None."""
    if isinstance(node, wq.Term) and node.fieldname in TEXT_FIELDS:
        return (node.text,), (node.fieldname,)
    if isinstance(node, Phrase) and node.fieldname in TEXT_FIELDS:
        return tuple(node.words), (node.fieldname,)
    if type(node) is wq.Or:
        spelled = [child for child in node.subqueries
                   if isinstance(child, Phrase) and not child.scored]
        if spelled:  # a compound (`retrieval-augmented`): the words of its parts
            return tuple(spelled[0].words), (spelled[0].fieldname,)
        parts = [_word_of(child) for child in node.subqueries]
        if not parts:
            return (), ()
        if all(part is not None and part[0] == parts[0][0] for part in parts):
            return parts[0][0], tuple(f for part in parts for f in part[1])
    return None


def _expand_patterns(q: wq.Query, analyzer: ResearchAnalyzer,
                     vocabulary: Vocabulary) -> tuple[wq.Query, bool]:
    """Patterns and fuzzy words as the words of the archive they match, each searched
    as a plain word. Bounded by MAX_EXPANSIONS whatever the archive's size."""
    capped = False

    def visit(node: wq.Query) -> wq.Query:
        nonlocal capped
        if isinstance(node, wq.Every):
            return wq.Every()  # a field-less Every is a doc range, not a lexicon walk
        if isinstance(node, wq.FuzzyTerm):
            kind, maxdist, prefix = "fuzzy", _edits(node.text, node.maxdist), node.prefixlength
        elif isinstance(node, (wq.Wildcard, wq.Prefix)):
            kind, maxdist, prefix = "wildcard", 0, 0
        else:
            return node.apply(visit)
        if node.fieldname not in TEXT_FIELDS:
            return node
        pattern = node.text + "*" if isinstance(node, wq.Prefix) else node.text
        if pattern.strip("*") == "":
            return wq.Every()
        words, cut = vocabulary.expand(pattern, kind, maxdist, prefix)
        capped |= cut
        queries = [word_query(analyzer, node.fieldname, word, node.boost) for word in words]
        queries = [q for q in queries if q is not None]
        return wq.Or(queries) if queries else wq.NullQuery

    return visit(q), capped


def parse_day(value: str, *, end: bool, option: str = "date") -> datetime:
    """`2023`, `2023-04` or `2023-04-27` as the first (or, with end, last) moment it covers."""
    match = re.fullmatch(r"(\d{4})(?:-(\d{1,2}))?(?:-(\d{1,2}))?", value.strip())
    try:
        if not match or (match.group(3) and not match.group(2)):
            raise ValueError
        year = int(match.group(1))
        month = int(match.group(2) or (12 if end else 1))
        last_day = monthrange(year, month)[1]
        day = int(match.group(3) or (last_day if end else 1))
        if end:
            return datetime(year, month, day, 23, 59, 59, 999999)
        return datetime(year, month, day)
    except (ValueError, TypeError):
        raise BadQuery(
            f"{option}: {value!r} is not a date; use 2023, 2023-04 or 2023-04-27"
        ) from None


def _date_comparisons(text: str) -> str:
    """`date:>2022` as `date:[20230101 to]`: after the whole period, not after its first
    moment (Whoosh's own `>` takes 2022 as 2022-01-01 and so includes 2022)."""

    def as_range(match: re.Match) -> str:
        operator, value = match.groups()
        try:
            if operator == ">":
                bound = parse_day(value, end=True) + timedelta(microseconds=1)
            elif operator == "<":
                bound = parse_day(value, end=False) - timedelta(microseconds=1)
            else:
                bound = parse_day(value, end=operator == "<=")
        except BadQuery:
            return match.group()  # not a date: reported by the parser's error path
        day = bound.strftime("%Y%m%d")
        return f"date:[{day} to]" if operator.startswith(">") else f"date:[to {day}]"

    return _DATE_COMPARISON.sub(as_range, text)


def _edits(word: str, asked: int) -> int:
    """The edits a fuzzy word may have: as asked, but at most 1 for words of 3-5 letters
    and 0 for shorter ones (as Lucene's AUTO), so `sate~2` is not every 4-letter word."""
    return min(asked, 0 if len(word) < 3 else 1 if len(word) < 6 else 2)


def _unknown_fields(text: str) -> tuple[str, list[str]]:
    """`url:huggingface` has no field to search: read it as the words `url huggingface`."""
    unknown: list[str] = []

    def check(match: re.Match) -> str:
        name = match.group(1)
        if name is None or name.lower() in USER_FIELDS:
            return match.group()
        unknown.append(name)
        return name + " "

    text = _FIELD_PREFIX.sub(check, text)
    if not unknown:
        return text, []
    names = ", ".join(f"{name}:" for name in dict.fromkeys(unknown))
    fields = ", ".join(f"{name}:" for name in USER_FIELDS if name not in ("tags", "authors"))
    return text, [f"{names} cannot be searched (fields: {fields}); searched as words"]


def _error_notice(text: str) -> str:
    """Why Whoosh could not read the query, in the user's terms: its errors name Python
    internals ("invalid literal for int()"). Only dates have values it can refuse."""
    if "date:" in text.lower():
        return ("a date could not be read; write date:2023, date:2023-04, date:2023-04-27, "
                "date:[2020 to 2022] or date:>2022")
    return "it could not be parsed"


def _only_stop_words(text: str, analyzer: ResearchAnalyzer) -> bool:
    return all(term is None for term in analyzer.phrase_terms(text))


def _minus_as_not(text: str) -> str:
    """`-word` as `NOT word`: Whoosh's own minus cannot nest (`-(a -b)`, `(-b) a` failed)
    and drops a NOT beside a `+word`; NOT has one meaning everywhere."""
    return _MINUS.sub(lambda m: m.group(1) or "NOT ", text)


def searched_leaves(q: wq.Query) -> Iterator[wq.Query]:
    """The field queries (terms, phrases, patterns, ranges) a query searches for: those
    under a NOT, or on the excluding side of an AndNot, only exclude. What is scored and
    what snippets mark both come from here, so they never disagree."""
    if isinstance(q, wq.Not):
        return
    if isinstance(q, wq.AndNot):
        yield from searched_leaves(q.a)
        return
    if getattr(q, "fieldname", None) is not None:
        yield q
        return
    for child in q.children():
        yield from searched_leaves(child)


def _exclusions_apart(q: wq.Query) -> wq.Query:
    """A NOT excludes posts from what the words beside it find: `alphafold protein NOT
    database` is (alphafold OR protein) without database, not "alphafold, or protein,
    or any post without database" (so `a OR NOT b` is a without b too). Beside `+word`s
    the NOT still excludes (Whoosh files it with the optional words, where it did
    nothing)."""

    def excluded_by(node: wq.Query) -> wq.Query | None:
        """What a NOT, or a group of only NOTs (`a (NOT b)`, made `AndNot(Every, b)` by
        `visit`), excludes from the words beside it."""
        if isinstance(node, wq.Not):
            return node.query
        if isinstance(node, wq.AndNot) and isinstance(node.a, wq.Every):
            return node.b
        return None

    def visit(node: wq.Query) -> wq.Query:
        node = node.apply(visit)
        if type(node) is wq.Or:
            excluded = [excluded_by(child) for child in node.subqueries]
            if not any(excluded):
                return node
            # a stop word beside a NOT (`NOT b the`) is no word: the NOT excludes from all
            rest = [child for child, ex in zip(node.subqueries, excluded, strict=True)
                    if not ex and child.normalize() is not wq.NullQuery]
            base = wq.Or(rest, boost=node.boost) if rest else wq.Every()
            return wq.AndNot(base, wq.Or([ex for ex in excluded if ex]))
        if isinstance(node, wq.AndMaybe):  # +required optional
            if isinstance(node.b, wq.Not):
                return wq.AndNot(node.a, node.b.query)
            if isinstance(node.b, wq.AndNot):
                return wq.AndNot(wq.AndMaybe(node.a, node.b.a), node.b.b)
        return node

    return visit(q)


def _closed(text: str) -> tuple[str, str | None]:
    """The text with an unclosed quote or bracket closed at the end, and a notice."""
    closers = '"' if text.count('"') % 2 else ""
    closers += ")" * max(0, text.count("(") - text.count(")"))
    closers += "]" * max(0, text.count("[") - text.count("]"))
    if closers:
        return text + closers, (
            "the query has an unclosed quote or bracket; it was read as if closed")
    if text.count(")") > text.count("(") or text.count("]") > text.count("["):
        return text, "the query has a closing bracket with no opening one; it was left out"
    return text, None
