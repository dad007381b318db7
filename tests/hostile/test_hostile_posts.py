"""Hostile post files: indexing never crashes or hangs, every bad file is reported with a
reason, and every good file next to them is still indexed and findable."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from searchidx import Index, indexer
from searchidx.posts import DEFAULT_ALIASES, parse_post
from tests.hostile.conftest import ROOT, hang_guard, unique_word

FIELD_KEYS = sorted({key for keys in DEFAULT_ALIASES.values() for key in keys}
                    | {"draft", "visible", "hidden", "provider"})
# No explain phase: its tracing slows a query 20-fold and trips the hang guard.
FAST = settings(phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
                max_examples=30, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**80), max_value=2**80),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
    st.dates(), st.datetimes(), st.datetimes(timezones=st.just(UTC)),
    st.sampled_from(["", " ", "<script>alert(1)</script>", "javascript:alert(1)", "a,b,,c",
                     "Thu, 27 Apr 2023 00:00:00 +0000", "2022-3-04  9:00:00", "99999-01-01",
                     "\u0096\u200b\ufeff", "x" * 50_000]),
)
yaml_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=12,
)
frontmatters = st.dictionaries(st.sampled_from(FIELD_KEYS), yaml_values, max_size=10)


def _index_and_check(folder: Path, must_index: dict[str, str], files: int) -> None:
    """Index `folder`; every file is added or skipped with a reason, and each word in
    `must_index` (word -> file name) finds its post."""
    with hang_guard(30, "indexing"):
        report = indexer.update(folder / ".index", [folder], jobs=1)
    assert report.added + len(report.skipped) == files, report.to_json()
    assert all(s.reason.strip() for s in report.skipped), report.to_json()
    skipped = {Path(s.path).name for s in report.skipped}
    assert not skipped & set(must_index.values()), report.to_json()
    idx = Index.open(folder / ".index")
    for word, name in must_index.items():
        hits = idx.search(word, include_hidden=True).hits
        assert [Path(h.path).name for h in hits] == [name], (word, report.to_json())


@FAST
@given(meta=frontmatters,
       # lone surrogates cannot be written as UTF-8: such a file is rightly skipped
       body_noise=st.text(st.characters(blacklist_characters="\x00",
                                        blacklist_categories=("Cs",)), max_size=300))
def test_random_yaml_types_in_every_field_still_index(meta: dict, body_noise: str) -> None:
    """Lists, numbers, nulls, maps, booleans, huge strings in any field: a valid YAML
    mapping is a post, never a crash (DESIGN.md: map, don't demand)."""
    text = yaml.safe_dump(meta, allow_unicode=True)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "good.md").write_text(f"---\ntitle: Good\n---\n{unique_word(1)}\n")
        hostile = f"---\n{text}---\n{body_noise}\n\n{unique_word(2)}\n"
        (folder / "hostile.md").write_text(hostile, encoding="utf-8")
        _index_and_check(folder, {unique_word(1): "good.md", unique_word(2): "hostile.md"}, 2)


prefixes = st.sampled_from([b"", b"---\n", b"\xef\xbb\xbf---\r\n", b"---\r\ntitle: x\r\n"])


@FAST
@given(prefix=prefixes, data=st.binary(max_size=2000), suffix=prefixes)
def test_random_bytes_are_indexed_or_skipped_with_a_reason(prefix, data, suffix) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "good.md").write_text(f"---\ntitle: Good\n---\n{unique_word(1)}\n")
        (folder / "noise.md").write_bytes(prefix + data + suffix + data)
        _index_and_check(folder, {unique_word(1): "good.md"}, 2)


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=3000))
def test_parse_post_raises_only_post_error(data: bytes) -> None:
    from searchidx.errors import PostError

    try:
        post = parse_post("/x/p.md", b"---\n" + data)
    except PostError as exc:
        assert exc.reason
    else:
        assert post.title


BILLION_LAUGHS = "\n".join(
    ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    + [f"{b}: &{b} [{','.join(['*' + a] * 9)}]"
       for a, b in zip("abcdefgh", "bcdefghi", strict=True)]
    + [f"{key}: *i" for key in ("title", "summary", "tags", "authors", "source", "url",
                                "thumbnail", "date", "categories")]
)


def _word(number: int) -> bytes:
    return unique_word(number).encode()


