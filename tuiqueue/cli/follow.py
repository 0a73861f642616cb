"""`tuiqueue events` and `tuiqueue wait`: follow a shared store without claiming anything.

Both run an Engine with worker=False: it is not registered as a worker, takes no job, and
its Watcher turns what other processes change into events.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, TextIO

import anyio
import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import (
    EXIT_INTERRUPTED,
    BadInput,
    exit_code,
    friendly_errors,
)
from tuiqueue.core.events import Event, EventKind, Subscription
from tuiqueue.core.job import Job
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.core.text import one_line

if TYPE_CHECKING:
    from tuiqueue.engine.engine import Engine

RECHECK = 2.0
"""Seconds between re-reads of the waited jobs (a missed or coalesced event costs no more)."""


def event_dict(event: Event) -> dict[str, Any]:
    """An event as one JSON object (what `tuiqueue events --json` prints per line)."""
    out: dict[str, Any] = {"kind": event.kind.value, "time": time.time()}
    if event.job_id is not None:
        out["job_id"] = event.job_id
    if event.job is not None:
        out["job"] = event.job.to_dict()
    if event.lines:
        out["lines"] = list(event.lines)
    if event.queue_paused is not None:
        out["queue_paused"] = event.queue_paused
    if event.concurrency is not None:
        out["concurrency"] = event.concurrency
    return out


def event_line(event: Event) -> str:
    """An event as one plain line; job text cleaned of control characters and markup-free."""
    stamp = time.strftime("%H:%M:%S")
    head = f"{stamp} {event.kind.value:<8}"
    if event.job_id is not None:
        head += f" #{event.job_id}"
    job = event.job
    if job is not None:
        head += f" {one_line(job.type, 40)} {job.status.value}"
        if event.kind is EventKind.PROGRESS or job.status is Status.RUNNING:
            head += f" {job.progress:.0f}%"
        if job.message:
            head += f" {one_line(job.message, 120)}"
        if job.status is Status.FAILED and job.error:
            head += f" error: {one_line(job.error, 200)}"
    if event.lines:
        return "\n".join(f"{head} | {one_line(line, 500)}" for line in event.lines)
    if event.queue_paused is not None:
        head += " paused" if event.queue_paused else " resumed"
    if event.concurrency is not None:
        head += f" concurrency {event.concurrency}"
    return head


@asynccontextmanager
async def watching(engine: Engine) -> AsyncIterator[Subscription]:
    """A subscription to the engine's events while it watches the store (never a worker)."""
    if engine.worker:
        raise RuntimeError("watching() needs an Engine(worker=False)")
    if not engine.store.shared:
        raise BadInput(
            "this store is private to one process (:memory:): there is nothing to follow; "
            "use a SQLite file or redis:// with --db"
        )
    sub = engine.events()
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(engine.run)
            try:
                yield sub
            finally:
                with anyio.CancelScope(shield=True):
                    await engine.stop()
    finally:
        engine.bus.unsubscribe(sub)


def interruptible(settings: Settings, fn: Callable[[Engine], Awaitable[int]]) -> int:
    """settings.call(fn) on a watching engine; Ctrl-C gives EXIT_INTERRUPTED, no traceback."""
    try:
        return settings.call(fn, worker=False)
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED


@main.command()
@click.option("--job", "job_id", type=int, metavar="ID", help="Only this job's events.")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line (NDJSON).")
@pass_settings
def events(settings: Settings, job_id: int | None, as_json: bool) -> None:
    """Print events as they happen, until Ctrl-C (takes no job: not a worker)."""

    async def body(engine: Engine) -> int:
        if job_id is not None:
            await engine.get(job_id)  # an unknown id: one line, exit 2
        async with watching(engine) as sub:
            async for event in sub:
                if job_id is not None and event.job_id not in (job_id, None):
                    continue
                if job_id is not None and event.kind is EventKind.QUEUE:
                    continue
                if as_json:
                    line = json.dumps(event_dict(event), ensure_ascii=True, separators=(",", ":"))
                else:
                    line = event_line(event)
                click.echo(line)
                sys.stdout.flush()
        return 0

    code = interruptible(settings, body)
    sys.exit(0 if code == EXIT_INTERRUPTED else code)


