"""The BEIR harness on a made-up five-document collection: conversion to posts, indexing,
the TREC run file and its evaluation."""

from __future__ import annotations

import json
import math

import pytest

from benchmarks import beir
from searchidx.search import Index

DOCS = [
    {"_id": "101", "title": "Calcium signalling in muscle cells",
     "text": "Calcium ions trigger contraction when they flood the cytosol of muscle fibres."},
    {"_id": "102", "title": "Sleep and memory",
     "text": "Deep sleep helps consolidate memories learned during the day."},
    {"_id": "103", "title": "Troponin after heart injury",
     "text": "Cardiac troponin rises in the blood hours after a myocardial injury."},
    {"_id": "104", "title": "Gut bacteria and diet",
     "text": "A diet rich in fibre changes which bacteria thrive in the gut."},
    {"_id": "105", "title": "",
     "text": "Glaciers retreat faster as summer temperatures climb."},
]
QUERIES = {
    "1": "calcium floods the cytosol during muscle contraction",
    "2": "sleep consolidates memory",
    "3": "glaciers melting in warm summers",
}
QRELS = {"1": {"101": 1}, "2": {"102": 1}, "3": {"105": 1}}


@pytest.fixture
def collection(tmp_path):
    root = tmp_path / "tiny"
    (root / "qrels").mkdir(parents=True)
    (root / "corpus.jsonl").write_text(
        "".join(json.dumps({**d, "metadata": {}}) + "\n" for d in DOCS), encoding="utf-8"
    )
    (root / "queries.jsonl").write_text(
        "".join(json.dumps({"_id": q, "text": t, "metadata": {}}) + "\n"
                for q, t in QUERIES.items()),
        encoding="utf-8",
    )
    rows = ["query-id\tcorpus-id\tscore"]
    rows += [f"{q}\t{d}\t{r}" for q, docs in QRELS.items() for d, r in docs.items()]
    (root / "qrels" / "test.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def test_corpus_becomes_one_post_per_document(collection, tmp_path):
    posts = tmp_path / "posts"
    assert beir.write_posts(collection / "corpus.jsonl", posts) == 5
    assert sorted(p.name for p in posts.iterdir()) == [f"{i}.md" for i in range(101, 106)]
    text = (posts / "103.md").read_text(encoding="utf-8")
    assert text.startswith("---\ntitle: Troponin after heart injury\n---\n")
    assert "myocardial injury" in text
    assert beir.doc_id(str(posts / "103.md")) == "103"


def test_loaders_read_beir_files(collection):
    assert beir.load_queries(collection / "queries.jsonl") == QUERIES
    assert beir.load_qrels(collection / "qrels" / "test.tsv") == QRELS


def test_qrels_without_header_are_rejected(tmp_path):
    bad = tmp_path / "test.tsv"
    bad.write_text("1\t101\t1\n", encoding="utf-8")
    with pytest.raises(ValueError, match="header"):
        beir.load_qrels(bad)


def test_end_to_end_run_is_written_and_scored(collection, tmp_path):
    index_dir = beir.build_index(collection, tmp_path / "work")
    index = Index.open(index_dir)
    run = beir.search_run(beir.index_search(index), QUERIES)
    assert next(iter(run["1"])) == "101"  # best hit first
    assert next(iter(run["3"])) == "105"  # found by its text alone (no title)

    run_path = tmp_path / "run.trec"
    beir.write_trec_run(run, run_path)
    first = run_path.read_text(encoding="utf-8").splitlines()[0].split()
    assert first[:4] == ["1", "Q0", "101", "1"] and first[5] == beir.RUN_TAG
    figures = beir.evaluate(QRELS, run_path)
    assert figures == {"nDCG@10": pytest.approx(1.0), "R@100": pytest.approx(1.0)}


def test_evaluation_counts_rank_and_missing_queries(tmp_path):
    run_path = tmp_path / "run.trec"
    # query 1: the relevant doc at rank 2; query 2: not retrieved; query 3: no run at all
    beir.write_trec_run({"1": {"104": 2.0, "101": 1.0}, "2": {"103": 1.0}}, run_path)
    figures = beir.evaluate(QRELS, run_path)
    assert figures["nDCG@10"] == pytest.approx((1 / math.log2(3)) / 3)
    assert figures["R@100"] == pytest.approx(1 / 3)


# --- claims with syntax characters (SciFact has them) are searched as words -----------

@pytest.fixture
def tiny_index(collection, tmp_path):
    return Index.open(beir.build_index(collection, tmp_path / "work"))


def test_hyphen_inside_parentheses_is_searched(tiny_index):
    results = tiny_index.search("cardiac troponin (HS-cTnT) after injury")
    assert results.hits[0].title == "Troponin after heart injury"


def test_plus_before_a_stop_word_keeps_the_query(tiny_index):
    results = tiny_index.search("levels of Ca2+ in the cytosol")
    assert results.total == 1  # not every post
    assert results.hits[0].title == "Calcium signalling in muscle cells"
