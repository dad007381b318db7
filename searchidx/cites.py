"""The papers and code a post cites, found in its text and links.

Each citation is a `Citation(kind, id)`: an arXiv paper (`2303.08774`, any version; old
style `cs/0501001`), a DOI, a GitHub repository (`github.com/openai/whisper`), an
OpenReview forum, an ACL Anthology paper or a PMLR paper. The index holds the ids and
the kinds as terms of the `cites` field, so `cites:2303.08774`, `cites:arxiv` and
`cites:github.com/openai/whisper` find the posts; the post page lists them as links.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# New-style arXiv ids (YYMM.NNNNN, 4 or 5 digits after the dot) and old-style ones.
_ARXIV_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?"
_ARXIV = [
    re.compile(rf"arxiv\.org/(?:abs|pdf|html)/{_ARXIV_ID}", re.IGNORECASE),
    re.compile(rf"\barxiv:\s?{_ARXIV_ID}", re.IGNORECASE),
    re.compile(rf"10\.48550/arxiv\.{_ARXIV_ID}", re.IGNORECASE),
]
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"'<>)\],]+)", re.IGNORECASE)
_GITHUB = re.compile(r"github\.com/([A-Za-z0-9][\w.-]*)/([\w.-]+)", re.IGNORECASE)
_OPENREVIEW = re.compile(r"openreview\.net/(?:forum|pdf)\?id=([\w-]+)", re.IGNORECASE)
_ACL = re.compile(r"aclanthology\.org/([A-Z]?\d{2}-\d{4}|\d{4}\.[\w-]+\.\d+)", re.IGNORECASE)
_PMLR = re.compile(r"proceedings\.mlr\.press/(v\d+/[\w-]+?)(?:\.html|\.pdf|/|\b)",
                   re.IGNORECASE)
# GitHub paths that are not repositories.
_NOT_REPOSITORIES = {"about", "features", "orgs", "settings", "sponsors", "topics", "marketplace"}
_BARE_ARXIV = re.compile(r"^(?:arxiv:)?(\d{4}\.\d{4,5}|[a-z][a-z.-]*/\d{7})(?:v\d+)?$",
                         re.IGNORECASE)
KINDS = ("arxiv", "doi", "github", "openreview", "acl", "pmlr")


@dataclass(frozen=True, order=True)
class Citation:
    kind: str
    id: str

    @property
    def url(self) -> str:
        return {
            "arxiv": f"https://arxiv.org/abs/{self.id}",
            "doi": f"https://doi.org/{self.id}",
            "github": f"https://{self.id}",
            "openreview": f"https://openreview.net/forum?id={self.id}",
            "acl": f"https://aclanthology.org/{self.id}",
            "pmlr": f"https://proceedings.mlr.press/{self.id}.html",
        }[self.kind]

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"


def citations(text: str) -> tuple[Citation, ...]:
    """Every paper and repository cited in `text` (a post's markdown, links included),
    each once, sorted."""
    found: set[Citation] = set()
    # Each pattern needs its marker in the text: a substring test (the lower-cased text;
    # not for non-ASCII text, which case-insensitive matching folds in more ways) skips
    # the scans of a post that cites nothing (~1 ms a post, a tenth of indexing).
    lowered = text.lower() if text.isascii() else None

    def scan(pattern: re.Pattern, marker: str) -> Iterator[re.Match]:
        return pattern.finditer(text) if lowered is None or marker in lowered else iter(())

    for pattern in _ARXIV:
        for match in scan(pattern, "arxiv"):
            found.add(Citation("arxiv", match.group(1).lower()))
    for match in scan(_DOI, "10."):
        doi = match.group(1).rstrip(".,;").lower()
        if not doi.startswith("10.48550/arxiv."):  # an arXiv DOI is its arXiv paper
            found.add(Citation("doi", doi))
    for match in scan(_GITHUB, "github.com/"):
        owner, repository = match.group(1).lower(), match.group(2).lower().removesuffix(".git")
        repository = repository.rstrip(".")
        if owner not in _NOT_REPOSITORIES and repository:
            found.add(Citation("github", f"github.com/{owner}/{repository}"))
    for pattern, kind, marker in ((_OPENREVIEW, "openreview", "openreview.net/"),
                                  (_ACL, "acl", "aclanthology.org/"),
                                  (_PMLR, "pmlr", "proceedings.mlr.press/")):
        for match in scan(pattern, marker):
            found.add(Citation(kind, match.group(1) if kind == "openreview"
                               else match.group(1).lower()))
    return tuple(sorted(found))


def index_terms(cited: tuple[Citation, ...]) -> list[str]:
    """The `cites` field's terms: each id, and each kind cited (`cites:arxiv`)."""
    return sorted({c.id.lower() for c in cited} | {c.kind for c in cited})


def query_term(value: str) -> str:
    """What `cites:VALUE` looks for: an arXiv id without its version, a repository
    without `https://` or a trailing slash, anything else lower-cased."""
    value = value.strip().lower()
    bare = _BARE_ARXIV.match(value)
    if bare:
        return bare.group(1)
    linked = citations(value)  # a link to the paper: arxiv.org/abs/…, doi.org/…
    if len(linked) == 1:
        return linked[0].id.lower()
    return value.rstrip("/").removeprefix("doi:")


def bare_arxiv_id(word: str) -> str | None:
    """The arXiv id a query word is (`1801.01290`, `arXiv:1801.01290v2`), or None."""
    match = _BARE_ARXIV.match(word.strip())
    return match.group(1).lower() if match and "." in match.group(1) else None
