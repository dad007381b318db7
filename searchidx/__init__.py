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
from searchidx.records import Hit, PostRecord, Results, Stats
from searchidx.search import Index

__version__ = "0.1.0"

__all__ = [
    "BadQuery", "Hit", "Index", "IndexCorrupt", "IndexLocked", "IndexNotFound", "PostError",
    "PostNotFound", "PostRecord", "Results", "SearchIdxError", "Stats", "__version__",
]
