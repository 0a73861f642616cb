"""Watcher: notices what other processes changed in a shared store and republishes it."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from tuiqueue.core import logs
from tuiqueue.core.events import Event, EventBus, EventKind
from tuiqueue.core.job import Job
from tuiqueue.store.base import Store

logger = logs.logger(__name__)

LOG_FETCH_MAX = 500
"""Lines of another process's job log fetched per poll."""


class Watcher:
    """Polls the store's change feed (cheaply) and turns other processes' work into events."""

    def __init__(
        self,
        store: Store,
        bus: EventBus,
        published: dict[int, int],
        *,
        poll_interval: float,
        running_ids: Callable[[], list[int]],
        apply_control: Callable[[Job], None],
        wake: Callable[[], None],
    ) -> None:
        self.store = store
        self.bus = bus
        self.published = published
        """Job id -> newest version the engine published itself (skipped here; pruned)."""
        self.poll_interval = poll_interval
        self._running_ids = running_ids
        self._apply_control = apply_control
        self._wake = wake
        self.version = -1
        self.queue_paused: bool | None = None
        self.log_seen: dict[int, int] = {}

    async def run(self) -> None:
        """Poll until cancelled."""
        store = self.store
        self.version = await store.version()
        self.queue_paused = await store.queue_paused()
        last_dv = store.data_version()
        while True:
            await store.wait_for_change(20 * self.poll_interval)
            await anyio.sleep(self.poll_interval)
            dv = store.data_version()
            if dv is not None:
                if dv == last_dv:
                    continue
                last_dv = dv
            await self.poll()

    async def poll(self) -> None:
        """Publish everything changed since the last poll."""
        store = self.store
        current = await store.version()
        if store.only_own_changes(self.version, current):
            # Only this engine wrote since (or a heartbeat, which changes no job): it has
            # published all of that already, and re-reading its own jobs cost ~15% of a busy
            # worker's time.
            self.version = current
            return
        changes = await store.changes(self.version)
        self.version = changes.version
        bus = self.bus
        woke = False
        running = set(self._running_ids())  # once per poll, not a list scan per changed job
        for job in changes.jobs:
            if job.id in running:
                self._apply_control(job)
                continue
            if self.published.get(job.id, -1) >= job.version:
                continue  # this engine's own change, already published
            if job.status.value in ("pending", "scheduled"):
                woke = True
            if bus.has_subscribers:
                bus.publish(Event(EventKind.JOB, job.id, job))
                await self._logs(job.id, job.log_count)
        published = self.published
        for job_id in [j for j, v in published.items() if v <= changes.version]:
            del published[job_id]
        for job_id in changes.deleted:
            self.log_seen.pop(job_id, None)
            if bus.has_subscribers:
                bus.publish(Event(EventKind.DELETED, job_id))
        paused = await store.queue_paused()
        if paused != self.queue_paused:
            self.queue_paused = paused
            bus.publish(Event(EventKind.QUEUE, queue_paused=paused))
            woke = True
        if woke:
            self._wake()

    async def _logs(self, job_id: int, count: int) -> None:
        seen = self.log_seen.get(job_id)
        if seen is None:
            self.log_seen[job_id] = count
            return
        if count <= seen:
            return
        page = await self.store.logs(job_id, after=max(seen, count - LOG_FETCH_MAX))
        self.log_seen[job_id] = count
        if page.lines:
            self.bus.publish(
                Event(EventKind.LOG, job_id, lines=tuple(line for _, line in page.lines))
            )