# name -> (bytes, expectation, number of its unique word). Expectations: "index" (must be
# indexed and found by its word), "skip" (must be reported as skipped), "either" (one or
# the other, but accounted for).
HOSTILE_FILES: dict[str, tuple[bytes, str, int]] = {
    "invalid-utf8.md": (b"---\ntitle: caf\xe9\n---\nbody " + _word(10), "skip", 10),
    "nul-bytes.md": (b"---\ntitle: a\x00b\n---\nbody " + _word(11), "skip", 11),
    "bad-yaml.md": (b"---\ntitle: [unclosed\n  : :\n---\n" + _word(12), "skip", 12),
    "empty.md": (b"", "skip", 0),
    "bom-crlf.md": ("\ufeff---\r\ntitle: Bom Crlf\r\ntags: [a, b]\r\n---\r\nline one\r\n"
                    .encode() + _word(13), "index", 13),
    "billion-laughs.md": (f"---\n{BILLION_LAUGHS}\n---\n".encode() + _word(14), "either", 14),
    "nested-quotes.md": (_word(15) + b"\n\n" + b">" * 5000 + b" deep\n", "either", 15),
    "nested-lists.md": (_word(16) + b"\n\n" + b"".join(b"  " * i + b"- item\n"
                                                        for i in range(5000)), "either", 16),
    "nested-brackets.md": (_word(17) + b"\n\n" + b"[" * 5000 + b"x" + b"]" * 5000 + b"\n"
                           + b"*" * 5000, "either", 17),
    "yaml-list-frontmatter.md": (b"---\n- a\n- b\n---\n" + _word(18), "either", 18),
    "yaml-deep-nesting.md": (b"---\ntitle: " + b"[" * 3000 + b"]" * 3000 + b"\n---\n"
                             + _word(19), "either", 19),
    # 10 MB of body that is mostly punctuation (10 MB of real words is in tests/stress)
    "ten-mb-body.md": (b"---\ntitle: Big\n---\n" + (b"... " * 100 + b"\n") * 25_000
                       + _word(20), "index", 20),
    "name with spaces.md": (b"---\ntitle: Spaces\n---\n" + _word(21), "index", 21),
    "name 'with' \"quotes\".md": (b"---\ntitle: Q\n---\n" + _word(22), "index", 22),
    "name\nwith\nnewlines.md": (b"---\ntitle: N\n---\n" + _word(23), "index", 23),
    "名前 ünïcödé 🚀.md": (b"---\ntitle: U\n---\n" + _word(24), "index", 24),
    "c1-controls.md": ("---\ntitle: a\u0096b\u0085c\n---\n".encode() + _word(25), "index", 25),
}

_RUN_UPDATE = """
import json, sys
from searchidx import indexer
report = indexer.update(sys.argv[1], [sys.argv[2]], jobs=1)
print(json.dumps(report.to_json()))
"""
MEMORY_LIMIT = 2 * 1024**3  # address space: a YAML bomb that expands would hit this


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def test_hostile_files_are_skipped_or_indexed_in_bounded_time_and_memory(tmp_path: Path) -> None:
    """One run over every hostile shape at once, in a subprocess with a 2 GB address-space
    limit and a 120 s timeout (a YAML bomb that expanded, or a hang, fails it)."""
    archive = tmp_path / "archive"
    archive.mkdir()
    for name, (data, _, _) in HOSTILE_FILES.items():
        (archive / name).write_bytes(data)
    proc = subprocess.run(
        [sys.executable, "-c", _RUN_UPDATE, str(tmp_path / "index"), str(archive)],
        capture_output=True, text=True, timeout=120, preexec_fn=_limit_memory, cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout)
    skipped = {Path(s["path"]).name: s["reason"] for s in report["skipped"]}
    assert report["added"] + len(skipped) == len(HOSTILE_FILES), report
    assert all(reason.strip() for reason in skipped.values()), skipped

    idx = Index.open(tmp_path / "index")
    for name, (_, expect, number) in HOSTILE_FILES.items():
        found = [Path(h.path).name for h in idx.search(unique_word(number)).hits]
        if expect == "skip":
            assert name in skipped, (name, report)
        elif expect == "index":
            assert found == [name], (name, skipped.get(name))
        else:
            assert found == [name] or name in skipped, (name, found)
    assert "UTF-8" in skipped["invalid-utf8.md"]
    assert "NUL" in skipped["nul-bytes.md"]
    assert "YAML" in skipped["bad-yaml.md"]
    bom = idx.search(unique_word(13)).hits[0]
    assert bom.title == "Bom Crlf" and bom.tags == ("a", "b")


def test_billion_laughs_frontmatter_is_cheap_to_read(tmp_path: Path) -> None:
    """The bomb in every field parses in well under the guard, without expanding."""
    path = tmp_path / "bomb.md"
    path.write_text(f"---\n{BILLION_LAUGHS}\n---\nbody\n", encoding="utf-8")
    with hang_guard(10, "reading a YAML bomb"):
        post = parse_post(str(path), path.read_bytes())
    assert len(post.title) < 10_000 and len(post.tags) < 100
    assert isinstance(post.date, datetime | None)
