"""RedisStore: one Redis shared by workers and dashboards on many machines.

Every write is one Lua script (atomic, one round trip, batch-sized): claims take several
jobs at once, finish records a whole batch, and each bumps a version counter that feeds
`changes()` and a pub/sub channel so watchers wake as soon as anything changes.
"""

from __future__ import annotations

import json
import uuid
import warnings
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from typing import Any, TypeVar

import anyio
from redis.asyncio import Redis
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.commands.core import AsyncScript
from redis.exceptions import AuthenticationError, RedisError, ResponseError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from tuiqueue.core import logs
from tuiqueue.core.history import FinishedCount
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Command, Outcome, UnknownJob, apply_command, apply_priority
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
from tuiqueue.core.schedule import Fire, Origin, Schedule
from tuiqueue.core.status import TERMINAL, Priority, Status
from tuiqueue.core.text import mask_secrets, mask_url
from tuiqueue.store import redis_lua as lua
from tuiqueue.store import redis_lua_batches
from tuiqueue.store.base import (
    LOG_HEAD,
    LOG_TAIL,
    OwnVersions,
    Store,
    StoreAuthError,
    StoreError,
    clip_line,
)
from tuiqueue.store.presets_redis import RedisPresets
from tuiqueue.store.redis_batches import CHUNK, RedisBatches
from tuiqueue.store.redis_codec import (
    diff,
    dumps,
    job_from_hash,
    new_job_fields,
    num,
    outcome_spec,
    snaps_to_jobs,
)
from tuiqueue.store.schedules_redis import RedisSchedules

log = logs.logger(__name__)

PREFIX = "tuiqueue:"
"""Every key of the store starts with this (pick the database with the URL's /N)."""
RETRIES = 40
"""Reconnect attempts (capped backoff of 1 s: about 35 s) before a call fails."""
CHANGES_MAX = 2000
"""Jobs returned by one `changes()` call."""
HISTORY_PAGE = 2000
"""Finished jobs one HISTORY script reads (a few milliseconds of Redis's time)."""
BUSY_FOR = 300.0
"""Seconds a call waits out Redis answering BUSY (another client's long script) before failing."""


T = TypeVar("T")


class _Retry(Retry):
    """Retries a lost connection, never a refused password (redis-py's AuthenticationError
    is a ConnectionError: retried like one, a changed password meant ~40 s of silence)."""

    async def call_with_retry(
        self, do: Callable[[], Awaitable[T]], fail: Callable[..., Any], *args: Any, **kw: Any
    ) -> T:
        # (redis-py 6+ adds is_retryable and with_failure_count, passed on as they come: with
        # the latter, fail gets the failure count too)
        async def fail_fast(error: Exception, *rest: Any) -> None:
            await fail(error, *rest)
            if _refused(error):
                raise error

        return await super().call_with_retry(do, fail_fast, *args, **kw)


def _refused(exc: BaseException) -> bool:
    """Redis refused our credentials (a wrong or changed password): retrying cannot help."""
    text = str(exc)
    return isinstance(exc, AuthenticationError) or "WRONGPASS" in text or "NOAUTH" in text


def refused_error(url: str, exc: BaseException) -> StoreAuthError:
    """The one line for a refused password (masked), saying what to do."""
    return StoreAuthError(
        f"{mask_url(url)}: Redis authentication failed ({mask_secrets(str(exc))}); "
        "the password is wrong or was changed: put the current one in the URL "
        "(redis://:PASSWORD@host:port/db) and start again"
    )


class RedisConfigWarning(UserWarning):
    """The Redis server is configured in a way that can lose jobs."""


def _versions(*groups: Sequence[Job]) -> set[int]:
    return {job.version for jobs in groups for job in jobs}


