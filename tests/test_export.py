"""`searchidx export`: every post, every field, one JSON object a line (issue 16), checked
against the post files themselves."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from click.testing import CliRunner
from whoosh.lang import stopwords_for_language

from searchidx import Index
from searchidx.cli import cli
from searchidx.posts import read_post

FIELDS = {"id", "path", "title", "summary", "url", "link", "source", "date", "tags",
          "authors", "thumbnail", "hidden", "body", "markdown", "cites"}


def test_export_round_trips_every_post_and_field(corpus_index_dir, corpus_dir) -> None:
    result = CliRunner().invoke(cli, ["--index", str(corpus_index_dir), "export"])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    files = sorted(corpus_dir.glob("*.md"))
    # hidden posts and copies included: one line per file, in path order
    assert [line["path"] for line in lines] == [str(path) for path in files]
    for line in lines:
        assert set(line) == FIELDS
        post = read_post(line["path"], key=f"corpus/{line['path'].rsplit('/', 1)[1]}")
        assert line["id"] == post.id
        assert (line["title"], line["summary"], line["body"], line["markdown"]) == (
            post.title, post.summary, post.body, post.markdown)
        assert (line["source"] or "", line["url"] or "", line["thumbnail"] or "") == (
            post.source, post.url, post.thumbnail)
        assert (tuple(line["tags"]), tuple(line["authors"]), line["hidden"]) == (
            post.tags, post.authors, post.hidden)
        assert line["date"] == (post.date.isoformat() + "Z" if post.date else None)
        assert [(c["kind"], c["id"]) for c in line["cites"]] == [
            (c.kind, c.id) for c in post.cites]


def test_docs_scale_mapping_names_every_field_the_export_writes(corpus_index_dir) -> None:
    """docs/scale.md's OpenSearch mapping cannot drift from the export (its
    `"dynamic": "strict"` would reject a field it does not name) nor from our stop words."""
    page = (Path(__file__).resolve().parent.parent / "docs" / "scale.md").read_text()
    blocks = [json.loads(block) for block in re.findall(r"```json\n(.*?)```", page, re.S)]
    (mapping,) = [block for block in blocks if "mappings" in block]
    properties = mapping["mappings"]["properties"]
    result = CliRunner().invoke(cli, ["--index", str(corpus_index_dir), "export"])
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert set().union(*lines) == FIELDS <= set(properties)
    cited = [citation for line in lines for citation in line["cites"]]
    assert cited and set().union(*cited) <= set(properties["cites"]["properties"])
    stop = mapping["settings"]["analysis"]["filter"]["searchidx_stop"]["stopwords"]
    assert set(stop) == stopwords_for_language("en")


def test_an_export_survives_a_search_in_its_thread_after_the_index_was_replaced(
        tmp_path: Path, write_post) -> None:
    """A search between two records of an export may open a new view of a replaced
    index (and close this thread's old one): the export goes on reading its own."""
    archive = tmp_path / "archive"
    for n in range(3):
        write_post(archive, f"post-{n}.md", {"title": f"Post {n}"}, f"Zyxword body {n}.")
    index = Index.create(tmp_path / "index", [archive])
    records = index.export()
    first = next(records)
    shutil.rmtree(tmp_path / "index")
    Index.create(tmp_path / "index", [archive])
    assert index.search("zyxword").total == 3
    rest = list(records)
    assert [first.title] + [r.title for r in rest] == ["Post 0", "Post 1", "Post 2"]
    assert all(r.body.startswith("Zyxword body") for r in [first, *rest])
