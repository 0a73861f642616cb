"""`tuiqueue serve`: the HTTP API, SSE and WebSocket on one store, with an embedded worker."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import anyio
import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import BadInput, run, stderr
from tuiqueue.core.text import mask_url

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port", default=8765, show_default=True, type=click.IntRange(0, 65535), help="0: any free."
)
@click.option("--token", metavar="T", help="The API token (default: one kept beside the db).")
@click.option("--no-auth", is_flag=True, help="Accept requests without a token (local only).")
@click.option("--read-only", is_flag=True, help="Answer 403 to every change; run no worker.")
@click.option("--no-worker", is_flag=True, help="Run no jobs here; only serve and watch.")
@click.option("-c", "--concurrency", type=click.IntRange(1, 10_000), default=3, show_default=True)
@pass_settings
def serve(
    settings: Settings,
    host: str,
    port: int,
    token: str | None,
    no_auth: bool,
    read_only: bool,
    no_worker: bool,
    concurrency: int,
) -> None:
    """Serve the job API over HTTP (REST, SSE, WebSocket). Ctrl-C/SIGTERM stops gracefully."""
    try:
        from aiohttp import web

        from tuiqueue.server import load_token, make_app, token_path
        from tuiqueue.server.browser import BrowserDashboard
    except ImportError as exc:
        raise BadInput(
            f"the server needs aiohttp and textual-serve ({exc}): pip install 'tuiqueue[serve]'"
        ) from exc
    if no_auth and token:
        raise BadInput("give either --token or --no-auth, not both")
    if no_auth and host not in LOCAL_HOSTS:
        raise BadInput(
            f"--no-auth on {host} would let anyone on the network run jobs: "
            "listen on 127.0.0.1, or drop --no-auth and use the token"
        )
    if token is not None and not token.strip():
        raise BadInput("--token must not be empty")
    engine = settings.engine(worker=not no_worker, read_only=read_only, concurrency=concurrency)
    where = None
    if not no_auth and token is None:
        where = token_path(settings.db)
        try:
            token, _ = load_token(where)
        except OSError as exc:
            raise BadInput(f"cannot keep the token in {where}: {exc.strerror}") from exc

    dashboard = BrowserDashboard(*_dashboard_command(settings, read_only))
    if settings.db == ":memory:":
        dashboard.refused = (
            "the browser dashboard needs a store other processes can open: "
            "serve a SQLite file (--db PATH) or a Redis URL, not :memory:"
        )

    async def body() -> None:
        app = make_app(engine, token=None if no_auth else token, dashboard=dashboard)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            site = web.TCPSite(runner, host, port)
            try:
                await site.start()
            except OSError as exc:
                raise BadInput(f"cannot listen on {host}:{port}: {exc.strerror}") from exc
            bound = runner.addresses[0][1] if runner.addresses else port
            shown = f"[{host}]" if ":" in host else host
            mode = "read-only" if read_only else ("no worker" if no_worker else "with a worker")
            stderr(f"serving {mask_url(settings.db)} on http://{shown}:{bound}/ ({mode})")
            if no_auth:
                stderr("no token: anyone on this machine may use the API")
            else:
                kept = f" (kept in {where})" if where else ""
                stderr(f"token: {token}{kept}")
                stderr(f"  dashboard in a browser: http://{shown}:{bound}/?token={token}")
                stderr(
                    f"  curl -H 'Authorization: Bearer {token}' http://{shown}:{bound}/api/stats"
                )
            with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
                async for signum in received:
                    stderr(f"{signal.Signals(signum).name}: stopping (finishing running jobs)")
                    break
        finally:
            await runner.cleanup()
        stderr(f"server stopped; {engine.processed} job(s) processed")

    run(body)


def _dashboard_command(settings: Settings, read_only: bool) -> tuple[list[str], dict[str, str]]:
    """How a browser tab's dashboard is started: attached to this store, never a worker; the
    store goes in its environment (a command line is visible to every user of the machine)."""
    db = settings.db
    if db != ":memory:" and "://" not in db:
        db = str(Path(db).expanduser().absolute())
    env = {"TUIQUEUE_DB": db}
    if settings.jobs:
        env["TUIQUEUE_JOBS"] = os.pathsep.join(settings.jobs)
    mode = "--read-only" if read_only else "--no-worker"
    return [sys.executable, "-m", "tuiqueue", mode], env
