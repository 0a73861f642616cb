"""`tuiqueue db check` and `tuiqueue db backup` for SQLite stores."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TypeVar

import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import (
    BadInput,
    echo_json,
    friendly_errors,
    safe,
)
from tuiqueue.core.text import mask_url

T = TypeVar("T")


@main.group()
def db() -> None:
    """Check or back up the SQLite database."""


def _sqlite_path(settings: Settings) -> Path:
    if settings.db == ":memory:" or "://" in settings.db:
        raise BadInput(f"{mask_url(settings.db)}: `tuiqueue db` works on SQLite files only")
    return Path(settings.db).expanduser()


@db.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def db_check(settings: Settings, as_json: bool) -> None:
    """Integrity check, schema version and counts (read-only; exit 1 if damaged)."""
    from tuiqueue.store.sqlite_schema import check

    with friendly_errors():
        report = check(_sqlite_path(settings))
    if as_json:
        echo_json(report)
    else:
        click.echo(f"database:  {report['path']}")
        click.echo(f"integrity: {'ok' if report['ok'] else 'DAMAGED'}")
        if not report["ok"]:
            for line in report["integrity"]:  # type: ignore[attr-defined]
                click.echo(f"  {safe(str(line))}")
        click.echo(f"schema:    version {report['schema_version']}")
        click.echo(f"jobs:      {report['total_jobs']} " + json.dumps(report["jobs"]))
        click.echo(f"log lines: {report['log_lines']}")
        click.echo(f"size:      {report['size_bytes']} bytes (+ {report['wal_bytes']} WAL)")
    if not report["ok"]:
        sys.exit(1)


@db.command("backup")
@click.argument("dest", metavar="PATH")
@pass_settings
def db_backup(settings: Settings, dest: str) -> None:
    """Copy the database to PATH consistently, even while workers run."""
    from tuiqueue.store.sqlite_schema import backup

    with friendly_errors():
        pages = backup(_sqlite_path(settings), Path(dest).expanduser())
    click.echo(f"backed up {settings.db} to {dest} ({pages} pages)")
