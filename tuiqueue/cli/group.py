"""The `tuiqueue` group and its global options; subcommands live in sibling modules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from importlib import import_module
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tuiqueue.cli.fast import env_jobs, open_dashboard
from tuiqueue.cli.support import (
    BadInput,
    friendly_errors,
    run,
)
from tuiqueue.core.status import Status
from tuiqueue.store import default_db, open_store

if TYPE_CHECKING:
    from tuiqueue.cli.direct import Direct
    from tuiqueue.engine.engine import Engine

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
            from tuiqueue.core.registry import load_job_types

            with friendly_errors():
                load_job_types(self.jobs)
            self.loaded = True

    def engine(self, *, types: bool = True, **kw: Any) -> Engine:
        """An engine on the chosen store (opened by the caller); types=False for a command
        that never needs a job type's schema or code (list, show, stats, cancel...), so it
        does not import every job module first."""
        if types:
            self.load()
        from tuiqueue.engine.engine import Engine  # the engine's import is most of a command's

        with friendly_errors():
            return Engine(open_store(self.db), **kw)

    def call(self, fn: Callable[[Engine], Awaitable[T]], *, types: bool = True, **kw: Any) -> T:
        """Open the store, run fn(engine), close (types: see engine)."""
        engine = self.engine(types=types, **kw)

        async def body() -> T:
            await engine.store.open()
            try:
                return await fn(engine)
            finally:
                await engine.store.close()

        return run(body)

    @property
    def direct(self) -> bool:
        """Whether the store is a SQLite file, which the short commands use without an
        event loop or an engine (call_now); other stores go through call."""
        return self.db != ":memory:" and "://" not in self.db

    def call_now(self, fn: Callable[[Direct], T], *, types: bool = False) -> T:
        """Open the SQLite store, run fn(direct), close; types: load the job types first."""
        if types:
            self.load()
        from tuiqueue.cli.direct import Direct
        from tuiqueue.store.sqlite import SqliteStore

        with friendly_errors():
            store = SqliteStore(self.db)
            store.open_now()
            try:
                return fn(Direct(store))
            finally:
                store.close_now()


COMMANDS = {
    "cancel": "steer",
    "clear": "steer",
    "db": "db",
    "delete": "steer",
    "events": "follow",
    "list": "query",
    "logs": "query",
    "pause": "steer",
    "preset": "preset",
    "priority": "steer",
    "queue": "queues",
    "rerun": "steer",
    "resume": "steer",
    "schedule": "schedule",
    "serve": "serve",
    "show": "query",
    "stats": "query",
    "submit": "submit",
    "types": "submit",
    "wait": "follow",
    "worker": "worker",
    "workers": "workers",
}
"""Each subcommand's module in tuiqueue.cli (a test checks the map against the modules)."""


class LazyGroup(click.Group):
    """A group that imports a subcommand's module only when that command runs: `tuiqueue
    list` need not import the server, the worker or the scheduler's commands."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMANDS.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            import_module(f"tuiqueue.cli.{module}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        load_all_commands()
        return super().list_commands(ctx)


def load_all_commands() -> None:
    """Import every subcommand's module (for --help and the tests)."""
    for module in sorted(set(COMMANDS.values())):
        import_module(f"tuiqueue.cli.{module}")


@click.group(
    cls=LazyGroup,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
@click.option(
    "--worker/--no-worker",
    default=None,
    help="Dashboard: run jobs in it, or only watch and steer "
    "(default: a worker on SQLite and :memory:, none on Redis).",
)
@click.option(
    "--read-only",
    is_flag=True,
    help="Dashboard: watch only; no key or command changes anything (no worker).",
)
@click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(1, 10_000),
    default=None,
    metavar="N",
    help="Dashboard: jobs its worker runs at once (default 3).",
)
@click.option(
    "--notify",
    type=click.Choice(["failed", "all", "none"]),
    default=None,
    help="Dashboard: toasts for failed jobs, all finished jobs or none (none: no terminal "
    "notification either). Saved as the new default (default: failed).",
)
@click.option(
    "--notify-after",
    metavar="SECONDS",
    default=None,
    help="Dashboard: a job that ran this long (e.g. 90, 5m) gets a terminal notification "
    "and the bell when it finishes, as failed jobs do; off: failed jobs only. Saved as the "
    "new default (default: 60).",
)
@click.option(
    "--on-finish",
    metavar="CMD",
    help="Dashboard: run CMD through the shell for each job that finishes (its worker's "
    "jobs; every job it sees without a worker), with $TUIQUEUE_JOB_ID, _STATUS, _TYPE, "
    "_QUEUE, _DURATION, _ATTEMPTS and _ERROR set.",
)
@click.version_option(package_name="tuiqueue")
@click.pass_context
def main(
    ctx: click.Context,
    db: str | None,
    jobs: tuple[str, ...],
    worker: bool | None,
    read_only: bool,
    concurrency: int | None,
    notify: str | None,
    notify_after: str | None,
    on_finish: str | None,
) -> None:
    """Run, queue and watch jobs from your terminal. With no command, open the dashboard."""
    settings = Settings(db or default_db(), [*env_jobs(), *jobs])
    ctx.obj = settings
    given = [
        name
        for name, value in (
            ("--worker" if worker else "--no-worker", worker is not None),
            ("--read-only", read_only),
            ("--concurrency", concurrency is not None),
            ("--notify", notify is not None),
            ("--notify-after", notify_after is not None),
            ("--on-finish", on_finish is not None),
        )
        if value
    ]
    if ctx.invoked_subcommand is not None:
        if given:
            raise BadInput(
                f"{given[0]} is a dashboard option: use it without a command "
                f"(`tuiqueue {given[0]}`), or see `tuiqueue {ctx.invoked_subcommand} --help`"
            )
        return
    if concurrency is not None and (read_only or worker is False):
        raise BadInput(
            "--concurrency sets the dashboard's worker: drop it, or drop --read-only/--no-worker"
        )
    if read_only and worker:
        raise BadInput("--read-only only watches: it cannot run a worker (drop --worker)")
    if concurrency is not None:
        worker = True  # asking for slots asks for a worker, also on Redis
    if on_finish is not None and not on_finish.strip():
        raise BadInput("--on-finish needs a command, e.g. --on-finish 'notify-send done'")
    remember: dict[str, object] = {}
    if notify is not None:
        remember["notify"] = notify
    if notify_after is not None:
        from tuiqueue.ui.config import parse_notify_after

        try:
            remember["notify_after"] = parse_notify_after(notify_after)
        except ValueError as exc:
            raise BadInput(str(exc)) from exc
    with friendly_errors():
        open_dashboard(
            settings.db,
            settings.jobs,
            worker=worker,
            read_only=read_only,
            concurrency=concurrency or 3,
            remember=remember,
            on_finish=on_finish,
        )


pass_settings = click.make_pass_decorator(Settings)
