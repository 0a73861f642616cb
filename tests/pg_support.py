"""The PostgreSQL the tests use: the server at 127.0.0.1:5432 (user postgres, trust), a
database of this run's own (created once, dropped at exit) and a schema per test."""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import uuid

HOST, PORT, USER = "127.0.0.1", 5432, "postgres"
SKIP_REASON = "no PostgreSQL at 127.0.0.1:5432 (start it, or .ci/run starts it)"

_database: str | None = None


def pg_reachable(host: str = HOST, port: int = PORT) -> bool:
    """Whether a PostgreSQL server answers on host:port."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def psql(sql: str, port: int = PORT, db: str = "postgres") -> str:
    """Run one statement with psql (autocommit) and return its output."""
    out = subprocess.run(
        ["psql", "-h", HOST, "-p", str(port), "-U", USER, "-d", db, "-tAqc", sql],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return out.stdout.strip()


def test_database() -> str:
    """This run's database (created on first use, dropped when the run ends)."""
    global _database
    if _database is None:
        name = f"tq_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        psql(f"CREATE DATABASE {name}")
        _database = name
        atexit.register(_drop, name)
    return _database


def _drop(name: str) -> None:
    try:
        psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    except (subprocess.SubprocessError, OSError):
        pass


def fresh_url(port: int = PORT, db: str | None = None) -> str:
    """A URL on this run's database with a schema nobody else uses."""
    schema = f"t_{uuid.uuid4().hex[:10]}"
    return f"postgresql://{USER}@{HOST}:{port}/{db or test_database()}?schema={schema}"


def drop_schema(url: str) -> None:
    """Drop the schema of a fresh_url (its database stays for the rest of the run)."""
    from urllib.parse import parse_qs, urlsplit

    parts = urlsplit(url)
    schema = parse_qs(parts.query)["schema"][0]
    psql(f"DROP SCHEMA IF EXISTS {schema} CASCADE", port=parts.port or PORT, db=parts.path[1:])
