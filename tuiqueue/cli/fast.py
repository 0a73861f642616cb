"""The common short commands on a SQLite file, without click.

Importing click and building the group is some 10-15 ms of a `tuiqueue list` that does ~1 ms
of work. So `run` (cli/__init__.py) first hands argv to `prepare`, which reads by hand the
exact forms it fully understands:

    tuiqueue [--db PATH] submit TYPE [-p NAME=VALUE]... [--priority P] [--queue NAME] [--json]
    tuiqueue [--db PATH] list [--status S]... [--type T] [--queue NAME] [--limit N] [--json]
    tuiqueue [--db PATH] show ID [--json]
    tuiqueue [--db PATH] stats [--json]
    tuiqueue [--db PATH] cancel ID...

and runs them with the same code the click commands run (Direct, output.py). The dashboard's
plain launch too, on any store (click is a tenth of its time to the first frame):

    tuiqueue [--db PATH] [--worker | --no-worker] [--read-only]
 Anything else
(help, another option, an odd form, a value click would refuse or convert, another store
than a SQLite file) gets None and click runs the command, so its messages and usage errors
stay its own. So does any failure before the command changed something: click runs it again
from the start and says what is wrong in its words. A failure after a change (a second id of
`cancel`) or of the store itself (a damaged file, one locked past the retries) is said here,
as friendly_errors says it (tests/test_cli_fast.py runs a corpus of argv both ways and
compares the bytes). Once done, the process ends at once (exit_now).
"""

from __future__ import annotations

import os
import sys
from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from tuiqueue.cli.direct import Direct

COMMANDS = frozenset({"submit", "list", "show", "stats", "cancel"})
PRIORITIES = frozenset({"low", "normal", "high", "critical"})
STATUSES = frozenset(
    {"pending", "scheduled", "waiting", "running", "paused", "completed", "failed", "cancelled"}
)
"""Status values (a test checks them against core.status: importing it here costs enum)."""
LIMIT_MAX = 100_000


class Plan:
    """A command line read: the database, the command and its options (a plain class: a
    NamedTuple costs ~0.4 ms to create)."""

    __slots__ = ("args", "command", "db", "options")

    def __init__(self, db: str | None, command: str, options: dict[str, Any], args: list[str]):
        self.db, self.command, self.options, self.args = db, command, options, args

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Plan) and self._tuple() == other._tuple()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Plan{self._tuple()!r}"

    def _tuple(self) -> tuple[object, ...]:
        return (self.db, self.command, self.options, self.args)


_FLAGS = {"--json": "as_json"}
_OPTIONS: dict[str, dict[str, tuple[str, bool]]] = {
    # option -> (key, repeatable)
    "submit": {
        "-p": ("params", True),
        "--param": ("params", True),
        "--priority": ("priority", False),
        "--queue": ("queue_name", False),
    },
    "list": {
        "--status": ("statuses", True),
        "--type": ("type_name", False),
        "--queue": ("queue_name", False),
        "--limit": ("limit", False),
    },
    "show": {},
    "stats": {},
    "cancel": {},
}
_JSON = frozenset({"submit", "list", "show", "stats"})


def parse(argv: list[str]) -> Plan | None:
    """The plan for argv if it is one of the forms above, else None (click's turn)."""
    db: str | None = None
    i = 0
    while i < len(argv) and argv[i].startswith("--db"):
        arg = argv[i]
        if arg == "--db" and i + 1 < len(argv):
            db, i = argv[i + 1], i + 2
        elif arg.startswith("--db="):
            db, i = arg[5:], i + 1
        else:
            return None
        if db.startswith("-"):
            return None  # (click takes it as the value; too odd to be worth the doubt)
    if i >= len(argv) or argv[i] not in COMMANDS:
        return None
    command = argv[i]
    known = _OPTIONS[command]
    options: dict[str, Any] = {}
    args: list[str] = []
    rest = argv[i + 1 :]
    j = 0
    while j < len(rest):
        arg = rest[j]
        j += 1
        if not arg.startswith("-") or arg == "-":
            args.append(arg)
            continue
        if arg in _FLAGS and command in _JSON:
            options[_FLAGS[arg]] = True
            continue
        name, eq, value = arg.partition("=")
        if eq and not name.startswith("--"):
            return None  # (-p=x, -pNAME=VALUE: click's own short-option reading)
        if name not in known:
            return None
        if not eq:
            if j >= len(rest):
                return None
            value = rest[j]
            j += 1
        if value.startswith("-"):
            return None
        key, repeatable = known[name]
        if repeatable:
            options.setdefault(key, []).append(value)
        elif key in options:
            return None  # (given twice: click keeps the last; not worth the doubt)
        else:
            options[key] = value
    return Plan(db, command, options, args) if _valid(command, options, args) else None


