"""Schedules: a job made again and again on a cron expression or an interval, and the
arithmetic of their slots (when the next run is due, what a gap in firing means)."""

from __future__ import annotations

import datetime as dt
import math
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.status import Priority
from tuiqueue.core.text import quote

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

# zoneinfo is imported where a zone is read: only cron schedules need one, and the
# dashboard and the worker import this module at start whether or not any schedule exists.

SKIP = "skip"
"""After a gap, the missed slots are dropped: the next run is at the next slot."""
CATCH_UP = "catch-up"
"""After a gap, one run stands for every missed slot (never a burst)."""
MISSED_POLICIES = (SKIP, CATCH_UP)

MIN_EVERY = 1.0
"""The shortest interval: one second."""
MAX_EVERY = 366 * 86_400.0

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$")


class ScheduleError(ValueError):
    """A schedule's definition is wrong; the message is one line saying what."""


class UnknownSchedule(LookupError):
    """No schedule has that name."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no schedule named {quote(name)} (see `tuiqueue schedule list`)")
        self.name = name


class ScheduleExists(ValueError):
    """A schedule of that name exists already."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"a schedule named {quote(name)} exists already (remove it first, or pick a name)"
        )
        self.name = name


# -- parsing ------------------------------------------------------------------------------

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86_400.0, "w": 604_800.0}
_DURATION_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")


def parse_every(text: str) -> float:
    """Seconds in an interval like "30s", "5m", "1h30m", "2d" (ScheduleError if not one)."""
    raw = text.strip().lower()
    pos, total = 0, 0.0
    for match in _DURATION_RE.finditer(raw):
        if raw[pos : match.start()].strip():
            break
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if not raw or pos != len(raw) or raw[pos:].strip():
        raise ScheduleError(
            f"every {quote(text)}: give a duration like 30s, 5m, 1h or 1h30m "
            "(s, m, h, d or w after each number)"
        )
    if not MIN_EVERY <= total <= MAX_EVERY:
        raise ScheduleError(f"every {quote(text)}: must be from 1s to 366d")
    return total


def format_every(seconds: float) -> str:
    """An interval as the shortest text parse_every reads back: 90 -> "1m30s"."""
    left = round(seconds)
    parts = []
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size:
            parts.append(f"{left // size}{unit}")
            left %= size
    return "".join(parts) or "0s"


_FIELDS = (
    ("second", 0, 59),
    ("minute", 0, 59),
    ("hour", 0, 23),
    ("day of month", 1, 31),
    ("month", 1, 12),
    ("day of week", 0, 7),
)
_NAMES = {
    "month": {
        m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), 1)
    },
    "day of week": {d: i for i, d in enumerate("sun mon tue wed thu fri sat".split())},
}


def _check_field(expr: str, name: str, lo: int, hi: int, text: str) -> None:
    names = _NAMES.get(name, {})
    for part in text.split(","):
        base, _, step = part.partition("/")
        if step and not (step.isdigit() and int(step) > 0):
            raise ScheduleError(f"cron {quote(expr)}: {name} step must be a whole number above 0")
        if base in ("*", "?") or (name in ("day of month", "day of week") and "L" in base.upper()):
            continue
        for end in base.split("-", 1):
            value = names.get(end.lower()) if not end.isdigit() else int(end)
            if value is None:
                raise ScheduleError(
                    f"cron {quote(expr)}: {name} {quote(end)} is not a number"
                    + (f" or a name ({', '.join(names)})" if names else "")
                )
            if not lo <= value <= hi:
                raise ScheduleError(f"cron {quote(expr)}: {name} must be {lo}-{hi}")


def croniter(expr: str, start: Any = None, **kw: Any) -> Any:
    """croniter, imported on first use (the CLI's start-up does not pay for it)."""
    from croniter import croniter as make  # type: ignore[import-untyped]

    return make(expr, start, **kw)


