"""search.py over corpus/: query forms, ranking order, filters, sort, paging, facets,
snippets, suggestions, duplicates, similar posts, get and stats."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from searchidx.errors import BadQuery, PostNotFound

CHATGPT_URL = "https://openai.com/blog/chatgpt"
UNDATED = "undated-notes-on-scaling-laws.md"
DRAFT = "2022-04-12-chinchilla-compute-optimal.md"
XSS = "2023-05-10-prompt-injection-xss.md"


def _names(results) -> list[str]:
    return [Path(hit.path).name for hit in results.hits]


def _all(idx, text: str = "", **options) -> list[str]:
    return _names(idx.search(text, per_page=100, **options))


def _above(names: list[str], higher: str, lower: str) -> bool:
    return higher in names and lower in names and names.index(higher) < names.index(lower)


# --- query forms ----------------------------------------------------------------------------

def test_plain_words(corpus_index) -> None:
    assert _names(corpus_index.search("StarCraft"))[0] == "2019-01-24-alphastar-starcraft.md"


def test_phrase_only_matches_adjacent_words(corpus_index) -> None:
    phrase = set(_all(corpus_index, '"protein structure"'))
    words = set(_all(corpus_index, "protein structure"))
    assert "2021-07-22-alphafold-protein-structure-database.md" in phrase
    assert phrase < words  # the words alone match more posts


def test_title_field(corpus_index) -> None:
    names = _all(corpus_index, "title:alphafold")
    assert sorted(names) == [
        "2020-11-30-alphafold-2-casp14.md",
        "2021-07-22-alphafold-protein-structure-database.md",
        "2024-05-08-alphafold-3.md",
    ]


def test_source_field(corpus_index) -> None:
    results = corpus_index.search('source:"BAIR Blog"', per_page=100)
    assert {hit.source for hit in results.hits} == {"BAIR Blog"}
    assert results.total == 2


def test_tag_field(corpus_index) -> None:
    assert sorted(_all(corpus_index, "tag:llm")) == [
        "2023-04-03-koala-dialogue-model.md", "2024-12-16-scaling-test-time-compute.md",
    ]


def test_author_field(corpus_index) -> None:
    names = _all(corpus_index, 'author:"Lewis Tunstall"')
    assert names == ["2024-12-16-scaling-test-time-compute.md"]


def test_date_month(corpus_index) -> None:
    results = corpus_index.search("date:2023-04", per_page=100)
    assert results.total == 2
    assert all(hit.date.strftime("%Y-%m") == "2023-04" for hit in results.hits)


def test_date_range_of_years(corpus_index) -> None:
    results = corpus_index.search("date:[2020 to 2022]", per_page=100)
    assert results.total > 10
    assert all(2020 <= hit.date.year <= 2022 for hit in results.hits)


def test_and_or_not(corpus_index) -> None:
    assert _all(corpus_index, "alphafold AND database") == [
        "2021-07-22-alphafold-protein-structure-database.md"
    ]
    either = set(_all(corpus_index, "alphago OR alphazero"))
    assert {"2016-01-27-alphago-masters-go.md", "2018-12-06-alphazero-chess-shogi-go.md"} <= either


def test_not_excludes(corpus_index) -> None:
    names = _all(corpus_index, "alphafold NOT database")
    assert "2021-07-22-alphafold-protein-structure-database.md" not in names
    assert "2020-11-30-alphafold-2-casp14.md" in names
    assert len(names) < 10


def test_a_stop_word_beside_a_not_leaves_the_not_alone(corpus_index) -> None:
    """`(NOT protein) a` is `NOT protein`: the stop word is no word to search (found by
    the differential test: the engine found nothing, the reference 341 posts)."""
    without = _all(corpus_index, "NOT protein")
    assert without and "2020-11-30-alphafold-2-casp14.md" not in without
    for text in ("(NOT protein) a", "NOT protein the", "a NOT protein"):
        assert _all(corpus_index, text) == without, text


def test_minus_excludes(corpus_index) -> None:
    names = _all(corpus_index, "alphafold -database")
    assert "2020-11-30-alphafold-2-casp14.md" in names
    assert "2021-07-22-alphafold-protein-structure-database.md" not in names


def test_prefix(corpus_index) -> None:
    names = _all(corpus_index, "alphag*")
    assert "2016-01-27-alphago-masters-go.md" in names
    assert "2024-01-17-alphageometry-olympiad.md" in names
    assert "2020-11-30-alphafold-2-casp14.md" not in names


def test_fuzzy(corpus_index) -> None:
    assert corpus_index.search("alphfold").total == 0
    assert "2020-11-30-alphafold-2-casp14.md" in _all(corpus_index, "alphfold~")


def test_fuzzy_word_is_compared_stem_to_stem(corpus_index) -> None:
    # The index holds the stem "reinforc"; the typo is one edit from it only once stemmed.
    assert "2020-12-07-offline-rl-conservative.md" in _all(corpus_index, "reinforcment~")


def test_multi_word_query_ranks_all_words_above_some(corpus_index) -> None:
    results = corpus_index.search("alphafold database", per_page=100)
    both = set(_all(corpus_index, "alphafold AND database"))
    names = _names(results)
    assert names[: len(both)] == [n for n in names if n in both]
    assert results.total > len(both)  # partial matches are still returned


def test_protein_structure_ranks_alphafold_first(corpus_index) -> None:
    names = _names(corpus_index.search("protein structure"))
    assert names[0] == "2021-07-22-alphafold-protein-structure-database.md"
    assert _above(names, "2020-11-30-alphafold-2-casp14.md", "2020-09-24-wav2vec-2-speech.md")


def test_title_match_ranks_above_body_mention(corpus_index) -> None:
    names = _names(corpus_index.search("AlphaGo"))
    assert names[0] in ("2016-01-27-alphago-masters-go.md", "2026-03-09-alphago-ten-years-on.md")
    assert _above(names, "2016-01-27-alphago-masters-go.md",
                  "2018-12-06-alphazero-chess-shogi-go.md")


@pytest.mark.parametrize(
    "text", ["date:[garbage to 2019]", '"unclosed', "AND OR", "title:(foo", "((", "*:*", "~", "-"]
)
def test_invalid_syntax_never_raises(corpus_index, text: str) -> None:
    results = corpus_index.search(text)
    assert results.total >= 0


@pytest.mark.parametrize("text", ["date:[garbage to 2019]", "AND OR"])
def test_rewritten_query_sets_a_notice(corpus_index, text: str) -> None:
    assert corpus_index.search(text).notice


def test_lenient_parse_still_finds_the_words(corpus_index) -> None:
    names = _all(corpus_index, "date:[garbage to 2019] starcraft")
    assert "2019-01-24-alphastar-starcraft.md" in names
    assert _names(corpus_index.search('"protein structure'))[0].startswith("2021-07-22-alphafold")
    assert "2024-05-08-alphafold-3.md" in _all(corpus_index, "title:(alphafold")


def test_a_plus_before_a_number_is_text_not_an_operator(corpus_index) -> None:
    # a SciFact claim: "... by stabilizing +1 nucleosomes" once listed the newest posts,
    # then required the word "1"
    results = corpus_index.search("alphafold +1 structure")
    assert results.hits and "alphafold" in results.hits[0].title.lower()
    assert results.notice is None


@pytest.mark.parametrize("text", ['"unclosed', "title:(foo"])
def test_unbalanced_query_sets_a_notice(corpus_index, text: str) -> None:
    assert corpus_index.search(text).notice


def test_a_pasted_abstract_searches_its_first_words(corpus_index) -> None:
    abstract = "AlphaFold predicts protein structure " + "from sequence alone " * 300
    results = corpus_index.search(abstract)
    assert results.query == abstract
    assert "alphafold" in _names(results)[0]
    assert results.notice == "the query was cut to its first 148 words"


def test_a_long_query_without_spaces_is_cut_too(corpus_index) -> None:
    notice = corpus_index.search("a" * 5000).notice
    assert notice.startswith("the query was cut to its first 1000 characters; ")
    assert corpus_index.search("alphafold " + "a" * 5000).notice == (
        "the query was cut to its first 1 word")


def test_a_cut_query_keeps_the_parser_notice(corpus_index) -> None:
    notice = corpus_index.search('"protein structure ' + "x" * 2000).notice
    assert notice.startswith("the query was cut to its first 2 words; ")
    assert "unclosed quote" in notice


# --- empty query, filters, hidden ----------------------------------------------------------------

def test_empty_query_lists_newest_first(corpus_index) -> None:
    results = corpus_index.search("", per_page=100)
    dates = [hit.date for hit in results.hits]
    assert results.total == 46  # 48 files, minus the draft, minus one folded duplicate
    assert dates[:-1] == sorted(dates[:-1], reverse=True)
    assert _names(results)[-1] == UNDATED


def test_source_filter_is_repeatable(corpus_index) -> None:
    results = corpus_index.search("", source=["BAIR Blog", "Anthropic"], per_page=100)
    assert results.total == 4
    assert {hit.source for hit in results.hits} == {"BAIR Blog", "Anthropic"}


def test_tag_and_author_filters(corpus_index) -> None:
    assert _all(corpus_index, "", tag=["Reinforcement-Learning"]) == [
        "2020-12-07-offline-rl-conservative.md"
    ]
    assert _all(corpus_index, "", author=["Avi Singh"]) == ["2020-12-07-offline-rl-conservative.md"]
    assert _all(corpus_index, "koala", author=["Avi Singh"]) == []


KOALA = "2023-04-03-koala-dialogue-model.md"  # by Sergey Levine, Pieter Abbeel and others
GPT3 = "2020-06-11-openai-api-gpt-3.md"  # tagged Machine Learning, NLP, Large Language Models


@pytest.mark.parametrize("value", ["DeepMind Blog", "deepmind blog", "DeepMind", "DÉEPMIND",
                                   "ｄｅｅｐｍｉｎｄ", "  blog  "])
def test_source_filter_matches_a_run_of_words_of_the_name(corpus_index, value: str) -> None:
    results = corpus_index.search("", source=[value], per_page=100)
    exact = corpus_index.search("", source=["DeepMind Blog"], per_page=100)
    if value.strip() == "blog":  # a word of many sources: all of them
        assert results.total > exact.total and "Anthropic" not in results.facets["source"]
    else:
        assert results.total == exact.total == results.facets["source"]["DeepMind Blog"] > 0


@pytest.mark.parametrize("value", ["Mind", "Blog DeepMind", "DeepMind Blog Post", ""])
def test_source_filter_matches_whole_words_in_order(corpus_index, value: str) -> None:
    assert corpus_index.search("", source=[value]).total == 0


@pytest.mark.parametrize(
    ("options", "names"),
    [({"author": ["levine"]}, [KOALA]), ({"author": ["SERGEY LEVINE"]}, [KOALA]),
     ({"author": ["sergey"]}, [KOALA]), ({"author": ["levine sergey"]}, []),
     ({"tag": ["Robotics"]}, ["2020-12-07-offline-rl-conservative.md"]),
     ({"tag": ["language models"]}, [GPT3]), ({"tag": ["models language"]}, []),
     # a tag such as offline-rl is one word, as GPT-4 is: "rl" is not a word of it
     ({"tag": ["rl"]}, [])],
)
def test_tag_and_author_filters_match_words(corpus_index, options: dict, names) -> None:
    assert _all(corpus_index, "", **options) == names


@pytest.mark.parametrize(
    ("text", "names"),
    [("author:levine", [KOALA]), ("author:LEVINE", [KOALA]), ('tag:"language models"', [GPT3]),
     ("tag:language", [GPT3]), ("tag:model", []),
     ("koala -author:levine", ["2023-02-24-llama-foundation-models.md"])],
)
def test_field_filters_in_the_query_match_words(corpus_index, text: str, names) -> None:
    assert _all(corpus_index, text) == names


def test_repeated_tags_and_authors_must_all_match_and_sources_any(corpus_index) -> None:
    assert sorted(_all(corpus_index, "", tag=["llm"])) == [
        KOALA, "2024-12-16-scaling-test-time-compute.md"]
    assert _all(corpus_index, "", tag=["llm", "dialogue"]) == [KOALA]
    assert _all(corpus_index, "", author=["levine", "abbeel"]) == [KOALA]
    assert _all(corpus_index, "", author=["levine", "tunstall"]) == []
    assert corpus_index.search("", source=["bair", "anthropic"]).total == 4


def test_filters_fold_accents_and_case(tmp_path, write_post) -> None:
    idx = _tiny_index(tmp_path, write_post, {"2023-01-02-grasping.md": (
        {"title": "Grasping", "source": "Café Robotique", "tags": ["Vision Humanoïde"],
         "authors": ["José Hernández-Orallo"]}, "Body.")})
    for options in ({"source": "cafe"}, {"source": "CAFÉ robotique"}, {"tag": "humanoide"},
                    {"author": "jose"}, {"author": "hernandez-orallo"},
                    {"author": "José Hernández-Orallo"}):
        assert idx.search("", **options).total == 1, options
    assert idx.search("", author="orallo").total == 0
    assert idx.search("author:hernandez-orallo").total == 1


# --- Python API argument types -------------------------------------------------------------

def test_a_single_name_is_one_filter_value(corpus_index) -> None:
    assert corpus_index.search("", source="DeepMind Blog").total == (
        corpus_index.search("", source=["DeepMind Blog"]).total) > 0
    assert _all(corpus_index, "", tag="robotics") == ["2020-12-07-offline-rl-conservative.md"]
    assert _all(corpus_index, "", author="Sergey Levine") == [KOALA]


@pytest.mark.parametrize(
    ("since", "until"),
    [(2023, 2023), (date(2023, 1, 1), date(2023, 12, 31)),
     (datetime(2023, 1, 1), datetime(2023, 12, 31, 23, 59, 59)),
     (datetime(2023, 1, 1, 1, tzinfo=timezone(timedelta(hours=1))), "2023")],
)
def test_years_dates_and_datetimes_as_date_filters(corpus_index, since, until) -> None:
    assert corpus_index.search("", since=since, until=until).total == 11  # as "2023"


def test_a_datetime_is_a_moment_and_a_date_a_whole_day(corpus_index) -> None:
    moment = corpus_index.search("", since="2023-04-05", until="2023-04-05").hits[0].date
    assert corpus_index.search("", since=moment, until=moment).total == 1
    later = moment + timedelta(microseconds=1)
    assert corpus_index.search("", since=later, until=moment.date()).total == 0
    assert corpus_index.search("", since=moment.date(), until=moment.date()).total == 1


@pytest.mark.parametrize(
    ("options", "message"),
    [({"page": "2"}, "page must be a whole number, not '2'"),
     ({"per_page": True}, "per_page must be a whole number, not True"),
     ({"page": 1.0}, "page must be a whole number"),
     ({"source": 5}, "source must be a name or a list of names, not 5"),
     ({"tag": [b"robotics"]}, "tag must be a name or a list of names"),
     ({"author": None}, None),
     ({"since": 2023.5}, "since must be a year, a date or text such as 2023-04, not 2023.5"),
     ({"until": True}, "until must be a year"),
     ({"text": 42}, "the query must be text, not 42")],
)
def test_wrong_argument_types_are_bad_queries(corpus_index, options: dict, message) -> None:
    if message is None:  # None is "no filter", as the default
        assert corpus_index.search("", **options).total == 46
        return
    text = options.pop("text", "")
    with pytest.raises(BadQuery, match=re.escape(message)):
        corpus_index.search(text, **options)


@pytest.mark.parametrize(
    ("since", "until", "count"),
    [("2023", "2023", 11), ("2023-04", "2023-04", 2), ("2023-04-05", "2023-04-05", 1),
     ("2025", None, 2), (None, "2015-12", 1)],
)
def test_date_filters(corpus_index, since, until, count: int) -> None:
    results = corpus_index.search("", since=since, until=until, per_page=100)
    assert results.total == count
    low = datetime(1, 1, 1) if since is None else datetime.fromisoformat(f"{since}-01-01"[:10])
    assert all(hit.date is not None and hit.date >= low for hit in results.hits)


@pytest.mark.parametrize(
    "options",
    [{"since": "2023-13"}, {"since": "garbage"}, {"until": "2023-02-30"}, {"since": "23"},
     {"since": "2024", "until": "2023"}],
)
def test_bad_dates_are_bad_queries(corpus_index, options: dict) -> None:
    with pytest.raises(BadQuery):
        corpus_index.search("", **options)


def test_hidden_posts_excluded_unless_asked(corpus_index) -> None:
    assert DRAFT not in _all(corpus_index, "chinchilla")
    assert _names(corpus_index.search("chinchilla", include_hidden=True))[0] == DRAFT
    assert corpus_index.search("", include_hidden=True).total == 47


# --- sort and paging ------------------------------------------------------------------------------

@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_date_sorts_put_the_undated_post_last(corpus_index, sort: str) -> None:
    results = corpus_index.search("scaling", sort=sort, per_page=100)
    names = _names(results)
    dates = [hit.date for hit in results.hits[:-1]]
    assert names[-1] == UNDATED
    assert dates == sorted(dates, reverse=sort == "newest")
    assert len(dates) >= 5


def test_pagination(corpus_index) -> None:
    first = corpus_index.search("", per_page=10, page=1)
    second = corpus_index.search("", per_page=10, page=2)
    beyond = corpus_index.search("", per_page=10, page=9)
    assert len(first.hits) == len(second.hits) == 10
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    assert beyond.hits == [] and beyond.total == first.total
    assert first.pages == 5


@pytest.mark.parametrize(
    "options",
    [{"per_page": 0}, {"per_page": 101}, {"page": 0}, {"sort": "bogus"}, {"page": 1001}],
)
def test_paging_and_sort_bounds_are_bad_queries(corpus_index, options: dict) -> None:
    with pytest.raises(BadQuery):
        corpus_index.search("model", **options)


# --- facets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["", "language model", "alphafold", "gpt"])
def test_source_facet_sums_to_total(corpus_index, text: str) -> None:
    results = corpus_index.search(text)
    assert sum(results.facets["source"].values()) == results.total


def test_facets_follow_the_filters(corpus_index) -> None:
    unfiltered = corpus_index.search("model")
    filtered = corpus_index.search("model", source=["DeepMind Blog"], since="2020")
    assert filtered.facets["source"] == {"DeepMind Blog": filtered.total}
    assert filtered.total < unfiltered.total
    assert sum(filtered.facets["year"].values()) == filtered.total
    assert min(int(year) for year in filtered.facets["year"]) >= 2020
    assert filtered.facets["year"] != unfiltered.facets["year"]


def test_tag_facet_counts(corpus_index) -> None:
    facets = corpus_index.search("").facets
    assert facets["tag"]["llm"] == 2
    assert facets["year"]["2023"] == 11


# --- snippets -------------------------------------------------------------------------------------

def test_snippet_marks_matched_words(corpus_index) -> None:
    hit = corpus_index.search("protein").hits[0]
    assert "<mark>protein" in hit.snippet_html.lower()
    assert "<mark>" not in hit.snippet and "protein" in hit.snippet.lower()


def test_snippet_escapes_html(corpus_index) -> None:
    (hit,) = [h for h in corpus_index.search("script alert").hits if Path(h.path).name == XSS]
    assert "<script" not in hit.snippet_html
    assert "&lt;" in hit.snippet_html and "<mark>" in hit.snippet_html
    assert "<script>alert(1)</script>" in hit.snippet


def test_snippets_have_no_markdown_noise(corpus_index) -> None:
    for hit in corpus_index.search("model", per_page=30).hits:
        assert "](" not in hit.snippet and "**" not in hit.snippet


# --- suggestions, duplicates ----------------------------------------------------------------------

def test_did_you_mean(corpus_index) -> None:
    results = corpus_index.search("protien")
    assert results.total == 0
    assert "protein" in results.suggestion


def test_no_suggestion_for_good_words(corpus_index) -> None:
    assert corpus_index.search("protein structure").suggestion is None


def test_duplicate_pair_collapses_into_the_longer_copy(corpus_index) -> None:
    hits = [h for h in corpus_index.search("chatgpt", per_page=100).hits if h.url == CHATGPT_URL]
    assert len(hits) == 1
    assert hits[0].duplicates == 1
    assert Path(hits[0].path).name == "2022-11-30-chatgpt.md"


# --- get, similar, stats -------------------------------------------------------------------------

def test_get_returns_the_whole_post(corpus_index, corpus_ids) -> None:
    post = corpus_index.get(corpus_ids["2020-12-07-offline-rl-conservative.md"])
    assert post.title.startswith("Offline Reinforcement Learning")
    assert post.source == "BAIR Blog"
    assert post.authors == ("aviral kumar", "avi singh") or post.authors == (
        "Aviral Kumar", "Avi Singh")
    assert post.date == datetime(2020, 12, 7, 9, 0)
    assert "**Offline RL**" in post.markdown and "Offline RL" in post.body
    assert "**" not in post.body
    assert post.to_json()["date"] == "2020-12-07T09:00:00Z"


def test_get_unknown_id(corpus_index) -> None:
    with pytest.raises(PostNotFound):
        corpus_index.get("0000000000000000")


def test_similar_posts(corpus_index, corpus_ids) -> None:
    own = corpus_ids["2020-11-30-alphafold-2-casp14.md"]
    hits = corpus_index.similar(own, limit=5)
    names = [Path(h.path).name for h in hits]
    assert 0 < len(hits) <= 5
    assert own not in [h.id for h in hits]
    siblings = {"2021-07-22-alphafold-protein-structure-database.md", "2024-05-08-alphafold-3.md"}
    assert siblings & set(names[:3])


def test_similar_skips_own_duplicate_and_hidden(corpus_index, corpus_ids) -> None:
    hits = corpus_index.similar(corpus_ids["2022-11-30-chatgpt.md"], limit=10)
    assert CHATGPT_URL not in [h.url for h in hits]
    assert DRAFT not in [Path(h.path).name for h in hits]


def test_similar_unknown_id(corpus_index) -> None:
    with pytest.raises(PostNotFound):
        corpus_index.similar("0000000000000000")


def test_stats(corpus_index, corpus_dir) -> None:
    stats = corpus_index.stats()
    assert stats.posts == 48
    assert stats.duplicates == 2
    assert stats.hidden == 1
    assert len(stats.sources) == 16 and stats.sources["DeepMind Blog"] == 13
    assert stats.first_date == datetime(2015, 11, 9, 8, 0)
    assert stats.last_date == datetime(2026, 3, 9, 9, 0)
    assert stats.undated == 1  # undated-notes-on-scaling-laws.md
    assert stats.index_bytes > 0
    assert stats.roots == [str(corpus_dir)]
    assert stats.updated_at


# --- ranking and counting over arrays (snapshot.py), on tiny archives of our own ----------

FILLER = " ".join(f"filler{i % 37} words{i % 11}" for i in range(300))


def _tiny_index(tmp_path, write_post, posts: dict[str, tuple[dict, str]]):
    from searchidx import Index, indexer

    folder = tmp_path / "archive"
    for name, (meta, body) in posts.items():
        write_post(folder, name, {"source": "Lab Notes", **meta}, body)
    indexer.update(tmp_path / "index", [folder])
    return Index.open(tmp_path / "index")


def test_summary_match_ranks_above_body_mentions(tmp_path, write_post) -> None:
    idx = _tiny_index(tmp_path, write_post, {
        "2023-01-01-census.md": ({"title": "Field notes", "summary": "A quokka census"}, FILLER),
        "2023-01-02-island.md": ({"title": "Island trip", "summary": "Ferries and bikes"},
                                 f"{FILLER} a quokka here {FILLER} another quokka there"),
    })
    assert [Path(h.path).name for h in idx.search("quokka").hits] == [
        "2023-01-01-census.md", "2023-01-02-island.md"]


def test_equal_scores_keep_a_stable_order(tmp_path, write_post) -> None:
    # Each its own url: with none, the same title, source and text would make them copies.
    posts = {f"2023-01-0{i}-twin.md": ({"title": "Twin", "url": f"https://lab.example.org/twin-{i}"},
                                       "identical body text") for i in (1, 2, 3)}
    idx = _tiny_index(tmp_path, write_post, posts)
    orders = {tuple(h.id for h in idx.search("identical").hits) for _ in range(3)}
    assert len(orders) == 1 and len(next(iter(orders))) == 3


def test_deleted_posts_still_in_a_segment_are_not_found_or_counted(tmp_path, write_post) -> None:
    from whoosh.filedb.filestore import FileStorage

    idx = _tiny_index(tmp_path, write_post, {
        "2023-01-01-alpha.md": ({"title": "Alpha", "tags": ["ants"]}, "aardvarks and ants"),
        "2023-01-02-beta.md": ({"title": "Beta", "tags": ["ants"]}, "badgers and ants"),
    })
    gone = idx.search("badgers").hits[0].id
    # Delete without merging, so the segment keeps the post's postings and columns.
    ix = FileStorage(str(tmp_path / "index"), supports_mmap=False).open_index()
    writer = ix.writer()
    writer.delete_by_term("id", gone)
    writer.commit(merge=False)
    assert ix.reader().has_deletions()

    results = idx.search("ants")
    assert [h.title for h in results.hits] == ["Alpha"]
    assert results.total == 1
    assert results.facets["tag"] == {"ants": 1}
    assert results.facets["source"] == {"Lab Notes": 1}
    assert idx.search("badgers").total == 0
    assert idx.stats().posts == 1


def test_results_do_not_depend_on_the_posting_cache(corpus_index, monkeypatch) -> None:
    from searchidx import Index, snapshot

    def run(idx) -> list:
        return [
            (r.total, [(h.id, h.score) for h in r.hits], r.facets)
            for r in (idx.search(text, per_page=20) for text in (
                "protein structure", "alphafold OR chatgpt", '"language model"', "reinforc*",
                "title:alphafold", "", "model -language"))
        ]

    expected = run(corpus_index)
    monkeypatch.setattr(snapshot, "CACHE_BYTES", 1)  # every entry evicts the one before
    assert run(Index.open(corpus_index.path)) == expected


def test_a_post_ranks_by_its_best_matching_copy(tmp_path, write_post) -> None:
    # The fuller copy (shown) lacks "quokka"; the shorter copy has both words.
    copy = {"url": "https://example.org/transformers"}
    idx = _tiny_index(tmp_path, write_post, {
        "2023-01-01-full.md": ({"title": "Full copy", **copy}, f"transformer {FILLER}"),
        "2023-01-02-short.md": ({"title": "Short copy", **copy}, "transformer quokka"),
        "2023-01-03-other.md": ({"title": "Other"}, f"transformer quokka {FILLER} {FILLER}"),
        **{f"2023-01-1{i}-only.md": ({"title": f"Only {i}", "summary": "transformer"},
                                     "transformer transformer") for i in range(3)},
    })
    hits = idx.search("transformer quokka").hits
    assert [h.title for h in hits[:2]] == ["Full copy", "Other"]
    assert hits[0].duplicates == 1
