"""Presets in the SQLite file: SqliteStore's part of the preset interface (the table is
schema 8, in sqlite_schema.py).

A save reads the old row and writes the new one in one write transaction, so two
processes saving one name never both think they created it."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from tuiqueue.core.preset import Preset, PresetExists, UnknownPreset
from tuiqueue.core.status import Priority
from tuiqueue.store.sqlite_conn import SqliteConnection

_COLUMNS = "name, type, params, priority, queue, created_at, updated_at"


def _row(row: Sequence[Any]) -> Preset:
    name, type_, params, priority, queue, created_at, updated_at = row
    return Preset(
        name=name,
        type=type_,
        params=json.loads(params),
        priority=Priority(int(priority)),
        queue=queue,
        created_at=created_at,
        updated_at=updated_at,
    )


def _get(conn: sqlite3.Connection, name: str) -> Preset | None:
    row = conn.execute(f"SELECT {_COLUMNS} FROM presets WHERE name = ?", (name,)).fetchone()
    return None if row is None else _row(row)


class SqlitePresets:
    """The presets table."""

    def __init__(self, db: SqliteConnection) -> None:
        self._db = db

    async def save_preset(self, preset: Preset, *, replace: bool = False) -> Preset:
        """See Store.save_preset."""

        def tx(conn: sqlite3.Connection) -> Preset:
            old = _get(conn, preset.name)
            if old is not None and not replace:
                raise PresetExists(old)
            stored = preset.saved_over(old)
            conn.execute(
                f"INSERT OR REPLACE INTO presets ({_COLUMNS}) VALUES (?,?,?,?,?,?,?)",
                (
                    stored.name,
                    stored.type,
                    json.dumps(stored.params),
                    int(stored.priority),
                    stored.queue,
                    stored.created_at,
                    stored.updated_at,
                ),
            )
            return stored

        return await self._db.write(tx)

    async def presets(self, type: str | None = None) -> list[Preset]:
        """See Store.presets."""

        def q(conn: sqlite3.Connection) -> list[Preset]:
            if type is None:
                rows = conn.execute(f"SELECT {_COLUMNS} FROM presets ORDER BY name")
            else:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM presets WHERE type = ? ORDER BY name", (type,)
                )
            return [_row(r) for r in rows.fetchall()]

        return await self._db.read(q)

    async def preset(self, name: str) -> Preset | None:
        """See Store.preset."""
        return await self._db.read(lambda conn: _get(conn, name))

    async def remove_preset(self, name: str) -> Preset:
        """See Store.remove_preset."""

        def tx(conn: sqlite3.Connection) -> Preset:
            old = _get(conn, name)
            if old is None:
                raise UnknownPreset(name)
            conn.execute("DELETE FROM presets WHERE name = ?", (name,))
            return old

        return await self._db.write(tx)
