"""The `searchidx` command. Thin: parse options, call the library, print text or JSON.

Exit codes, like grep: 0 found, 1 nothing found, 2 usage or input error.
This is the one place where a SearchIdxError becomes a message on stderr.

Longer than most modules: one command per thing the library does (index, search, show,
similar, stats, roots, forget, export, feeds, fetch, watch, serve), each with its options,
help text and printing; every one is a thin call into the library, and together they are
the one click group a user meets.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import click

from searchidx import __version__
from searchidx.arguments import SORTS
from searchidx.errors import SearchIdxError
from searchidx.records import Hit, PostRecord
from searchidx.search import Index

EXIT_FOUND, EXIT_NOT_FOUND, EXIT_ERROR = 0, 1, 2


def default_index_dir() -> Path:
    """A per-user data directory, so `searchidx search` works from any folder."""
    data_home = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(data_home) / "searchidx" / "index"


class _Group(click.Group):
    """Turns library errors into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except SearchIdxError as exc:
            click.echo(f"searchidx: {exc}", err=True)
            ctx.exit(EXIT_ERROR)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--index", "index_dir", type=click.Path(file_okay=False, path_type=Path),
    envvar="SEARCHIDX_INDEX", default=default_index_dir,
    show_default="~/.local/share/searchidx/index",
    help="Where the index lives (also $SEARCHIDX_INDEX).",
)
@click.version_option(__version__, prog_name="searchidx")
@click.pass_context
def cli(ctx: click.Context, index_dir: Path) -> None:
    """Full-text search over an archive of research-blog posts (markdown + YAML frontmatter)."""
    ctx.obj = index_dir


def _open(ctx: click.Context) -> Index:
    return Index.open(ctx.obj)


def _color() -> bool | None:
    return False if os.environ.get("NO_COLOR") else None  # None: colour only on a terminal


