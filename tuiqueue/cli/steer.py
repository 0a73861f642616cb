"""Commands that steer jobs: cancel, pause, resume, rerun, delete, clear (queues: queues.py)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.output import command_said
from tuiqueue.cli.support import (
    echo_json,
    parse_duration,
    parse_pairs,
)
from tuiqueue.core.status import TERMINAL, Priority, Status

if TYPE_CHECKING:
    from tuiqueue.cli.direct import Direct
    from tuiqueue.core.job import Job
    from tuiqueue.engine.engine import Engine

T = TypeVar("T")


def _each(
    settings: Settings, ids: Sequence[int], verb: Literal["cancel", "pause", "resume"]
) -> None:
    def said(job: Job) -> None:
        click.echo(command_said(job, verb))

    def now(direct: Direct) -> None:
        for job_id in ids:
            said(direct.command(job_id, verb))

    async def body(engine: Engine) -> None:
        for job_id in ids:
            said(await getattr(engine, verb)(job_id))

    if settings.direct:
        settings.call_now(now)
    else:
        settings.call(body, types=False)


NOT_KILLABLE = (
    "job {id}: a plain `def` job runs in a worker thread and cannot be killed; it was asked "
    'to stop and ends at its next ctx.check() (declare it with isolation="process" to make '
    "it killable)"
)


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@click.option(
    "--force",
    is_flag=True,
    help="Stop at once: kill the process group (shell and process jobs), cancel the task "
    "(async jobs); without it the job is asked (checkpoint raises, SIGTERM, then forced).",
)
@pass_settings
def cancel(settings: Settings, ids: tuple[int, ...], force: bool) -> None:
    """Cancel jobs (queued ones never start; running ones are stopped)."""
    if not force:
        _each(settings, ids, "cancel")
        return

    async def body(engine: Engine) -> None:
        for job_id in ids:
            job = await engine.cancel(job_id, force=True)
            if job.status not in TERMINAL and not engine.killable(job):
                click.echo(NOT_KILLABLE.format(id=job.id))
            else:
                note = " (killing)" if job.status not in TERMINAL else ""
                click.echo(f"job {job.id}: {job.status}{note}")

    settings.call(body)


@main.command()
@click.argument("job_id", type=int)
@click.argument("level", metavar="LEVEL")
@pass_settings
def priority(settings: Settings, job_id: int, level: str) -> None:
    """Change a queued job's priority (low, normal, high, critical or 0-3)."""
    try:
        chosen = Priority.parse(level)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    job = settings.call(lambda e: e.set_priority(job_id, chosen))
    click.echo(f"job {job.id}: priority {job.priority}")


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_settings
def pause(settings: Settings, ids: tuple[int, ...]) -> None:
    """Pause jobs."""
    _each(settings, ids, "pause")


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_settings
def resume(settings: Settings, ids: tuple[int, ...]) -> None:
    """Resume paused jobs."""
    _each(settings, ids, "resume")


@main.command()
@click.argument("job_id", type=int)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="Change a parameter (the others are the job's own; checked as submit checks them).",
)
@click.option(
    "--priority",
    type=click.Choice(["low", "normal", "high", "critical"], case_sensitive=False),
    help="A new priority (default: the job's own).",
)
@click.option("--queue", "queue_name", metavar="NAME", help="Another queue (default: its own).")
@click.option("--json", "as_json", is_flag=True, help="Print the new job as JSON.")
@pass_settings
def rerun(
    settings: Settings,
    job_id: int,
    params: tuple[str, ...],
    priority: str | None,
    queue_name: str | None,
    as_json: bool,
) -> None:
    """Queue a new job like JOB_ID (optionally with changed params, priority or queue),
    linked to it (`show` says "rerun of" and "rerun as"); print its id."""

    async def body(engine: Engine) -> Job:
        old = await engine.get(job_id)
        changes: dict[str, Any] = {}
        if params:
            kind = engine.registry.get(old.type)
            changes["params"] = kind.schema.parse_texts(parse_pairs(params), old.type, old.params)
        if priority is not None:
            changes["priority"] = priority
        if queue_name is not None:
            changes["queue"] = queue_name
        return await engine.rerun(job_id, **changes)

    job = settings.call(body)
    if as_json:
        echo_json(job.to_dict())
    else:
        click.echo(job.id)


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_settings
def delete(settings: Settings, ids: tuple[int, ...]) -> None:
    """Delete jobs that are not running."""
    deleted = settings.call(lambda e: e.delete(list(ids)))
    click.echo(f"deleted {len(deleted)} job{'s' if len(deleted) != 1 else ''}")


@main.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["completed", "failed", "cancelled"]),
    help="Only this status (repeatable; default all finished).",
)
@click.option("--older-than", metavar="DURATION", help="Only jobs finished before, e.g. 7d, 12h.")
@click.option("--keep", default=0, type=click.IntRange(0), help="Keep the newest N finished jobs.")
@pass_settings
def clear(settings: Settings, statuses: tuple[str, ...], older_than: str | None, keep: int) -> None:
    """Delete finished jobs."""
    age = parse_duration(older_than) if older_than else None
    chosen = {Status(s) for s in statuses} or set(TERMINAL)
    count = settings.call(lambda e: e.clear(chosen, older_than=age, keep_newest=keep))
    click.echo(f"cleared {count} job{'s' if count != 1 else ''}")
