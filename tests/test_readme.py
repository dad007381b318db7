"""The README cannot rot: every command it shows runs, and every CLI option is documented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from searchidx.cli import cli
from tests.feed_server import FeedServer, rss

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Long-running or recursive: `make demo` serves forever, `make test` is this suite,
# `make bench` takes minutes; `serve` is covered by tests/web and the wheel test;
# `fetch` needs the network: its block runs against a loopback server (below).
NOT_RUN_HERE = ("make ", "searchidx serve", "searchidx fetch")
FEEDS_BLOCK = "$ searchidx feeds add "


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _examples(blocks: list[str] | None = None) -> list[tuple[str, list[str]]]:
    """Each `$ command` of the console blocks, with the lines shown after it: what it
    prints on stdout. In those lines `...` stands for any text (a path, a time), and a
    line of only `...` for any number of lines."""
    examples: list[tuple[str, list[str]]] = []
    for block in _blocks("console") if blocks is None else blocks:
        for line in block.splitlines():
            if line.startswith("$ "):
                examples.append((line[2:].split("  #")[0].strip(), []))
            elif examples:
                examples[-1][1].append(line)
    return [(command, shown) for command, shown in examples
            if blocks is not None or not command.startswith(NOT_RUN_HERE)]


def _commands() -> list[str]:
    return [command for command, _ in _examples()]


# Timings differ from run to run: "in 0.8 s", "(12 ms)".
_TIMING = re.compile(r"\b\d+(?:\.\d+)? m?s\b")


def _shown_pattern(shown: list[str]) -> re.Pattern:
    lines = [r"(?:.*\n)*?" if line.strip() == "..." else
             ".*".join(map(re.escape, _TIMING.sub("TIME", line).split("..."))) + r"\n"
             for line in shown]
    return re.compile("".join(lines))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder shaped like a clone after `make demo`: corpus/ and .index/demo."""
    work = tmp_path_factory.mktemp("readme")
    (work / "corpus").symlink_to(ROOT / "corpus")
    return work


def test_readme_shows_commands():
    assert len(_commands()) >= 8
    assert sum(1 for _, shown in _examples() if shown) >= 5  # and what they print


def _run_examples(examples: list[tuple[str, list[str]]], workdir: Path, **environ) -> None:
    env = dict(os.environ, SEARCHIDX_INDEX=str(workdir / ".index" / "demo"), NO_COLOR="1",
               **environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for command, shown in examples:
        done = subprocess.run(
            command, shell=True, cwd=workdir, env=env, capture_output=True, text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{command!r} exited {done.returncode}: {done.stderr}"
        assert "Traceback" not in done.stderr, command
        if shown:
            assert _shown_pattern(shown).fullmatch(_TIMING.sub("TIME", done.stdout)), (
                f"README.md shows for {command!r}:\n" + "\n".join(shown)
                + f"\nbut it prints:\n{done.stdout}")


def test_every_readme_command_runs_and_prints_what_is_shown(workdir: Path):
    _run_examples(_examples(), workdir)


def test_the_readme_feeds_block_runs_against_a_loopback_feed(tmp_path: Path):
    """The feeds block as shown, `fetch` included: its feed address is answered by a
    loopback server with as many items as the block says were fetched, and `~` is a
    temporary home."""
    (block,) = [block for block in _blocks("console") if FEEDS_BLOCK in block]
    new = int(re.search(r"^Example Blog: (\d+) new", block, flags=re.MULTILINE)[1])
    feed = rss("Notes", [{"guid": f"note-{n}", "title": f"Field note {n}",
                          "link": f"https://example.org/notes/{n}",
                          "date": "Tue, 02 May 2023 10:00:00 +0000",
                          "html": f"<p>Note {n} of the season.</p>"} for n in range(new)])
    server = FeedServer()
    try:
        url = server.serve("/feed.xml", feed)
        home = tmp_path / "home"
        home.mkdir()
        block = block.replace("https://example.org/feed.xml", url).replace(
            "/home/me", str(home))
        _run_examples(_examples([block]), tmp_path, HOME=str(home))
    finally:
        server.close()
    assert len(list((home / "archive").rglob("*.md"))) == new


def test_readme_python_example_runs(workdir: Path, monkeypatch):
    (example,) = _blocks("python")
    monkeypatch.chdir(workdir)
    env = dict(os.environ, SEARCHIDX_INDEX=".index/demo")
    subprocess.run([sys.executable, "-m", "searchidx", "index", "corpus/"], cwd=workdir,
                   env=env, check=True, capture_output=True)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["res"].total > 0
    assert namespace["report"].unchanged == 48


def _options(command: click.Command) -> set[str]:
    names = set()
    for param in command.params:
        if isinstance(param, click.Option):
            names.update(opt for opt in param.opts if opt.startswith("--"))
    return names - {"--help"}


def test_every_cli_option_is_documented():
    missing = set()
    commands = {"": cli, **cli.commands}
    for name, command in commands.items():
        for option in _options(command):
            if option not in README:
                missing.add(f"{name} {option}".strip())
    assert not missing, f"options not in README.md: {sorted(missing)}"


def test_readme_query_syntax_states_the_current_limits():
    """The numbers the query-syntax section gives are the code's (they have changed)."""
    from searchidx.query import MAX_EXPANSIONS
    from searchidx.ranking import DEFAULT_RANKING

    section = README[README.index("### Query syntax"):README.index("### JSON for other tools")]
    numbers = {3: "three"}
    assert f"more than {MAX_EXPANSIONS} words" in section
    assert f"the {MAX_EXPANSIONS} most frequent" in section
    assert f"up to {numbers[DEFAULT_RANKING.all_words_first_max_words]} words" in section
