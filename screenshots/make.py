"""Regenerate the README screenshots from the real job types: python screenshots/make.py.

To look at them as PNG with cairosvg, first replace the "Fira Code" font family with an
installed monospace one: cairosvg falls back to a proportional font, which makes columns look
jammed or misaligned although the SVG places every cell correctly.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from textual.pilot import Pilot  # noqa: E402
from textual.widgets import DataTable, Input, TextArea  # noqa: E402

from tuiqueue.core.history import window_start  # noqa: E402
from tuiqueue.core.job import NewJob  # noqa: E402
from tuiqueue.core.lifecycle import Outcome  # noqa: E402
from tuiqueue.core.records import WorkerInfo  # noqa: E402
from tuiqueue.core.registry import load_job_types  # noqa: E402
from tuiqueue.core.status import Status  # noqa: E402
from tuiqueue.engine.engine import Engine  # noqa: E402
from tuiqueue.store.sqlite import SqliteStore  # noqa: E402
from tuiqueue.ui.app import QueueApp, make_app  # noqa: E402
from tuiqueue.ui.screens.confirm import ConfirmScreen  # noqa: E402
from tuiqueue.ui.screens.detail import DetailScreen  # noqa: E402
from tuiqueue.ui.screens.stats import StatsScreen  # noqa: E402
from tuiqueue.ui.screens.workers import WorkersScreen  # noqa: E402
from tuiqueue.ui.widgets.job_form import JobForm  # noqa: E402
from tuiqueue.ui.widgets.job_table import JobTable  # noqa: E402
from tuiqueue.ui.widgets.log_tail import LogTail  # noqa: E402
from tuiqueue.ui.widgets.type_list import TypeList  # noqa: E402

SIZE = (160, 45)

STREAM = 'for i in $(seq 1 300); do echo "step $i/300"; sleep 0.05; done'
"""The shell job whose live log the detail view shows (about 20 s, so it outlasts the shots)."""

BROKEN = "echo 'building wheel'; echo 'error: tests/test_api.py failed' >&2; exit 2"
"""A shell job that fails with a non-zero exit code and some stderr."""

HOSTS = {"dashboard": ("laptop", 4711), "build-01": ("build-01", 2231)}
"""Fixed host and pid per worker, so the README does not show the machine that rendered it."""


async def wait_for(pilot: Pilot[None], cond: Callable[[], bool], timeout: float = 20.0) -> None:
    """Pause until cond() holds; fail loudly rather than save a half-built scene."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"scene not ready after {timeout}s: {cond.__code__.co_name}")
        await pilot.pause(0.05)
    await pilot.pause()


def no_blink(app: QueueApp) -> None:
    """Stop cursor blinking, so a cursor is never caught half drawn."""
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    for area in app.screen.query(TextArea):
        area.cursor_blink = False


async def fix_host(engine: Engine, name: str) -> None:
    """Re-register a worker under a fixed host and pid (its heartbeat keeps the counts live)."""
    host, pid = HOSTS[name]
    info = next(w for w in await engine.workers() if w.id == engine.worker_id)
    await engine.store.register_worker(
        WorkerInfo(
            info.id,
            host,
            pid,
            info.concurrency,
            info.started_at,
            time.time(),
            running=info.running,
            processed=info.processed,
        )
    )


def peer_running(app: QueueApp) -> int:
    """The running count the workers view shows for the second worker (0 until it shows it)."""
    screen = app.screen
    if not isinstance(screen, WorkersScreen):
        return 0
    table = screen.query_one("#workers", DataTable)
    if "build-01:2231" not in table.rows:
        return 0
    running = str(table.get_cell("build-01:2231", "running"))  # a Text since rows dim
    return int(running) if running.isdigit() else 0


async def scene(pilot: Pilot[None], app: QueueApp) -> dict[str, int]:
    """Two finished jobs, a failed one, three running, four queued; returns ids by role."""
    engine = app.engine
    table = app.main.query_one(JobTable)

    def status(job_id: int) -> str:
        job = table.jobs.get(job_id)
        return str(job.status) if job is not None else ""

    await wait_for(pilot, lambda: app.stats is not None)
    ids: dict[str, int] = {}
    ids["fib"] = (await engine.submit("fibonacci", {"count": 90})).id
    ids["primes"] = (await engine.submit("primes", {"limit": 100_000})).id
    ids["broken"] = (await engine.submit("shell", {"command": BROKEN})).id
    await wait_for(
        pilot,
        lambda: (
            status(ids["fib"]) == status(ids["primes"]) == "completed"
            and status(ids["broken"]) == "failed"
        ),
    )
    # Submitted one by one so the three running jobs are exactly these, whatever their priority.
    ids["countdown"] = (await engine.submit("countdown", {"seconds": 12}, priority="high")).id
    ids["shell"] = (await engine.submit("shell", {"command": STREAM})).id
    ids["echo"] = (await engine.submit("echo", {"message": "deploy finished", "delay": 30})).id
    await wait_for(
        pilot, lambda: all(status(ids[k]) == "running" for k in ("countdown", "shell", "echo"))
    )
    urls = ["https://example.com", "https://www.python.org", "https://pypi.org/simple/"]
    await engine.submit("fetch_urls", {"urls": urls}, priority="critical")
    await engine.submit("primes", {"limit": 50_000}, priority="high")
    await engine.submit("fibonacci", {"count": 500})
    await engine.submit("countdown", {"seconds": 30}, priority="low")
    # Mid-way: the countdown has reported about half, the shell job has logged a screenful.
    await wait_for(
        pilot, lambda: table.jobs[ids["countdown"]].progress >= 50 and len(table.jobs) == 10
    )
    await fix_host(engine, "dashboard")
    await app.refresh_stats()
    table.focus()
    table.select(ids["shell"])
    no_blink(app)
    await pilot.pause()
    return ids


