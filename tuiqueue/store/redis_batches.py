"""Big submits on Redis: bounded scripts write the jobs, invisibly; one O(1) script shows them.

One script of 200,000 jobs ran past Redis's busy threshold (Redis answered BUSY to every
client meanwhile). Here each script writes at most CHUNK jobs, hidden (redis_lua_batches),
and the commit only marks the batch committed (merging staged indexes, even with
ZUNIONSTORE in C, took seconds for 200,000 jobs). A failure before the commit removes what was
staged; a submitter that died is found by the server-clock time of its last chunk and its
jobs are deleted by the next sweep, never shown.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import anyio

from tuiqueue.core import logs
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.status import Status
from tuiqueue.store.base import StoreError
from tuiqueue.store.redis_codec import dumps, new_job_fields

log = logs.logger(__name__)

CHUNK = 1_000
"""Jobs per script of a big submit; a submit of at most this many is one script, as before."""
STALE_MS = 60_000
"""A batch with no chunk written for this long (server clock) was abandoned by its submitter."""
SWEEP_EVERY = 5.0
"""Seconds between looks for abandoned batches."""

Run = Callable[..., Awaitable[Any]]


class RedisBatches:
    """The big submits of one RedisStore (run: its script runner, `run(name, *args, now=)`)."""

    SCRIPTS = (
        "BATCH_BEGIN",
        "BATCH_CHUNK",
        "BATCH_COMMIT",
        "BATCH_DROP",
        "BATCH_STALE",
        "COUNTS",
        "RANGES",
    )

    def __init__(self, run: Run, where: str) -> None:
        self._run = run
        self._where = where
        self._swept_at = 0.0

    async def add(self, jobs: Sequence[NewJob], now: float) -> tuple[int, list[Job]]:
        """Stage and commit; returns (commit version, jobs). All of them, or none ever."""
        await self.sweep(force=True)
        batch = uuid.uuid4().hex
        deps = [{"deps": sorted({d for new in jobs for d in new.depends_on})}]
        reply = await self._run("BATCH_BEGIN", batch, len(jobs), dumps(deps), now=now)
        if reply[0] == "missing":
            raise UnknownJob(int(reply[1]))
        lo = int(reply[1])
        try:
            statuses: list[str] = []
            for start in range(0, len(jobs), CHUNK):
                specs = [new_job_fields(new) for new in jobs[start : start + CHUNK]]
                reply = await self._run("BATCH_CHUNK", batch, lo + start, dumps(specs), now=now)
                if reply[0] == "missing":
                    raise UnknownJob(int(reply[1]))
                if reply[0] == "gone":
                    raise self._gone()
                statuses += reply[1:]
            reply = await self._run("BATCH_COMMIT", batch, now=now)
            if reply[0] != "ok":
                raise self._gone()
        except BaseException:
            with anyio.CancelScope(shield=True):
                try:
                    await self.drop(batch)
                except Exception:  # swept later: its last chunk's time runs out
                    log.warning("could not remove an unfinished batch", exc_info=True)
            raise
        version = int(reply[1])
        out = []
        for offset, (new, status) in enumerate(zip(jobs, statuses, strict=True)):
            job = new.to_job(lo + offset, now, version)
            job.status = Status(status)
            out.append(job)
        return version, out

    def _gone(self) -> StoreError:
        return StoreError(
            f"{self._where}: this submit's jobs were removed before they were committed "
            f"(no chunk for {STALE_MS // 1000} s: was it stopped?); nothing was added. "
            "Submit again."
        )

    async def drop(self, batch: str) -> None:
        """Delete an uncommitted batch's jobs, CHUNK hashes per script."""
        while int(await self._run("BATCH_DROP", batch, CHUNK, now=0.0)) > 0:
            await anyio.sleep(0)

    async def hidden(self) -> list[tuple[int, int]]:
        """The id ranges of batches not committed yet (usually none)."""
        flat = [int(x) for x in await self._run("RANGES")]
        return list(zip(flat[::2], flat[1::2], strict=True))

    async def sweep(self, *, force: bool = False) -> int:
        """Remove batches whose submitter stopped writing them; returns how many."""
        now = time.monotonic()
        if not force and now - self._swept_at < SWEEP_EVERY:
            return 0
        self._swept_at = now
        stale = await self._run("BATCH_STALE", STALE_MS, now=0.0)
        for batch in stale:
            log.info("removing batch %s of a submit that stopped before committing it", batch)
            await self.drop(str(batch))
        return len(stale)
