"""Speed of searchidx against SQLite FTS5 and a naive Whoosh indexer, on the same posts.

For each synthetic archive size (and the real corpora in /work/shared/corpora when present):
full indexing (posts/s, peak RSS, index size), re-sync with nothing or one post changed,
query latency percentiles over 200 fixed queries in four modes, CLI cold start and, on the
largest archive, the web page's response time.

Indexing runs in a child process (`python -m benchmarks.speed --child ...`) so each
indexer's peak memory is its own.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path

from benchmarks import baselines
from benchmarks.generate import generate, queries

OUT = Path(__file__).resolve().parent / "out"
REAL_CORPORA = Path("/work/shared/corpora")
REAL_DIRS = ("raisex-ai-news", "bair-blog", "smol-ainews")
SIZES = (10_000, 50_000)
QUICK_SIZES = (2_000,)
# The naive Whoosh writer on all 50k posts would take ~8 minutes a run. Its posts/s only
# falls as an archive grows (177 at 500 posts, 130 at 5,000: its pool spills and merges
# more), so a subset overstates it and the ratio reported at 50k is a lower bound.
WHOOSH_SUBSET = 10_000
QUICK_WHOOSH_SUBSET = 500
CLI_RUNS = 10
INDEX_RUNS = 2  # each indexer's figure is its fastest build of this many
WEB_REQUESTS = 50
# Time caps keep `make bench` inside its 15 minutes when queries are slow: a query mode
# stops after this many seconds (and at least MIN_SAMPLES queries); the count is reported.
MODE_BUDGET_S = 20.0
MIN_SAMPLES = 20
SEED = 0


# --- the child process: one indexing run, reporting its own time and peak memory -----------

class _TreeMemory:
    """Peak resident memory of this process and every process below it, sampled every
    0.2 s. The parse and segment workers are children of a forkserver, not of this
    process, so RUSAGE_CHILDREN never sees them."""

    def __init__(self) -> None:
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> _TreeMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.2):
            self.peak_mb = max(self.peak_mb, _tree_rss_kb(os.getpid()) / 1024)

def _tree_rss_kb(root: int) -> int:
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended
        pid = int(stat.parent.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE") // 1024
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.update(children)
        frontier = children
    return sum(rss.get(pid, 0) for pid in tree)


def _child(kind: str, archive: str, target: str, limit: int | None) -> dict:
    roots = [Path(p) for p in archive.split(os.pathsep)]
    with _TreeMemory() as memory:
        if kind == "searchidx":
            from searchidx.indexer import update

            shutil.rmtree(target, ignore_errors=True)
            started = time.perf_counter()
            report = update(target, roots, rebuild=True)
            seconds, posts = time.perf_counter() - started, report.added
            skipped = len(report.skipped)
        else:
            files = [f for root in roots for f in baselines.post_files(root)][:limit]
            index = baselines.fts5_index if kind == "fts5" else baselines.naive_whoosh_index
            if kind == "whoosh":
                shutil.rmtree(target, ignore_errors=True)
            seconds, posts, skipped = index(files, target), len(files), 0
    return {
        "seconds": seconds,
        "posts": posts,
        "skipped": skipped,
        "posts_per_s": posts / seconds,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "tree_rss_mb": memory.peak_mb,
        "bytes": baselines.dir_bytes(target),
    }


def index_best_of(kind: str, roots: list[Path], target: Path, limit: int | None = None) -> dict:
    """The fastest of INDEX_RUNS builds, with every run's posts/s: this machine is a shared
    VM, and one neighbour's burst moved a single 50k figure by 10%. Every indexer gets the
    same number of runs."""
    runs = [index_in_child(kind, roots, target, limit) for _ in range(INDEX_RUNS)]
    best = max(runs, key=lambda run: run["posts_per_s"])
    return {**best, "runs_posts_per_s": [run["posts_per_s"] for run in runs]}


def index_in_child(kind: str, roots: list[Path], target: Path, limit: int | None = None) -> dict:
    command = [sys.executable, "-m", "benchmarks.speed", "--child", kind,
               os.pathsep.join(map(str, roots)), str(target)]
    if limit:
        command += ["--limit", str(limit)]
    done = subprocess.run(command, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parent.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} indexing failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- measuring ------------------------------------------------------------------------------

def percentiles(seconds: list[float]) -> dict:
    """p50/p95/p99 in milliseconds (nearest rank)."""
    ordered = sorted(seconds)

    def rank(p: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))] * 1000

    return {"p50_ms": rank(50), "p95_ms": rank(95), "p99_ms": rank(99)}


def time_each(call: Callable[[str], object], texts: list[str]) -> dict:
    for text in texts[:3]:  # warm caches and the searcher, as a running server would be
        call(text)
    seconds = []
    deadline = time.perf_counter() + MODE_BUDGET_S
    for text in texts:
        started = time.perf_counter()
        call(text)
        seconds.append(time.perf_counter() - started)
        if len(seconds) >= MIN_SAMPLES and started > deadline:
            break
    return {**percentiles(seconds), "queries": len(seconds)}


def query_latency(index_dir: Path, db_path: Path, texts: list[str]) -> dict:
    from searchidx.search import Index

    fts = baselines.Fts5Searcher(db_path)
    modes = {
        "plain": dict(snippets=False, facets=False),
        "snippets": dict(snippets=True, facets=False),
        "facets": dict(snippets=False, facets=True),
        "since_2020": dict(snippets=False, facets=False, since="2020"),
        # what the CLI and the web page ask for: issue 4's target is on this one
        "snippets_facets": dict(snippets=True, facets=True),
    }
    fts_modes = {"plain": {}, "snippets": {"snippets": True}, "since_2020": {"since": "2020"},
                 "snippets_facets": {"snippets": True}}
    out = {}
    for mode, options in modes.items():
        # A fresh Index per mode: searchidx caches posting lists per index generation, and
        # a mode must not ride on the lists the previous mode's identical queries decoded.
        idx = Index.open(index_dir)
        out[mode] = time_each(lambda t, o=options, i=idx: i.search(t, per_page=10, **o), texts)
        if mode in fts_modes:
            out[mode]["fts5"] = time_each(lambda t, o=fts_modes[mode]: fts.search(t, **o), texts)
        print(f"    query {mode:<11} ({out[mode]['queries']:3d} q) "
              f"p50 {out[mode]['p50_ms']:7.1f} ms  "
              f"p95 {out[mode]['p95_ms']:7.1f}  p99 {out[mode]['p99_ms']:7.1f}"
              + (f"   FTS5 p50 {out[mode]['fts5']['p50_ms']:6.2f} ms"
                 f"  ({_ratio(out[mode]['p50_ms'], out[mode]['fts5']['p50_ms'])} of FTS5)"
                 if "fts5" in out[mode] else ""), flush=True)
    fts.close()
    return out


def resync(index_dir: Path, roots: list[Path]) -> dict:
    """Seconds for a re-sync with nothing changed, then with one post edited."""
    from searchidx.indexer import update

    started = time.perf_counter()
    report = update(index_dir, roots)
    unchanged = time.perf_counter() - started
    assert report.added == report.updated == 0, report

    victim = baselines.post_files(roots[0])[0]
    original, stat = victim.read_bytes(), victim.stat()
    victim.write_bytes(original + b"\n\nEdited once for the re-sync benchmark.\n")
    try:
        started = time.perf_counter()
        report = update(index_dir, roots)
        one_changed = time.perf_counter() - started
        assert report.updated == 1, report
    finally:  # put the archive back as generated, so later runs can reuse it
        victim.write_bytes(original)
        os.utime(victim, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        update(index_dir, roots)
    return {"unchanged_s": unchanged, "one_changed_s": one_changed}


def cli_cold_start(index_dir: Path, texts: list[str]) -> dict:
    """Median wall time of `searchidx --index DIR search QUERY` as a fresh process."""
    script = Path(sys.executable).parent / "searchidx"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "searchidx"]
    seconds, failures = [], []
    for text in texts[:CLI_RUNS]:
        started = time.perf_counter()
        done = subprocess.run(base + ["--index", str(index_dir), "search", text],
                              capture_output=True, text=True)
        seconds.append(time.perf_counter() - started)
        if done.returncode not in (0, 1):  # 1 = nothing found, like grep
            failures.append(f"{text!r}: exit {done.returncode}: {done.stderr.strip()}")
    if failures:  # a timing of failed runs means nothing: say why instead
        print(f"    CLI cold start: {len(failures)} of {CLI_RUNS} runs failed, e.g. {failures[0]}")
    return {"median_ms": statistics.median(seconds) * 1000, "failures": failures}


def web_latency(index_dir: Path, texts: list[str]) -> dict | None:
    """Median response time of `/` with a query, from the real app under waitress."""
    if importlib.util.find_spec("web") is None:
        return None
    try:
        from web import create_app
    except ImportError as exc:
        print(f"    web: not measured, `from web import create_app` failed ({exc})")
        return None
    from waitress import create_server

    server = create_server(create_app(index_dir), host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.effective_port}/?"
    seconds: list[float] = []
    deadline = time.perf_counter() + MODE_BUDGET_S
    try:
        for i in range(WEB_REQUESTS + 3):
            if len(seconds) >= MIN_SAMPLES and time.perf_counter() > deadline:
                break
            url = base + urllib.parse.urlencode({"q": texts[i % len(texts)]})
            started = time.perf_counter()
            with urllib.request.urlopen(url, timeout=30) as response:
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {url} gave {response.status}")
            if i >= 3:  # the first requests warm the searcher
                seconds.append(time.perf_counter() - started)
    finally:
        server.close()
    return {"median_ms": statistics.median(seconds) * 1000, "requests": len(seconds)}


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


# --- one archive ----------------------------------------------------------------------------

def bench_archive(label: str, roots: list[Path], texts: list[str], work: Path,
                  with_web: bool) -> dict:
    print(f"\n== {label}", flush=True)
    work.mkdir(parents=True, exist_ok=True)
    index_dir, db_path = work / "searchidx-index", work / "fts5.db"
    ours = index_best_of("searchidx", roots, index_dir)
    fts = index_best_of("fts5", roots, db_path)
    print(f"    indexing (best of {INDEX_RUNS}; runs "
          f"{', '.join(f'{r:.0f}' for r in ours['runs_posts_per_s'])} posts/s): "
          f"searchidx {ours['posts']} posts in {ours['seconds']:.1f} s = "
          f"{ours['posts_per_s']:.0f} posts/s (peak RSS {ours['rss_mb']:.0f} MB, all processes "
          f"{ours['tree_rss_mb']:.0f} MB, index {ours['bytes'] / 1e6:.1f} MB); "
          f"FTS5 {fts['posts_per_s']:.0f} posts/s ({fts['bytes'] / 1e6:.1f} MB, "
          f"RSS {fts['rss_mb']:.0f} MB): {_ratio(ours['posts_per_s'], fts['posts_per_s'])} "
          f"of FTS5 speed, {_ratio(ours['bytes'], fts['bytes'])} of its size", flush=True)
    sync = resync(index_dir, roots)
    print(f"    re-sync: nothing changed {sync['unchanged_s']:.2f} s, one post changed "
          f"{sync['one_changed_s']:.2f} s", flush=True)
    latency = query_latency(index_dir, db_path, texts)
    cli = cli_cold_start(index_dir, texts)
    print(f"    CLI cold start (median of {CLI_RUNS}): {cli['median_ms']:.0f} ms", flush=True)
    result = {"label": label, "posts": ours["posts"], "searchidx": ours, "fts5": fts,
              "resync": sync, "queries": latency, "cli": cli}
    if with_web:
        web = web_latency(index_dir, texts)
        if web is None:
            print("    web: not measured (the `web` package has no create_app yet)")
        else:
            print(f"    web / (median of {web['requests']}): {web['median_ms']:.1f} ms", flush=True)
        result["web"] = web
    return result


def main(quick: bool = False) -> dict:
    """Run every speed measurement; returns the figures and a markdown section."""
    started = time.perf_counter()
    sizes = QUICK_SIZES if quick else SIZES
    texts = queries(SEED)
    timings: dict[str, float] = {}
    runs = []
    for n in sizes:
        t0 = time.perf_counter()
        archive = generate(OUT / f"archive-{n}-s{SEED}", n, SEED)
        timings[f"generate {n}"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        runs.append(bench_archive(f"synthetic {n:,}", [archive], texts, OUT / f"work-{n}",
                                  with_web=n == sizes[-1]))
        timings[f"bench {n}"] = time.perf_counter() - t0

    subset = QUICK_WHOOSH_SUBSET if quick else WHOOSH_SUBSET
    largest = OUT / f"archive-{sizes[-1]}-s{SEED}"
    t0 = time.perf_counter()
    whoosh = index_best_of("whoosh", [largest], OUT / "work-whoosh-naive", limit=subset)
    timings["naive whoosh"] = time.perf_counter() - t0
    print(f"\n== naive Whoosh on the first {subset:,} posts of the {sizes[-1]:,} archive "
          f"(it slows as an archive grows: the 50k ratio is a lower bound): "
          f"{whoosh['posts_per_s']:.0f} posts/s, "
          f"peak RSS {whoosh['rss_mb']:.0f} MB, index {whoosh['bytes'] / 1e6:.1f} MB", flush=True)
    for run in runs:
        run["vs_naive_whoosh"] = run["searchidx"]["posts_per_s"] / whoosh["posts_per_s"]
        print(f"    {run['label']}: searchidx indexes "
              f"{run['vs_naive_whoosh']:.2f}× as fast as naive Whoosh")

    real = [REAL_CORPORA / d for d in REAL_DIRS if (REAL_CORPORA / d).is_dir()]
    if quick:  # indexing the real corpora alone takes about a minute
        print("\n== real corpora: skipped in quick mode (run `make bench` for them)")
    elif real:
        t0 = time.perf_counter()
        runs.append(bench_archive("real corpora (" + " + ".join(p.name for p in real) + ")",
                                  real, texts, OUT / "work-real", with_web=False))
        timings["real corpora"] = time.perf_counter() - t0
    else:
        print(f"\n== real corpora: skipped, {REAL_CORPORA} is not present")

    timings["total"] = time.perf_counter() - started
    figures = {"quick": quick, "runs": runs, "naive_whoosh": {**whoosh, "subset": subset},
               "real_corpora_present": bool(real), "timings_s": timings,
               "targets": targets(runs, sizes[-1])}
    figures["markdown"] = markdown(figures)
    return figures


def targets(runs: list[dict], largest: int) -> dict:
    run = next(r for r in runs if r["label"] == f"synthetic {largest:,}")
    speedup = run["vs_naive_whoosh"]
    snippets_p50 = run["queries"]["snippets_facets"]["p50_ms"]
    return {
        "at_posts": largest,
        "indexing_vs_naive_whoosh": speedup,
        "indexing_target_met": speedup >= 3.0,
        "snippets_p50_ms": snippets_p50,
        "snippets_target_met": snippets_p50 < 50.0,
    }


# --- report -------------------------------------------------------------------------------

def markdown(figures: dict) -> str:
    lines = ["## Speed", ""]
    t = figures["targets"]
    lines += [
        f"Targets at N={t['at_posts']:,}: indexing ≥3× naive Whoosh — "
        f"**{t['indexing_vs_naive_whoosh']:.2f}×** "
        f"({'met' if t['indexing_target_met'] else 'MISSED'}); query p50 with snippets and facets "
        f"< 50 ms — **{t['snippets_p50_ms']:.1f} ms** "
        f"({'met' if t['snippets_target_met'] else 'MISSED'}).",
        "",
        f"Indexing figures are each indexer's fastest of {INDEX_RUNS} builds; every run's "
        "posts/s is in the last column.",
        "",
        "| archive | posts | searchidx posts/s | FTS5 posts/s | ratio | vs naive Whoosh "
        "| peak RSS MB: indexer (all processes) | index MB | FTS5 MB | re-sync none / one s "
        "| CLI cold ms | web / ms | searchidx runs posts/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for run in figures["runs"]:
        ours, fts, sync = run["searchidx"], run["fts5"], run["resync"]
        web_cell = "—"  # the web page is timed on the largest synthetic archive only
        if "web" in run:
            web_cell = (f"{run['web']['median_ms']:.1f} (n={run['web']['requests']})"
                        if run["web"] else "not measured")
        lines.append(
            f"| {run['label']} | {run['posts']:,} | {ours['posts_per_s']:.0f} "
            f"| {fts['posts_per_s']:.0f} | {_ratio(ours['posts_per_s'], fts['posts_per_s'])} "
            f"| {_ratio(ours['posts_per_s'], figures['naive_whoosh']['posts_per_s'])} "
            f"| {ours['rss_mb']:.0f} ({ours['tree_rss_mb']:.0f}) "
            f"| {ours['bytes'] / 1e6:.1f} | {fts['bytes'] / 1e6:.1f} "
            f"| {sync['unchanged_s']:.2f} / {sync['one_changed_s']:.2f} "
            f"| {run['cli']['median_ms']:.0f}{' (runs failed)' if run['cli']['failures'] else ''} "
            f"| {web_cell} | {', '.join(f'{r:.0f}' for r in ours['runs_posts_per_s'])} |"
        )
    w = figures["naive_whoosh"]
    lines += [
        "",
        f"Naive Whoosh (default writer, StemmingAnalyzer, body stored) measured on the first "
        f"{w['subset']:,} posts of the largest archive: {w['posts_per_s']:.0f} posts/s (runs "
        f"{', '.join(f'{r:.0f}' for r in w['runs_posts_per_s'])}), peak "
        f"RSS {w['rss_mb']:.0f} MB. Its posts/s falls as an archive grows (its pool spills "
        "and merges more), so the ratios to it at larger N are lower bounds.",
        "",
        "Query latency, top 10, over the fixed 200 queries in order (ms; a mode stops after "
        f"{MODE_BUDGET_S:.0f} s once {MIN_SAMPLES} queries are timed, so slow modes time fewer; "
        "FTS5 with OR-ed words, BM25 with the same column weights):",
        "",
        "| archive | mode | queries timed | p50 | p95 | p99 | FTS5 p50 | FTS5 p95 | p50 ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for run in figures["runs"]:
        for mode, q in run["queries"].items():
            f5 = q.get("fts5")
            extra = (f"{f5['p50_ms']:.2f} | {f5['p95_ms']:.2f} | "
                     f"{_ratio(q['p50_ms'], f5['p50_ms'])}" if f5 else "— | — | —")
            lines.append(f"| {run['label']} | {mode} | {q['queries']} "
                         f"| {q['p50_ms']:.1f} | {q['p95_ms']:.1f} "
                         f"| {q['p99_ms']:.1f} | {extra} |")
    if figures["quick"]:
        lines += ["", "Real corpora: skipped in quick mode."]
    elif not figures["real_corpora_present"]:
        lines += ["", f"Real corpora: skipped ({REAL_CORPORA} not present)."]
    lines += ["", "Time taken by each part (s): " + ", ".join(
        f"{name} {seconds:.0f}" for name, seconds in figures["timings_s"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=3, metavar=("KIND", "ROOTS", "TARGET"))
    parser.add_argument("--limit", type=int)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(*args.child, args.limit)))
    else:
        print(main(quick=args.quick)["markdown"])
