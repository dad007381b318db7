"""Differential test: the engine's result sets against a brute-force reference (issue 12).

Queries are drawn at random from the real text of the indexed posts (tests/reference.py
has the query tree and the semantics): 2-5-word runs of a post's words as phrases, with
the stop words that fall inside, and the same runs with an inner stop word dropped,
doubled or swapped; runs with inner words left out, as `"…"~N`; single words; prefixes
(`learni*`), `?` and `*` patterns, typos with `~` and `~2`; `title:`, `summary:`,
`body:`, `source:`, `tag:`, `author:`, `year:`, `date:`; words side by side, AND, OR,
NOT, `-`, `+` and parentheses; and the API filters. Whatever `Index.search` finds (paged
through, hidden posts included, copies shown once)
must be what the reference finds, as sets of url keys.

The archive is corpus/ plus 300 generated posts; the same test runs over a sample of
../shared/corpora when that folder is there, and skips when it is not.

Mutation checks, by hand (each must make `pytest tests/test_differential.py` fail; undo
the edit afterwards):
1. Stop words stop taking positions. In searchidx/schema.py, `ResearchAnalyzer` (both
   `__call__` and `term_positions`), advance the position only after a word with a term
   that is not a stop word: `if any(not e[3] for e in entries): pos += word.width`.
   Expect "only in engine" on a run with its stop words dropped (`"open-sources machine"`
   finds "TensorFlow: Google open-sources its machine learning system") and "only in
   reference" on a run as written (`"of position it signify"`). Checked on 500 phrase
   queries: 198 mismatches with the edit, none without.
2. Prefixes matched against stems. Make `snapshot.Vocabulary.expand` match a wildcard
   against the stemmed terms of title/summary/body instead of the written words of the
   `spell` field. Expect "only in reference" on a prefix that runs past a stem:
   `exports*` finds the 11 posts with "exportselection" but not the 32 more that
   "exports" (stem `export`) finds. Checked on 500 pattern queries: 95 mismatches with the
   edit, none without.
(The numbers were taken by patching the methods from a `sitecustomize.py` on PYTHONPATH,
which reaches the indexer's worker processes too, rather than by editing the files.)
`test_the_queries_catch_these_mutations` runs both mutations against the reference itself
(no engine involved), to show the query strategy finds them within its example budget.
"""

from __future__ import annotations

import bisect
import copy
import random
import re
import shutil
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, find, given, settings
from hypothesis import strategies as st

