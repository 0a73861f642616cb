"""`tuiqueue schedule`: add, list, pause, resume, remove and trigger schedules."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import BadInput, echo_json, parse_pairs, safe, stamp
from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.schedule import MISSED_POLICIES, SKIP, Schedule, UnknownSchedule

if TYPE_CHECKING:
    from tuiqueue.engine.engine import Engine

T = TypeVar("T")


@contextmanager
def _known() -> Iterator[None]:
    try:
        yield
    except UnknownSchedule as exc:
        raise BadInput(str(exc)) from exc


def _call(settings: Settings, fn: Callable[[Engine], Awaitable[T]]) -> T:
    with _known():
        return settings.call(fn)


@main.group()
def schedule() -> None:
    """Make jobs on a cron expression or an interval (fired by any running worker)."""


@schedule.command("add")
@click.argument("name")
@click.argument("type_name", metavar="TYPE")
@click.option(
    "--cron", metavar="EXPR", help='Cron: 5 fields, or 6 with seconds first ("*/5 * * * *").'
)
@click.option("--every", metavar="DUR", help="An interval: 30s, 5m, 1h, 1h30m, 1d.")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter, as for `tuiqueue submit`.",
)
@click.option(
    "--priority",
    default="normal",
    show_default=True,
    type=click.Choice(["low", "normal", "high", "critical"], case_sensitive=False),
)
@click.option("--queue", "queue_name", default=DEFAULT_QUEUE, show_default=True, metavar="NAME")
@click.option("--tz", default="", metavar="ZONE", help="Time zone of --cron (default: local).")
@click.option(
    "--missed",
    type=click.Choice(MISSED_POLICIES),
    default=SKIP,
    show_default=True,
    help="After downtime: skip the missed slots, or catch up with one run for them all.",
)
@click.option(
    "--no-overlap", is_flag=True, help="Skip a slot while the previous run is unfinished."
)
@click.option("--paused", is_flag=True, help="Add it paused (`schedule resume` starts it).")
@pass_settings
def add(
    settings: Settings,
    name: str,
    type_name: str,
    cron: str | None,
    every: str | None,
    params: tuple[str, ...],
    priority: str,
    queue_name: str,
    tz: str,
    missed: str,
    no_overlap: bool,
    paused: bool,
) -> None:
    """Add schedule NAME making TYPE jobs (--cron EXPR or --every DUR)."""
    if (cron is None) == (every is None):
        raise BadInput("give either --cron EXPR or --every DUR")

    async def body(engine: Engine) -> Schedule:
        values = engine.registry.get(type_name).schema.parse_texts(parse_pairs(params), type_name)
        return await engine.schedule(
            name,
            type_name,
            values,
            cron=cron,
            every=every,
            tz=tz,
            priority=priority,
            queue=queue_name,
            missed=missed,
            overlap=not no_overlap,
            paused=paused,
        )

    made = _call(settings, body)
    nxt = "paused" if made.paused else f"next run {stamp(made.next_run)}"
    click.echo(f"schedule {safe(made.name)}: {made.words} ({safe(made.tz)}), {nxt}")


def _row(schedule: Schedule, outcome: str, now: float) -> dict[str, Any]:
    data = schedule.to_dict()
    data["last_outcome"] = outcome
    data["next_in"] = (
        None if schedule.paused or schedule.next_run is None else schedule.next_run - now
    )
    return data


@schedule.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_(settings: Settings, as_json: bool) -> None:
    """Every schedule: when, next run, last run and how it went."""

    async def body(engine: Engine) -> tuple[list[Schedule], dict[str, str], float]:
        schedules = await engine.schedules()
        return schedules, await engine.schedule_outcomes(schedules), engine.clock()

    schedules, outcomes, now = _call(settings, body)
    if as_json:
        echo_json([_row(s, outcomes[s.name], now) for s in schedules])
        return
    if not schedules:
        click.echo("no schedules (add one with `tuiqueue schedule add`)")
        return
    for s in schedules:
        state = "paused" if s.paused else f"next {stamp(s.next_run)}"
        last = "never" if s.last_run is None else f"{stamp(s.last_run)} {outcomes[s.name]}"
        job = "" if s.last_job is None else f" (job {s.last_job})"
        click.echo(
            f"{safe(s.name)}: {safe(s.type)} {s.words} ({safe(s.tz)}); {state}; "
            f"last {safe(last)}{job}"
        )


def _steer(
    settings: Settings, name: str, fn: Callable[[Engine], Awaitable[Any]], said: str
) -> None:
    _call(settings, fn)
    click.echo(f"schedule {safe(name)} {said}")


@schedule.command()
@click.argument("name")
@pass_settings
def pause(settings: Settings, name: str) -> None:
    """Stop schedule NAME firing (until resume)."""
    _steer(settings, name, lambda e: e.pause_schedule(name), "paused")


@schedule.command()
@click.argument("name")
@pass_settings
def resume(settings: Settings, name: str) -> None:
    """Fire schedule NAME again from its next slot."""
    _steer(settings, name, lambda e: e.resume_schedule(name), "resumed")


@schedule.command()
@click.argument("name")
@pass_settings
def remove(settings: Settings, name: str) -> None:
    """Delete schedule NAME (the jobs it made stay)."""
    _steer(settings, name, lambda e: e.remove_schedule(name), "removed")


@schedule.command("run")
@click.argument("name")
@pass_settings
def run_(settings: Settings, name: str) -> None:
    """Make schedule NAME's job now and print its id (its slots stay as they were)."""
    job = _call(settings, lambda e: e.run_schedule(name))
    click.echo(job.id)
