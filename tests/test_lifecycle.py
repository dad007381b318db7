"""The index follows what users do to their archive (issue 13): configuration changes,
`--config`, posts that break, moved and forgotten folders, nested roots, symbolic links.
Through the real CLI (CliRunner) on a real index on disk."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchidx import Index
from searchidx.cli import cli


@pytest.fixture
def searchidx(tmp_path):
    """Runs `searchidx --index <tmp index> ARGS`; returns the click result."""
    index_dir = tmp_path / "index"

    def invoke(*args: str | Path):
        return CliRunner().invoke(cli, ["--index", str(index_dir), *map(str, args)])

    invoke.index_dir = index_dir
    return invoke


def _posts(index_dir: Path) -> dict[str, dict]:
    """Post id -> the post as `show --json` gives it, for every post in the index."""
    index = Index.open(index_dir)
    hits = index.search("", per_page=100, include_hidden=True).hits
    return {hit.id: index.get(hit.id).to_json() for hit in hits}


def _by_title(index_dir: Path) -> dict[str, dict]:
    return {post["title"]: post for post in _posts(index_dir).values()}


def test_a_configuration_change_is_applied_to_unchanged_posts(tmp_path, searchidx,
                                                              write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive, "a.md", {"title": "Alpha", "publisher": "Lab One"}, "Text.")
    assert searchidx("index", archive).exit_code == 0
    assert _by_title(searchidx.index_dir)["Alpha"]["source"] is None

    (archive / "searchidx.toml").write_text('[fields]\nsource = ["publisher"]\n')
    result = searchidx("index")
    assert result.exit_code == 0 and "1 updated" in result.stdout, result.stdout
    assert _by_title(searchidx.index_dir)["Alpha"]["source"] == "Lab One"

    (archive / "searchidx.toml").unlink()  # and back
    assert "1 updated" in searchidx("index").stdout
    assert _by_title(searchidx.index_dir)["Alpha"]["source"] is None


def test_a_config_file_given_once_is_remembered(tmp_path, searchidx, write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive, "a.md", {"title": "Alpha", "publisher": "Lab One"}, "Text.")
    config = tmp_path / "my.toml"
    config.write_text('[fields]\nsource = ["publisher"]\n')
    assert searchidx("index", archive, "--config", config).exit_code == 0
    write_post(archive, "a.md", {"title": "Alpha", "publisher": "Lab One"}, "Edited.")
    assert "1 updated" in searchidx("index").stdout
    assert _by_title(searchidx.index_dir)["Alpha"]["source"] == "Lab One"
    roots = json.loads(searchidx("roots", "--json").stdout)["roots"]
    assert roots == [{"path": str(archive), "posts": 1, "present": True,
                      "config": str(config)}]

    config.unlink()  # a remembered file that is gone is an error that says what to do
    result = searchidx("index")
    assert result.exit_code == 2 and "--config FILE" in result.stderr, result.stderr


def test_a_post_that_breaks_leaves_the_index_and_says_so(tmp_path, searchidx,
                                                        write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive, "a.md", {"title": "Alpha"}, "Zyxquokka lives here.")
    write_post(archive, "b.md", {"title": "Beta"}, "Other text.")
    searchidx("index", archive)
    (archive / "a.md").write_text("---\ntitle: [unclosed\n---\nZyxquokka lives here.\n")

    result = searchidx("index")
    assert "1 removed" in result.stdout and "1 skipped" in result.stdout, result.stdout
    assert "a.md: frontmatter is not valid YAML" in result.stderr
    assert "taken out of the index" in result.stderr
    assert Index.open(searchidx.index_dir).search("zyxquokka").total == 0
    stats = json.loads(searchidx("stats", "--json").stdout)
    assert [Path(p["path"]).name for p in stats["unreadable"]] == ["a.md"]
    assert "unreadable: 1 files" in searchidx("stats").stdout

    write_post(archive, "a.md", {"title": "Alpha"}, "Zyxquokka lives here.")  # repaired
    assert "1 added" in searchidx("index").stdout
    assert Index.open(searchidx.index_dir).search("zyxquokka").total == 1
    assert json.loads(searchidx("stats", "--json").stdout)["unreadable"] == []


def test_a_moved_archive_is_kept_until_forgotten(tmp_path, searchidx, write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive / "blog", "a.md", {"title": "Alpha"}, "Text.")
    write_post(archive / "blog", "b.md", {"title": "Beta"}, "Text.")
    searchidx("index", archive / "blog")
    moved = tmp_path / "arch-moved"
    archive.rename(moved)

    result = searchidx("index", moved / "blog")
    assert result.exit_code == 0, result.output
    # the missing folder's posts are kept (an unmounted disk must not empty the index)
    assert f"{archive / 'blog'} is missing; its 2 posts are kept" in result.stderr
    assert f"searchidx forget {archive / 'blog'}" in result.stderr
    assert "mount it" in result.stderr
    assert len(_posts(searchidx.index_dir)) == 2  # the copies fold: one url key per path
    listing = searchidx("roots").stdout
    assert f"{archive / 'blog'}  (missing)" in listing and str(moved / "blog") in listing

    result = searchidx("forget", archive / "blog")
    # the moved posts kept their ids (folder name and path inside it), so none is removed
    assert result.exit_code == 0 and "0 removed" in result.stdout, result.output
    roots = json.loads(searchidx("roots", "--json").stdout)["roots"]
    assert [(r["path"], r["posts"]) for r in roots] == [(str(moved / "blog"), 2)]
    assert {p["path"] for p in _posts(searchidx.index_dir).values()} == {
        str(moved / "blog" / "a.md"), str(moved / "blog" / "b.md")}


def test_forgetting_a_folder_that_is_not_indexed_lists_those_that_are(tmp_path, searchidx,
                                                                      write_post) -> None:
    write_post(tmp_path / "arch", "a.md", {"title": "Alpha"}, "Text.")
    searchidx("index", tmp_path / "arch")
    result = searchidx("forget", tmp_path / "elsewhere")
    assert result.exit_code == 2
    assert f"is not an indexed folder (indexed: {tmp_path / 'arch'})" in result.stderr


def test_forgetting_the_last_folder_empties_the_index(tmp_path, searchidx, write_post) -> None:
    write_post(tmp_path / "arch", "a.md", {"title": "Alpha"}, "Text.")
    searchidx("index", tmp_path / "arch")
    assert "1 removed" in searchidx("forget", tmp_path / "arch").stdout
    assert _posts(searchidx.index_dir) == {}
    assert json.loads(searchidx("roots", "--json").stdout) == {"roots": []}


def test_ids_survive_indexing_an_outer_folder(tmp_path, searchidx, write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive / "blog", "a.md", {"title": "Alpha"}, "Text.")
    write_post(archive / "news", "n.md", {"title": "News"}, "Text.")
    searchidx("index", archive / "blog")
    before = _by_title(searchidx.index_dir)["Alpha"]["id"]
    searchidx("index", archive)
    write_post(archive / "blog", "a.md", {"title": "Alpha"}, "Edited text.")
    searchidx("index")
    posts = _by_title(searchidx.index_dir)
    assert posts["Alpha"]["id"] == before and set(posts) == {"Alpha", "News"}
    # an inner folder of an indexed one adds nothing (and changes no id)
    result = searchidx("index", archive / "news")
    assert f"already indexed as part of {archive}" in result.stderr
    assert _by_title(searchidx.index_dir)["Alpha"]["id"] == before


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_symlinked_folders_are_followed_once_and_loops_reported(tmp_path, searchidx,
                                                                write_post) -> None:
    archive, elsewhere = tmp_path / "arch", tmp_path / "elsewhere"
    write_post(archive, "a.md", {"title": "Alpha"}, "Text.")
    write_post(elsewhere / "linked", "l.md", {"title": "Linked"}, "Text.")
    (archive / "linked").symlink_to(elsewhere / "linked", target_is_directory=True)
    (archive / "again").symlink_to(elsewhere / "linked", target_is_directory=True)
    (elsewhere / "linked" / "loop").symlink_to(archive, target_is_directory=True)
    (archive / "gone.md").symlink_to(tmp_path / "nothing.md")

    result = searchidx("index", archive)
    assert result.exit_code == 0, result.output
    assert "2 added" in result.stdout and "1 skipped" in result.stdout, result.output
    assert "gone.md: a symbolic link to a file that does not exist" in result.stderr
    assert "not followed again" in result.stderr
    posts = _by_title(searchidx.index_dir)
    assert set(posts) == {"Alpha", "Linked"}
    assert posts["Linked"]["path"] == str(archive / "again" / "l.md")  # name order: first
    shutil.rmtree(elsewhere)
    assert "1 removed" in searchidx("index").stdout


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_nested_roots_read_and_report_each_file_once(tmp_path, searchidx, write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive / "blog", "a.md", {"title": "Alpha"}, "Text.")
    (archive / "blog" / "gone.md").symlink_to(tmp_path / "nothing.md")
    searchidx("index", archive / "blog")
    result = searchidx("index", archive)
    assert result.exit_code == 0, result.output
    assert "1 skipped" in result.stdout, result.output
    assert result.stderr.count("gone.md: a symbolic link to a file that does not exist") == 1


def test_an_index_whose_posts_were_all_removed_can_be_searched(tmp_path, searchidx,
                                                               write_post) -> None:
    # Found by the state machine: Whoosh then commits an index of no segment, whose
    # reader has no terms file and no length columns.
    archive = tmp_path / "arch"
    write_post(archive, "a.md", {"title": "Alpha"}, "Zyxquokka text.")
    searchidx("index", archive)
    (archive / "a.md").unlink()
    assert "1 removed" in searchidx("index").stdout
    index = Index.open(searchidx.index_dir)
    for text in ("zyxquokka", "zyx*", "zyxquoka~", '"zyxquokka text"', ""):
        assert index.search(text).total == 0, text
