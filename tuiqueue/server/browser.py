"""The dashboard in a browser: textual-serve runs one attached dashboard process per tab."""

from __future__ import annotations

import asyncio
import contextlib
import html
import shlex
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from string import Template
from typing import Any

from aiohttp import WSMsgType, web
from textual_serve.app_service import AppService
from textual_serve.download_manager import DownloadManager

from tuiqueue.core import logs
from tuiqueue.server.ws import same_origin

logger = logs.logger(__name__)

MAX_SESSIONS = 16
"""Browser tabs served at once: each runs a dashboard process, so they are bounded."""
STOP_WAIT = 5.0
"""Seconds a tab's dashboard has to quit when its tab closes, before it is killed."""
COOKIE = "tuiqueue_token"


@dataclass
class BrowserDashboard:
    """Serves `/`: each browser session gets its own dashboard process (`command`), attached
    to the server's store, which never runs jobs; the store keeps every tab in sync."""

    command: list[str]
    env: dict[str, str]
    title: str = "tuiqueue"
    refused: str | None = None
    """Why no dashboard can be served (a :memory: store is private to this process)."""
    sessions: set[web.WebSocketResponse] = field(default_factory=set)
    downloads: DownloadManager = field(default_factory=DownloadManager)

    def add_routes(self, app: web.Application) -> None:
        """Register `/`, the terminal's WebSocket and textual-serve's static files."""
        app.router.add_get("/", self.index)
        app.router.add_get("/app/ws", self.session)
        app.router.add_get("/app/download/{key}", self.download)
        app.router.add_static("/app/static", _textual_serve_dir() / "static")
        app.on_shutdown.append(self.close_all)

    async def index(self, request: web.Request) -> web.StreamResponse:
        """GET /: the page; `/?token=T` sets the login cookie and drops the token from the URL."""
        token = request.query.get("token")
        if token is not None:
            login = web.HTTPSeeOther("/")
            login.set_cookie(
                COOKIE,
                token,
                httponly=True,
                samesite="Strict",
                secure=request.secure,
                path="/",
            )
            raise login
        if self.refused is not None:
            return web.Response(
                text=page("tuiqueue", f"<p>{html.escape(self.refused)}</p>"),
                content_type="text/html",
                status=503,
            )
        socket = "wss" if request.secure else "ws"
        size = request.query.get("fontsize", "16")
        text = _TEMPLATE.substitute(
            title=html.escape(self.title),
            static="/app/static/",
            websocket=html.escape(f"{socket}://{request.host}/app/ws"),
            font_size=html.escape(size if size.isdigit() else "16"),
        )
        response = web.Response(text=text, content_type="text/html")
        response.headers["Cache-Control"] = "no-store"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def download(self, request: web.Request) -> web.StreamResponse:
        """GET /app/download/{key}: a file the dashboard offers (a saved screenshot)."""
        key = request.match_info["key"]
        try:
            meta = await self.downloads.get_download_metadata(key)
        except KeyError:
            raise web.HTTPNotFound(reason="no such download") from None
        response = web.StreamResponse()
        response.headers["Content-Type"] = meta.mime_type + (
            f"; charset={meta.encoding}" if meta.encoding else ""
        )
        disposition = "inline" if meta.open_method == "browser" else "attachment"
        response.headers["Content-Disposition"] = f'{disposition}; filename="{meta.file_name}"'
        await response.prepare(request)
        async for chunk in self.downloads.download(key):
            await response.write(chunk)
        await response.write_eof()
        return response

    async def session(self, request: web.Request) -> web.StreamResponse:
        """GET /app/ws: the terminal of one tab, a dashboard process of its own."""
        if not same_origin(request):
            raise web.HTTPForbidden(reason="this page is only served to pages of this server")
        if self.refused is not None:
            raise web.HTTPServiceUnavailable(reason=self.refused)
        if len(self.sessions) >= MAX_SESSIONS:
            raise web.HTTPServiceUnavailable(
                reason=f"{MAX_SESSIONS} browser dashboards are open already: close one"
            )
        width = _size(request.query.get("width"), 80)
        height = _size(request.query.get("height"), 24)
        sock = web.WebSocketResponse(heartbeat=15)
        await sock.prepare(request)
        self.sessions.add(sock)
        service = _Dashboard(self, sock)
        try:
            await service.start(width, height)
            async for message in sock:
                if message.type != WSMsgType.TEXT:
                    continue
                await _forward(message.json(), sock, service)
        except (asyncio.CancelledError, ConnectionResetError):
            pass
        except Exception:
            logger.exception("a browser dashboard failed")
        finally:
            self.sessions.discard(sock)
            await service.end()
            with contextlib.suppress(Exception):
                await sock.close()
        return sock

    async def close_all(self, app: web.Application) -> None:
        """Close every tab's terminal (on shutdown), which ends their dashboards."""
        for sock in list(self.sessions):
            await sock.close(code=1001, message=b"server shutdown")