@contextlib.contextmanager
def _stdout():
    """Around a command's output. A reader that stops early (`| head -1`) closes the pipe: the
    rest of the output is dropped quietly, and the exit status still says what was found."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Point stdout at devnull, so that the flush at exit cannot fail again ("Exception
        # ignored ... BrokenPipeError" on stderr).
        with contextlib.suppress(AttributeError, OSError, ValueError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


def _print_json(data: dict) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--rebuild", is_flag=True, help="Start the index over from scratch.")
@click.option("--verify", is_flag=True,
              help="Hash every file, even those whose mtime, size and ctime are unchanged.")
@click.option("--jobs", type=click.IntRange(1, 64), help="Parser processes (default: all cores).")
@click.option("--config", "config_path",
              type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A searchidx.toml to use instead of the one in each archive root.")
@click.option("--strict", is_flag=True, help="Exit 1 if any file was skipped.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_context
def index(ctx, paths, rebuild, verify, jobs, config_path, strict, as_json) -> None:
    """Index the posts under PATHS (or re-sync the folders indexed before)."""
    from searchidx import indexer

    bar = None
    if not as_json and sys.stderr.isatty():
        bar = click.progressbar(length=1, label="Parsing", file=sys.stderr)

    def progress(done: int, total: int) -> None:
        if bar is not None:
            bar.length = total
            bar.update(done - bar.pos)

    try:
        report = indexer.update(
            ctx.obj, list(paths), rebuild=rebuild, jobs=jobs, config_path=config_path,
            progress=progress, verify=verify,
        )
    finally:
        if bar is not None:
            bar.render_finish()
    _print_report(report, as_json)
    if strict and report.skipped:
        ctx.exit(EXIT_NOT_FOUND)


def _print_report(report, as_json: bool, prefix: str = "") -> None:
    if as_json:
        _print_json(report.to_json())
        return
    if report.rebuilt_because:
        click.echo(f"note: {report.rebuilt_because}", err=True)
    for notice in report.notices:
        click.echo(f"note: {notice}", err=True)
    for skipped in report.skipped:
        dropped = "; its last version was taken out of the index" if skipped.was_indexed else ""
        click.echo(f"{skipped.path}: {skipped.reason} — skipped{dropped}", err=True)
    click.echo(
        f"{prefix}{report.added} added, {report.updated} updated, {report.removed} removed, "
        f"{report.unchanged} unchanged, {len(report.skipped)} skipped "
        f"in {report.seconds:.1f} s"
    )


@cli.command()
@click.argument("folders", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_context
def forget(ctx, folders, as_json) -> None:
    """Stop indexing FOLDERS (e.g. after moving one): their posts leave the index."""
    from searchidx import indexer

    _print_report(indexer.forget(ctx.obj, list(folders)), as_json)


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def roots(ctx, as_json) -> None:
    """The folders the index follows, with the posts indexed under each."""
    from searchidx import indexer

    followed = indexer.roots(ctx.obj)
    with _stdout():
        if as_json:
            _print_json({"roots": [
                {"path": str(root.path), "posts": count, "present": root.path.exists(),
                 "config": str(root.config) if root.config else None}
                for root, count in followed]})
            return
        if not followed:
            click.echo(f"no folders indexed in {ctx.obj}; add one with `searchidx index FOLDER`",
                       err=True)
        for root, count in followed:
            notes = [] if root.path.exists() else ["missing"]
            if root.config:
                notes.append(f"config {root.config}")
            extra = f"  ({', '.join(notes)})" if notes else ""
            click.echo(f"{count:7}  {root.path}{extra}")


class Duration(click.ParamType):
    """`90s`, `30m`, `1h`, `1d` (or a number of seconds) as seconds."""

    name = "duration"
    _UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}

    def convert(self, value, param, ctx) -> float:
        if isinstance(value, int | float):
            return float(value)
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(value))
        if not match or float(match.group(1)) <= 0:
            self.fail(f"{value!r} is not a duration; write e.g. 90s, 30m, 1h or 1d", param, ctx)
        return float(match.group(1)) * self._UNITS[match.group(2) or "s"]


@cli.command()
@click.option("--fetch-every", type=Duration(), metavar="DURATION",
              help="Also fetch the feeds (`searchidx feeds`) this often: 30m, 1h, 1d.")
@click.pass_context
def watch(ctx, fetch_every) -> None:
    """Keep the index in step with the folders it follows as files change (Ctrl-C stops)."""
    from searchidx import indexer
    from searchidx.watch import keep_in_step

    if not indexer.roots(ctx.obj):
        raise SearchIdxError(
            f"no folders indexed in {ctx.obj}; add one with `searchidx index FOLDER`")
    click.echo(f"searchidx: keeping {ctx.obj} in step with its folders  (Ctrl-C stops)",
               err=True)
    with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how watching ends: quietly
        keep_in_step(ctx.obj, on_update=_print_resync, on_note=_print_note,
                     fetch_every=fetch_every, on_fetch=_print_timed_fetch)


def _print_timed_fetch(report) -> None:
    click.echo(time.strftime("%H:%M:%S  fetched feeds:"))
    _print_fetch(report)


def _print_resync(report) -> None:
    """One re-sync of `watch` or `serve --watch`: the report, its summary line timed."""
    _print_report(report, as_json=False, prefix=time.strftime("%H:%M:%S  "))


def _print_note(message: str) -> None:
    click.echo(f"searchidx: {message}", err=True)


def _watch_in_background(index_dir: Path, fetch_every: float | None,
                         ) -> tuple[threading.Event, threading.Thread]:
    """`serve --watch`: keep_in_step in a thread of the server; set the event to end it."""
    from searchidx.watch import keep_in_step

    stop = threading.Event()
    thread = threading.Thread(
        target=keep_in_step, args=(index_dir,), name="searchidx-watch", daemon=True,
        kwargs={"on_update": _print_resync, "on_note": _print_note, "stop": stop,
                "fetch_every": fetch_every, "on_fetch": _print_timed_fetch},
    )
    thread.start()
    return stop, thread


@cli.command()
@click.argument("query", default="", required=False)
@click.option("--source", multiple=True,
              help="Only posts from this source, by words of its name (repeatable: any).")
@click.option("--tag", multiple=True, help="Only posts with this tag (repeatable: all).")
@click.option("--author", multiple=True, help="Only posts by this author (repeatable: all).")
@click.option("--since", metavar="DATE", help="From this date: 2023, 2023-04 or 2023-04-27.")
@click.option("--until", metavar="DATE", help="Up to this date, inclusive.")
@click.option("--sort", type=click.Choice(SORTS), default="relevance", show_default=True)
@click.option("--limit", type=click.IntRange(1, 100), default=10, show_default=True,
              help="Results per page.")
@click.option("--page", type=click.IntRange(1), default=1, show_default=True)
@click.option("--all", "include_hidden", is_flag=True, help="Include hidden (draft) posts.")
@click.option("--timeline", is_flag=True,
              help="Draw the matches per month (per year over long spans) instead of hits.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def search(ctx, query, source, tag, author, since, until, sort, limit, page, include_hidden,
           timeline, as_json) -> None:
    """Search the archive. QUERY uses words, "phrases", "words near"~3, title:, source:,
    tag:, author:, date:2023-04, date:[2020 to 2022], AND/OR/NOT, -word, word*, word~."""
    results = _open(ctx).search(
        query, source=source, tag=tag, author=author, since=since, until=until, sort=sort,
        page=page, per_page=limit, include_hidden=include_hidden, facets=as_json or timeline,
    )
    with _stdout():
        if as_json:
            _print_json(results.to_json())
        else:
            if results.notice:
                click.echo(f"note: {results.notice}", err=True)
            if results.also_searched:
                click.echo(f"also searched: {results.also_searched}", err=True)
            if results.suggestion:
                click.echo(f"Did you mean: {results.suggestion}", err=True)
            shown = ""
            if timeline:
                _print_timeline(results.facets["month"], results.first)
            else:
                first = (page - 1) * limit
                for number, hit in enumerate(results.hits, first + 1):
                    _print_hit(number, hit)
                if results.hits:
                    shown = f"{first + 1}-{first + len(results.hits)} of "
            posts = "post" if results.total == 1 else "posts"
            click.echo(f"{shown}{results.total} {posts} ({results.seconds * 1000:.0f} ms)",
                       err=True)
    ctx.exit(EXIT_FOUND if results.hits else EXIT_NOT_FOUND)


TIMELINE_BAR = 40  # characters of the longest bar


def _print_timeline(months: dict[str, int], first) -> None:
    """One line per month (per year when the matches span more than four years), oldest
    first, with a bar and the count; then the earliest post that matches (`first`)."""
    if not months:
        click.echo("no dated post matches", err=True)
        return
    periods = months
    if len(months) > 1 and int(max(months)[:4]) - int(min(months)[:4]) > 4:
        periods = {}
        for month, count in months.items():
            periods[month[:4]] = periods.get(month[:4], 0) + count
    tallest = max(periods.values())
    for period, count in periods.items():
        bar = "█" * max(1, round(TIMELINE_BAR * count / tallest))
        click.echo(f"{period:>7}  {bar} {count}")
    click.echo(f"first mentioned: {first.date:%Y-%m-%d}  {first.title}  (id {first.id})")


def _shown_path(path: str) -> str:
    """A file under the current folder as a relative path (short, and what a user can paste
    there); JSON output keeps absolute paths."""
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _print_hit(number: int, hit: Hit) -> None:
    color = _color()
    about = ", ".join(p for p in (hit.source, hit.date.date().isoformat() if hit.date else "") if p)
    title = click.style(hit.title, bold=True)
    click.echo(f"{number}. {title}" + (f"  ({about})" if about else ""), color=color)
    click.echo("   " + click.style(hit.link or _shown_path(hit.path), fg="blue"), color=color)
    snippet = "".join(
        click.style(text, fg="yellow", bold=True) if is_match else text
        for text, is_match in hit.snippet_spans
    )
    if snippet:
        click.echo(f"   {snippet}", color=color)
    copies = "copy" if hit.duplicates == 1 else "copies"
    extra = f"   id {hit.id}" + (f" · {hit.duplicates} more {copies}" if hit.duplicates else "")
    click.echo(click.style(extra, dim=True), color=color)


@cli.command()
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def show(ctx, post_id, as_json) -> None:
    """Show one post's metadata and text (POST_ID from a search hit)."""
    post = _open(ctx).get(post_id)
    with _stdout():
        if as_json:
            _print_json(post.to_json())
        else:
            _print_post(post)


