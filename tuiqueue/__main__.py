"""`python -m tuiqueue` is the same as the `tuiqueue` command."""

from tuiqueue.cli import run

run()
