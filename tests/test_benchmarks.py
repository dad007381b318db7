"""The benchmark generator, baselines and speed helpers, on a small archive (fast; no
timings asserted)."""

from __future__ import annotations

import re
from pathlib import Path

import frontmatter
import pytest
from whoosh import index as whoosh_index

from benchmarks import baselines, speed
from benchmarks.generate import SOURCE_COUNT, first_posts, generate, queries, vocabulary
from searchidx import indexer
from searchidx.posts import parse_date, read_post
from searchidx.search import Index

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


# --- speed.py: term-expansion queries and their measurement --------------------------------

def test_first_posts_are_the_archives_first_posts(archive):
    by_number = {int(p.name.split("-")[3]): p.read_text() for p in baselines.post_files(archive)}
    assert first_posts(10) == [by_number[i] for i in range(10)]


def test_expansion_queries_are_fixed_and_forty_of_each_kind():
    items = speed.expansion_queries()
    assert items == speed.expansion_queries()
    assert len(items) == 200 and len({text for _, text in items}) == 200
    assert [kind for kind, _ in items[:5]] == list(speed.EXPANSION_KINDS)  # interleaved
    by_kind = {kind: [t for k, t in items if k == kind] for kind in speed.EXPANSION_KINDS}
    assert {len(texts) for texts in by_kind.values()} == {40}
    real = set(vocabulary()[0])
    for text in by_kind["fuzzy"]:
        assert re.fullmatch(r"[a-z]{4,}~2?", text) and text.rstrip("~2") not in real
    assert 0 < sum(t.endswith("~2") for t in by_kind["fuzzy"]) < 40
    assert all(re.fullmatch(r"[a-z]{4,}", t) and t not in real for t in by_kind["typo"])
    assert {len(t) - 1 for t in by_kind["prefix"]} == {3, 4, 5, 6}
    assert all(re.fullmatch(r"[a-z]{3,6}\*", t) for t in by_kind["prefix"])
    assert all(re.fullmatch(r"[a-z]+\?[a-z]*", t) for t in by_kind["wildcard_char"])
    assert all(re.fullmatch(r"\*[a-z]{4,5}", t) for t in by_kind["wildcard_leading"])


def test_expansion_queries_come_from_words_of_the_generated_posts(archive):
    text = "\n".join(p.read_text().lower() for p in baselines.post_files(archive))
    words = set(re.findall(r"[a-z]+", text))
    items = speed.expansion_queries(per_kind=10, sample_posts=N)
    for kind, query in items:
        if kind == "prefix":
            assert any(w.startswith(query[:-1]) for w in words), query
        elif kind == "wildcard_char":
            pattern = re.compile(re.escape(query).replace(r"\?", "[a-z]"))
            assert any(pattern.fullmatch(w) for w in words), query
        elif kind == "wildcard_leading":
            assert any(w.endswith(query[1:]) and w != query[1:] for w in words), query


@pytest.fixture(scope="module")
def archive_index(archive, tmp_path_factory) -> Path:
    index_dir = tmp_path_factory.mktemp("index") / "index"
    indexer.update(index_dir, [archive])
    return index_dir


def test_expansion_latency_reports_every_kind_and_what_raised(archive_index, monkeypatch):
    items = speed.expansion_queries(per_kind=2, sample_posts=N)
    broken = items[1][1]
    search = Index.search

    def flaky(self, text="", **options):
        if text == broken:
            raise ValueError("parser fell over")
        return search(self, text, **options)

    monkeypatch.setattr(Index, "search", flaky)
    out = speed.expansion_latency(archive_index, items)
    assert set(out["kinds"]) == set(speed.EXPANSION_KINDS)
    assert out["all"]["queries"] == len(items) - 1
    assert sum(q["queries"] for q in out["kinds"].values()) == len(items) - 1
    assert out["failures"] == [f"{broken!r}: ValueError: parser fell over"]
    for q in [out["all"], *out["kinds"].values()]:
        assert set(q) == {"p50_ms", "p95_ms", "p99_ms", "queries", "with_hits",
                          "with_suggestion"}
        assert 0 <= q["with_hits"] <= q["queries"] and 0 <= q["with_suggestion"] <= q["queries"]


def _fake_run(label: str, expansion: dict) -> dict:
    q = {"p50_ms": 10.0, "p95_ms": 20.0, "p99_ms": 30.0, "queries": 200}
    return {
        "label": label, "posts": 50,
        "searchidx": {"posts_per_s": 400.0, "rss_mb": 100.0, "tree_rss_mb": 200.0,
                      "bytes": 10**6, "runs_posts_per_s": [400.0, 390.0]},
        "fts5": {"posts_per_s": 800.0, "bytes": 10**6},
        "resync": {"unchanged_s": 0.1, "one_changed_s": 0.2},
        "cli": {"median_ms": 300.0, "failures": []},
        "queries": {"plain": q, "snippets_facets": q},
        "vs_naive_whoosh": 3.1, "expansion": expansion,
    }


def test_results_markdown_has_the_term_expansion_row_and_target(archive_index):
    expansion = speed.expansion_latency(archive_index,
                                        speed.expansion_queries(per_kind=1, sample_posts=N))
    runs = [_fake_run("synthetic 50", expansion)]
    figures = {"quick": True, "runs": runs, "real_corpora_present": False,
               "naive_whoosh": {"posts_per_s": 130.0, "subset": 50, "rss_mb": 90.0,
                                "runs_posts_per_s": [130.0, 120.0]},
               "timings_s": {"total": 1.0}, "targets": speed.targets(runs, 50)}
    assert figures["targets"]["expansion_p99_ms"] == expansion["all"]["p99_ms"]
    text = speed.markdown(figures)
    assert "term expansion (fuzzy, wildcard) p99 ≤ 50 ms" in text
    assert "| synthetic 50 | term expansion (fuzzy, wildcard) | 5 |" in text
    for kind in speed.EXPANSION_KINDS:
        assert f"| synthetic 50 | term expansion: {kind} | 1 |" in text
    assert "| synthetic 50 | snippets_facets | 200 | 10.0 | 20.0 | 30.0 |" in text
