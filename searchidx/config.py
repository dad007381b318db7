"""Per-archive configuration: `searchidx.toml` in an archive root, or `--config FILE`.

    extensions = [".md", ".markdown"]     # which files are posts

    [fields]                              # extra frontmatter keys, tried before the defaults
    source = ["publisher", "provider.name"]
    tags = "labels"

    [defaults]                            # what a post that has none of a field's keys gets
    source = "BAIR Blog"

    [synonyms]                            # acronyms, added to the built-in ones (synonyms.py)
    SAE = ["sparse autoencoder"]

Synonyms apply when searching (`load_synonyms`): changing them needs no re-index, and a
mistake in them never stops indexing.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from searchidx.errors import SearchIdxError
from searchidx.posts import DEFAULT_ALIASES
from searchidx.schema import WORD_PATTERN

CONFIG_NAME = "searchidx.toml"
DEFAULT_EXTENSIONS = (".md", ".markdown")
DEFAULTABLE_FIELDS = ("source", "tags", "authors")  # `[defaults]`: see Config.defaults


@dataclass(frozen=True)
class Config:
    aliases: dict[str, tuple[str, ...]] = field(default_factory=lambda: dict(DEFAULT_ALIASES))
    extensions: tuple[str, ...] = DEFAULT_EXTENSIONS
    # name field -> a value (a string, or a list of them) for posts that have none: an
    # archive whose posts do not name their blog (a Jekyll site's _posts) can still be a
    # source. Only names: a default title or date would hide the first heading or the
    # file name's date, which say more about one post than a value for all of them.
    defaults: dict[str, str | list[str]] = field(default_factory=dict)

    @cached_property
    def digest(self) -> str:
        """What a post was read with, recorded beside it: when the configuration of its
        archive changes, the post is read again (its own text being unchanged)."""
        settings = json.dumps([sorted(self.aliases.items()), self.extensions,
                               sorted(self.defaults.items())])
        return hashlib.sha1(settings.encode()).hexdigest()[:16]


def load_config(path: Path | None) -> Config:
    """Read a config file; None or a missing archive-root file gives the defaults."""
    if path is None or not path.is_file():
        return Config()
    data = _read(path)

    aliases = dict(DEFAULT_ALIASES)
    for name, keys in _field_table(path, data, "fields", "field = [keys]"):
        keys = [keys] if isinstance(keys, str) else keys
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise SearchIdxError(f"{path}: [fields] {name} must be a key or a list of keys")
        aliases[name] = tuple(keys) + tuple(k for k in DEFAULT_ALIASES[name] if k not in keys)

    defaults = {}
    for name, value in _field_table(path, data, "defaults", 'field = "value"'):
        if name not in DEFAULTABLE_FIELDS:
            raise SearchIdxError(f"{path}: [defaults] {name}: only "
                                 f"{', '.join(DEFAULTABLE_FIELDS)} can have a default")
        if not (isinstance(value, str) or isinstance(value, list)
                and all(isinstance(v, str) for v in value)):
            raise SearchIdxError(f"{path}: [defaults] {name} must be a text or a list of texts")
        defaults[name] = value

    extensions = data.get("extensions", list(DEFAULT_EXTENSIONS))
    if not isinstance(extensions, list) or not all(isinstance(e, str) for e in extensions):
        raise SearchIdxError(f"{path}: extensions must be a list like ['.md']")
    extensions = tuple(e if e.startswith(".") else f".{e}" for e in extensions)
    return Config(aliases=aliases, extensions=tuple(e.lower() for e in extensions),
                  defaults=defaults)


def _field_table(path: Path, data: dict, table: str, shape: str) -> list[tuple[str, object]]:
    """The (field, value) pairs of a table keyed by post fields, each field checked."""
    values = data.get(table, {})
    if not isinstance(values, dict):
        raise SearchIdxError(f"{path}: [{table}] must be a table of {shape}")
    for name in values:
        if name not in DEFAULT_ALIASES:
            known = ", ".join(DEFAULT_ALIASES)
            raise SearchIdxError(f"{path}: unknown field {name!r} in [{table}] (known: {known})")
    return list(values.items())


def _read(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SearchIdxError(f"{path}: cannot read configuration ({exc})") from exc


def load_synonyms(path: Path) -> dict[str, tuple[str, ...]]:
    """The `[synonyms]` table of a config file: acronym -> what it stands for."""
    table = _read(path).get("synonyms", {})
    if not isinstance(table, dict):
        raise SearchIdxError(f'{path}: [synonyms] must be a table of ACRONYM = ["meaning"]')
    synonyms = {}
    for acronym, meanings in table.items():
        if not re.fullmatch(WORD_PATTERN, acronym):
            raise SearchIdxError(f"{path}: [synonyms] {acronym!r} is not one word")
        meanings = [meanings] if isinstance(meanings, str) else meanings
        if (not isinstance(meanings, list) or not meanings
                or not all(isinstance(m, str) and m.strip() for m in meanings)):
            raise SearchIdxError(
                f"{path}: [synonyms] {acronym} must be a meaning or a list of meanings")
        synonyms[acronym] = tuple(meanings)
    return synonyms
