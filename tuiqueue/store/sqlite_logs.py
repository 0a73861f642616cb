"""SqliteLogsMixin: job log lines in a SQLite store."""

from __future__ import annotations

import sqlite3

from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.records import LogPage
from tuiqueue.store.base import LOG_HEAD, LOG_TAIL, clip_line
from tuiqueue.store.sqlite_base import SqliteBase


class SqliteLogsMixin(SqliteBase):
    """Appending and paging job log lines for SqliteStore."""

    async def append_logs(self, lines: dict[int, list[str]]) -> None:
        def tx(conn: sqlite3.Connection) -> None:
            version = self._bump(conn)
            for job_id, new in lines.items():
                row = conn.execute(
                    "UPDATE jobs SET log_count = log_count + ?, version = ? WHERE id = ? "
                    "RETURNING log_count",
                    (len(new), version, job_id),
                ).fetchone()
                if row is None:
                    continue
                count = row[0]
                first = count - len(new) + 1
                conn.executemany(
                    "INSERT OR REPLACE INTO logs (job_id, seq, line) VALUES (?, ?, ?)",
                    [(job_id, first + i, clip_line(line)) for i, line in enumerate(new)],
                )
                cut = count - LOG_TAIL
                if cut > LOG_HEAD and (first - 1) // 500 != count // 500:
                    conn.execute(
                        "DELETE FROM logs WHERE job_id = ? AND seq > ? AND seq <= ?",
                        (job_id, LOG_HEAD, cut),
                    )

        await self._write(tx)

    async def logs(self, job_id: int, after: int = 0, limit: int | None = None) -> LogPage:
        def q(conn: sqlite3.Connection) -> LogPage:
            row = conn.execute("SELECT log_count FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                raise UnknownJob(job_id)
            count = row[0]
            cut = count - LOG_TAIL
            lines = conn.execute(
                "SELECT seq, line FROM logs WHERE job_id = ? AND seq > ? "
                "AND (seq <= ? OR seq > ?) ORDER BY seq LIMIT ?",
                (job_id, after, LOG_HEAD, cut, -1 if limit is None else limit),
            ).fetchall()
            return LogPage([(s, t) for s, t in lines], max(0, count - LOG_HEAD - LOG_TAIL))

        return await self._read(q)
