"""The PostgreSQL schema: created and migrated by tuiqueue, in a schema of its own name.

Versions are kept in `schema_version` (one row); a database migrated by a newer tuiqueue
is refused with a clear message, as SQLite's user_version is. Migrations run under a
transaction-level advisory lock, so workers started together migrate once.
"""

from __future__ import annotations

import re
import zlib
from typing import Any

from tuiqueue.core import logs
from tuiqueue.store.base import StoreError

log = logs.logger(__name__)

SCHEMA_VERSION = 4
NAME = re.compile(r"^[a-z_][a-z0-9_]{0,40}$")
"""A schema name tuiqueue accepts (lower case, so it never needs quoting)."""

MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE meta (
        id integer PRIMARY KEY DEFAULT 1 CHECK (id = 1),
        version bigint NOT NULL DEFAULT 0,
        next_id bigint NOT NULL DEFAULT 1,
        paused boolean NOT NULL DEFAULT false
    );
    INSERT INTO meta DEFAULT VALUES;
    CREATE TABLE jobs (
        id bigint PRIMARY KEY,
        type text NOT NULL,
        params text NOT NULL,
        priority integer NOT NULL,
        status text NOT NULL,
        progress double precision NOT NULL DEFAULT 0,
        message text NOT NULL DEFAULT '',
        result text,
        error text,
        traceback text,
        created_at double precision NOT NULL,
        started_at double precision,
        finished_at double precision,
        run_at double precision,
        attempts integer NOT NULL DEFAULT 0,
        max_attempts integer NOT NULL DEFAULT 1,
        timeout double precision,
        worker text,
        token text,
        rerun_of bigint,
        depends_on text NOT NULL DEFAULT '[]',
        cancel_requested smallint NOT NULL DEFAULT 0,
        version bigint NOT NULL,
        updated_at double precision NOT NULL,
        log_count integer NOT NULL DEFAULT 0,
        queue text NOT NULL DEFAULT 'default'
    ) WITH (fillfactor = 80);
    CREATE INDEX jobs_ready ON jobs (priority DESC, id) WHERE status = 'pending';
    CREATE INDEX jobs_claim ON jobs (queue, type, priority DESC, id) WHERE status = 'pending';
    CREATE INDEX jobs_status_id ON jobs (status, id);
    CREATE INDEX jobs_type_id ON jobs (type, id);
    CREATE INDEX jobs_version ON jobs (version);
    CREATE INDEX jobs_due ON jobs (run_at) WHERE status = 'scheduled';
    CREATE INDEX jobs_waiting ON jobs (id) WHERE status = 'waiting';
    CREATE INDEX jobs_started ON jobs (worker) WHERE status IN ('running', 'paused');
    CREATE INDEX jobs_finished ON jobs (finished_at, id) WHERE finished_at IS NOT NULL;
    CREATE TABLE logs (
        job_id bigint NOT NULL,
        seq integer NOT NULL,
        line text NOT NULL,
        PRIMARY KEY (job_id, seq)
    );
    CREATE TABLE deleted (version bigint NOT NULL, job_id bigint NOT NULL);
    CREATE INDEX deleted_version ON deleted (version);
    CREATE TABLE workers (
        id text PRIMARY KEY,
        host text NOT NULL,
        pid integer NOT NULL,
        concurrency integer NOT NULL,
        running integer NOT NULL DEFAULT 0,
        processed bigint NOT NULL DEFAULT 0,
        started_at double precision NOT NULL,
        heartbeat double precision NOT NULL,
        beat timestamptz NOT NULL DEFAULT clock_timestamp(),
        stopped boolean NOT NULL DEFAULT false,
        error text NOT NULL DEFAULT '',
        types text,
        queues text
    );
    CREATE TABLE job_procs (
        job_id bigint PRIMARY KEY,
        token text NOT NULL,
        host text NOT NULL,
        pgid integer NOT NULL,
        start_time bigint NOT NULL
    );
    CREATE TABLE job_steps (job_id bigint PRIMARY KEY, steps text NOT NULL);
    CREATE TABLE queues (
        name text PRIMARY KEY,
        paused boolean NOT NULL DEFAULT false,
        cap integer
    );
    CREATE TABLE batches (
        id bigserial PRIMARY KEY,
        lo bigint NOT NULL,
        hi bigint NOT NULL,
        owner bigint NOT NULL,
        created_at double precision NOT NULL,
        committed bigint
    );
    CREATE FUNCTION notify_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('tuiqueue_' || TG_TABLE_SCHEMA, NEW.version::text);
        RETURN NEW;
    END $$;
    CREATE TRIGGER meta_notify AFTER UPDATE OF version ON meta
        FOR EACH ROW EXECUTE FUNCTION notify_change()
    """,
    # Schedules and the origins of the jobs they made (schedules_postgres.py).
    2: """
    CREATE TABLE schedules (
        name text PRIMARY KEY,
        spec text NOT NULL,
        paused boolean NOT NULL DEFAULT false,
        next_run double precision,
        last_run double precision,
        last_job bigint,
        last_note text NOT NULL DEFAULT ''
    );
    CREATE TABLE job_origins (
        job_id bigint PRIMARY KEY,
        schedule text NOT NULL,
        slot double precision NOT NULL,
        kind text NOT NULL,
        missed integer NOT NULL DEFAULT 0
    );
    CREATE INDEX job_origins_schedule ON job_origins (schedule, job_id)
    """,
    # The reruns of a job ("rerun as #17"): Store.reruns looks them up by this index.
    3: """
    CREATE INDEX jobs_rerun_of ON jobs (rerun_of, id) WHERE rerun_of IS NOT NULL
    """,
    # Presets: saved forms by name (presets_postgres.py).
    4: """
    CREATE TABLE presets (
        name text PRIMARY KEY,
        type text NOT NULL,
        params text NOT NULL,
        priority integer NOT NULL,
        queue text NOT NULL,
        created_at double precision NOT NULL,
        updated_at double precision NOT NULL
    );
    CREATE INDEX presets_type ON presets (type, name)
    """,
}
"""Every statement runs with search_path set to the store's schema."""


