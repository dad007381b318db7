"""Routes: the search page, the archived copy, JSON, Atom and OpenSearch.

Every search state lives in GET parameters, so each page is a shareable URL:
q, source (repeatable), tag (repeatable), author (repeatable), since, until, sort, page,
per_page, all.
"""

from __future__ import annotations

import re
from datetime import datetime

from flask import (
    Blueprint,
    Response,
    current_app,
    jsonify,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.datastructures import MultiDict

from searchidx import BadQuery, Hit, Index, PostRecord, Results
from searchidx.arguments import MAX_PER_PAGE, MAX_QUERY_CHARS, MAX_RESULT_WINDOW
from searchidx.query import EXPANSION_POSTINGS, MAX_EXPANSIONS
from web import render

bp = Blueprint("search", __name__)

FEED_SIZE = 20
SORT_LABELS = {"relevance": "Relevance", "newest": "Newest first", "oldest": "Oldest first"}
_TRUE = ("1", "true", "yes", "on")


def _index() -> Index:
    return current_app.extensions["searchidx"].get()


def _int_arg(name: str, default: int) -> int:
    """An integer parameter: ASCII digits only, as `str.isdigit` also accepts "²" and "①",
    which `int` refuses."""
    raw = request.args.get(name, "").strip()
    if not raw:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw):
        raise BadQuery(f"{name} must be a whole number, not {raw[:20]!r}")
    return int(raw)


def _search_args() -> dict:
    """The library's search arguments from the query string (validated by the library)."""
    args = request.args
    return {
        "text": args.get("q", ""),
        "source": [v for v in args.getlist("source") if v],
        "tag": [v for v in args.getlist("tag") if v],
        "author": [v for v in args.getlist("author") if v],
        "since": args.get("since", "").strip() or None,
        "until": args.get("until", "").strip() or None,
        "sort": args.get("sort", "").strip() or "relevance",
        "page": _int_arg("page", 1),
        "per_page": _int_arg("per_page", 10),
        "include_hidden": args.get("all", "").lower() in _TRUE,
    }


def _feed_url(args: dict) -> str:
    """The Atom feed of the same search as the page: every filter, not the paging or order
    (a feed is the newest posts)."""
    params = MultiDict()
    params.add("q", args["text"])
    for key in ("source", "tag", "author"):
        for value in args[key]:
            params.add(key, value)
    for key in ("since", "until"):
        if args[key]:
            params.add(key, args[key])
    if args["include_hidden"]:
        params.add("all", "1")
    return _url(params, "search.feed")


def _url(params: MultiDict, endpoint: str = "search.search") -> str:
    return url_for(endpoint, **{key: params.getlist(key) for key in params if params.get(key)})


def _changed(*, add: tuple[str, str] | None = None, remove: tuple[str, str] | None = None,
             set_: dict[str, str] | None = None, keep_page: bool = False) -> str:
    """The current search URL with one filter added or removed, or values replaced."""
    params = MultiDict(request.args)
    if not keep_page:
        params.pop("page", None)
    if remove:
        key, value = remove
        params.setlist(key, [v for v in params.getlist(key) if v != value])
    if add and add[1] not in params.getlist(add[0]):
        params.add(*add)
    for key, value in (set_ or {}).items():
        params[key] = value
    return _url(params)