async def _forward(envelope: Any, sock: web.WebSocketResponse, service: _Dashboard) -> None:
    """One message of textual.js: keys, a resize, focus, or a ping."""
    if not isinstance(envelope, list) or not envelope:
        return
    kind = envelope[0]
    data = envelope[1] if len(envelope) > 1 else None
    if kind == "stdin" and isinstance(data, str):
        await service.send_bytes(data.encode("utf-8"))
    elif kind == "resize" and isinstance(data, dict):
        await service.set_terminal_size(_size(data.get("width"), 80), _size(data.get("height"), 24))
    elif kind == "ping":
        await sock.send_json(["pong", data])
    elif kind == "blur":
        await service.blur()
    elif kind == "focus":
        await service.focus()


def _size(value: object, default: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        return default
    return min(max(number, 10), 1000)


def _textual_serve_dir() -> Path:
    return Path(str(resources.files("textual_serve")))


class _Service(AppService):
    """textual-serve's AppService, with the server's store in the dashboard's environment
    rather than on a command line anyone can read with ps."""

    def __init__(self, extra_env: dict[str, str], *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.extra_env = extra_env

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        built: dict[str, str] = super()._build_environment(width, height)
        built.update(self.extra_env)
        return built


class _Dashboard:
    """One tab's dashboard process."""

    def __init__(self, owner: BrowserDashboard, sock: web.WebSocketResponse) -> None:
        self.service = _Service(
            owner.env,
            shlex.join(owner.command),
            write_bytes=sock.send_bytes,
            write_str=sock.send_str,
            close=sock.close,
            download_manager=owner.downloads,
            debug=False,
        )
        self.started = False

    async def start(self, width: int, height: int) -> None:
        """Start the dashboard process at the tab's size."""
        await self.service.start(width, height)
        self.started = True

    async def send_bytes(self, data: bytes) -> None:
        """Keys typed in the tab."""
        await self.service.send_bytes(data)

    async def set_terminal_size(self, width: int, height: int) -> None:
        """The tab was resized."""
        await self.service.set_terminal_size(width, height)

    async def blur(self) -> None:
        """The tab lost focus."""
        await self.service.blur()

    async def focus(self) -> None:
        """The tab got focus."""
        await self.service.focus()

    async def end(self) -> None:
        """Ask the dashboard to quit; kill it if it has not within STOP_WAIT seconds."""
        if not self.started:
            return
        self.started = False
        process = self.service._process
        try:
            await asyncio.wait_for(self.service.stop(), STOP_WAIT)
        except (TimeoutError, ConnectionResetError, BrokenPipeError):
            pass
        except Exception:
            logger.exception("a browser dashboard did not stop cleanly")
        if process is not None and process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()


def page(title: str, body: str) -> str:
    """A small HTML page (a 401 for a browser, a refusal); `body` is already escaped."""
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title>"
        "<style>body{background:#0c181f;color:#e0e0e0;font:16px monospace;margin:3em}"
        "code{color:#8fd}</style></head>"
        f"<body><h1>{html.escape(title)}</h1>{body}</body></html>"
    )


_TEMPLATE = Template(
    (resources.files("tuiqueue.server") / "dashboard.html").read_text(encoding="utf-8")
)
