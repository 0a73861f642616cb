"""Presets in PostgreSQL: PostgresStore's part of the preset interface (the table is
schema 3, in postgres_schema.py).

A save is one INSERT ... ON CONFLICT: a new name is inserted, a taken one is either left
alone (and reported) or overwritten in place, keeping its created_at."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace as with_fields
from typing import Any

from tuiqueue.core.preset import Preset, PresetExists, UnknownPreset
from tuiqueue.core.status import Priority
from tuiqueue.store.postgres_conn import PgConnection, Versions

_COLUMNS = "name, type, params, priority, queue, created_at, updated_at"
_INSERT = f"INSERT INTO presets ({_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7) ON CONFLICT (name)"
_OVERWRITE = (
    " DO UPDATE SET type = EXCLUDED.type, params = EXCLUDED.params,"
    " priority = EXCLUDED.priority, queue = EXCLUDED.queue, updated_at = EXCLUDED.updated_at"
)


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


async def _get(conn: Any, name: str) -> Preset | None:
    row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM presets WHERE name = $1", name)
    return None if row is None else _row(row)


class PgPresets:
    """The presets table."""

    def __init__(self, db: PgConnection) -> None:
        self._db = db

    async def save_preset(self, preset: Preset, *, replace: bool = False) -> Preset:
        """See Store.save_preset."""
        values = (
            preset.name,
            preset.type,
            json.dumps(preset.params),
            int(preset.priority),
            preset.queue,
            preset.created_at,
            preset.updated_at,
        )

        async def tx(conn: Any, v: Versions) -> Preset:
            while True:
                sql = _INSERT + (_OVERWRITE if replace else " DO NOTHING")
                created = await conn.fetchval(sql + " RETURNING created_at", *values)
                if created is not None:
                    return with_fields(preset, created_at=created)
                old = await _get(conn, preset.name)
                if old is not None:
                    raise PresetExists(old)
                # (removed between the two statements: the name is free again)

        return await self._db.write(tx)

    async def presets(self, type: str | None = None) -> list[Preset]:
        """See Store.presets."""

        async def q(conn: Any) -> list[Preset]:
            if type is None:
                rows = await conn.fetch(f"SELECT {_COLUMNS} FROM presets ORDER BY name")
            else:
                rows = await conn.fetch(
                    f"SELECT {_COLUMNS} FROM presets WHERE type = $1 ORDER BY name", type
                )
            return [_row(r) for r in rows]

        return await self._db.read(q)

    async def preset(self, name: str) -> Preset | None:
        """See Store.preset."""

        async def q(conn: Any) -> Preset | None:
            return await _get(conn, name)

        return await self._db.read(q)

    async def remove_preset(self, name: str) -> Preset:
        """See Store.remove_preset."""

        async def tx(conn: Any, v: Versions) -> Preset:
            row = await conn.fetchrow(
                f"DELETE FROM presets WHERE name = $1 RETURNING {_COLUMNS}", name
            )
            if row is None:
                raise UnknownPreset(name)
            return _row(row)

        return await self._db.write(tx)
