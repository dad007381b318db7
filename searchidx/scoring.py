"""The numeric core of a search: pure functions over arrays indexed by document number.

No Whoosh here (snapshot.py reads the index into arrays and calls these), so each is
tested on hand-built arrays (tests/test_scoring.py).
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Iterable, Sequence, Set

import numpy as np

# One field's share of a term: (document numbers, term frequencies, field weight, the
# field's length normalisation per document).
FieldPostings = tuple[np.ndarray, np.ndarray, float, np.ndarray]


def length_norm(lengths: np.ndarray, live: np.ndarray, b: float) -> np.ndarray:
    """BM25's length normalisation of a field: (1 - b) + b * length / average length
    (over live posts); 1 everywhere when the field is empty."""
    average = float(lengths[live].mean()) if live.any() else 0.0
    if not average:
        return np.ones(len(lengths), dtype=np.float32)
    return (1 - b) + b * lengths / average


def bm25f(size: int, posts: int, terms: Iterable[list[FieldPostings]], k1: float) -> np.ndarray:
    """BM25F (Robertson & Zaragoza 2009) of `size` documents, `posts` of them live: per
    term, the fields' length-normalised, weighted frequencies are summed and saturated
    once (a word in every field does not count three times), times the term's idf."""
    scores = np.zeros(size, dtype=np.float32)
    posts = max(1, posts)
    for fields in terms:
        freq = np.zeros(size, dtype=np.float32)
        for docs, freqs, weight, norm in fields:
            if len(docs):
                freq[docs] += weight * freqs / norm[docs]
        found = np.count_nonzero(freq)
        if not found:
            continue
        idf = math.log(1 + (posts - found + 0.5) / (found + 0.5))
        # Over every document (0 where the term is not): finding the others first took
        # longer than the arithmetic it saved (np.flatnonzero: 0.35 ms at 200,000).
        scores += idf * freq * (k1 + 1) / (k1 + freq)
    return scores


def top(tiers: list[np.ndarray], keys: np.ndarray, tie_break: np.ndarray,
        wanted: int) -> list[int]:
    """The `wanted` documents with the highest keys, tier by tier (all of the first tier
    before any of the second); equal keys by lowest `tie_break` (a number from the post
    id), so the order does not depend on the order posts were added in."""
    chosen: list[int] = []
    for tier in tiers:
        need = wanted - len(chosen)
        if need <= 0:
            break
        docs = np.flatnonzero(tier)
        if len(docs) > need:
            # Keep those at or above the need-th highest key (ties included), then sort.
            kth = np.partition(keys[docs], len(docs) - need)[len(docs) - need]
            docs = docs[keys[docs] >= kth]
        order = np.lexsort((tie_break[docs], -keys[docs]))
        chosen.extend(docs[order[:need]].tolist())
    return chosen


def best_of_copies(matched: np.ndarray, copy_group: np.ndarray,
                   values: np.ndarray) -> np.ndarray:
    """`values` (scores >= 0, or a mask) with each matching copy of a post given the
    highest value among that post's matching copies (`copy_group`: a number per group of
    copies, -1 for a post without): a post ranks as its best copy, whichever is shown."""
    copies = np.flatnonzero(matched & (copy_group >= 0))
    if not len(copies):
        return values
    groups = copy_group[copies]
    best = np.zeros(int(groups.max()) + 1, dtype=values.dtype)
    np.maximum.at(best, groups, values[copies])
    spread = values.copy()
    spread[copies] = best[groups]
    return spread


def collapse(matched: np.ndarray, copy_group: np.ndarray, length: np.ndarray,
             tie_break: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """The documents to show, one per group of copies (the longest matching copy; among
    equally long ones the lowest `tie_break`, a number from the post id, so the choice
    does not depend on the order posts were added in), and for each shown document with
    copies, the number of its other copies that matched."""
    copies = np.flatnonzero(matched & (copy_group >= 0))
    if not len(copies):
        return matched, {}
    groups = copy_group[copies]
    order = np.lexsort((tie_break[copies], -length[copies], groups))
    copies, groups = copies[order], groups[order]
    first = np.ones(len(copies), dtype=bool)
    first[1:] = groups[1:] != groups[:-1]  # a group's first entry is the copy shown
    shown = matched.copy()
    shown[copies[~first]] = False
    counts = np.bincount(groups, minlength=int(groups.max()) + 1)
    return shown, {
        int(doc): int(counts[group]) - 1
        for doc, group in zip(copies[first], groups[first], strict=True)
        if counts[group] > 1
    }


def values_of_posts(offsets: np.ndarray, values: np.ndarray, docs: np.ndarray) -> np.ndarray:
    """The values of the posts `docs`, run together: post d's are
    `values[offsets[d]:offsets[d + 1]]` (several, one or none)."""
    starts = offsets[docs]
    lengths = offsets[docs + 1] - starts
    # where each post's values are in `values`, the posts' runs one after another
    return values[np.repeat(starts - (np.cumsum(lengths) - lengths), lengths)
                  + np.arange(lengths.sum())]


def facet_counts(names: Sequence[str], counts: np.ndarray, left_out: Set[str] = frozenset(),
                 limit: int | None = None) -> dict[str, int]:
    """A facet's values with the number of posts of each (`counts[v]` have `names[v]`),
    largest first and equal counts by name; values no post has, empty ones and
    `left_out` ones are not listed, and only the first `limit`."""
    kept = [(names[number], int(counts[number])) for number in np.flatnonzero(counts).tolist()
            if names[number] and names[number] not in left_out]
    return dict(sorted(kept, key=lambda kv: (-kv[1], kv[0]))[:limit])


def month_counts(labels: Sequence[str], months: np.ndarray, docs: np.ndarray
                 ) -> dict[str, int]:
    """How many of the posts `docs` are from each month, oldest first, months with none
    left out; `months` is each post's month as a number, `labels[n]` month n's name
    (2023-11), and an undated post's number is `len(labels)`."""
    counts = np.bincount(months[docs], minlength=len(labels) + 1)[: len(labels)]
    return {labels[number]: int(counts[number]) for number in np.flatnonzero(counts).tolist()}


def holds_phrase(positions: dict[str, list[int]], words: Sequence[str],
                 offsets: Sequence[int], extra_words: int) -> bool:
    """Whether a field holds the words at their offsets from one another, or further
    apart by at most `extra_words` positions in all, in their order. `positions`: each
    word's positions in the field, ascending. From each place of the first word, each
    next word is taken at its first position at or after its offset: the closest fit
    leaves the most room for the words after it."""
    steps = [(word, offset - before) for word, offset, before
             in zip(words[1:], offsets[1:], offsets[:-1], strict=True)]
    for start in positions[words[0]]:
        at, extra = start, 0
        for word, step in steps:
            row = positions[word]
            i = bisect_left(row, at + step)
            if i == len(row):
                return False  # nor from any later start
            extra += row[i] - (at + step)
            if extra > extra_words:
                break
            at = row[i]
        else:
            return True
    return False