def _page_links(results: Results) -> list[int | None]:
    """Page numbers to show: first, last and two either side of the current; None = gap."""
    last = min(results.pages, MAX_RESULT_WINDOW // results.per_page)
    wanted = {1, last, *range(results.page - 2, results.page + 3)}
    pages: list[int | None] = []
    for number in sorted(n for n in wanted if 1 <= n <= last):
        if pages and pages[-1] is not None and number - pages[-1] > 1:
            pages.append(None)
        pages.append(number)
    return pages


def _active_filters(args: dict) -> list[tuple[str, str, str]]:
    """(label, value, removal URL) for each filter in force."""
    active = []
    for key in ("source", "tag", "author"):
        for value in args[key]:
            active.append((key, value, _changed(remove=(key, value))))
    for key in ("since", "until"):
        if args[key]:
            active.append((key, args[key], _changed(remove=(key, args[key]))))
    if args["include_hidden"]:
        active.append(("including", "drafts", _changed(remove=("all", request.args["all"]))))
    return active


@bp.app_template_filter("day")
def _day(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d") if value else "undated"


@bp.app_template_global("snippet")
def _snippet(hit: Hit) -> Markup:
    # snippet_html is escaped by the library; only <mark> is markup in it.
    return Markup(hit.snippet_html)


@bp.app_template_global("safe_url")
def _safe_url(url: str) -> str | None:
    return render.safe_url(url)


@bp.app_template_global("original_url")
def _original_url(post: Hit | PostRecord) -> str | None:
    """Where the post itself lives, if a page may link there; None when its url is a
    placeholder (https://example.com) or not http(s): then the archived copy is its link."""
    return render.safe_url(post.link)


@bp.route("/")
def search():
    args = _search_args()
    feed_url = _feed_url(args)
    text = args.pop("text")
    results = _index().search(text, **args)
    # Years read as a timeline, newest first; the other facets by count (as the library
    # gives); the months are drawn as a chart, not listed.
    facets = {
        name: (dict(sorted(counts.items(), reverse=True)) if name == "year" else counts)
        for name, counts in results.facets.items() if name != "month"
    }
    # A year is a date range; a paper narrows the query to the posts citing it; the other
    # facets add a repeatable filter.
    facet_links = {
        name: {
            value: (_changed(set_={"since": value, "until": value}) if name == "year"
                    else _changed(set_={"q": f"{text} +cites:{value}".strip()})
                    if name == "paper" else _changed(add=(name, value)))
            for value in counts
        }
        for name, counts in results.facets.items() if name != "month"
    }
    months = results.facets.get("month", {})
    # An empty query is listed newest first unless another order is asked for.
    sort = "newest" if args["sort"] == "relevance" and not text.strip() else args["sort"]
    last_page = min(results.pages, MAX_RESULT_WINDOW // results.per_page)
    return render_template(
        "search.html",
        results=results,
        facets=facets,
        args=args,
        order=None if sort == "relevance" else SORT_LABELS[sort].lower(),
        last_page=last_page,
        past_the_end=results.total > 0 and results.page > last_page,
        facet_links=facet_links,
        timeline=Markup(render.timeline_svg(  # built by ElementTree: escaped
            months, lambda month: _changed(set_={"since": month, "until": month}))),
        active=_active_filters(args),
        page_links=_page_links(results),
        page_url=lambda n: _changed(set_={"page": str(n)}, keep_page=True),
        suggestion_url=(_changed(set_={"q": results.suggestion}) if results.suggestion else None),
        sort_labels=SORT_LABELS,
        feed_url=feed_url,
        updated_at=_updated_at(),
    )


def _updated_at() -> datetime | None:
    """When the index was last synced with its folders (with `serve --watch`, the page is
    that fresh). stats() costs ~0.5 ms a page at 10,000 posts."""
    stamp = _index().stats().updated_at
    return datetime.fromisoformat(stamp) if stamp else None


@bp.route("/post/<post_id>")
def post(post_id: str):
    idx = _index()
    record = idx.get(post_id)
    body_html = render.markdown_html(record.markdown, base_url=record.link)
    # Reached from a result (?q=…): the query's places in the text are marked, found as
    # the search found them. match_spans never fails on syntax: a malformed query marks
    # what words it has, or nothing.
    query = request.args.get("q", "")
    marked = None
    if query.strip():
        marked = render.mark_html(body_html, lambda text: idx.match_spans(query, text))
    return render_template(
        "post.html",
        post=record,
        body_html=Markup(marked.html if marked else body_html),  # nh3, then marks on text
        query=query,
        marked=marked,
        similar=idx.similar(post_id, limit=5),
    )


@bp.route("/help")
def help_page():
    return render_template("help.html", max_per_page=MAX_PER_PAGE,
                           max_expansions=MAX_EXPANSIONS, expansion_postings=EXPANSION_POSTINGS,
                           max_query_chars=MAX_QUERY_CHARS)


@bp.route("/api/search")
def api_search():
    args = _search_args()
    text = args.pop("text")
    return jsonify(_index().search(text, **args).to_json())


@bp.route("/api/post/<post_id>")
def api_post(post_id: str):
    return jsonify(_index().get(post_id).to_json())


@bp.route("/feed.atom")
def feed():
    # The same search as the page (one parser of the arguments), as its newest posts.
    args = {**_search_args(), "sort": "newest", "page": 1, "per_page": FEED_SIZE}
    text = args.pop("text")
    results = _index().search(text, **args, facets=False)
    page_params = MultiDict((k, v) for k, v in request.args.items(multi=True))
    xml = render.atom_feed(
        results,
        self_url=request.url,
        page_url=url_for("search.search", _external=True, **page_params.to_dict(flat=False)),
        post_url=lambda post_id: url_for("search.post", post_id=post_id, _external=True),
    )
    return Response(xml, mimetype="application/atom+xml")


@bp.route("/opensearch.xml")
def opensearch():
    xml = render.opensearch_description(
        html_template=url_for("search.search", _external=True) + "?q={searchTerms}",
        atom_template=url_for("search.feed", _external=True) + "?q={searchTerms}",
    )
    return Response(xml, mimetype="application/opensearchdescription+xml")
