"""The `tuiqueue` command line: builds a store and an engine (or the dashboard), nothing more."""

from __future__ import annotations

import json
import os
import signal
import sys
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import anyio
import click
from anyio.abc import TaskStatus

from tuiqueue.cli_support import (
    LIST_HEADER,
    BadInput,
    ago,
    echo_json,
    friendly_errors,
    human_seconds,
    job_line,
    parse_duration,
    run,
    safe,
    show_job,
    stderr,
)
from tuiqueue.core.engine import RETENTION_KEEP, Engine
from tuiqueue.core.events import EventKind, Subscription
from tuiqueue.core.job import NewJob
from tuiqueue.core.params import ValidationError
from tuiqueue.core.registry import REGISTRY, load_job_types
from tuiqueue.core.runner import abandoned_jobs
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.store import default_db, open_store
from tuiqueue.store.base import WorkerInfo

T = TypeVar("T")
STATUS_NAMES = [s.value for s in Status]


class Settings:
    """Global options, passed to every subcommand."""

    def __init__(self, db: str, jobs: Sequence[str]) -> None:
        self.db = db
        self.jobs = list(jobs)
        self.loaded = False

    def load(self) -> None:
        """Load built-in, installed and --jobs job types (once)."""
        if not self.loaded:
            with friendly_errors():
                load_job_types(self.jobs)
            self.loaded = True

    def engine(self, **kw: Any) -> Engine:
        """An engine on the chosen store (opened by the caller)."""
        self.load()
        with friendly_errors():
            return Engine(open_store(self.db), **kw)

    def call(self, fn: Callable[[Engine], Awaitable[T]], **kw: Any) -> T:
        """Open the store, run fn(engine), close."""
        engine = self.engine(**kw)

        async def body() -> T:
            await engine.store.open()
            try:
                return await fn(engine)
            finally:
                await engine.store.close()

        return run(body)


def _env_jobs() -> list[str]:
    raw = os.environ.get("TUIQUEUE_JOBS", "")
    return [part for part in raw.replace(os.pathsep, ",").split(",") if part.strip()]


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    metavar="PATH",
    help="SQLite file, :memory: or redis://host:port/db "
    "(default: $TUIQUEUE_DB or the user data folder).",
)
@click.option(
    "--jobs",
    "jobs",
    metavar="MODULE",
    multiple=True,
    help="Module or .py file defining job types (repeatable; also $TUIQUEUE_JOBS).",
)
@click.version_option(package_name="tuiqueue")
@click.pass_context
def main(ctx: click.Context, db: str | None, jobs: tuple[str, ...]) -> None:
    """Run, queue and watch jobs from your terminal. With no command, open the dashboard."""
    settings = Settings(db or default_db(), [*_env_jobs(), *jobs])
    ctx.obj = settings
    if ctx.invoked_subcommand is None:
        settings.load()
        try:
            from tuiqueue.ui.app import run_dashboard
        except ImportError as exc:
            raise BadInput(f"the dashboard is not available ({exc})") from exc
        with friendly_errors():
            run_dashboard(settings.db)


pass_settings = click.make_pass_decorator(Settings)


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
        click.echo(f"{kind.name}: {kind.description}")
        for param in kind.schema.params:
            click.echo(
                f"    {param.name:<10} {param.describe()}"
                + (f" — {param.help}" if param.help else "")
            )


def _parse_pairs(pairs: Sequence[str]) -> list[tuple[str, str]]:
    out = []
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise BadInput(f"-p takes NAME=VALUE (got {pair!r})")
        out.append((name.strip(), value))
    return out


def _read_batch(engine: Engine, source: str) -> list[NewJob]:
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
            extra = set(spec) - {"type", "params", "priority", "delay", "after"}
            if extra:
                raise ValueError(f"unknown keys: {', '.join(sorted(extra))}")
            after = spec.get("after") or []
            batch.append(
                engine.new_job(
                    spec["type"],
                    spec.get("params") or {},
                    priority=spec.get("priority", "normal"),
                    delay=spec.get("delay"),
                    after=[after] if isinstance(after, int) else after,
                )
            )
        except ValidationError as exc:
            raise BadInput(f"{where}: {'; '.join(exc.errors.values())}") from exc
        except (ValueError, LookupError, TypeError) as exc:
            raise BadInput(f"{where}: {exc.args[0] if exc.args else exc}") from exc
    if not batch:
        raise BadInput(f"{source}: no jobs found (one JSON object per line)")
    return batch


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
    default="normal",
    show_default=True,
    type=click.Choice(["low", "normal", "high", "critical"], case_sensitive=False),
)
@click.option("--after", multiple=True, type=int, metavar="ID", help="Run after job ID completes.")
@click.option("--delay", type=float, metavar="SECONDS", help="Run no sooner than this from now.")
@click.option("--retries", type=click.IntRange(0, 100), default=None, help="Retries after failure.")
@click.option("--timeout", type=float, metavar="SECONDS", help="Fail a run that takes longer.")
@click.option(
    "--from", "source", metavar="FILE", help="Submit one JSON job per line (- for stdin)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the new job(s) as JSON.")
