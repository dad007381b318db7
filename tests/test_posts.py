"""posts.py: frontmatter, field aliases, dates, markdown to plain text, malformed files."""

from __future__ import annotations

from datetime import datetime

import pytest

from searchidx.errors import PostError
from searchidx.posts import parse_date, read_post

APRIL_27 = datetime(2023, 4, 27)


# --- dates -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Thu, 27 Apr 2023 00:00:00 GMT", APRIL_27),
        ("Thu, 27 Apr 2023 00:00:00 +0000", APRIL_27),
        ("Thu, 27 Apr 2023 09:00:00 +0900", APRIL_27),  # Tokyo morning is UTC midnight
        ("Wed, 26 Apr 2023 20:00:00 -0400", APRIL_27),  # New York evening is next day UTC
        ("2023-04-27", APRIL_27),
        ("2023-04-27T10:30:00", datetime(2023, 4, 27, 10, 30)),
        ("2023-04-27T10:30:00+02:00", datetime(2023, 4, 27, 8, 30)),
        ("2023-04-27T10:30:00Z", datetime(2023, 4, 27, 10, 30)),
        ("2023-04-27T10:30:00.123456Z", datetime(2023, 4, 27, 10, 30, 0, 123456)),
        ("2022-3-04  9:00:00", datetime(2022, 3, 4, 9, 0)),
    ],
)
def test_parse_date_forms_give_naive_utc(value: str, expected: datetime) -> None:
    parsed = parse_date(value)
    assert parsed == expected
    assert parsed.tzinfo is None


@pytest.mark.parametrize("value", ["", "soon", "TBD", 20230427, True, None, ["2023"]])
def test_parse_date_rejects_non_dates(value: object) -> None:
    assert parse_date(value) is None


@pytest.mark.parametrize(
    ("yaml_value", "expected"),
    [
        ("2023-04-27", APRIL_27),  # YAML gives a datetime.date
        ("2023-04-27 10:30:00", datetime(2023, 4, 27, 10, 30)),  # naive datetime
        ("2023-04-27 10:30:00+02:00", datetime(2023, 4, 27, 8, 30)),  # aware datetime
        ('"Thu, 27 Apr 2023 09:00:00 +0900"', APRIL_27),
    ],
)
def test_unquoted_yaml_dates_in_a_file(
    tmp_path, write_post, yaml_value: str, expected: datetime
) -> None:
    path = write_post(tmp_path, "post.md", f"title: T\ndate: {yaml_value}", "Body.")
    post = read_post(path)
    assert post.date == expected
    assert post.date.tzinfo is None


@pytest.mark.parametrize("key", ["pubDate", "published", "publishedAt", "created"])
def test_date_aliases(tmp_path, write_post, key: str) -> None:
    path = write_post(tmp_path, "post.md", {"title": "T", key: "2023-04-27"}, "Body.")
    assert read_post(path).date == APRIL_27


def test_no_date_falls_back_to_filename_prefix(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "2021-05-06-some-post.md", {"title": "T"}, "Body.")
    assert read_post(path).date == datetime(2021, 5, 6)


def test_unparseable_date_falls_back_to_filename_prefix(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "2021-05-06-x.md", {"title": "T", "date": "someday"}, "Body.")
    assert read_post(path).date == datetime(2021, 5, 6)


def test_no_date_and_no_prefix_is_none_never_now(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "notes.md", {"title": "T"}, "Body.")
    assert read_post(path).date is None
    impossible = write_post(tmp_path, "2021-02-31-bad-day.md", {"title": "T"}, "Body.")
    assert read_post(impossible).date is None


@pytest.mark.parametrize("value", [
    '"2000-01-01T00:00:00.000Z"', "2000-01-01", '"Thu, 01 Jan 1970 00:00:00 +0000"',
    '"0001-01-01T00:00:00Z"', "1899-12-31",
])
def test_a_placeholder_date_counts_as_none(tmp_path, write_post, value) -> None:
    # as when there is no date: the file name's, if it has one
    path = write_post(tmp_path, "2017-05-24-x.md", f"title: T\npubDate: {value}", "Body.")
    assert read_post(path).date == datetime(2017, 5, 24)
    path = write_post(tmp_path, "x.md", f"title: T\npubDate: {value}", "Body.")
    assert read_post(path).date is None


@pytest.mark.parametrize(("value", "expected"), [
    ('"2000-01-01T09:30:00Z"', datetime(2000, 1, 1, 9, 30)),
    ('"Fri, 02 Jan 1970 00:00:00 +0000"', datetime(1970, 1, 2)),
])
def test_a_day_next_to_a_placeholder_is_a_date(tmp_path, write_post, value, expected) -> None:
    path = write_post(tmp_path, "post.md", f"title: T\npubDate: {value}", "Body.")
    assert read_post(path).date == expected


