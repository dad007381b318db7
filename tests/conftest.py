"""Shared fixtures for the library and CLI tests (not the web tests).

`write_post` builds tiny archives in tmp_path; `corpus_index` indexes our sample corpus
once per session for the read-only search, schema and CLI tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from searchidx import Index, indexer

CORPUS = Path(__file__).resolve().parents[1] / "corpus"


def _write_post(
    folder: Path, name: str, frontmatter: dict | str | None = None, body: str = ""
) -> Path:
    """Write one post file. `frontmatter` is a dict (dumped as YAML), raw YAML text
    (written as is, for YAML-native dates and broken YAML), or None for no frontmatter."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    if frontmatter is None:
        text = body
    else:
        if isinstance(frontmatter, dict):
            frontmatter = yaml.safe_dump(frontmatter, allow_unicode=True, sort_keys=False)
        text = f"---\n{frontmatter.strip()}\n---\n{body}"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def write_post():
    """The `_write_post(folder, name, frontmatter, body)` helper, as a fixture."""
    return _write_post


@pytest.fixture(scope="session")
def corpus_dir() -> Path:
    return CORPUS


@pytest.fixture(scope="session")
def corpus_index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index of corpus/, built once. Tests must not write to it."""
    index_dir = tmp_path_factory.mktemp("corpus-index") / "index"
    report = indexer.update(index_dir, [CORPUS])
    assert report.added == 48 and not report.skipped
    return index_dir


@pytest.fixture(scope="session")
def corpus_index(corpus_index_dir: Path) -> Index:
    return Index.open(corpus_index_dir)


@pytest.fixture(scope="session")
def corpus_ids(corpus_index: Index) -> dict[str, str]:
    """File name -> post id for every corpus post that shows as a hit (hidden included;
    the shorter ChatGPT copy is folded into the longer one, so it is not listed)."""
    results = corpus_index.search("", include_hidden=True, per_page=100)
    return {Path(hit.path).name: hit.id for hit in results.hits}
