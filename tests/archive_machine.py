"""The standard for the index: after any sequence of changes to an archive, an incremental
`index` run leaves the index holding exactly what a fresh build of the same archive holds.

`ArchiveMachine` is a Hypothesis state machine. Its rules change a real archive on disk
the ways users do (add, edit, edit keeping size and mtime, rename, move between folders,
delete, break the YAML, add or change `searchidx.toml`, link a folder in, nest roots, move
a root and forget the old place, give `--config`), and its `index` rule runs an
incremental update and compares the index with one built from scratch in a new folder.
It is run in `make test` (tests/test_index_machine.py) and longer in `make stress`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule

from searchidx import Index, indexer

# Five letters each, so one can replace another without changing a file's size.
WORDS = ("quark", "lemon", "piano", "tiger", "cloud", "river", "stone", "flame")
PUBLISHERS = ("Lab One", "Lab Two")
FOLDERS = ("arch/blog", "arch/news", "other", "elsewhere")  # elsewhere: linked in, never a root
CONFIG_WITH_PUBLISHER = '[fields]\nsource = ["publisher"]\n'
BROKEN = "---\ntitle: [unclosed\n---\nquark quark\n"


def _post_text(title: str, words: list[str], publisher: str, url: int | None) -> str:
    lines = ["---", f"title: {title}", f"publisher: {publisher}", "pubDate: 2023-04-05"]
    if url is not None:  # a few shared urls, so some posts are copies of each other
        lines.append(f"url: https://lab.example/posts/{url}")
    return "\n".join([*lines, "---", " ".join(words), ""])


def index_contents(index_dir: Path) -> dict:
    """Everything a user can see of an index: each post's fields and text, the copies
    folded into each hit, the facets, and what each word finds."""
    index = Index.open(index_dir)
    everything = index.search("", per_page=100, include_hidden=True, facets=True)
    posts = {}
    for hit in everything.hits:
        record = index.get(hit.id).to_json()
        record.pop("score", None)
        posts[hit.id] = (record, hit.duplicates)
    finds = {word: sorted(hit.id for hit in index.search(word, per_page=100).hits)
             for word in WORDS[:4]}
    return {"total": everything.total, "posts": posts, "facets": everything.facets,
            "finds": finds}


class ArchiveMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.base = Path(tempfile.mkdtemp(prefix="archive-machine-"))
        for folder in FOLDERS:
            (self.base / folder).mkdir(parents=True)
        self.index_dir = self.base / "index"
        self.roots: dict[Path, Path | None] = {}  # root -> the --config given with it
        self.moves = 0
        for number, words in enumerate((["quark", "lemon"], ["piano", "quark", "tiger"])):
            (self.base / f"arch/blog/first-{number}.md").write_text(
                _post_text(f"first{number}", words, PUBLISHERS[number], None))
        self._root(self.base / "arch/blog")

    def teardown(self) -> None:
        shutil.rmtree(self.base, ignore_errors=True)

    # --- the archive -------------------------------------------------------------------
    def _files(self) -> list[Path]:
        return sorted(p for p in self.base.rglob("*.md")
                      if not p.is_symlink() and "index" not in p.relative_to(self.base).parts)

    def _folders(self) -> list[Path]:
        """Folders under a root first: Hypothesis tries the first choices most."""
        folders = [p for p in self.base.rglob("*") if p.is_dir() and not p.is_symlink()
                   and p.relative_to(self.base).parts[0] not in ("index", "fresh")]
        return sorted(folders, key=lambda p: (not any(p.is_relative_to(r) for r in self.roots),
                                              str(p)))

    @rule(data=st.data(), name=st.integers(0, 5), title=st.sampled_from(WORDS),
          words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
          publisher=st.sampled_from(PUBLISHERS), url=st.none() | st.integers(0, 2))
    def add(self, data, name, title, words, publisher, url) -> None:
        folder = data.draw(st.sampled_from(self._folders()), label="folder")
        (folder / f"post-{name}.md").write_text(_post_text(title, words, publisher, url))

    @precondition(lambda self: self._files())
    @rule(data=st.data(), words=st.lists(st.sampled_from(WORDS), min_size=1, max_size=4),
          publisher=st.sampled_from(PUBLISHERS))
    def edit(self, data, words, publisher) -> None:
        path = data.draw(st.sampled_from(self._files()), label="file")
        path.write_text(_post_text(path.stem, words, publisher, None))

    @precondition(lambda self: self._files())
    @rule(data=st.data(), word=st.sampled_from(WORDS))
    def edit_keeping_size_and_mtime(self, data, word) -> None:
        """`sed -i` then `touch -r`: only the ctime tells the file changed."""
        path = data.draw(st.sampled_from(self._files()), label="file")
        before = path.stat()
        text = path.read_text()
        body = text.rsplit("---\n", 1)[-1]
        old = next((w for w in WORDS if w in body and w != word), None)
        if old is None:
            return
        changed = text[: len(text) - len(body)] + body.replace(old, word, 1)
        path.write_text(changed)
        while path.stat().st_ctime_ns == before.st_ctime_ns:  # a coarse clock: write again
            time.sleep(0.005)
            path.write_text(changed)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        self.index()  # now: a later edit of this file would hide a change the sync missed

    @precondition(lambda self: self._files())
    @rule(data=st.data(), name=st.integers(0, 5))
    def rename(self, data, name) -> None:
        path = data.draw(st.sampled_from(self._files()), label="file")
        path.rename(path.with_name(f"renamed-{name}.md"))

    @precondition(lambda self: self._files())
    @rule(data=st.data())
    def move_to_another_folder(self, data) -> None:
        path = data.draw(st.sampled_from(self._files()), label="file")
        folder = data.draw(st.sampled_from(self._folders()), label="to")
        path.rename(folder / f"moved-{path.name}")

    @precondition(lambda self: self._files())
    @rule(data=st.data())
    def delete(self, data) -> None:
        data.draw(st.sampled_from(self._files()), label="file").unlink()

    @precondition(lambda self: self._files())
    @rule(data=st.data())
    def break_yaml(self, data) -> None:
        data.draw(st.sampled_from(self._files()), label="file").write_text(BROKEN)

    @rule(folder=st.sampled_from(("arch/blog", "other", "arch")),
          text=st.sampled_from((CONFIG_WITH_PUBLISHER, None)))
    def change_config(self, folder, text) -> None:
        config = self.base / folder / "searchidx.toml"
        if not config.parent.is_dir():
            return
        if text is None:
            config.unlink(missing_ok=True)
        else:
            config.write_text(text)
        self.index()  # now: a later edit of a post would hide a change the sync missed

    @precondition(lambda self: not (self.base / "arch/news/linked").exists())
    @rule()
    def link_a_folder_in(self) -> None:
        (self.base / "arch/news/linked").symlink_to(self.base / "elsewhere",
                                                    target_is_directory=True)

    # --- the roots ---------------------------------------------------------------------
    def _root(self, path: Path, config: Path | None = None) -> None:
        indexer.update(self.index_dir, [path], config_path=config, jobs=1)
        self.roots[path] = config

    @precondition(lambda self: self.base / "arch" not in self.roots)
    @rule()
    def index_the_outer_folder(self) -> None:
        self._root(self.base / "arch")
        self.check()

    @precondition(lambda self: not any(p.name.startswith("other") for p in self.roots))
    @rule(with_config=st.booleans())
    def index_another_folder(self, with_config) -> None:
        config = None
        if with_config:
            config = self.base / "my.toml"
            config.write_text(CONFIG_WITH_PUBLISHER)
        self._root(self._other(), config)
        self.check()

    @precondition(lambda self: any(p.name.startswith("other") for p in self.roots))
    @rule()
    def move_a_root_and_forget_the_old_place(self) -> None:
        old = self._other()
        self.moves += 1
        new = old.with_name(f"other-{self.moves}")
        old.rename(new)
        config = self.roots.pop(old)
        indexer.forget(self.index_dir, [old], jobs=1)
        self._root(new, config)
        self.check()

    def _other(self) -> Path:
        return next(p for p in self.base.iterdir() if p.name.startswith("other"))

    # --- the standard ------------------------------------------------------------------
    @rule()
    def index(self) -> None:
        indexer.update(self.index_dir, jobs=1)
        self.check()

    def check(self) -> None:
        fresh = self.base / "fresh"
        shutil.rmtree(fresh, ignore_errors=True)
        for root, config in self.roots.items():
            indexer.update(fresh, [root], config_path=config, jobs=1)
        expected = index_contents(fresh)
        assert index_contents(self.index_dir) == expected
        shutil.rmtree(fresh)
