"""The network surface: an aiohttp app with the JSON API, SSE streams and a WebSocket."""

from __future__ import annotations

from tuiqueue.server.app import make_app
from tuiqueue.server.token import load_token, token_path

__all__ = ["load_token", "make_app", "token_path"]
