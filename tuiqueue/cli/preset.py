"""`tuiqueue preset`: save, list, show and remove presets (named forms that
`tuiqueue submit --preset NAME` and every dashboard on the store can use)."""

from __future__ import annotations

import json
import shlex
import time
from typing import TYPE_CHECKING

import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import BadInput, echo_json, parse_pairs, safe
from tuiqueue.core.params import ValidationError
from tuiqueue.core.preset import Preset, PresetExists
from tuiqueue.core.queues import DEFAULT_QUEUE

if TYPE_CHECKING:
    from tuiqueue.engine.engine import Engine


def _stamp(when: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(when))


def params_text(params: dict[str, object]) -> str:
    """A preset's params on one line, as -p takes them (seconds=2 message='hi there'; a list
    in JSON), control characters shown as escapes."""
    if not params:
        return "(no params: the type's defaults)"
    parts = [
        f"{name}={shlex.quote(value) if isinstance(value, str) else json.dumps(value)}"
        for name, value in params.items()
    ]
    return safe(" ".join(parts))


@main.group()
def preset() -> None:
    """Save a job's type, params, priority and queue under a name; queue it again with
    `tuiqueue submit --preset NAME`. Presets live in the store: every dashboard and
    command line on it sees them."""


@preset.command("save")
@click.argument("name")
@click.argument("type_name", metavar="TYPE")
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter, as for `tuiqueue submit` (those left out take the type's default).",
)
@click.option(
    "--priority",
    default="normal",
    show_default=True,
    type=click.Choice(["low", "normal", "high", "critical"], case_sensitive=False),
)
@click.option("--queue", "queue_name", default=DEFAULT_QUEUE, show_default=True, metavar="NAME")
@click.option("--force", is_flag=True, help="Overwrite a preset of the same name.")
@pass_settings
def save(
    settings: Settings,
    name: str,
    type_name: str,
    params: tuple[str, ...],
    priority: str,
    queue_name: str,
    force: bool,
) -> None:
    """Save preset NAME making TYPE jobs (refused if NAME is taken, unless --force)."""
    pairs = parse_pairs(params)

    async def body(engine: Engine) -> tuple[Preset, bool]:
        # Read, not filled in: the preset keeps what was given, the type's defaults the rest.
        values, errors = engine.registry.get(type_name).schema.read_texts(pairs)
        if errors:
            raise ValidationError(errors)
        existed = force and await engine.store.preset(name) is not None
        try:
            made = await engine.save_preset(
                name, type_name, values, priority=priority, queue=queue_name, replace=force
            )
        except PresetExists as exc:
            old = exc.existing
            raise BadInput(
                f"a preset named {safe(old.name)!r} exists already ({safe(old.type)}, saved "
                f"{_stamp(old.updated_at)}): pass --force to overwrite it, or pick another name"
            ) from exc
        return made, existed

    made, existed = settings.call(body)
    click.echo(
        f"preset {safe(made.name)} {'overwritten' if existed else 'saved'}: {safe(made.type)} "
        f"{params_text(made.params)} (priority {made.priority}, queue {safe(made.queue)})"
    )


@preset.command("list")
@click.option("--type", "type_name", metavar="TYPE", help="Only the presets of this job type.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_(settings: Settings, type_name: str | None, as_json: bool) -> None:
    """Every preset (or one job type's), by name."""
    presets = settings.call(lambda e: e.presets(type_name), types=False)
    if as_json:
        echo_json([p.to_dict() for p in presets])
        return
    if not presets:
        which = f" for {safe(type_name)}" if type_name else ""
        click.echo(f"no presets{which} (save one with `tuiqueue preset save NAME TYPE -p ...`)")
        return
    width = max(len(safe(p.name)) for p in presets)
    for p in presets:
        where = "" if p.queue == DEFAULT_QUEUE else f" queue {safe(p.queue)}"
        click.echo(
            f"{safe(p.name):<{width}}  {safe(p.type):<12} {p.priority!s:<8}"
            f"{where}  {params_text(p.params)}"
        )


@preset.command("show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def show(settings: Settings, name: str, as_json: bool) -> None:
    """One preset: its type, params, priority, queue and when it was saved."""
    p = settings.call(lambda e: e.preset(name), types=False)
    if as_json:
        echo_json(p.to_dict())
        return
    rows = [
        ("name", safe(p.name)),
        ("type", safe(p.type)),
        ("params", params_text(p.params)),
        ("priority", str(p.priority)),
        ("queue", safe(p.queue)),
        ("created", _stamp(p.created_at)),
        ("updated", _stamp(p.updated_at)),
    ]
    for key, value in rows:
        click.echo(f"{key + ':':<10} {value}")
    click.echo(f"submit:    tuiqueue submit --preset {safe(p.name)} [-p NAME=VALUE ...]")


@preset.command("remove")
@click.argument("name")
@pass_settings
def remove(settings: Settings, name: str) -> None:
    """Delete preset NAME (jobs made from it stay)."""
    gone = settings.call(lambda e: e.remove_preset(name), types=False)
    click.echo(f"preset {safe(gone.name)} removed")
