"""The `tuiqueue` command line: builds a store and an engine (or the dashboard), nothing more."""

from __future__ import annotations

from tuiqueue.cli import (
    db,
    follow,
    preset,
    query,
    queues,
    schedule,
    serve,
    steer,
    submit,
    worker,
    workers,
)
from tuiqueue.cli.group import main

__all__ = [
    "db",
    "follow",
    "main",
    "preset",
    "query",
    "queues",
    "schedule",
    "serve",
    "steer",
    "submit",
    "worker",
    "workers",
]
