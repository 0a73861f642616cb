"""`tuiqueue workers`: every worker registered on the store, alive or dead."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import (
    ago,
    echo_json,
    safe,
)
from tuiqueue.core.records import WORKERS_KEPT_FOR, WorkerInfo

if TYPE_CHECKING:
    from tuiqueue.engine.engine import Engine

T = TypeVar("T")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option(
    "--all", "show_all", is_flag=True, help="Also workers stopped or dead for over an hour."
)
@pass_settings
def workers(settings: Settings, as_json: bool, show_all: bool) -> None:
    """List the workers on this store: alive ones, and those gone within the last hour."""
    import time

    async def body(engine: Engine) -> tuple[list[WorkerInfo], float]:
        # The engine's own liveness rule, so this agrees with crash recovery.
        return await engine.workers(), float(getattr(engine, "dead_after", 15.0))

    rows, dead_after = settings.call(body, types=False)
    now = time.time()
    if not show_all:
        rows = [w for w in rows if w.alive(now, dead_after) or w.gone_for(now) <= WORKERS_KEPT_FOR]
    if as_json:
        echo_json([w.to_dict(now, dead_after) for w in rows])
        return
    if not rows:
        click.echo(
            "no workers have registered on this store"
            if show_all
            else "no worker is running or stopped within the hour (--all lists older ones)"
        )
        return
    click.echo(
        f"{'STATE':<8} {'HOST':<20} {'PID':>7} {'CONC':>5} {'RUN':>5} {'DONE':>8}  "
        f"{'HEARTBEAT':<14} ID"
    )
    for w in rows:
        state = "stopped" if w.stopped else ("alive" if w.alive(now, dead_after) else "dead")
        click.echo(
            f"{state:<8} {safe(w.host)[:20]:<20} {w.pid:>7} {w.concurrency:>5} "
            f"{w.running:>5} {w.processed:>8}  {ago(w.heartbeat):<14} {safe(w.id)}"
        )
        if w.error:
            click.echo(f"         error: {safe(w.error)}")
