"""Schedules driven by a fake clock: cron and interval slots, DST, missed runs, overlap."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import make_registry
from tuiqueue.core.params import ValidationError
from tuiqueue.core.registry import Registry
from tuiqueue.core.schedule import (
    Schedule,
    ScheduleError,
    ScheduleExists,
    UnknownSchedule,
    check_cron,
    describe_cron,
    describe_every,
    parse_every,
)
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store.memory import MemoryStore

pytestmark = pytest.mark.anyio

BERLIN = ZoneInfo("Europe/Berlin")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def at(*parts: int, tz: ZoneInfo = BERLIN) -> float:
    """A wall-clock time in a zone, as a timestamp."""
    return dt.datetime(*parts, tzinfo=tz).timestamp()  # type: ignore[misc]


def berlin(t: float) -> str:
    return dt.datetime.fromtimestamp(t, BERLIN).strftime("%m-%d %H:%M %Z")


def engine_at(now: float, registry: Registry | None = None) -> tuple[Engine, Clock]:
    clock = Clock(now)
    return Engine(MemoryStore(), registry=registry or make_registry(), clock=clock), clock


async def slots(engine: Engine, name: str) -> list[float]:
    """The slots of the jobs a schedule made, oldest first."""
    out = []
    for job in reversed(await engine.list(limit=1000)):
        origin = await engine.job_origin(job.id)
        if origin is not None and origin.schedule == name:
            out.append(origin.slot)
    return out


# -- parsing and words ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "cron '61 * * * *': minute must be 0-59"),
        ("* 24 * * *", "cron '* 24 * * *': hour must be 0-23"),
        ("* * 0 * *", "cron '* * 0 * *': day of month must be 1-31"),
        ("* * * 13 *", "cron '* * * 13 *': month must be 1-12"),
        ("* * * * 8", "cron '* * * * 8': day of week must be 0-7"),
        ("60 * * * * *", "cron '60 * * * * *': second must be 0-59"),
        ("*/0 * * * *", "cron '*/0 * * * *': minute step must be a whole number above 0"),
        (
            "* * *",
            "cron '* * *': needs 5 fields (minute hour day month weekday) or 6 with "
            "seconds first, not 3",
        ),
    ],
)
def test_bad_cron_expressions_say_what_is_wrong_in_one_line(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        check_cron(expr)
    assert str(caught.value) == message


def test_intervals_and_words() -> None:
    assert parse_every("30s") == 30
    assert parse_every("1h") == 3600
    assert parse_every("1h30m") == 5400
    for bad in ("30", "1x", "0s", "", "-5s"):
        with pytest.raises(ScheduleError):
            parse_every(bad)
    assert describe_every(300) == "every 5 minutes"
    assert describe_every(1) == "every second"
    assert describe_cron("*/5 * * * *") == "every 5 minutes"
    assert describe_cron("0 9 * * 1-5") == "at 09:00 on weekdays"
    assert describe_cron("30 2 * * *") == "at 02:30 every day"
    assert describe_cron("*/10 * * * * *") == "every 10 seconds"


# -- slots ------------------------------------------------------------------------------


async def test_interval_slots_fire_once_each() -> None:
    engine, clock = engine_at(1_000_000.0)
    made = await engine.schedule("tick", "sleep", {"seconds": 0}, every="30s")
    assert made.next_run == 1_000_030.0
    await engine.scheduler.tick()
    assert await slots(engine, "tick") == []
    for step in range(1, 5):
        clock.now = 1_000_000.0 + 30 * step + 0.3
        await engine.scheduler.tick()
        await engine.scheduler.tick()  # a second pass finds nothing more to do
    assert await slots(engine, "tick") == [1_000_000.0 + 30 * k for k in range(1, 5)]


async def test_cron_slots_in_a_named_zone_across_both_dst_changes() -> None:
    # Europe/Berlin: clocks go forward 2026-03-29 02:00 -> 03:00, back 2026-10-25 03:00 -> 02:00
    engine, clock = engine_at(at(2026, 3, 27, 12, 0))
    await engine.schedule("night", "sleep", {"seconds": 0}, cron="30 2 * * *", tz="Europe/Berlin")
    await engine.schedule("hourly", "sleep", {"seconds": 0}, cron="30 * * * *", tz="Europe/Berlin")
    clock.now = at(2026, 3, 27, 23, 59)
    await engine.scheduler.tick()  # (hourly's slots are long missed: skipped)
    night = (await engine.scheduler.get("night")).next_run
    fired = []
    while night is not None and night < at(2026, 3, 31, 0, 0):
        clock.now = night + 0.5
        await engine.scheduler.tick()
        fired.append(berlin(night))
        night = (await engine.scheduler.get("night")).next_run
    # The 29th has no 02:30: that day's run is at 03:00, the first minute that exists.
    assert fired == ["03-28 02:30 CET", "03-29 03:00 CEST", "03-30 02:30 CEST"]
    assert [berlin(s) for s in await slots(engine, "night")] == fired

    engine, clock = engine_at(at(2026, 10, 24, 12, 0))
    await engine.schedule("night", "sleep", {"seconds": 0}, cron="30 2 * * *", tz="Europe/Berlin")
    await engine.schedule("hourly", "sleep", {"seconds": 0}, cron="30 * * * *", tz="Europe/Berlin")
    clock.now = at(2026, 10, 25, 0, 0)
    await engine.scheduler.tick()
    step = 60.0
    while clock.now < at(2026, 10, 26, 4, 0):
        clock.now += step
        await engine.scheduler.tick()
    # The repeated hour: a daily 02:30 runs once, an hourly :30 runs in both 02:30s.
    night_slots = [berlin(s) for s in await slots(engine, "night")]
    assert night_slots == ["10-25 02:30 CEST", "10-26 02:30 CET"]
    hourly = [berlin(s) for s in await slots(engine, "hourly")]
    assert hourly[:5] == [
        "10-25 00:30 CEST",
        "10-25 01:30 CEST",
        "10-25 02:30 CEST",
        "10-25 02:30 CET",
        "10-25 03:30 CET",
    ]
    assert len(hourly) == len(set(await slots(engine, "hourly")))


async def test_seconds_field_cron() -> None:
    engine, clock = engine_at(1_000_000.0)
    await engine.schedule("s", "sleep", {"seconds": 0}, cron="*/10 * * * * *", tz="UTC")
    for t in range(1_000_001, 1_000_041):
        clock.now = float(t)
        await engine.scheduler.tick()
    assert await slots(engine, "s") == [1_000_010.0, 1_000_020.0, 1_000_030.0, 1_000_040.0]


# -- missed runs --------------------------------------------------------------------------


async def test_skip_drops_missed_slots_and_runs_at_the_next_one() -> None:
    engine, clock = engine_at(1_000_000.0)
    await engine.schedule("hourly", "sleep", {"seconds": 0}, every="1h")
    clock.now = 1_000_000.0 + 3600 + 1
    await engine.scheduler.tick()
    assert await slots(engine, "hourly") == [1_003_600.0]
    clock.now = 1_000_000.0 + 5.5 * 3600  # down for four and a half hours
    await engine.scheduler.tick()
    assert await slots(engine, "hourly") == [1_003_600.0]  # nothing now...
    schedule = await engine.scheduler.get("hourly")
    assert schedule.next_run == 1_000_000.0 + 6 * 3600
    assert "skipped" in (await engine.schedule_outcomes([schedule]))["hourly"]
    clock.now = 1_000_000.0 + 6 * 3600 + 1
    await engine.scheduler.tick()  # ...one run at the next slot
    assert await slots(engine, "hourly") == [1_003_600.0, 1_000_000.0 + 6 * 3600]


async def test_catch_up_makes_one_run_for_all_missed_slots() -> None:
    engine, clock = engine_at(1_000_000.0)
    await engine.schedule("hourly", "sleep", {"seconds": 0}, every="1h", missed="catch-up")
    clock.now = 1_000_000.0 + 5.5 * 3600
    await engine.scheduler.tick()
    await engine.scheduler.tick()
    jobs = await engine.list()
    assert len(jobs) == 1  # never a burst
    origin = await engine.job_origin(jobs[0].id)
    assert origin is not None
    assert (origin.kind, origin.missed, origin.slot) == ("catch-up", 5, 1_000_000.0 + 5 * 3600)
    assert (await engine.scheduler.get("hourly")).next_run == 1_000_000.0 + 6 * 3600


# -- overlap, pause, run now ------------------------------------------------------------


async def test_no_overlap_skips_a_slot_while_the_previous_run_is_unfinished() -> None:
    engine, clock = engine_at(1_000_000.0)
    await engine.schedule("busy", "sleep", {"seconds": 0}, every="1m", overlap=False)
    await engine.schedule("free", "sleep", {"seconds": 0}, every="1m")
    clock.now = 1_000_060.5
    await engine.scheduler.tick()
    clock.now = 1_000_120.5  # the first runs are still pending (no worker)
    await engine.scheduler.tick()
    assert len(await slots(engine, "busy")) == 1
    assert len(await slots(engine, "free")) == 2
    busy = await engine.scheduler.get("busy")
    note = (await engine.schedule_outcomes([busy]))["busy"]
    assert note.startswith("skipped: the previous run (job 1) is still pending")
    # once it has finished, the next slot runs again
    await engine.cancel(1)
    clock.now = 1_000_180.5
    await engine.scheduler.tick()
    assert await slots(engine, "busy") == [1_000_060.0, 1_000_180.0]


async def test_a_paused_schedule_fires_nothing_and_resumes_at_its_next_slot() -> None:
    engine, clock = engine_at(1_000_000.0)
    await engine.schedule("tick", "sleep", {"seconds": 0}, every="10s", paused=True)
    for t in range(1_000_001, 1_000_100, 3):
        clock.now = float(t)
        await engine.scheduler.tick()
    assert await engine.list() == []
    clock.now = 1_000_100.0
    await engine.schedule("later", "sleep", {"seconds": 0}, every="10s")
    await engine.pause_schedule("later")
    clock.now = 1_000_200.0
    await engine.scheduler.tick()
    assert await engine.list() == []
    resumed = await engine.resume_schedule("later")
    assert resumed.next_run == 1_000_210.0
    clock.now = 1_000_210.5
    await engine.scheduler.tick()
    assert await slots(engine, "later") == [1_000_210.0]


async def test_run_now_fires_once_and_leaves_the_slots_alone() -> None:
    engine, _ = engine_at(1_000_000.0)
    await engine.schedule("tick", "sleep", {"seconds": 0}, every="1h")
    job = await engine.run_schedule("tick")
    assert [j.id for j in await engine.list()] == [job.id]
    origin = await engine.job_origin(job.id)
    assert origin is not None and origin.kind == "manual"
    assert (await engine.scheduler.get("tick")).next_run == 1_003_600.0
    with pytest.raises(UnknownSchedule):
        await engine.run_schedule("nope")


async def test_params_are_checked_as_submit_checks_them() -> None:
    engine, _ = engine_at(1_000_000.0)
    with pytest.raises(ValidationError):
        await engine.schedule("bad", "sleep", {"seconds": -1}, every="1h")
    with pytest.raises(ValidationError):
        await engine.schedule("bad", "sleep", {"nope": 1}, every="1h")
    with pytest.raises(ScheduleError):
        await engine.schedule("bad", "sleep", {}, every="1h", tz="Mars/Base")
    await engine.schedule("ok", "sleep", {}, every="1h")
    with pytest.raises(ScheduleExists):
        await engine.schedule("ok", "sleep", {}, every="2h")


async def test_a_job_type_declares_its_default_schedule_once() -> None:
    registry = make_registry()

    @registry.job_type("hourly_report", every="1h")
    async def hourly_report(ctx: object) -> None:
        """A type with a schedule in code."""

    store = MemoryStore()
    for _ in range(3):  # three workers start on the store
        engine = Engine(store, registry=registry, clock=lambda: 1_000_000.0)
        await engine.scheduler.ensure_defaults()
    found = await store.schedules()
    assert [(s.name, s.type, s.every, s.from_code) for s in found] == [
        ("hourly_report", "hourly_report", 3600.0, True)
    ]


async def test_a_worker_fires_due_schedules_while_it_runs() -> None:
    from tests.conftest import until

    store = MemoryStore()
    engine = Engine(store, registry=make_registry())
    await engine.schedule("tick", "sleep", {"seconds": 0}, every="1s")
    async with engine:
        await until(
            lambda: engine.list(statuses={Status.COMPLETED}), what="a scheduled job to complete"
        )


async def test_a_store_without_schedules_still_runs_jobs() -> None:
    """A store that does not implement schedules (a new backend) is not broken by them."""

    class NoSchedules(MemoryStore):
        async def schedules(self) -> list[Schedule]:
            raise NotImplementedError

        async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
            raise NotImplementedError

    registry = make_registry()

    @registry.job_type("hourly", every="1h")
    async def hourly(ctx: object) -> None:
        """Declares a schedule the store cannot keep."""

    engine = Engine(NoSchedules(), registry=registry)
    async with engine:
        job = await engine.submit("sleep", {"seconds": 0})
        assert (await engine.wait(job.id, timeout=10)).status is Status.COMPLETED