def _valid(command: str, options: dict[str, Any], args: list[str]) -> bool:
    """Whether click would accept these values as they are (else let it say why not)."""
    if command == "submit":
        pairs = options.get("params", [])
        return (
            len(args) == 1
            and bool(args[0])
            and options.get("priority", "normal") in PRIORITIES
            and all(sep and name.strip() for name, sep, _ in (p.partition("=") for p in pairs))
            and options.get("queue_name", "default") != ""
        )
    if command == "list":
        limit = options.get("limit", "50")
        return (
            not args
            and all(s in STATUSES for s in options.get("statuses", []))
            and _is_id(limit)
            and 1 <= int(limit) <= LIMIT_MAX
        )
    if command == "show":
        return len(args) == 1 and _is_id(args[0])
    if command == "stats":
        return not args
    return bool(args) and all(_is_id(a) for a in args)  # cancel


def env_jobs() -> list[str]:
    """The job modules of $TUIQUEUE_JOBS (as the group reads them)."""
    raw = os.environ.get("TUIQUEUE_JOBS", "")
    return [part for part in raw.replace(os.pathsep, ",").split(",") if part.strip()]


def _is_id(text: str) -> bool:
    """Plain ASCII digits, which click's int reads the same (" 7", "+7", "7_0" go to click)."""
    return text.isascii() and text.isdigit() and len(text) < 19


def _utf8(stream: Any) -> bool:
    """A UTF-8 text stream, which click.echo writes to as it is (else click wraps it)."""
    encoding = str(getattr(stream, "encoding", "") or "").lower().replace("-", "").replace("_", "")
    return encoding == "utf8"


class Said(Exception):
    """A failure said here as click would say it, not handed to click: one after the command
    changed something, or the store's own (a damaged file, one locked past the retries:
    click would only wait as long again to say the same)."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(cause)
        self.cause = cause


def _said_here(exc: BaseException, changed: bool) -> bool:
    from tuiqueue.store.base import StoreError

    return changed or isinstance(exc, StoreError)


def parse_dashboard(argv: list[str]) -> Plan | None:
    """The plan for the dashboard's plain launch (each option at most once; `--read-only`
    with `--worker` is click's to refuse), else None."""
    db: str | None = None
    options: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--db" and db is None and i + 1 < len(argv):
            db, i = argv[i + 1], i + 2
        elif arg.startswith("--db=") and db is None:
            db, i = arg[5:], i + 1
        elif arg in ("--worker", "--no-worker") and "worker" not in options:
            options["worker"], i = arg == "--worker", i + 1
        elif arg == "--read-only" and "read_only" not in options:
            options["read_only"], i = True, i + 1
        else:
            return None
        if db is not None and db.startswith("-"):
            return None  # (as in parse)
    if options.get("read_only") and options.get("worker"):
        return None
    return Plan(db, "", options, [])


def open_dashboard(db: str, jobs: Sequence[str], **options: Any) -> None:
    """Load the job types (built-in, installed, `jobs`) and run the dashboard on db with
    run_dashboard's options: how the group's main and the launch below both open it. No
    dashboard installed is a BadInput."""
    from tuiqueue.ui.collector import pause_collector, resume_collector

    pause_collector()  # until the dashboard's first frame (see tuiqueue/ui/collector.py)
    try:
        from tuiqueue.core.registry import load_job_types

        load_job_types(jobs)
        try:
            from tuiqueue.ui.app import run_dashboard
        except ImportError as exc:
            from tuiqueue.cli.support import BadInput

            raise BadInput(f"the dashboard is not available ({exc})") from exc
        run_dashboard(db, **options)
    finally:
        resume_collector()  # (the app resumed it already, unless it ended before its frame)