# --- field aliases ------------------------------------------------------------------------

@pytest.mark.parametrize("key", ["description", "excerpt"])
def test_summary_aliases(tmp_path, write_post, key: str) -> None:
    path = write_post(tmp_path, "p.md", {"title": "T", key: "The short version."}, "Body.")
    assert read_post(path).summary == "The short version."


def test_summary_wins_over_description(tmp_path, write_post) -> None:
    meta = {"title": "T", "description": "from description", "summary": "from summary"}
    assert read_post(write_post(tmp_path, "p.md", meta, "Body.")).summary == "from summary"


def test_url_from_link(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "p.md", {"title": "T", "link": "https://example.org/a/b"}, "B")
    assert read_post(path).url == "https://example.org/a/b"


@pytest.mark.parametrize(
    "meta",
    [
        {"blog": "BAIR Blog"},
        {"site": "BAIR Blog"},
        {"provider": {"name": "BAIR Blog", "url": "https://bair.berkeley.edu"}},
        {"source": "  ", "blog": "BAIR Blog"},  # a blank value is no value
    ],
)
def test_source_aliases(tmp_path, write_post, meta: dict) -> None:
    path = write_post(tmp_path, "p.md", {"title": "T", **meta}, "Body.")
    assert read_post(path).source == "BAIR Blog"


@pytest.mark.parametrize("key", ["tags", "categories", "topics"])
def test_tag_aliases(tmp_path, write_post, key: str) -> None:
    path = write_post(tmp_path, "p.md", {"title": "T", key: ["llm", "Machine Learning"]}, "B")
    assert read_post(path).tags == ("llm", "Machine Learning")


def test_tags_as_comma_separated_string(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "p.md", {"title": "T", "tags": "rl, robotics,  vision "}, "B")
    assert read_post(path).tags == ("rl", "robotics", "vision")


def test_authors_from_html_string(tmp_path, write_post) -> None:
    meta = {"title": "T", "author": '<a href="https://example.org/ann">Ann Lee</a> and Bo Chen'}
    assert read_post(write_post(tmp_path, "p.md", meta, "Body.")).authors == ("Ann Lee", "Bo Chen")


def test_authors_from_list_and_from_comma_string(tmp_path, write_post) -> None:
    listed = write_post(tmp_path, "a.md", {"title": "T", "authors": ["Ann Lee", "Bo Chen"]}, "B")
    assert read_post(listed).authors == ("Ann Lee", "Bo Chen")
    joined = write_post(tmp_path, "b.md", {"title": "T", "author": "Ann Lee, Bo Chen and Cy Dee"})
    assert read_post(joined).authors == ("Ann Lee", "Bo Chen", "Cy Dee")


def test_thumbnail_alias(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "p.md", {"title": "T", "image": "https://example.org/i.png"}, "B")
    assert read_post(path).thumbnail == "https://example.org/i.png"


# --- titles and hidden posts -----------------------------------------------------------------

def test_title_falls_back_to_first_heading(tmp_path, write_post) -> None:
    body = "Intro line.\n\n## The *real* heading\n\nText.\n\n## Second heading\n"
    path = write_post(tmp_path, "p.md", {"date": "2023-04-27"}, body)
    assert read_post(path).title == "The real heading"


def test_title_falls_back_to_file_name(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "my-notes.md", {"date": "2023-04-27"}, "No heading here.")
    assert read_post(path).title == "my-notes"


@pytest.mark.parametrize(
    ("meta", "hidden"),
    [
        ({"draft": True}, True),
        ({"visible": False}, True),
        ({"visible": True}, False),
        ({"draft": False}, False),
        ({}, False),
    ],
)
def test_hidden_posts(tmp_path, write_post, meta: dict, hidden: bool) -> None:
    path = write_post(tmp_path, "p.md", {"title": "T", **meta}, "Body.")
    assert read_post(path).hidden is hidden


# --- markdown and HTML to plain text -------------------------------------------------------

NOISY_BODY = """\
See [the paper](https://arxiv.org/abs/2301.00001) and ![a diagram](https://example.org/d.png).

<div class="callout">Boxed <b>remark</b></div>

{% include youtubePlayer.html id="abc123" %}

<!-- editor note: remove before publishing -->

<script>
var trackingSecret = 42;
</script>

<style>.callout { color: red; }</style>

Plain *emphasis* and `inline code` stay.
"""


def test_markdown_body_is_plain_text(tmp_path, write_post) -> None:
    body = read_post(write_post(tmp_path, "p.md", {"title": "T"}, NOISY_BODY)).body
    for kept in ("See the paper and a diagram", "Boxed remark", "Plain emphasis and inline code"):
        assert kept in body
    for dropped in ("arxiv.org", "https://", "<", ">", "youtubePlayer", "{%", "editor note",
                    "trackingSecret", "color: red", "callout"):
        assert dropped not in body