def _print_post(post: PostRecord) -> None:
    color = _color()
    click.echo(click.style(post.title, bold=True), color=color)
    for label, value in (
        ("source", post.source), ("date", post.date.isoformat() if post.date else ""),
        ("url", post.link), ("authors", ", ".join(post.authors)), ("tags", ", ".join(post.tags)),
        ("file", _shown_path(post.path)), ("hidden", "yes" if post.hidden else ""),
    ):
        if value:
            click.echo(f"{label + ':':9}{value}")
    for citation in post.cites:
        click.echo(f"{'cites:':9}{citation.url}")
    if post.summary:
        click.echo(f"\n{post.summary}")
    click.echo(f"\n{post.body}")


@cli.command()
@click.argument("post_id")
@click.option("--limit", type=click.IntRange(1, 50), default=5, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def similar(ctx, post_id, limit, as_json) -> None:
    """Posts like POST_ID (more-like-this over title, summary and body)."""
    hits = _open(ctx).similar(post_id, limit=limit)
    with _stdout():
        if as_json:
            _print_json({"id": post_id, "hits": [hit.to_json() for hit in hits]})
        else:
            for number, hit in enumerate(hits, 1):
                _print_hit(number, hit)
    ctx.exit(EXIT_FOUND if hits else EXIT_NOT_FOUND)


@cli.command()
@click.option("--format", "output_format", type=click.Choice(["jsonl"]), default="jsonl",
              show_default=True, help="One JSON object a line (Elasticsearch/OpenSearch "
              "_bulk, Meilisearch and pandas read it).")
@click.pass_context
def export(ctx, output_format) -> None:
    """Write every post the index holds, with every field and its text, to stdout."""
    index = _open(ctx)
    with _stdout():
        for post in index.export():
            click.echo(json.dumps(post.to_export(), ensure_ascii=False))


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def stats(ctx, as_json) -> None:
    """What the index holds: posts, sources, dates, duplicates, size."""
    info = _open(ctx).stats()
    with _stdout():
        if as_json:
            _print_json(info.to_json())
        else:
            _print_stats(info)


def _print_stats(info) -> None:
    click.echo(f"posts:      {info.posts} ({info.hidden} hidden, {info.duplicates} share a url)")
    first = info.first_date.date().isoformat() if info.first_date else "-"
    last = info.last_date.date().isoformat() if info.last_date else "-"
    click.echo(f"dates:      {first} to {last}" + (f" ({info.undated} undated)"
                                                     if info.undated else ""))
    click.echo(f"index size: {info.index_bytes / 1e6:.1f} MB, updated {info.updated_at or '-'}")
    click.echo(f"roots:      {', '.join(info.roots) or '-'}")
    if info.unreadable:
        click.echo(f"unreadable: {len(info.unreadable)} files (not searchable until fixed)")
        for problem in info.unreadable:
            click.echo(f"  {problem['path']}: {problem['reason']}")
    for source, count in info.sources.items():
        click.echo(f"  {count:6}  {source}")

@cli.group("feeds")
def feeds_group() -> None:
    """The feeds `searchidx fetch` reads (kept in the index folder)."""


@feeds_group.command("add")
@click.argument("url")
@click.option("--name", help="The source its posts get (default: the feed's own title).")
@click.pass_context
def feeds_add(ctx, url, name) -> None:
    """Subscribe to the RSS, Atom or JSON feed at URL (or rename it with --name)."""
    from searchidx import feeds

    if feeds.add_feed(ctx.obj, url, name):
        click.echo(f"added {url.strip()}")
    else:
        click.echo(f"{url.strip()} is subscribed already" + ("; renamed" if name else ""))


@feeds_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def feeds_list(ctx, as_json) -> None:
    """The subscribed feeds, with how the last fetch of each went."""
    from searchidx import feeds

    subscribed = feeds.list_feeds(ctx.obj)
    with _stdout():
        if as_json:
            _print_json({"feeds": [feed.to_json() for feed in subscribed]})
            return
        if not subscribed:
            click.echo("no feeds; add one with `searchidx feeds add URL`", err=True)
        for feed in subscribed:
            status = (f"failed: {feed.error}" if feed.error else
                      f"fetched {feed.fetched_at}" if feed.fetched_at else "never fetched")
            click.echo(f"{feed.url}  {feed.source}  ({status})")


@feeds_group.command("remove")
@click.argument("url")
@click.pass_context
def feeds_remove(ctx, url) -> None:
    """Unsubscribe from URL. Its posts stay in the archive."""
    from searchidx import feeds

    feeds.remove_feed(ctx.obj, url)
    click.echo(f"removed {url.strip()}")


@feeds_group.command("import")
@click.argument("opml", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.pass_context
def feeds_import(ctx, opml) -> None:
    """Subscribe to every feed of an OPML file (a feed reader's export)."""
    from searchidx import feeds

    report = feeds.import_opml(ctx.obj, opml)
    for reason in report.skipped:
        click.echo(f"{reason} — skipped", err=True)
    click.echo(f"{len(report.added)} added, {len(report.known)} subscribed already, "
               f"{len(report.skipped)} skipped")


@feeds_group.command("export")
@click.pass_context
def feeds_export(ctx) -> None:
    """Print the feed list as OPML, for a feed reader."""
    from searchidx import feeds

    with _stdout():
        click.echo(feeds.export_opml(ctx.obj))


@cli.command()
@click.option("--archive", type=click.Path(file_okay=False, path_type=Path),
              help="Write posts under this folder (remembered: later runs default to it).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.pass_context
def fetch(ctx, archive, as_json) -> None:
    """Fetch every feed: new and changed items become posts in the archive, then indexed.
    Exits 1 if a feed failed (the others are still fetched)."""
    from searchidx import feeds

    report = feeds.fetch(ctx.obj, archive)
    with _stdout():
        if as_json:
            _print_json(report.to_json())
        else:
            _print_fetch(report)
    ctx.exit(EXIT_NOT_FOUND if report.failed else EXIT_FOUND)


def _print_fetch(report) -> None:
    sources = Counter(feed.source for feed in report.feeds)
    for feed in report.feeds:
        # Two feeds may have one title (a blog's English and Chinese feeds): say which.
        name = feed.source if sources[feed.source] == 1 else f"{feed.source} ({feed.url})"
        if feed.failed:
            click.echo(f"{name}: failed: {feed.failed}")
        elif feed.not_modified:
            click.echo(f"{name}: not modified")
        else:
            click.echo(f"{name}: {len(feed.new)} new, {len(feed.updated)} updated, "
                       f"{feed.unchanged} unchanged"
                       + (f", {len(feed.left_alone)} left alone" if feed.left_alone else ""))
        for reason in feed.left_alone:
            click.echo(f"note: {reason}", err=True)
    for notice in report.notices:
        click.echo(f"note: {notice}", err=True)
    if report.feeds:
        left_alone = sum(len(f.left_alone) for f in report.feeds)
        click.echo(
            f"{sum(len(f.new) for f in report.feeds)} new, "
            f"{sum(len(f.updated) for f in report.feeds)} updated, "
            f"{sum(f.unchanged for f in report.feeds)} unchanged, "
            + (f"{left_alone} left alone, " if left_alone else "")
            + f"{len(report.failed)} failed in {report.seconds:.1f} s; posts in {report.archive}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=click.IntRange(1, 65535), default=5000, show_default=True)
@click.option("--threads", type=click.IntRange(1, 64), default=8, show_default=True)
@click.option("--debug", is_flag=True, help="Flask's development server with reloading.")
@click.option("--watch", "watch_folders", is_flag=True,
              help="Also keep the index in step with its folders as files change.")
@click.option("--fetch-every", type=Duration(), metavar="DURATION",
              help="With --watch, also fetch the feeds this often: 30m, 1h, 1d.")
@click.pass_context
def serve(ctx, host, port, threads, debug, watch_folders, fetch_every) -> None:
    """Serve the search page (production WSGI server unless --debug)."""
    from web import create_app  # Flask costs ~120 ms to import: only here

    if fetch_every and not watch_folders:
        raise click.UsageError("--fetch-every needs --watch")
    app = create_app(ctx.obj)
    click.echo(f"searchidx: serving {ctx.obj} on http://{host}:{port}/  (Ctrl-C stops)", err=True)
    # Flask's reloader runs this command twice: watch only in the process that serves.
    watching = None
    if watch_folders and (not debug or os.environ.get("WERKZEUG_RUN_MAIN") == "true"):
        watching = _watch_in_background(ctx.obj, fetch_every)
    try:
        if debug:
            app.run(host=host, port=port, debug=True)
            return
        import waitress

        waitress.serve(app, host=host, port=port, threads=threads, ident="searchidx")
    finally:
        if watching is not None:
            stop, thread = watching
            stop.set()
            thread.join(timeout=10)  # a re-sync in flight may finish; one cut short is redone


def main() -> None:
    cli(prog_name="searchidx")
