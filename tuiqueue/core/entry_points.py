"""A group's installed entry points as importlib.metadata finds them, cached between runs.

Importing importlib.metadata and scanning every distribution costs a short command such as
`tuiqueue submit` some 25-35 ms, more than everything else it does. The cache keeps the scan's
answer under a key of what the scan reads: the interpreter, the meta path's finders, sys.path,
and in each path entry every distribution's folder (name and inode) with the mtime and inode
of its entry_points.txt. Installing or removing a distribution adds or removes a *.dist-info
folder; reinstalling one makes it anew; rewriting an entry_points.txt in place changes its
mtime. Any difference in the key, an unreadable or damaged cache file, or a finder the key
cannot see (a meta path finder of its own that finds distributions) means a fresh scan: the
cache can be slow, never stale.
"""

from __future__ import annotations

import importlib
import json
import os
import re
import sys
import time
from functools import reduce
from typing import Any

CACHE_DIR_ENV = "TUIQUEUE_CACHE_DIR"
"""Where the cache file goes (default: the user cache folder, $XDG_CACHE_HOME/tuiqueue or
~/.cache/tuiqueue on Linux, platformdirs' user_cache_dir elsewhere)."""
FORMAT = 3
KEPT = 8
"""Keys remembered (one per interpreter and sys.path: `python -m` puts the working folder
on the path, so running from a few folders should not scan on every run)."""
RACY_S = 2.0
"""A key with an mtime this recent is not stored: a file system with coarse timestamps could
give a change made right after the scan the same mtime (git's "racily clean" problem)."""

_INFO = (".dist-info", ".egg-info")
_PATTERN = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")
"""importlib.metadata.EntryPoint.pattern (its load() is load_entry_point below)."""


def entry_points(group: str) -> list[tuple[str, str]]:
    """The (name, value) of each entry point of `group`, in importlib.metadata's order."""
    known = _key(group)
    if known is None:
        return _scan(group)
    key, newest = known
    path = _cache_file()
    records = _read(path)
    for record in records:
        if record["key"] == key:
            return [(name, value) for name, value in record["entry_points"]]
    found = _scan(group)  # (after the key: a change during the scan shows in the next key)
    if newest < time.time_ns() - int(RACY_S * 1e9):
        _write(path, [{"key": key, "entry_points": found}, *records[: KEPT - 1]])
    return found


def load_entry_point(value: str) -> Any:
    """What an entry point's value names, imported (as importlib.metadata's EntryPoint.load)."""
    match = _PATTERN.match(value)
    if match is None:
        raise ValueError(f"not an entry point value: {value!r}")
    module = importlib.import_module(match.group("module"))
    attrs = filter(None, (match.group("attr") or "").split("."))
    return reduce(getattr, attrs, module)


def _scan(group: str) -> list[tuple[str, str]]:
    from importlib.metadata import entry_points as installed

    return [(ep.name, ep.value) for ep in installed(group=group)]


def _key(group: str) -> tuple[list[Any], int] | None:
    """What the scan depends on and the newest mtime in it; None when that cannot be known
    (a meta path finder of its own that finds distributions)."""
    from importlib.machinery import PathFinder

    finders = []
    for finder in sys.meta_path:
        if finder is not PathFinder and hasattr(finder, "find_distributions"):
            return None
        finders.append(f"{type(finder).__module__}.{type(finder).__qualname__}")
    entries, newest = [], 0
    for path in sys.path:
        entry, mtime = _entry(path)
        entries.append(entry)
        newest = max(newest, mtime)
    return [FORMAT, group, sys.executable, sys.version, finders, entries], newest


def _entry(path: object) -> tuple[str, int]:
    """A path entry and, one per line, each distribution in it (its folder's inode) with the
    mtime and inode of its entry_points.txt (one string: the cache file parses fast); and
    the newest mtime. Not the entry's own mtime: the working folder `python -m` puts on the
    path changes all the time (a busy /tmp would never be cached), and what the scan reads
    of a folder is only its distributions. A zip file or an unreadable folder is keyed by
    its own mtime."""
    if not isinstance(path, str):
        return repr(path), 0  # (the scan skips these too)
    root = path or "."
    try:
        with os.scandir(root) as children:
            infos = sorted(
                (c.name, c.inode())
                for c in children
                if c.name.lower().endswith(_INFO) or c.name.lower() == "egg-info"
            )
    except OSError:
        try:
            mtime = os.stat(root).st_mtime_ns
        except OSError:
            return f"{path}\t-", 0
        return f"{path}\t{mtime}", mtime
    lines, newest = [path], 0
    for name, inode in infos:
        try:
            found = os.stat(os.path.join(root, name, "entry_points.txt"))
        except OSError:
            lines.append(f"{name}\t{inode}\t-")
            continue
        lines.append(f"{name}\t{inode}\t{found.st_mtime_ns}\t{found.st_ino}")
        newest = max(newest, found.st_mtime_ns)
    return "\n".join(lines), newest


def _cache_file() -> str:
    folder = os.environ.get(CACHE_DIR_ENV) or _xdg_cache()
    if not folder:
        from platformdirs import user_cache_dir

        folder = user_cache_dir("tuiqueue")
    return os.path.join(folder, "entry_points.json")


def _xdg_cache() -> str | None:
    """The XDG cache folder's tuiqueue/ on Linux and the BSDs (None elsewhere): what
    platformdirs would say there, without importing it (it brings tempfile and shutil, ~4 ms
    of a `submit --db PATH`, which otherwise never loads platformdirs)."""
    if os.name != "posix" or sys.platform == "darwin":
        return None
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):  # (the spec: a relative value is ignored)
        base = os.path.expanduser("~/.cache")
    return os.path.join(base, "tuiqueue") if os.path.isabs(base) else None


def _read(path: str) -> list[dict[str, Any]]:
    """The cache's records; none if it is missing, unreadable or not of this format."""
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return []
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        return []
    records = data.get("records")
    if not isinstance(records, list):
        return []
    return [r for r in records if _well_formed(r)]


def _well_formed(record: object) -> bool:
    if not isinstance(record, dict) or "key" not in record:
        return False
    if not isinstance(record.get("entry_points"), list):
        return False
    return all(
        isinstance(ep, list) and len(ep) == 2 and all(isinstance(s, str) for s in ep)
        for ep in record["entry_points"]
    )


def _write(path: str, records: list[dict[str, Any]]) -> None:
    """Replace the cache file atomically (a reader sees the old file or the new, whole)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as file:
            json.dump({"format": FORMAT, "records": records}, file)
        os.replace(tmp, path)
    except OSError:
        # A cache that cannot be written (read-only home, full disk) only means the next
        # run scans again; the command itself must not fail for it.
        try:
            os.unlink(tmp)
        except OSError:
            pass
