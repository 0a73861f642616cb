"""RedisWorkersMixin: job logs, workers, heartbeats, orphans and job processes in Redis."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from redis.asyncio import Redis

from tuiqueue.core.job import Job
from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.records import JobProcess, LogPage, WorkerInfo
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL, OwnVersions, clip_line
from tuiqueue.store.redis_codec import (
    dumps,
    num,
    snaps_to_jobs,
)


class RedisWorkersMixin:
    """Logs, release, workers, heartbeats, orphans and job processes for RedisStore."""

    if TYPE_CHECKING:
        _own: OwnVersions

        @property
        def client(self) -> Redis: ...

        def _key(self, *parts: object) -> str: ...

        async def _run(self, name: str, *args: Any, now: float | None = None) -> Any: ...

        async def _call(self, fn: Any, *args: Any, **kw: Any) -> Any: ...

    # -- logs ---------------------------------------------------------------------------

    async def append_logs(self, lines: dict[int, list[str]]) -> None:
        batch = {str(i): [clip_line(line) for line in new] for i, new in lines.items() if new}
        if batch:
            version = await self._run("APPEND_LOGS", "", dumps(batch), LOG_HEAD, LOG_TAIL)
            if version:
                self._own.add(int(version))

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        reply = await self._run("LOGS", job_id, max(0, after),
                                -1 if limit is None else limit, LOG_HEAD)
        if int(reply[0]) < 0:
            raise UnknownJob(job_id)
        count, head_first, head, tail_first, tail = reply
        lines = [(int(head_first) + i, line) for i, line in enumerate(head)]
        lines += [(int(tail_first) + i, line) for i, line in enumerate(tail)]
        if limit is not None:
            lines = lines[:limit]
        return LogPage(lines, max(0, int(count) - LOG_HEAD - LOG_TAIL))

    # -- workers ------------------------------------------------------------------------

    async def register_worker(self, info: WorkerInfo) -> None:
        key = self._key("w:", info.id)
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={
                "id": info.id, "host": info.host, "pid": str(info.pid),
                "concurrency": str(info.concurrency), "started_at": num(info.started_at),
                "heartbeat": num(info.heartbeat), "running": str(info.running),
                "processed": str(info.processed), "stopped": "1" if info.stopped else "0",
            })
            pipe.zadd(self._key("workers"), {info.id: info.started_at})
            await self._call(pipe.execute)

    async def heartbeat(self, worker_id: str, running: int, processed: int, now: float) -> None:
        await self._run("HEARTBEAT", worker_id, "running", running, "processed", processed,
                        "heartbeat", num(now))

    async def stop_worker(self, worker_id: str, now: float) -> None:
        await self._run("HEARTBEAT", worker_id, "stopped", "1", "running", "0",
                        "heartbeat", num(now))

    async def workers(self) -> list[WorkerInfo]:
        ids = await self._call(self.client.zrevrange, self._key("workers"), 0, -1)
        async with self.client.pipeline(transaction=False) as pipe:
            for worker_id in ids:
                pipe.hgetall(self._key("w:", worker_id))
            raws = await self._call(pipe.execute)
        return [
            WorkerInfo(
                id=r["id"], host=r["host"], pid=int(r["pid"]), concurrency=int(r["concurrency"]),
                started_at=float(r["started_at"]), heartbeat=float(r["heartbeat"]),
                running=int(r["running"]), processed=int(r["processed"]),
                stopped=r["stopped"] == "1",
            )
            for r in raws if r
        ]

    async def orphans(self, now: float, dead_after: float) -> list[Job]:
        return snaps_to_jobs(await self._run("ORPHANS", num(dead_after), now=now))

    # -- processes started by jobs ------------------------------------------------------

    async def set_job_process(self, job_id: int, process: JobProcess | None) -> None:
        if process is None:
            await self._call(self.client.delete, self._key("proc:", job_id))
            return
        await self._run("SET_PROCESS", job_id, process.token, process.host, process.pgid,
                        process.start_time)

    async def job_process(self, job_id: int) -> JobProcess | None:
        raw = await self._call(self.client.hgetall, self._key("proc:", job_id))
        if not raw:
            return None
        return JobProcess(raw["token"], raw["host"], int(raw["pgid"]), int(raw["start_time"]))
