"""Ranking is a value given to Index.open: two indexes (or two rankings of one) in one
process never share or change each other's (issue 15 item 3); Index.create is the way in."""

from __future__ import annotations

import dataclasses

import pytest

from searchidx import DEFAULT_RANKING, Index, IndexReport, Ranking


def test_a_ranking_cannot_be_changed_under_an_index() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        DEFAULT_RANKING.k1 = 2.0  # type: ignore[misc]
    with pytest.raises(TypeError):
        DEFAULT_RANKING.field_weights["title"] = 9.0  # type: ignore[index]
    weights = {"title": 1.0, "summary": 1.0, "body": 1.0}
    ranking = Ranking(field_weights=weights)
    weights["title"] = 50.0  # the caller's dict is copied, not kept
    assert ranking.field_weights["title"] == 1.0
    with pytest.raises(ValueError, match="title, summary, body"):
        Ranking(field_weights={"title": 1.0})


def test_two_rankings_of_one_index_in_one_process(tmp_path, write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive, "in-title.md", {"title": "Zyxwing notes"}, "Other words here.")
    write_post(archive, "in-body.md", {"title": "Other notes"},
               "zyxwing zyxwing zyxwing zyxwing zyxwing and more.")
    titles_first = Index.create(tmp_path / "index", [archive],
                                ranking=Ranking(field_weights={"title": 50.0, "summary": 1.0,
                                                               "body": 1.0}))
    body_first = Index.open(tmp_path / "index",
                            ranking=Ranking(field_weights={"title": 0.01, "summary": 1.0,
                                                           "body": 1.0}))
    for _ in range(2):  # interleaved: neither changes the other
        assert titles_first.search("zyxwing").hits[0].title == "Zyxwing notes"
        assert body_first.search("zyxwing").hits[0].title == "Other notes"


def test_index_create_then_update_with_explicit_keywords(tmp_path, write_post) -> None:
    archive = tmp_path / "arch"
    write_post(archive, "a.md", {"title": "Alpha"}, "Text.")
    index = Index.create(tmp_path / "index", [archive])
    assert index.search("").total == 1
    write_post(archive, "b.md", {"title": "Beta"}, "Text.")
    report = index.update(verify=True)
    assert isinstance(report, IndexReport) and report.added == 1 and report.unchanged == 1
    assert index.search("").total == 2
    with pytest.raises(TypeError):
        index.update(rebuilt=True)  # a misspelt keyword is an error, not ignored
