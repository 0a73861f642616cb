"""`tuiqueue queue`: pause, resume and cap queues (all of them, or one by name)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import BadInput, echo_json
from tuiqueue.core.queues import QueueInfo, check_queue_name

if TYPE_CHECKING:
    from tuiqueue.engine.engine import Engine


def _name(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return check_queue_name(value)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc


@main.group(invoke_without_command=True)
@click.pass_context
def queue(ctx: click.Context) -> None:
    """Pause, resume or cap queues; `queue list` shows them. Without NAME: every queue."""
    if ctx.invoked_subcommand is None:
        ctx.invoke(status)


def _pause(settings: Settings, name: str | None, paused: bool) -> None:
    async def body(engine: Engine) -> None:
        if name is None:
            await engine.set_queue_paused(paused)
        else:
            await engine.pause_queue(name, paused)

    settings.call(body)
    click.echo(f"queue {name + ' ' if name else ''}{'paused' if paused else 'running'}")


@queue.command()
@click.argument("name", required=False)
@pass_settings
def pause(settings: Settings, name: str | None) -> None:
    """Start no new jobs from queue NAME (without NAME: from any queue)."""
    _pause(settings, _name(name), True)


@queue.command()
@click.argument("name", required=False)
@pass_settings
def resume(settings: Settings, name: str | None) -> None:
    """Start jobs from queue NAME again (without NAME: lift the pause of every queue)."""
    _pause(settings, _name(name), False)


@queue.command()
@pass_settings
def status(settings: Settings) -> None:
    """Whether every queue is paused (the store-wide switch)."""
    paused = settings.call(lambda e: e.store.queue_paused())
    click.echo(f"queue {'paused' if paused else 'running'}")


@queue.command()
@click.argument("name")
@click.argument("limit", metavar="N|none")
@pass_settings
def limit(settings: Settings, name: str, limit: str) -> None:
    """Run at most N jobs of queue NAME at once across every worker (none: no cap)."""
    checked = _name(name)
    assert checked is not None
    if limit.lower() in ("none", "off", "-"):
        cap = None
    else:
        try:
            cap = int(limit)
        except ValueError:
            cap = -1
        if cap < 0:
            raise BadInput(f"N must be a whole number, 0 or more, or none (got {limit!r})")
    settings.call(lambda e: e.limit_queue(checked, cap))
    click.echo(f"queue {checked}: {'no limit' if cap is None else f'at most {cap} running'}")


def queue_line(q: QueueInfo) -> str:
    """One row of `tuiqueue queue list`."""
    cap = "-" if q.limit is None else str(q.limit)
    state = "paused" if q.paused else "running"
    return f"{q.name:<20} {state:<8} {q.running:>7}/{cap:<6} {q.pending:>8}"


@queue.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_queues(settings: Settings, as_json: bool) -> None:
    """Every queue with queued or running jobs or settings: paused, running/limit, pending."""

    async def body(engine: Engine) -> tuple[list[QueueInfo], bool]:
        return await engine.queues(), await engine.store.queue_paused()

    rows, all_paused = settings.call(body)
    if as_json:
        echo_json({"all_paused": all_paused, "queues": [q.to_dict() for q in rows]})
        return
    if all_paused:
        click.echo("every queue is paused (tuiqueue queue resume)")
    if not rows:
        click.echo("no queued jobs and no queue settings")
        return
    click.echo(f"{'QUEUE':<20} {'STATE':<8} {'RUNNING/LIMIT':>14} {'PENDING':>8}")
    for q in rows:
        click.echo(queue_line(q))
