"""The `tuiqueue` command (cli.run): the collector is off while the command line loads, what
loaded is frozen, and the command itself runs with the collector as it found it."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import click
import pytest

from tests.conftest import ROOT, cli_env

PROBE = """
import gc, sys
print(f"probe enabled={gc.isenabled()} frozen={gc.get_freeze_count()}", file=sys.stderr)
"""
"""A --jobs module: it is loaded by the command itself, after the command line."""


def _probe(tmp_path: Path, before: str = "") -> tuple[bool, int]:
    """What the probe saw from inside `python -m tuiqueue ... types` (`before` runs first)."""
    (tmp_path / "probe.py").write_text(PROBE)
    code = (
        f"{before}\nimport runpy, sys\n"
        f"sys.argv = ['tuiqueue', '--db', {str(tmp_path / 'jobs.db')!r}, "
        f"'--jobs', {str(tmp_path / 'probe.py')!r}, 'types']\n"
        "runpy.run_module('tuiqueue', run_name='__main__')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=cli_env(), check=True
    )
    line = next(part for part in out.stderr.splitlines() if part.startswith("probe "))
    enabled, frozen = (part.split("=")[1] for part in line.split()[1:])
    return enabled == "True", int(frozen)


def test_the_command_runs_with_the_collector_on_and_the_command_line_frozen(
    tmp_path: Path,
) -> None:
    enabled, frozen = _probe(tmp_path)
    assert enabled  # a worker or the dashboard collects as usual
    assert frozen > 10_000  # click, the core and the store's modules: never scanned again


def test_a_collector_turned_off_before_stays_off(tmp_path: Path) -> None:
    enabled, _ = _probe(tmp_path, "import gc; gc.disable()")
    assert not enabled


def test_main_is_the_click_group_and_the_script_runs_run() -> None:
    import tuiqueue.cli

    assert isinstance(tuiqueue.cli.main, click.Group)
    with pytest.raises(AttributeError):
        tuiqueue.cli.nothing_here  # noqa: B018
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["tuiqueue"] == "tuiqueue.cli:run"
    assert callable(tuiqueue.cli.run)
