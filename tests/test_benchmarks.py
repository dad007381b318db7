"""The benchmark generator and baselines, on a small archive (fast; no timings asserted)."""

from __future__ import annotations

from pathlib import Path

import frontmatter
import pytest
from whoosh import index as whoosh_index

from benchmarks import baselines
from benchmarks.generate import SOURCE_COUNT, generate, queries
from searchidx.posts import parse_date, read_post

N = 50


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("archive"), N, seed=0)


def _contents(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in baselines.post_files(root)}


def test_same_seed_gives_identical_files_and_another_seed_does_not(archive, tmp_path):
    again = generate(tmp_path / "again", N, seed=0)
    other = generate(tmp_path / "other", N, seed=1)
    assert _contents(again) == _contents(archive)
    assert _contents(other) != _contents(archive)


def test_an_existing_archive_is_reused_not_rewritten(archive):
    first = baselines.post_files(archive)[0]
    before = first.stat().st_mtime_ns
    generate(archive, N, seed=0)
    assert first.stat().st_mtime_ns == before


def test_posts_have_the_archive_frontmatter_shape(archive):
    files = baselines.post_files(archive)
    assert len(files) == N
    sources = set()
    for path in files:
        post = frontmatter.load(str(path))
        assert list(post.metadata) == [
            "title", "description", "summary", "pubDate", "source", "url", "thumbnail"
        ]
        date = parse_date(post.metadata["pubDate"])
        assert post.metadata["pubDate"].endswith(" 00:00:00 +0000")
        assert 2015 <= date.year <= 2026
        words = len(post.content.split())
        assert 300 <= words <= 1700, (path, words)  # 300-1,500 words plus headings
        sources.add(post.metadata["source"])
    assert 1 < len(sources) <= SOURCE_COUNT
    # searchidx itself reads every generated post without complaint
    parsed = read_post(files[0])
    assert parsed.title and parsed.date and parsed.source and parsed.url


def test_bodies_carry_markdown_headings_and_links(archive):
    text = "\n".join(p.read_text() for p in baselines.post_files(archive))
    assert "\n## " in text
    assert "](https://example.org/" in text


def test_queries_are_fixed_and_one_to_three_words():
    first, second = queries(0), queries(0)
    assert first == second
    assert len(first) == 200
    assert {len(q.split()) for q in first} == {1, 2, 3}
    assert len(set(first)) > 150


def test_fts5_baseline_indexes_and_finds_a_posts_title(archive, tmp_path):
    files = baselines.post_files(archive)
    db = tmp_path / "fts.db"
    baselines.fts5_index(files, db)
    target = frontmatter.load(str(files[7]))
    searcher = baselines.Fts5Searcher(db)
    try:
        hits = searcher.search(target["title"])
        assert str(files[7]) in [row[0] for row in hits]
        with_snippets = searcher.search(target["title"], snippets=True)
        assert any("<mark>" in row[3] for row in with_snippets)
        recent = searcher.search(target["title"], since="2020")
        assert recent and all(row[2] >= "2020" for row in recent)
        assert searcher.search("C++ (unclosed") is not None  # punctuation never breaks FTS5
    finally:
        searcher.close()


def test_naive_whoosh_baseline_indexes_every_post(archive, tmp_path):
    files = baselines.post_files(archive)
    baselines.naive_whoosh_index(files, tmp_path / "ix")
    ix = whoosh_index.open_dir(str(tmp_path / "ix"))
    try:
        assert ix.doc_count() == N
    finally:
        ix.close()
    assert baselines.dir_bytes(tmp_path / "ix") > 0
