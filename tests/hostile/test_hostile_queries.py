"""Hostile queries: never an exception other than BadQuery, and bounded work per query."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from searchidx import Index, indexer, query
from searchidx.cli import cli
from searchidx.errors import BadQuery
from tests.hostile.conftest import hang_guard, unique_word

# No explain phase: its tracing slows a query 20-fold and trips the hang guard.
FAST = settings(phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                max_examples=50, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture])

SYNTAX = ['"', "'", "(", ")", "[", "]", "{", "}", "*", "?", "~", "^", ":", "-", "+", "!",
          "\\", "/", "AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO", "to", "<", ">", "=",
          "title:", "tag:", "tags:", "author:", "source:", "date:", "nosuchfield:", "body:",
          "spell:", "url_key:", "hidden:", "length:", "date:[", "date:[garbage to 2019]",
          "length:[1 to", "*a*", "?", "q*", "~2", "^3", "\x00", "\x02", "\x03", "\u200b",
          "\ufeff", "\U0001f680", "東京", "qz", " ", "  ", "\n", "\t"]
WORDS = ["post", "body", "common", "words", unique_word(7), "GPT-4", "C++", "state-of-the-art"]
hostile_queries = st.one_of(
    st.lists(st.sampled_from(SYNTAX + WORDS), max_size=12).map("".join),
    st.lists(st.sampled_from(SYNTAX + WORDS), max_size=12).map(" ".join),
    st.text(max_size=60),
    st.text(st.characters(max_codepoint=0x20), max_size=20),  # control characters
)
filters = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(
    ["2023", "2023-02-30", "0000", "9999-12-31", "-1", "2020-13", "1e9"]))


@pytest.fixture(scope="module")
def many_terms_index(tmp_path_factory: pytest.TempPathFactory) -> Index:
    """Posts with thousands of distinct words containing `a`, so `*a*` must be capped."""
    base = tmp_path_factory.mktemp("terms")
    archive = base / "archive"
    archive.mkdir()
    for number in range(40):
        words = " ".join(f"{unique_word(number * 100 + i)}a" for i in range(100))
        (archive / f"p{number}.md").write_text(
            f"---\ntitle: Post {number}\n---\ncommon words post body {words}\n", encoding="utf-8"
        )
    indexer.update(base / "index", [archive], jobs=1)
    return Index.open(base / "index")


def _search_or_bad_query(idx: Index, text: str, **options) -> None:
    with hang_guard(5, f"the query {text[:80]!r}"):
        try:
            results = idx.search(text, **options)
        except BadQuery as exc:
            assert str(exc)
            return
    assert results.total >= 0 and len(results.hits) <= results.per_page
    for hit in results.hits:
        assert "<" not in hit.snippet_html.replace("<mark>", "").replace("</mark>", "")


@FAST
@given(text=hostile_queries)
def test_hostile_query_text(many_terms_index: Index, text: str) -> None:
    _search_or_bad_query(many_terms_index, text)


@FAST
@given(text=hostile_queries, since=filters, until=filters,
       sort=st.sampled_from(["relevance", "newest", "oldest", "", "RANDOM"]),
       page=st.integers(-2, 2000), per_page=st.integers(-1, 200),
       tag=st.lists(st.text(max_size=10), max_size=2))
def test_hostile_query_with_filters(many_terms_index: Index, text, since, until, sort, page,
                                    per_page, tag) -> None:
    _search_or_bad_query(many_terms_index, text, since=since, until=until, sort=sort,
                         page=page, per_page=per_page, tag=tag, author=tag, source=tag)


@pytest.mark.parametrize("text", [
    "x" * 10_000, "a " * 5_000, '"' * 10_000, "(" * 10_000, "*" * 10_000,
    "(" * 500 + "word" + ")" * 499, "NOT word " * 2, '"unclosed phrase', "AND OR NOT",
    "title:", ":", "*", "?", "nosuchfield:word", "date:[garbage to 2019]", "C++ GPT-4",
])
def test_known_hostile_queries(many_terms_index: Index, text: str) -> None:
    _search_or_bad_query(many_terms_index, text)


@pytest.mark.parametrize("text", ["x NOT AND y", "NOT NOT x", "NOT OR word", "NOT " * 250])
def test_repeated_not_is_not_a_crash(many_terms_index: Index, text: str) -> None:
    _search_or_bad_query(many_terms_index, text)


def test_long_query_is_cut_not_a_crash(many_terms_index: Index) -> None:
    results = many_terms_index.search("word " * 2_000)
    assert results.notice and "cut to its first" in results.notice


def test_wildcard_expansion_is_capped(many_terms_index: Index) -> None:
    """4,000 distinct words contain `a`: `*a*` uses the most frequent MAX_EXPANSIONS and
    says so."""
    with hang_guard(5, "*a*"):
        results = many_terms_index.search("*a*")
    assert results.notice and str(query.MAX_EXPANSIONS) in results.notice
    assert results.total > 0


@pytest.mark.parametrize("text", ['"unclosed', "(((", "*a*", "x" * 2000, "\x00\x01", "date:["])
def test_cli_hostile_query_exits_cleanly(tmp_path: Path, tiny_index, text: str) -> None:
    _, index_dir = tiny_index
    result = CliRunner().invoke(cli, ["--index", str(index_dir), "search", text, "--json"])
    assert result.exit_code in (0, 1, 2), result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
