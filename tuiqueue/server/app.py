"""The aiohttp application: auth, errors as JSON, the embedded engine's life."""

from __future__ import annotations

import asyncio
import hmac
import html
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web

from tuiqueue.core import logs
from tuiqueue.engine.engine import Engine
from tuiqueue.server import api, stream, ws
from tuiqueue.server.browser import COOKIE, BrowserDashboard, page
from tuiqueue.server.errors import describe
from tuiqueue.server.ws import same_origin

logger = logs.logger(__name__)

MAX_BODY = 1024 * 1024
"""Bytes a request body may have."""

ENGINE: web.AppKey[Engine] = api.ENGINE
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(message: str, code: int, **extra: Any) -> web.Response:
    """The JSON shape of every error: {"error": "...", "code": N}."""
    return web.json_response({"error": message, "code": code, **extra}, status=code)


def _same(given: str, token: str) -> bool:
    """A constant-time comparison that also takes text which is not ASCII."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), token.encode("utf-8", "surrogateescape")
    )


def _check_token(request: web.Request, token: str | None) -> bool:
    if token is None:
        return True
    given = request.headers.get("Authorization", "")
    scheme, _, value = given.partition(" ")
    if scheme.lower() == "bearer" and _same(value.strip(), token):
        return True
    # Browsers cannot set headers on a WebSocket or EventSource: accept ?token= there.
    query = request.query.get("token")
    if query is not None and _same(query, token):
        return True
    # The browser dashboard's login cookie; SameSite does not tell ports of one host apart,
    # so a cookie counts only on requests from this server's own pages.
    cookie = request.cookies.get(COOKIE)
    return cookie is not None and _same(cookie, token) and same_origin(request)


def _refuse(request: web.Request, message: str, code: int) -> web.Response:
    """An error as JSON, or as a short page for a browser asking for one."""
    if "text/html" in request.headers.get("Accept", ""):
        body = (
            f"<p>{html.escape(message)}.</p><p>Open the address <code>tuiqueue serve</code> "
            "printed, with its <code>?token=...</code>, once: the browser then keeps it.</p>"
        )
        return web.Response(
            text=page(f"{code}: not signed in", body), content_type="text/html", status=code
        )
    return error(message, code)


def make_app(
    engine: Engine,
    *,
    token: str | None,
    run_engine: bool = True,
    max_body: int = MAX_BODY,
    dashboard: BrowserDashboard | None = None,
) -> web.Application:
    """The app serving `engine`; with run_engine it runs engine.run() while serving; with a
    dashboard, `/` serves the dashboard to browsers."""

    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        if not _check_token(request, token):
            return _refuse(
                request, "missing or wrong token: send 'Authorization: Bearer <token>'", 401
            )
        if engine.read_only and request.method not in ("GET", "HEAD", "OPTIONS"):
            return error("this server is read-only: it changes nothing", 403)
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return error(exc.reason, exc.status)
        except Exception as exc:
            said = describe(exc)
            if said is None:
                # Details go to the log (never the client: they may name a store URL).
                logger.exception("%s %s failed", request.method, request.path)
                said = {"error": "internal error: see the server's log", "code": 500}
            return web.json_response(said, status=said["code"])

    app = web.Application(middlewares=[guard], client_max_size=max_body)
    app[ENGINE] = engine
    api.add_routes(app)
    stream.add_routes(app)
    ws.add_routes(app)
    if dashboard is not None:
        dashboard.add_routes(app)

    async def lifecycle(app: web.Application) -> AsyncIterator[None]:
        await engine.store.open()
        task: asyncio.Task[None] | None = None
        if run_engine:
            task = asyncio.create_task(engine.run())
            while not engine.running and not task.done():
                await asyncio.sleep(0.01)
            if task.done():
                task.result()  # the engine could not start: say why
        try:
            yield
        finally:
            if task is not None:
                await engine.stop()
                await task
            await engine.store.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(stream.close_all)
    app.on_shutdown.append(ws.close_all)
    return app