def dashboard(plan: Plan, db: str) -> bool:
    """Open the dashboard as the group's main does with these options; its failures are said
    as click says them (exit 2 for BadInput). Never returns: it exits as click's main does
    (sys.exit, a normal teardown after an app)."""
    try:
        open_dashboard(
            db,
            env_jobs(),
            worker=plan.options.get("worker"),
            read_only=bool(plan.options.get("read_only")),
            concurrency=3,
            remember={},
            on_finish=None,
        )
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")  # (as click says it)
        sys.stderr.flush()
        sys.exit(1)
    except (Exception, BaseExceptionGroup) as exc:
        _say_as_click(exc)
    sys.exit(0)


def _say_as_click(exc: BaseException) -> None:
    """What the group's main says of exc (through friendly_errors), and its exit status; an
    unexpected error is raised again, as there."""
    import click

    from tuiqueue.cli.support import friendly_errors

    try:
        with friendly_errors():
            raise exc
    except click.ClickException as said:
        said.show()
        sys.exit(said.exit_code)


def prepare(argv: list[str]) -> Callable[[], bool] | None:
    """The command for argv if it is one of the forms above on a SQLite file, its modules
    imported (tuiqueue's own: job modules are loaded when it runs, as click's commands load
    them, after cli.run froze what the command line loaded); None for click.

    The command returns True when done, False when click should run it after all."""
    plan = parse(argv)
    if plan is None:
        launch = parse_dashboard(argv)
        if launch is None:
            return None
        from tuiqueue.store import default_db

        where = launch.db or default_db()
        return lambda: dashboard(launch, where)
    if not (_utf8(sys.stdout) and _utf8(sys.stderr)):
        return None
    if plan.command == "submit" and any(
        spec.strip().endswith(".py") or "/" in spec for spec in env_jobs()
    ):
        return None  # (a job file runs each time it is loaded: if click had to run submit
        # after all, it would run twice)
    # The store and the core's records, with the collector off and then frozen (cli.run).
    # Not the registry: job modules, a plugin's among them, register their types in it
    # when the command runs, and what a frozen object holds is never freed at exit (a
    # plugin's open file would not be flushed), as when click runs the command.
    from tuiqueue.store import default_db

    db = plan.db or default_db()  # (as the group: --db, else $TUIQUEUE_DB, else user data)
    if db == ":memory:" or "://" in db:
        return None
    for module in ("tuiqueue.cli.direct", "tuiqueue.cli.output", "tuiqueue.store.sqlite"):
        import_module(module)
    return lambda: attempt(plan, db)


def attempt(plan: Plan, db: str) -> bool:
    """Run the command (True), or say it failed before it changed anything (False)."""
    try:
        return _run(plan, db)
    except Said as said:
        from tuiqueue.cli.output import refusal

        message = refusal(said.cause)
        if message is None:
            raise said.cause from None
        sys.stdout.flush()
        sys.stderr.write(f"Error: {message}\n")
        sys.stderr.flush()
        sys.exit(2)
    except KeyboardInterrupt:
        sys.stderr.write("\nAborted!\n")  # (as click says it)
        sys.stderr.flush()
        sys.exit(1)
    except BrokenPipeError:
        # As click: the reader left; say nothing more (not even at exit) and exit 1.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)


def exit_now() -> None:
    """End the process now that the command is done, as the interpreter would but without
    freeing every object first: ~5 ms of a short command's ~40 (mypy's util.hard_exit does
    the same). atexit handlers run and the standard streams are flushed first; only when
    nothing but tuiqueue's own code ran (no other thread, no job type of a plugin, whose
    open files would be flushed at a normal exit); else it returns, for a normal exit."""
    if sys.flags.inspect or os.environ.get("PYTHONINSPECT") or os.environ.get("TUIQUEUE_JOBS"):
        return  # (python -i wants its prompt; --jobs modules are a plugin's code)
    threading = sys.modules.get("threading")
    if threading is not None and threading.active_count() > 1:
        return
    registry = sys.modules.get("tuiqueue.core.registry")
    if registry is not None and any(
        not str(getattr(kind.fn, "__module__", "")).startswith("tuiqueue.")
        for kind in registry.REGISTRY
    ):
        return
    import atexit

    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return  # (the interpreter says what it says then)
    os._exit(0)


