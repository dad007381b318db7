"""Ranking quality: BEIR SciFact (nDCG@10, Recall@100) with ablations, known-item
queries over the real research-blog archives (top-3 / top-10 hit rate), and snippet
quality over those archives (the share of shown hits whose snippet marks a query word).

    python -m benchmarks.relevance [--quick] [--snippets]

`main()` returns the figures and a "markdown" section for RESULTS.md. Both data sets live
under /work/shared, which users do not have: each part is skipped with a note if absent.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import json
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from whoosh.filedb.filestore import FileStorage

from benchmarks import beir, generate
from searchidx import indexer, query
from searchidx.errors import SearchIdxError
from searchidx.posts import read_post
from searchidx.ranking import DEFAULT_RANKING, Ranking
from searchidx.schema import SCHEMA_VERSION, PostSchema, text_analyzer, to_document
from searchidx.search import Index
from searchidx.store import Store

SCIFACT = Path("/work/shared/ir/scifact")
CORPORA = Path("/work/shared/corpora")
CORPUS_DIRS = ("bair-blog", "raisex-ai-news", "smol-ainews")
OUT = Path(__file__).resolve().parent / "out"
REAL_QUERIES = Path(__file__).resolve().parent / "real_queries.json"
QUICK_QUERIES = 50
TITLE_WEIGHTS = (1.0, 2.0, 3.0)
SUMMARY_WEIGHTS = (1.0, 5.0)
PUBLISHED = "BM25 published: 0.665 (BEIR paper), 0.679 nDCG@10 / 0.925 R@100 (Anserini flat)"
# What Index.search's parser reads as syntax; stripping it shows what parsing costs.
SYNTAX = re.compile(r"""[()\[\]{}"'^~*?:+\-!<>=\\/&|]""")


@dataclass(frozen=True)
class Variant:
    """One ranking configuration (`Ranking`, given to `Index.open`), and how queries and
    the index are prepared."""

    label: str
    ranking: Ranking = DEFAULT_RANKING
    strip_syntax: bool = False
    stemmed: bool = True


WEIGHTS = dict(DEFAULT_RANKING.field_weights)


def _ranking(**changes) -> Ranking:
    return dataclasses.replace(DEFAULT_RANKING, **changes)


def variants() -> list[Variant]:
    return [
        *(Variant(f"title ×{w:g}", _ranking(field_weights={**WEIGHTS, "title": w}))
          for w in TITLE_WEIGHTS),
        *(Variant(f"summary ×{w:g}", _ranking(field_weights={**WEIGHTS, "summary": w}))
          for w in SUMMARY_WEIGHTS),
        *(Variant(f"BM25F K1={k1} B={b}", _ranking(k1=k1, b=b))
          for k1 in (0.9, 1.2) for b in (0.4, 0.75)),
        Variant("every word first, queries of ≤ 3 words", _ranking(all_words_first_max_words=3)),
        Variant("every word first, all queries", _ranking(all_words_first_max_words=1000)),
        Variant("one BM25 ranking (plain OR)", _ranking(all_words_first_max_words=0)),
        Variant("stemming off (stop words kept out)", stemmed=False),
        Variant("syntax characters stripped from queries", strip_syntax=True),
    ]


# --- SciFact ---------------------------------------------------------------------------

@dataclass
class QueryProblems:
    errors: list[tuple[str, str]]  # (query, exception) - the search raised
    no_words: list[str]  # the search ignored the query and listed the newest posts


def _searcher(index: Index, strip_syntax: bool, problems: QueryProblems):
    """Index.search as a user calls it; a query that raises counts as no hits."""
    def run(text: str) -> list[tuple[str, float]]:
        if strip_syntax:
            text = SYNTAX.sub(" ", text)
        try:
            results = index.search(text, per_page=beir.DEPTH, facets=False, snippets=False)
        except Exception as exc:  # noqa: BLE001 - recorded and reported, not hidden
            problems.errors.append((text, f"{type(exc).__name__}: {exc}"))
            return []
        if results.notice == query.NO_WORDS_NOTICE:
            problems.no_words.append(text)
            return []  # the newest posts are not a ranking of this query
        return [(hit.path, hit.score or 0.0) for hit in results.hits]
    return run


