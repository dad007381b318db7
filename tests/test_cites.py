"""Papers and code a post cites (issue 17 item 1): extraction in every form, the `cites:`
field, a bare arXiv id as the query, `show --json` and the post page."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchidx import Index
from searchidx.cites import Citation, citations, query_term
from searchidx.cli import cli

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


@pytest.mark.parametrize("text, expected", [
    ("see https://arxiv.org/abs/2303.08774v2 for details", Citation("arxiv", "2303.08774")),
    ("[pdf](http://arxiv.org/pdf/1801.01290.pdf)", Citation("arxiv", "1801.01290")),
    ("as in arXiv:1703.03400 and", Citation("arxiv", "1703.03400")),
    ("old style arxiv.org/abs/cs/0501001v1", Citation("arxiv", "cs/0501001")),
    ("doi https://doi.org/10.48550/arXiv.2106.01345", Citation("arxiv", "2106.01345")),
    ("doi:10.1038/s41586-021-03819-2.", Citation("doi", "10.1038/s41586-021-03819-2")),
    ("code: https://github.com/OpenAI/Whisper.git",
     Citation("github", "github.com/openai/whisper")),
    ("https://openreview.net/forum?id=Sy2fzU9gl", Citation("openreview", "Sy2fzU9gl")),
    ("https://aclanthology.org/2020.acl-main.463/", Citation("acl", "2020.acl-main.463")),
    ("https://proceedings.mlr.press/v139/radford21a.html", Citation("pmlr", "v139/radford21a")),
])
def test_each_form_of_citation_is_found(text, expected) -> None:
    assert citations(text) == (expected,)


def test_no_citation_in_plain_text_and_links_elsewhere() -> None:
    assert citations("version 1801.01290 of nothing; github.com/about; example.com/x") == ()
    assert query_term("2303.08774v3") == "2303.08774"
    assert query_term("arxiv.org/abs/2303.08774") == "2303.08774"
    assert query_term("github.com/openai/whisper/") == "github.com/openai/whisper"


@pytest.fixture
def cited(tmp_path, write_post):
    archive = tmp_path / "arch"
    write_post(archive, "sac.md", {"title": "Soft actor critic notes"},
               "We build on [SAC](https://arxiv.org/abs/1801.01290v2) and "
               "<a href=\"https://github.com/rail-berkeley/softlearning\">its code</a>.")
    write_post(archive, "maml.md", {"title": "Meta learning notes"},
               "Following arXiv:1703.03400, and the SAC paper (arxiv.org/pdf/1801.01290).")
    write_post(archive, "none.md", {"title": "No papers"}, "Nothing cited: 1801 01290.")
    return Index.create(tmp_path / "index", [archive])


def _titles(index: Index, text: str) -> set[str]:
    return {hit.title for hit in index.search(text, per_page=100).hits}


def test_cites_finds_every_post_citing_a_paper_in_any_form(cited) -> None:
    both = {"Soft actor critic notes", "Meta learning notes"}
    for text in ("cites:1801.01290", "cites:1801.01290v2", "arXiv:1801.01290",
                 "cites:https://arxiv.org/abs/1801.01290", "cites:arxiv"):
        assert _titles(cited, text) == both, text
    # typed bare, the id is also a word: the post that writes "1801 01290" is found too
    assert _titles(cited, "1801.01290") == both | {"No papers"}
    assert _titles(cited, "cites:1703.03400") == {"Meta learning notes"}
    assert _titles(cited, "cites:github.com/rail-berkeley/softlearning") == {
        "Soft actor critic notes"}
    assert _titles(cited, "cites:github") == {"Soft actor critic notes"}
    assert cited.search("cites:1703.03400").notice is None
    # what cites: names is not a word of the posts: never "corrected"
    assert cited.search("cites:github.com/rail-berkeley/softlearnin").suggestion is None


def test_show_json_and_the_post_page_list_what_a_post_cites(cited) -> None:
    hit = cited.search("cites:github").hits[0]
    shown = CliRunner().invoke(cli, ["--index", str(cited.path), "show", hit.id, "--json"])
    assert json.loads(shown.stdout)["cites"] == [
        {"kind": "arxiv", "id": "1801.01290", "url": "https://arxiv.org/abs/1801.01290"},
        {"kind": "github", "id": "github.com/rail-berkeley/softlearning",
         "url": "https://github.com/rail-berkeley/softlearning"}]
    from web import create_app

    html = create_app(cited.path).test_client().get(f"/post/{hit.id}").get_data(as_text=True)
    assert "Papers and code" in html
    assert 'href="https://arxiv.org/abs/1801.01290"' in html
    assert "/?q=cites%3A1801.01290" in html or "q=cites:1801.01290" in html


@pytest.mark.skipif(not (CORPORA / "bair-blog").is_dir(), reason="needs ../shared/corpora")
def test_the_real_archives_papers_are_found_by_everyone_citing_them(tmp_path) -> None:
    index = Index.create(tmp_path / "index", [CORPORA / "bair-blog"])
    for paper in ("1801.01290", "1703.03400"):  # SAC and MAML
        found = {hit.path for hit in index.search(f"cites:{paper}", per_page=100).hits}
        linking = {str(p) for p in (CORPORA / "bair-blog").rglob("*.md")
                   if any(c.id == paper for c in citations(p.read_text(encoding="utf-8")))}
        assert found == linking and len(found) >= 7, paper


def test_the_papers_facet_counts_the_most_cited_of_the_matches(cited) -> None:
    assert cited.search("notes").facets["paper"] == {
        "1801.01290": 2, "1703.03400": 1, "github.com/rail-berkeley/softlearning": 1}
    assert cited.search("meta").facets["paper"] == {"1801.01290": 1, "1703.03400": 1}
    from web import create_app

    html = create_app(cited.path).test_client().get("/?q=notes").get_data(as_text=True)
    assert "<h2>Papers</h2>" in html and "q=notes+%2Bcites:1801.01290" in html


READING_LIST = "2019-06-03-papers-we-keep-citing.md"  # corpus/: cites in every form


@pytest.mark.parametrize("query", [
    "cites:1801.01290", "1801.01290", "cites:1812.05905", "cites:arxiv:1703.03400v3",
    "cites:https://arxiv.org/abs/1707.06347", "cites:cs/0501001", "cites:2005.11401",
    "cites:10.1038/nature16961", "cites:github.com/cbfinn/maml",
    "cites:https://github.com/cbfinn/maml/", "cites:_VjQlMeSB_J", "cites:D19-1410",
    "cites:v37/ioffe15", "cites:arxiv", "cites:doi", "cites:github", "cites:openreview",
    "cites:acl", "cites:pmlr",
])
def test_the_corpus_reading_list_is_found_by_each_paper_it_cites(
        corpus_index, corpus_ids, query) -> None:
    found = [hit.id for hit in corpus_index.search(query, per_page=100).hits]
    assert corpus_ids[READING_LIST] in found, query


def test_the_corpus_reading_list_shows_its_papers_and_code(corpus_index, corpus_ids) -> None:
    post_id = corpus_ids[READING_LIST]
    shown = CliRunner().invoke(cli, ["--index", str(corpus_index.path), "show", post_id,
                                     "--json"])
    assert shown.exit_code == 0, shown.output
    urls = {cite["url"] for cite in json.loads(shown.stdout)["cites"]}
    assert {"https://arxiv.org/abs/1801.01290", "https://arxiv.org/abs/cs/0501001",
            "https://openreview.net/forum?id=_VjQlMeSB_J",  # its id's case kept
            "https://github.com/cbfinn/maml", "https://doi.org/10.1038/nature16961",
            "https://proceedings.mlr.press/v37/ioffe15.html"} <= urls
    assert "https://arxiv.org/abs/1707.06347" in urls  # an arXiv DOI is its arXiv paper
    papers = corpus_index.search("cites:arxiv").facets["paper"]
    assert papers.get("1801.01290", 0) >= 1 and "arxiv" not in papers


def test_the_papers_facet_shows_an_id_as_written(corpus_index, corpus_ids) -> None:
    # The field holds ids lower-cased; an OpenReview id is case-sensitive.
    papers = corpus_index.search("cites:openreview").facets["paper"]
    assert "_VjQlMeSB_J" in papers and "_vjqlmesb_j" not in papers
    found = corpus_index.search("cites:_VjQlMeSB_J").hits
    assert corpus_ids[READING_LIST] in [hit.id for hit in found]