def channel(schema: str) -> str:
    """The LISTEN channel a schema's trigger notifies on every version bump."""
    return f"tuiqueue_{schema}"


def lock_key(schema: str) -> int:
    """The advisory lock class of one schema (migrations and big submits' owners)."""
    return zlib.crc32(schema.encode()) & 0x7FFF_FFFF


async def migrate(conn: Any, schema: str, where: str) -> None:
    """Create or bring the schema up to SCHEMA_VERSION; refuse a newer one."""
    current = await _version(conn, schema)
    if current == SCHEMA_VERSION:
        return
    if current is not None and current > SCHEMA_VERSION:
        raise _newer(where, schema, current)
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1, 0)", lock_key(schema))
        await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        await conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL)")
        current = await _version(conn, schema) or 0
        if current > SCHEMA_VERSION:
            raise _newer(where, schema, current)
        for version in range(current + 1, SCHEMA_VERSION + 1):
            log.info("%s: migrating schema %s to version %d", where, schema, version)
            await conn.execute(MIGRATIONS[version])
        await conn.execute("DELETE FROM schema_version")
        await conn.execute("INSERT INTO schema_version VALUES ($1)", SCHEMA_VERSION)


async def _version(conn: Any, schema: str) -> int | None:
    exists = await conn.fetchval("SELECT to_regclass($1) IS NOT NULL", f"{schema}.schema_version")
    if not exists:
        return None
    value = await conn.fetchval(f"SELECT max(version) FROM {schema}.schema_version")
    return None if value is None else int(value)


def _newer(where: str, schema: str, version: int) -> StoreError:
    return StoreError(
        f"{where}: schema {schema} was written by a newer tuiqueue (schema {version}, "
        f"this version understands up to {SCHEMA_VERSION}). Upgrade tuiqueue "
        "(pip install -U tuiqueue)."
    )