def unstemmed_index(posts_dir: Path, index_dir: Path) -> Path:
    """The same posts in an index whose prose fields are not stemmed (stop words still
    removed). Built with a plain Whoosh writer: the indexer always uses PostSchema."""
    index_dir.mkdir(parents=True, exist_ok=True)
    analyzer = text_analyzer(stem=False, stop=True)
    # A copy: PostSchema() shares its field objects with every other PostSchema(), so
    # changing them in place made indexes built later in this process (the real-archive
    # index) unstemmed too.
    schema = copy.deepcopy(PostSchema())
    for name in ("title", "summary", "body"):
        schema[name].analyzer = analyzer
    ix = FileStorage(str(index_dir), supports_mmap=False).create_index(schema)
    writer = ix.writer(limitmb=256)
    try:
        for path in sorted(posts_dir.glob("*.md")):
            writer.add_document(**to_document(read_post(path)))
        writer.commit()
    except BaseException:
        writer.cancel()
        raise
    store = Store(index_dir)  # Index.open checks the side store's schema version
    try:
        store.set_meta({"schema_version": SCHEMA_VERSION})
    finally:
        store.close()
    return index_dir


def scifact(quick: bool) -> dict:
    work = OUT / "scifact"
    started = time.monotonic()
    index_dir = beir.build_index(SCIFACT, work)
    index_seconds = time.monotonic() - started
    qrels = beir.load_qrels(SCIFACT / "qrels" / "test.tsv")
    if quick:
        qrels = dict(list(qrels.items())[:QUICK_QUERIES])
    texts = beir.load_queries(SCIFACT / "queries.jsonl")
    queries = {qid: texts[qid] for qid in qrels}

    def measure(variant: Variant, index_path: Path) -> tuple[dict[str, float], QueryProblems]:
        problems = QueryProblems([], [])
        index = Index.open(index_path, ranking=variant.ranking)
        run = beir.search_run(_searcher(index, variant.strip_syntax, problems), queries)
        run_path = work / "runs" / (re.sub(r"\W+", "-", variant.label).strip("-") + ".trec")
        beir.write_trec_run(run, run_path)
        return beir.evaluate(qrels, run_path), problems

    started = time.monotonic()
    default, problems = measure(Variant("default"), index_dir)
    search_seconds = time.monotonic() - started
    rows = []
    for variant in variants():
        index_path = index_dir
        if not variant.stemmed:
            index_path = unstemmed_index(work / "posts", work / "index-unstemmed")
        figures, _ = measure(variant, index_path)
        rows.append((variant.label, figures))
    return {
        "queries": len(queries),
        "ndcg@10": default["nDCG@10"],
        "recall@100": default["R@100"],
        "index_seconds": index_seconds,
        "ms_per_query": 1000 * search_seconds / len(queries),
        "query_errors": problems.errors,
        "query_no_words": problems.no_words,
        "ablations": rows,
    }


def scifact_markdown(fig: dict, quick: bool) -> str:
    scope = f"first {fig['queries']} test queries (quick)" if quick else "all 300 test queries"
    lines = [
        f"### BEIR SciFact ({scope})",
        "",
        f"Current defaults (`{DEFAULT_RANKING}`): "
        f"**nDCG@10 {fig['ndcg@10']:.4f}**, **Recall@100 {fig['recall@100']:.4f}** "
        f"({PUBLISHED}). Indexing took {fig['index_seconds']:.1f} s (a no-op when "
        f"the posts were already indexed); search {fig['ms_per_query']:.0f} ms a query, top 100.",
        "",
    ]
    if fig["query_errors"] or fig["query_no_words"]:
        lines.append(
            f"Query parsing: {len(fig['query_errors'])} queries raised an exception and "
            f"{len(fig['query_no_words'])} were read as having no words (the newest posts "
            "were listed instead); both count as no hits:"
        )
        lines.append("")
        lines += [f"- raised `{err}`: {text!r}" for text, err in fig["query_errors"]]
        lines += [f"- no words: {text!r}" for text in fig["query_no_words"]]
        lines.append("")
    return "\n".join(lines) + "\n"


