"""The short commands on a SQLite file, without an event loop or an engine.

`submit`, `list`, `show`, `stats` and `cancel` each run a transaction or two. On SQLite (the
default store) they run them through the store's `_now` methods, which are the same
transactions the async methods run (version bumps included, so a dashboard on the file sees
the change at once), so these commands import neither anyio/asyncio nor the engine: about
half their start-up time. Other stores go through the engine as before.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import Command, UnknownJob
from tuiqueue.core.placement import waiting_reasons
from tuiqueue.core.records import Stats, Step
from tuiqueue.core.status import Status
from tuiqueue.engine.defaults import DEAD_AFTER
from tuiqueue.store.sqlite import SqliteStore

if TYPE_CHECKING:
    from tuiqueue.core.registry import Registry
    from tuiqueue.core.schedule import Origin


class Direct:
    """What those commands ask of an engine that is no worker, on an open SqliteStore."""

    def __init__(
        self, store: SqliteStore, registry: Registry | None = None, dead_after: float = DEAD_AFTER
    ) -> None:
        self.store = store
        self._registry = registry
        self.dead_after = dead_after

    @property
    def registry(self) -> Registry:
        """The job types submit checks against (default: REGISTRY; imported by submit only,
        list, show, stats and cancel need no registry)."""
        if self._registry is None:
            from tuiqueue.core.registry import REGISTRY

            self._registry = REGISTRY
        return self._registry

    def get(self, job_id: int) -> Job:
        """The job with this id, or UnknownJob (as Engine.get)."""
        job = self.store.get_now(job_id)
        if job is None:
            raise UnknownJob(job_id)
        return job

    def submit(self, type: str, params: Mapping[str, Any], **kw: Any) -> Job:
        """Validate and queue one job (as Engine.submit)."""
        from tuiqueue.core.submission import new_job

        job = new_job(self.registry, time.time, type, params, **kw)
        return self.store.add_now([job], time.time())[0]

    def command(self, job_id: int, command: Command) -> Job:
        """Cancel, pause or resume a job (as Engine.cancel...; a running job's worker sees
        the request in the store, as it does from any other process)."""
        return self.store.command_now(job_id, command, time.time())

    def stats(self) -> Stats:
        """Counts per status and the live workers' load (as Engine.stats, for no worker)."""
        now = time.time()
        workers = self.store.workers_now()
        counts = self.store.counts_now()
        paused = self.store.queue_paused_now()
        queues = tuple(self.store.queues_now())
        return Stats.of(counts, paused, queues, workers, now, self.dead_after)

    def listing(
        self, query: Mapping[str, Any], reasons: bool = True
    ) -> tuple[list[Job], dict[int, str]]:
        """`tuiqueue list`: the jobs of a query and why each waiting one waits (reasons)."""
        jobs = self.store.list_jobs_now(**query)
        return jobs, self.reasons(jobs) if reasons else {}

    def detail(self, job_id: int) -> tuple[Job, str | None, list[Step], Origin | None, list[int]]:
        """`tuiqueue show`: the job, why it waits, its steps, its schedule, its reruns."""
        job = self.get(job_id)
        reason = self.reasons([job]).get(job.id)
        steps = self.store.steps_now(job_id)
        origin, reruns = self.store.job_origin_now(job_id), self.store.reruns_now(job_id)
        return job, reason, steps, origin, reruns

    def reasons(self, jobs: Sequence[Job]) -> dict[int, str]:
        """Why each queued job is not starting (as `tuiqueue list` says it)."""
        if not any(j.status in (Status.PENDING, Status.SCHEDULED) for j in jobs):
            return {}
        return waiting_reasons(
            jobs,
            self.store.workers_now(),
            {q.name for q in self.store.queues_now() if q.paused},
            time.time(),
            self.dead_after,
        )
