"""Answers worth keeping between runs, as JSON files in dsgate's cache, keyed by what they are computed from.

A key is a digest of every input of the answer (file contents, tool paths, the computing code), so a
changed input is a new key and an old file is never read for it: no invalidation, no staleness. The
cache only saves time: an unreadable or unwritable cache directory costs the next run the computation,
never the answer, and a concurrent run reads a whole file or none (written aside, then renamed).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, TypeVar

from dsgate.paths import cache_dir

T = TypeVar("T")


def _same(value: Any) -> Any:
    return value


def key(parts: Iterable[bytes]) -> str:
    """The cache key of PARTS (each part's length goes in too, so no two part lists collide)."""
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big") + part)
    return digest.hexdigest()[:32]


def load_or_build(folder: str, name: str, build: Callable[[], Any], decode: Callable[[Any], T] = _same) -> T:
    """DECODE of the JSON value cached as FOLDER/NAME.json under dsgate's cache, else of BUILD()'s, which
    is then kept. DECODE raises TypeError, KeyError or ValueError on a value of another shape: a cached
    file of that shape is never trusted, but built again and replaced."""
    path = cache_dir() / folder / f"{name}.json"
    try:
        return decode(json.loads(path.read_text()))
    except (OSError, ValueError, TypeError, KeyError):
        pass  # not cached yet, unreadable or of another shape: build it
    value = build()
    _write(path, value)
    return decode(value)


@functools.cache
def source(path: str) -> bytes:
    """The text of the module at PATH (its __file__): part of the key of what its code computes, so an
    edit of the code is a new key."""
    return Path(path).read_bytes()


def _write(path: Path, value: Any) -> None:
    write_aside(path, lambda: json.dumps(value, separators=(",", ":")))


def write_aside(path: Path, content: Callable[[], str], mode: int | None = None) -> bool:
    """Keep CONTENT() as the file PATH in the cache (with MODE when given): written aside, then renamed,
    so a concurrent run reads the old file or the new one, never part of one. False, and nothing left
    behind, when it is not kept: a read-only cache, or CONTENT raising TypeError or ValueError (a value
    JSON cannot hold)."""
    aside = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # one per writer
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        aside.write_text(content())
        if mode is not None:
            aside.chmod(mode)
        aside.replace(path)
    except (OSError, TypeError, ValueError):
        with contextlib.suppress(OSError):
            aside.unlink(missing_ok=True)
        return False
    return True
