"""One exception tree. Every error carries a message a user can act on."""


class SearchIdxError(Exception):
    """Base of every error searchidx raises on purpose."""


class IndexNotFound(SearchIdxError):
    """There is no index at the given location (yet)."""


class IndexCorrupt(SearchIdxError):
    """The index exists but cannot be opened; it can be rebuilt from the roots."""


class IndexLocked(SearchIdxError):
    """Another process is writing the index."""


class BadQuery(SearchIdxError):
    """A search argument (filter, sort, page, date) is not valid."""


class PostError(SearchIdxError):
    """A post file cannot be read or parsed; the message names the file and the reason."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class PostNotFound(SearchIdxError):
    """No post has the given id."""
