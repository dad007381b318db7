"""schema.py: analyzers (seen through real searches of the corpus), url_key, to_document."""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from searchidx.posts import Post
from searchidx.schema import (
    NO_YEAR,
    ResearchFrequency,
    ResearchPositions,
    text_analyzer,
    to_document,
    url_key,
)


def _tokens(text: str, mode: str = "index") -> list[str]:
    return [t.text for t in text_analyzer()(text, mode=mode)]


def _names(results) -> list[str]:
    return [Path(hit.path).name for hit in results.hits]


# --- analyzer, token level ------------------------------------------------------------------

_WORDS = ["the", "of", "Learning", "learned", "GPT-4", "gpt4", "C++", "a.a", "état", "Ｌｏｒｅｍ",
          "深度学习", "DeepSeek-R1", "x" * 300, "state-of-the-art", "don't", "3.5"]


@given(st.lists(st.sampled_from(_WORDS), max_size=40), st.sampled_from(["", "query"]))
def test_term_counts_are_the_numbers_of_term_positions(words, mode):
    for stem in (True, False):
        analyzer = text_analyzer(stem)
        text = " ".join(words)
        expected = {term: len(positions)
                    for term, positions in analyzer.term_positions(text, mode).items()}
        assert analyzer.term_counts(text, mode) == expected


def test_compound_is_indexed_whole_joined_and_in_parts() -> None:
    # (the lone "4" is dropped by the stop filter's two-character minimum)
    assert _tokens("GPT-4")[:3] == ["gpt-4", "gpt4", "gpt"]
    assert _tokens("state-of-the-art")[:3] == ["state-of-the-art", "stateoftheart", "state"]


def test_query_keeps_the_compound_whole() -> None:
    assert _tokens("GPT-4", mode="query") == ["gpt-4"]


def test_stemming_is_snowball_not_buggy_porter() -> None:
    # Whoosh's default Porter stemmer gives "runn" and "hopp" (WHOOSH.md B8).
    assert _tokens("running hopping stemming") == ["run", "hop", "stem"]


@pytest.mark.parametrize(("word", "stem"), [
    ("added", "add"), ("organic", "organic"), ("organization", "organiz"),
    ("pasted", "paste"), ("evening", "evening"), ("internal", "internal"),
])
def test_stems_are_snowballs_own(word, stem) -> None:
    # Whoosh's port of the Snowball stemmer gives "ad", "organ", "organ", "past", "even"
    # and "intern": "added" found "ad", "organic" found "organization".
    assert _tokens(word) == [stem]


def test_accents_and_full_width_letters_fold() -> None:
    assert _tokens("café résumé") == _tokens("cafe resume")
    assert _tokens("ＧＰＴ") == ["gpt"]


def test_the_turkish_dotted_capital_i_folds_to_i() -> None:
    # "İ".lower() is "i" and a combining dot: the word would not be found as "istanbul".
    assert _tokens("İstanbul İZMİR") == _tokens("istanbul izmir") == ["istanbul", "izmir"]


def test_overlong_words_are_not_indexed() -> None:
    words = [t.text for t in text_analyzer()("start " + "y" * 2_000_000 + " end")]
    assert words == ["start", "end"]


def test_japanese_is_split_into_bigrams() -> None:
    assert _tokens("画像生成") == ["画像", "像生", "生成"]


# --- analyzer, through the corpus index -------------------------------------------------------

@pytest.mark.parametrize("query", ["GPT-4", "GPT4", "gpt", "gpt-4"])
def test_gpt4_spellings_find_the_gpt4_post_first(corpus_index, query: str) -> None:
    assert _names(corpus_index.search(query))[0] == "2023-03-14-gpt-4.md"


def test_gpt4_query_only_finds_posts_that_mention_gpt4(corpus_index, corpus_dir) -> None:
    results = corpus_index.search("GPT-4", per_page=50)
    for hit in results.hits:
        text = Path(hit.path).read_text(encoding="utf-8").lower()
        assert "gpt-4" in text or "gpt4" in text, hit.path


def test_state_of_the_art_finds_posts_containing_it(corpus_index) -> None:
    names = _names(corpus_index.search("state-of-the-art", per_page=50))
    assert "2018-11-02-bert-pretraining.md" in names
    assert "2023-05-04-starcoder.md" in names


def test_cplusplus_finds_the_pytorch_post(corpus_index) -> None:
    results = corpus_index.search("C++")
    assert results.notice is None
    assert _names(results)[0] == "2018-12-07-pytorch-1-0-release.md"


def test_cplusplus_with_another_word_still_finds_pytorch(corpus_index) -> None:
    assert _names(corpus_index.search("pytorch C++"))[0] == "2018-12-07-pytorch-1-0-release.md"


def test_3d_finds_instant_nerf_first(corpus_index) -> None:
    assert _names(corpus_index.search("3D"))[0] == "2022-03-25-instant-nerf.md"


def test_agent57_is_one_token(corpus_index) -> None:
    assert _names(corpus_index.search("Agent57")) == ["2020-03-31-agent57-atari.md"]


