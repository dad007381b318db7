"""The query language (searchidx/query.py) on real indexes: phrases, patterns,
compounds, fuzzy words and notices. Each test here failed before query.py existed."""

from __future__ import annotations

from pathlib import Path

import pytest
from whoosh import reading

from searchidx import Index, indexer
from searchidx.query import MAX_EXPANSIONS


def _names(results) -> set[str]:
    return {Path(hit.path).name for hit in results.hits}


@pytest.fixture(scope="module")
def phrase_index(tmp_path_factory) -> Index:
    """Posts written to tell phrases, compounds and patterns apart."""
    root = tmp_path_factory.mktemp("phrases") / "archive"
    root.mkdir()
    posts = {
        "exact.md": "The paper Attention Is All You Need introduced the transformer.",
        "scattered.md": "Flash attention, needing less memory, is all the rage.",
        "art.md": "A state of the art result on learning benchmarks.",
        "hyphen-art.md": "A state-of-the-art model for weather.",
        "no-art.md": "The state funds art schools and learned societies.",
        "rlhf.md": "Reinforcement learning from human feedback aligns models.",
        "deepseek-hyphen.md": "We tried DeepSeek-R1 on maths.",
        "deepseek-spaced.md": "We tried DeepSeek R1 on physics.",
        "deepseek-joined.md": "We tried DeepSeekR1 on chemistry.",
        "deepseek-cjk.md": "推論にはDeepSeek-R1を使った。",  # no word break: indexed whole
        "llama-hyphen.md": "Fine-tuning Llama-3.1 on code.",
        "llama-spaced.md": "Fine-tuning Llama 3.1 on text.",
        "gpt-spaced.md": "GPT 4 was evaluated on exams.",
        "learns.md": "The agent learns quickly.",
        "transformers.md": "Transformers and a transformer-based encoder.",
        "protein.md": "Protein structure prediction.",
        "proteins.md": "Proteins fold into shapes.",
    }
    for name, body in posts.items():
        (root / name).write_text(f"---\ntitle: {name}\n---\n{body}\n", encoding="utf-8")
    index_dir = root.parent / "index"
    indexer.update(index_dir, [root])
    return Index.open(index_dir)


def _found(index: Index, text: str) -> set[str]:
    return _names(index.search(text, per_page=100))


# --- 1. phrases keep the positions of their stop words ---
def test_a_phrase_with_stop_words_finds_the_posts_that_hold_it(phrase_index) -> None:
    assert _found(phrase_index, '"attention is all you need"') == {"exact.md"}
    assert _found(phrase_index, '"reinforcement learning from human feedback"') == {"rlhf.md"}
    assert _found(phrase_index, '"state of the art"') == {"art.md", "hyphen-art.md"}


def test_a_phrase_of_stop_words_only_finds_nothing_and_says_why(phrase_index) -> None:
    results = phrase_index.search('"is all of the"')
    assert results.notice and "no words" in results.notice


# --- 2. patterns match the words as written ---
def test_a_prefix_finds_every_post_the_word_finds(phrase_index) -> None:
    for word in ("learning", "transformer", "protein"):
        assert _found(phrase_index, word) <= _found(phrase_index, word + "*"), word
    # the words as written that start with "learning": learning (stem learn) finds learns
    assert "learns.md" in _found(phrase_index, "learning*")


def test_a_single_letter_wildcard_matches_written_words(phrase_index) -> None:
    assert _found(phrase_index, "tr?nsformer") == _found(phrase_index, "transformer")
    # each written word a pattern matches is searched as typed, stemmed
    assert _found(phrase_index, "*formers") == _found(phrase_index, "transformers")


def test_a_pattern_matching_no_word_in_an_and_finds_nothing(phrase_index) -> None:
    assert _found(phrase_index, "protein AND zzqq*") == set()


