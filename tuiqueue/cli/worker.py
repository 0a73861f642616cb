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
from tuiqueue.engine.defaults import RETENTION_KEEP, STOP_WRITES

T = TypeVar("T")

PAUSED_LOOK = 1.0
"""Seconds between a draining worker's looks at whether a pause is what holds it."""
LAST_RESORT = 2.0
"""Seconds past grace + STOP_WRITES after a signal at which a worker still not stopped
(its store hangs even the hand-back) exits anyway."""


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
@click.option(
    "--on-finish",
    metavar="CMD",
    help="Run CMD through the shell for each job this worker finishes, with "
    "$TUIQUEUE_JOB_ID, _STATUS, _TYPE, _QUEUE, _DURATION, _ATTEMPTS and _ERROR set.",
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
    on_finish: str | None,
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
        on_finish=on_finish,
    )

    async def report(events: Subscription) -> None:
        async for event in events:
            if event.kind is EventKind.NOTICE:
                for line in event.lines:
                    stderr(safe(line))
                continue
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

    async def last_resort() -> None:
        # The engine bounds its own stop (grace, then STOP_WRITES for the store); this
        # bounds what it cannot: a store that hangs before run() began, or its closing.
        await await_stop.wait()
        await anyio.sleep(grace + STOP_WRITES + LAST_RESORT)
        stderr(
            f"the store {mask_url(engine.store.url)} did not answer; exiting without it "
            "(jobs it could not record are recovered by the next worker)"
        )
        sys.stderr.flush()
        os._exit(1)

    await_stop = anyio.Event()

    async def say_when_paused() -> None:
        """A draining worker with nothing to run because of a pause says so, once."""
        while True:
            await anyio.sleep(PAUSED_LOOK)
            if not engine.running or engine.running_ids():
                continue
            everything = await engine.store.queue_paused()
            held = [
                q.name
                for q in await engine.queues()
                if q.paused and q.pending and (not queues or q.name in queues)
            ]
            if everything or held:
                what = "the queue is" if everything else f"queue {', '.join(held)} is"
                how = "tuiqueue queue resume" + ("" if everything else f" {held[0]}")
                stderr(f"{what} paused: --drain waits until it is resumed ({how})")
                return

    async def body() -> int:
        async with anyio.create_task_group() as tg:
            await tg.start(signals)
            tg.start_soon(last_resort)
            with anyio.CancelScope() as working:

                async def stopper() -> None:
                    await await_stop.wait()
                    if engine.running:
                        await engine.stop()
                    else:  # still opening the store: nothing claimed yet, nothing to hand back
                        working.cancel()

                tg.start_soon(stopper)
                await engine.store.open()
                stderr(
                    f"worker {engine.worker_id} on {mask_url(engine.store.url)}, "
                    f"concurrency {concurrency}"
                    + (f", queues {', '.join(sorted(queues))}" if queues else "")
                    + (", draining" if drain else "")
                )
                if drain:
                    tg.start_soon(say_when_paused)
                if not quiet:
                    # Subscribe now: engine.run() publishes the first "running" events
                    # before a task started here would get its first turn.
                    tg.start_soon(report, engine.events())
                await engine.run(drain=drain)
            tg.cancel_scope.cancel()
        if engine.gave_up:
            with anyio.move_on_after(1.0):
                await engine.store.close()
            stderr(
                f"worker stopped; the store {mask_url(engine.store.url)} did not answer within "
                f"{STOP_WRITES:g}s of the grace: jobs it could not record are recovered by the "
                "next worker"
            )
            return 1
        if drain and not await_stop.is_set():
            # A draining worker may live less than one retention interval (cron): prune once.
            await engine.prune()
        await engine.store.close()
        plural = "s" if engine.processed != 1 else ""
        stderr(f"worker stopped; {engine.processed} job{plural} processed")
        from tuiqueue.engine.runner import abandoned_jobs

        left = abandoned_jobs()
        if left:
            # Their bodies ignore cancellation: waiting for them at exit would hang forever.
            stderr(f"{left} abandoned job{'s' if left != 1 else ''} still running; exiting")
            sys.stdout.flush()
            os._exit(0)
        return 0

    sys.exit(run(body))
