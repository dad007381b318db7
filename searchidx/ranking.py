"""How results are ordered: one frozen value, given to `Index.open(path, ranking=...)`.

BM25F (Robertson & Zaragoza 2009): a word's frequencies in title, summary and body are
length-normalised per field, weighted, summed, and saturated once, so a word repeated
in every field does not count three times. Measured with benchmarks/relevance.py over
a grid (title 1-3, summary 1-12, K1 0.9/1.2, B 0.4-0.9): the summary, a sentence or two
saying what the post is about, is the strongest known-item signal (real-archive top-3
74% at x1, 85% at x5, flat above); title x2 and B=0.75 lift SciFact nDCG@10 from 0.676
(all x1, B=0.4) to 0.684. Per-field BM25 summed (Whoosh's BM25F) reached 0.642.

Keyword queries (up to `all_words_first_max_words` words) list the posts with every word
first, then those with some. Longer queries read as descriptions get one BM25 ranking:
tiering them let long digests that mention every word bury the post described
(real-archive top-3 59% against 82%; SciFact unchanged).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from searchidx.schema import TEXT_FIELDS


@dataclass(frozen=True)
class Ranking:
    field_weights: Mapping[str, float] = field(
        default_factory=lambda: {"title": 2.0, "summary": 5.0, "body": 1.0})
    k1: float = 1.2
    b: float = 0.75
    all_words_first_max_words: int = 3  # 0: one BM25 ranking of every match

    def __post_init__(self) -> None:
        if set(self.field_weights) != set(TEXT_FIELDS):
            raise ValueError(f"field_weights must weigh exactly {', '.join(TEXT_FIELDS)}")
        # read-only, so a Ranking shared by threads and indexes cannot change under them
        object.__setattr__(self, "field_weights", MappingProxyType(dict(self.field_weights)))


DEFAULT_RANKING = Ranking()
