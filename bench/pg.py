"""PostgreSQL measurements: the lifecycle written by hand with asyncpg (the limit) and
pgqueuer (the peer), each on a database of its own on the local server (127.0.0.1:5432)."""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import anyio

SERVER = "postgresql://postgres@127.0.0.1:5432"


@contextlib.asynccontextmanager
async def fresh_db() -> AsyncIterator[str]:
    """A new database on the local server (dropped afterwards); yields its URL."""
    import asyncpg

    name = f"tq_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(f"{SERVER}/postgres")
    try:
        await admin.execute(f"CREATE DATABASE {name}")
        try:
            yield f"{SERVER}/{name}"
        finally:
            await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    finally:
        await admin.close()


def available() -> str | None:
    """Why the PostgreSQL rows cannot run, or None when they can."""
    try:
        import asyncpg
    except ImportError:
        return "not measured: asyncpg is not installed"

    async def ping() -> None:
        conn = await asyncpg.connect(f"{SERVER}/postgres", timeout=2)
        await conn.close()

    try:
        anyio.run(ping)
    except Exception as exc:
        return f"not measured: no PostgreSQL at 127.0.0.1:5432 ({type(exc).__name__})"
    return None


def raw_pg(n: int, concurrency: int = 8, batch: int = 8) -> dict[str, float]:
    """The same lifecycle by hand: insert n rows, then `concurrency` workers claim `batch`
    at a time with FOR UPDATE SKIP LOCKED, run nothing and mark them completed."""
    import asyncpg

    async def main() -> dict[str, float]:
        async with fresh_db() as url:
            pool = await asyncpg.create_pool(url, min_size=concurrency, max_size=concurrency)
            try:
                await pool.execute(
                    "CREATE TABLE jobs (id bigserial PRIMARY KEY, type text NOT NULL, "
                    "params text NOT NULL, status text NOT NULL, worker text, "
                    "started_at float8, finished_at float8)"
                )
                await pool.execute("CREATE INDEX jobs_ready ON jobs (id) WHERE status = 'pending'")
                t0 = time.perf_counter()
                for start in range(0, n, 1000):
                    size = min(1000, n - start)
                    await pool.execute(
                        "INSERT INTO jobs (type, params, status) "
                        "SELECT 'noop', '{}', 'pending' FROM generate_series(1, $1)",
                        size,
                    )
                t1 = time.perf_counter()
                done = 0

                async def worker(name: str) -> None:
                    nonlocal done
                    while True:
                        async with pool.acquire() as conn:
                            ids = [
                                r[0]
                                for r in await conn.fetch(
                                    "UPDATE jobs SET status = 'running', worker = $1, "
                                    "started_at = extract(epoch from now()) WHERE id IN "
                                    "(SELECT id FROM jobs WHERE status = 'pending' ORDER BY id "
                                    "LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id",
                                    name,
                                    batch,
                                )
                            ]
                            if not ids:
                                return
                            await conn.execute(
                                "UPDATE jobs SET status = 'completed', "
                                "finished_at = extract(epoch from now()) "
                                "WHERE id = ANY($1::bigint[])",
                                ids,
                            )
                            done += len(ids)

                async with anyio.create_task_group() as tg:
                    for i in range(concurrency):
                        tg.start_soon(worker, f"w{i}")
                t2 = time.perf_counter()
                assert done == n
                return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}
            finally:
                await pool.close()

    return anyio.run(main)


def pgqueuer_pg(n: int, concurrency: int = 8) -> dict[str, float]:
    """pgqueuer: enqueue n no-op jobs in batches, then drain them with one QueueManager."""
    import asyncpg
    from pgqueuer import AsyncpgDriver, Queries, QueueManager
    from pgqueuer.types import QueueExecutionMode

    async def main() -> dict[str, float]:
        async with fresh_db() as url:
            conn = await asyncpg.connect(url)
            try:
                queries = Queries(AsyncpgDriver(conn))
                await queries.install()
                t0 = time.perf_counter()
                for start in range(0, n, 1000):
                    size = min(1000, n - start)
                    await queries.enqueue(["noop"] * size, [None] * size, [0] * size)
                t1 = time.perf_counter()
                qm = QueueManager(queries)
                done = 0

                @qm.entrypoint("noop")
                async def noop(job: Any) -> None:
                    nonlocal done
                    done += 1

                await qm.run(
                    batch_size=concurrency,
                    mode=QueueExecutionMode.drain,
                    max_concurrent_tasks=2 * concurrency,
                )
                t2 = time.perf_counter()
                assert done == n, done
                return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}
            finally:
                await conn.close()

    return anyio.run(main)


MEASURES = {"raw_pg": raw_pg, "pgqueuer_pg": pgqueuer_pg}
