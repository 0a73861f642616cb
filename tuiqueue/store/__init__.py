"""Stores: where jobs live. `open_store` picks one from a path or URL."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_data_dir

from tuiqueue.core.records import Changes, LogPage
from tuiqueue.core.text import mask_url
from tuiqueue.store.base import Store, StoreError
from tuiqueue.store.memory import MemoryStore

__all__ = ["Changes", "LogPage", "MemoryStore", "Store", "StoreError", "default_db", "open_store"]


def default_db() -> str:
    """$TUIQUEUE_DB, else tuiqueue.db in the user data folder."""
    return os.environ.get("TUIQUEUE_DB") or str(Path(user_data_dir("tuiqueue")) / "tuiqueue.db")


def open_store(target: str | os.PathLike[str] | None = None) -> Store:
    """A store for a SQLite path, ":memory:", a redis:// or a postgresql:// URL (opened by
    the Engine)."""
    text = str(target) if target is not None else default_db()
    if text == ":memory:":
        return MemoryStore()
    if text.startswith(("redis://", "rediss://", "unix://")):
        try:
            from tuiqueue.store.redis import RedisStore
        except ImportError as exc:
            raise StoreError(
                f"{text}: the Redis store needs the redis package; "
                'install it with: pip install "tuiqueue[redis]"'
            ) from exc
        return RedisStore(text)
    if text.startswith(("postgresql://", "postgres://")):
        try:
            import asyncpg  # noqa: F401  (only to say what is missing)

            from tuiqueue.store.postgres import PostgresStore
        except ImportError as exc:
            raise StoreError(
                f"{mask_url(text)}: the PostgreSQL store needs the asyncpg package; "
                'install it with: pip install "tuiqueue[postgres]"'
            ) from exc
        return PostgresStore(text)
    if "://" in text:
        raise StoreError(
            f"{mask_url(text)}: unknown store URL; use a file path, :memory:, "
            "redis://host:port/db or postgresql://user@host:5432/dbname"
        )
    from tuiqueue.store.sqlite import SqliteStore

    return SqliteStore(text)
