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

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
# Long-running or recursive: `make demo` serves forever, `make test` is this suite,
# `make bench` takes minutes; `serve` is covered by tests/web and the wheel test.
NOT_RUN_HERE = ("make ", "searchidx serve")


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _commands() -> list[str]:
    commands = []
    for block in _blocks("console"):
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line[2:].split("  #")[0].strip()
                if not command.startswith(NOT_RUN_HERE):
                    commands.append(command)
    return commands


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    """A folder shaped like a clone after `make demo`: corpus/ and .index/demo."""
    work = tmp_path_factory.mktemp("readme")
    (work / "corpus").symlink_to(ROOT / "corpus")
    return work


def test_readme_shows_commands():
    assert len(_commands()) >= 8


def test_every_readme_command_runs(workdir: Path):
    env = dict(os.environ, SEARCHIDX_INDEX=str(workdir / ".index" / "demo"), NO_COLOR="1")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    for command in _commands():
        done = subprocess.run(
            command, shell=True, cwd=workdir, env=env, capture_output=True, text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"{command!r} exited {done.returncode}: {done.stderr}"
        assert "Traceback" not in done.stderr, command


def test_readme_python_example_runs(workdir: Path, monkeypatch):
    (example,) = _blocks("python")
    monkeypatch.chdir(workdir)
    env = dict(os.environ, SEARCHIDX_INDEX=".index/demo")
    subprocess.run([sys.executable, "-m", "searchidx", "index", "corpus/"], cwd=workdir,
                   env=env, check=True, capture_output=True)
    namespace: dict = {}
    exec(compile(example, "README.md", "exec"), namespace)
    assert namespace["res"].total > 0
    assert namespace["report"].unchanged == 46


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
    from searchidx.search import ALL_WORDS_FIRST_MAX_WORDS

    section = README[README.index("### Query syntax"):README.index("### JSON for other tools")]
    numbers = {3: "three"}
    assert f"more than {MAX_EXPANSIONS} words" in section
    assert f"the {MAX_EXPANSIONS} most frequent" in section
    assert f"up to {numbers[ALL_WORDS_FIRST_MAX_WORDS]} words" in section
