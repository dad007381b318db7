"""What `Index.search` takes, checked, and its filters as one Whoosh query.

A caller's slip (a number for a query, page 0, an unknown sort, since after until) is a
`BadQuery` that says what to give instead; nothing here fails on the query's syntax.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime

from whoosh import query

from searchidx.errors import BadQuery
from searchidx.query import parse_day

SORTS = ("relevance", "newest", "oldest")
MAX_PER_PAGE = 100
MAX_RESULT_WINDOW = 10_000  # page * per_page: deeper pages cost a full sort
MAX_QUERY_CHARS = 1_000  # a longer query (a pasted abstract) is cut to its first words

# What `Index.search` takes for a filter (one name, or several) and a date bound.
Names = str | Iterable[str] | None
Day = str | int | date | None


def query_text(text: str | None) -> str:
    """The query as given; anything but text is a caller's slip, said plainly."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise BadQuery(f"the query must be text, not {text!r}")
    return text


def first_words(text: str) -> tuple[str, str | None]:
    """The query cut to the whole words within MAX_QUERY_CHARS, and a notice if it was.
    People paste an abstract to find related posts: its first words find them, and the
    parsing and matching stay bounded whatever was pasted."""
    text = text.strip() if len(text) > MAX_QUERY_CHARS else text
    if len(text) <= MAX_QUERY_CHARS:
        return text, None
    words = re.match(r"(.*)\s", text[: MAX_QUERY_CHARS + 1], re.DOTALL)
    if words is None:  # one "word" fills it all
        return text[:MAX_QUERY_CHARS], (
            f"the query was cut to its first {MAX_QUERY_CHARS} characters")
    count = len(words.group(1).split())
    unit = "word" if count == 1 else "words"
    return words.group(1), f"the query was cut to its first {count} {unit}"


def check_paging(sort: str, page: int, per_page: int) -> None:
    if sort not in SORTS:
        raise BadQuery(f"unknown sort {sort!r}: use one of {', '.join(SORTS)}")
    for name, value in (("page", page), ("per_page", per_page)):
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadQuery(f"{name} must be a whole number, not {value!r}")
    if page < 1:
        raise BadQuery(f"page must be 1 or more, not {page!r}")
    if not 1 <= per_page <= MAX_PER_PAGE:
        raise BadQuery(f"per_page must be between 1 and {MAX_PER_PAGE}, not {per_page!r}")
    if page * per_page > MAX_RESULT_WINDOW:
        raise BadQuery(
            f"page {page} is too deep: at most {MAX_RESULT_WINDOW} results can be paged through;"
            " narrow the search instead"
        )


def filter_query(source: Names, tag: Names, author: Names, since: Day,
                  until: Day) -> query.Query | None:
    """The filters as one query. A name field's terms match by words (Snapshot.matching)."""
    parts: list[query.Query] = []
    sources = _names_arg("source", source)
    if sources:  # a post has one source: any of those given
        parts.append(query.Or([query.Term("source_name", s) for s in sources]))
    parts.extend(query.Term("tags", t) for t in _names_arg("tag", tag))  # every tag given
    parts.extend(query.Term("authors", a) for a in _names_arg("author", author))
    start = _day_arg(since, end=False, option="since")
    stop = _day_arg(until, end=True, option="until")
    if start or stop:
        if start and stop and start > stop:
            raise BadQuery(f"since ({since}) is after until ({until})")
        parts.append(query.DateRange("date", start, stop))
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else query.And(parts)


def _names_arg(option: str, value: Names) -> tuple[str, ...]:
    """A filter's values. One str is one name: iterated, "DeepMind Blog" would filter by
    its letters and match nothing, silently."""
    if value is None:
        return ()
    if isinstance(value, str):
        return (value,)
    names = tuple(value) if isinstance(value, Iterable) else (value,)
    if not all(isinstance(name, str) for name in names):
        raise BadQuery(f"{option} must be a name or a list of names, not {value!r}")
    return names


def _day_arg(value: Day, *, end: bool, option: str) -> datetime | None:
    """since or until as a naive UTC datetime: a datetime is that moment; a date, a year
    (int) or text (`parse_day`) is its first moment, or with end its last."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value
    if isinstance(value, date):
        return parse_day(value.isoformat(), end=end, option=option)
    if isinstance(value, int) and not isinstance(value, bool):
        return parse_day(str(value), end=end, option=option)
    if isinstance(value, str):
        return parse_day(value, end=end, option=option)
    raise BadQuery(f"{option} must be a year, a date or text such as 2023-04, not {value!r}")