@pass_settings
def submit(
    settings: Settings,
    type_name: str | None,
    params: tuple[str, ...],
    priority: str,
    after: tuple[int, ...],
    delay: float | None,
    retries: int | None,
    timeout: float | None,
    source: str | None,
    as_json: bool,
) -> None:
    """Queue a job and print its id."""

    async def body(engine: Engine) -> None:
        if source:
            if type_name:
                raise BadInput("give either TYPE or --from FILE, not both")
            jobs = await engine.submit_many(_read_batch(engine, source))
        else:
            if not type_name:
                raise BadInput("missing TYPE (see `tuiqueue types`), or use --from FILE")
            kind = engine.registry.get(type_name)
            values = kind.schema.parse_texts(_parse_pairs(params), type_name)
            jobs = [
                await engine.submit(
                    type_name,
                    values,
                    priority=priority,
                    after=after,
                    delay=delay,
                    max_attempts=None if retries is None else retries + 1,
                    timeout=timeout,
                )
            ]
        if as_json:
            echo_json(
                jobs[0].to_dict() if len(jobs) == 1 and not source else [j.to_dict() for j in jobs]
            )
        else:
            for job in jobs:
                click.echo(job.id)

    settings.call(body)


@main.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(STATUS_NAMES),
    help="Only jobs in this status (repeatable).",
)
@click.option("--type", "type_name", help="Only jobs of this type.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def list_jobs(
    settings: Settings, statuses: tuple[str, ...], type_name: str | None, limit: int, as_json: bool
) -> None:
    """List jobs, newest first."""

    async def body(engine: Engine) -> None:
        jobs = await engine.store.list(
            statuses={Status(s) for s in statuses} or None, type=type_name, limit=limit
        )
        if as_json:
            echo_json([j.to_dict() for j in jobs])
            return
        click.echo(LIST_HEADER)
        for job in jobs:
            click.echo(job_line(job))

    settings.call(body)


@main.command()
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def show(settings: Settings, job_id: int, as_json: bool) -> None:
    """Show one job: params, times, result, error."""
    job = settings.call(lambda e: e.get(job_id))
    if as_json:
        echo_json(job.to_dict())
    else:
        show_job(job)


@main.command()
@click.argument("job_id", type=int)
@click.option("-f", "--follow", is_flag=True, help="Keep printing until the job ends.")
@pass_settings
def logs(settings: Settings, job_id: int, follow: bool) -> None:
    """Print a job's log."""

    async def body(engine: Engine) -> None:
        after, warned = 0, False
        while True:
            page = await engine.store.logs(job_id, after)
            if page.dropped and not warned and page.lines and page.lines[-1][0] > 100:
                warned = True
            for seq, line in page.lines:
                if seq > 100 and after <= 100 and page.dropped:
                    click.echo(f"[… {page.dropped} lines dropped …]")
                click.echo(safe(line))
                after = seq
            if not follow:
                return
            job = await engine.get(job_id)
            if job.status in TERMINAL and not page.lines:
                return
            await anyio.sleep(0.25)

    settings.call(body)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def stats(settings: Settings, as_json: bool) -> None:
    """Counts per status."""
    result = settings.call(lambda e: e.stats())
    if as_json:
        echo_json(result.to_dict())
        return
    for status, count in result.counts.items():
        click.echo(f"{status.value:<10} {count}")
    click.echo(f"{'queue':<10} {'paused' if result.queue_paused else 'running'}")


