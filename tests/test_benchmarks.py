"""The benchmark generator, baselines, speed helpers and the scale report, on small
archives (fast; no timings asserted)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import frontmatter
import pytest
from whoosh import index as whoosh_index

from benchmarks import baselines, scale, speed
from benchmarks.generate import SOURCE_COUNT, first_posts, generate, queries, vocabulary
from benchmarks.run import HAND_MEASUREMENTS
from benchmarks.run import HERE as BENCHMARKS
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


# --- scale.py: the issue-16 report, at tiny sizes ---------------------------------------------

SCALE_SIZES = (100, 200)
_NUMBER = r"[\d,]+(?:\.\d+)?"


@pytest.fixture(scope="module")
def scale_run(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("scale")
    figures = scale.main(["--sizes", ",".join(map(str, SCALE_SIZES)), "--out", str(out / "report"),
                          "--work", str(out / "work")])
    return out / "report", figures


def test_scale_report_has_every_size_mode_and_figure(scale_run):
    report, figures = scale_run
    text = (report / "SCALE.md").read_text()
    assert json.loads((report / "scale.json").read_text())["sizes"] == list(SCALE_SIZES)
    assert "`python -m benchmarks.scale --sizes 100,200 --out " in text
    assert re.search(r"2 CPUs|\d+ CPUs", text) and "load average at start" in text
    assert "built once" in text
    assert text.endswith(HAND_MEASUREMENTS) and (BENCHMARKS / "HISTORY.md").exists()
    assert re.search(r"^Time taken \(s\): 100 posts generate \d+, build searchidx \d+, "
                     r"build FTS5 \d+, re-sync \d+, queries \d+, CLI \d+; 200 posts ", text, re.M)
    for run in figures["runs"]:
        n = f"{run['size']:,}"
        ours, fts = run["searchidx"], run["fts5"]
        # build, size, re-sync, CLI: one row of 13 figures, the same as scale.json's
        (row,) = [line for line in text.splitlines() if line.startswith(f"| {n} | ")
                  and "UTC" in line]
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        assert len(cells) == 13, row
        assert cells[2] == f"{ours['posts_per_s']:.0f}" and cells[3] == f"{fts['posts_per_s']:.0f}"
        assert cells[5] == f"{ours['tree_rss_mb']:.0f} ({ours['rss_mb']:.0f})"
        assert cells[6] == f"{ours['bytes'] / 1e6:.1f} ({ours['side_store_bytes'] / 1e6:.1f})"
        assert 0 < ours["side_store_bytes"] < ours["bytes"]
        assert cells[9] == f"{run['resync']['unchanged_s']:.2f}"
        assert cells[11] == f"{run['cli']['median_ms']:.0f}" and not run["cli"]["failures"]
        for mode in scale.MODES:
            q = run["queries"][mode]
            assert q["queries"] == 200 and q["fts5"]["queries"] == 200  # no time cap
            assert re.search(rf"^\| {n} \| {mode} \| 200 \| {q['p50_ms']:.1f} \| "
                             rf"{q['p95_ms']:.1f} \| {q['p99_ms']:.1f} \| "
                             rf"{q['fts5']['p50_ms']:.2f} \| ({_NUMBER} \| ){{2}}"
                             rf"{_NUMBER}× \| {_NUMBER}× \|$", text, re.M), (n, mode)


def test_scale_report_states_every_target_of_issue_16(scale_run):
    _, figures = scale_run
    text = figures["markdown"]
    names = [t["target"] for t in figures["targets"]]
    assert names == [
        "query p50 ≤ 20 ms at 200 posts, snippets and facets",
        "query p99 ≤ 100 ms at 200 posts, snippets and facets",
        "build throughput at 200 within 25% of 100's",
        "peak memory of the process tree ≤ 1,024 MB, every size",
        "index + side store ≤ 1.5× FTS5 with its content, every size",
        "cold CLI search ≤ 1 s, every size",
        "query p50 ≤ 50 ms at 1,000,000 posts, snippets and facets",
        "no-op re-sync ≤ 10 s at 1,000,000 posts",
    ]
    for t in figures["targets"][:6]:
        verdict = "met" if t["met"] else "**MISSED**"
        assert f"| {t['target']} | {t['figure']} | {verdict} |" in text
    for t in figures["targets"][6:]:  # no million row in this run or before it
        assert f"| {t['target']} | not measured | not measured |" in text


def test_scale_keeps_the_million_row_of_an_earlier_run(scale_run, tmp_path):
    _, figures = scale_run
    million = {**figures["runs"][0], "size": scale.MILLION, "posts": scale.MILLION,
               "date": "2026-12-24 09:00 UTC", "command": "python -m benchmarks.scale --million"}
    million["searchidx"] = {**million["searchidx"], "tree_rss_mb": 2526.0}
    (tmp_path / "scale.json").write_text(json.dumps({"runs": [*figures["runs"], million]}))
    assert scale.carried_million(tmp_path / "scale.json", (scale.MILLION,)) is None
    carried = scale.carried_million(tmp_path / "scale.json", SCALE_SIZES)
    assert carried == {**million, "carried_over": True}
    runs = [*figures["runs"], carried]
    kept = scale.targets(runs)
    text = scale.markdown({**figures, "runs": runs, "targets": kept})
    assert "| 1,000,000 | " in text and "| 2026-12-24 09:00 UTC (carried over) |" in text
    assert ("measured on 2026-12-24 09:00 UTC with `python -m benchmarks.scale --million` "
            "and is carried over") in text
    assert "| 1,000,000 | plain | 200 |" in text
    p50 = million["queries"]["snippets_facets"]["p50_ms"]
    assert (f"| query p50 ≤ 50 ms at 1,000,000 posts, snippets and facets | {p50:.1f} ms "
            f"(measured 2026-12-24 09:00 UTC) | {'met' if p50 <= 50 else '**MISSED**'} |") in text
    # the query and throughput targets read this run's sizes; "every size" includes the
    # carried row, so its memory is a miss named with its date
    assert kept[:3] == figures["targets"][:3]
    assert kept[3] == {"target": "peak memory of the process tree ≤ 1,024 MB, every size",
                       "figure": "2,526 MB at 1,000,000 (measured 2026-12-24 09:00 UTC)",
                       "met": False}
