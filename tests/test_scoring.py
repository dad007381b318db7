"""scoring.py on hand-built arrays: BM25F, length norms, top-N by tiers, copies, facets."""

from __future__ import annotations

import math

import numpy as np
import pytest

from searchidx import scoring


def _postings(docs, freqs, weight=1.0, norm=None, size=4):
    norm = np.ones(size, dtype=np.float32) if norm is None else np.asarray(norm, np.float32)
    return (np.asarray(docs), np.asarray(freqs, dtype=np.float32), weight, norm)


def test_bm25f_matches_the_formula_for_one_field() -> None:
    k1 = 1.2
    scores = scoring.bm25f(4, 4, [[_postings([0, 2], [1, 3])]], k1)
    idf = math.log(1 + (4 - 2 + 0.5) / (2 + 0.5))
    expected = [idf * tf * (k1 + 1) / (k1 + tf) for tf in (1, 3)]
    assert scores[[0, 2]] == pytest.approx(expected, rel=1e-6)
    assert scores[1] == scores[3] == 0


def test_bm25f_saturates_the_fields_summed_not_each_field() -> None:
    both = scoring.bm25f(4, 4, [[_postings([0], [2]), _postings([0], [2])]], 1.2)
    twice = 2 * scoring.bm25f(4, 4, [[_postings([0], [2])]], 1.2)
    assert 0 < both[0] < twice[0]  # summed then saturated: less than two fields' scores
    weighted = scoring.bm25f(4, 4, [[_postings([0], [2], weight=2.0)]], 1.2)
    assert weighted[0] == pytest.approx(both[0])  # weight 2 = the same words twice


def test_a_longer_field_scores_less_and_an_empty_field_is_neutral() -> None:
    lengths = np.array([10, 30, 20, 0], dtype=np.float32)
    live = np.array([True, True, True, False])
    norm = scoring.length_norm(lengths, live, b=0.75)
    assert norm[0] < norm[2] < norm[1] and norm[2] == pytest.approx(1.0)
    scores = scoring.bm25f(4, 3, [[_postings([0, 1], [2, 2], norm=norm)]], 1.2)
    assert scores[0] > scores[1]
    assert (scoring.length_norm(np.zeros(3), np.ones(3, bool), 0.75) == 1).all()


def test_top_takes_tiers_in_order_and_ties_by_the_tie_break() -> None:
    keys = np.array([5.0, 9.0, 5.0, 1.0, 9.0])
    ids = np.array([40, 30, 20, 10, 0])  # ties go the other way from document order
    first = np.array([False, False, True, True, False])
    second = ~first
    assert scoring.top([first, second], keys, ids, 10) == [2, 3, 4, 1, 0]
    assert scoring.top([first, second], keys, ids, 3) == [2, 3, 4]
    assert scoring.top([np.ones(5, bool)], keys, ids, 3) == [4, 1, 2]


def test_copies_show_once_as_the_longest_and_rank_as_the_best() -> None:
    matched = np.array([True, True, True, True, False])
    group = np.array([0, 0, -1, 0, 0])  # 0, 1, 3 (and the unmatched 4) are copies
    length = np.array([10, 50, 7, 50, 99])
    tie_break = np.array([3, 9, 0, 2, 0])
    shown, copies = scoring.collapse(matched, group, length, tie_break)
    # 1 and 3 are equally long: the lower tie-break (3) is shown, whatever the doc order
    assert shown.tolist() == [False, False, True, True, False]
    assert copies == {3: 2}
    scores = np.array([4.0, 1.0, 2.0, 3.0, 8.0], dtype=np.float32)
    spread = scoring.best_of_copies(matched, group, scores)
    assert spread.tolist() == [4.0, 4.0, 2.0, 4.0, 8.0]  # the unmatched copy does not count
    nothing = np.zeros(5, bool)
    assert scoring.collapse(nothing, group, length, tie_break)[1] == {}


def test_values_of_posts_are_their_runs_of_values_one_after_another() -> None:
    # post 0 has values 0 and 3, post 1 value 3, post 2 none, post 3 values 2 and 4
    values = np.array([0, 3, 3, 2, 4])
    offsets = np.array([0, 2, 3, 3, 5])
    assert scoring.values_of_posts(offsets, values, np.arange(4)).tolist() == [0, 3, 3, 2, 4]
    assert scoring.values_of_posts(offsets, values, np.array([1, 3])).tolist() == [3, 2, 4]
    assert scoring.values_of_posts(offsets, values, np.array([2])).tolist() == []
    assert scoring.values_of_posts(offsets, values, np.zeros(0, dtype=np.int64)).tolist() == []


def test_facet_counts_are_largest_first_without_empty_or_left_out_values() -> None:
    names = ["ml", "none", "", "rl", "vision"]
    counts = np.array([2, 1, 1, 2, 2])
    assert scoring.facet_counts(names, counts) == {
        "ml": 2, "rl": 2, "vision": 2, "none": 1}  # equal counts by name; "" left out
    assert scoring.facet_counts(names, np.array([1, 0, 0, 2, 0])) == {"rl": 2, "ml": 1}
    assert scoring.facet_counts(names, counts, left_out={"none", "ml"}, limit=1) == {"rl": 2}
    assert scoring.facet_counts(names, np.zeros(5, dtype=np.int64)) == {}


def test_month_counts_are_a_timeline_oldest_first() -> None:
    labels = ["2023-11", "2023-12", "2024-01", "2024-02", "2024-03", "2024-04"]
    months = np.array([0, 2, 2, 0, 5, 6])  # post 5 undated: the number after the last
    assert scoring.month_counts(labels, months, np.arange(6)) == {
        "2023-11": 2, "2024-01": 2, "2024-04": 1}
    assert scoring.month_counts(labels, months, np.array([1, 4, 5])) == {
        "2024-01": 1, "2024-04": 1}
    assert scoring.month_counts(labels, months, np.zeros(0, dtype=np.int64)) == {}
    assert scoring.month_counts([], np.array([0, 0]), np.arange(2)) == {}  # none dated


def test_holds_phrase_takes_the_closest_fit_in_order() -> None:
    positions = {"a": [0, 10], "b": [3, 12], "c": [5, 13]}
    words, offsets = ["a", "b"], [0, 1]
    assert not scoring.holds_phrase(positions, words, offsets, 0)
    assert scoring.holds_phrase(positions, words, offsets, 1)  # a at 10, b at 12
    assert scoring.holds_phrase(positions, ["a", "b", "c"], [0, 1, 2], 1)  # 10, 12, 13
    assert not scoring.holds_phrase({"a": [0], "b": [3], "c": [5]}, ["a", "b", "c"],
                                    [0, 1, 2], 2)  # 2 + 1 between
    assert scoring.holds_phrase(positions, ["a", "c"], [0, 3], 0)  # a stop word's gap: 10, 13
    assert not scoring.holds_phrase({"a": [4], "b": [3]}, words, offsets, 20)  # in order
