"""The floor of tuiqueue's own SQLite schema: the store's claim and finish statements run by
hand on a file tuiqueue made, with no engine, no Job objects and nothing else per tick.

The batched raw limit (peers.raw_sqlite_batched) is a five-column table with one index; a
tuiqueue row has 26 columns and six indexes (run order, status, type, due time, finish time,
reruns), and each write adds a row to the change feed (the ids it changed, for the watchers
of other processes). This measures what those cost, so the
distance from tuiqueue to the limit splits into its schema's share and its code's share.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time

import anyio

from tuiqueue import Engine, open_store
from tuiqueue.store.sqlite_finish import IDS
from tuiqueue.store.sqlite_rows import _CLAIM_SET, CLAIMED


def schema_floor(n: int, batch: int = 64) -> dict[str, float]:
    """Drain n pending jobs of a file tuiqueue wrote: per transaction, the finish of the
    previous batch (sqlite_finish.IDS, its tokens checked by the claim's batch), the claim of
    the next (_CLAIM_SET ... RETURNING CLAIMED) and the feed's row of the ids changed, on one
    connection with the store's settings (WAL, synchronous=NORMAL)."""
    from tq import registry

    path = os.path.join(tempfile.mkdtemp(prefix="bench-floor-"), "jobs.db")

    async def fill() -> None:
        engine = Engine(open_store(path), registry=registry)
        await engine.store.open()
        try:
            await engine.submit_many([("noop", {})] * n)
        finally:
            await engine.store.close()

    anyio.run(fill)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    (version,) = conn.execute("SELECT value FROM meta WHERE key = 'version'").fetchone()
    claim = (
        f"{_CLAIM_SET}WHERE id IN (SELECT id FROM jobs WHERE status = 'pending' "
        "AND queue = 'default' AND type = 'noop' ORDER BY priority DESC, id LIMIT ?) "
        f"RETURNING {CLAIMED}"
    )
    t0 = time.perf_counter()
    done, held = 0, []
    while True:
        version += 1
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        ids: list[int] = []
        if held:
            ids = [r[0] for r in held]
            # every token is f.<id>.1 (as the store builds them): one group of one batch
            finish = ("completed", 1, None, None, now, None, None, None, None, version)
            got = conn.execute(IDS[0], (*finish, json.dumps(ids), "f.", ".1"))
            assert got.rowcount == len(ids), "the finish recorded nothing"
            done += len(held)
        held = conn.execute(claim, (now, "floor", "f", version, now, batch)).fetchall()
        changed = ids + [r[0] for r in held]
        if changed:
            conn.execute(
                "INSERT INTO changed (version, ids) VALUES (?, ?)", (version, json.dumps(changed))
            )
        conn.execute("UPDATE meta SET value = ? WHERE key = 'version'", (version,))
        conn.execute("COMMIT")
        if not held:
            break
    t1 = time.perf_counter()
    conn.close()
    assert done == n, done
    return {"completed": n / (t1 - t0)}