def ablation_markdown(figures: dict) -> str:
    """One row per variant: SciFact nDCG@10 / Recall@100, real-archive top-3 / top-10."""
    sci = dict(figures["scifact"]["ablations"]) if "scifact" in figures else {}
    real = dict(figures["real"]["ablations"]) if "real" in figures else {}
    lines = [
        "### Ablations (each changes one thing; everything else at the defaults)",
        "",
        "| variant | SciFact nDCG@10 | SciFact R@100 | archives top-3 | archives top-10 |",
        "|---|---|---|---|---|",
    ]
    for variant in variants():
        s, r = sci.get(variant.label), real.get(variant.label)
        lines.append(
            f"| {variant.label} | "
            + (f"{s['nDCG@10']:.4f} | {s['R@100']:.4f} | " if s else "– | – | ")
            + (f"{r['top3']:.0%} | {r['top10']:.0%} |" if r else "– | – |")
        )
    return "\n".join(lines) + "\n"


# --- real archives ---------------------------------------------------------------------

def corpora_index() -> tuple[Path, float]:
    """The index of the real archives (built or brought up to date), and the seconds
    that took. An index built with another analyzer than PostSchema's (before the fix in
    `unstemmed_index`, the unstemmed one) is rebuilt: updates keep an index's schema."""
    index_dir = OUT / "corpora-index"
    if _has_other_analyzer(index_dir):
        shutil.rmtree(index_dir)
    try:
        started = time.monotonic()
        indexer.update(index_dir, [CORPORA / name for name in CORPUS_DIRS])
    except SearchIdxError as exc:
        raise RuntimeError(f"indexing {CORPORA} failed: {exc}") from exc
    return index_dir, time.monotonic() - started


def _has_other_analyzer(index_dir: Path) -> bool:
    try:
        schema = FileStorage(str(index_dir), supports_mmap=False).open_index().schema
    except Exception:  # noqa: BLE001 - no index, or not one Whoosh reads: update() decides
        return False
    return any(schema[name].analyzer != PostSchema()[name].analyzer
               for name in ("title", "summary", "body"))


def real_archives() -> dict:
    index_dir, index_seconds = corpora_index()
    cases = json.loads(REAL_QUERIES.read_text(encoding="utf-8"))
    default = _known_items(Variant("default"), index_dir, cases)
    # The unstemmed variant needs its own index of the archives; it is measured on SciFact.
    ablations = [(v.label, _known_items(v, index_dir, cases)) for v in variants() if v.stemmed]
    return {**default, "index_seconds": index_seconds, "ablations": ablations}


def _known_items(variant: Variant, index_dir: Path, cases: list[dict]) -> dict:
    rows = []
    index = Index.open(index_dir, ranking=variant.ranking)
    for case in cases:
        text = SYNTAX.sub(" ", case["query"]) if variant.strip_syntax else case["query"]
        hits = index.search(text, per_page=10, facets=False, snippets=False).hits
        found = [Path(hit.path).relative_to(CORPORA).as_posix() for hit in hits]
        rank = next((i + 1 for i, path in enumerate(found) if path in case["expected"]), None)
        rows.append({"query": case["query"], "rank": rank, "expected": case["expected"],
                     "top": found[:3]})
    return {
        "queries": len(rows),
        "top3": sum(1 for r in rows if r["rank"] and r["rank"] <= 3) / len(rows),
        "top10": sum(1 for r in rows if r["rank"]) / len(rows),
        "rows": rows,
    }


def real_markdown(fig: dict) -> str:
    lines = [
        f"### Known-item queries over the real archives ({fig['queries']} queries)",
        "",
        "bair-blog, raisex-ai-news and smol-ainews indexed together; each query names a "
        "post's topic in other words (`benchmarks/real_queries.json`). "
        f"**Top-3 hit rate {fig['top3']:.0%}**, **top-10 hit rate {fig['top10']:.0%}**.",
        "",
    ]
    misses = [r for r in fig["rows"] if not r["rank"] or r["rank"] > 3]
    if misses:
        lines += ["| query (not in the top 3) | rank | expected | top 3 instead |",
                  "|---|---|---|---|"]
        for r in misses:
            lines.append(
                f"| {r['query']} | {r['rank'] or '>10'} | {r['expected'][0]} | "
                f"{'<br>'.join(r['top'])} |"
            )
        lines.append("")
    return "\n".join(lines) + "\n"


# --- snippets --------------------------------------------------------------------------

SNIPPET_TARGET = 0.98
SNIPPET_MISSES_LISTED = 10


