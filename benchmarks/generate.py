"""A deterministic synthetic archive shaped like a real research-blog archive.

`generate(out_dir, n, seed)` writes n markdown posts with the frontmatter of a feed-filled
archive (title, description, summary, pubDate in RFC 2822, source, url, thumbnail). Words
come from the English text of Python's own documentation (the reference manual in
`pydoc_data.topics` and the standard library's docstrings, on every CPython install),
sampled by their real frequency, so the vocabulary has a natural Zipf-like shape without
downloading anything. Each post also leans on one of a few hundred "topics" (sets of
mid-frequency words), so posts differ the way real ones do.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sysconfig
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from itertools import accumulate
from pathlib import Path

SOURCE_COUNT = 20
TOPIC_COUNT = 300
TOPIC_WORDS = 30
TOPIC_SHARE = 0.15  # share of a body's words drawn from its topic
QUERY_COUNT = 200
STOPWORD_RANKS = 60  # the most frequent words are function words: never query them alone
FIRST_DAY = datetime(2015, 1, 1, tzinfo=UTC)
LAST_DAY = datetime(2026, 6, 30, tzinfo=UTC)
STAMP_NAME = "generated.json"  # records n and seed, so an archive can be reused


_DOCSTRING_OR_COMMENT = re.compile(r'"""(.*?)"""|#([^\n]*)', re.S)
_SKIPPED_PACKAGES = {"encodings", "test", "tests", "idlelib", "lib2to3", "site-packages"}


@lru_cache(maxsize=1)
def vocabulary() -> tuple[tuple[str, ...], tuple[int, ...]]:
    """English words of Python's own docs, most frequent first, with their counts.

    The text is the reference manual (`pydoc_data.topics`) plus the docstrings and comments
    of the standard library: present on any CPython install, so nothing is downloaded.
    """
    from pydoc_data.topics import topics

    counts: Counter[str] = Counter()
    for name in sorted(topics):
        counts.update(re.findall(r"[a-z]{2,}", topics[name].lower()))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    files = sorted(stdlib.glob("*.py")) + sorted(stdlib.glob("*/*.py"))
    for path in files:
        if path.parent.name in _SKIPPED_PACKAGES:
            continue
        for match in _DOCSTRING_OR_COMMENT.finditer(path.read_text(errors="replace")):
            text = (match.group(1) or match.group(2) or "").lower()
            counts.update(re.findall(r"[a-z]{2,}", text))
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return tuple(w for w, _ in ranked), tuple(c for _, c in ranked)


class _Sampler:
    """Draws words by frequency, and topic words for a post's theme."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.words, counts = vocabulary()
        self.cum = list(accumulate(counts))
        # Topic words: mid-frequency words (not function words, not one-offs).
        middle = [w for w, c in zip(self.words, counts, strict=True) if c >= 3][STOPWORD_RANKS:]
        topic_rng = random.Random(seed + 1)
        self.topics = [tuple(topic_rng.sample(middle, TOPIC_WORDS)) for _ in range(TOPIC_COUNT)]
        self.sources = [self._source_name(i) for i in range(SOURCE_COUNT)]

    def _source_name(self, i: int) -> str:
        rng = random.Random(f"source-{i}")
        first, second = rng.sample(self.words[STOPWORD_RANKS:600], 2)
        return f"{first.title()} {second.title()} Blog"

    def background(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)

    def text(self, k: int, topic: tuple[str, ...]) -> list[str]:
        words = self.background(k)
        places = self.rng.sample(range(k), round(k * TOPIC_SHARE))
        for i, word in zip(places, self.rng.choices(topic, k=len(places)), strict=True):
            words[i] = word
        return words


def _sentences(words: list[str], rng: random.Random) -> str:
    out, i = [], 0
    while i < len(words):
        length = rng.randint(8, 22)
        chunk = words[i : i + length]
        out.append(chunk[0].capitalize() + " " + " ".join(chunk[1:]) + ".")
        i += length
    return " ".join(out)