def test_accent_folding_cafe_finds_cafe_with_accent(corpus_index) -> None:
    # only the AlphaGo retrospective says "café" (and "résumé")
    assert _names(corpus_index.search("cafe")) == ["2026-03-09-alphago-ten-years-on.md"]
    assert _names(corpus_index.search("resume")) == ["2026-03-09-alphago-ten-years-on.md"]


def test_stemming_running_and_run_match_the_same_posts(corpus_index) -> None:
    running = corpus_index.search("running", per_page=50)
    run = corpus_index.search("run", per_page=50)
    assert running.total > 0
    assert _names(running) == _names(run)


def test_japanese_long_word_finds_the_japanese_post(corpus_index) -> None:
    names = _names(corpus_index.search("大規模言語モデル"))
    assert names == ["2023-03-15-gpt-4-daikibo-gengo-model.md"]


def test_japanese_two_character_word(corpus_index) -> None:
    names = _names(corpus_index.search("画像"))
    assert names[0] == "2022-08-23-stable-diffusion-gazou-seisei.md"
    assert "2022-08-22-stable-diffusion-public-release.md" not in names


# --- url_key -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "url",
    [
        "https://openai.com/blog/chatgpt",
        "http://openai.com/blog/chatgpt",
        "https://www.openai.com/blog/chatgpt/",
        "https://OpenAI.com/blog/chatgpt",
        "  https://openai.com/blog/chatgpt  ",
    ],
)
def test_url_key_ignores_scheme_www_case_and_trailing_slash(url: str) -> None:
    assert url_key(url, fallback="id") == "openai.com/blog/chatgpt"


@pytest.mark.parametrize("url", ["https://example.com", "https://example.com/", "", "not a url"])
def test_url_key_site_roots_and_non_urls_do_not_collapse(url: str) -> None:
    assert url_key(url, fallback="own-id") == "own-id"


def test_url_key_keeps_distinct_paths_apart() -> None:
    assert url_key("https://a.org/x", "1") != url_key("https://a.org/y", "2")


# --- to_document -------------------------------------------------------------------------------

def test_to_document_converts_and_drops_empty_values() -> None:
    post = Post(path="/a/p.md", id="p1", title="T", body="Body text", date=datetime(2023, 4, 27),
                tags=("llm", "a,b"), authors=("Ann Lee",), url="https://a.org/x/")
    doc = to_document(post)
    assert doc["id"] == "p1"
    assert doc["year"] == "2023" and doc["undated"] == "0"
    assert doc["tags"] == "llm,a b"  # commas separate tags, so one inside a tag is dropped
    assert doc["url_key"] == "a.org/x\nt"  # schema.copy_key: the url, then the title key
    assert doc["length"] == len("Body text")
    assert "summary" not in doc and "thumbnail" not in doc


def test_to_document_undated_post() -> None:
    doc = to_document(Post(path="/a/p.md", id="p2", title="T"))
    assert "date" not in doc
    assert doc["year"] == NO_YEAR and doc["undated"] == "1"
    assert doc["url_key"] == "\nt"  # no url and no body: a stub, folded by its title


@pytest.mark.parametrize("text", [
    "GPT-4 beats GPT-3.5 on the state-of-the-art benchmark, and the benchmark again",
    "AlphaFold の構造予測 and 日本語の文章 mixed with English",
    "Café naïve ＧＰＴ résumé " + "y" * 300 + " the of and a",
    "",
])
def test_fast_formats_write_what_whooshs_formats_write(text: str) -> None:
    """Same terms, frequencies and weights as Whoosh's formats; positions the same once
    decoded (ours are packed smaller), and frequency values byte for byte."""
    from whoosh import formats

    for stem in (True, False):
        analyzer = text_analyzer(stem)
        assert sorted(ResearchFrequency().word_values(text, analyzer, mode="index")) == sorted(
            formats.Frequency().word_values(text, analyzer, mode="index"))
        ours, whooshs = ResearchPositions(), formats.Positions()
        mine = {word: (freq, weight, ours.decode_positions(value), ours.decode_frequency(value))
                for word, freq, weight, value in ours.word_values(text, analyzer, mode="index")}
        theirs = {
            word: (freq, weight, whooshs.decode_positions(value), whooshs.decode_frequency(value))
            for word, freq, weight, value in whooshs.word_values(text, analyzer, mode="index")}
        assert mine == theirs


@pytest.mark.parametrize("positions", [[], [0], [5, 6, 300], [70_000], [1, 2**32 - 1]])
def test_positions_round_trip_in_the_narrowest_type(positions: list[int]) -> None:
    packed = ResearchPositions().encode(positions)
    assert ResearchPositions().decode_positions(packed) == positions
    assert ResearchPositions().decode_frequency(packed) == len(positions)
    largest_gap = max((b - a for a, b in pairwise([0, *positions])), default=0)
    assert len(packed) == 1 + len(positions) * (
        1 if largest_gap < 2**8 else 2 if largest_gap < 2**16 else 4)
