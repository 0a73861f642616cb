"""The one store interface every backend implements (SQLite, memory, Redis)."""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from tuiqueue.core.history import BUCKET, DURATIONS_MAX, FinishedCount, History
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Command, Outcome
from tuiqueue.core.preset import Preset
from tuiqueue.core.queues import ANY, ClaimScope, QueueInfo
from tuiqueue.core.records import (
    Changes,
    JobProcess,
    LogLines,
    LogPage,
    ProgressUpdate,
    Step,
    Superseded,
    WorkerInfo,
)
from tuiqueue.core.status import TERMINAL, UNFINISHED, Priority, Status

if TYPE_CHECKING:
    from tuiqueue.core.schedule import Fire, Origin, Schedule

LOG_HEAD = 100
"""First lines of a job's log that are always kept."""
LOG_TAIL = 5_000
"""Newest lines of a job's log that are kept; lines in between are dropped and counted."""
LOG_LINE_MAX = 4_096
"""Longer log lines are cut here, saying so."""


ORIGINS_KEPT = 1_000
"""Origins remembered per schedule (the newest jobs'); older jobs say nothing."""


class StoreError(RuntimeError):
    """The store cannot be opened or used; the message says what to do."""


class StoreAuthError(StoreError):
    """The store refused our credentials (a wrong or changed password): retrying cannot
    help, so a worker stops at once rather than run jobs it can no longer record."""


_TERMINAL_VALUES = frozenset(s.value for s in TERMINAL)


def recorded(o: Outcome) -> tuple[Any, ...]:
    """What a finish writes for an outcome, as the SQL stores' UPDATEs take it: (status,
    terminal, progress, message, result as compact JSON (terminal outcomes only), run_at,
    error, traceback). Outcomes with the same share one UPDATE. (Status._value_ and a set of
    values: an enum's .value and its hash are Python calls, and this runs for every job.)"""
    status = o.status._value_
    terminal = status in _TERMINAL_VALUES
    result = None
    if o.result is not None and terminal:
        result = json.dumps(o.result, separators=(",", ":"), allow_nan=False)
    return (status, terminal, o.progress, o.message, result, o.run_at, o.error, o.traceback)


def clip_line(line: str) -> str:
    """Bound one log line's length."""
    if len(line) <= LOG_LINE_MAX:
        return line
    return line[:LOG_LINE_MAX] + f"… [{len(line) - LOG_LINE_MAX} more characters cut]"


def superseded(
    attempts: Mapping[int, str],
    current: Mapping[int, Sequence[object]],
) -> list[Superseded]:
    """The runs of `attempts` (job id -> token) whose job is gone or holds another token;
    current maps each job id found to its (id, token, status, worker, attempts)."""
    out = []
    for job_id, token in attempts.items():
        row = current.get(job_id)
        if row is None:
            out.append(Superseded(job_id, token, None, None, 0))
            continue
        _, now_token, status, worker, count = row
        if now_token != token:
            out.append(
                Superseded(
                    job_id,
                    token,
                    Status(str(status)),
                    None if worker is None else str(worker),
                    int(str(count or 0)),
                )
            )
    return out


class OwnVersions:
    """Change versions a store object committed itself, so its watcher can skip them."""

    LIMIT = 100_000
    """Versions remembered at most (nobody is asking): then forget, and the watcher reads."""

    def __init__(self) -> None:
        self._versions: set[int] = set()

    def add(self, version: int) -> None:
        """Record a version this store object committed."""
        if len(self._versions) >= self.LIMIT:
            self._versions.clear()
        self._versions.add(version)

    def covers(self, since: int, version: int) -> bool:
        """Whether every version in (since, version] is ours; forgets those up to version."""
        if version - since > len(self._versions):
            ours = False
        else:
            ours = all(v in self._versions for v in range(since + 1, version + 1))
        self._versions = {v for v in self._versions if v > version}
        return ours


class PresetShelf(Protocol):
    """What a store's presets collaborator does (store/presets_*.py); the Store's preset
    methods hand each call to it."""

    async def save_preset(self, preset: Preset, *, replace: bool = False) -> Preset: ...

    async def presets(self, type: str | None = None) -> list[Preset]: ...

    async def preset(self, name: str) -> Preset | None: ...

    async def remove_preset(self, name: str) -> Preset: ...


