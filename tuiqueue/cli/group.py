"""The `tuiqueue` group and its global options; subcommands live in sibling modules."""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import click

from tuiqueue.cli.support import (
    BadInput,
    friendly_errors,
    run,
)
from tuiqueue.core.registry import load_job_types
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store import default_db, open_store

T = TypeVar("T")
STATUS_NAMES = [s.value for s in Status]


class Settings:
    """Global options, passed to every subcommand."""

    def __init__(self, db: str, jobs: Sequence[str]) -> None:
        self.db = db
        self.jobs = list(jobs)
        self.loaded = False

    def load(self) -> None:
        """Load built-in, installed and --jobs job types (once)."""
        if not self.loaded:
            with friendly_errors():
                load_job_types(self.jobs)
            self.loaded = True

    def engine(self, **kw: Any) -> Engine:
        """An engine on the chosen store (opened by the caller)."""
        self.load()
        with friendly_errors():
            return Engine(open_store(self.db), **kw)

    def call(self, fn: Callable[[Engine], Awaitable[T]], **kw: Any) -> T:
        """Open the store, run fn(engine), close."""
        engine = self.engine(**kw)

        async def body() -> T:
            await engine.store.open()
            try:
                return await fn(engine)
            finally:
                await engine.store.close()

        return run(body)


def _env_jobs() -> list[str]:
    raw = os.environ.get("TUIQUEUE_JOBS", "")
    return [part for part in raw.replace(os.pathsep, ",").split(",") if part.strip()]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="PATH",
    help="SQLite file, :memory: or redis://host:port/db "
    "(default: $TUIQUEUE_DB or the user data folder).",
)
@click.option(
    "--jobs",
    "jobs",
    metavar="MODULE",
    multiple=True,
    help="Module or .py file defining job types (repeatable; also $TUIQUEUE_JOBS).",
)
@click.version_option(package_name="tuiqueue")
@click.pass_context
def main(ctx: click.Context, db: str | None, jobs: tuple[str, ...]) -> None:
    """Run, queue and watch jobs from your terminal. With no command, open the dashboard."""
    settings = Settings(db or default_db(), [*_env_jobs(), *jobs])
    ctx.obj = settings
    if ctx.invoked_subcommand is None:
        settings.load()
        try:
            from tuiqueue.ui.app import run_dashboard
        except ImportError as exc:
            raise BadInput(f"the dashboard is not available ({exc})") from exc
        with friendly_errors():
            run_dashboard(settings.db)


pass_settings = click.make_pass_decorator(Settings)
