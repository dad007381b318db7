"""Acronyms and what they stand for (issue 17 item 2): the table, the configuration, and
searches over corpus/ and over posts written here. Which posts a query with acronyms must
find is also checked against tests/reference.py by tests/test_differential.py."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchidx import Index, indexer
from searchidx.cli import cli
from searchidx.config import load_config, load_synonyms
from searchidx.errors import SearchIdxError
from searchidx.synonyms import BUILT_IN, DEFAULT_SYNONYMS, Synonyms

SHARED = Path(__file__).resolve().parents[2] / "shared" / "corpora"
READING_LIST = "The Papers We Keep Citing: A Reading List for New Lab Members"
NOTEBOOKS = "RAG Over Our Lab Notebooks: What Worked and What Did Not"


def titles(results) -> list[str]:
    return [hit.title for hit in results.hits]


# --- the table -------------------------------------------------------------------------------

def test_the_built_in_table_has_the_acronyms_of_the_field():
    assert len(BUILT_IN) >= 40
    for acronym in ("RL", "RLHF", "LLM", "ViT", "MoE", "CoT", "RAG", "GAN", "VAE", "NeRF",
                    "DPO", "PPO"):
        assert acronym in BUILT_IN
    assert all(meanings and all(m.strip() for m in meanings) for meanings in BUILT_IN.values())


@pytest.mark.parametrize(("typed", "acronym"), [
    ("RL", "RL"), ("rl", "RL"), ("Rl", None), ("ViT", "ViT"), ("VIT", "ViT"), ("vit", "ViT"),
    ("LLMs", "LLM"), ("llms", "LLM"), ("RAG", "RAG"), ("RAGs", "RAG"), ("rag", None),
    ("Rag", None), ("CoT", "CoT"), ("COT", "CoT"), ("cot", None), ("moe", None),
    ("MoE", "MoE"), ("TTS", "TTS"), ("learning", None), ("s", None),
])
def test_an_acronym_is_recognised_in_its_case_in_capitals_or_in_lower_case(typed, acronym):
    found = DEFAULT_SYNONYMS.expansions(typed)
    assert (found[0] if found else None) == acronym


def test_entries_of_ones_own_add_to_the_table_or_replace_an_entry():
    mine = DEFAULT_SYNONYMS.with_entries({"GQA": ["grouped-query attention"],
                                          "rag": ["red amber green"]})
    assert mine.expansions("GQA") == ("GQA", ("grouped-query attention",))
    # replaced, whatever the case it is written in; and recognised in lower case now
    assert mine.expansions("RAG") == ("rag", ("red amber green",))
    assert mine.expansions("rag") == ("rag", ("red amber green",))
    assert "RAG" not in mine.table and mine.expansions("RL") == DEFAULT_SYNONYMS.expansions("RL")
    assert isinstance(mine, Synonyms) and DEFAULT_SYNONYMS.expansions("GQA") is None


# --- configuration ----------------------------------------------------------------------------

def test_the_synonyms_table_is_read_from_the_configuration(tmp_path: Path):
    path = tmp_path / "searchidx.toml"
    path.write_text('[synonyms]\nGQA = ["grouped-query attention"]\nSAE = "sparse autoencoder"\n')
    assert load_synonyms(path) == {"GQA": ("grouped-query attention",),
                                   "SAE": ("sparse autoencoder",)}
    # applied when searching: a change needs no re-index, so it does not re-read the posts
    assert load_config(path).digest == load_config(None).digest


@pytest.mark.parametrize(("table", "reason"), [
    ('synonyms = "RL"', "[synonyms] must be a table"),
    ('[synonyms]\n"two words" = ["x"]', "'two words' is not one word"),
    ("[synonyms]\nGQA = []", "GQA must be a meaning or a list of meanings"),
    ("[synonyms]\nGQA = [1]", "GQA must be a meaning or a list of meanings"),
])
def test_a_bad_synonyms_table_is_an_error_naming_the_file(tmp_path: Path, table, reason):
    path = tmp_path / "searchidx.toml"
    path.write_text(table + "\n")
    with pytest.raises(SearchIdxError, match=rf"^{re.escape(str(path))}: .*{re.escape(reason)}"):
        load_synonyms(path)
    load_config(path)  # the posts' settings are read all the same: indexing goes on


# --- searching corpus/ ------------------------------------------------------------------------

def test_an_acronym_finds_the_posts_that_spell_it_out(corpus_index: Index):
    results = corpus_index.search("RAG", per_page=50)
    assert READING_LIST in titles(results)  # writes "Retrieval-augmented generation" only
    assert results.synonyms == {"RAG": ["retrieval-augmented generation",
                                        "retrieval augmented generation"]}
    assert results.to_json()["synonyms"] == results.synonyms
    # the post that writes RAG itself is listed before the one that only spells it out
    assert titles(results).index(NOTEBOOKS) < titles(results).index(READING_LIST)


def test_a_meaning_written_out_finds_the_posts_that_use_the_acronym(corpus_index: Index):
    for typed in ("retrieval-augmented generation", '"chain of thought"',
                  "large language models"):
        results = corpus_index.search(typed, per_page=50)
        assert NOTEBOOKS in titles(results), typed  # it writes RAG, CoT and LLM only
        assert results.synonyms, typed
        assert titles(results).index(READING_LIST) < titles(results).index(NOTEBOOKS), typed


def test_an_acronym_that_is_also_a_word_is_only_itself_in_lower_case(corpus_index: Index):
    assert corpus_index.search("rag").synonyms == {}
    assert READING_LIST not in titles(corpus_index.search("rag", per_page=50))
    assert corpus_index.search("cot").synonyms == {}


def test_posts_with_the_acronym_rank_above_posts_with_only_its_meaning(corpus_index: Index):
    results = corpus_index.search("RL", per_page=50)
    writes_rl = []
    for hit in results.hits:
        post = corpus_index.get(hit.id)
        text = " ".join((post.title, post.summary, post.body))
        writes_rl.append(re.search(r"(?<![^\W_])rl(?![^\W_])", text, re.IGNORECASE) is not None)
    assert True in writes_rl and False in writes_rl
    # every post that writes RL comes before every post that only writes it out
    assert writes_rl == sorted(writes_rl, reverse=True)


def test_the_cli_says_what_was_also_searched(corpus_index_dir: Path):
    runner = CliRunner()
    result = runner.invoke(cli, ["--index", str(corpus_index_dir), "search", "ViT"])
    assert result.exit_code == 0
    assert "also searched: ViT = vision transformer" in result.stderr
    assert NOTEBOOKS in result.stdout
    result = runner.invoke(cli, ["--index", str(corpus_index_dir), "search", "ViT", "--json"])
    assert json.loads(result.stdout)["synonyms"] == {"ViT": ["vision transformer"]}


# --- synonyms of one's own, no re-index --------------------------------------------------------

def test_a_synonyms_table_applies_at_the_next_search_without_re_indexing(tmp_path: Path,
                                                                          write_post):
    archive = tmp_path / "archive"
    write_post(archive, "gqa.md", {"title": "Grouped-query attention in practice"},
               "Grouped-query attention shares keys and values between heads.")
    write_post(archive, "short.md", {"title": "Serving notes"}, "We switched to GQA.")
    index = Index.create(tmp_path / "index", [archive])
    assert titles(index.search("GQA")) == ["Serving notes"]

    (archive / "searchidx.toml").write_text(
        '[synonyms]\nGQA = ["grouped-query attention"]\n')
    results = index.search("GQA")
    assert titles(results) == ["Serving notes", "Grouped-query attention in practice"]
    assert results.synonyms == {"GQA": ["grouped-query attention"]}
    assert index.update().unchanged == 2  # the posts were not read again

    (archive / "searchidx.toml").write_text("[synonyms]\nGQA = 3\n")
    results = index.search("GQA")  # a broken file: the built-in table, and a notice
    assert titles(results) == ["Serving notes"]
    assert "searchidx.toml" in results.notice and "synonyms were not used" in results.notice


def test_a_synonym_of_a_name_with_a_number_applies_to_the_name_in_quotes(tmp_path: Path,
                                                                        write_post):
    # A spaced name in quotes also searches for it joined ("llama 3" finds Llama3): the
    # synonym of the spaced form still applies.
    archive = tmp_path / "archive"
    write_post(archive, "spaced.md", {"title": "Fine-tuning Llama 3 on lab notes"}, "Notes.")
    write_post(archive, "joined.md", {"title": "Llama3 quantised"}, "Four bits.")
    write_post(archive, "short.md", {"title": "Serving notes"}, "We serve L3 on one card.")
    (archive / "searchidx.toml").write_text('[synonyms]\nL3 = ["llama 3"]\n')
    index = Index.create(tmp_path / "index", [archive])
    results = index.search('"llama 3"')
    assert sorted(titles(results)) == ["Fine-tuning Llama 3 on lab notes",
                                       "Llama3 quantised", "Serving notes"]
    assert results.synonyms == {"llama 3": ["L3"]}
    results = index.search("llama 3")  # two words: not Llama3
    assert sorted(titles(results)) == ["Fine-tuning Llama 3 on lab notes", "Serving notes"]
    assert results.synonyms == {"llama 3": ["L3"]}


# --- the real archives ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def real_index(tmp_path_factory) -> Index:
    if not SHARED.is_dir():
        pytest.skip("../shared/corpora is not here")
    path = tmp_path_factory.mktemp("synonyms-real") / "index"
    indexer.update(path, sorted(p for p in SHARED.iterdir() if p.is_dir()))
    return Index.open(path)


@pytest.mark.slow
@pytest.mark.parametrize(("acronym", "meaning"), [
    ("RL", '"reinforcement learning"'), ("LLM", '"large language model"'),
    ("MoE", '"mixture of experts"'), ("RAG", '"retrieval-augmented generation"'),
])
def test_in_the_real_archives_an_acronym_finds_at_least_its_meaning(real_index, acronym,
                                                                    meaning):
    assert real_index.search(acronym).total >= real_index.search(meaning).total > 0