class Progress:
    """What `wait` shows: a redrawn bar on a terminal, else one plain line per change."""

    def __init__(self, out: TextIO, tty: bool) -> None:
        self.out = out
        self.tty = tty
        self.seen: dict[int, tuple[Status, int]] = {}
        self.drawn = False

    def update(self, jobs: dict[int, Job]) -> None:
        """Report what changed since the last call."""
        for job in jobs.values():
            state = (job.status, int(job.progress // 10))
            if self.seen.get(job.id) == state:
                continue
            first = job.id not in self.seen
            status_changed = first or self.seen[job.id][0] is not job.status
            self.seen[job.id] = state
            if job.status in TERMINAL:
                self._line(self._final(job))
            elif not self.tty and status_changed:
                self._line(f"{job.id} {job.status.value} {job.progress:.0f}%")
        if self.tty:
            self._bar(jobs)

    def _final(self, job: Job) -> str:
        text = f"{job.id} {job.status.value}"
        if job.status is Status.FAILED and job.error:
            text += f": {one_line(job.error, 200)}"
        return text

    def _line(self, text: str) -> None:
        if self.tty and self.drawn:
            self.out.write("\r\x1b[2K")
            self.drawn = False
        self.out.write(text + "\n")
        self.out.flush()

    def _bar(self, jobs: dict[int, Job]) -> None:
        done = sum(1 for j in jobs.values() if j.status in TERMINAL)
        if done == len(jobs):
            if self.drawn:
                self.out.write("\r\x1b[2K")
                self.out.flush()
                self.drawn = False
            return
        total = sum(100.0 if j.status in TERMINAL else j.progress for j in jobs.values())
        share = total / (100.0 * len(jobs))
        width = 24
        filled = int(share * width)
        active = next((j for j in jobs.values() if j.status is Status.RUNNING), None)
        note = ""
        if active is not None:
            note = f" #{active.id} {active.progress:.0f}% {one_line(active.message, 40)}"
        bar = "#" * filled + "-" * (width - filled)
        self.out.write(f"\r\x1b[2K[{bar}] {done}/{len(jobs)} done{note}")
        self.out.flush()
        self.drawn = True


async def wait_jobs(engine: Engine, ids: Sequence[int], out: TextIO, tty: bool) -> list[Job]:
    """Wait until every job is finished, showing progress; return them in the given order."""
    wanted = list(dict.fromkeys(ids))
    jobs = {i: await engine.get(i) for i in wanted}  # an unknown id: one line, exit 2
    progress = Progress(out, tty)
    if all(j.status in TERMINAL for j in jobs.values()):
        progress.update(jobs)
        return [jobs[i] for i in wanted]
    async with watching(engine) as sub:
        # Re-read after subscribing: a change between the first read and now is not missed.
        jobs = {i: await engine.get(i) for i in wanted}
        progress.update(jobs)
        while not all(j.status in TERMINAL for j in jobs.values()):
            with anyio.move_on_after(RECHECK) as scope:
                event = await sub.get()
            if scope.cancelled_caught or event.kind is EventKind.RESYNC:
                jobs = {i: await engine.get(i) for i in wanted}
            elif event.job is not None and event.job.id in jobs:
                jobs[event.job.id] = event.job
            elif event.kind is EventKind.DELETED and event.job_id in jobs:
                raise BadInput(f"job {event.job_id} was deleted while waiting for it")
            progress.update(jobs)
    return [jobs[i] for i in wanted]


def run_wait(settings: Settings, ids: Sequence[int], out: TextIO) -> tuple[int, list[Job]]:
    """Wait for ids in a watching engine: (exit code, the finished jobs)."""
    found: list[Job] = []

    async def body(engine: Engine) -> int:
        found.extend(await wait_jobs(engine, ids, out, out.isatty()))
        return exit_code(found)

    with friendly_errors():
        code = interruptible(settings, body)
    if code == EXIT_INTERRUPTED:
        out.write("\ninterrupted\n" if out.isatty() else "interrupted\n")
        out.flush()
    return code, found


@main.command()
@click.argument("ids", type=int, nargs=-1, required=True, metavar="ID...")
@pass_settings
def wait(settings: Settings, ids: tuple[int, ...]) -> None:
    """Wait until the jobs finish: exit 0 all completed, 1 any failed, 3 any cancelled."""
    code, _ = run_wait(settings, ids, sys.stdout)
    sys.exit(code)
