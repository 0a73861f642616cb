"""Event streams: SSE for one job or every event (the WebSocket comes later)."""

from __future__ import annotations

from aiohttp import web


def add_routes(app: web.Application) -> None:
    """Register the streaming routes."""


def close_all(app: web.Application) -> None:
    """End every open stream (on shutdown)."""