def _each(settings: Settings, ids: Sequence[int], verb: str) -> None:
    async def body(engine: Engine) -> None:
        for job_id in ids:
            job = await getattr(engine, verb)(job_id)
            note = " (stopping)" if verb == "cancel" and job.status not in TERMINAL else ""
            click.echo(f"job {job.id}: {job.status}{note}")

    settings.call(body)


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_settings
def cancel(settings: Settings, ids: tuple[int, ...]) -> None:
    """Cancel jobs (queued ones never start; running ones are stopped)."""
    _each(settings, ids, "cancel")


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_settings
def pause(settings: Settings, ids: tuple[int, ...]) -> None:
    """Pause jobs."""
    _each(settings, ids, "pause")


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_settings
def resume(settings: Settings, ids: tuple[int, ...]) -> None:
    """Resume paused jobs."""
    _each(settings, ids, "resume")


@main.command()
@click.argument("job_id", type=int)
@pass_settings
def rerun(settings: Settings, job_id: int) -> None:
    """Queue a new job with the same type and params; print its id."""
    job = settings.call(lambda e: e.rerun(job_id))
    click.echo(job.id)


@main.command()
@click.argument("ids", nargs=-1, type=int, required=True)
@pass_settings
def delete(settings: Settings, ids: tuple[int, ...]) -> None:
    """Delete jobs that are not running."""
    deleted = settings.call(lambda e: e.delete(list(ids)))
    click.echo(f"deleted {len(deleted)} job{'s' if len(deleted) != 1 else ''}")


@main.command()
@click.argument("action", type=click.Choice(["pause", "resume", "status"]))
@pass_settings
def queue(settings: Settings, action: str) -> None:
    """Pause or resume the whole queue (no new jobs start while paused)."""

    async def body(engine: Engine) -> bool:
        if action != "status":
            await engine.set_queue_paused(action == "pause")
        return await engine.store.queue_paused()

    click.echo(f"queue {'paused' if settings.call(body) else 'running'}")


@main.command()
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["completed", "failed", "cancelled"]),
    help="Only this status (repeatable; default all finished).",
)
@click.option("--older-than", metavar="DURATION", help="Only jobs finished before, e.g. 7d, 12h.")
@click.option("--keep", default=0, type=click.IntRange(0), help="Keep the newest N finished jobs.")
@pass_settings
def clear(settings: Settings, statuses: tuple[str, ...], older_than: str | None, keep: int) -> None:
    """Delete finished jobs."""
    age = parse_duration(older_than) if older_than else None
    chosen = {Status(s) for s in statuses} or set(TERMINAL)
    count = settings.call(lambda e: e.clear(chosen, older_than=age, keep_newest=keep))
    click.echo(f"cleared {count} job{'s' if count != 1 else ''}")


@main.command()
@click.option("-c", "--concurrency", default=3, show_default=True, type=click.IntRange(1, 10_000))
@click.option("--drain", is_flag=True, help="Exit once nothing is queued or running.")
@click.option(
    "--grace",
    default=10.0,
    show_default=True,
    type=click.FloatRange(0),
    help="Seconds running jobs get to finish when stopping.",
)
@click.option(
    "--keep",
    default=RETENTION_KEEP,
    show_default=True,
    type=click.IntRange(0),
    help="Keep the newest N finished jobs, delete older ones (0: keep all).",
)
@click.option(
    "--keep-days",
    type=click.FloatRange(0, 100_000, min_open=True),
    metavar="DAYS",
    help="Also delete jobs finished more than DAYS ago.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print job events.")