class RedisStore(Store):
    """Jobs in Redis: hashes per job, sorted-set indexes, Lua scripts for every write."""

    shared = True
    fleet = True

    def __init__(self, url: str, *, prefix: str = PREFIX) -> None:
        self.url = url
        self.prefix = prefix
        self._client: Redis | None = None
        self._scripts: dict[str, AsyncScript] = {}
        self._pubsub: PubSub | None = None
        self._own = OwnVersions()
        self._batches = RedisBatches(self._run, mask_url(url))
        self._schedules = RedisSchedules(lambda: self.client, prefix, self._call)
        self._presets = RedisPresets(lambda: self.client, prefix, self._call)
        self._scope_args: tuple[ClaimScope, str, str] = (ANY, "", "")
        """The newest scope and its two script arguments (encoded once, not per claim)."""

    def __repr__(self) -> str:
        return f"RedisStore({mask_url(self.url)!r}, prefix={self.prefix!r})"

    # -- connection ---------------------------------------------------------------------

    def clone(self) -> RedisStore:
        """A fresh, unopened store on the same server and prefix."""
        return RedisStore(self.url, prefix=self.prefix)

    async def open(self) -> None:
        if self._client is not None:
            return
        probe = Redis.from_url(self.url, decode_responses=True, socket_connect_timeout=3)
        try:
            await probe.ping()
            policy = await self._eviction_policy(probe)
        except RedisError as exc:
            if _refused(exc):  # a wrong password is not retried like a lost network
                raise refused_error(self.url, exc) from None
            raise StoreError(
                f"{mask_url(self.url)}: cannot reach Redis "
                f"({mask_secrets(str(exc))}); "
                "is redis-server running there? Check the host, port and database "
                "number"
            ) from exc
        finally:
            await probe.aclose()
        if policy not in (None, "noeviction"):
            warnings.warn(
                f"{mask_url(self.url)}: Redis maxmemory-policy is {policy!r}; Redis may evict "
                "jobs when memory runs out. Set `maxmemory-policy noeviction` for a job queue.",
                RedisConfigWarning,
                stacklevel=2,
            )
        self._client = Redis.from_url(
            self.url,
            decode_responses=True,
            socket_connect_timeout=3,
            retry=_Retry(ExponentialBackoff(cap=1.0, base=0.05), RETRIES),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionError, OSError],
            health_check_interval=10,
        )
        self._scripts = {
            name: self._client.register_script(getattr(lua, name))
            for name in (
                "ADD",
                "CLAIM",
                "FINISH",
                "FINISH_CLAIM",
                "PROGRESS",
                "SAVE",
                "ORPHANS",
                "TAKE_OVER",
                "DELETE",
                "APPEND_LOGS",
                "LOGS",
                "CHANGES",
                "HEARTBEAT",
                "BEAT",
                "SET_PROCESS",
                "FORGET_PROCESS",
                "UPGRADE",
                "QUEUES",
                "QUEUE_SET",
                "HISTORY",
            )
        }
        for name in RedisBatches.SCRIPTS:
            self._scripts[name] = self._client.register_script(getattr(redis_lua_batches, name))
        moved = await self._run("UPGRADE", now=0.0)
        if moved:
            log.info("%s: moved %s queued jobs to the default queue's ready sets", self, moved)

    @staticmethod
    async def _eviction_policy(client: Redis) -> str | None:
        try:
            config = await client.config_get("maxmemory-policy")
        except ResponseError as exc:  # CONFIG disabled (managed Redis): nothing to check
            log.info("cannot read maxmemory-policy (%s); not checked", exc)
            return None
        value = config.get("maxmemory-policy")
        return str(value) if value is not None else None

    async def close(self) -> None:
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    @property
    def client(self) -> Redis:
        """The open client."""
        if self._client is None:
            raise StoreError(f"{mask_url(self.url)}: the store is not open")
        return self._client

    def _key(self, *parts: object) -> str:
        return self.prefix + "".join(str(p) for p in parts)

    async def _run(self, name: str, *args: Any, now: float | None = None) -> Any:
        """Run one Lua script with the prefix (and now) as its first arguments."""
        head = [self.prefix] if now is None else [self.prefix, num(now)]
        return await self._call(self._scripts[name], args=[*head, *args])

    async def _call(self, fn: Any, *args: Any, **kw: Any) -> Any:
        """Await fn(...); ride out BUSY replies (Redis runs another client's long script,
        nothing of this call was done) with a capped backoff; StoreError for other errors
        (a refused password: StoreAuthError, at once)."""
        # A pipeline forgets its commands when it executes: keep them for a retry.
        pipe = getattr(fn, "__self__", None) if getattr(fn, "__name__", "") == "execute" else None
        stack = list(pipe.command_stack) if pipe is not None else None
        delay, waited = 0.01, 0.0
        while True:
            try:
                return await fn(*args, **kw)
            except RedisError as exc:
                busy = "BUSY" in str(exc) and "BUSYGROUP" not in str(exc)
                if not busy or waited >= BUSY_FOR:
                    raise self._error(exc) from exc
                if waited == 0.0:
                    log.warning("%s is busy running a script; waiting", mask_url(self.url))
            if pipe is not None and stack is not None:
                pipe.command_stack = list(stack)
            await anyio.sleep(delay)
            waited += delay
            delay = min(delay * 2, 0.5)

    def _error(self, exc: RedisError) -> StoreError:
        if _refused(exc):
            return refused_error(self.url, exc)
        return StoreError(f"{mask_url(self.url)}: {mask_secrets(str(exc))}")

    # -- jobs ---------------------------------------------------------------------------

    async def add(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        if not jobs:
            return []
        if len(jobs) > CHUNK:  # bounded scripts, shown in one step (redis_batches.py)
            version, added = await self._batches.add(jobs, now)
            self._own.add(version)
            return added
        specs = [new_job_fields(new) for new in jobs]
        reply = await self._run("ADD", uuid.uuid4().hex, dumps(specs), now=now)
        if reply[0] == "missing":
            raise UnknownJob(int(reply[1]))
        version, rest = int(reply[1]), reply[2:]
        self._own.add(version)
        out = []
        for new, job_id, status in zip(jobs, rest[::2], rest[1::2], strict=True):
            job = new.to_job(int(job_id), now, version)
            job.status = Status(status)
            out.append(job)
        return out

    async def sweep_batches(self) -> int:
        return await self._batches.sweep()

    async def get(self, job_id: int) -> Job | None:
        raw = await self._call(self.client.hgetall, self._key("job:", job_id))
        if not raw:
            return None
        batch = raw.get("batch")  # only jobs of big submits have it: one more look for those
        if batch and await self._call(self.client.sismember, self._key("batches"), batch):
            return None  # a big submit still being written: not there yet
        return job_from_hash(raw, job_id)

    async def _get_many(self, ids: Sequence[int]) -> list[Job | None]:
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                pipe.hgetall(self._key("job:", job_id))
            raws = await self._call(pipe.execute)
        return [job_from_hash(raw, i) if raw else None for i, raw in zip(ids, raws, strict=True)]

    async def reruns(self, job_id: int) -> list[int]:
        # The index keeps ids of reruns deleted since (and of big submits not yet
        # committed): only those get() still finds are reruns.
        ids = [
            int(i) for i in await self._call(self.client.zrange, self._key("rr:", job_id), 0, -1)
        ]
        return [i for i in ids if await self.get(i) is not None]

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
        wanted = set(statuses) if statuses else None
        newest_first = after_id is None
        if wanted:
            sources = [self._key("s:", s.value) for s in wanted]
        else:
            sources = [self._key("t:", type) if type else self._key("all")]
        filter_type = type if wanted else None
        filtered = bool(filter_type or queue)
        out: list[Job] = []
        cursor = before_id if newest_first else after_id
        hidden = await self._batches.hidden()
        while len(out) < limit:
            size = max(limit - len(out), 100) if filtered else limit - len(out)
            async with self.client.pipeline(transaction=False) as pipe:
                for src in sources:
                    if newest_first:
                        top = "+inf" if cursor is None else f"({cursor}"
                        pipe.zrevrangebyscore(src, top, "-inf", start=0, num=size)
                    else:
                        pipe.zrangebyscore(src, f"({cursor}", "+inf", start=0, num=size)
                replies = await self._call(pipe.execute)
            ids = sorted({int(i) for reply in replies for i in reply}, reverse=newest_first)[:size]
            if not ids:
                break
            cursor = ids[-1]
            for lo, hi in hidden:  # a big submit not committed yet: step over its ids
                ids = [i for i in ids if not lo <= i <= hi]
                if lo <= cursor <= hi:
                    cursor = lo if newest_first else hi
            for job in await self._get_many(ids):
                if job is None or (wanted and job.status not in wanted):
                    continue
                if filter_type and job.type != filter_type:
                    continue
                if queue and job.queue != queue:
                    continue
                out.append(job)
            if all(len(reply) < size for reply in replies):
                break
        return out[:limit]

    def _scope(self, scope: ClaimScope) -> tuple[str, str]:
        """The claim scripts' type and queue arguments for scope."""
        cached, types, queues = self._scope_args
        if scope is not cached:
            types = "" if scope.types is None else dumps(sorted(scope.types))
            queues = "" if scope.queues is None else dumps(sorted(scope.queues))
            self._scope_args = (scope, types, queues)
        return types, queues

    async def claim(
        self, worker: str, limit: int, now: float, scope: ClaimScope = ANY
    ) -> list[Job]:
        if limit <= 0:
            return []
        batch = uuid.uuid4().hex[:16]
        types, queues = self._scope(scope)
        reply = await self._run("CLAIM", worker, limit, batch, types, queues, now=now)
        jobs = snaps_to_jobs(reply)
        jobs.sort(key=lambda j: (-j.priority, j.id))
        for version in _versions(jobs):
            self._own.add(version)
        return jobs

    async def next_wakeup(self, now: float) -> float | None:
        first = await self._call(self.client.zrange, self._key("sched"), 0, 0, withscores=True)
        return float(first[0][1]) if first else None

    async def save_progress(self, updates: Sequence[ProgressUpdate], now: float) -> None:
        if updates:
            rows = [[str(i), t, num(p), m] for i, t, p, m in updates]
            version = await self._run("PROGRESS", dumps(rows), now=now)
            if version:
                self._own.add(int(version))

    async def finish(self, outcomes: Sequence[Outcome], now: float) -> list[Job]:
        if not outcomes:
            return []
        reply = await self._run("FINISH", dumps([outcome_spec(o) for o in outcomes]), now=now)
        jobs = snaps_to_jobs(reply)
        for version in _versions(jobs):
            self._own.add(version)
        return jobs

    async def finish_and_claim(
        self,
        outcomes: Sequence[Outcome],
        worker: str,
        limit: int,
        now: float,
        scope: ClaimScope = ANY,
    ) -> tuple[list[Job], list[Job]]:
        if not outcomes and limit <= 0:
            return [], []
        types, queues = self._scope(scope)
        reply = await self._run(
            "FINISH_CLAIM",
            dumps([outcome_spec(o) for o in outcomes]),
            worker,
            max(0, limit),
            uuid.uuid4().hex[:16],
            types,
            queues,
            now=now,
        )
        finished, claimed = snaps_to_jobs(reply[0]), snaps_to_jobs(reply[1])
        claimed.sort(key=lambda j: (-j.priority, j.id))
        for version in _versions(finished, claimed):
            self._own.add(version)
        return finished, claimed

    async def _dep_status(self, deps: Collection[int]) -> dict[int, Status | None]:
        if not deps:
            return {}
        async with self.client.pipeline(transaction=False) as pipe:
            for dep in deps:
                pipe.hget(self._key("job:", dep), "status")
            replies = await self._call(pipe.execute)
        return {d: Status(s) if s else None for d, s in zip(deps, replies, strict=True)}

    async def command(self, job_id: int, command: Command, now: float) -> Job:
        for _ in range(100):  # compare-and-set: retry when a worker changed the job meanwhile
            job = await self.get(job_id)
            if job is None:
                raise UnknownJob(job_id)
            before = job.copy()
            if not apply_command(job, command, now, await self._dep_status(job.depends_on)):
                return job
            version = await self._run("SAVE", dumps([diff(before, job)]), now=now)
            if version:
                job.version, job.updated_at = int(version), now
                self._own.add(job.version)
                return job
            await anyio.sleep(0.001)
        raise StoreError(f"{mask_url(self.url)}: job {job_id} kept changing; try the command again")

    async def set_priority(self, job_id: int, priority: Priority, now: float) -> Job:
        for _ in range(100):  # compare-and-set, as command()
            job = await self.get(job_id)
            if job is None:
                raise UnknownJob(job_id)
            before = job.copy()
            if not apply_priority(job, priority):
                return job
            # SAVE re-scores the ready index when priority is among the fields set.
            version = await self._run("SAVE", dumps([diff(before, job)]), now=now)
            if version:
                job.version, job.updated_at = int(version), now
                self._own.add(job.version)
                return job
            await anyio.sleep(0.001)
        raise StoreError(f"{mask_url(self.url)}: job {job_id} kept changing; try again")

    # -- deleting -----------------------------------------------------------------------

    async def delete(self, job_ids: Sequence[int]) -> list[int]:
        if not job_ids:
            return []
        reply = await self._run("DELETE", "", dumps([str(i) for i in job_ids]), "0")
        if reply[0] == "unknown":
            raise UnknownJob(int(reply[1]))
        if reply[0] == "active":
            raise ValueError(f"job {reply[1]} is {reply[2]}; cancel it before deleting it")
        return [int(i) for i in reply[1:]]

    async def clear(
        self,
        statuses: Collection[Status],
        *,
        finished_before: float | None = None,
        keep_newest: int = 0,
        batch: int = 500,
        pause: float = 0.0,
    ) -> int:
        wanted = [s for s in statuses if s in TERMINAL]
        if not wanted:
            return 0
        top = "+inf" if finished_before is None else f"({num(finished_before)}"
        async with self.client.pipeline(transaction=False) as pipe:
            for status in wanted:
                pipe.zrangebyscore(self._key("f:", status.value), "-inf", top, withscores=True)
            replies = await self._call(pipe.execute)
        found = sorted(((score, int(i)) for reply in replies for i, score in reply), reverse=True)
        doomed = [job_id for _, job_id in found[keep_newest:]]
        total = 0
        for start in range(0, len(doomed), batch):
            part = [str(i) for i in doomed[start : start + batch]]
            reply = await self._run("DELETE", "", dumps(part), "1")
            total += len(reply) - 1
            await anyio.sleep(pause)
        return total

    # -- state --------------------------------------------------------------------------

    async def counts(self) -> dict[Status, int]:
        # One script: the jobs of a big submit still being written are not counted yet.
        replies = await self._run("COUNTS", *(s.value for s in Status))
        return {status: int(n) for status, n in zip(Status, replies, strict=True)}

    async def _finished_since(
        self, since: float, now: float, width: float, limit: int
    ) -> tuple[list[FinishedCount], list[tuple[str, float]]]:
        # The f:<status> zsets hold finished jobs by finished_at; their type and start are
        # in each job's hash, read by a script a page at a time so that a busy hour never
        # holds Redis for long. Pages go by offset from the newest: a job deleted meanwhile
        # may let one be counted twice or missed, which a chart refreshed in seconds can bear.
        counts: list[FinishedCount] = []
        times: list[tuple[str, float]] = []
        for status in TERMINAL:
            offset = 0
            while True:
                want = status is Status.COMPLETED and len(times) < limit
                scanned, flat, pairs = await self._run(
                    "HISTORY",
                    status.value,
                    num(since),
                    num(now),
                    num(width),
                    offset,
                    HISTORY_PAGE,
                    "1" if want else "0",
                )
                for i in range(0, len(flat), 3):
                    counts.append(
                        FinishedCount(int(flat[i + 1]), flat[i], status, int(flat[i + 2]))
                    )
                times.extend((pairs[i], float(pairs[i + 1])) for i in range(0, len(pairs), 2))
                if int(scanned) < HISTORY_PAGE:
                    break
                offset += HISTORY_PAGE
        return counts, times[:limit]

    async def changes(self, since: int) -> Changes:
        version, jobs, deleted = await self._run("CHANGES", since, CHANGES_MAX)
        return Changes(int(version), snaps_to_jobs(jobs), [int(i) for i in deleted])

    async def version(self) -> int:
        return int(await self._call(self.client.get, self._key("version")) or 0)

    def only_own_changes(self, since: int, version: int) -> bool:
        return self._own.covers(since, version)

    async def wait_for_change(self, timeout: float) -> bool:
        """Wait up to timeout seconds for any write by any process; True if one came."""
        got = False
        try:
            if self._pubsub is None:
                self._pubsub = self.client.pubsub(ignore_subscribe_messages=True)
                await self._pubsub.subscribe(self._key("events"))
            message = await self._pubsub.get_message(timeout=timeout)
            while message is not None:  # drain a burst: one wake-up is enough
                got = True
                message = await self._pubsub.get_message(timeout=0)
        except (RedisError, OSError) as exc:
            log.warning("%s: change notifications lost (%s); resubscribing", self.url, exc)
            if self._pubsub is not None:
                await self._pubsub.aclose()  # type: ignore[no-untyped-call]
            self._pubsub = None  # resubscribe on the next call (after a Redis restart)
            await anyio.sleep(min(timeout, 1.0))
            return True
        return got

    async def set_queue_paused(self, paused: bool) -> None:
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.set(self._key("paused"), "1" if paused else "0")
            pipe.incr(self._key("version"))
            pipe.publish(self._key("events"), "queue")
            await self._call(pipe.execute)

    async def queue_paused(self) -> bool:
        return bool(await self._call(self.client.get, self._key("paused")) == "1")

    async def pause_queue(self, name: str, paused: bool) -> None:
        version = await self._run("QUEUE_SET", name, "paused", "1" if paused else "")
        self._own.add(int(version))

    async def limit_queue(self, name: str, limit: int | None) -> None:
        version = await self._run("QUEUE_SET", name, "limit", "" if limit is None else limit)
        self._own.add(int(version))

    async def queues(self) -> list[QueueInfo]:
        rows = await self._run("QUEUES")
        infos = [
            QueueInfo(
                name,
                paused == "1",
                int(limit) if limit != "" else None,
                int(running),
                int(pending),
            )
            for name, paused, limit, running, pending in rows
        ]
        return sorted(infos, key=lambda q: q.name)

    # -- logs ---------------------------------------------------------------------------

    async def append_logs(
        self, lines: Mapping[int, LogLines], dropped: Mapping[int, int] | None = None
    ) -> None:
        batch = {
            str(i): [token, [clip_line(line) for line in new]]
            for i, (token, new) in lines.items()
            if new
        }
        lost = {
            str(i): [lines[i].token if i in lines else "", n]
            for i, n in (dropped or {}).items()
            if n > 0
        }
        if batch or lost:
            version = await self._run(
                "APPEND_LOGS", "", dumps(batch), LOG_HEAD, LOG_TAIL, dumps(lost)
            )
            if version:
                self._own.add(int(version))

    async def save_steps(self, steps: dict[int, list[Step]]) -> None:
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id, marked in steps.items():
                # Kept as long as the job's own hash (its deletion takes the steps too).
                pipe.set(self._key("steps:", job_id), dumps([list(s) for s in marked]))
            await self._call(pipe.execute)

    async def steps(self, job_id: int) -> list[Step]:
        raw = await self._call(self.client.get, self._key("steps:", job_id))
        return [] if raw is None else [Step(*s) for s in json.loads(raw)]

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        reply = await self._run(
            "LOGS", job_id, max(0, after), -1 if limit is None else limit, LOG_HEAD
        )
        if int(reply[0]) < 0:
            raise UnknownJob(job_id)
        count, head_first, head, tail_first, tail, lost = reply
        lines = [(int(head_first) + i, line) for i, line in enumerate(head)]
        lines += [(int(tail_first) + i, line) for i, line in enumerate(tail)]
        if limit is not None:
            lines = lines[:limit]
        return LogPage(lines, max(0, int(count) - LOG_HEAD - LOG_TAIL) + int(lost or 0))

    # -- workers ------------------------------------------------------------------------

    async def register_worker(self, info: WorkerInfo) -> None:
        key = self._key("w:", info.id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(
                key,
                mapping={
                    "id": info.id,
                    "host": info.host,
                    "pid": str(info.pid),
                    "concurrency": str(info.concurrency),
                    "started_at": num(info.started_at),
                    "heartbeat": num(info.heartbeat),
                    "running": str(info.running),
                    "processed": str(info.processed),
                    "stopped": "1" if info.stopped else "0",
                    **({} if info.types is None else {"types": dumps(sorted(info.types))}),
                    **({} if info.queues is None else {"queues": dumps(sorted(info.queues))}),
                },
            )
            pipe.zadd(self._key("workers"), {info.id: info.started_at})
            await self._call(pipe.execute)
        # The first beat on the server's clock, so the lease runs from now on Redis's time.
        await self._run("HEARTBEAT", info.id, "heartbeat", num(info.heartbeat))

    async def report_worker_error(self, worker_id: str, error: str) -> None:
        await self._run("HEARTBEAT", worker_id, "error", error[:1000])

    async def heartbeat(
        self,
        worker_id: str,
        running: int,
        processed: int,
        now: float,
        attempts: Mapping[int, str] | None = None,
    ) -> list[Superseded]:
        runs = dumps([[str(i), t] for i, t in attempts.items()]) if attempts else "[]"
        reply = await self._run("BEAT", worker_id, running, processed, num(now), runs)
        return [
            Superseded(int(i), token, Status(status) if status else None, worker or None, int(n))
            for i, token, status, worker, n in reply
        ]

    async def stop_worker(self, worker_id: str, now: float) -> None:
        await self._run(
            "HEARTBEAT", worker_id, "stopped", "1", "running", "0", "heartbeat", num(now)
        )

    async def workers(self) -> list[WorkerInfo]:
        ids = await self._call(self.client.zrevrange, self._key("workers"), 0, -1)
        async with self.client.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(self._key("w:", worker_id))
            raws = await self._call(pipe.execute)
        return [
            WorkerInfo(
                id=r["id"],
                host=r["host"],
                pid=int(r["pid"]),
                concurrency=int(r["concurrency"]),
                started_at=float(r["started_at"]),
                heartbeat=float(r["heartbeat"]),
                running=int(r["running"]),
                processed=int(r["processed"]),
                stopped=r["stopped"] == "1",
                error=r.get("error", ""),
                types=tuple(json.loads(r["types"])) if "types" in r else None,
                queues=tuple(json.loads(r["queues"])) if "queues" in r else None,
            )
            for r in raws
            if r
        ]

    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        return snaps_to_jobs(await self._run("ORPHANS", num(dead_after), now=now))

    async def take_over(
        self, outcomes: Sequence[Outcome], now: float, dead_after: float
    ) -> list[Job]:
        if not outcomes:
            return []
        specs = dumps([outcome_spec(o) for o in outcomes])
        jobs = snaps_to_jobs(await self._run("TAKE_OVER", num(dead_after), specs, now=now))
        for version in _versions(jobs):
            self._own.add(version)
        return jobs

    # -- processes started by jobs ------------------------------------------------------

    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        if process is None:
            await self._run("FORGET_PROCESS", job_id)
            return
        await self._run(
            "SET_PROCESS", job_id, process.token, process.host, process.pgid, process.start_time
        )

    async def job_process(self, job_id: int) -> JobProcess | None:
        raw = await self._call(self.client.hgetall, self._key("proc:", job_id))
        if not raw:
            return None
        return JobProcess(raw["token"], raw["host"], int(raw["pgid"]), int(raw["start_time"]))

    # -- schedules (schedules_redis.py) ------------------------------------------------

    async def add_schedule(self, schedule: Schedule, *, if_absent: bool = False) -> bool:
        return await self._schedules.add_schedule(schedule, if_absent=if_absent)

    async def schedules(self) -> list[Schedule]:
        return await self._schedules.schedules()

    async def set_schedule_paused(
        self, name: str, paused: bool, next_run: float | None
    ) -> Schedule:
        return await self._schedules.set_schedule_paused(name, paused, next_run)

    async def remove_schedule(self, name: str) -> Schedule:
        return await self._schedules.remove_schedule(name)

    async def fire_schedule(self, fire: Fire, job: NewJob | None, now: float) -> list[Job] | None:
        added, version = await self._schedules.fire_schedule(fire, job, now)
        if version is not None:
            self._own.add(version)
        return added

    async def job_origin(self, job_id: int) -> Origin | None:
        return await self._schedules.job_origin(job_id)
