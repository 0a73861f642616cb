"""`tuiqueue worker`: a headless worker with graceful stop on SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import sys
from typing import TypeVar

import anyio
import click
from anyio.abc import TaskStatus

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import (
    BadInput,
    human_seconds,
    run,
    safe,
    stderr,
)
from tuiqueue.core.events import EventKind, Subscription
from tuiqueue.core.queues import parse_queue_list
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.core.text import mask_url
from tuiqueue.engine.engine import RETENTION_KEEP
from tuiqueue.engine.runner import abandoned_jobs

T = TypeVar("T")


@main.command()
@click.option("-c", "--concurrency", default=3, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--drain", is_flag=True, help="Exit once nothing is queued or running.")
@click.option(
    "--grace",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds running jobs get to finish when stopping.",
)
@click.option(
    "--keep",
    default=RETENTION_KEEP,
    show_default=True,
    type=click.IntRange(0),
    help="Keep the newest N finished jobs, delete older ones (0: keep all).",
)
@click.option(
    "--keep-days",
    type=click.FloatRange(0, 100_000, min_open=True),
    metavar="DAYS",
    help="Also delete jobs finished more than DAYS ago.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print job events.")
@click.option(
    "-Q",
    "--queues",
    "queue_list",
    metavar="A,B",
    help="Take jobs only from these queues (default: every queue).",
)
@pass_settings
def worker(
    settings: Settings,
    concurrency: int,
    drain: bool,
    grace: float,
    keep: int,
    keep_days: float | None,
    quiet: bool,
    queue_list: str | None,
) -> None:
    """Run jobs headless. Ctrl-C/SIGTERM stops gracefully; a second one stops now.

    It claims only jobs of the types it has loaded (built-ins and --jobs modules): others
    stay queued for a worker that has them."""
    try:
        queues = None if queue_list is None else parse_queue_list(queue_list)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    engine = settings.engine(
        concurrency=concurrency,
        grace=grace,
        retention_keep=keep or None,
        retention_days=keep_days,
        queues=queues,
    )

    async def report(events: Subscription) -> None:
        async for event in events:
            job = event.job
            if (
                event.kind is EventKind.JOB
                and job is not None
                and job.worker == engine.worker_id  # not what other workers did
                and (job.status in TERMINAL or job.status is Status.RUNNING)
            ):
                took = (
                    f" in {human_seconds(job.duration)}" if job.finished_at and job.duration else ""
                )
                detail = f": {safe(job.error)}" if job.error and job.status is Status.FAILED else ""
                stderr(f"job {job.id} {job.type} {job.status}{took}{detail}")

    async def signals(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
            task_status.started()
            count = 0
            async for signum in received:
                count += 1
                if count == 1:
                    stderr(
                        f"{signal.Signals(signum).name}: finishing running jobs "
                        f"(up to {grace:g}s); send again to stop now"
                    )
                    await_stop.set()
                else:
                    stderr("stopping now; unfinished jobs are requeued")
                    await_stop.set()
                    engine.abort()

    await_stop = anyio.Event()

    async def body() -> None:
        await engine.store.open()
        stderr(
            f"worker {engine.worker_id} on {mask_url(engine.store.url)}, concurrency {concurrency}"
            + (f", queues {', '.join(sorted(queues))}" if queues else "")
            + (", draining" if drain else "")
        )
        async with anyio.create_task_group() as tg:
            if not quiet:
                # Subscribe now: engine.run() publishes the first "running" events
                # before a task started here would get its first turn.
                tg.start_soon(report, engine.events())
            await tg.start(signals)

            async def stopper() -> None:
                await await_stop.wait()
                await engine.stop()

            tg.start_soon(stopper)
            await engine.run(drain=drain)
            tg.cancel_scope.cancel()
        if drain and not await_stop.is_set():
            # A draining worker may live less than one retention interval (cron): prune once.
            await engine.prune()
        await engine.store.close()
        plural = "s" if engine.processed != 1 else ""
        stderr(f"worker stopped; {engine.processed} job{plural} processed")
        left = abandoned_jobs()
        if left:
            # Their bodies ignore cancellation: waiting for them at exit would hang forever.
            stderr(f"{left} abandoned job{'s' if left != 1 else ''} still running; exiting")
            sys.stdout.flush()
            os._exit(0)

    run(body)
