"""config.py: searchidx.toml (field aliases, extensions), and its effect on indexing."""

from __future__ import annotations

import pytest

from searchidx import Index, indexer
from searchidx.config import DEFAULT_EXTENSIONS, Config, load_config
from searchidx.errors import SearchIdxError
from searchidx.posts import DEFAULT_ALIASES


def _config(tmp_path, text: str) -> Config:
    path = tmp_path / "searchidx.toml"
    path.write_text(text, encoding="utf-8")
    return load_config(path)


def test_defaults_without_a_file(tmp_path) -> None:
    for config in (load_config(None), load_config(tmp_path / "missing.toml")):
        assert config.aliases == DEFAULT_ALIASES
        assert config.extensions == DEFAULT_EXTENSIONS


def test_extra_alias_is_tried_first_and_defaults_are_kept(tmp_path) -> None:
    config = _config(tmp_path, '[fields]\nsource = ["publisher"]\ntags = "labels"\n')
    assert config.aliases["source"] == ("publisher", *DEFAULT_ALIASES["source"])
    assert config.aliases["tags"][0] == "labels"
    assert config.aliases["title"] == DEFAULT_ALIASES["title"]


def test_extensions_get_a_dot_and_are_lowercased(tmp_path) -> None:
    assert _config(tmp_path, 'extensions = ["md", ".TXT"]\n').extensions == (".md", ".txt")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[fields\n", "cannot read configuration"),
        ('[fields]\nsubtitle = ["x"]\n', "unknown field 'subtitle'"),
        ("[fields]\nsource = 3\n", "must be a key or a list"),
        ('fields = "source"\n', "must be a table"),
        ('extensions = ".md"\n', "extensions must be a list"),
        ('[defaults]\nblog = "x"\n', "unknown field 'blog' in [defaults]"),
        ("[defaults]\nsource = 3\n", "[defaults] source must be a text or a list of texts"),
        ('[defaults]\ndate = "2020-01-01"\n', "[defaults] date: only source, tags, authors"),
        ('defaults = "x"\n', "[defaults] must be a table"),
    ],
)
def test_bad_config_is_an_error_naming_the_file(tmp_path, text: str, message: str) -> None:
    with pytest.raises(SearchIdxError) as caught:
        _config(tmp_path, text)
    assert message in str(caught.value)
    assert "searchidx.toml" in str(caught.value)


def test_archive_config_is_used_by_the_indexer(tmp_path, write_post) -> None:
    archive = tmp_path / "archive"
    write_post(archive, "a.md", {"title": "Alpha", "publisher": "Weekly Digest"}, "alpha words")
    write_post(archive, "b.txt", {"title": "Beta", "publisher": "Weekly Digest"}, "beta words")
    write_post(archive, "c.markdown", {"title": "Gamma"}, "gamma words")
    # top-level keys come before the first table in TOML
    (archive / "searchidx.toml").write_text(
        'extensions = [".md", ".txt"]\n\n[fields]\nsource = ["publisher"]\n', encoding="utf-8"
    )
    report = indexer.update(tmp_path / "index", [archive])
    assert report.added == 2  # c.markdown is not a post under this config
    results = Index.open(tmp_path / "index").search("", source=["Weekly Digest"])
    assert sorted(hit.title for hit in results.hits) == ["Alpha", "Beta"]


def test_defaults_fill_what_a_post_does_not_say(tmp_path, write_post) -> None:
    # A Jekyll archive's posts do not name their blog: [defaults] gives them a source, so
    # the source filter and facet reach them; a post that names its own keeps it.
    archive = tmp_path / "archive"
    write_post(archive, "a.md", {"title": "Alpha"}, "alpha words")
    write_post(archive, "b.md", {"title": "Beta", "source": "Guest Blog", "author": "Ada"},
               "beta words")
    config = archive / "searchidx.toml"
    config.write_text('[defaults]\nsource = "Lab Blog"\ntags = ["lab", "archive"]\n'
                      'authors = ["Lab Staff"]\n')
    indexer.update(tmp_path / "index", [archive])
    index = Index.open(tmp_path / "index")
    hits = {hit.title: hit for hit in index.search("").hits}
    assert (hits["Alpha"].source, hits["Alpha"].tags) == ("Lab Blog", ("lab", "archive"))
    assert hits["Alpha"].authors == ("Lab Staff",)
    assert (hits["Beta"].source, hits["Beta"].authors) == ("Guest Blog", ("Ada",))
    assert [hit.title for hit in index.search("", source=["lab blog"]).hits] == ["Alpha"]
    assert index.search("").facets["source"] == {"Guest Blog": 1, "Lab Blog": 1}

    config.write_text('[defaults]\nsource = "BAIR Blog"\n')  # the files unchanged: re-read
    report = indexer.update(tmp_path / "index", [archive])
    assert report.updated == 2
    assert Index.open(tmp_path / "index").search("alpha").hits[0].source == "BAIR Blog"