from benchmarks.generate import generate
from searchidx import Index, indexer
from searchidx.posts import read_post
from searchidx.synonyms import BUILT_IN
from tests import reference
from tests.reference import (
    TEXT_FIELDS,
    And,
    Dates,
    Filters,
    Group,
    Meta,
    Node,
    Or,
    Pattern,
    Phrase,
    Reference,
    Word,
    Year,
    compound_parts,
    phrase_pieces,
    word_alternatives,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SHARED = ROOT.parent / "shared" / "corpora"
GENERATED_POSTS, SEED = 300, 12
OPERATORS = {"and", "or", "not", "to", "andnot", "andmaybe"}
MAX_QUERY_CHARS = 900  # the engine refuses more than 1,000

SETTINGS = {
    "deadline": None,
    "derandomize": False,
    "suppress_health_check": [HealthCheck.too_slow, HealthCheck.filter_too_much,
                              HealthCheck.data_too_large],
}


# --- archives --------------------------------------------------------------------------------

@dataclass(repr=False)
class Archive:
    index: Index
    ref: Reference
    queries: st.SearchStrategy[Node]
    filters: st.SearchStrategy[Filters]

    def __repr__(self) -> str:  # a failing example names it: keep it short
        return f"<archive at {self.index.path}, {len(self.ref.indexed)} posts>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))


def _build(tmp: Path, roots: list[Path]) -> Archive:
    """Index the roots, read every post back for the reference, and draw queries from it."""
    report = indexer.update(tmp / "index", roots)
    # keyed as the indexer keys them (archive folder/path), so the ids are the engine's
    paths = sorted((path, f"{root.name}/{path.relative_to(root).as_posix()}")
                   for root in roots for path in root.rglob("*.md"))
    assert report.added == len(paths) and not report.skipped
    ref = Reference([read_post(path, key=key) for path, key in paths])
    pools = Pools.of(ref)
    return Archive(Index.open(tmp / "index"), ref, queries(pools), filters(pools))


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """corpus/ (48 posts, one pair of copies) and 300 generated posts, indexed once."""
    tmp = tmp_path_factory.mktemp("differential")
    shutil.copytree(CORPUS, tmp / "archive" / "corpus")
    generate(tmp / "archive" / "generated", GENERATED_POSTS, seed=SEED)
    return _build(tmp, [tmp / "archive" / "corpus", tmp / "archive" / "generated"])


def copy_shared_sample(folder: Path) -> list[Path]:
    """A fixed sample of the real archives, copied under `folder`: 1 in 3 BAIR posts, 1 in 8
    raisex files (stubs, copies and Japanese included), 60 smol stubs and 3 full smol
    issues (those run to 250,000 characters). Returns the archive roots."""
    rng = random.Random(SEED)
    roots = []
    for name in ("bair-blog", "raisex-ai-news", "smol-ainews"):
        files = sorted((SHARED / name).rglob("*.md"))
        if name == "bair-blog":
            files = rng.sample(files, len(files) // 3)
        elif name == "raisex-ai-news":
            files = rng.sample(files, len(files) // 8)
        elif name == "smol-ainews":
            small = [f for f in files if f.stat().st_size < 4000]
            big = [f for f in files if f.stat().st_size >= 4000]
            files = rng.sample(small, min(60, len(small))) + rng.sample(big, min(3, len(big)))
        root = folder / name
        for path in files:
            target = root / path.relative_to(SHARED / name)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
        roots.append(root)
    return roots


@pytest.fixture(scope="module")
def shared_archive(tmp_path_factory: pytest.TempPathFactory) -> Archive:
    """A sample of ../shared/corpora (see copy_shared_sample), indexed once."""
    if not SHARED.is_dir():
        pytest.skip("../shared/corpora is not here")
    tmp = tmp_path_factory.mktemp("differential-shared")
    return _build(tmp, copy_shared_sample(tmp / "archive"))


# --- what queries are made of ----------------------------------------------------------------

@dataclass(repr=False)
class Pools:
    """Real text of the archive, for queries to be drawn from."""

    ref: Reference
    runs: dict[str, list[tuple[str, ...]]]  # field -> the words of each post's field
    stops: list[tuple[tuple[str, ...], int]]  # a field's words, the place of a stop word in it
    words: dict[str | None, list[str]]  # field (None: any) -> words that are not stop words
    stop_words: list[str]
    letters: list[str]  # written words of 4-20 letters, folded, for patterns
    joined: list[str]  # compounds with a digit (GPT-4, Llama-3.1), typed joined: GPT4, Llama31
    prefixes: list[str]  # prefixes whose expansion does not hang on a tie at the cut
    names: dict[str, list[str]]  # source, tag, author -> values in the archive
    dates: list[datetime]

    def __repr__(self) -> str:  # hypothesis shows strategies' arguments: keep it short
        return f"<pools of {self.ref!r}>"

    def _repr_pretty_(self, printer, cycle) -> None:
        printer.text(repr(self))

    @classmethod
    def of(cls, ref: Reference) -> Pools:
        runs: dict[str, list[tuple[str, ...]]] = {name: [] for name in TEXT_FIELDS}
        stops = []
        words: dict[str | None, set[str]] = {name: set() for name in (*TEXT_FIELDS, None)}
        stop_words = set()
        is_stop = cache(lambda word: word_alternatives(word) is None)
        for doc in ref.indexed:
            for name in TEXT_FIELDS:
                written = tuple(reference._WORD.findall(getattr(doc.post, name)))
                if len(written) >= 2:
                    runs[name].append(written)
                for i, word in enumerate(written):
                    if is_stop(word):
                        if word.lower() not in OPERATORS:
                            stop_words.add(word)
                        if 0 < i < len(written) - 1:
                            stops.append((written, i))
                    elif len(word) <= 30 and word.lower() not in OPERATORS:
                        words[name].add(word)
                        words[None].add(word)
        letters = sorted({
            w for w in (reference.fold(w) for w in words[None])
            if w.isalpha() and 4 <= len(w) <= 20 and not reference._CJK.search(w)
        })
        joined = sorted({reference._COMPOUND_SPLIT.sub("", w) for w in words[None]
                         if len(compound_parts(w)) > 1 and any(c.isdigit() for c in w)})
        vocabulary = ref.vocabulary

        def clean_prefix(prefix: str) -> bool:  # _clean_cut, on a slice of the sorted words
            found = vocabulary[bisect.bisect_left(vocabulary, prefix) : bisect.bisect_left(
                vocabulary, prefix + "\U0010ffff")]
            cut = reference.MAX_EXPANSIONS
            if len(found) <= cut:
                return True
            counts = sorted((ref.posts_with_word[w] for w in found), reverse=True)
            return counts[cut - 1] > counts[cut]

        prefixes = sorted(
            p for p in {w[:k] for w in letters for k in range(3, min(7, len(w) - 1) + 1)}
            if clean_prefix(p))
        plain = lambda value: value and '"' not in value  # noqa: E731
        names = {
            "source": sorted({d.post.source for d in ref.indexed if plain(d.post.source)}),
            "tag": sorted({t for d in ref.indexed for t in d.post.tags if plain(t)}),
            "author": sorted({a for d in ref.indexed for a in d.post.authors if plain(a)}),
        }
        return cls(
            ref=ref, runs=runs, stops=stops,
            words={name: sorted(found) for name, found in words.items()},
            stop_words=sorted(stop_words), letters=letters, joined=joined, prefixes=prefixes,
            names={kind: found for kind, found in names.items() if found},
            dates=sorted({d.post.date for d in ref.indexed if d.post.date}),
        )


def _pick(draw, items: list):
    """One of a long list, drawn by its place (hashing a long list of tuples, as
    st.sampled_from does on every call, costs more than the test)."""
    return items[draw(st.integers(0, len(items) - 1))]


_MINUS_PLUS_TEXT = re.compile(r"(?![^\W\d]|[\"(])")  # what `-` or `+` before would not sign


def _fits(node: Node) -> bool:
    return len(str(node)) <= MAX_QUERY_CHARS


@st.composite
def _run(draw, pools: Pools, name: str) -> tuple[str, ...]:
    written = _pick(draw, pools.runs[name])
    size = draw(st.integers(2, min(5, len(written))))
    start = draw(st.integers(0, len(written) - size))
    words = written[start : start + size]
    assume(phrase_pieces(" ".join(words)))  # not stop words only
    return words


@st.composite
def _gapped_phrase(draw, pools: Pools) -> Phrase:
    """A real run with an inner stop word dropped, doubled or swapped for another: only the
    positions of stop words tell these from the run as written."""
    written, i = _pick(draw, pools.stops)
    before = written[i - draw(st.integers(1, min(2, i))) : i]
    after = written[i + 1 : i + 1 + draw(st.integers(1, min(2, len(written) - 1 - i)))]
    how = draw(st.sampled_from(["drop", "double", "swap"]))
    middle = {"drop": (), "double": (written[i], written[i]),
              "swap": (_pick(draw, pools.stop_words),)}[how]
    words = before + middle + after
    assume(phrase_pieces(" ".join(words)))
    return Phrase(words)


@st.composite
def _loose_phrase(draw, pools: Pools, name: str) -> Phrase:
    """A real run with inner words left out, swapped or not, and `~N` allowing N other
    words between the rest: found when N covers what was left out (or elsewhere)."""
    written = _pick(draw, pools.runs[name])
    assume(len(written) >= 3)
    size = draw(st.integers(3, min(7, len(written))))
    start = draw(st.integers(0, len(written) - size))
    run = written[start : start + size]
    kept = [run[0], *(word for word in run[1:-1] if draw(st.booleans())), run[-1]]
    if draw(st.integers(0, 4)) == 0:
        i = draw(st.integers(0, len(kept) - 2))
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    words = tuple(kept)
    assume(phrase_pieces(" ".join(words)))
    return Phrase(words, extra_words=draw(st.integers(1, 4)))


@st.composite
def _joined_name(draw, pools: Pools) -> Word:
    """A compound with a digit typed joined (`GPT4`, `Llama31`): it finds the compound's
    spellings, spaced ones included."""
    return Word(_pick(draw, pools.joined))


def _typo(draw, word: str) -> str:
    i = draw(st.integers(0, len(word) - 1))
    letter = draw(st.sampled_from("abcdefghijklmnopqrstuvwxyz"))
    how = draw(st.sampled_from(["replace", "delete", "insert", "swap"]))
    if how == "swap" and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if how == "delete":
        return word[:i] + word[i + 1 :]
    if how == "insert":
        return word[:i] + letter + word[i:]
    return word[:i] + letter + word[i + 1 :]


@st.composite
def _pattern(draw, pools: Pools, name: str | None = None) -> Pattern:
    how = draw(st.sampled_from(["prefix", "prefix", "one", "any", "fuzzy"]))
    if how == "prefix":
        return Pattern(_pick(draw, pools.prefixes) + "*", name)
    word = _pick(draw, pools.letters)
    if how == "one":
        i = draw(st.integers(1, len(word) - 1))
        text = word[:i] + "?" + word[i + 1 :]
    elif how == "any":
        i = draw(st.integers(1, len(word) - 2))
        text = word[:i] + "*" + word[draw(st.integers(i + 1, len(word) - 1)) :]
    else:
        far = len(word) >= 7 and draw(st.booleans())
        typo = _typo(draw, word)
        text = (_typo(draw, typo) + "~2") if far else typo + "~"
    assume(_clean_cut(pools.ref, text))
    return Pattern(text, name)


def _clean_cut(ref: Reference, pattern: str) -> bool:
    """Whether the words a pattern stands for do not depend on how ties are broken: it
    matches no more words than it keeps, or the last one kept is in more posts than the
    first one left out."""
    found = ref.expansions(pattern)
    cut = len(ref.expand(pattern))
    return len(found) <= cut or (
        ref.posts_with_word[found[cut - 1]] > ref.posts_with_word[found[cut]])


@st.composite
def _in_field(draw, pools: Pools) -> Node:
    name = draw(st.sampled_from([n for n in TEXT_FIELDS if pools.words[n] and pools.runs[n]]))
    how = draw(st.sampled_from(["word", "phrase", "pattern"]))
    if how == "word":
        return Word(_pick(draw, pools.words[name]), name)
    if how == "phrase":
        return Phrase(draw(_run(pools, name)), name)
    return draw(_pattern(pools, name))


@st.composite
def _name_words(draw, pools: Pools, kind: str) -> str:
    """A source, tag or author as written, or a run of its words, in some case."""
    value = _pick(draw, pools.names[kind])
    words = reference._WORD.findall(value)
    if len(words) > 1 and draw(st.booleans()):
        start = draw(st.integers(0, len(words) - 1))
        value = " ".join(words[start : draw(st.integers(start + 1, len(words)))])
    return draw(st.sampled_from([str, str.lower, str.upper]))(value)


@st.composite
def _meta(draw, pools: Pools) -> Meta:
    kind = draw(st.sampled_from(sorted(pools.names)))
    name = draw(st.sampled_from([kind] if kind == "source" else [kind, kind + "s"]))
    return Meta(name, draw(_name_words(pools, kind)))


def _day(draw, pools: Pools, forms: str = "ymd") -> str:
    day = _pick(draw, pools.dates)
    return {"y": f"{day:%Y}", "m": f"{day:%Y-%m}", "d": f"{day:%Y-%m-%d}"}[
        draw(st.sampled_from(forms))]


@st.composite
def _dates(draw, pools: Pools) -> Node:
    years = sorted({d.year for d in pools.dates})
    how = draw(st.sampled_from(["year", "date", "years", "days"]))
    if how == "year":
        return Year(draw(st.integers(years[0] - 1, years[-1] + 1)))
    if how == "date":
        return Dates(_day(draw, pools))
    first, last = sorted(_day(draw, pools, "y" if how == "years" else "d") for _ in "ab")
    return Dates(first, last)


@st.composite
def _acronym(draw) -> Node:
    """An acronym of the synonym table as a user may type it, or its meaning written out:
    as a phrase, as words side by side, ANDed or ORed (with a field, at times)."""
    acronym = draw(st.sampled_from(sorted(BUILT_IN)))
    if draw(st.booleans()):
        typed = draw(st.sampled_from([acronym, acronym.upper(), acronym.lower(),
                                      acronym + "s", acronym.lower() + "s"]))
        return Word(typed, draw(st.sampled_from([None, None, *TEXT_FIELDS])))
    words = tuple(reference._WORD.findall(draw(st.sampled_from(BUILT_IN[acronym]))))
    field = draw(st.sampled_from([None, None, None, *TEXT_FIELDS]))
    shape = draw(st.sampled_from(["phrase", "group", "and", "or"]))
    if shape == "phrase":
        return Phrase(words, field)
    children = tuple(Word(word, field) for word in words)
    return {"group": lambda: Group(tuple(("", child) for child in children)),
            "and": lambda: And(children), "or": lambda: Or(children)}[shape]()


def atoms(pools: Pools) -> st.SearchStrategy[Node]:
    words = st.integers(0, len(pools.words[None]) - 1).map(lambda i: Word(pools.words[None][i]))
    phrases = st.sampled_from([n for n in TEXT_FIELDS if pools.runs[n]]).flatmap(
        lambda name: _run(pools, name)).map(Phrase)
    loose_phrases = st.sampled_from([n for n in TEXT_FIELDS if pools.runs[n]]).flatmap(
        lambda name: _loose_phrase(pools, name))
    kinds = [words, words, phrases, phrases, phrases, _gapped_phrase(pools),
             _gapped_phrase(pools), loose_phrases, _pattern(pools), _pattern(pools),
             _in_field(pools),
             _in_field(pools), _dates(pools), _acronym(), _acronym()]
    if pools.names:
        kinds.append(_meta(pools))
    if pools.joined:
        kinds.append(_joined_name(pools))
    return st.one_of(kinds)


@st.composite
def _signed(draw, children, pools: Pools) -> Group:
    """Terms with signs (+, -, NOT), or plain terms with stop words among them."""
    if draw(st.booleans()):
        items = draw(st.lists(st.tuples(st.sampled_from(reference.SIGNS), children),
                              min_size=1, max_size=3))
        assume(any(sign for sign, _ in items))
        # + and - are operators only before a letter, quote or parenthesis: `-10` is text
        return Group(tuple(
            ({"+": "", "-": "NOT "}.get(sign, sign)
             if _MINUS_PLUS_TEXT.match(reference._wrapped(child)) else sign, child)
            for sign, child in items))
    items = [("", child) for child in draw(st.lists(children, min_size=1, max_size=2))]
    items += [("", Word(_pick(draw, pools.stop_words))) for _ in range(draw(st.integers(1, 2)))]
    return Group(tuple(draw(st.permutations(items))))


def _combined(children, pools: Pools, most: int) -> st.SearchStrategy[Node]:
    several = st.lists(children, min_size=2, max_size=most).map(tuple)
    return st.one_of(
        several.map(lambda xs: Group(tuple(("", x) for x in xs))),
        several.map(And),
        several.map(Or),
        _signed(children, pools),
    )


def queries(pools: Pools) -> st.SearchStrategy[Node]:
    atom = atoms(pools)
    simple = st.one_of(atom, atom, _combined(atom, pools, 4))
    return st.one_of(simple, _combined(simple, pools, 3)).filter(_fits)


@st.composite
def filters(draw, pools: Pools) -> Filters:
    if draw(st.integers(0, 3)) < 3:  # most queries have no filters
        return Filters()
    options: dict = {}
    if "source" in pools.names and draw(st.booleans()):
        options["source"] = tuple(draw(st.lists(_name_words(pools, "source"), min_size=1,
                                                max_size=2)))
    for kind in ("tag", "author"):
        if kind in pools.names and draw(st.integers(0, 3)) == 0:
            options[kind] = (draw(_name_words(pools, kind)),)
    if draw(st.booleans()):
        since, until = sorted(_day(draw, pools) for _ in "ab")
        if reference.period(since)[0] >= reference.period(until)[1]:
            since, until = until, since
        options["since"], options["until"] = draw(st.sampled_from(
            [(since, until), (since, None), (None, until)]))
    return Filters(**options)


# --- the comparison --------------------------------------------------------------------------

def engine_finds(index: Index, text: str, options: Filters) -> tuple[list[str], int]:
    """The path of every hit, page after page, and the total the engine reports."""
    keys, page = [], 1
    while True:
        results = index.search(text, page=page, per_page=100, include_hidden=True,
                               facets=False, snippets=False, **options.options())
        keys += [hit.path for hit in results.hits]
        if page >= results.pages:
            return keys, results.total
        page += 1


def _listing(ref: Reference, keys: set[str], most: int = 5) -> str:
    shown = [f"\n    {ref.describe(key)}" for key in sorted(keys)[:most]]
    more = f"\n    … and {len(keys) - most} more" if len(keys) > most else ""
    return "".join(shown) + more


def check(archive: Archive, query: Node, options: Filters) -> None:
    ref = archive.ref
    expected = ref.url_keys(ref.find(query, options))
    paths, total = engine_finds(archive.index, str(query), options)
    keys = [ref.key_by_path[path] for path in paths]  # the group of copies each hit shows
    found = set(keys)
    assert found == expected and total == len(keys) == len(found), (
        f"query {str(query)!r} (filters: {options}): the engine shows {len(keys)} hits "
        f"({len(found)} distinct, total {total}), the reference {len(expected)}"
        f"\n  only in engine ({len(found - expected)}):{_listing(ref, found - expected)}"
        f"\n  only in reference ({len(expected - found)}):{_listing(ref, expected - found)}"
    )


@settings(max_examples=500, **SETTINGS)
@given(data=st.data())
def test_engine_finds_what_the_reference_finds(archive: Archive, data) -> None:
    check(archive, data.draw(archive.queries, label="query"),
          data.draw(archive.filters, label="filters"))


@settings(max_examples=200, **SETTINGS)
@given(data=st.data())
def test_engine_finds_what_the_reference_finds_in_the_real_archives(
        shared_archive: Archive, data) -> None:
    check(shared_archive, data.draw(shared_archive.queries, label="query"),
          data.draw(shared_archive.filters, label="filters"))


# --- the reference itself ----------------------------------------------------------------------

def test_the_reference_on_hand_written_posts(tmp_path, write_post) -> None:
    posts = {
        "phrase": "We are now at the state of the art in translation.",
        "compound": "Our state-of-the-art results.",
        "scattered": "The state of things and the art of cooking.",
        "one-stop": "A state of art museum.",
        "learning": "Deep learning models.",
        "learnings": "Learnings from the field.",
        "learned": "We learned a lot.",
        "hyphen": "DeepSeek-R1 is released.",
        "spaced": "DeepSeek R1 released today.",
        "apart": "DeepSeek has R1 and deepseek is r1.",
    }
    for name, body in posts.items():
        write_post(tmp_path, f"{name}.md", {"title": name.title(), "source": "Lab Notes",
                                            "tags": ["Reinforcement-Learning", "Deep Nets"]},
                   body)
    write_post(tmp_path, "dated.md", {"title": "Dated", "date": "2023-04-05",
                                      "authors": ["Sergey Levine"]}, "Nothing here.")
    ref = Reference([read_post(tmp_path / f"{name}.md") for name in [*posts, "dated"]])

    def titles(node: Node, options: Filters | None = None) -> set[str]:
        return {ref.posts[i].title for i in ref.find(node, options)}

    # Stop words keep their places: "state of art" is not "state of the art".
    assert titles(Phrase(("state", "of", "the", "art"))) == {"Phrase", "Compound"}
    assert titles(Phrase(("the", "state", "of", "the", "art"))) == {"Phrase", "Compound"}
    assert titles(Phrase(("state", "in", "an", "art"))) == {"Phrase", "Compound"}  # gaps
    assert titles(Phrase(("state", "of", "art"))) == {"One-Stop"}
    assert titles(Word("state-of-the-art")) == {"Phrase", "Compound"}
    # `~N`: up to N other words between the phrase's words, in all, in their order.
    assert titles(Phrase(("state", "art"))) == set()
    assert titles(Phrase(("state", "art"), extra_words=1)) == {"One-Stop"}
    assert titles(Phrase(("state", "art"), extra_words=2)) == {"One-Stop", "Phrase",
                                                               "Compound"}
    assert titles(Phrase(("state", "art"), extra_words=4)) == {"One-Stop", "Phrase",
                                                               "Compound", "Scattered"}
    assert titles(Phrase(("art", "state"), extra_words=4)) == set()
    assert titles(Phrase(("state", "the", "art"), extra_words=1)) == {"Phrase", "Compound",
                                                                      "One-Stop"}
    assert ref.find(Phrase(("of", "the"))) == ref.everything  # no word to look for
    assert titles(Group((("", Word("the")), ("", Word("museum"))))) == {"One-Stop"}
    # A pattern is the OR of the written words it matches, each searched as a word.
    learning = {"Learning", "Learnings", "Learned"}  # one stem, learn
    assert titles(Word("learning")) == learning
    assert titles(Pattern("learning*")) == titles(Pattern("learni*")) == learning
    assert titles(Pattern("lear?ed")) == learning  # "learned", then its stem
    assert titles(Pattern("learnd~")) == learning and titles(Pattern("lernd~")) == set()
    assert titles(Pattern("lernd~2")) == set()  # 5 letters: at most 1 edit
    assert titles(Pattern("lerned~2")) == titles(Pattern("laerned~")) == learning
    # A compound, spelled either way.
    for spelling in (Word("DeepSeek-R1"), Word("deepseek-r1"), Phrase(("DeepSeek", "R1"))):
        assert titles(spelling) == {"Hyphen", "Spaced"}, spelling
    assert compound_parts("GPT-4") == ["gpt", "4"]
    assert compound_parts("大規模-言語") == ["大規模-言語"]  # CJK: bigrams, not parts
    # Operators, fields, names and dates.
    assert titles(Group((("", Word("deepseek")), ("NOT ", Word("released"))))) == {"Apart"}
    assert titles(Group((("-", Word("released")),))) == {t.title() for t in posts} - {
        "Hyphen", "Spaced"} | {"Dated"}
    # A NOT (or -) excludes from what the words beside it find; the words stay ORed.
    deepseek_r1 = (("", Word("deepseek")), ("", Word("r1")))
    assert titles(Group(deepseek_r1)) == {"Hyphen", "Spaced", "Apart"}
    assert titles(Group((*deepseek_r1, ("-", Word("released"))))) == {"Apart"}
    assert titles(Group((*deepseek_r1, ("-", Word("museum"))))) == {"Hyphen", "Spaced",
                                                                     "Apart"}
    assert titles(Group((("", Word("deepseek")), ("", Word("museum")),
                         ("NOT ", Word("released"))))) == {"Apart", "One-Stop"}
    assert titles(Or((Word("deepseek"), Group((("NOT ", Word("released")),))))) == {"Apart"}
    assert titles(Group((("", Word("deepseek")), ("-", Group((("-", Word("released")),))))
                        )) == {"Hyphen", "Spaced"}  # not not: deepseek and released
    assert titles(Group((("+", Word("deep")), ("", Word("learned"))))) == {"Learning"}
    assert titles(And((Word("deepseek"), Word("museum")))) == set()
    assert titles(Or((Word("deepseek"), Word("museum")))) == {"Hyphen", "Spaced", "Apart",
                                                               "One-Stop"}
    assert titles(Word("deepseek", "title")) == set()
    assert len(titles(Meta("tags", "REINFORCEMENT-learning"))) == 10
    assert not titles(Meta("tag", "learning"))  # a hyphenated tag is one word
    assert titles(Meta("tag", "nets")) == titles(Meta("tag", "Deep Nets"))
    assert titles(Meta("author", "levine")) == titles(Meta("author", "Sergey Levine")) == {
        "Dated"}
    assert titles(Meta("source", "lab")) == titles(Meta("source", "Lab Notes"))
    assert not titles(Meta("source", "notes lab"))  # a run, in order
    assert titles(Dates("2023-04")) == titles(Year(2023)) == {"Dated"}
    assert titles(Dates("2020", "2022")) == set() and titles(Dates("2023-04-05")) == {"Dated"}
    assert titles(Word("nothing"), Filters(since="2023-04-05", until="2023-04-05")) == {"Dated"}
    assert titles(Word("nothing"), Filters(until="2023-04-04")) == set()
    assert titles(Word("learning"), Filters(source=("notes", "elsewhere"))) == learning
    # Rendering: what a user types.
    query = Group((("", Or((Word("a"), Phrase(("b", "c"))))), ("NOT ", Meta("tag", "x y"))))
    assert str(query) == '(a OR "b c") NOT tag:"x y"'
    assert str(Group((("", Word("a")), ("", Group((("+", Word("b")),)))))) == "a (+b)"
    assert str(Phrase(("a", "b"), "title", 2)) == 'title:"a b"~2'


class _GaplessPhrases(Reference):
    """Mutant: stop words in a phrase are dropped instead of leaving a gap."""

    def evaluate(self, node: Node, plus: bool, spell: bool = True):
        if isinstance(node, Phrase):
            kept = [w for w in node.words if word_alternatives(w) is not None]
            pieces = tuple((i, term) for i, term in enumerate(
                t for _, t in phrase_pieces(" ".join(kept))))
            fields = TEXT_FIELDS if node.field is None else (node.field,)
            return self._matching([pieces] if pieces else [], fields)
        return super().evaluate(node, plus, spell)


class _PrefixesOnStems(Reference):
    """Mutant: `pre*` matches the stemmed terms that start with `pre`."""

    def evaluate(self, node: Node, plus: bool, spell: bool = True):
        if isinstance(node, Pattern) and re.fullmatch(r"\w+\*", node.text):
            prefix = reference.fold(node.text[:-1])
            fields = TEXT_FIELDS if node.field is None else (node.field,)
            return frozenset().union(*(
                posts for name in fields for term, posts in self.posts_with_term[name].items()
                if term.startswith(prefix)))
        return super().evaluate(node, plus, spell)


@pytest.mark.parametrize("mutant", [_GaplessPhrases, _PrefixesOnStems])
def test_the_queries_catch_these_mutations(archive: Archive, mutant) -> None:
    wrong = copy.copy(archive.ref)  # the posts as analysed, with fresh caches
    wrong.__class__, wrong._words, wrong._expansions = mutant, {}, {}
    # raises NoSuchExample if none of 500 queries tells the mutant from the reference
    found = find(archive.queries,
                 lambda q: archive.ref.find(q) != wrong.find(q),
                 settings=settings(max_examples=500, database=None, derandomize=True,
                                   **{k: v for k, v in SETTINGS.items() if k != "derandomize"}))
    assert archive.ref.find(found) != wrong.find(found), found