# --- 3. fuzzy words: matched over the vocabulary in C, bounded ---
def test_fuzzy_words_never_walk_the_lexicon_in_python(phrase_index, monkeypatch) -> None:
    """Whoosh's terms_within took 12-15 s a fuzzy word on the real archives."""

    def refuse(*args, **kwargs):
        raise AssertionError("terms_within walks the whole lexicon")

    monkeypatch.setattr(reading.IndexReader, "terms_within", refuse)
    monkeypatch.setattr(reading.SegmentReader, "terms_within", refuse)
    fresh = Index.open(phrase_index.path)
    assert {"protein.md", "proteins.md"} <= _found(fresh, "protien~")
    assert "protein.md" in _found(fresh, "protien~2")


def test_expansions_are_capped_at_the_most_frequent_words(tmp_path) -> None:
    root = tmp_path / "archive"
    root.mkdir()
    words = " ".join(f"zeta{n:04d}" for n in range(MAX_EXPANSIONS + 50))
    (root / "many.md").write_text(f"---\ntitle: many\n---\n{words}\n", encoding="utf-8")
    (root / "common.md").write_text("---\ntitle: common\n---\nzeta0001 zeta0002\n",
                                    encoding="utf-8")
    indexer.update(tmp_path / "index", [root])
    results = Index.open(tmp_path / "index").search("zeta*")
    assert results.notice and f"most frequent ({MAX_EXPANSIONS} at most)" in results.notice
    assert _names(results) == {"many.md", "common.md"}  # zeta0001, the most frequent, kept


# --- 4. compounds and spaced spellings find each other ---
def test_compounds_find_hyphenated_joined_and_spaced_spellings(phrase_index) -> None:
    every = {"deepseek-hyphen.md", "deepseek-spaced.md", "deepseek-joined.md",
             "deepseek-cjk.md"}
    assert _found(phrase_index, "DeepSeek-R1") == every
    # Typed joined, also the spaced and the whole spelling: the archive writes
    # DeepSeek-R1 somewhere, which says where the parts of "deepseekr1" are.
    assert _found(phrase_index, "deepseekr1") == _found(phrase_index, "DeepSeekR1") == every
    assert _found(phrase_index, '"DeepSeek R1"') == every  # as typed joined
    llama = {"llama-hyphen.md", "llama-spaced.md"}
    assert _found(phrase_index, "Llama-3.1") == llama
    assert _found(phrase_index, '"Llama 3.1"') == llama
    assert _found(phrase_index, "llama3.1") == _found(phrase_index, "llama31") == llama
    assert _found(phrase_index, "GPT-4") == {"gpt-spaced.md"}


def test_a_compound_counts_as_one_word_of_the_query(phrase_index) -> None:
    """A post that writes DeepSeek-R1 holds both its whole and its joined term: scoring
    both counted the compound twice, so a long post using it ranked above one using
    the query's other words. The compound scores every post as its joined form does."""
    def scores(text: str) -> dict[str, float]:
        return {Path(hit.path).name: hit.score for hit in phrase_index.search(text).hits}

    hyphenated, joined = scores("DeepSeek-R1"), scores("deepseekr1")
    assert {"deepseek-hyphen.md", "deepseek-joined.md"} <= set(joined)
    for name, score in joined.items():
        assert hyphenated[name] == pytest.approx(score), name


def test_a_compound_with_stop_words_inside_matches_its_phrase(phrase_index) -> None:
    assert _found(phrase_index, "state-of-the-art") == {"art.md", "hyphen-art.md"}


# --- 8. notices speak the user's language ---
@pytest.mark.parametrize("text, expected, leaked", [
    ("url:huggingface", "url: cannot be searched", "STORED"),
    ("date:[garbage to 2019] protein", "date could not be read", "invalid literal"),
    ("date:notadate protein", "date could not be read", "is not"),
])
def test_notices_say_what_to_do_not_what_broke(phrase_index, text, expected, leaked) -> None:
    results = phrase_index.search(text)
    assert results.notice and expected in results.notice, results.notice
    assert leaked not in results.notice