@pass_settings
def worker(
    settings: Settings,
    concurrency: int,
    drain: bool,
    grace: float,
    keep: int,
    keep_days: float | None,
    quiet: bool,
) -> None:
    """Run jobs headless. Ctrl-C/SIGTERM stops gracefully; a second one stops now."""
    engine = settings.engine(concurrency=concurrency, grace=grace,
                             retention_keep=keep or None, retention_days=keep_days)

    async def report(events: Subscription) -> None:
        async for event in events:
            job = event.job
            if (
                event.kind is EventKind.JOB
                and job is not None
                and job.worker == engine.worker_id  # not what other workers did
                and (job.status in TERMINAL or job.status is Status.RUNNING)
            ):
                took = (
                    f" in {human_seconds(job.duration)}" if job.finished_at and job.duration else ""
                )
                detail = f": {safe(job.error)}" if job.error and job.status is Status.FAILED else ""
                stderr(f"job {job.id} {job.type} {job.status}{took}{detail}")

    async def signals(*, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as received:
            task_status.started()
            count = 0
            async for signum in received:
                count += 1
                if count == 1:
                    stderr(
                        f"{signal.Signals(signum).name}: finishing running jobs "
                        f"(up to {grace:g}s); send again to stop now"
                    )
                    await_stop.set()
                else:
                    stderr("stopping now; unfinished jobs are requeued")
                    await_stop.set()
                    engine.abort()

    await_stop = anyio.Event()

    async def body() -> None:
        await engine.store.open()
        stderr(
            f"worker {engine.worker_id} on {engine.store.url}, concurrency {concurrency}"
            + (", draining" if drain else "")
        )
        async with anyio.create_task_group() as tg:
            if not quiet:
                # Subscribe now: engine.run() publishes the first "running" events
                # before a task started here would get its first turn.
                tg.start_soon(report, engine.events())
            await tg.start(signals)

            async def stopper() -> None:
                await await_stop.wait()
                await engine.stop()

            tg.start_soon(stopper)
            await engine.run(drain=drain)
            tg.cancel_scope.cancel()
        if drain and not await_stop.is_set():
            # A draining worker may live less than one retention interval (cron): prune once.
            await engine.prune()
        await engine.store.close()
        plural = "s" if engine.processed != 1 else ""
        stderr(f"worker stopped; {engine.processed} job{plural} processed")
        left = abandoned_jobs()
        if left:
            # Their bodies ignore cancellation: waiting for them at exit would hang forever.
            stderr(f"{left} abandoned job{'s' if left != 1 else ''} still running; exiting")
            sys.stdout.flush()
            os._exit(0)

    run(body)


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def workers(settings: Settings, as_json: bool) -> None:
    """List every worker registered on this store, alive or dead."""
    import time

    async def body(engine: Engine) -> tuple[list[WorkerInfo], float]:
        # The engine's own liveness rule, so this agrees with crash recovery.
        return await engine.workers(), float(getattr(engine, "dead_after", 15.0))

    rows, dead_after = settings.call(body)
    now = time.time()
    if as_json:
        echo_json([w.to_dict(now, dead_after) for w in rows])
        return
    if not rows:
        click.echo("no workers have registered on this store")
        return
    click.echo(f"{'STATE':<8} {'HOST':<20} {'PID':>7} {'CONC':>5} {'RUN':>5} {'DONE':>8}  "
               f"{'HEARTBEAT':<14} ID")
    for w in rows:
        state = "stopped" if w.stopped else ("alive" if w.alive(now, dead_after) else "dead")
        click.echo(f"{state:<8} {safe(w.host)[:20]:<20} {w.pid:>7} {w.concurrency:>5} "
                   f"{w.running:>5} {w.processed:>8}  {ago(w.heartbeat):<14} {safe(w.id)}")


@main.group()
def db() -> None:
    """Check or back up the SQLite database."""


def _sqlite_path(settings: Settings) -> Path:
    if settings.db == ":memory:" or "://" in settings.db:
        raise BadInput(f"{settings.db}: `tuiqueue db` works on SQLite files only")
    return Path(settings.db).expanduser()


@db.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_settings
def db_check(settings: Settings, as_json: bool) -> None:
    """Integrity check, schema version and counts (read-only; exit 1 if damaged)."""
    from tuiqueue.store.sqlite_schema import check

    with friendly_errors():
        report = check(_sqlite_path(settings))
    if as_json:
        echo_json(report)
    else:
        click.echo(f"database:  {report['path']}")
        click.echo(f"integrity: {'ok' if report['ok'] else 'DAMAGED'}")
        if not report["ok"]:
            for line in report["integrity"]:  # type: ignore[attr-defined]
                click.echo(f"  {safe(str(line))}")
        click.echo(f"schema:    version {report['schema_version']}")
        click.echo(f"jobs:      {report['total_jobs']} " + json.dumps(report["jobs"]))
        click.echo(f"log lines: {report['log_lines']}")
        click.echo(f"size:      {report['size_bytes']} bytes (+ {report['wal_bytes']} WAL)")
    if not report["ok"]:
        sys.exit(1)


@db.command("backup")
@click.argument("dest", metavar="PATH")
@pass_settings
def db_backup(settings: Settings, dest: str) -> None:
    """Copy the database to PATH consistently, even while workers run."""
    from tuiqueue.store.sqlite_schema import backup

    with friendly_errors():
        pages = backup(_sqlite_path(settings), Path(dest).expanduser())
    click.echo(f"backed up {settings.db} to {dest} ({pages} pages)")
