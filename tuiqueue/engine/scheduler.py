"""The Scheduler: makes the jobs of due schedules, once per slot across every worker."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import anyio

from tuiqueue.core import logs
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.queues import DEFAULT_QUEUE, check_queue_name
from tuiqueue.core.registry import Registry
from tuiqueue.core.schedule import (
    SKIP,
    Fire,
    Origin,
    Schedule,
    UnknownSchedule,
    make_schedule,
    plan,
)
from tuiqueue.core.status import UNFINISHED, Priority
from tuiqueue.store.base import Store, StoreError

logger = logs.logger(__name__)

POLL = 1.0
"""Seconds at most between two looks at the schedules (others may add or change some)."""
STEPS_MAX = 100
"""Slots of one schedule fired in one pass at most (the rest wait for the next pass)."""


class Scheduler:
    """Fires due schedules through the store's atomic step; creates, lists and steers them."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Callable[[], float],
        made: Callable[[list[Job]], None],
        report: Callable[[str], Awaitable[None]],
    ) -> None:
        self.store = store
        self.registry = registry
        self.clock = clock
        self._made = made
        """Called with the jobs a fire made (the engine publishes them and wakes up)."""
        self._report = report

    # -- firing ---------------------------------------------------------------------------

    async def run(self) -> None:
        """Create the job types' default schedules, then fire due schedules until
        cancelled, waking at the next slot (or after POLL)."""
        try:
            await self.ensure_defaults()
        except NotImplementedError:  # a store without schedules: nothing to fire, ever
            logger.info("%s keeps no schedules; none are fired", type(self.store).__name__)
            return
        except StoreError as exc:
            logger.warning("default schedules not created: %s", exc)
            await self._report(f"default schedules not created: {exc}")
        while True:
            now = self.clock()
            try:
                due = await self.tick(now)
            except StoreError as exc:  # the next pass tries again
                logger.warning("schedules not fired: %s", exc)
                await self._report(f"schedules not fired: {exc}")
                due = None
            wait = POLL if due is None else min(POLL, max(0.02, due - self.clock()))
            await anyio.sleep(wait)

    async def tick(self, now: float | None = None) -> float | None:
        """Fire every schedule due at now (each slot once, whoever else fires);
        returns the earliest next run left, if any."""
        now = self.clock() if now is None else now
        earliest: float | None = None
        for schedule in await self.store.schedules():
            current: Schedule | None = schedule
            for _ in range(STEPS_MAX):
                if current is None:
                    break
                fire = plan(current, now)
                if fire is None:
                    break
                current = await self._fire(current, fire, now)
            if current is not None and not current.paused and current.next_run is not None:
                if earliest is None or current.next_run < earliest:
                    earliest = current.next_run
        return earliest

    async def _fire(self, schedule: Schedule, fire: Fire, now: float) -> Schedule | None:
        """One step; the schedule as it is after it (None: another worker took the slot)."""
        if fire.origin is not None and not schedule.overlap and schedule.last_job is not None:
            previous = await self.store.get(schedule.last_job)
            if previous is not None and previous.status in UNFINISHED:
                note = f"skipped: the previous run (job {previous.id}) is still {previous.status}"
                fire = Fire(fire.name, fire.expected, fire.next_run, None, note)
        job = None if fire.origin is None else self._job(schedule)
        made = await self.store.fire_schedule(fire, job, now)
        if made is None:
            return None
        if made:
            logger.info("schedule %s made job %s", schedule.name, made[0].id)
            self._made(made)
        return schedule.with_state(
            next_run=fire.next_run,
            last_run=fire.origin.slot if fire.origin is not None else fire.expected,
            last_job=made[0].id if made else schedule.last_job,
            last_note=fire.note,
        )

    def _job(self, schedule: Schedule) -> NewJob:
        """The job a schedule makes (its params were checked when it was created; a worker
        that does not know its type still makes it, for the workers that do)."""
        attempts = 1
        if schedule.type in self.registry:
            attempts = self.registry.get(schedule.type).max_attempts
        return NewJob(
            type=schedule.type,
            params=dict(schedule.params),
            priority=schedule.priority,
            queue=schedule.queue,
            max_attempts=attempts,
        )

    async def run_now(self, name: str) -> Job:
        """Make a schedule's job now (`schedule run`); its slots stay as they were."""
        schedule = await self.get(name)
        now = self.clock()
        fire = Fire(name, None, None, Origin(name, now, "manual"))
        made = await self.store.fire_schedule(fire, self._job(schedule), now)
        assert made, "a manual fire always makes its job"
        self._made(made)
        return made[0]

    # -- definitions ----------------------------------------------------------------------

    def define(
        self,
        name: str,
        type: str,
        params: Mapping[str, Any] | None = None,
        *,
        cron: str | None = None,
        every: str | float | None = None,
        tz: str = "",
        priority: Priority | str | int = Priority.NORMAL,
        queue: str = DEFAULT_QUEUE,
        missed: str = SKIP,
        overlap: bool = True,
        paused: bool = False,
        from_code: bool = False,
    ) -> Schedule:
        """A checked new schedule (ScheduleError, UnknownJobType, ValidationError)."""
        kind = self.registry.get(type)
        clean = kind.schema.validate(params or {}, type)
        return make_schedule(
            name,
            type,
            clean,
            cron=cron,
            every=every,
            tz=tz,
            priority=Priority.parse(priority),
            queue=check_queue_name(queue),
            missed=missed,
            overlap=overlap,
            paused=paused,
            now=self.clock(),
            from_code=from_code,
        )

    async def ensure_defaults(self) -> int:
        """Create the schedules job types declare in code (@job_type(every=...)) that the
        store does not have yet (one per type, named after it); returns how many."""
        created = 0
        for kind in self.registry:
            if kind.every is None and kind.cron is None:
                continue
            schedule = self.define(
                kind.name, kind.name, cron=kind.cron, every=kind.every, from_code=True
            )
            if await self.store.add_schedule(schedule, if_absent=True):
                logger.info("created the default schedule of job type %s", kind.name)
                created += 1
        return created

    async def get(self, name: str) -> Schedule:
        """The schedule of that name, or UnknownSchedule."""
        for schedule in await self.store.schedules():
            if schedule.name == name:
                return schedule
        raise UnknownSchedule(name)

    async def resume(self, name: str) -> Schedule:
        """Resume a paused schedule: its next run is its next slot from now."""
        schedule = await self.get(name)
        return await self.store.set_schedule_paused(name, False, schedule.slot_after(self.clock()))

    async def outcomes(self, schedules: list[Schedule]) -> dict[str, str]:
        """Per schedule, how its last slot went: the last job's status ("completed",
        "running"...), "deleted", the note of a skipped slot, or "" before the first."""
        out = {}
        for schedule in schedules:
            if schedule.last_note:
                out[schedule.name] = schedule.last_note
            elif schedule.last_job is not None:
                job = await self.store.get(schedule.last_job)
                out[schedule.name] = str(job.status) if job is not None else "deleted"
            else:
                out[schedule.name] = ""
        return out
