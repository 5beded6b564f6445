"""Settings read from ``.env`` take only their own lines: a process never holds another part's
secret, not even for the moment it reads the file.

pydantic-settings' own dotenv source parses the whole file into a dict and drops the fields it
does not know afterwards, so an API started by hand from a clone (``python -m producer_app
serve``) had the Postgres superuser's password in its heap. This source reads the file into
one buffer with a single system call, decodes only the lines whose name is a field of the
settings class, and overwrites the buffer before returning: no other value ever becomes a
Python object, and the bytes it arrived in are zeroed. (The stack starts each part with only
its own secrets in its environment, ``stack.secrets``; this covers the file.)

Lines are ``NAME=value`` as ``make env`` writes them; ``export NAME=value``, quoted values and a
trailing `` # comment`` after an unquoted value are read as python-dotenv reads them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic_settings import EnvSettingsSource

if TYPE_CHECKING:
    from pydantic_settings import BaseSettings


def field_names(settings_cls: type[BaseSettings]) -> set[str]:
    """The variable names a settings class reads (lower case: names are case-insensitive)."""
    names = set()
    for name, field in settings_cls.model_fields.items():
        names.add(name.lower())
        if isinstance(field.validation_alias, str):
            names.add(field.validation_alias.lower())
        if field.alias:
            names.add(field.alias.lower())
    return names


def _value(raw: bytes) -> str:
    text = raw.decode("utf-8").strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text.split(" #", 1)[0].rstrip()


def read_own(path: Path, names: set[str]) -> dict[str, str]:
    """The lines of ``path`` whose (lower-cased) name is in ``names``; nothing else decoded,
    and the file's bytes zeroed in memory before this returns. A missing file reads as empty."""
    try:
        size = os.stat(path).st_size
    except FileNotFoundError:
        return {}
    buf = bytearray(size)
    found: dict[str, str] = {}
    try:
        with open(path, "rb", buffering=0) as f:  # no Python-side buffer: straight into buf
            n = f.readinto(buf) or 0
        start = 0
        while start < n:
            end = buf.find(b"\n", start, n)
            end = n if end < 0 else end
            eq = buf.find(b"=", start, end)
            if eq > 0:
                name = bytes(buf[start:eq]).strip()  # the name only, never the value
                if name.startswith(b"export "):
                    name = name[7:].strip()
                key = name.decode("ascii", "replace").lower()
                if key in names:
                    found[key] = _value(bytes(buf[eq + 1 : end]))
            start = end + 1
    finally:
        buf[:] = bytes(len(buf))
    return found


class OwnFieldsDotEnv(EnvSettingsSource):
    """An env source whose variables come from ``env_file``, read by ``read_own``: the values
    are parsed and prioritised exactly as environment variables are (below the real ones)."""

    def __init__(self, settings_cls: type[BaseSettings], env_file: Path | None, **kw: Any) -> None:
        self._path = env_file
        super().__init__(settings_cls, **kw)

    def _load_env_vars(self) -> dict[str, str | None]:
        if self._path is None:
            return {}
        return dict(read_own(self._path, field_names(self.settings_cls)))
