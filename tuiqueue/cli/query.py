"""Read-only commands: list, show, logs, stats."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, TypeVar

import anyio
import click

from tuiqueue.cli.follow import exit_code
from tuiqueue.cli.group import STATUS_NAMES, Settings, main, pass_settings
from tuiqueue.cli.schedule import describe_origin
from tuiqueue.cli.support import (
    LIST_HEADER,
    echo_json,
    job_line,
    safe,
    show_job,
)
from tuiqueue.core.job import Job
from tuiqueue.core.placement import live_workers, waiting_reason
from tuiqueue.core.queues import check_queue_name
from tuiqueue.core.records import Step
from tuiqueue.core.schedule import Origin
from tuiqueue.core.status import TERMINAL, Status

if TYPE_CHECKING:
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

    async def body(engine: Engine) -> None:
        queue = None if queue_name is None else check_queue_name(queue_name)
        jobs = await engine.store.list_jobs(
            statuses={Status(s) for s in statuses} or None,
            type=type_name,
            limit=limit,
            queue=queue,
        )
        if as_json:
            echo_json([j.to_dict() for j in jobs])
            return
        why = await _reasons(engine, jobs)
        click.echo(LIST_HEADER)
        for job in jobs:
            click.echo(job_line(job, why.get(job.id)))

    settings.call(body, types=False)


async def _reasons(engine: Engine, jobs: list[Job]) -> dict[int, str]:
    """Why each queued job is not starting (no live worker can run it, a paused queue)."""
    if not any(j.status in (Status.PENDING, Status.SCHEDULED) for j in jobs):
        return {}
    live = live_workers(await engine.workers(), time.time(), engine.dead_after)
    paused = {q.name for q in await engine.queues() if q.paused}
    out = {}
    for job in jobs:
        reason = waiting_reason(job, live, paused)
        if reason:
            out[job.id] = reason
    return out


@main.command()
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def show(settings: Settings, job_id: int, as_json: bool) -> None:
    """Show one job: params, times, result, error, steps; why it waits, if no worker can run it."""

    async def body(
        engine: Engine,
    ) -> tuple[Job, str | None, list[Step], Origin | None, list[int]]:
        job = await engine.get(job_id)
        reason = (await _reasons(engine, [job])).get(job.id)
        steps = await engine.store.steps(job_id)
        return job, reason, steps, await engine.job_origin(job_id), await engine.reruns(job_id)

    job, reason, steps, origin, reruns = settings.call(body, types=False)
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
    result = settings.call(lambda e: e.stats(), types=False)
    if as_json:
        echo_json(result.to_dict())
        return
    for status, count in result.counts.items():
        click.echo(f"{status.value:<10} {count}")
    click.echo(f"{'queue':<10} {'paused' if result.queue_paused else 'running'}")
