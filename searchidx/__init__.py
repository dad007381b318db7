"""searchidx: full-text search over archives of research-blog posts."""

from searchidx.errors import (
    BadQuery,
    IndexCorrupt,
    IndexLocked,
    IndexNotFound,
    PostError,
    PostNotFound,
    SearchIdxError,
)
from searchidx.ranking import DEFAULT_RANKING, Ranking
from searchidx.records import Hit, IndexReport, PostRecord, Results, Skipped, Stats
from searchidx.search import Index

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_RANKING", "BadQuery", "Hit", "Index", "IndexCorrupt", "IndexLocked",
    "IndexNotFound", "IndexReport", "PostError", "PostNotFound", "PostRecord", "Ranking",
    "Results", "SearchIdxError", "Skipped", "Stats", "__version__",
]