async def seed_hour(store: SqliteStore, now: float) -> None:
    """An hour of finished jobs of three types, written through the store's own calls with
    the times they would have had (so the Stats view reads them as it reads any store)."""
    since = window_start(now)
    for minute in range(60):
        start = since + minute * 60
        for i in range(2 + (minute * 7) % 5 + minute // 15):
            kind = ("fetch_urls", "shell", "primes")[i % 3]
            status = Status.FAILED if (minute + i) % 11 == 0 else Status.COMPLETED
            (job,) = await store.add([NewJob(kind, {})], start + i)
            (claimed,) = await store.claim("build-01:2231", 1, start + i)
            took = 0.3 + (i * 3 + minute) % 7 * (4.0 if kind == "shell" else 0.4)
            outcome = Outcome(job.id, claimed.token or "", status, error="exit code 1")
            await store.finish([outcome], min(now, start + i + took))


async def stats_shot(db: Path) -> None:
    """The Stats view over a busy hour."""
    now = time.time()
    async with SqliteStore(db) as store:
        await seed_hour(store, now)
    app = make_app(SqliteStore(db), worker=False, toasts=False, grace=0.5)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        app.main.query_one(JobTable).focus()
        await pilot.press("g")
        await wait_for(pilot, lambda: isinstance(app.screen, StatsScreen) and app.screen.loads >= 1)
        await pilot.pause(0.3)
        app.save_screenshot("stats.svg", str(HERE))


async def main() -> None:
    """main, main-80x24, bulk, detail, help, form-error, workers and stats, as SVG files
    next to this script."""
    import textual.constants

    textual.constants.TEXTUAL_ANIMATIONS = "none"  # type: ignore[misc]
    load_job_types()
    # A fixed folder: the stats bar names the store, and the README should not show a
    # random temporary name.
    folder = Path(tempfile.gettempdir()) / "tuiqueue-shots"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    try:
        db = folder / "jobs.db"
        app = make_app(SqliteStore(db), worker_id="laptop:4711", toasts=False, grace=0.5)
        async with app.run_test(size=SIZE) as pilot:
            ids = await scene(pilot, app)
            main = app.main
            # The detail pane has caught up with the cursor (the shell job and its log).
            await wait_for(
                pilot,
                lambda: main.pane_job == ids["shell"] and main.pane.log_tail.line_count >= 20,
            )
            app.save_screenshot("main.svg", str(HERE))

            # The smallest terminal: the form folded away, no pane, the columns that matter.
            await pilot.resize_terminal(80, 24)
            await wait_for(pilot, lambda: not main.pane.display)
            app.save_screenshot("main-80x24.svg", str(HERE))
            await pilot.resize_terminal(*SIZE)
            await wait_for(pilot, lambda: bool(main.pane.display))

            # Bulk: the three running jobs marked, one question for all of them.
            table = main.query_one(JobTable)
            table.focus()
            for role in ("countdown", "shell", "echo"):
                table.select(ids[role])
                await pilot.press("space")
            await wait_for(pilot, lambda: len(table.marks) == 3)
            await pilot.press("c")
            await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
            no_blink(app)
            await pilot.pause()
            app.save_screenshot("bulk.svg", str(HERE))
            await pilot.press("n", "escape")
            await wait_for(pilot, lambda: app.screen is main and not table.marks)
            table.select(ids["shell"])

            app.show_detail(ids["shell"])
            await wait_for(
                pilot,
                lambda: (
                    isinstance(app.screen, DetailScreen)
                    and app.screen.job is not None
                    and any(log.line_count >= 30 for log in app.screen.query(LogTail))
                ),
            )
            app.save_screenshot("detail.svg", str(HERE))

            await pilot.press("escape", "question_mark")
            await pilot.pause()
            app.save_screenshot("help.svg", str(HERE))

            await pilot.press("escape")
            app.main.query_one(TypeList).select_type("countdown")
            form = app.main.query_one(JobForm)
            await wait_for(
                pilot,
                lambda: (
                    form.job_type is not None
                    and form.job_type.name == "countdown"
                    and bool(form.fields)
                ),
            )
            seconds = app.main.query_one("#param-seconds", Input)
            seconds.focus()
            seconds.value = ""
            await pilot.press("0", "ctrl+s")
            no_blink(app)
            await pilot.pause()
            app.save_screenshot("form-error.svg", str(HERE))

            # Work for the second worker whatever this one has taken meanwhile (its three
            # slots are busy with the long jobs by now).
            for seconds in (20, 25):
                await app.engine.submit("countdown", {"seconds": seconds})
            # A real second worker on the same store: it takes queued jobs and heartbeats.
            peer = Engine(SqliteStore(db), concurrency=2, worker_id="build-01:2231", grace=0.5)
            async with peer:
                await fix_host(peer, "build-01")
                app.main.query_one(JobTable).focus()
                # Two rows need no 45-line screen; a short one reads better in the README.
                await pilot.resize_terminal(SIZE[0], 12)
                await pilot.press("w")
                await wait_for(pilot, lambda: peer_running(app) > 0)
                app.save_screenshot("workers.svg", str(HERE))
                await pilot.press("escape")
                await peer.stop(0)
            await app.engine.stop(0)
        await stats_shot(folder / "hour.db")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("*.svg"))))


if __name__ == "__main__":
    asyncio.run(main())
