""""Did you mean": real typos of words in the archive get the right suggestion.

Issue acceptance: a list of at least 40 real typos of words in the archives
(transpositions, drops, doublings, first letters included) — at least 90% get the right
suggestion. The words are ones a researcher types, each in several posts of corpus/;
the typos are the kinds people make, labelled with their kind. A typo must not itself be
a word of the archive, or the list would flatter the engine.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from searchidx import Index, indexer

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
REAL_ARCHIVES = ("bair-blog", "raisex-ai-news", "smol-ainews")
PASS_RATE = 0.9

# (kind, typo, the word meant). Kinds: two neighbouring letters swapped; a letter
# dropped; a letter doubled; a neighbouring key struck instead; one letter of a double
# dropped; and the first letter swapped with the second, dropped, or a neighbouring key.
TYPOS = [
    ("transposed", "protien", "protein"),
    ("transposed", "langauge", "language"),
    ("transposed", "nueral", "neural"),
    ("transposed", "trasnformer", "transformer"),
    ("transposed", "laerning", "learning"),
    ("transposed", "attnetion", "attention"),
    ("transposed", "benchmrak", "benchmark"),
    ("transposed", "netowrk", "network"),
    ("transposed", "reasonign", "reasoning"),
    ("transposed", "diffsuion", "diffusion"),
    ("transposed", "reinforcemnet", "reinforcement"),
    ("transposed", "chses", "chess"),
    ("transposed", "waether", "weather"),
    ("dropped", "reinforcment", "reinforcement"),
    ("dropped", "lerning", "learning"),
    ("dropped", "transformr", "transformer"),
    ("dropped", "langage", "language"),
    ("dropped", "protin", "protein"),
    ("dropped", "neurl", "neural"),
    ("dropped", "reasning", "reasoning"),
    ("dropped", "trainng", "training"),
    ("dropped", "paramters", "parameters"),
    ("dropped", "perfomance", "performance"),
    ("dropped", "weathr", "weather"),
    ("doubled", "transsformer", "transformer"),
    ("doubled", "proteinn", "protein"),
    ("doubled", "langguage", "language"),
    ("doubled", "learnning", "learning"),
    ("doubled", "neurral", "neural"),
    ("doubled", "reinforrcement", "reinforcement"),
    ("doubled", "diffussion", "diffusion"),
    ("doubled", "attenntion", "attention"),
    ("doubled", "benchmarrk", "benchmark"),
    ("doubled", "poliicy", "policy"),
    ("doubled", "chesss", "chess"),
    ("neighbouring key", "langusge", "language"),
    ("neighbouring key", "protwin", "protein"),
    ("neighbouring key", "neutal", "neural"),
    ("neighbouring key", "transformwr", "transformer"),
    ("neighbouring key", "diffudion", "diffusion"),
    ("neighbouring key", "reinforcemwnt", "reinforcement"),
    ("neighbouring key", "attemtion", "attention"),
    ("neighbouring key", "bencgmark", "benchmark"),
    ("neighbouring key", "reasonimg", "reasoning"),
    ("neighbouring key", "traibing", "training"),
    ("neighbouring key", "nerwork", "network"),
    ("double dropped", "difusion", "diffusion"),
    ("double dropped", "atention", "attention"),
    ("double dropped", "comunity", "community"),
    ("double dropped", "aproach", "approach"),
    ("double dropped", "programing", "programming"),
    ("double dropped", "asistant", "assistant"),
    ("double dropped", "diferent", "different"),
    ("first letter swapped", "rpotein", "protein"),
    ("first letter swapped", "alnguage", "language"),
    ("first letter swapped", "enural", "neural"),
    ("first letter swapped", "rtaining", "training"),
    ("first letter dropped", "anguage", "language"),
    ("first letter dropped", "einforcement", "reinforcement"),
    ("first letter dropped", "ransformer", "transformer"),
    ("first letter dropped", "iffusion", "diffusion"),
    ("first letter neighbouring key", "nachine", "machine"),
    ("first letter neighbouring key", "kanguage", "language"),
    ("first letter neighbouring key", "oolicy", "policy"),
    ("first letter neighbouring key", "vhess", "chess"),
]

# Typos among other words: the suggestion is the query with the typo corrected.
PHRASES = [
    ("protien folding", "protein folding"),
    ("reinforcment learning", "reinforcement learning"),
    ("langauge models", "language models"),
    ("nueral network", "neural network"),
    ("difusion models", "diffusion models"),
]

# Spelled right and in several posts of corpus/: no "did you mean".
CORRECT = [
    "model", "training", "language", "learning", "transformer", "reinforcement", "neural",
    "protein", "diffusion", "benchmark", "network", "research", "dataset", "reasoning",
    "attention", "policy", "chess", "parameters",
]


def _posts_with(index: Index, word: str) -> int:
    """The posts that have the word as written (title, summary or body)."""
    return index._view().snapshot.vocabulary.frequency(word)


def _misses(index: Index, cases: list[tuple[str, str, str]]) -> list[str]:
    misses = []
    for kind, typo, word in cases:
        suggestion = index.search(typo).suggestion
        if suggestion != word:
            misses.append(f"{typo!r} ({kind}, for {word!r}) -> {suggestion!r}")
    return misses


def _report(misses: list[str], total: int) -> str:
    return f"{total - len(misses)}/{total} right; misses:\n  " + "\n  ".join(misses)


def test_the_list_is_honest(corpus_index: Index):
    assert len(TYPOS) >= 40
    assert len({kind for kind, _, _ in TYPOS}) >= 6
    for kind, typo, word in TYPOS:
        assert typo != word and typo.islower(), typo
        assert _posts_with(corpus_index, typo) == 0, f"{typo!r} is a word of corpus/"
        assert _posts_with(corpus_index, word) >= 1, f"{word!r} ({kind}) is not in corpus/"


def test_typos_get_the_right_suggestion(corpus_index: Index):
    misses = _misses(corpus_index, TYPOS)
    assert len(TYPOS) - len(misses) >= PASS_RATE * len(TYPOS), _report(misses, len(TYPOS))


@pytest.mark.parametrize(("typed", "meant"), PHRASES)
def test_a_typo_among_words_is_corrected_in_place(corpus_index: Index, typed, meant):
    assert corpus_index.search(typed).suggestion == meant
    assert corpus_index.search(typed.capitalize()).suggestion == meant  # lower-cased


def test_correctly_spelled_words_get_no_suggestion(corpus_index: Index):
    suggested = {word: corpus_index.search(word).suggestion for word in CORRECT}
    assert {word: s for word, s in suggested.items() if s is not None} == {}
    assert corpus_index.search(" ".join(CORRECT[:3])).suggestion is None


# Queries that find posts as typed get no "did you mean": another form of the same stem
# (the query finds its posts already), and names after source:/tag:/author: (they are not
# spelled like the words of the posts' text).
@pytest.mark.parametrize("typed", [
    "molecule",
    "benchmarked",
    "trains",
    "author:levine",
    "author:sergey",
    "tag:dialogue",
    "source:deepmind",
])
def test_a_query_that_finds_what_was_meant_gets_no_suggestion(corpus_index: Index, typed):
    results = corpus_index.search(typed)
    assert results.total > 0
    assert results.suggestion is None


# --- the same list against the real archives, when this machine has them ---

@pytest.fixture(scope="module")
def real_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    if not all((CORPORA / name).is_dir() for name in REAL_ARCHIVES):
        pytest.skip("../shared/corpora is not here")
    index_dir = tmp_path_factory.mktemp("real-corpora") / "index"
    report = indexer.update(index_dir, [CORPORA / name for name in REAL_ARCHIVES])
    assert report.added > 3000
    return Index.open(index_dir)


def test_typos_get_the_right_suggestion_in_the_real_archives(real_index: Index):
    # Real archives have typos of their own ("langauge" is in one post): a typo that is
    # written somewhere is still a typo next to a word in hundreds of posts.
    cases = [case for case in TYPOS if _posts_with(real_index, case[2]) > 0]
    if len(cases) < 40:
        pytest.skip(f"only {len(cases)} of the words are in the real archives")
    misses = _misses(real_index, cases)
    assert len(cases) - len(misses) >= PASS_RATE * len(cases), _report(misses, len(cases))


def test_correctly_spelled_words_get_no_suggestion_in_the_real_archives(real_index: Index):
    words = [word for word in CORRECT if _posts_with(real_index, word) > 0]
    suggested = {word: real_index.search(word).suggestion for word in words}
    assert {word: s for word, s in suggested.items() if s is not None} == {}
