"""What a user would pick instead of tuiqueue, and the limits: each returns a dict of numbers."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import tempfile
import threading
import time
from typing import Any

REDIS_URL = "redis://127.0.0.1:6379/13"


def raw_sqlite(n: int) -> dict[str, float]:
    """The limit: plain sqlite3 doing insert, claim, complete, one transaction per step."""
    folder = tempfile.mkdtemp(prefix="bench-raw-")
    conn = sqlite3.connect(os.path.join(folder, "raw.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, type TEXT, params TEXT, "
        "status TEXT, result TEXT)"
    )
    conn.execute("CREATE INDEX jobs_ready ON jobs (status, id)")
    t0 = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO jobs (type, params, status) VALUES ('noop', '{}', 'pending')")
        conn.execute("COMMIT")
    t1 = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN IMMEDIATE")
        job_id = conn.execute(
            "UPDATE jobs SET status = 'running' WHERE id = (SELECT id FROM jobs "
            "WHERE status = 'pending' ORDER BY id LIMIT 1) RETURNING id"
        ).fetchone()[0]
        conn.execute("COMMIT")
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "UPDATE jobs SET status = 'completed', result = 'null' WHERE id = ?", (job_id,)
        )
        conn.execute("COMMIT")
    t2 = time.perf_counter()
    conn.close()
    return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}


def raw_sqlite_batched(n: int, batch: int = 64) -> dict[str, float]:
    """The batched limit: plain sqlite3 on the same file settings (WAL, synchronous=NORMAL),
    one connection; submit with one executemany, then claims of `batch` by UPDATE ...
    RETURNING and finishes of `batch` by executemany, one transaction each."""
    folder = tempfile.mkdtemp(prefix="bench-rawb-")
    conn = sqlite3.connect(os.path.join(folder, "raw.db"), isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute(
        "CREATE TABLE jobs (id INTEGER PRIMARY KEY, type TEXT, params TEXT, "
        "status TEXT, result TEXT)"
    )
    conn.execute("CREATE INDEX jobs_ready ON jobs (status, id)")
    t0 = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(
        "INSERT INTO jobs (type, params, status) VALUES ('noop', '{}', 'pending')",
        [()] * n,
    )
    conn.execute("COMMIT")
    t1 = time.perf_counter()
    done = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        ids = conn.execute(
            "UPDATE jobs SET status = 'running' WHERE id IN (SELECT id FROM jobs "
            "WHERE status = 'pending' ORDER BY id LIMIT ?) RETURNING id",
            (batch,),
        ).fetchall()
        conn.execute("COMMIT")
        if not ids:
            break
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany("UPDATE jobs SET status = 'completed', result = 'null' WHERE id = ?", ids)
        conn.execute("COMMIT")
        done += len(ids)
    t2 = time.perf_counter()
    conn.close()
    assert done == n, done
    return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}


def bare_asyncio(n: int) -> dict[str, float]:
    """The limit in memory: an asyncio.Queue, 8 consumer tasks, one task switch per job."""

    async def main() -> dict[str, float]:
        queue: asyncio.Queue[int | None] = asyncio.Queue()
        done = 0

        async def noop() -> None:
            return None

        async def consumer() -> None:
            nonlocal done
            while await queue.get() is not None:
                await noop()
                await asyncio.sleep(0)  # the one task switch per job
                done += 1

        t0 = time.perf_counter()
        for i in range(n):
            queue.put_nowait(i)
        t1 = time.perf_counter()
        tasks = [asyncio.create_task(consumer()) for _ in range(8)]
        for _ in tasks:
            queue.put_nowait(None)
        await asyncio.gather(*tasks)
        t2 = time.perf_counter()
        assert done == n
        return {"submitted": n / max(t1 - t0, 1e-9), "completed": n / (t2 - t1)}

    return asyncio.run(main())


def _huey_run(huey: Any, n: int) -> dict[str, float]:
    from huey.consumer import Consumer

    done = threading.Semaphore(0)

    @huey.task()
    def noop() -> None:
        done.release()

    t0 = time.perf_counter()
    for _ in range(n):
        noop()
    t1 = time.perf_counter()
    consumer = Consumer(
        huey,
        workers=4,
        worker_type="thread",
        periodic=False,
        initial_delay=0.001,
        max_delay=0.01,
        check_worker_health=False,
    )
    consumer.start()
    for _ in range(n):
        done.acquire()
    t2 = time.perf_counter()
    consumer.stop(graceful=True)
    return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}


def huey_sqlite(n: int, synchronous: str = "default") -> dict[str, float]:
    """huey's SqliteHuey, 4 consumer worker threads in this process."""
    from huey import SqliteHuey
    from huey.storage import SqliteStorage

    class NormalStorage(SqliteStorage):  # type: ignore[misc]
        """SqliteStorage with PRAGMA synchronous = NORMAL (huey only offers FULL or OFF)."""

        def _create_connection(self) -> sqlite3.Connection:
            conn = super()._create_connection()
            conn.execute("PRAGMA synchronous = NORMAL")
            return conn

    class NormalHuey(SqliteHuey):  # type: ignore[misc]
        storage_class = NormalStorage

    folder = tempfile.mkdtemp(prefix="bench-huey-")
    cls = NormalHuey if synchronous == "normal" else SqliteHuey
    huey = cls("bench", filename=os.path.join(folder, "huey.db"), results=False)
    return _huey_run(huey, n)


