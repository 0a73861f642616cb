"""Schedules in Redis: RedisStore's part of the schedule interface.

Keys (P is the prefix): P.."sc:"..name a hash per schedule (spec, paused, next_run,
last_run, last_job, last_note) listed in the P.."schedules" set; P.."origin" maps a job id
to the JSON of its Origin, and P.."so:"..name (the ids a schedule made) bounds it.
A slot fires in one Lua script, the ADD script with a check in front: only while the
schedule's next_run is still the one the worker read does it move on and add the job."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from redis.asyncio import Redis
from redis.commands.core import AsyncScript

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.schedule import Fire, Origin, Schedule, ScheduleExists, UnknownSchedule
from tuiqueue.core.status import Status
from tuiqueue.store import redis_lua
from tuiqueue.store.base import ORIGINS_KEPT
from tuiqueue.store.redis_codec import dumps, new_job_fields, num

_SEEN = "if seen then return cjson.decode(seen) end\n"
_DONE = "redis.call('SET', req, cjson.encode(out), 'EX', 90)\n"

FIRE = redis_lua.ADD.replace(
    _SEEN,
    _SEEN
    + """
-- ARGV[5] schedule name; ARGV[6] the next_run read ('' : a manual run); ARGV[7] the new
-- next_run ('' : none); ARGV[8] the origin JSON ('' : no job); ARGV[9] last_run; ARGV[10] note
local sk = P .. 'sc:' .. ARGV[5]
if redis.call('EXISTS', sk) == 0 then return {'gone'} end
if ARGV[6] ~= '' then
  local row = redis.call('HMGET', sk, 'paused', 'next_run')
  if row[1] == '1' or row[2] ~= ARGV[6] then return {'taken'} end
  if ARGV[7] == '' then redis.call('HDEL', sk, 'next_run')
  else redis.call('HSET', sk, 'next_run', ARGV[7]) end
end
redis.call('HSET', sk, 'last_note', ARGV[10])
if ARGV[9] ~= '' then redis.call('HSET', sk, 'last_run', ARGV[9]) end
""",
    1,
).replace(
    _DONE,
    """if ARGV[8] ~= '' and #out > 2 then
  local id = out[3]
  redis.call('HSET', sk, 'last_job', id)
  redis.call('HSET', P .. 'origin', id, ARGV[8])
  local so = P .. 'so:' .. ARGV[5]
  redis.call('ZADD', so, id, id)
  local extra = redis.call('ZCARD', so) - tonumber(ARGV[11])
  if extra > 0 then
    for _, old in ipairs(redis.call('ZRANGE', so, 0, extra - 1)) do
      redis.call('HDEL', P .. 'origin', old)
    end
    redis.call('ZREMRANGEBYRANK', so, 0, extra - 1)
  end
end
"""
    + _DONE,
    1,
)
assert "ARGV[5]" in FIRE and "ARGV[11]" in FIRE, "redis_lua.ADD changed: update FIRE"

ADD_SCHEDULE = """
local sk = ARGV[1] .. 'sc:' .. ARGV[2]
if redis.call('EXISTS', sk) == 1 then return 0 end
local fields = cjson.decode(ARGV[3])
for k, v in pairs(fields) do redis.call('HSET', sk, k, v) end
redis.call('SADD', ARGV[1] .. 'schedules', ARGV[2])
return 1
"""

SET_PAUSED = """
local sk = ARGV[1] .. 'sc:' .. ARGV[2]
if redis.call('EXISTS', sk) == 0 then return 0 end
redis.call('HSET', sk, 'paused', ARGV[3])
if ARGV[3] == '0' then
  if ARGV[4] == '' then redis.call('HDEL', sk, 'next_run')
  else redis.call('HSET', sk, 'next_run', ARGV[4]) end
