"""Read-only commands: list, show, logs, stats."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tuiqueue.cli.group import STATUS_NAMES, Settings, main, pass_settings
from tuiqueue.cli.output import print_list, print_show, print_stats
from tuiqueue.cli.support import exit_code, friendly_errors, safe
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

    with friendly_errors():  # (a bad --queue name: its message, not a traceback)
        queue = None if queue_name is None else check_queue_name(queue_name)
    query: dict[str, Any] = {
        "statuses": {Status(s) for s in statuses} or None,
        "type": type_name,
        "limit": limit,
        "queue": queue,
    }

    def now(direct: Direct) -> tuple[list[Job], dict[int, str]]:
        return direct.listing(query, reasons=not as_json)

    async def body(engine: Engine) -> tuple[list[Job], dict[int, str]]:
        jobs = await engine.store.list_jobs(**query)
        return jobs, {} if as_json else await _reasons(engine, jobs)

    jobs, why = settings.call_now(now) if settings.direct else settings.call(body, types=False)
    print_list(jobs, why, as_json)


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
        return direct.detail(job_id)

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
    print_show(job, reason, steps, origin, reruns, as_json)


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
    print_stats(result, as_json)