def _on_store(db: str, fn: Callable[[Direct], Any]) -> Any:
    """fn(direct) on the opened store (None: it failed before changing anything)."""
    from tuiqueue.cli.direct import Direct
    from tuiqueue.store.sqlite import SqliteStore

    store = SqliteStore(db)
    store.open_now()
    try:
        return fn(Direct(store))
    finally:
        store.close_now()


def _run(plan: Plan, db: str) -> bool:
    """The command; False when it failed before it changed anything (click runs it then)."""
    from tuiqueue.cli import output

    o = plan.options
    as_json = bool(o.get("as_json"))
    if plan.command == "submit":
        job = _submit(plan, db)
        if job is None:
            return False
        if not as_json:
            output.echo(job.id)
        else:
            output.echo_json(job.to_dict())
        return True
    if plan.command == "cancel":
        done: list[bool] = []

        def cancel(direct: Direct) -> None:
            for arg in plan.args:
                try:
                    job = direct.command(int(arg), "cancel")
                except Exception as exc:
                    if _said_here(exc, bool(done)):
                        raise Said(exc) from exc
                    raise
                done.append(True)
                output.echo(output.command_said(job, "cancel"))

        try:
            _on_store(db, cancel)
        except Said:
            raise
        except Exception as exc:
            if _said_here(exc, bool(done)):
                raise Said(exc) from exc
            return False
        return True
    try:
        if plan.command == "list":
            from tuiqueue.core.queues import check_queue_name
            from tuiqueue.core.status import Status

            queue = o.get("queue_name")
            query = {
                "statuses": {Status(s) for s in o.get("statuses", ())} or None,
                "type": o.get("type_name"),
                "limit": int(o.get("limit", "50")),
                "queue": None if queue is None else check_queue_name(queue),
            }
            jobs, why = _on_store(db, lambda d: d.listing(query, reasons=not as_json))
            shown: Callable[[], None] = lambda: output.print_list(jobs, why, as_json)  # noqa: E731
        elif plan.command == "show":
            job, reason, steps, origin, reruns = _on_store(
                db, lambda d: d.detail(int(plan.args[0]))
            )
            shown = lambda: output.print_show(job, reason, steps, origin, reruns, as_json)  # noqa: E731
        else:
            result = _on_store(db, lambda d: d.stats())
            shown = lambda: output.print_stats(result, as_json)  # noqa: E731
    except Exception as exc:
        if _said_here(exc, False):
            raise Said(exc) from exc
        return False  # (read-only: click's run says what went wrong)
    shown()
    return True


def _submit(plan: Plan, db: str) -> Any:
    """The new job, or None if it could not be queued (nothing changed)."""
    from tuiqueue.core.queues import DEFAULT_QUEUE
    from tuiqueue.core.registry import load_job_types

    o = plan.options
    type_name = plan.args[0]
    jobs = env_jobs()
    flags: dict[str, Any] = {
        "priority": o.get("priority") or "normal",
        "delay": None,
        "max_attempts": None,
        "timeout": None,
        "queue": o.get("queue_name") or DEFAULT_QUEUE,
    }
    pairs = [
        (name.strip(), value) for name, _, value in (p.partition("=") for p in o.get("params", []))
    ]
    added: list[bool] = []

    def submit(direct: Direct) -> Any:
        checked = direct.registry.get(type_name).schema.parse_texts(pairs, type_name)
        job = direct.submit(type_name, checked, after=(), **flags)
        added.append(True)
        return job

    try:
        load_job_types(jobs)
        return _on_store(db, submit)
    except Exception as exc:
        if _said_here(exc, bool(added)):  # (added: closing the store failed, the job is queued)
            raise Said(exc) from exc
        return None
