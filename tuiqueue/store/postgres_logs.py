"""The logs and steps of one PostgresStore's jobs: bounded (head and tail kept), and
only the current attempt's lines are written."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.records import LogLines, LogPage, Step
from tuiqueue.store import postgres_sql as sql
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL, clip_line
from tuiqueue.store.postgres_conn import PgConnection, Rollback, Versions


class PgLogs:
    """The logs and steps tables of one store (lines of a stale attempt are dropped)."""

    def __init__(self, db: PgConnection) -> None:
        self._db = db

    async def save_steps(self, steps: dict[int, list[Step]]) -> None:
        if not steps:
            return
        ids = list(steps)
        texts = [sql.dumps([list(s) for s in steps[i]]) for i in ids]
        await self._db.read(
            lambda c: c.execute(
                "INSERT INTO job_steps (job_id, steps) SELECT u.id, u.steps FROM "
                "unnest($1::bigint[], $2::text[]) AS u(id, steps) JOIN jobs ON jobs.id = u.id "
                "ON CONFLICT (job_id) DO UPDATE SET steps = excluded.steps",
                ids,
                texts,
            )
        )

    async def steps(self, job_id: int) -> list[Step]:
        raw = await self._db.read(
            lambda c: c.fetchval("SELECT steps FROM job_steps WHERE job_id = $1", job_id)
        )
        return [] if raw is None else [Step(*s) for s in json.loads(raw)]

    async def append_logs(
        self, lines: Mapping[int, LogLines], dropped: Mapping[int, int] | None = None
    ) -> None:
        lost = {i: n for i, n in (dropped or {}).items() if n > 0}
        if not any(entry.lines for entry in lines.values()) and not lost:
            return

        async def tx(conn: Any, v: Versions) -> None:
            version = await v.bump(conn)
            wrote = False
            for job_id, n in lost.items():
                # Row 0 of a job's log (lines start at 1) counts the lines lost before
                # they reached the store (by the current attempt only).
                entry = lines.get(job_id)
                ok = await conn.fetchval(
                    "SELECT 1 FROM jobs WHERE id = $1 AND ($2::text IS NULL OR token = $2)",
                    job_id,
                    None if entry is None else entry.token,
                )
                if ok:
                    await conn.execute(
                        "INSERT INTO logs (job_id, seq, line) VALUES ($1, 0, $2) ON CONFLICT "
                        "(job_id, seq) DO UPDATE SET line = (logs.line::bigint + $3)::text",
                        job_id,
                        str(n),
                        n,
                    )
                    wrote = True
            for job_id, (token, new) in lines.items():
                if not new:
                    continue
                count = await conn.fetchval(
                    "UPDATE jobs SET log_count = log_count + $1, version = $2 "
                    "WHERE id = $3 AND token = $4 RETURNING log_count",
                    len(new),
                    version,
                    job_id,
                    token,
                )
                if count is None:
                    continue
                wrote = True
                first = count - len(new) + 1
                await conn.execute(
                    "INSERT INTO logs (job_id, seq, line) SELECT $1, $2 + u.n - 1, u.line "
                    "FROM unnest($3::text[]) WITH ORDINALITY AS u(line, n) "
                    "ON CONFLICT (job_id, seq) DO UPDATE SET line = excluded.line",
                    job_id,
                    first,
                    [clip_line(line) for line in new],
                )
                cut = count - LOG_TAIL
                if cut > LOG_HEAD and (first - 1) // 500 != count // 500:
                    await conn.execute(
                        "DELETE FROM logs WHERE job_id = $1 AND seq > $2 AND seq <= $3",
                        job_id,
                        LOG_HEAD,
                        cut,
                    )
            if not wrote:
                raise Rollback(None)

        await self._db.write(tx)

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        async def q(conn: Any) -> LogPage:
            count = await conn.fetchval("SELECT log_count FROM jobs WHERE id = $1", job_id)
            if count is None:
                raise UnknownJob(job_id)
            rows = await conn.fetch(
                "SELECT seq, line FROM logs WHERE job_id = $1 AND seq > $2 "
                "AND (seq <= $3 OR seq > $4) ORDER BY seq LIMIT $5",
                job_id,
                max(0, after),
                LOG_HEAD,
                count - LOG_TAIL,
                limit,
            )
            lost = await conn.fetchval(
                "SELECT line::bigint FROM logs WHERE job_id = $1 AND seq = 0", job_id
            )
            dropped = max(0, count - LOG_HEAD - LOG_TAIL) + int(lost or 0)
            return LogPage([(int(s), t) for s, t in rows], dropped)

        return await self._db.snapshot(q)
