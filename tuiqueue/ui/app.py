"""The dashboard app: runs the engine as one worker and publishes its events to the screens."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
from platformdirs import user_downloads_path
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.signal import Signal
from textual.theme import Theme
from textual.worker import WorkerFailed

import tuiqueue
from tuiqueue.core import logs
from tuiqueue.core.events import Event, EventKind, Subscription
from tuiqueue.core.job import Job
from tuiqueue.core.records import Stats
from tuiqueue.core.registry import REGISTRY, Registry
from tuiqueue.core.status import TERMINAL, Status
from tuiqueue.core.text import one_line
from tuiqueue.engine.engine import Engine
from tuiqueue.store import Store, open_store
from tuiqueue.store.base import StoreAuthError, StoreError
from tuiqueue.ui.actions import Dashboard, quit_question
from tuiqueue.ui.collector import resume_collector
from tuiqueue.ui.config import (
    DEFAULT_NOTIFY_AFTER,
    NOTIFY_LEVELS,
    ConfigError,
    ConfigFile,
)
from tuiqueue.ui.messages import Batch, QueueChanged, StatsStale
from tuiqueue.ui.screens.main import MainScreen
from tuiqueue.ui.terminal_alert import TerminalAlerts
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.job_table import JobTable
from tuiqueue.ui.window import MAX_ACTIVE as MAX_ACTIVE
from tuiqueue.ui.window import PAGE as PAGE
from tuiqueue.ui.window import Window

if TYPE_CHECKING:
    from tuiqueue.ui.screens.schedules import FormJob

# The screens the first frame does not show (detail, help, workers, schedules, stats, the
# dialogs) are imported when they are opened: the dashboard's cold start loads only the main
# screen.

logger = logs.logger(__name__)

BATCH_INTERVAL = 0.1
"""Engine events are gathered at least this long and applied as one batch (10 a second)."""

UI_SHARE = 0.2
"""Batches are spaced so that painting them takes at most this share of the event loop the
engine shares: each batch repaints every visible cell of the queue, so on a slow or busy
machine the table updates less often rather than slowing the jobs down."""

MAX_BATCH_INTERVAL = 1.0
"""However costly the updates, the table catches up at least once a second."""

STATS_IDLE = 5.0
"""With no job changes, the stats bar is reloaded this often (counting 10^5 jobs is not free)."""

UNMOUNT_WAIT = 5.0
"""Longest wait at exit for the engine to requeue interrupted jobs and unregister."""

TOAST_BURST = 3
"""More jobs than this finishing within TOAST_WINDOW get one summary toast, not one each."""

UNDO_SECONDS = 5.0
"""How long a deleted job can be brought back with `u` before it is really deleted."""

TOAST_WINDOW = 2.0
"""Seconds over which finished jobs are counted for TOAST_BURST, and a summary gathers them."""

PALETTE: list[tuple[str, str, bool, str]] = [
    ("Submit job", "Submit the form", False, "submit"),
    ("Save preset", "Save the form as a named preset of its type", True, "save_preset"),
    ("Cancel job", "Cancel the selected job", False, "job('cancel')"),
    ("Pause/resume job", "Pause or resume the selected job", False, "job('toggle_pause')"),
    ("Rerun job", "Queue the selected job again", False, "job('rerun')"),
    ("Edit and rerun job", "The form filled from the selected job", True, "edit_rerun"),
    ("Mark all jobs", "Mark every job the filter matches", True, "select_all"),
    ("Retry failed jobs", "Rerun every marked failed job", True, "job('retry')"),
    ("Delete job", "Delete the selected job (u undoes it)", False, "job('delete')"),
    ("Undo delete", "Bring back the job deleted last", True, "undo_delete"),
    ("Pause/resume queue", "Pause or resume the whole queue", True, "toggle_queue"),
    ("Clear finished jobs", "Delete every finished job", True, "clear_finished"),
    ("Workers", "Show the workers on this store", False, "app.workers"),
    ("Schedules", "Show the schedules on this store", False, "app.schedules"),
    (
        "Stats",
        "Jobs finished per minute over the last hour, per type, success rate, run times",
        False,
        "app.stats",
    ),
    ("Help", "Show every key", False, "app.help"),
]
"""The palette's commands: title, help, whether the main screen runs it (else the current one)
and the action (job commands act on the current screen's job, as its keys do)."""


READ_ONLY_PALETTE = frozenset({"app.workers", "app.schedules", "app.stats", "app.help"})
"""The palette's commands a read-only dashboard offers (the others change the store)."""


def styles_dir() -> Path:
    """The .tcss folder: inside the installed wheel, else the repository's styles/."""
    packaged = Path(tuiqueue.__file__).parent / "styles"
    return packaged if packaged.is_dir() else Path(tuiqueue.__file__).parent.parent / "styles"


class QueueApp(App[None]):
    """The tuiqueue dashboard: runs the engine, turns its events into batches for the screens."""

    CSS_PATH = str(styles_dir() / "dashboard.tcss")
    TITLE = "tuiqueue"
    BINDINGS = [
        Binding(
            "ctrl+s",
            "submit",
            "Submit",
            id="app.submit",
            tooltip="Submit the form (works while typing in it)",
        ),
        Binding("question_mark", "help", "Help", id="app.help", tooltip="Show every key"),
        Binding(
            "t",
            "toggle_dark",
            "Theme",
            id="app.theme",
            tooltip="Switch between the light and dark theme",
        ),
        Binding(
            "q",
            "quit",
            "Quit",
            id="app.quit",
            tooltip="Quit (asks before stopping running jobs, then stops them gracefully)",
        ),
        Binding(
            "ctrl+q",
            "quit_now",
            "Quit now",
            show=False,
            priority=True,
            id="app.quit_now",
            tooltip="Quit at once, without asking (running jobs still get the grace; "
            "twice: stop them now)",
        ),
    ]
    EXTRA_HELP = [
        Binding("tab", "", "", tooltip="Next pane / field (shift+tab: previous)"),
        Binding("ctrl+p", "", "", tooltip="Command palette: every action by name"),
    ]
    """Keys handled by widgets, listed in the help screen."""

    def __init__(
        self,
        engine: Engine,
        *,
        notify: str = "failed",
        notify_after: float | None = DEFAULT_NOTIFY_AFTER,
        stats_interval: float = 1.0,
        grace: float = 5.0,
        theme: str = "textual-dark",
        config: ConfigFile | None = None,
        terminal_write: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__()
        if notify not in NOTIFY_LEVELS:
            raise ValueError(f"notify must be one of {', '.join(NOTIFY_LEVELS)} (got {notify!r})")
        self.engine = engine
        self.registry: Registry = engine.registry
        self.clock: Callable[[], float] = engine.clock
        self.notify_level = notify
        """Which finished jobs get a toast: "failed", "all" or "none" (none: no terminal
        notification either)."""
        self.alerts = TerminalAlerts(terminal_write or self._write_to_terminal, after=notify_after)
        """Tells the terminal of jobs that failed or ran long (OSC 9/777 and the bell)."""
        self.config = config
        """Where a theme change is saved (None: nowhere, as in most tests)."""
        self.startup_warnings: list[str] = []
        """Shown as toasts once the app runs (a broken config file)."""
        self._alert_timer = False
        self.stats_interval = stats_interval
        self.grace = grace
        self.stats: Stats | None = None
        self.fatal_error: str | None = None
        """Why the engine stopped the app (the store's one line), for run_dashboard."""
        self.dashboard = Dashboard(
            engine,
            Signal(self, "batches"),
            Signal(self, "stats"),
            tick=stats_interval,
            undo_seconds=UNDO_SECONDS,
        )
        self.window = Window(engine)
        """The main screen's window (its finished ids keep jobs from being toasted twice)."""
        self._initial_theme = theme
        self._toasted: deque[float] = deque()
        """time.monotonic() of each per-job toast within the last TOAST_WINDOW."""
        self._held: list[Job] = []
        """Finished jobs waiting for the summary toast (a burst is being gathered)."""
        self._stats_due = 0.0
        """time.monotonic() after which the stats are reloaded even if nothing changed."""
        self._changed = True
        """Jobs changed since the stats were last loaded."""
        self._frozen = False
        """Whether startup froze the objects it made (see _start)."""
        self._old_handlers: dict[int, Any] = {}
        """Signal handlers replaced while the app runs (see _catch_stop_signals)."""

    def get_default_screen(self) -> Screen[Any]:
        """The main screen."""
        return MainScreen(self.dashboard, self.window)

    @property
    def main(self) -> MainScreen:
        """The main screen (always at the bottom of the stack)."""
        screen = self.screen_stack[0]
        assert isinstance(screen, MainScreen)
        return screen

    def on_mount(self) -> None:
        """Apply the theme (and save it when it changes); open the store, start the engine."""
        if self._initial_theme in self.available_themes:
            self.theme = self._initial_theme
        else:
            self.startup_warnings.append(
                f"tuiqueue: no theme named {one_line(self._initial_theme, 40)!r}; "
                f"using {self.theme!r} (`t` or the palette picks another)"
            )
        for warning in self.startup_warnings:
            self.notify(warning, title="Settings", severity="warning", markup=False, timeout=10)
        self.theme_changed_signal.subscribe(self, self._save_theme)
        self.run_worker(self._start(), name="startup", group="startup")

    def _save_theme(self, theme: Theme) -> None:
        """Keep the theme for the next run (a failure is said once, never fatal)."""
        if self.config is None:
            return
        try:
            self.config.update({"theme": theme.name})
        except (OSError, ConfigError) as exc:
            self.config = None  # said once; the session goes on with the theme unsaved
            self.notify(
                one_line(f"The theme is not saved: {exc}"),
                title="Settings",
                severity="warning",
                markup=False,
            )

    def _write_to_terminal(self, data: str) -> None:
        """Send an escape sequence to the terminal.

        Textual has no public call for this: App.bell() and App.copy_to_clipboard() write
        to the driver themselves. Its write() keeps the sequence in order with the screen's
        own output, which writing to the terminal's file directly would not."""
        driver = self._driver
        if driver is not None and not self.is_headless:
            driver.write(data)

    async def _start(self) -> None:
        self._catch_stop_signals()
        await self.engine.store.open()
        subscription = self.engine.events()
        self.run_worker(self._run_engine(), name="engine", group="engine", exclusive=True)
        self.run_worker(self._pump(subscription), name="events", group="events", exclusive=True)
        self.dashboard.opened.set()
        await self.dashboard.loaded.wait()
        await self.refresh_stats()
        self.set_interval(self.stats_interval, self._tick)
        # After the frame that shows the first window, not before it (a full collection
        # here delayed the first rows by 15+ ms).
        self.call_after_refresh(self._freeze)

    def _freeze(self) -> None:
        """What the dashboard built to get here (widgets, styles, bindings, the first window:
        some 75,000 objects) lives as long as the app, yet every full collection walks it
        again: 15 ms when idle, 35-45 ms while hundreds of jobs report progress and full
        collections come every few seconds, each one holding up every job on this loop.
        The collector, paused for the start by the command line, resumes here (collector.py)."""
        if self.dashboard.stopping or not self.is_running:
            return  # (quitting: on_unmount unfreezes and resumes, and may already have run)
        gc.collect()
        gc.freeze()
        self._frozen = True
        resume_collector()

    def _catch_stop_signals(self) -> None:
        """SIGTERM, and SIGHUP (the terminal was closed), stop like `q`: running jobs get the
        grace period, then are requeued and their processes stopped; a second one stops now.

        A plain signal handler, not the event loop's: after a hang-up the loop can be stuck
        drawing to the dead terminal, and only a handler run between bytecodes frees it."""
        if threading.current_thread() is not threading.main_thread():
            return
        loop = asyncio.get_running_loop()

        def handler(signum: int, frame: object) -> None:
            if signum == signal.SIGHUP:
                self._terminal_gone()
            loop.call_soon_threadsafe(self._on_stop_signal, signum)

        for signum in (signal.SIGTERM, signal.SIGHUP):
            self._old_handlers[signum] = signal.signal(signum, handler)

    def _restore_signals(self) -> None:
        for signum, old in self._old_handlers.items():
            signal.signal(signum, old)
        self._old_handlers.clear()

    def _terminal_gone(self) -> None:
        """Draw nothing more: the terminal is gone, and every write to it fails (EIO)."""
        # Point the terminal's descriptors at /dev/null, so that Textual's writer thread and
        # the loop's next frames do not fail or block on the dead terminal while the worker
        # stops its jobs; and empty the writer's bounded queue in case it filled meanwhile.
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.close(null)
        writer = getattr(self._driver, "_writer_thread", None)
        queue = getattr(writer, "_queue", None)
        if queue is not None:
            with queue.mutex:
                queue.queue.clear()
                queue.not_full.notify_all()

    def _on_stop_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.dashboard.stopping:
            logger.warning("%s again: stopping running jobs now", name)
            self.engine.abort()
            return
        logger.warning("%s: stopping the dashboard's worker gracefully", name)
        self._begin_stop()

    async def _run_engine(self) -> None:
        """Run the engine; a store failure it cannot go on with (a refused password) ends
        the app and is said in one line on the terminal (run_dashboard), not a traceback."""
        try:
            await self.engine.run()
        except* StoreError as group:
            self.fatal_error = one_line(str(_first(group)))
            self.exit(return_code=1)

    def _handle_exception(self, error: Exception) -> None:
        # Any worker's store call may be the first to meet a refused password (loading the
        # table, the stats): end with the store's one line like the engine does, not with a
        # traceback. Textual offers no public hook between a worker's failure and its exit.
        cause = error.error if isinstance(error, WorkerFailed) else error
        if isinstance(cause, BaseExceptionGroup):
            cause = _first(cause)
        if isinstance(cause, StoreAuthError):
            self.fatal_error = one_line(str(cause))
            self.exit(return_code=1)
            return
        super()._handle_exception(error)

    # -- events -> batches ----------------------------------------------------------------

    async def _pump(self, subscription: Subscription) -> None:
        """Publish engine events as one batch, at most one batch per interval.

        The batch goes out as soon as it is due, not an interval after its first event: the
        engine flushes progress about every BATCH_INTERVAL, and waiting a full interval after
        the first event of a flush would let the next flush land in the same batch, halving
        the rate at which the table moves (5 batches a second, each carrying two flushes).
        """
        due = 0.0
        try:
            while True:
                first = await subscription.get()
                # Even when due, yield once so the rest of the engine's tick joins the batch.
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                self._dispatch([first, *subscription.drain()])
                due = time.monotonic() + self._batch_interval()
        finally:
            self.engine.bus.unsubscribe(subscription)

    def _batch_interval(self) -> float:
        # Applying a batch costs about the same per change however they are grouped; the
        # repaint after it is a fixed cost per batch, so that is what sets the pace.
        cost = self.dashboard.paint_cost
        return min(MAX_BATCH_INTERVAL, max(BATCH_INTERVAL, cost / UI_SHARE))

    def _dispatch(self, events: Iterable[Event]) -> None:
        jobs: dict[int, Job] = {}
        deleted: list[int] = []
        logs: dict[int, list[str]] = {}
        queue: QueueChanged | None = None
        resync = False
        finished: list[Job] = []
        seen = self.window.finished
        for event in events:
            if event.kind in (EventKind.JOB, EventKind.PROGRESS) and event.job is not None:
                jobs[event.job.id] = event.job
                job = event.job
                if event.kind is EventKind.JOB and job.status in TERMINAL and job.id not in seen:
                    seen.add(job.id)
                    finished.append(job)
            elif event.kind is EventKind.DELETED and event.job_id is not None:
                jobs.pop(event.job_id, None)
                deleted.append(event.job_id)
            elif event.kind is EventKind.LOG and event.job_id is not None:
                logs.setdefault(event.job_id, []).extend(event.lines)
            elif event.kind is EventKind.QUEUE:
                queue = QueueChanged(event.queue_paused, event.concurrency)
            elif event.kind is EventKind.RESYNC:
                resync = True
            elif event.kind is EventKind.NOTICE and self.notify_level != "none":
                for line in event.lines:
                    self.notify(one_line(line), title="Notice", severity="warning", markup=False)
        if finished and self.notify_level != "none":
            self._tell(finished)
        self._changed = True
        if jobs or deleted or logs or resync:
            self.dashboard.batches.publish(Batch(jobs, tuple(deleted), logs, resync))
        if queue is not None:
            self.post_message(queue)

    def _tell(self, finished: list[Job]) -> None:
        """Toast the finished jobs the notify level asks for; tell the terminal of failed
        and long ones."""
        toasted = (
            finished
            if self.notify_level == "all"
            else [job for job in finished if job.status is Status.FAILED]
        )
        if toasted:
            self._toast(toasted)
        due = self.alerts.add(finished)
        if due is not None:
            self.set_timer(due, self.alerts.flush)

    def _toast(self, finished: list[Job]) -> None:
        """A toast per finished job, or while many finish, one summary every TOAST_WINDOW."""
        now = time.monotonic()
        while self._toasted and self._toasted[0] <= now - TOAST_WINDOW:
            self._toasted.popleft()
        if not self._held and len(self._toasted) + len(finished) <= TOAST_BURST:
            for job in finished:
                self._toasted.append(now)
                self._toast_one(job)
            return
        if not self._held:
            self.set_timer(TOAST_WINDOW, self._toast_summary)
        self._held += finished

    def _toast_one(self, job: Job) -> None:
        if job.status is Status.COMPLETED:
            self.notify(
                one_line(f"Job #{job.id} {job.type} completed"), title="Completed", markup=False
            )
        elif job.status is Status.FAILED:
            self.notify(
                one_line(f"Job #{job.id} {job.type} failed: {job.error or ''}"),
                title="Failed",
                severity="error",
                markup=False,
            )
        elif job.status is Status.CANCELLED:
            self.notify(
                one_line(f"Job #{job.id} {job.type} cancelled"),
                title="Cancelled",
                severity="warning",
                markup=False,
            )

    def _toast_summary(self) -> None:
        held, self._held = self._held, []
        if not held:
            return
        # Counted as a burst: the next few finishing within TOAST_WINDOW are gathered too.
        self._toasted.extend([time.monotonic()] * (TOAST_BURST + 1))
        counts = Counter(job.status for job in held)
        failed = [job.id for job in held if job.status is Status.FAILED]
        done = counts[Status.COMPLETED]
        parts = [f"{done} job{'s' if done != 1 else ''} completed"] if done else []
        if failed:
            ids = ", ".join(f"#{i}" for i in failed[:5]) + (" …" if len(failed) > 5 else "")
            parts.append(f"{len(failed)} failed ({ids})")
        if counts[Status.CANCELLED]:
            parts.append(f"{counts[Status.CANCELLED]} cancelled")
        self.notify(
            ", ".join(parts) or f"{len(held)} jobs finished",
            title="Failed" if failed else "Completed",
            severity="error" if failed else "information",
            markup=False,
        )

    # -- stats ----------------------------------------------------------------------------

    def on_queue_changed(self, message: QueueChanged) -> None:
        """Show the queue's new state."""
        self.run_worker(self.refresh_stats(), group="stats", exclusive=True)

    def on_stats_stale(self, message: StatsStale) -> None:
        """A screen changed the queue: reload the stats."""
        self.run_worker(self.refresh_stats(), group="stats", exclusive=True)

    def _tick(self) -> None:
        if self._changed or time.monotonic() >= self._stats_due:
            self.run_worker(self.refresh_stats(), group="stats", exclusive=True)
        elif self.stats is not None:
            self.dashboard.stats.publish(self.stats)  # nothing finished: a 0 sample

    async def refresh_stats(self) -> None:
        """Reload the stats from the engine and publish them."""
        self._changed, self._stats_due = False, time.monotonic() + STATS_IDLE
        self.stats = await self.engine.stats()
        self.dashboard.stats.publish(self.stats)

    # -- actions --------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """ctrl+s applies on the main screen only; once quitting, only ctrl+q does anything
        (a screen opened while the app closes fails to mount)."""
        if self.dashboard.stopping:
            return action == "quit_now"
        if action == "submit":
            return isinstance(self.screen, MainScreen) and not self.engine.read_only
        return True

    async def action_submit(self) -> None:
        """Submit the main screen's form (the screen does it)."""
        await self.run_action("submit", self.screen)

    def show_detail(self, job_id: int) -> None:
        """Open the detail view of a job."""
        from tuiqueue.ui.screens.detail import DetailScreen

        self.push_screen(DetailScreen(self.dashboard, job_id))

    def action_workers(self) -> None:
        """Open the workers view."""
        from tuiqueue.ui.screens.workers import WorkersScreen

        self.push_screen(WorkersScreen(self.engine))

    def action_schedules(self) -> None:
        """Open the schedules view (its `a` schedules the main screen's form)."""
        from tuiqueue.ui.screens.schedules import SchedulesScreen

        self.push_screen(SchedulesScreen(self.engine, self._form_job))

    def action_stats(self) -> None:
        """Open the Stats view (the last hour's finished jobs, from the store)."""
        from tuiqueue.ui.screens.stats import StatsScreen

        self.push_screen(StatsScreen(self.engine))

    def _form_job(self) -> FormJob | str:
        """The job the main screen's form holds, or why there is none."""
        main = next((s for s in self.screen_stack if isinstance(s, MainScreen)), None)
        if main is None:
            return "the queue screen is not open"
        form = main.query_one(JobForm)
        if form.job_type is None:
            return "choose a job type in the queue screen first"
        params, errors = form.collect()
        if errors:
            return "; ".join(errors.values())
        return form.job_type.name, params, form.priority

    def action_help(self) -> None:
        """Show every key."""
        from tuiqueue.ui.screens.detail import DetailScreen
        from tuiqueue.ui.screens.help import HelpScreen
        from tuiqueue.ui.widgets.log_tail import LogTail

        self.push_screen(
            HelpScreen(
                [
                    ("Everywhere", [*self.BINDINGS, *self.EXTRA_HELP]),
                    ("Queue", MainScreen.BINDINGS),
                    ("Queue table", [b for b in JobTable.BINDINGS if getattr(b, "id", None)]),
                    ("Job details", DetailScreen.BINDINGS),
                    ("Log (detail view and pane)", LogTail.KEYS_HELP),
                ]
            )
        )

    def action_toggle_dark(self) -> None:
        """Switch between the light and dark theme."""
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    async def action_quit(self) -> None:
        """Quit; with running jobs, ask first (saying what happens to each) and stop them
        gracefully."""
        fates = self.engine.stop_fates()
        if not fates:
            self._begin_stop()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._begin_stop()

        from tuiqueue.ui.screens.confirm import ConfirmScreen  # (a dialog: see MainScreen.ask)

        self.push_screen(
            ConfirmScreen(quit_question(fates, self.grace), yes="Stop and quit"), answer
        )

    def action_quit_now(self) -> None:
        """ctrl+q: quit without asking, still giving running jobs the grace to finish; a
        second ctrl+q stops them at once."""
        if self.dashboard.stopping:
            self.engine.abort()
            return
        self._begin_stop()

    def _begin_stop(self) -> None:
        if self.dashboard.stopping:
            return
        self.dashboard.stopping = True
        if self.engine.running_ids():
            self.notify(f"Stopping running jobs (up to {self.grace:g}s)…", timeout=self.grace)
        self.run_worker(self._stop(), group="quit", exclusive=True)

    async def _stop(self) -> None:
        doomed = self.dashboard.doomed
        if doomed:  # deleted with `d`, undo time not yet out: deleted for real now
            for timer in doomed.values():
                timer.stop()
            job_ids = list(doomed)
            doomed.clear()
            await self.engine.delete_many(job_ids)  # (one that started running is kept)
        await self.engine.stop(self.grace)
        self.exit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers every dashboard action by name, run where it belongs."""
        for command in super().get_system_commands(screen):
            if command.title == "Screenshot":  # Textual's fails without ~/Downloads
                command = SystemCommand(
                    command.title, command.help, lambda: self.set_timer(0.1, self.screenshot)
                )
            yield command
        for title, help_text, on_main, action in PALETTE:
            if self.engine.read_only and action not in READ_ONLY_PALETTE:
                continue
            target = self.main if on_main else screen
            yield SystemCommand(title, help_text, partial(self.run_action, action, target))

    def screenshot(self) -> None:
        """Save an SVG of the screen in the Downloads folder, or, when there is none, in the
        current folder (saying so; Textual then says the file's path)."""
        folder = user_downloads_path()
        if not folder.is_dir():
            folder = Path.cwd()
            self.notify(
                f"No Downloads folder: the screenshot goes to {folder}",
                title="Screenshot",
                markup=False,
            )
        self.deliver_screenshot(path=str(folder))

    async def on_unmount(self) -> None:
        """Let the engine finish stopping, however the app ended, then close the store.

        After `q` the engine has stopped already. Otherwise (ctrl+q, a test leaving
        run_test) Textual has cancelled its worker, and the engine is still requeueing its
        jobs and unregistering in the background: waiting here means the app has really
        stopped when run() or run_test() returns.
        """
        with anyio.move_on_after(UNMOUNT_WAIT):
            await self.engine.stop(0)
        self._restore_signals()
        await self.engine.store.close()
        if self._frozen:
            gc.unfreeze()  # the app's objects can be collected again
        resume_collector()  # (ended before its first frame: _freeze did not resume it)


def make_app(
    store: Store,
    *,
    clock: Callable[[], float] = time.time,
    registry: Registry | None = None,
    concurrency: int = 3,
    worker_id: str | None = None,
    toasts: bool | None = None,
    notify: str = "failed",
    notify_after: float | None = DEFAULT_NOTIFY_AFTER,
    stats_interval: float = 1.0,
    grace: float = 5.0,
    theme: str = "textual-dark",
    worker: bool = True,
    read_only: bool = False,
    on_finish: str | None = None,
    config: ConfigFile | None = None,
    terminal_write: Callable[[str], None] | None = None,
) -> QueueApp:
    """The dashboard on a store; tests pass a fixed clock, worker id and registry.

    notify: toasts for "failed", "all" or "none" of the finished jobs (toasts=True/False is
    the older switch, "all"/"none"); notify_after: see TerminalAlerts; on_finish: a command
    per finished job (engine/on_finish.py); config: where a theme change is saved;
    terminal_write: where terminal notifications go (the terminal's driver by default)."""
    if toasts is not None:
        notify = "all" if toasts else "none"
    engine = Engine(
        store,
        concurrency=concurrency,
        registry=registry or REGISTRY,
        clock=clock,
        worker_id=worker_id,
        worker=worker,
        read_only=read_only,
        on_finish=on_finish,
    )
    return QueueApp(
        engine,
        notify=notify,
        notify_after=notify_after,
        stats_interval=stats_interval,
        grace=grace,
        theme=theme,
        config=config,
        terminal_write=terminal_write,
    )


def configured_app(
    store: Store, config: ConfigFile, remember: Mapping[str, Any] | None = None, **kw: Any
) -> QueueApp:
    """The dashboard with the settings kept in `config`; `remember` (the options given
    on the command line) is saved there first, as the new defaults. What was wrong with
    the file is in the app's startup_warnings (its defaults are used instead)."""
    settings, warnings = config.load()
    if remember:
        try:
            settings = config.update(remember)
        except (OSError, ConfigError) as exc:
            warnings.append(one_line(f"tuiqueue: the settings were not saved: {exc}"))
            settings = replace(settings, **remember)
    app = make_app(
        store,
        theme=settings.theme,
        notify=settings.notify,
        notify_after=settings.notify_after,
        config=config,
        **kw,
    )
    app.startup_warnings = warnings
    return app


def run_dashboard(
    db: str,
    *,
    worker: bool | None = None,
    read_only: bool = False,
    concurrency: int = 3,
    remember: Mapping[str, Any] | None = None,
    on_finish: str | None = None,
) -> None:
    """Open the dashboard on a SQLite path, :memory: or redis:// URL.

    worker: run jobs here (None: yes on a local store, no on a fleet's store such as Redis);
    read_only: watch only, every command refused (implies no worker); remember: settings
    given on the command line (notify, notify_after), saved as the new defaults;
    on_finish: a shell command per finished job (engine/on_finish.py).
    """
    store = open_store(db)
    # One event loop, as App.run() makes one (asyncio.run), that first opens the store before
    # the screen takes over: a bad path or an unreachable server ends in a one-line
    # StoreError on the terminal, not a traceback inside the app. The app then finds the
    # store open (open() does nothing on an open store), and closes it when it ends.
    with asyncio.Runner() as runner:
        runner.run(store.open())
        if worker is None:
            worker = not store.fleet
        app = configured_app(
            store,
            ConfigFile(),
            remember,
            worker=worker,
            read_only=read_only,
            concurrency=concurrency,
            on_finish=on_finish,
        )
        for warning in app.startup_warnings:  # also on the terminal, after the dashboard is gone
            print(warning, file=sys.stderr)
        runner.run(app.run_async())
    if app.fatal_error is not None:
        raise StoreError(app.fatal_error)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception inside (nested) groups."""
    exc: BaseException = group
    while isinstance(exc, BaseExceptionGroup):
        exc = exc.exceptions[0]
    return exc
