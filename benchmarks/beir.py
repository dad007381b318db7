"""Running a BEIR-format test collection through searchidx, end to end.

A BEIR collection is `corpus.jsonl` (documents), `queries.jsonl` and `qrels/<split>.tsv`
(judgments). We turn each document into a markdown post named `<_id>.md`, index the
folder with the normal indexer, run each test query through `Index.search` exactly as a
user would, write a TREC run file, and score it with ir-measures (trec_eval's measures).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import ir_measures
import yaml
from ir_measures import R, nDCG

from searchidx import indexer
from searchidx.search import Index

MEASURES = (nDCG @ 10, R @ 100)
DEPTH = 100  # hits per query; Index.search allows at most 100 a page
RUN_TAG = "searchidx"

Run = dict[str, dict[str, float]]  # query id -> {doc id: score}


def iter_jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def write_posts(corpus_path: Path, posts_dir: Path) -> int:
    """One markdown post per document: `<_id>.md`, the title in frontmatter, the text as
    body. Files whose content is unchanged are left alone, so re-indexing is a no-op."""
    posts_dir.mkdir(parents=True, exist_ok=True)
    count = 0
    for doc in iter_jsonl(corpus_path):
        front = yaml.safe_dump({"title": doc.get("title", "").strip()}, allow_unicode=True)
        content = f"---\n{front}---\n\n{doc.get('text', '')}\n"
        path = posts_dir / f"{doc['_id']}.md"
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.write_text(content, encoding="utf-8")
        count += 1
    return count


def doc_id(post_path: str) -> str:
    """The BEIR doc id of a post written by `write_posts`."""
    return Path(post_path).stem


def load_queries(queries_path: Path) -> dict[str, str]:
    return {q["_id"]: q["text"] for q in iter_jsonl(queries_path)}


def load_qrels(qrels_path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels TSV (with a `query-id corpus-id score` header) as {qid: {docid: rel}}."""
    qrels: dict[str, dict[str, int]] = {}
    with qrels_path.open(encoding="utf-8", newline="") as rows:
        reader = csv.reader(rows, delimiter="\t")
        header = next(reader)
        if header[:2] != ["query-id", "corpus-id"]:
            raise ValueError(f"{qrels_path}: expected a BEIR qrels header, got {header}")
        for qid, docid, score in reader:
            qrels.setdefault(qid, {})[docid] = int(score)
    return qrels


def build_index(collection: Path, work_dir: Path) -> Path:
    """Posts under work_dir/posts, indexed into work_dir/index. Returns the index dir."""
    posts_dir = work_dir / "posts"
    index_dir = work_dir / "index"
    write_posts(collection / "corpus.jsonl", posts_dir)
    report = indexer.update(index_dir, [posts_dir])
    if report.skipped:
        first = report.skipped[0]
        raise RuntimeError(
            f"{len(report.skipped)} posts skipped, e.g. {first.path}: {first.reason}"
        )
    return index_dir


def search_run(
    search: Callable[[str], list[tuple[str, float]]], queries: dict[str, str]
) -> Run:
    """Each query through `search` (text -> [(post path, score)], best first)."""
    return {qid: {doc_id(path): score for path, score in search(text)}
            for qid, text in queries.items()}


def index_search(index: Index) -> Callable[[str], list[tuple[str, float]]]:
    """The normal search API, top DEPTH, as a user's query would run it."""
    def search(text: str) -> list[tuple[str, float]]:
        results = index.search(text, per_page=DEPTH, facets=False, snippets=False)
        return [(hit.path, hit.score or 0.0) for hit in results.hits]
    return search


def write_trec_run(run: Run, path: Path, tag: str = RUN_TAG) -> None:
    """TREC run format: `qid Q0 docid rank score tag`, ranked by score."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as out:
        for qid, scores in run.items():
            ranked = sorted(scores.items(), key=lambda item: -item[1])
            for rank, (docid, score) in enumerate(ranked, start=1):
                out.write(f"{qid} Q0 {docid} {rank} {score:.6f} {tag}\n")


def evaluate(qrels: dict[str, dict[str, int]], run_path: Path) -> dict[str, float]:
    """nDCG@10 and Recall@100 averaged over the judged queries (a judged query with no
    hits counts as 0, like trec_eval -c)."""
    run = list(ir_measures.read_trec_run(str(run_path)))
    per_query = {str(m): [] for m in MEASURES}
    for metric in ir_measures.iter_calc(MEASURES, qrels, run):
        per_query[str(metric.measure)].append((metric.query_id, metric.value))
    figures = {}
    for name, values in per_query.items():
        got = dict(values)
        figures[name] = sum(got.get(qid, 0.0) for qid in qrels) / len(qrels) if qrels else 0.0
    return figures