def check_cron(expr: str) -> str:
    """The expression, normalised (single spaces), if croniter and the ranges accept it.

    Five fields (minute hour day month weekday) or six with seconds first."""
    fields = expr.split()
    if len(fields) not in (5, 6):
        raise ScheduleError(
            f"cron {quote(expr)}: needs 5 fields (minute hour day month weekday) "
            f"or 6 with seconds first, not {len(fields)}"
        )
    spec = _FIELDS if len(fields) == 6 else _FIELDS[1:]
    for text, (name, lo, hi) in zip(fields, spec, strict=True):
        _check_field(expr, name, lo, hi, text)
    clean = " ".join(fields)
    try:
        croniter(clean, second_at_beginning=True)
    except (ValueError, KeyError) as exc:
        raise ScheduleError(f"cron {quote(expr)}: {exc}") from None
    return clean


def local_zone() -> str:
    """This machine's time zone name (TZ, /etc/timezone or /etc/localtime), else "UTC"."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        candidates.append(Path("/etc/timezone").read_text(encoding="utf-8").strip())
    except OSError:
        pass
    try:
        target = str(Path("/etc/localtime").resolve())
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    for name in candidates:
        if name:
            try:
                ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                continue
            return name
    return "UTC"


def check_zone(name: str) -> str:
    """A valid IANA zone name ("" means this machine's zone)."""
    if not name:
        return local_zone()
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError(
            f"time zone {quote(name)} is unknown (use a name like Europe/Berlin or UTC)"
        ) from None
    return name


# -- the record ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Origin:
    """Which schedule made a job, for which slot, and how ("slot", "catch-up", "manual")."""

    schedule: str
    slot: float
    kind: str = "slot"
    missed: int = 0
    """With kind "catch-up": how many slots this one run stands for."""

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape (`tuiqueue show --json` "schedule")."""
        return {
            "schedule": self.schedule,
            "slot": self.slot,
            "kind": self.kind,
            "missed": self.missed,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Origin:
        """Read to_dict() back."""
        return cls(
            str(data["schedule"]), float(data["slot"]), str(data["kind"]), int(data["missed"])
        )


@dataclass(frozen=True, slots=True)
class Schedule:
    """A named schedule: what job to make, when, and its firing state."""

    name: str
    type: str
    params: dict[str, Any] = field(default_factory=dict)
    priority: Priority = Priority.NORMAL
    queue: str = DEFAULT_QUEUE
    cron: str | None = None
    every: float | None = None
    tz: str = "UTC"
    paused: bool = False
    missed: str = SKIP
    overlap: bool = True
    """False (--no-overlap): a slot is skipped while the previous run is unfinished."""
    created_at: float = 0.0
    next_run: float | None = None
    last_run: float | None = None
    last_job: int | None = None
    last_note: str = ""
    """Why the last slot made no job ("skipped: ..."), else empty."""
    from_code: bool = False
    """Declared on a job type (@job_type(every=...)), created by the first worker."""

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise ScheduleError(
                f"schedule name {quote(self.name)}: use letters, digits and _ . : - "
                "(up to 100, starting with a letter or digit)"
            )
        if (self.cron is None) == (self.every is None):
            raise ScheduleError("give a schedule either a cron expression or an interval")
        if self.missed not in MISSED_POLICIES:
            raise ScheduleError(
                f"missed-run policy must be skip or catch-up, not {quote(self.missed)}"
            )

    @property
    def when(self) -> str:
        """The definition as typed: "cron */5 * * * *" or "every 30s"."""
        return (
            f"cron {self.cron}"
            if self.cron is not None
            else f"every {format_every(self.every or 0)}"
        )

    @property
    def words(self) -> str:
        """The definition in words: "every 5 minutes"."""
        if self.every is not None:
            return describe_every(self.every)
        return describe_cron(self.cron or "")

    def zone(self) -> ZoneInfo:
        """The zone its cron expression is read in."""
        from zoneinfo import ZoneInfo

        return ZoneInfo(self.tz)

    def slot_after(self, t: float) -> float:
        """The first slot strictly after time t."""
        if self.every is not None:
            k = math.floor((t - self.created_at) / self.every) + 1
            return self.created_at + max(k, 1) * self.every
        zone = self.zone()
        it = croniter(self.cron or "", dt.datetime.fromtimestamp(t, zone), second_at_beginning=True)
        nxt = float(it.get_next(float))
        while nxt <= t or (self._fixed_hours() and dt.datetime.fromtimestamp(nxt, zone).fold):
            # A clock set back repeats an hour: a job at fixed hours runs in the first of
            # the two (once a day), one at every hour runs in both (each is a real hour).
            nxt = float(it.get_next(float))
        return nxt

    def _fixed_hours(self) -> bool:
        fields = (self.cron or "").split()
        hour = fields[-4] if len(fields) >= 5 else "*"
        return "*" not in hour and "/" not in hour

    def slot_at_or_before(self, t: float) -> float | None:
        """The newest slot at or before t (None before the first one)."""
        if self.every is not None:
            k = math.floor((t - self.created_at) / self.every)
            return self.created_at + k * self.every if k >= 1 else None
        start = dt.datetime.fromtimestamp(t, self.zone())
        prev = float(croniter(self.cron or "", start, second_at_beginning=True).get_prev(float))
        return t if self.slot_after(prev) == t else prev

    def grace(self, slot: float) -> float:
        """Seconds a slot may be late and still run as itself: one period, from 2 s to 60 s."""
        return min(60.0, max(2.0, self.slot_after(slot) - slot))

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        """The JSON shape of `tuiqueue schedule list --json`."""
        out = {
            "name": self.name,
            "type": self.type,
            "params": self.params,
            "priority": str(self.priority),
            "queue": self.queue,
            "cron": self.cron,
            "every": self.every,
            "when": self.words,
            "tz": self.tz,
            "paused": self.paused,
            "missed": self.missed,
            "overlap": self.overlap,
            "created_at": self.created_at,
            "next_run": None if self.paused else self.next_run,
            "last_run": self.last_run,
            "last_job": self.last_job,
            "last_note": self.last_note,
            "from_code": self.from_code,
        }
        return out

    def spec(self) -> dict[str, Any]:
        """Its definition (not its firing state), as JSON-safe values for a store."""
        return {
            "name": self.name,
            "type": self.type,
            "params": self.params,
            "priority": int(self.priority),
            "queue": self.queue,
            "cron": self.cron,
            "every": self.every,
            "tz": self.tz,
            "missed": self.missed,
            "overlap": self.overlap,
            "created_at": self.created_at,
            "from_code": self.from_code,
        }

    @classmethod
    def from_spec(cls, spec: dict[str, Any], **state: Any) -> Schedule:
        """spec() read back, with its firing state (paused, next_run, last_*...)."""
        return cls(
            name=str(spec["name"]),
            type=str(spec["type"]),
            params=dict(spec.get("params") or {}),
            priority=Priority(int(spec.get("priority", int(Priority.NORMAL)))),
            queue=str(spec.get("queue", DEFAULT_QUEUE)),
            cron=spec.get("cron"),
            every=None if spec.get("every") is None else float(spec["every"]),
            tz=str(spec.get("tz", "UTC")),
            missed=str(spec.get("missed", SKIP)),
            overlap=bool(spec.get("overlap", True)),
            created_at=float(spec.get("created_at", 0.0)),
            from_code=bool(spec.get("from_code", False)),
            **state,
        )

    def with_state(self, **changes: Any) -> Schedule:
        """A copy with some firing state changed."""
        return replace(self, **changes)


def make_schedule(
    name: str,
    type: str,
    params: dict[str, Any],
    *,
    cron: str | None = None,
    every: str | float | None = None,
    tz: str = "",
    priority: Priority = Priority.NORMAL,
    queue: str = DEFAULT_QUEUE,
    missed: str = SKIP,
    overlap: bool = True,
    paused: bool = False,
    now: float,
    from_code: bool = False,
) -> Schedule:
    """A new, checked schedule whose first run is its first slot after now."""
    if (cron is None) == (every is None):
        raise ScheduleError("give either a cron expression or an interval (--cron or --every)")
    seconds = None
    if every is not None:
        seconds = parse_every(every) if isinstance(every, str) else float(every)
        if not MIN_EVERY <= seconds <= MAX_EVERY:
            raise ScheduleError(f"every {seconds:g}s: must be from 1s to 366d")
    schedule = Schedule(
        name=name,
        type=type,
        params=dict(params),
        priority=priority,
        queue=queue,
        cron=None if cron is None else check_cron(cron),
        every=seconds,
        tz=check_zone(tz),
        paused=paused,
        missed=missed,
        overlap=overlap,
        created_at=float(math.floor(now)),
        from_code=from_code,
    )
    return schedule.with_state(next_run=schedule.slot_after(now))


# -- firing ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Fire:
    """One step of a schedule: move next_run from `expected` to `next_run`, making a job
    for `origin` (None: the slot made no job, `note` says why). A store does it only while
    next_run is still `expected` (so each slot fires once however many workers try);
    `expected` None is a manual run, which leaves next_run alone."""

    name: str
    expected: float | None
    next_run: float | None
    origin: Origin | None
    note: str = ""


def plan(schedule: Schedule, now: float) -> Fire | None:
    """What to do about a schedule at time now (None: nothing is due).

    A slot reached within its grace runs as itself. Slots older than that were missed (the
    workers were down): `skip` drops them, `catch-up` makes one run stand for them all."""
    slot = schedule.next_run
    if schedule.paused or slot is None or slot > now:
        return None
    if now - slot <= schedule.grace(slot):
        return Fire(schedule.name, slot, schedule.slot_after(slot), Origin(schedule.name, slot))
    latest = schedule.slot_at_or_before(now) or slot
    in_grace = now - latest <= schedule.grace(latest)
    if schedule.missed == CATCH_UP:
        missed = count_slots(schedule, slot, latest)
        origin = Origin(schedule.name, latest, "catch-up", missed)
        return Fire(schedule.name, slot, schedule.slot_after(now), origin)
    if in_grace:
        return Fire(schedule.name, slot, schedule.slot_after(latest), Origin(schedule.name, latest))
    return Fire(
        schedule.name, slot, schedule.slot_after(now), None, "skipped: missed while no worker ran"
    )


COUNT_MAX = 10_000


def count_slots(schedule: Schedule, first: float, last: float) -> int:
    """Slots from first to last, both included (counted up to COUNT_MAX)."""
    if schedule.every is not None:
        return round((last - first) / schedule.every) + 1
    count, t = 1, first
    while t < last and count < COUNT_MAX:
        t = schedule.slot_after(t)
        count += 1
    return count


# -- words --------------------------------------------------------------------------------


def _plural(n: float, unit: str) -> str:
    return f"every {unit}" if n == 1 else f"every {n:g} {unit}s"


def describe_every(seconds: float) -> str:
    """An interval in words: "every 30 seconds", "every 2 hours"."""
    for unit, size in (("day", 86_400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            return _plural(seconds / size, unit)
    if seconds >= 60:
        return f"every {format_every(seconds)}"
    return _plural(seconds, "second")


_DOW = "Sunday Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def describe_cron(expr: str) -> str:
    """A cron expression in words for the common shapes; the expression itself otherwise."""
    fields = expr.split()
    sec = "0"
    if len(fields) == 6:
        sec, fields = fields[0], fields[1:]
    if len(fields) != 5:
        return expr
    minute, hour, dom, month, dow = fields
    plain_days = dom == "*" and month == "*"
    if sec != "0":
        if sec == "*" and fields == ["*"] * 5:
            return "every second"
        if sec.startswith("*/") and fields == ["*"] * 5:
            return _plural(int(sec[2:]), "second")
        return f"cron {expr}"
    if plain_days and dow == "*":
        if minute == "*" and hour == "*":
            return "every minute"
        if minute.startswith("*/") and hour == "*" and minute[2:].isdigit():
            return _plural(int(minute[2:]), "minute")
        if minute.isdigit() and hour == "*":
            return f"every hour at minute {int(minute)}"
        if minute.isdigit() and hour.startswith("*/") and hour[2:].isdigit():
            return f"{_plural(int(hour[2:]), 'hour')} at minute {int(minute)}"
    if minute.isdigit() and hour.isdigit():
        at = f"at {int(hour):02d}:{int(minute):02d}"
        if plain_days and dow == "*":
            return f"{at} every day"
        if plain_days and dow == "1-5":
            return f"{at} on weekdays"
        if plain_days and dow.isdigit() and int(dow) <= 7:
            return f"{at} every {_DOW[int(dow)]}"
        if dom.isdigit() and month == "*" and dow == "*":
            return f"{at} on day {int(dom)} of every month"
    return f"cron {expr}"
