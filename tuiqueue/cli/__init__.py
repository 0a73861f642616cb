"""The `tuiqueue` command line: builds a store and an engine (or the dashboard), nothing more.

Each subcommand's module is imported when that command runs (group.COMMANDS), so a short
command such as `tuiqueue list` loads only what it uses. `run` is the command itself (the
console script and `python -m tuiqueue`); `main` is the click group (tests, CliRunner).
"""

from __future__ import annotations

import gc
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tuiqueue.cli.group import main

__all__ = ["main", "run"]


def run() -> None:
    """Run the `tuiqueue` command on sys.argv (exits with its status)."""
    # Loading the command line creates some 20,000 objects that live as long as the process
    # and almost no garbage, yet the collections they trigger walk them again and again
    # (~30 while click and the core load), and the interpreter's last collection at exit
    # walks them all once more: together ~12 ms of a `tuiqueue list` of ~85. So the
    # collector is off while the command line loads; what exists then is frozen (never
    # scanned again, as the dashboard freezes what survives its first frame) and the
    # collector is on again for the command itself: a worker or the dashboard collects as
    # usual. (Freezing again at exit, the command's own objects, measured no faster.)
    # The common short commands on a SQLite file run without click (cli/fast.py): what
    # they import loads with the collector off too (their own objects are few).
    enabled = gc.isenabled()  # (one someone else turned off stays off)
    gc.disable()
    try:
        from tuiqueue.cli import fast

        command = fast.prepare(sys.argv[1:])
        if command is None:
            from tuiqueue.cli.group import main
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
    if command is not None:
        if command():
            fast.exit_now()
            return
        gc.disable()  # (it failed before changing anything: click runs it and says why)
        try:
            from tuiqueue.cli.group import main
        finally:
            gc.freeze()
            if enabled:
                gc.enable()
    main()


def __getattr__(name: str) -> Any:
    """The click group, imported on first use (so that `run` can load it with the collector
    off; PEP 562)."""
    if name == "main":
        from tuiqueue.cli.group import main

        return main
    raise AttributeError(f"module 'tuiqueue.cli' has no attribute {name!r}")