def snippet_quality(index_dir: Path, queries: list[str], per_page: int = 10) -> dict:
    """Over the shown hits (top `per_page`) of each query: among those whose body or
    summary holds one of the query's words (a term the index finds there, by the
    analyzer that indexed it), the share whose snippet marks at least one."""
    index = Index.open(index_dir)
    # The query's terms as Index.search scores them: the same parse and snapshot.
    view = index._view()  # noqa: SLF001 - a benchmark looks inside on purpose
    searcher, snap = view.searcher, view.snapshot
    analyzer = searcher.schema["body"].analyzer
    eligible = marked = 0
    misses = []
    for text in queries:
        parsed = query.parse(text, searcher.schema, snap.vocabulary)
        if parsed.any is None:
            continue
        terms = snap.query_terms(parsed.any)
        wanted = {name: {t for t, fields in terms.items() if name in fields}
                  for name in ("body", "summary")}
        for hit in index.search(text, per_page=per_page, facets=False).hits:
            record = index.get(hit.id)
            holds = any(wanted[name] & analyzer.term_positions(value).keys()
                        for name, value in (("body", record.body), ("summary", record.summary)))
            if not holds:
                continue
            eligible += 1
            if any(is_match for _, is_match in hit.snippet_spans):
                marked += 1
            else:
                misses.append({"query": text, "path": hit.path, "snippet": hit.snippet})
    return {"queries": len(queries), "eligible": eligible, "marked": marked,
            "share": marked / eligible if eligible else 1.0, "misses": misses}


def snippet_queries() -> list[str]:
    """The 200 benchmark queries (benchmarks/generate.py) and the real-archive ones."""
    cases = json.loads(REAL_QUERIES.read_text(encoding="utf-8"))
    return generate.queries() + [case["query"] for case in cases]


def real_snippets() -> dict:
    index_dir, _seconds = corpora_index()
    return snippet_quality(index_dir, snippet_queries())


def snippet_markdown(fig: dict) -> str:
    verdict = "met" if fig["share"] >= SNIPPET_TARGET else "MISSED"
    lines = [
        "### Snippets over the real archives",
        "",
        f"The {fig['queries']} queries (the 200 benchmark queries of "
        "`benchmarks/generate.py` and the real-archive queries above), top 10 each: of the "
        f"{fig['eligible']} shown hits whose body or summary holds a query word, "
        f"**{fig['share']:.1%}** ({fig['marked']}) have a snippet that marks one "
        f"(target ≥ {SNIPPET_TARGET:.0%}: {verdict}). "
        "`python -m benchmarks.relevance --snippets` measures this alone.",
        "",
    ]
    if fig["misses"]:
        lines += ["| query | post | snippet shown |", "|---|---|---|"]
        for miss in fig["misses"][:SNIPPET_MISSES_LISTED]:
            lines.append(f"| {miss['query']} | {miss['path']} | {miss['snippet'][:80]}… |")
        lines.append("")
    return "\n".join(lines) + "\n"


# --- entry points ----------------------------------------------------------------------

def main(quick: bool = False) -> dict:
    """Run what the machine has data for. Returns figures and a "markdown" section."""
    figures: dict = {}
    parts = ["## Relevance", ""]
    if (SCIFACT / "corpus.jsonl").exists():
        figures["scifact"] = scifact(quick)
        parts.append(scifact_markdown(figures["scifact"], quick))
    else:
        parts.append(f"SciFact skipped: {SCIFACT} is not on this machine.\n")
    if CORPORA.is_dir():
        figures["real"] = real_archives()
        parts.append(real_markdown(figures["real"]))
        figures["snippets"] = real_snippets()
        parts.append(snippet_markdown(figures["snippets"]))
    else:
        parts.append(f"Real-archive queries skipped: {CORPORA} is not on this machine.\n")
    if "scifact" in figures or "real" in figures:
        parts.append(ablation_markdown(figures))
    figures["markdown"] = "\n".join(parts)
    return figures


def _cli() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"SciFact: only the first {QUICK_QUERIES} test queries")
    parser.add_argument("--snippets", action="store_true",
                        help="only snippet quality over the real archives")
    args = parser.parse_args()
    if args.snippets:
        if not CORPORA.is_dir():
            raise SystemExit(f"{CORPORA} is not on this machine")
        print(snippet_markdown(real_snippets()))
        return
    print(main(quick=args.quick)["markdown"])


if __name__ == "__main__":
    _cli()

