"""The `tuiqueue` command line: builds a store and an engine (or the dashboard), nothing more.

Each subcommand's module is imported when that command runs (group.COMMANDS), so a short
command such as `tuiqueue list` loads only what it uses.
"""

from __future__ import annotations

from tuiqueue.cli.group import main

__all__ = ["main"]
