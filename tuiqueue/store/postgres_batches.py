"""Big submits on PostgreSQL: written in short chunks, invisible until one small commit.

A batch reserves a range of job ids (meta.next_id moves past it), then inserts its jobs a
chunk per transaction, so claims and other submits get the version row in between. While
its `batches` row has no committed version, every reader leaves the range out (VISIBLE);
the commit is one tiny transaction that sets that version, and `changes()` then returns
the whole batch at once. The submitter holds a session advisory lock named after its
batch for as long as it writes: a sweep that can take that lock knows the submitter died,
and deletes its rows, never shown.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any

import anyio

from tuiqueue.core import logs
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.store.base import StoreError
from tuiqueue.store.postgres_conn import PgConnection, Versions
from tuiqueue.store.postgres_schema import lock_key
from tuiqueue.store.postgres_sql import dep_status, insert, take_ids

log = logs.logger(__name__)

CHUNK = 1_000
"""Jobs per transaction of a big submit; a submit of at most this many is one transaction."""
SWEEP_EVERY = 5.0
"""Seconds between looks for abandoned batches (recovery passes run more often)."""


class PgBatches:
    """The big submits of one PostgresStore: staging, the commit, abandoned ones' clean-up."""

    def __init__(self, db: PgConnection) -> None:
        self._db = db
        self._key = lock_key(db.schema)
        self._swept_at = 0.0

    async def add(self, jobs: Sequence[NewJob], now: float) -> list[Job]:
        """Insert jobs chunk by chunk; all of them become visible at once, or none ever."""
        await self.sweep(force=True)
        owner = random.randrange(1, 2**31)
        return await self._db.hold(lambda conn: self._add(conn, owner, jobs, now))

    async def _add(self, conn: Any, owner: int, jobs: Sequence[NewJob], now: float) -> list[Job]:
        await conn.execute("SELECT pg_advisory_lock($1, $2)", self._key, owner)
        try:
            deps = {d for new in jobs for d in new.depends_on}
            async with conn.transaction():
                missing = [d for d, s in (await dep_status(conn, deps)).items() if s is None]
                if missing:
                    raise UnknownJob(min(missing))
                lo = await take_ids(conn, len(jobs))
                batch = int(
                    await conn.fetchval(
                        "INSERT INTO batches (lo, hi, owner, created_at) VALUES ($1, $2, $3, $4) "
                        "RETURNING id",
                        lo,
                        lo + len(jobs) - 1,
                        owner,
                        time.time(),
                    )
                )
            try:
                out: list[Job] = []
                for start in range(0, len(jobs), CHUNK):
                    part = jobs[start : start + CHUNK]
                    async with conn.transaction():
                        version = await Versions(self._db).bump(conn)
                        known = await dep_status(conn, {d for new in part for d in new.depends_on})
                        missing = [d for d, s in known.items() if s is None]
                        if missing:
                            raise UnknownJob(min(missing))
                        out += await insert(conn, part, now, version, known, lo + start)
                    await anyio.sleep(0)
                async with conn.transaction():
                    version = await Versions(self._db).bump(conn)
                    done = await conn.execute(
                        "UPDATE batches SET committed = $1 WHERE id = $2 AND committed IS NULL",
                        version,
                        batch,
                    )
                    if done.endswith(" 0"):
                        raise StoreError(
                            f"{self._db.where}: this submit's jobs were removed before they "
                            "were committed; nothing was added. Submit again."
                        )
                    await conn.execute(
                        "DELETE FROM batches WHERE committed IS NOT NULL AND committed < $1",
                        version - 100_000,
                    )
                return out
            except BaseException:
                with anyio.CancelScope(shield=True):
                    try:
                        await self._drop(conn, batch)
                    except Exception:  # the next sweep removes it: our lock goes with us
                        log.warning("could not remove an unfinished batch", exc_info=True)
                raise
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await conn.execute("SELECT pg_advisory_unlock($1, $2)", self._key, owner)
                except Exception:  # a lost session has dropped it already
                    log.debug("advisory unlock failed", exc_info=True)

    async def _drop(self, conn: Any, batch: int) -> None:
        """Delete an open batch's rows, a chunk per transaction, then the batch itself."""
        row = await conn.fetchrow("SELECT lo, hi, committed FROM batches WHERE id = $1", batch)
        if row is None or row[2] is not None:
            return  # gone, or committed: then it is the user's now, never removed
        lo, hi = int(row[0]), int(row[1])
        for start in range(lo, hi + 1, CHUNK):
            await conn.execute(
                "DELETE FROM jobs WHERE id BETWEEN $1 AND $2 AND EXISTS (SELECT 1 FROM batches "
                "WHERE id = $3 AND committed IS NULL)",
                start,
                min(hi, start + CHUNK - 1),
                batch,
            )
        await conn.execute("DELETE FROM batches WHERE id = $1 AND committed IS NULL", batch)

    async def sweep(self, *, force: bool = False) -> int:
        """Remove the batches whose submitter died before committing; returns how many."""
        now = time.monotonic()
        if not force and now - self._swept_at < SWEEP_EVERY:
            return 0
        self._swept_at = now

        async def sweep(conn: Any) -> int:
            gone = 0
            for batch, owner in await conn.fetch(
                "SELECT id, owner FROM batches WHERE committed IS NULL"
            ):
                if not await conn.fetchval("SELECT pg_try_advisory_lock($1, $2)", self._key, owner):
                    continue  # its submitter is still writing it
                try:
                    log.info("removing batch %s of a submit that died before committing it", batch)
                    await self._drop(conn, int(batch))
                    gone += 1
                finally:
                    await conn.execute("SELECT pg_advisory_unlock($1, $2)", self._key, owner)
            return gone

        return await self._db.hold(sweep)
