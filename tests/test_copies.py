"""Copies of one post show once (issue 14 items 7 and 8), and which url is a post's link.

A url that names a post groups its copies, parameters that name a page included
(`watch?v=...`) and tracking ones left out. A url that does not (empty, or a bare site
root such as https://example.com, as feed stubs carry) cannot see copies: then a file
with the same title, source and text is a copy, and a stub (a title, no body) is a copy of
the fullest post with its title. Every test indexes a tiny archive on disk and searches it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from searchidx import Index, indexer
from searchidx.schema import identifies_post, title_key, url_key

PLACEHOLDER = "https://example.com"
BODY = "Quokkas graze at night on the island and rest in the shade of low scrub by day."


def _index(tmp_path: Path, write_post, posts: dict[str, tuple[dict, str]]) -> Index:
    folder = tmp_path / "archive"
    for name, (meta, body) in posts.items():
        write_post(folder, name, meta, body)
    report = indexer.update(tmp_path / "index", [folder])
    assert report.added == len(posts) and not report.skipped
    return Index.open(tmp_path / "index")


def _names(idx: Index, text: str) -> list[str]:
    return sorted(Path(hit.path).name for hit in idx.search(text, per_page=100).hits)


# --- item 8: the query string names a page; tracking parameters do not ------------------------

@pytest.mark.parametrize("url", [
    "https://www.youtube.com/watch?v=vid1&utm_source=feed&utm_medium=rss",
    "https://youtube.com/watch?fbclid=abc&v=vid1",
    "http://youtube.com/watch?v=vid1&gclid=1&mc_cid=2&mc_eid=3&ref=home&ref_src=tw&igshid=4",
    "https://youtube.com/watch/?v=vid1#comments",
])
def test_url_key_drops_tracking_parameters_only(url: str) -> None:
    assert url_key(url, fallback="own") == "youtube.com/watch?v=vid1"


def test_url_key_keeps_other_parameters_sorted() -> None:
    assert url_key("https://a.org/p?b=2&a=1", "x") == url_key("https://a.org/p?a=1&b=2", "y")
    assert url_key("https://a.org/p?a=1&b=2", "x") != url_key("https://a.org/p?a=1&b=3", "y")
    assert url_key("https://a.org/?p=12", "x") == "a.org?p=12"  # a WordPress post id names a post
    assert url_key("https://a.org/?utm_source=x", "own") == "own"  # still the bare site root


def test_video_posts_with_different_ids_are_different_posts(tmp_path, write_post) -> None:
    posts = {
        f"{n}.md": ({"title": f"Talk number {n}", "url": f"https://www.youtube.com/watch?v=vid{n}"},
                    f"A recorded seminar on wombat burrows, part {n}.")
        for n in (1, 2, 3)
    }
    posts["1-shared.md"] = ({"title": "Talk number 1", "url":
                             "https://youtube.com/watch?v=vid1&utm_source=newsletter&si=Xy"},
                            "A recorded seminar on wombat burrows.")
    idx = _index(tmp_path, write_post, posts)
    hits = idx.search("wombat", per_page=100).hits
    assert sorted(Path(h.path).name for h in hits) == ["1.md", "2.md", "3.md"]  # the fullest copy
    assert [h.duplicates for h in hits if h.path.endswith("1.md")] == [1]


# --- item 7: copies the url cannot see --------------------------------------------------------

def test_title_key_folds_case_accents_and_punctuation() -> None:
    assert title_key("Quokka Habitats: A Field-Guide") == title_key("quokka habitats a field guide")
    assert title_key("Café «Notes»") == title_key("cafe notes")
    assert title_key("Quokka habitats") != title_key("Quokka habitat")
    assert title_key("?!") == ""


def test_a_stub_with_a_placeholder_url_folds_into_the_full_post(tmp_path, write_post) -> None:
    idx = _index(tmp_path, write_post, {
        "2023-02-27-stub.md": ({"title": "Quokka Habitats: A Field Guide", "url": PLACEHOLDER,
                                "date": "2000-01-01T00:00:00.000Z", "source": ""}, ""),
        "2023-03-01-full.md": ({"title": "Quokka habitats - a field guide",
                                "url": "https://zoo.example.org/blog/quokka-habitats",
                                "date": "2023-03-01", "source": "Zoo Notes"}, BODY),
    })
    hits = idx.search("quokka habitats", per_page=100).hits
    assert [(Path(h.path).name, h.duplicates) for h in hits] == [("2023-03-01-full.md", 1)]
    assert idx.stats().duplicates == 2
    # Filtered to the stub alone (its placeholder date gives way to its file name's), the
    # stub is what matches: it is shown.
    stub_only = idx.search("quokka", since="2023-02", until="2023-02").hits
    assert [(Path(h.path).name, h.duplicates) for h in stub_only] == [("2023-02-27-stub.md", 0)]


def test_files_with_the_same_title_and_text_and_no_url_are_copies(tmp_path, write_post) -> None:
    idx = _index(tmp_path, write_post, {
        "2021-11-01-numbat.md": ({"title": "Numbat diets", "date": "2021-11-01"}, BODY),
        "2021-11-5-numbat.md": ({"title": "Numbat Diets", "date": "2021-11-05"}, BODY),
    })
    assert len(idx.search("quokkas").hits) == 1


def test_same_title_different_text_and_no_url_are_different_posts(tmp_path, write_post) -> None:
    # Daily digests share a title a day apart: neither the title nor the date makes a copy.
    idx = _index(tmp_path, write_post, {
        "2024-08-07-digest.md": ({"title": "Little news today", "date": "2024-08-07"},
                                 "Bilbies dig spiral burrows."),
        "2024-08-08-digest.md": ({"title": "Little news today", "date": "2024-08-08"},
                                 "Bilbies eat bulbs and seeds."),
    })
    assert _names(idx, "bilbies") == ["2024-08-07-digest.md", "2024-08-08-digest.md"]


def test_a_stub_does_not_fold_into_a_post_from_another_source(tmp_path, write_post) -> None:
    idx = _index(tmp_path, write_post, {
        "stub.md": ({"title": "Team update", "url": PLACEHOLDER, "source": "Lab A"}, ""),
        "full.md": ({"title": "Team update", "url": "https://b.example.org/team-update",
                     "source": "Lab B"}, "Lab B hired two bilby keepers."),
    })
    assert _names(idx, "team update") == ["full.md", "stub.md"]


def test_stubs_with_the_same_title_show_once(tmp_path, write_post) -> None:
    idx = _index(tmp_path, write_post, {
        "a.md": ({"title": "Echidna spines", "url": PLACEHOLDER}, ""),
        "b.md": ({"title": "echidna spines!", "url": PLACEHOLDER}, ""),
        "c.md": ({"title": "Echidna spines again", "url": PLACEHOLDER}, ""),
    })
    hits = idx.search("echidna", per_page=100).hits
    assert len(hits) == 2 and sorted(h.duplicates for h in hits) == [0, 1]


# --- item 6: the link of a post ---------------------------------------------------------------

@pytest.mark.parametrize("url, link", [
    ("https://example.com", False), ("https://example.com/", False), ("", False),
    ("not a url", False), ("https://example.com/?utm_source=x", False),
    ("https://zoo.example.org/blog/quokka", True), ("https://youtube.com/watch?v=vid1", True),
])
def test_identifies_post(url: str, link: bool) -> None:
    assert identifies_post(url) is link


def test_a_placeholder_url_is_kept_but_is_not_the_link(tmp_path, write_post) -> None:
    idx = _index(tmp_path, write_post, {
        "stub.md": ({"title": "Platypus notes", "url": PLACEHOLDER}, "Platypus eggs."),
        "real.md": ({"title": "Platypus facts", "url": "https://zoo.example.org/platypus"},
                    "Platypus bills."),
    })
    hits = {Path(h.path).name: h for h in idx.search("platypus").hits}
    assert (hits["stub.md"].url, hits["stub.md"].link) == (PLACEHOLDER, "")
    assert hits["stub.md"].to_json()["url"] == PLACEHOLDER
    assert hits["stub.md"].to_json()["link"] is None
    assert hits["real.md"].to_json()["link"] == "https://zoo.example.org/platypus"
    record = idx.get(hits["stub.md"].id)
    assert record.link == "" and record.to_json()["link"] is None


# --- the copy groups a search saves beside the index -----------------------------------------

def test_copy_groups_are_saved_per_generation_and_read_back(tmp_path, write_post) -> None:
    posts = {"a.md": ({"title": "Quokka", "url": "https://lab.org/quokka"}, BODY),
             "b.md": ({"title": "Quokka again", "url": "https://lab.org/quokka"}, BODY + " More."),
             "c.md": ({"title": "Wombat"}, "Wombats dig burrows.")}
    idx = _index(tmp_path, write_post, posts)
    index_dir = tmp_path / "index"
    assert idx.search("quokkas OR wombats").total == 2  # the two quokka files are one post
    saved = list(index_dir.glob("copy-groups-*.npy"))
    assert len(saved) == 1

    # Another process reads them instead of working them out: planted groups that say
    # there are no copies are believed.
    np.save(saved[0], np.full(3, -1, dtype=np.int64))
    assert Index.open(index_dir).search("quokkas OR wombats").total == 3

    # A new generation saves its own and drops the old; a damaged file is worked out again.
    write_post(tmp_path / "archive", "d.md", {"title": "Numbat"}, "Numbats eat termites.")
    indexer.update(index_dir, [tmp_path / "archive"])
    assert Index.open(index_dir).search("quokkas OR wombats OR numbats").total == 3
    newer = list(index_dir.glob("copy-groups-*.npy"))
    assert len(newer) == 1 and newer != saved
    newer[0].write_bytes(b"not an array")
    assert Index.open(index_dir).search("quokkas OR wombats OR numbats").total == 3
    assert np.load(newer[0]).tolist().count(-1) == 2  # saved again, whole
