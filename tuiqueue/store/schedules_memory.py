"""Schedules kept in memory: MemoryStore's part of the schedule interface."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.schedule import (
    Fire,
    Origin,
    Schedule,
    ScheduleExists,
    UnknownSchedule,
)
from tuiqueue.store.base import ORIGINS_KEPT as ORIGINS_KEPT


class MemorySchedules:
    """Schedules by name and the origins of the jobs they made."""

    def __init__(self, add: Callable[[Sequence[NewJob], float], Awaitable[list[Job]]]) -> None:
        self._add = add
        self._by_name: dict[str, Schedule] = {}
        self._origins: dict[int, Origin] = {}
        self._made: dict[str, list[int]] = {}

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        """See Store.add_schedule."""
        if schedule.name in self._by_name:
            if if_absent:
                return False
            raise ScheduleExists(schedule.name)
        self._by_name[schedule.name] = schedule
        return True

    async def schedules(self) -> list[Schedule]:
        """See Store.schedules."""
        return [self._by_name[name] for name in sorted(self._by_name)]

    def _get(self, name: str) -> Schedule:
        try:
            return self._by_name[name]
        except KeyError:
            raise UnknownSchedule(name) from None

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        """See Store.set_schedule_paused."""
        old = self._get(name)
        new = old.with_state(paused=paused, next_run=old.next_run if paused else next_run)
        self._by_name[name] = new
        return new

    async def remove_schedule(self, name: str) -> Schedule:
        """See Store.remove_schedule."""
        old = self._get(name)
        del self._by_name[name]
        return old

    async def fire_schedule(self, fire: Fire, job: NewJob | None, now: float) -> list[Job] | None:
        """See Store.fire_schedule (nothing awaits in between: atomic in this process)."""
        old = self._by_name.get(fire.name)
        if fire.expected is not None:
            if old is None or old.paused or old.next_run != fire.expected:
                return None
        elif old is None:
            raise UnknownSchedule(fire.name)
        state: dict[str, object] = {}
        if fire.expected is not None:
            state["next_run"] = fire.next_run
        added: list[Job] = []
        if job is not None:
            added = await self._add([job], now)
        if fire.origin is not None:
            state["last_run"] = fire.origin.slot
        if added and fire.origin is not None:
            state["last_job"] = added[0].id
            self._origins[added[0].id] = fire.origin
            made = self._made.setdefault(fire.name, [])
            made.append(added[0].id)
            if len(made) > ORIGINS_KEPT:
                for gone in made[:-ORIGINS_KEPT]:
                    self._origins.pop(gone, None)
                del made[:-ORIGINS_KEPT]
        state["last_note"] = fire.note
        if fire.origin is None and fire.expected is not None:
            state["last_run"] = fire.expected
        self._by_name[fire.name] = old.with_state(**state)
        return added

    async def job_origin(self, job_id: int) -> Origin | None:
        """See Store.job_origin."""
        return self._origins.get(job_id)
