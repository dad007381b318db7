"""The timeline of the matches (issue 17 item 3): facets.month, the page's SVG chart, and
`search --timeline`."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchidx import Index
from searchidx.cli import cli

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"


def _dated_matches(index: Index, text: str) -> int:
    results = index.search(text, per_page=100, include_hidden=False)
    return sum(1 for page in range(1, results.pages + 1)
               for hit in index.search(text, page=page, per_page=100).hits if hit.date)


@pytest.mark.parametrize("text", ["", "protein", "language models", "alphafold OR chess"])
def test_months_count_every_dated_match(corpus_index, text) -> None:
    months = corpus_index.search(text).facets["month"]
    assert list(months) == sorted(months) and all(re.fullmatch(r"\d{4}-\d\d", m) for m in months)
    assert sum(months.values()) == _dated_matches(corpus_index, text)


def test_the_months_are_the_posts_dates(tmp_path, write_post) -> None:
    archive = tmp_path / "arch"
    for day in ("2023-04-01", "2023-04-30", "2023-06-15", "2021-01-01"):
        write_post(archive, f"{day}.md", {"title": f"Zyxtime {day}", "date": day}, "Zyxtime.")
    write_post(archive, "undated.md", {"title": "Zyxtime undated"}, "Zyxtime.")
    index = Index.create(tmp_path / "index", [archive])
    assert index.search("zyxtime").facets["month"] == {"2021-01": 1, "2023-04": 2,
                                                       "2023-06": 1}
    drawn = CliRunner().invoke(cli, ["--index", str(index.path), "search", "zyxtime",
                                     "--timeline"])
    assert drawn.exit_code == 0
    assert drawn.stdout.splitlines() == [
        "2021-01  ████████████████████ 1", "2023-04  ████████████████████████████████████████ 2",
        "2023-06  ████████████████████ 1", "first mentioned: 2021-01-01  Zyxtime 2021-01-01  "
        f"(id {index.search('zyxtime', sort='oldest').hits[0].id})"]
    # what the hits' listing says on stderr, the timeline says too: the count (undated
    # posts included) and any suggestion
    assert re.fullmatch(r"5 posts \(\d+ ms\)\n", drawn.stderr)
    typo = CliRunner().invoke(cli, ["--index", str(index.path), "search", "zyxtimr",
                                    "--timeline"])
    assert typo.exit_code == 1
    assert typo.stderr.splitlines()[0] == "Did you mean: zyxtime"
    first = index.search("zyxtime").first  # the earliest match, whatever the order shown
    assert (first.title, first.date.year) == ("Zyxtime 2021-01-01", 2021)
    assert index.search("zyxtime", facets=False).first is None
    from web import create_app

    html = create_app(index.path).test_client().get("/?q=zyxtime").get_data(as_text=True)
    chart = re.search(r"<svg.*?</svg>", html, re.S).group(0)
    assert chart.count("<rect") == 3  # months without a match have no bar
    assert "since=2023-04&amp;until=2023-04" in chart and "2023-04: 2 posts" in chart
    assert re.search(rf'First mentioned: <a href="/post/{first.id}\?q=zyxtime">Zyxtime '
                     r"2021-01-01</a>, 2021-01-01", html)


@pytest.mark.skipif(not CORPORA.is_dir(), reason="needs ../shared/corpora")
def test_months_sum_to_the_dated_matches_in_the_real_archives(tmp_path) -> None:
    index = Index.create(tmp_path / "index", [CORPORA / "bair-blog"])
    for text in ("reinforcement learning", "robot", ""):
        assert sum(index.search(text).facets["month"].values()) == _dated_matches(index, text)
