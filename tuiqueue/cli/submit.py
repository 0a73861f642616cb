"""`tuiqueue types` and `tuiqueue submit`: what can run and how to queue it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from tuiqueue.cli.group import Settings, main, pass_settings
from tuiqueue.cli.support import (
    EXIT_INTERRUPTED,
    BadInput,
    echo_json,
    parse_pairs,
    safe,
)
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.params import ValidationError
from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.registry import REGISTRY, Registry

if TYPE_CHECKING:
    from tuiqueue.cli.direct import Direct
    from tuiqueue.engine.engine import Engine

T = TypeVar("T")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def types(settings: Settings, as_json: bool) -> None:
    """List the job types and their parameters."""
    settings.load()
    if as_json:
        echo_json([t.to_dict() for t in REGISTRY])
        return
    for kind in REGISTRY:
        click.echo(f"{safe(kind.name)}: {safe(kind.description)}")
        for param in kind.schema.params:
            click.echo(
                f"    {safe(param.name):<10} {safe(param.describe())}"
                + (f" — {safe(param.help)}" if param.help else "")
            )


def _read_batch(engine: Engine, source: str, defaults: dict[str, Any]) -> list[NewJob]:
    """The jobs of a JSON-lines file; `defaults` (the command's flags) apply to every line,
    and a line's own priority, delay or after wins."""
    stream = sys.stdin if source == "-" else None
    try:
        text = stream.read() if stream else Path(source).read_text(encoding="utf-8")
    except OSError as exc:
        raise BadInput(f"cannot read {source}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        where = "stdin" if stream else source
        raise BadInput(f"{where} is not UTF-8 text (byte {exc.start}: {exc.reason})") from exc
    batch = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        where = f"{'stdin' if stream else source} line {number}"
        try:
            try:
                spec = json.loads(line)
            except RecursionError:
                raise ValueError("JSON nested too deeply") from None
            if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
                raise ValueError('each line must be an object like {"type": "echo", "params": {}}')
            extra = set(spec) - {"type", "params", "priority", "delay", "after", "queue"}
            if extra:
                raise ValueError(f"unknown keys: {', '.join(sorted(extra))}")
            after = spec.get("after", defaults["after"]) or []
            batch.append(
                engine.new_job(
                    spec["type"],
                    spec.get("params") or {},
                    priority=spec.get("priority", defaults["priority"]),
                    delay=spec.get("delay", defaults["delay"]),
                    after=[after] if isinstance(after, int) else after,
                    max_attempts=defaults["max_attempts"],
                    timeout=defaults["timeout"],
                    queue=spec.get("queue", defaults["queue"]),
                )
            )
        except ValidationError as exc:
            raise BadInput(f"{where}: {'; '.join(exc.errors.values())}") from exc
        except (ValueError, LookupError, TypeError) as exc:
            raise BadInput(f"{where}: {exc.args[0] if exc.args else exc}") from exc
    if not batch:
        raise BadInput(f"{source}: no jobs found (one JSON object per line)")
    return batch


async def _submit_preset(
    engine: Engine,
    name: str,
    type_name: str | None,
    pairs: list[tuple[str, str]],
    **kw: Any,
) -> Job:
    """Queue a job from preset `name`, the -p pairs over its params."""
    preset = await engine.preset(name)
    if type_name and type_name != preset.type:
        raise BadInput(
            f"preset {safe(name)!r} makes {safe(preset.type)} jobs, not {safe(type_name)} "
            "(leave TYPE out with --preset)"
        )
    overrides: dict[str, Any] = {}
    if preset.type in engine.registry:  # (else submit_preset says the type is not loaded)
        overrides, errors = engine.registry.get(preset.type).schema.read_texts(pairs)
        if errors:
            raise ValidationError(errors)
    return await engine.submit_preset(name, overrides, **kw)


@main.command()
@click.argument("type_name", metavar="TYPE", required=False)
@click.option(
    "-p",
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A parameter (repeat for each; repeat a list parameter for each item).",
)
@click.option(
    "--priority",
    default=None,
    type=click.Choice(["low", "normal", "high", "critical"], case_sensitive=False),
    help="[default: normal, or the preset's]",
)
@click.option("--after", multiple=True, type=int, metavar="ID", help="Run after job ID completes.")
@click.option("--delay", type=float, metavar="SECONDS", help="Run no sooner than this from now.")
@click.option("--retries", type=click.IntRange(0, 100), default=None, help="Retries after failure.")
@click.option("--timeout", type=float, metavar="SECONDS", help="Fail a run that takes longer.")
@click.option(
    "--queue",
    "queue_name",
    default=None,
    metavar="NAME",
    help="The queue it joins (workers started with -Q take only their queues) "
    f"[default: {DEFAULT_QUEUE}, or the preset's].",
)
@click.option(
    "--preset",
    "preset_name",
    metavar="NAME",
    help="Start from preset NAME (`tuiqueue preset list`): its type, params, priority and "
    "queue; TYPE may be left out, -p and the flags above override it.",
)
@click.option(
    "--from",
    "source",
    metavar="FILE",
    help="Submit one JSON job per line (- for stdin); the flags above apply to every line.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the new job(s) as JSON.")
@click.option(
    "--wait",
    "wait_",
    is_flag=True,
    help="Then wait until they finish, like `tuiqueue wait` (same exit status; "
    "with --json, progress goes to stderr and the finished jobs are printed).",
)
@pass_settings
def submit(
    settings: Settings,
    type_name: str | None,
    params: tuple[str, ...],
    priority: str | None,
    after: tuple[int, ...],
    delay: float | None,
    retries: int | None,
    timeout: float | None,
    queue_name: str | None,
    preset_name: str | None,
    source: str | None,
    as_json: bool,
    wait_: bool,
) -> None:
    """Queue a job and print its id (TYPE, or --preset NAME, or --from FILE)."""

    max_attempts = None if retries is None else retries + 1
    flags: dict[str, Any] = {
        "priority": priority or "normal",
        "delay": delay,
        "max_attempts": max_attempts,
        "timeout": timeout,
        "queue": queue_name or DEFAULT_QUEUE,
    }

    def values(registry: Registry) -> dict[str, Any]:
        if not type_name:
            raise BadInput(
                "missing TYPE (see `tuiqueue types`), or use --preset NAME or --from FILE"
            )
        kind = registry.get(type_name)
        return kind.schema.parse_texts(parse_pairs(params), type_name)

    def now(direct: Direct) -> list[Job]:
        checked = values(direct.registry)  # (says so first when TYPE is missing)
        assert type_name is not None
        return [direct.submit(type_name, checked, after=after, **flags)]

    async def body(engine: Engine) -> list[Job]:
        if source:
            if type_name or preset_name:
                raise BadInput(
                    f"give either {'TYPE' if type_name else '--preset'} or --from FILE, not both"
                )
            if params:
                raise BadInput('with --from, give params in each line ("params": {...})')
            defaults = {**flags, "after": list(after)}
            return await engine.submit_many(_read_batch(engine, source, defaults))
        if preset_name:
            given = {"priority": priority, "queue": queue_name}
            kw = {k: v for k, v in given.items() if v is not None}
            job = await _submit_preset(
                engine,
                preset_name,
                type_name,
                parse_pairs(params),
                after=after,
                delay=delay,
                max_attempts=max_attempts,
                timeout=timeout,
                **kw,
            )
            return [job]
        checked = values(engine.registry)
        assert type_name is not None
        return [await engine.submit(type_name, checked, after=after, **flags)]

    # One job on SQLite: no event loop, no engine (direct.py); --from may be large (its
    # chunked submit is the async store's).
    direct = settings.direct and not source and not preset_name
    jobs = settings.call_now(now, types=True) if direct else settings.call(body)
    single = len(jobs) == 1 and not source
    if not as_json:
        for job in jobs:
            click.echo(job.id)
    if wait_:
        from tuiqueue.cli.follow import run_wait

        sys.stdout.flush()
        code, jobs = run_wait(settings, [j.id for j in jobs], sys.stderr if as_json else sys.stdout)
        if as_json and code != EXIT_INTERRUPTED:
            echo_json(jobs[0].to_dict() if single else [j.to_dict() for j in jobs])
        sys.exit(code)
    if as_json:
        echo_json(jobs[0].to_dict() if single else [j.to_dict() for j in jobs])
