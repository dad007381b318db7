"""cli.py: commands, JSON shapes, exit codes, colour, $SEARCHIDX_INDEX; CliRunner and a real
subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from searchidx import __version__
from searchidx.cli import cli

HIT_KEYS = {"id", "path", "title", "url", "link", "source", "date", "tags", "authors", "score",
            "snippet", "duplicates"}
STATS_KEYS = {"posts", "sources", "first_date", "last_date", "undated", "duplicates", "hidden",
              "index_bytes", "updated_at", "roots", "unreadable"}
REPORT_KEYS = {"added", "updated", "removed", "unchanged", "skipped", "notices", "seconds"}


@pytest.fixture
def run(corpus_index_dir):
    """Runs `searchidx --index <corpus index> ARGS` in-process."""

    def invoke(*args: str, env: dict | None = None, color: bool = False):
        runner = CliRunner()
        return runner.invoke(cli, ["--index", str(corpus_index_dir), *args], env=env,
                             color=color)

    return invoke


def _json(result) -> dict:
    return json.loads(result.stdout)


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.stdout


def test_search_json_shape(run) -> None:
    result = run("search", "alphafold", "--json")
    assert result.exit_code == 0, result.stderr
    data = _json(result)
    assert set(data) == {"query", "total", "page", "per_page", "hits", "facets", "suggestion",
                         "notice", "synonyms", "first"}
    assert set(data["facets"]) == {"source", "year", "tag", "paper", "month"}
    assert set(data["first"]) == HIT_KEYS and data["first"]["date"] == min(
        hit["date"] for hit in data["hits"] if hit["date"])
    assert data["query"] == "alphafold" and data["page"] == 1 and data["per_page"] == 10
    assert data["total"] == len(data["hits"]) > 0
    for hit in data["hits"]:
        assert set(hit) == HIT_KEYS
        assert Path(hit["path"]).is_absolute() and Path(hit["path"]).is_file()
        assert hit["date"] is None or hit["date"].endswith("Z")
        assert isinstance(hit["tags"], list) and isinstance(hit["score"], float)


def test_search_json_undated_post_has_null_date(run) -> None:
    hits = _json(run("search", "kaplan", "--json"))["hits"]
    undated = [h for h in hits if h["path"].endswith("undated-notes-on-scaling-laws.md")]
    assert undated and undated[0]["date"] is None


def test_search_options_reach_the_library(run) -> None:
    data = _json(run("search", "", "--source", "BAIR Blog", "--source", "Anthropic",
                     "--since", "2023", "--sort", "oldest", "--limit", "2", "--json"))
    assert data["total"] == 2 and data["per_page"] == 2
    assert [h["source"] for h in data["hits"]] == ["BAIR Blog", "Anthropic"]
    assert data["hits"][0]["date"] < data["hits"][1]["date"]


def test_filters_match_words_of_names(run) -> None:
    exact = _json(run("search", "", "--source", "DeepMind Blog", "--json"))["total"]
    assert _json(run("search", "", "--source", "deepmind", "--json"))["total"] == exact > 0
    for args in (["", "--author", "levine"], ["author:levine"]):
        hits = _json(run("search", *args, "--json"))["hits"]
        assert [Path(h["path"]).name for h in hits] == ["2023-04-03-koala-dialogue-model.md"]


def test_a_pasted_abstract_is_searched_not_refused(run) -> None:
    result = run("search", "protein structure prediction " * 200)
    assert result.exit_code == 0, result.stderr
    assert "note: the query was cut to its first 103 words" in result.stderr


def test_exit_codes(run) -> None:
    assert run("search", "alphafold").exit_code == 0
    nothing = run("search", "xylophonequartz")
    assert nothing.exit_code == 1
    assert "0 posts" in nothing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["search", "x", "--sort", "bogus"], "bogus"),
        (["search", "x", "--since", "2023-13"], "is not a date"),
        (["search", "x", "--limit", "0"], "--limit"),
        (["search", "x", "--page", "\u00b2"], "'²' is not a valid integer"),
        (["search", "x", "--limit", "\u2460"], "'①' is not a valid integer"),
        (["show"], "POST_ID"),
        (["nosuchcommand"], "nosuchcommand"),
    ],
)
def test_usage_errors_exit_2_with_a_message(run, args: list[str], message: str) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_missing_index_is_a_message_not_a_traceback(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "none"), "search", "x"])
    assert result.exit_code == 2
    assert "no index at" in result.stderr and "index ARCHIVE" in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_show_json(run, corpus_ids) -> None:
    result = run("show", corpus_ids["2023-03-14-gpt-4.md"], "--json")
    assert result.exit_code == 0
    data = _json(result)
    assert data["title"] == "GPT-4" and data["date"] == "2023-03-14T17:00:00Z"
    assert data["source"] == "OpenAI Blog" and "GPT-4" in data["body"]


def test_show_text_and_unknown_id(run, corpus_ids) -> None:
    text = run("show", corpus_ids["2023-03-14-gpt-4.md"])
    assert text.exit_code == 0 and "source:  OpenAI Blog" in text.stdout
    unknown = run("show", "0000000000000000")
    assert unknown.exit_code == 2 and "no post with id" in unknown.stderr


def test_similar_json(run, corpus_ids) -> None:
    own = corpus_ids["2024-05-08-alphafold-3.md"]
    result = run("similar", own, "--json", "--limit", "3")
    assert result.exit_code == 0
    data = _json(result)
    assert data["id"] == own
    assert 0 < len(data["hits"]) <= 3
    assert all(set(h) == HIT_KEYS and h["id"] != own for h in data["hits"])


def test_stats_json(run, corpus_dir) -> None:
    data = _json(run("stats", "--json"))
    assert set(data) == STATS_KEYS
    assert (data["posts"], data["duplicates"], data["hidden"]) == (48, 2, 1)
    assert data["first_date"] == "2015-11-09T08:00:00Z" and data["undated"] == 1
    assert data["roots"] == [str(corpus_dir)]


def test_stats_text(run) -> None:
    result = run("stats")
    assert result.exit_code == 0
    assert "posts:      48 (1 hidden, 2 share a url)" in result.stdout
    assert "dates:      2015-11-09 to 2026-03-09 (1 undated)" in result.stdout


def test_no_color_env_strips_ansi(run) -> None:
    coloured = run("search", "alphafold", color=True)
    assert "\x1b[" in coloured.stdout  # the check below can fail
    plain = run("search", "alphafold", color=True, env={"NO_COLOR": "1"})
    assert "\x1b[" not in plain.stdout
    assert "AlphaFold" in plain.stdout


def test_searchidx_index_env_var(corpus_index_dir) -> None:
    result = CliRunner().invoke(cli, ["stats", "--json"],
                                env={"SEARCHIDX_INDEX": str(corpus_index_dir)})
    assert result.exit_code == 0
    assert json.loads(result.stdout)["posts"] == 48


# --- index command --------------------------------------------------------------------------

def _malformed(folder: Path, write_post) -> None:
    write_post(folder, "good.md", {"title": "Good"}, "fine words")
    write_post(folder, "bad.md", "title: [oops", "words")
    (folder / "bin.md").write_bytes(b"\x00\x01binary")


def test_index_json_report(tmp_path, write_post) -> None:
    _malformed(tmp_path / "archive", write_post)
    index = str(tmp_path / "index")
    result = CliRunner().invoke(cli, ["--index", index, "index", str(tmp_path / "archive"),
                                      "--json"])
    assert result.exit_code == 0
    data = _json(result)
    assert set(data) == REPORT_KEYS
    assert (data["added"], data["updated"], data["removed"], data["unchanged"]) == (1, 0, 0, 0)
    assert sorted(Path(s["path"]).name for s in data["skipped"]) == ["bad.md", "bin.md"]
    assert all(set(s) == {"path", "reason", "was_indexed"} and s["reason"] and not s["was_indexed"]
               for s in data["skipped"])
    assert isinstance(data["seconds"], float)


def test_index_text_report_and_strict(tmp_path, write_post) -> None:
    _malformed(tmp_path / "archive", write_post)
    args = ["--index", str(tmp_path / "index"), "index", str(tmp_path / "archive")]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0
    assert "1 added" in result.stdout and "2 skipped" in result.stdout
    assert "bad.md: frontmatter is not valid YAML" in result.stderr
    strict = CliRunner().invoke(cli, [*args, "--strict"])
    assert strict.exit_code != 0
    resync = CliRunner().invoke(cli, args[:3])  # bare `index`: the remembered roots
    assert resync.exit_code == 0 and "1 unchanged" in resync.stdout


def test_index_verify_finds_a_change_the_stat_cannot_show(tmp_path, write_post) -> None:
    post = write_post(tmp_path / "archive", "2023-01-01-a.md", {"title": "A"},
                      "badgers all the way")
    index = tmp_path / "index"
    args = ["--index", str(index), "index"]
    assert CliRunner().invoke(cli, [*args, str(tmp_path / "archive")]).exit_code == 0
    before = post.stat()
    post.write_text(post.read_text(encoding="utf-8").replace("badgers", "beavers"),
                    encoding="utf-8")
    os.utime(post, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = post.stat()
    assert (after.st_size, after.st_mtime_ns) == (before.st_size, before.st_mtime_ns)
    # A stat that tells nothing (a restore that also keeps the ctime, a clock that
    # went back): record the file's present stat as what the index holds.
    db = sqlite3.connect(index / "searchidx.sqlite")
    assert db.execute("UPDATE files SET ctime_ns = ?", (after.st_ctime_ns,)).rowcount == 1
    db.commit()
    db.close()

    plain = CliRunner().invoke(cli, [*args, "--json"])
    assert plain.exit_code == 0, plain.stderr
    assert (_json(plain)["updated"], _json(plain)["unchanged"]) == (0, 1)
    verify = CliRunner().invoke(cli, [*args, "--verify", "--json"])
    assert verify.exit_code == 0, verify.stderr
    assert (_json(verify)["updated"], _json(verify)["unchanged"]) == (1, 0)
    found = CliRunner().invoke(cli, ["--index", str(index), "search", "beavers", "--json"])
    assert found.exit_code == 0 and _json(found)["total"] == 1
    again = CliRunner().invoke(cli, [*args, "--verify", "--json"])
    assert (_json(again)["updated"], _json(again)["unchanged"]) == (0, 1)


def test_index_missing_path_is_a_usage_error(tmp_path) -> None:
    result = CliRunner().invoke(cli, ["--index", str(tmp_path / "i"), "index",
                                      str(tmp_path / "nowhere")])
    assert result.exit_code == 2 and "does not exist" in result.stderr


def test_one_more_copy_is_singular(run) -> None:
    result = run("search", "chatgpt")
    assert result.exit_code == 0, result.stderr
    assert "1 more copy" in result.stdout and "1 more copies" not in result.stdout


# --- a real process -----------------------------------------------------------------------------

def test_real_subprocess(corpus_index_dir) -> None:
    env = {**os.environ, "SEARCHIDX_INDEX": str(corpus_index_dir)}
    env.pop("NO_COLOR", None)  # piped output must be plain even without NO_COLOR
    found = subprocess.run([sys.executable, "-m", "searchidx", "search", "alphafold"],
                           capture_output=True, text=True, env=env, timeout=60)
    assert found.returncode == 0, found.stderr
    assert "AlphaFold" in found.stdout
    assert "\x1b[" not in found.stdout + found.stderr

    as_json = subprocess.run([sys.executable, "-m", "searchidx", "search", "gpt-4", "--json"],
                             capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(as_json.stdout)["hits"][0]["title"] == "GPT-4"

    missing = subprocess.run(
        [sys.executable, "-m", "searchidx", "--index", "/nonexistent/idx", "stats"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert missing.returncode == 2
    assert "no index at" in missing.stderr and "Traceback" not in missing.stderr


@pytest.mark.parametrize("args", [("search", "", "--limit", "100"),
                                  ("search", "", "--limit", "100", "--json"),
                                  ("similar", "--limit", "5"), ("stats",)])
def test_closed_pipe_ends_quietly_with_the_real_status(corpus_index_dir, corpus_ids,
                                                       args) -> None:
    """`searchidx search "" | head -1`: the reader closes the pipe after one line."""
    if args[0] == "similar":
        args = ("similar", corpus_ids["2020-11-30-alphafold-2-casp14.md"], *args[1:])
    env = {**os.environ, "SEARCHIDX_INDEX": str(corpus_index_dir)}
    read_end, write_end = os.pipe()
    os.close(read_end)  # closed before anything is written: the first write fails
    process = subprocess.Popen([sys.executable, "-m", "searchidx", *args], stdout=write_end,
                               stderr=subprocess.PIPE, text=True, env=env)
    os.close(write_end)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
    assert "BrokenPipe" not in stderr


def test_head_one_reads_one_line_and_the_status_is_found(corpus_index_dir) -> None:
    env = {**os.environ, "SEARCHIDX_INDEX": str(corpus_index_dir)}
    process = subprocess.Popen([sys.executable, "-m", "searchidx", "search", "", "--limit", "100"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    assert process.stdout.readline().startswith("1. ")
    process.stdout.close()
    stderr = process.stderr.read()
    assert process.wait(timeout=60) == 0, stderr
    assert "Traceback" not in stderr and "Exception ignored" not in stderr
