"""Checks against the real archives in ../shared/corpora, when this machine has them.

Users don't have them, so these skip elsewhere; tests/test_posts.py covers every date
form on posts we wrote.
"""

from __future__ import annotations

import email.utils
from datetime import UTC, datetime
from pathlib import Path

import frontmatter
import pytest

from searchidx.posts import read_post

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
pytestmark = pytest.mark.skipif(not CORPORA.is_dir(), reason="../shared/corpora is not here")


def _utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None) if value.tzinfo else value


def test_every_raisex_date_is_its_pubdate_in_utc():
    files = sorted((CORPORA / "raisex-ai-news").rglob("*.md"))
    assert len(files) == 2201
    placeholders = 0
    for path in files:
        pub_date = frontmatter.load(path)["pubDate"]
        if pub_date == "2000-01-01T00:00:00.000Z":  # the fetcher's "no date": the file's
            expected = datetime.strptime(path.name[:10], "%Y-%m-%d")
            placeholders += 1
        else:
            expected = _utc(email.utils.parsedate_to_datetime(pub_date))
        assert read_post(path).date == expected, path
    assert placeholders == 244


def test_every_bair_date_is_its_yaml_date():
    files = sorted((CORPORA / "bair-blog").rglob("*.md"))
    assert len(files) == 175
    for path in files:
        assert read_post(path).date == frontmatter.load(path)["date"], path


def test_bair_authors_are_names_not_html():
    with_authors = 0
    for path in sorted((CORPORA / "bair-blog").rglob("*.md")):
        post = read_post(path)
        with_authors += bool(post.authors)
        assert not any("<" in author or "href" in author for author in post.authors), path
        assert "{%" not in post.body and "<!--" not in post.body, path
    assert with_authors >= 170  # one post has `author: ""`


def test_smol_dates_and_topics():
    for path in sorted((CORPORA / "smol-ainews").rglob("*.md")):
        post = read_post(path)
        raw = frontmatter.load(path)["date"]
        expected = _utc(raw if isinstance(raw, datetime) else datetime.fromisoformat(raw))
        assert post.date == expected, path