def test_markdown_source_is_kept_as_written(tmp_path, write_post) -> None:
    post = read_post(write_post(tmp_path, "p.md", {"title": "T"}, NOISY_BODY))
    assert "[the paper](https://arxiv.org/abs/2301.00001)" in post.markdown


def test_inline_script_content_is_dropped(tmp_path, write_post) -> None:
    body = "Before <script>stealCookies()</script> after, and <!-- a note --> end."
    text = read_post(write_post(tmp_path, "p.md", {"title": "T"}, body)).body
    assert "stealCookies" not in text
    assert "a note" not in text


def test_html_in_description_is_stripped(tmp_path, write_post) -> None:
    meta = {"title": "T", "description": '<p>An <a href="https://x.org">open</a> <em>model</em>'
            "</p><script>alert(1)</script>"}
    summary = read_post(write_post(tmp_path, "p.md", meta, "Body.")).summary
    assert summary == "An open model"


def test_non_ascii_and_japanese_kept(tmp_path, write_post) -> None:
    meta = {"title": "画像生成AI「Stable Diffusion」が一般公開",
            "summary": "Un café au lait, résumé."}
    post = read_post(write_post(tmp_path, "p.md", meta, "大規模言語モデルの発表。Ünïcödé text."))
    assert post.title == "画像生成AI「Stable Diffusion」が一般公開"
    assert post.summary == "Un café au lait, résumé."
    assert post.body == "大規模言語モデルの発表。Ünïcödé text."


# --- malformed files -------------------------------------------------------------------------

def _error(path) -> PostError:
    with pytest.raises(PostError) as caught:
        read_post(path)
    assert caught.value.path == str(path)
    assert str(path) in str(caught.value)
    return caught.value


def test_bad_yaml_is_reported_with_line(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "bad.md", "title: [unclosed\nsummary: x: y: z", "Body.")
    reason = _error(path).reason
    assert "YAML" in reason and "line" in reason


def test_binary_file_is_reported(tmp_path) -> None:
    path = tmp_path / "binary.md"
    path.write_bytes(b"---\ntitle: x\n---\n\x00\x01\x02PNG")
    assert "binary" in _error(path).reason


def test_latin1_file_is_reported(tmp_path) -> None:
    path = tmp_path / "latin1.md"
    path.write_bytes("---\ntitle: Caf\u00e9\n---\nr\u00e9sum\u00e9\n".encode("latin-1"))
    assert "UTF-8" in _error(path).reason


@pytest.mark.parametrize("content", [b"", b"  \n\n\t\n"])
def test_empty_file_is_reported(tmp_path, content: bytes) -> None:
    path = tmp_path / "empty.md"
    path.write_bytes(content)
    assert "empty" in _error(path).reason


def test_missing_file_is_reported(tmp_path) -> None:
    assert "cannot be read" in _error(tmp_path / "gone.md").reason


def test_frontmatter_only_is_a_post(tmp_path, write_post) -> None:
    post = read_post(write_post(tmp_path, "p.md", {"title": "Only metadata"}, ""))
    assert post.title == "Only metadata"
    assert post.body == ""


def test_no_frontmatter_is_a_post(tmp_path, write_post) -> None:
    path = write_post(tmp_path, "2020-01-02-plain.md", None, "# Plain heading\n\nJust text.\n")
    post = read_post(path)
    assert post.title == "Plain heading"
    assert post.body.split() == ["Plain", "heading", "Just", "text."]
    assert post.date == datetime(2020, 1, 2)


def test_c1_control_characters_are_stripped(tmp_path, write_post) -> None:
    # U+0096 comes from Windows-1252 text mis-decoded as Latin-1; libyaml rejects it.
    path = write_post(tmp_path, "p.md", "title: \"Fast\u0096cheap models\"", "Body\u0085 text.")
    post = read_post(path)
    assert post.title == "Fastcheap models"
    assert "\u0085" not in post.body and "\u0096" not in post.title


def test_crlf_and_bom_are_accepted(tmp_path) -> None:
    path = tmp_path / "p.md"
    path.write_bytes(b"\xef\xbb\xbf---\r\ntitle: Windows post\r\n---\r\nLine one.\r\n")
    post = read_post(path)
    assert post.title == "Windows post"
    assert post.body == "Line one."


def test_content_hash_changes_with_content(tmp_path, write_post) -> None:
    first = read_post(write_post(tmp_path, "p.md", {"title": "T"}, "one")).content_hash
    second = read_post(write_post(tmp_path, "p.md", {"title": "T"}, "two")).content_hash
    assert first and second and first != second