end
return 1
"""

REMOVE = """
local sk = ARGV[1] .. 'sc:' .. ARGV[2]
local row = redis.call('HGETALL', sk)
redis.call('DEL', sk)
redis.call('SREM', ARGV[1] .. 'schedules', ARGV[2])
return row
"""


def _opt(value: str | None) -> float | None:
    return None if value in (None, "") else float(value)


def _from_hash(raw: dict[str, str]) -> Schedule:
    return Schedule.from_spec(
        json.loads(raw["spec"]),
        paused=raw.get("paused") == "1",
        next_run=_opt(raw.get("next_run")),
        last_run=_opt(raw.get("last_run")),
        last_job=None if not raw.get("last_job") else int(raw["last_job"]),
        last_note=raw.get("last_note", ""),
    )


def _fields(schedule: Schedule) -> dict[str, str]:
    out = {
        "spec": json.dumps(schedule.spec()),
        "paused": "1" if schedule.paused else "0",
        "last_note": schedule.last_note,
    }
    if schedule.next_run is not None:
        out["next_run"] = num(schedule.next_run)
    if schedule.last_run is not None:
        out["last_run"] = num(schedule.last_run)
    if schedule.last_job is not None:
        out["last_job"] = str(schedule.last_job)
    return out


class RedisSchedules:
    """The schedule hashes and job origins of one RedisStore."""

    def __init__(
        self,
        client: Callable[[], Redis],
        prefix: str,
        call: Callable[..., Awaitable[Any]],
    ) -> None:
        self._client = client
        self._prefix = prefix
        self._call = call
        self._scripts: dict[str, AsyncScript] = {}
        self._for: Redis | None = None

    def _script(self, name: str) -> AsyncScript:
        client = self._client()
        if self._for is not client:  # (registered per connection; it does no I/O)
            self._for = client
            self._scripts = {
                n: client.register_script(globals()[n])
                for n in ("FIRE", "ADD_SCHEDULE", "SET_PAUSED", "REMOVE")
            }
        return self._scripts[name]

    async def _run(self, name: str, *args: Any) -> Any:
        return await self._call(self._script(name), args=[self._prefix, *args])

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        """See Store.add_schedule."""
        added = await self._run("ADD_SCHEDULE", schedule.name, json.dumps(_fields(schedule)))
        if not added and not if_absent:
            raise ScheduleExists(schedule.name)
        return bool(added)

    async def schedules(self) -> list[Schedule]:
        """See Store.schedules."""
        client = self._client()
        names = sorted(await self._call(client.smembers, self._prefix + "schedules"))
        pipe = client.pipeline(transaction=False)
        for name in names:
            pipe.hgetall(self._prefix + "sc:" + name)
        rows = await self._call(pipe.execute)
        return [_from_hash(raw) for raw in rows if raw]

    async def _get(self, name: str) -> Schedule:
        raw = await self._call(self._client().hgetall, self._prefix + "sc:" + name)
        if not raw:
            raise UnknownSchedule(name)
        return _from_hash(raw)

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        """See Store.set_schedule_paused."""
        flag = "1" if paused else "0"
        when = "" if next_run is None else num(next_run)
        if not await self._run("SET_PAUSED", name, flag, when):
            raise UnknownSchedule(name)
        return await self._get(name)

    async def remove_schedule(self, name: str) -> Schedule:
        """See Store.remove_schedule."""
        row = await self._run("REMOVE", name)
        if not row:
            raise UnknownSchedule(name)
        return _from_hash(dict(zip(row[::2], row[1::2], strict=True)))

    async def fire_schedule(
        self, fire: Fire, job: NewJob | None, now: float
    ) -> tuple[list[Job] | None, int | None]:
        """See Store.fire_schedule; also returns the version the script committed."""
        origin = fire.origin
        specs = [new_job_fields(job)] if job is not None and origin is not None else []
        slot = origin.slot if origin is not None else fire.expected
        reply = await self._call(
            self._script("FIRE"),
            args=[
                self._prefix,
                num(now),
                uuid.uuid4().hex,
                dumps(specs),
                fire.name,
                "" if fire.expected is None else num(fire.expected),
                "" if fire.next_run is None else num(fire.next_run),
                "" if not specs or origin is None else json.dumps(origin.to_dict()),
                "" if slot is None else num(slot),
                fire.note,
                str(ORIGINS_KEPT),
            ],
        )
        if reply[0] == "gone":
            if fire.expected is None:
                raise UnknownSchedule(fire.name)
            return None, None
        if reply[0] == "taken":
            return None, None
        version, rest = int(reply[1]), reply[2:]
        out = []
        if job is not None and specs:
            for job_id, status in zip(rest[::2], rest[1::2], strict=True):
                made = job.to_job(int(job_id), now, version)
                made.status = Status(status)
                out.append(made)
        return out, version

    async def job_origin(self, job_id: int) -> Origin | None:
        """See Store.job_origin."""
        raw = await self._call(self._client().hget, self._prefix + "origin", str(job_id))
        return None if not raw else Origin.from_dict(json.loads(raw))