class Store(ABC):
    """Persistence for jobs, logs and queue state. Every method is safe across processes."""

    url: str = ""
    exact_liveness: bool = False
    """True when a live worker is known exactly (an OS lock), not by its heartbeat's age."""
    shared: bool = False
    """True when other processes may change the store (watch `changes()`)."""
    fleet: bool = False
    """True when workers on other machines share it (a dashboard attaches without a worker)."""

    def clone(self) -> Store:
        """A fresh, unopened store on the same data with every setting of this one.

        Shared stores must override it (the heartbeat thread uses its own clone); a store
        that only lives in this process has no sibling and raises NotImplementedError.

        Does no I/O: never blocks the event loop.
        """
        raise NotImplementedError(f"{type(self).__name__} cannot be cloned")

    async def verify(self) -> None:  # noqa: B027  (optional hook, not abstract)
        """Check the stored data is readable before a worker starts (raises StoreError).

        Blocks the loop for one scan of the store where the store has one (SQLite)."""

    async def open(self) -> None:  # noqa: B027  (optional hook, not abstract)
        """Connect and migrate; raise StoreError with a clear message on failure.

        Blocks the event loop on SQLite while the file is checked and migrated; Redis awaits.
        """

    async def close(self) -> None:  # noqa: B027  (optional hook, not abstract)
        """Release connections.

        Does not block the event loop for long (closing a connection).
        """

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @abstractmethod
    async def add(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        """Insert jobs all or nothing, assigning ids; UnknownJob if a dependency is missing.

        A few jobs go in one transaction; a big batch is written in bounded chunks that
        others' writes get in between, invisible until one small step shows them all.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    async def sweep_batches(self) -> int:
        """Remove what big submits that died before committing left (never visible); count.

        Called by every recovery pass; stores look at most every few seconds. Blocks the
        event loop on SQLite (a small read, and chunked deletes when there is garbage).
        """
        return 0

    @abstractmethod
    async def get(self, job_id: int) -> Job | None:
        """One job by id.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def reruns(self, job_id: int) -> list[int]:
        """Ids of the jobs made as reruns of this one (their `rerun_of`), oldest first;
        empty for an unknown job. An index lookup on every store, never a scan.

        Blocks the event loop on SQLite (one statement); Redis and PostgreSQL await;
        MemoryStore does no I/O.
        """

    @abstractmethod
    async def list_jobs(
        self,
        *,
        statuses: Collection[Status] | None = None,
        type: str | None = None,
        limit: int = 100,
        before_id: int | None = None,
        after_id: int | None = None,
        queue: str | None = None,
    ) -> list[Job]:
        """Jobs newest first; pass the last id seen as before_id for the next page (keyset).
        With queue: only that queue's jobs.

        With after_id: the jobs with a larger id, oldest first (pass 0 to start from the
        oldest, then the last id seen): the order in which jobs of one priority run.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def claim(
        self, worker: str, limit: int, now: float, scope: ClaimScope = ANY
    ) -> list[Job]:
        """Atomically take up to limit runnable jobs (priority, then oldest) for worker.

        Only jobs within scope (the worker's types and queues) are considered, never
        those of a paused queue, and never more of a capped queue's jobs than its limit
        minus those of its jobs already running on any worker.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    async def has_work(self, scope: ClaimScope) -> bool:
        """Whether any unfinished job (paused ones aside) is within scope: what a draining
        worker waits for. Jobs of types or queues it does not take are not its work.

        The default pages through the unfinished jobs (stores override it with an index);
        it awaits the store's reads."""
        statuses = {s for s in UNFINISHED if s is not Status.PAUSED}
        before: int | None = None
        while True:
            page = await self.list_jobs(statuses=statuses, limit=500, before_id=before)
            if any(scope.takes(job.type, job.queue) for job in page):
                return True
            if len(page) < 500:
                return False
            before = page[-1].id

    @abstractmethod
    async def next_wakeup(self, now: float) -> float | None:
        """When the earliest scheduled job becomes due, if any.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def save_progress(self, updates: Sequence[ProgressUpdate], now: float) -> None:
        """Record (job id, token, percent, message) for running jobs; stale tokens are ignored.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def finish(self, outcomes: Sequence[Outcome], now: float) -> list[Job]:
        """Record how runs ended, in one transaction; returns the jobs that changed.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    async def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], list[Job]]:
        """finish(outcomes) then claim(worker, limit, scope): (finished jobs, claimed jobs).

        The engine's dispatcher does both on every tick; stores override this to do them
        in one transaction / round trip (the default is the two calls).

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """
        finished = await self.finish(outcomes, now) if outcomes else []
        return finished, await self.claim(worker, limit, now, scope)

    async def finish_ids_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[set[int], list[Job]]:
        """finish_and_claim for a caller that needs to know only which outcomes were recorded
        (nobody in this process watches the jobs): (their job ids, claimed jobs).

        A recorded outcome's job now has the outcome's status. Stores that pay to read the
        finished rows back override this (SqliteStore); the default is finish_and_claim.
        """
        finished, claimed = await self.finish_and_claim(outcomes, worker, limit, now, scope)
        return {job.id for job in finished}, claimed

    @abstractmethod
    async def command(self, job_id: int, command: Command, now: float) -> Job:
        """Cancel, pause or resume; UnknownJob or TransitionError when impossible.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def set_priority(self, job_id: int, priority: Priority, now: float) -> Job:
        """Change a job's priority before it starts; it moves in the run order at once.

        UnknownJob, or TransitionError once it has started or finished.
        """

    @abstractmethod
    async def save_steps(self, steps: dict[int, list[Step]]) -> None:
        """Record each job's steps so far (the whole list, replacing what was stored)."""

    @abstractmethod
    async def steps(self, job_id: int) -> list[Step]:
        """A job's recorded steps, in order (empty when it marked none)."""

    @abstractmethod
    async def append_logs(
        self, lines: Mapping[int, LogLines], dropped: Mapping[int, int] | None = None
    ) -> None:
        """Append an attempt's log lines per job, keeping the head and the newest tail.

        Lines whose token is not the job's current one (a superseded attempt) are dropped.

        dropped: per job, lines lost before they reached the store (the engine's bounded
        buffer); `logs()` counts them in `LogPage.dropped` with the ones trimmed here.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        """Log lines with sequence number > after, oldest first.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        """Delete finished or queued jobs (never running ones); returns the ids deleted.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def clear(
        self,
        statuses: Collection[Status],
        *,
        finished_before: float | None = None,
        keep_newest: int = 0,
        batch: int = 500,
        pause: float = 0.0,
    ) -> int:
        """Delete finished jobs in the given statuses, optionally only older ones; returns count.

        At most `batch` jobs (and their logs) go per transaction, with `pause` seconds between
        transactions so other writers get the store in between.

        Blocks the event loop on SQLite for each batch's transaction (it awaits `pause`
        in between); MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def counts(self) -> dict[Status, int]:
        """Number of jobs per status.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    async def finished_history(self, since: float, now: float, width: float = BUCKET) -> History:
        """Jobs that reached a final status with since <= finished_at <= now: counted per
        bucket of `width` seconds, per type and status, with the run times of the newest
        DURATIONS_MAX completed ones for the percentiles.

        Blocks the event loop on SQLite (two index reads); PostgreSQL and Redis await
        (Redis in bounded scripts); MemoryStore walks its jobs."""
        counts, durations = await self._finished_since(since, now, width, DURATIONS_MAX + 1)
        sampled = len(durations) > DURATIONS_MAX
        return History.build(since, now, width, counts, durations[:DURATIONS_MAX], sampled=sampled)

    @abstractmethod
    async def _finished_since(
        self, since: float, now: float, width: float, limit: int
    ) -> tuple[list[FinishedCount], list[tuple[str, float]]]:
        """finished_history's reads: the jobs finished in [since, now] counted per
        (whole buckets of width after since, type, final status), and (type, run time) of
        at most `limit` of those that completed (and had started), newest first."""

    @abstractmethod
    async def changes(self, since: int) -> Changes:
        """Jobs changed and ids deleted after version `since`.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def version(self) -> int:
        """The current change version.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    def only_own_changes(self, since: int, version: int) -> bool:
        """Whether every change after `since` up to `version` was written through this store
        object (a watcher then has nothing to learn from changes()); False when unknown.

        Does no I/O: never blocks the event loop.
        """
        return False

    def data_version(self) -> int | None:
        """A cheap number that changes when another process commits; None when unknown.

        Does not block the event loop for long (no table read). The watcher skips a poll
        while it stays the same; the default None makes it poll every time.
        """
        return None

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait up to timeout seconds for a write by any process; True if one (may have) come.

        Does not block the event loop. Stores without notifications return True at once
        (the watcher then polls on its own interval).
        """
        return True

    @abstractmethod
    async def set_queue_paused(self, paused: bool) -> None:
        """Pause or resume claiming for every worker on this store.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def queue_paused(self) -> bool:
        """Whether the queue is paused.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def pause_queue(self, name: str, paused: bool) -> None:
        """Pause or resume claiming from one queue, for every worker on this store.

        Blocks the event loop on SQLite (one statement); Redis awaits; memory does no I/O."""

    @abstractmethod
    async def limit_queue(self, name: str, limit: int | None) -> None:
        """Let at most `limit` of a queue's jobs run at once across every worker (None: no cap).

        Blocks the event loop on SQLite (one statement); Redis awaits; memory does no I/O."""

    @abstractmethod
    async def queues(self) -> list[QueueInfo]:
        """Every queue that has settings or unfinished jobs, by name, with its load.

        Blocks the event loop on SQLite (one index read); Redis awaits; memory does no I/O."""

    # -- workers (heartbeats) -----------------------------------------------------------

    @abstractmethod
    async def register_worker(self, info: WorkerInfo) -> None:
        """Add or replace a worker's row.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def report_worker_error(self, worker_id: str, error: str) -> None:
        """Record a worker's newest background failure, shown by `tuiqueue workers`.

        Blocks the event loop on SQLite (one statement); Redis awaits; memory does no I/O."""

    @abstractmethod
    async def heartbeat(
        self,
        worker_id: str,
        running: int,
        processed: int,
        now: float,
        attempts: Mapping[int, str] | None = None,
    ) -> list[Superseded]:
        """Refresh a worker's liveness and load; returns the runs of `attempts` (job id ->
        the token of the worker's run of it) whose token is no longer the job's own.

        The same call as the beat (one transaction / round trip), so a worker learns within
        a heartbeat that another attempt took a job over, even from a job that never logs.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def stop_worker(self, worker_id: str, now: float) -> None:
        """Mark a worker as cleanly stopped.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def workers(self) -> list[WorkerInfo]:
        """Every registered worker (alive or not), newest first.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        """Running/paused jobs whose worker is stopped, unknown, or silent for dead_after s.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    async def take_over(
        self, outcomes: Sequence[Outcome], now: float, dead_after: float
    ) -> list[Job]:
        """finish(outcomes) for orphaned runs, in one step with the verdict: only the runs
        whose worker is still dead (as orphans() judges it) are finished; returns those.

        The default suits a store without I/O (nothing runs between the two calls);
        shared stores do both in one transaction / script.

        Blocks the event loop on SQLite (one transaction); Redis awaits; memory does no I/O.
        """
        dead = {job.id for job in await self.orphans(now, dead_after)}
        return await self.finish([o for o in outcomes if o.job_id in dead], now)

    # -- processes started by jobs (crash cleanup) ----------------------------------------

    @abstractmethod
    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        """Record (or with None forget) the process group a job's current attempt started.

        A process whose token is not the job's current one is not recorded; None forgets
        only a record of an attempt that is no longer current.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    @abstractmethod
    async def job_process(self, job_id: int) -> JobProcess | None:
        """The process group recorded for a job, if any.

        Blocks the event loop on SQLite (each statement; lock waits are awaited);
        MemoryStore does no I/O; Redis awaits and does not block.
        """

    # -- schedules (store/schedules_*.py hold each backend's part) ---------------------

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        """Store a schedule with its state; ScheduleExists if the name is taken (with
        if_absent: False instead, nothing changed). True when added."""
        raise NotImplementedError(f"{type(self).__name__} has no schedules")

    async def schedules(self) -> list[Schedule]:
        """Every schedule, by name."""
        raise NotImplementedError(f"{type(self).__name__} has no schedules")

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        """Pause or resume a schedule (resuming sets its next_run); UnknownSchedule."""
        raise NotImplementedError(f"{type(self).__name__} has no schedules")

    async def remove_schedule(self, name: str) -> Schedule:
        """Delete a schedule and return it as it was (add_schedule brings it back)."""
        raise NotImplementedError(f"{type(self).__name__} has no schedules")

    async def fire_schedule(self, fire: Fire, job: NewJob | None, now: float) -> list[Job] | None:
        """One atomic step of a schedule: only while its next_run is fire.expected (and it
        is not paused) move it to fire.next_run and add `job` (recording fire.origin as the
        job's origin); None when another worker took the slot first. A manual fire
        (expected None) leaves next_run alone; UnknownSchedule if the schedule is gone."""
        raise NotImplementedError(f"{type(self).__name__} has no schedules")

    async def job_origin(self, job_id: int) -> Origin | None:
        """Which schedule and slot made a job (None: it was submitted)."""
        return None

    # -- presets (store/presets_*.py hold each backend's part) -------------------------

    _presets: PresetShelf | None = None
    """The collaborator that keeps this store's presets (set by each store that has them)."""

    def _shelf(self) -> PresetShelf:
        if self._presets is None:
            raise NotImplementedError(f"{type(self).__name__} has no presets")
        return self._presets

    async def save_preset(self, preset: Preset, *, replace: bool = False) -> Preset:
        """Store a preset under its name: PresetExists if the name is taken, unless replace
        (then it is overwritten in one step, keeping its created_at). Returns it as stored."""
        return await self._shelf().save_preset(preset, replace=replace)

    async def presets(self, type: str | None = None) -> list[Preset]:
        """Every preset (with type: only that job type's), by name."""
        return await self._shelf().presets(type)

    async def preset(self, name: str) -> Preset | None:
        """One preset by name (None: there is none)."""
        return await self._shelf().preset(name)

    async def remove_preset(self, name: str) -> Preset:
        """Delete a preset and return it as it was; UnknownPreset if there is none."""
        return await self._shelf().remove_preset(name)