def _body(sampler: _Sampler, topic: tuple[str, ...]) -> str:
    rng = sampler.rng
    words = sampler.text(rng.randint(300, 1500), topic)
    parts, i = [], 0
    while i < len(words):
        if i and rng.random() < 0.25:
            parts.append("## " + " ".join(sampler.text(rng.randint(2, 5), topic)).capitalize())
        size = rng.randint(40, 140)
        paragraph = words[i : i + size]
        if rng.random() < 0.3 and len(paragraph) > 6:  # an inline link, as posts have
            j = rng.randrange(len(paragraph) - 2)
            slug = "-".join(paragraph[j : j + 2])
            paragraph[j] = f"[{paragraph[j]} {paragraph[j + 1]}](https://example.org/{slug})"
            del paragraph[j + 1]
        parts.append(_sentences(paragraph, rng))
        i += size
    return "\n\n".join(parts) + "\n"


def _post(sampler: _Sampler, number: int) -> tuple[str, str]:
    rng = sampler.rng
    topic = sampler.topics[rng.randrange(TOPIC_COUNT)]
    source = sampler.sources[min(int(rng.paretovariate(1.2)) - 1, SOURCE_COUNT - 1)]
    span = (LAST_DAY - FIRST_DAY).days
    day = FIRST_DAY + timedelta(days=rng.randrange(span))
    title = " ".join(sampler.text(rng.randint(3, 9), topic)).capitalize()
    summary = _sentences(sampler.text(rng.randint(15, 40), topic), rng)
    description = summary if rng.random() < 0.5 else ""
    slug = "-".join(title.lower().split()[:6])
    host = source.lower().replace(" ", "")
    name = f"{day:%Y-%m-%d}-{number:06d}-{slug}.md"
    text = (
        "---\n"
        f'title: "{title}"\n'
        f'description: "{description}"\n'
        f'summary: "{summary}"\n'
        f'pubDate: "{day:%a, %d %b %Y %H:%M:%S +0000}"\n'
        f'source: "{source}"\n'
        f'url: "https://{host}.example.com/{number:06d}-{slug}"\n'
        f'thumbnail: "https://{host}.example.com/img/{number:06d}.png"\n'
        "---\n\n" + _body(sampler, topic)
    )
    return name, text


def generate(out_dir: str | Path, n: int, seed: int = 0) -> Path:
    """Write n posts under out_dir (in 100 subfolders, as big archives are), or reuse them.

    The same n and seed always give byte-identical files. An existing archive with a
    matching stamp is left as it is.
    """
    out = Path(out_dir)
    stamp = out / STAMP_NAME
    wanted = {"n": n, "seed": seed, "version": 1}
    if stamp.exists() and json.loads(stamp.read_text()) == wanted:
        return out
    out.mkdir(parents=True, exist_ok=True)
    sampler = _Sampler(seed)
    for number in range(n):
        name, text = _post(sampler, number)
        folder = out / f"{number % 100:02d}"
        folder.mkdir(exist_ok=True)
        (folder / name).write_text(text, encoding="utf-8")
    stamp.write_text(json.dumps(wanted))
    return out


def first_posts(n: int, seed: int = 0) -> list[str]:
    """The text of the first n posts every archive of this seed starts with (the posts are
    drawn one after another from one seeded generator), built in memory without writing."""
    sampler = _Sampler(seed)
    return [_post(sampler, number)[1] for number in range(n)]


def queries(seed: int = 0, count: int = QUERY_COUNT) -> list[str]:
    """A fixed list of 1-3 word queries: common words, rare words and mixes of both."""
    words, counts = vocabulary()
    common = list(words[STOPWORD_RANKS:600])
    rare = [w for w, c in zip(words, counts, strict=True) if 2 <= c <= 6 and len(w) > 3]
    rng = random.Random(seed + 2)
    out = []
    for i in range(count):
        size = 1 + i % 3
        kind = (i // 3) % 3  # 0: common only, 1: rare only, 2: mixed
        pools = {0: [common], 1: [rare], 2: [common, rare]}[kind]
        picked = [rng.choice(pools[j % len(pools)]) for j in range(size)]
        out.append(" ".join(picked))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description="Write a synthetic post archive.")
    parser.add_argument("out_dir")
    parser.add_argument("-n", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(generate(args.out_dir, args.n, args.seed))


if __name__ == "__main__":
    main()