def huey_memory(n: int) -> dict[str, float]:
    """huey's MemoryHuey, 4 consumer worker threads in this process."""
    from huey import MemoryHuey

    return _huey_run(MemoryHuey("bench", results=False), n)


def _flush_redis() -> None:
    import redis

    redis.Redis.from_url(REDIS_URL).flushdb()


def saq_redis(n: int, concurrency: int = 8) -> dict[str, float]:
    """saq on the local Redis (db 13), one worker with the same concurrency."""
    from saq import Queue, Worker

    _flush_redis()

    async def noop(ctx: Any) -> None:
        return None

    async def main() -> dict[str, float]:
        queue = Queue.from_url(REDIS_URL, name="bench")
        done = asyncio.Event()
        count = 0

        async def after(ctx: Any) -> None:
            nonlocal count
            count += 1
            if count >= n:
                done.set()

        worker = Worker(
            queue,
            functions=[("noop", noop)],
            concurrency=concurrency,
            after_process=after,
            dequeue_timeout=0.01,
        )
        t0 = time.perf_counter()
        batch = 500
        for start in range(0, n, batch):
            await asyncio.gather(*(queue.enqueue("noop") for _ in range(min(batch, n - start))))
        t1 = time.perf_counter()
        task = asyncio.create_task(worker.start())
        await done.wait()
        t2 = time.perf_counter()
        await worker.stop()
        task.cancel()
        await queue.disconnect()
        return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}

    try:
        return asyncio.run(main())
    finally:
        _flush_redis()


def arq_redis(n: int, concurrency: int = 8) -> dict[str, float]:
    """arq on the local Redis (db 13), one worker with max_jobs = concurrency."""
    from arq import create_pool
    from arq.connections import RedisSettings
    from arq.worker import Worker, func

    _flush_redis()
    settings = RedisSettings(host="127.0.0.1", port=6379, database=13)

    async def noop(ctx: Any) -> None:
        return None

    async def main() -> dict[str, float]:
        pool = await create_pool(settings)
        t0 = time.perf_counter()
        batch = 500
        for start in range(0, n, batch):
            await asyncio.gather(*(pool.enqueue_job("noop") for _ in range(min(batch, n - start))))
        t1 = time.perf_counter()
        worker = Worker(
            functions=[func(noop, name="noop")],
            redis_pool=pool,
            max_jobs=concurrency,
            burst=True,
            poll_delay=0.01,
            keep_result=0,
            handle_signals=False,
        )
        await worker.main()
        t2 = time.perf_counter()
        assert worker.jobs_complete == n, worker.jobs_complete
        await worker.close()
        await pool.aclose()
        return {"submitted": n / (t1 - t0), "completed": n / (t2 - t1)}

    try:
        return asyncio.run(main())
    finally:
        _flush_redis()


MEASURES = {
    "raw_sqlite": raw_sqlite,
    "raw_sqlite_batched": raw_sqlite_batched,
    "bare_asyncio": bare_asyncio,
    "huey_sqlite": huey_sqlite,
    "huey_memory": huey_memory,
    "saq": saq_redis,
    "arq": arq_redis,
}
