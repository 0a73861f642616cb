"""Read-only commands: list, show, logs, stats."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tuiqueue.cli.group import STATUS_NAMES, Settings, main, pass_settings
from tuiqueue.cli.support import (
    LIST_HEADER,
    describe_origin,
    echo_json,
    exit_code,
    job_line,
    safe,
    show_job,
)
from tuiqueue.core.job import Job
from tuiqueue.core.placement import waiting_reasons
from tuiqueue.core.queues import check_queue_name
from tuiqueue.core.records import Step
from tuiqueue.core.status import TERMINAL, Status

if TYPE_CHECKING:
    from tuiqueue.cli.direct import Direct
    from tuiqueue.core.schedule import Origin
    from tuiqueue.engine.engine import Engine

T = TypeVar("T")


@main.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUS_NAMES),
    help="Only jobs in this status (repeatable).",
)
@click.option("--type", "type_name", help="Only jobs of this type.")
@click.option("--queue", "queue_name", metavar="NAME", help="Only jobs of this queue.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_jobs(
    settings: Settings,
    statuses: tuple[str, ...],
    type_name: str | None,
    queue_name: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """List jobs, newest first."""

    query: dict[str, Any] = {
        "statuses": {Status(s) for s in statuses} or None,
        "type": type_name,
        "limit": limit,
        "queue": None if queue_name is None else check_queue_name(queue_name),
    }

    def now(direct: Direct) -> tuple[list[Job], dict[int, str]]:
        jobs = direct.store.list_jobs_now(**query)
        return jobs, {} if as_json else direct.reasons(jobs)

    async def body(engine: Engine) -> tuple[list[Job], dict[int, str]]:
        jobs = await engine.store.list_jobs(**query)
        return jobs, {} if as_json else await _reasons(engine, jobs)

    jobs, why = settings.call_now(now) if settings.direct else settings.call(body, types=False)
    if as_json:
        echo_json([j.to_dict() for j in jobs])
        return
    click.echo(LIST_HEADER)
    for job in jobs:
        click.echo(job_line(job, why.get(job.id)))


async def _reasons(engine: Engine, jobs: list[Job]) -> dict[int, str]:
    """Why each queued job is not starting (no live worker can run it, a paused queue)."""
    if not any(j.status in (Status.PENDING, Status.SCHEDULED) for j in jobs):
        return {}
    paused = {q.name for q in await engine.queues() if q.paused}
    return waiting_reasons(jobs, await engine.workers(), paused, time.time(), engine.dead_after)


@main.command()
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def show(settings: Settings, job_id: int, as_json: bool) -> None:
    """Show one job: params, times, result, error, steps; why it waits, if no worker can run it."""

    def now(direct: Direct) -> tuple[Job, str | None, list[Step], Origin | None, list[int]]:
        job = direct.get(job_id)
        reason = direct.reasons([job]).get(job.id)
        steps = direct.store.steps_now(job_id)
        origin, reruns = direct.store.job_origin_now(job_id), direct.store.reruns_now(job_id)
        return job, reason, steps, origin, reruns

    async def body(
        engine: Engine,
    ) -> tuple[Job, str | None, list[Step], Origin | None, list[int]]:
        job = await engine.get(job_id)
        reason = (await _reasons(engine, [job])).get(job.id)
        steps = await engine.store.steps(job_id)
        return job, reason, steps, await engine.job_origin(job_id), await engine.reruns(job_id)

    job, reason, steps, origin, reruns = (
        settings.call_now(now) if settings.direct else settings.call(body, types=False)
    )
    if as_json:
        echo_json(
            {
                **job.to_dict(),
                "reruns": reruns,
                "steps": [step.to_dict() for step in steps],
                "schedule": None if origin is None else origin.to_dict(),
            }
        )
    else:
        show_job(job, reason, reruns)
        if origin is not None:
            click.echo(f"{'schedule:':<10} {describe_origin(origin)}")
        for step in steps:
            took = "running" if step.finished is None else f"{step.finished - step.started:.2f}s"
            click.echo(f"step: {safe(step.name)} ({took})")


@main.command()
@click.argument("job_id", type=int)
@click.option(
    "-f",
    "--follow",
    is_flag=True,
    help="Keep printing until the job ends; exit as `wait` does (0 completed, 1 failed, "
    "3 cancelled).",
)
@pass_settings
def logs(settings: Settings, job_id: int, follow: bool) -> None:
    """Print a job's log."""

    async def body(engine: Engine) -> int:
        import anyio  # only here: the other commands here run without an event loop

        after, warned = 0, False
        while True:
            page = await engine.store.logs(job_id, after)
            if page.dropped and not warned and page.lines and page.lines[-1][0] > 100:
                warned = True
            for seq, line in page.lines:
                if seq > 100 and after <= 100 and page.dropped:
                    click.echo(f"[… {page.dropped} lines dropped …]")
                click.echo(safe(line))
                after = seq
            if not follow:
                return 0
            job = await engine.get(job_id)
            if job.status in TERMINAL and not page.lines:
                return exit_code([job])
            await anyio.sleep(0.25)

    sys.exit(settings.call(body, types=False))


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def stats(settings: Settings, as_json: bool) -> None:
    """Counts per status."""
    result = (
        settings.call_now(lambda d: d.stats())
        if settings.direct
        else settings.call(lambda e: e.stats(), types=False)
    )
    if as_json:
        echo_json(result.to_dict())
        return
    for status, count in result.counts.items():
        click.echo(f"{status.value:<10} {count}")
    click.echo(f"{'queue':<10} {'paused' if result.queue_paused else 'running'}")