def test_greater_than_dates_are_understood(corpus_index) -> None:
    results = corpus_index.search("date:>2025", per_page=100)
    assert results.notice is None
    years = {hit.date.year for hit in results.hits}
    assert results.hits and years <= {2025, 2026}, years


# --- what the notices promise is what the query does ---
def test_a_query_of_only_exclusions_lists_every_other_post(corpus_index) -> None:
    everything = corpus_index.search("", per_page=100).total
    chess = corpus_index.search("chess").total
    assert corpus_index.search("-chess").total == everything - chess
    assert corpus_index.search("-chess").notice is None


def test_a_not_in_parentheses_excludes_only_inside_them(corpus_index) -> None:
    # Found by the differential test: Whoosh's parser flattened `a (a NOT a)` and
    # `(a NOT a) OR a` into `a a NOT a`, and the NOT then excluded from the outer word too.
    protein = corpus_index.search("protein", per_page=100)
    assert protein.total
    for nested in ("protein (protein NOT protein)", "(protein NOT protein) OR protein"):
        assert _names(corpus_index.search(nested, per_page=100)) == _names(protein), nested
    # ... while a group of only exclusions excludes from the words beside it
    assert corpus_index.search("protein (NOT protein)").total == 0
    assert corpus_index.search("protein (-protein)").total == 0


def test_an_unclosed_quote_is_read_as_a_closed_phrase(corpus_index) -> None:
    unclosed = corpus_index.search('"protein structure', per_page=100)
    phrase = corpus_index.search('"protein structure"', per_page=100)
    assert _names(unclosed) == _names(phrase)
    assert unclosed.total < corpus_index.search("protein structure").total
    assert "read as if closed" in unclosed.notice


def test_an_unclosed_date_range_is_a_date_range(corpus_index) -> None:
    results = corpus_index.search("date:[2020 to 2021", per_page=100)
    assert results.hits and {hit.date.year for hit in results.hits} <= {2020, 2021}


@pytest.mark.parametrize("text, years", [
    ("date:>2022", lambda y: y > 2022),
    ("date:>=2022", lambda y: y >= 2022),
    ("date:<2020", lambda y: y < 2020),
    ("date:<=2020", lambda y: y <= 2020),
])
def test_date_comparisons_are_about_the_whole_period(corpus_index, text, years) -> None:
    results = corpus_index.search(text, per_page=100)
    assert results.hits and all(years(hit.date.year) for hit in results.hits), text
    dated = [hit for hit in corpus_index.search("", per_page=100).hits if hit.date]
    assert results.total == sum(1 for hit in dated if years(hit.date.year)), text


def test_a_day_comparison_leaves_that_day_out(corpus_index) -> None:
    results = corpus_index.search("date:>2022-11-30", per_page=100)
    assert "2022-11-30-chatgpt.md" not in _names(results)
    assert "2022-12-15-constitutional-ai.md" in _names(results)


def test_a_phrase_with_tilde_lets_other_words_stand_between_in_order(tmp_path,
                                                                     write_post) -> None:
    bodies = {"next": "the protein structure", "one": "protein tertiary structure",
              "two": "protein and its structure", "reversed": "structure of protein"}
    for name, body in bodies.items():
        write_post(tmp_path / "archive", f"{name}.md", {"title": name}, body)
    indexer.update(tmp_path / "index", [tmp_path / "archive"])
    index = Index.open(tmp_path / "index")

    def titles(typed: str) -> set[str]:
        results = index.search(typed, per_page=10)
        assert results.notice is None, results.notice
        return {hit.title for hit in results.hits}

    assert titles('"protein structure"') == {"next"}
    assert titles('"protein structure"~1') == {"next", "one"}
    assert titles('"protein structure"~2') == titles('"protein structure"~9') == {
        "next", "one", "two"}
    assert titles('body:"protein structure"~1') == {"next", "one"}
    # A stop word holds its place: "of" stands between, so the phrase needs ~1.
    assert titles('"structure protein"') == set()
    assert titles('"structure protein"~1') == {"reversed"}
