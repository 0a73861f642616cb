"""The entry point cache answers as importlib.metadata would, and never with stale plugins."""

from __future__ import annotations

import importlib.metadata
import json
import os
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import cli_env, tq
from tuiqueue.core import entry_points as eps

GROUP = "tuiqueue.job_types"
OLD = time.time() - 3600  # mtimes older than the racy window: the cache may keep them


def _install(site: Path, dist: str, body: str, *, group: str = GROUP) -> Path:
    """Write a distribution's dist-info as an installer would (then age the mtimes)."""
    info = site / f"{dist}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[{group}]\n{body}\n")
    return info


def _age(*paths: Path, when: float = OLD) -> None:
    for path in paths:
        os.utime(path, (when, when))


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder first on sys.path, and a cache folder of this test's own."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.setenv(eps.CACHE_DIR_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(sys, "path", [str(folder), *sys.path])
    yield folder


@pytest.fixture
def scans(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The groups scanned with importlib.metadata (a cache hit scans nothing)."""
    seen: list[str] = []
    real = eps._scan

    def counted(group: str) -> list[tuple[str, str]]:
        seen.append(group)
        return real(group)

    monkeypatch.setattr(eps, "_scan", counted)
    return seen


def _truth() -> list[tuple[str, str]]:
    return [(ep.name, ep.value) for ep in importlib.metadata.entry_points(group=GROUP)]


def test_a_hit_is_what_importlib_metadata_finds(site: Path, scans: list[str]) -> None:
    info = _install(site, "plug", "plug = plugmod:types")
    _age(info / "entry_points.txt", info, site)
    first = eps.entry_points(GROUP)
    assert ("plug", "plugmod:types") in first
    assert first == _truth()
    assert eps.entry_points(GROUP) == first
    assert scans == [GROUP]  # the second answer came from the cache file


def test_an_install_or_uninstall_changes_the_answer(site: Path, scans: list[str]) -> None:
    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site)
    assert ("plug", "plugmod") in eps.entry_points(GROUP)
    assert ("plug", "plugmod") in eps.entry_points(GROUP)
    assert len(scans) == 1

    other = _install(site, "other", "other = othermod")  # the folder's mtime moves
    assert ("other", "othermod") in eps.entry_points(GROUP)
    assert eps.entry_points(GROUP) == _truth()

    # Uninstall, even with the folder's mtime put back as it was: its distribution's entry is
    # gone from the key.
    for child in other.iterdir():
        child.unlink()
    other.rmdir()
    _age(site)
    assert ("other", "othermod") not in eps.entry_points(GROUP)
    assert ("plug", "plugmod") in eps.entry_points(GROUP)


def test_an_entry_points_file_rewritten_in_place_is_seen(site: Path, scans: list[str]) -> None:
    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site)
    assert ("plug", "plugmod") in eps.entry_points(GROUP)
    (plug / "entry_points.txt").write_text(f"[{GROUP}]\nplug = newmod\n")
    _age(plug / "entry_points.txt", when=OLD + 1)
    _age(plug, site)  # (only the file changed)
    found = eps.entry_points(GROUP)
    assert ("plug", "newmod") in found and ("plug", "plugmod") not in found


def test_a_busy_path_entry_is_still_a_hit(site: Path, scans: list[str]) -> None:
    # `python -m tuiqueue` puts the working folder on sys.path: files come and go in it (a
    # busy /tmp), and with its mtime in the key no answer was ever a hit there.
    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site)
    first = eps.entry_points(GROUP)
    (site / "scratch.txt").write_text("a file of the moment")  # the folder's mtime is now
    assert eps.entry_points(GROUP) == first
    (site / "scratch.txt").unlink()
    assert eps.entry_points(GROUP) == first
    assert scans == [GROUP]


def test_a_distribution_made_anew_with_old_mtimes_is_seen(site: Path, scans: list[str]) -> None:
    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site)
    assert ("plug", "plugmod") in eps.entry_points(GROUP)
    moved = site / "old-plug"
    plug.rename(moved)  # (the old folder keeps its inode: the new one cannot reuse it)
    again = _install(site, "plug", "plug = newmod")
    _age(again / "entry_points.txt", again, site)  # every mtime as it was
    found = eps.entry_points(GROUP)
    assert ("plug", "newmod") in found and ("plug", "plugmod") not in found


def test_a_change_within_the_racy_window_is_not_cached(site: Path, scans: list[str]) -> None:
    _install(site, "plug", "plug = plugmod")  # mtimes of now: a coarse clock could repeat them
    eps.entry_points(GROUP)
    eps.entry_points(GROUP)
    assert len(scans) == 2


def test_a_damaged_cache_file_is_ignored_and_rewritten(site: Path, scans: list[str]) -> None:
    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site)
    cache = Path(os.environ[eps.CACHE_DIR_ENV]) / "entry_points.json"
    cache.parent.mkdir(parents=True)
    for damage in ("{not json", json.dumps({"format": eps.FORMAT, "records": [{"key": 1}]}), "[]"):
        cache.write_text(damage)
        assert ("plug", "plugmod") in eps.entry_points(GROUP)
        data = json.loads(cache.read_text())  # rewritten whole
        assert data["format"] == eps.FORMAT and data["records"][0]["key"]
    assert len(scans) == 3
    assert ("plug", "plugmod") in eps.entry_points(GROUP)
    assert len(scans) == 3  # and used
    assert [p.name for p in cache.parent.iterdir()] == ["entry_points.json"]  # no temp file


def test_a_failed_write_leaves_the_old_file_whole(
    site: Path, scans: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site)
    eps.entry_points(GROUP)
    cache = Path(os.environ[eps.CACHE_DIR_ENV]) / "entry_points.json"
    before = cache.read_text()
    _age(site, when=OLD + 5)  # another key: a write is due

    def full_disk(obj: object, file: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(eps.json, "dump", full_disk)
    assert ("plug", "plugmod") in eps.entry_points(GROUP)  # the command goes on
    assert cache.read_text() == before
    assert [p.name for p in cache.parent.iterdir()] == ["entry_points.json"]


def test_an_unusual_finder_turns_the_cache_off(
    site: Path, scans: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    class Finder:
        def find_spec(self, *args: object) -> None:
            return None

        def find_distributions(self, *args: object) -> list[object]:
            return []

    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site)
    monkeypatch.setattr(sys, "meta_path", [Finder(), *sys.meta_path])
    eps.entry_points(GROUP)
    eps.entry_points(GROUP)
    assert len(scans) == 2
    assert not (Path(os.environ[eps.CACHE_DIR_ENV]) / "entry_points.json").exists()


def test_load_entry_point_is_entry_point_load() -> None:
    for value in ("tuiqueue.core.text", "tuiqueue.core.text:clean", "os.path:join.__name__"):
        real = importlib.metadata.EntryPoint(name="x", value=value, group=GROUP).load()
        assert eps.load_entry_point(value) is real
    with pytest.raises(ModuleNotFoundError):
        eps.load_entry_point("no_such_module_here")


def test_the_cli_sees_a_plugin_installed_and_removed(tmp_path: Path) -> None:
    """Through the real command: a cached answer never hides an install or an uninstall."""
    site, work = tmp_path / "site", tmp_path / "work"  # (work: the cwd, on sys.path too)
    site.mkdir()
    work.mkdir()
    (site / "plugmod.py").write_text(
        "from tuiqueue.core.registry import job_type\n"
        "@job_type('plugged', description='from a plugin')\n"
        "async def plugged(ctx):\n    return None\n"
    )
    env = cli_env(
        {
            "PYTHONPATH": os.pathsep.join([str(site), cli_env()["PYTHONPATH"]]),
            eps.CACHE_DIR_ENV: str(tmp_path / "cache"),
        }
    )
    db = str(tmp_path / "jobs.db")

    def types(**extra: str) -> tuple[str, str]:
        out = tq("--db", db, "types", env={**env, **extra}, cwd=work)
        assert out.returncode == 0, out.stderr
        return out.stdout, out.stderr

    assert "plugged:" not in types()[0]
    plug = _install(site, "plug", "plug = plugmod")
    _age(plug / "entry_points.txt", plug, site, work)
    assert "plugged: from a plugin" in types()[0]
    # Importing the plugin wrote site/__pycache__ (with bytecode on, as in CI), which changed
    # the folder's mtime and so the key: one more scan, stored once the folder is not new.
    _age(*site.iterdir(), site, work)
    assert "plugged: from a plugin" in types()[0]
    shown, imported = types(PYTHONPROFILEIMPORTTIME="1")
    assert "plugged: from a plugin" in shown
    assert "importlib.metadata" not in imported  # from the cache

    for child in plug.iterdir():
        child.unlink()
    plug.rmdir()
    assert "plugged:" not in types()[0]


def test_the_cache_folder_follows_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    if os.name != "posix" or sys.platform == "darwin":
        pytest.skip("platformdirs' folder there")
    monkeypatch.delenv(eps.CACHE_DIR_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert eps._cache_file() == str(tmp_path / "xdg" / "tuiqueue" / "entry_points.json")
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert eps._cache_file() == str(tmp_path / ".cache" / "tuiqueue" / "entry_points.json")
    import platformdirs

    assert eps._cache_file() == os.path.join(
        platformdirs.user_cache_dir("tuiqueue"), "entry_points.json"
    )
