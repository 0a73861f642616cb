"""Stores: where jobs live. `open_store` picks one from a path or URL."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tuiqueue.core.records import Changes, LogPage
from tuiqueue.core.text import mask_url
from tuiqueue.store.base import Store, StoreError

if TYPE_CHECKING:
    from tuiqueue.store.memory import MemoryStore

__all__ = ["Changes", "LogPage", "MemoryStore", "Store", "StoreError", "default_db", "open_store"]


def __getattr__(name: str) -> Any:
    """MemoryStore is imported on first use (the command line on SQLite never needs it)."""
    if name == "MemoryStore":
        from tuiqueue.store.memory import MemoryStore

        return MemoryStore
    raise AttributeError(f"module 'tuiqueue.store' has no attribute {name!r}")


def default_db() -> str:
    """$TUIQUEUE_DB, else tuiqueue.db in the user data folder."""
    if os.environ.get("TUIQUEUE_DB"):
        return os.environ["TUIQUEUE_DB"]
    from platformdirs import user_data_dir  # ~5 ms: only when no --db or $TUIQUEUE_DB

    return str(Path(user_data_dir("tuiqueue")) / "tuiqueue.db")


def open_store(target: str | os.PathLike[str] | None = None) -> Store:
    """A store for a SQLite path, ":memory:", a redis:// or a postgresql:// URL (opened by
    the Engine)."""
    text = str(target) if target is not None else default_db()
    if text == ":memory:":
        from tuiqueue.store.memory import MemoryStore

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
