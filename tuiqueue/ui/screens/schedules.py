"""The schedules view: every schedule, when it fires next (counting down) and how it went."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import suppress
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tuiqueue.core import logs
from tuiqueue.core.params import ValidationError
from tuiqueue.core.registry import UnknownJobType
from tuiqueue.core.schedule import Schedule, ScheduleError, ScheduleExists, UnknownSchedule
from tuiqueue.core.status import Priority
from tuiqueue.engine.engine import Engine
from tuiqueue.store.base import StoreError
from tuiqueue.ui.format import plain, span
from tuiqueue.ui.screens.schedule_add import ScheduleAddScreen, ScheduleAnswer
from tuiqueue.ui.widgets.key_footer import KeyFooter

logger = logs.logger(__name__)

REFRESH = 1.0
"""Seconds between reloads (the countdown moves on once a second)."""
UNDO_SECONDS = 5.0
"""How long a deleted schedule can be brought back with `u`."""

FormJob = tuple[str, dict[str, Any], Priority]
"""The job the main screen's form holds: type, params, priority."""
FormReader = Callable[[], FormJob | str]
"""Reads the form: its job, or why there is none ("choose a job type first")."""

COLUMNS = ("Name", "Type", "When", "Next run", "In", "Last run", "Outcome", "State")


def stamp(when: float | None, now: float) -> str:
    """A time of day, with the date when it is not today."""
    if when is None:
        return "-"
    day = time.strftime("%Y-%m-%d", time.localtime(when))
    clock = time.strftime("%H:%M:%S", time.localtime(when))
    return clock if day == time.strftime("%Y-%m-%d", time.localtime(now)) else f"{day} {clock}"


class SchedulesScreen(Screen[None]):
    """A table of schedules; keys pause/resume, trigger, delete (undoable) and add."""

    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="schedules.back", tooltip="Back"),
        Binding(
            "p", "toggle_paused", "Pause/resume", id="schedules.pause", tooltip="Pause or resume it"
        ),
        Binding("r", "run_now", "Run now", id="schedules.run", tooltip="Make its job now"),
        Binding("d", "delete", "Delete", id="schedules.delete", tooltip="Delete it (u undoes it)"),
        Binding("u", "undo", "Undo", id="schedules.undo", tooltip="Bring back the one deleted"),
        Binding(
            "a",
            "add",
            "Add from form",
            id="schedules.add",
            tooltip="Schedule the job the form holds (asks for a name and when)",
        ),
    ]

    def __init__(self, engine: Engine, form: FormReader | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.form = form
        self.shown: list[Schedule] = []
        self.deleted: Schedule | None = None
        self._deleted_at = 0.0

    def compose(self) -> ComposeResult:
        """Title, table, footer."""
        yield Static(Text("Schedules on this store", style="bold"), id="schedules-title")
        yield DataTable[Any](id="schedules", cursor_type="row")
        yield KeyFooter()

    def on_mount(self) -> None:
        """Add columns, load and reload every second (the countdown)."""
        table = self.query_one(DataTable)
        for label in COLUMNS:
            table.add_column(label, key=label.lower())
        self.reload()
        self.set_interval(REFRESH, self.reload)

    def reload(self) -> None:
        """Reload the schedules from the engine."""
        self.run_worker(self._load(), group="schedules", exclusive=True)

    async def _load(self) -> None:
        engine = self.engine
        schedules = await engine.schedules()
        outcomes = await engine.schedule_outcomes(schedules)
        now = engine.clock()
        with suppress(NoMatches):  # gone: the screen closed meanwhile (see DetailScreen)
            self._show(schedules, outcomes, now, self.query_one(DataTable))

    def _show(
        self, schedules: list[Schedule], outcomes: dict[str, str], now: float, table: DataTable[Any]
    ) -> None:
        """Fill the table with the schedules, keeping the cursor's row."""
        row = table.cursor_row
        self.shown = schedules
        colours = self.app.theme_variables
        with self.app.batch_update():
            table.clear()
            for s in schedules:
                paused = s.paused or s.next_run is None
                left = "-" if paused else f"in {span((s.next_run or now) - now)}"
                state = Text("paused", style=f"bold {colours.get('warning', '')}")
                if not s.paused:
                    state = Text("active", style=f"bold {colours.get('success', '')}")
                table.add_row(
                    plain(s.name),
                    plain(s.type),
                    plain(f"{s.words} ({s.tz})"),
                    plain("-" if paused else stamp(s.next_run, now)),
                    plain(left),
                    plain(stamp(s.last_run, now)),
                    plain(outcomes.get(s.name, "") or "-"),
                    state,
                    key=s.name,
                )
            if not schedules:
                table.add_row(
                    "(no schedules: press a to schedule the form's job)", *[""] * (len(COLUMNS) - 1)
                )
            table.move_cursor(row=row)
        held = sum(1 for s in schedules if s.paused)
        table.border_subtitle = f"{len(schedules)} schedules · {held} paused"

    def _selected(self) -> Schedule | None:
        table = self.query_one(DataTable)
        if not self.shown or not 0 <= table.cursor_row < len(self.shown):
            return None
        return self.shown[table.cursor_row]

    def _writable(self) -> bool:
        if self.engine.read_only:
            self._say("Read-only dashboard: schedules cannot be changed here", error=True)
        return not self.engine.read_only

    def _say(self, text: str, error: bool = False) -> None:
        self.notify(text, severity="error" if error else "information", markup=False)

    async def _steer(self, what: Callable[[], Any], done: str) -> None:
        try:
            await what()
        except (UnknownSchedule, ScheduleExists, ScheduleError, StoreError) as exc:
            self._say(str(exc.args[0] if exc.args else exc), error=True)
            return
        self._say(done)
        await self._load()

    def action_toggle_paused(self) -> None:
        """Pause the selected schedule, or resume it."""
        s = self._selected()
        if s is None or not self._writable():
            return
        if s.paused:
            call, done = (lambda: self.engine.resume_schedule(s.name)), f"Resumed {s.name}"
        else:
            call, done = (lambda: self.engine.pause_schedule(s.name)), f"Paused {s.name}"
        self.run_worker(self._steer(call, done), group="schedule-steer")

    def action_run_now(self) -> None:
        """Make the selected schedule's job now."""
        s = self._selected()
        if s is None or not self._writable():
            return

        async def go() -> None:
            job = await self.engine.run_schedule(s.name)
            self._say(f"Queued job #{job.id} from {s.name}")

        self.run_worker(self._steer(go, f"Ran {s.name}"), group="schedule-steer")

    def action_delete(self) -> None:
        """Delete the selected schedule (u brings it back for a few seconds)."""
        s = self._selected()
        if s is None or not self._writable():
            return

        async def go() -> None:
            self.deleted = await self.engine.remove_schedule(s.name)
            self._deleted_at = time.monotonic()

        self.run_worker(
            self._steer(go, f"Deleted schedule {s.name} — press u to undo"),
            group="schedule-steer",
        )

    def action_undo(self) -> None:
        """Bring back the schedule deleted last, if its undo time has not run out."""
        gone = self.deleted
        if gone is None or time.monotonic() - self._deleted_at > UNDO_SECONDS:
            return
        self.deleted = None
        self.run_worker(
            self._steer(lambda: self.engine.restore_schedule(gone), f"Restored {gone.name}"),
            group="schedule-steer",
        )

    def action_add(self) -> None:
        """Schedule the job the main screen's form holds."""
        if not self._writable():
            return
        job = self.form() if self.form is not None else "there is no form to schedule from"
        if isinstance(job, str):
            self._say(f"Nothing to schedule: {job}", error=True)
            return

        def answered(answer: ScheduleAnswer | None) -> None:
            if answer is not None:
                self.run_worker(self._add(answer, job), group="schedule-steer")

        self.app.push_screen(ScheduleAddScreen(job[0]), answered)

    async def _add(self, answer: ScheduleAnswer, job: FormJob) -> None:
        type_name, params, priority = job
        when = answer.when
        # "every 30s" or "30s" is an interval; anything else (it has spaces) a cron expression
        kw: dict[str, Any] = {"cron": when.removeprefix("cron ").strip()}
        if when.lower().startswith("every ") or (when and " " not in when):
            kw = {"every": when.lower().removeprefix("every ").strip()}
        try:
            made = await self.engine.schedule(
                answer.name, type_name, params, priority=priority, **kw
            )
        except ValidationError as exc:
            self._say("Not scheduled: " + "; ".join(exc.errors.values()), error=True)
            return
        except (ScheduleError, ScheduleExists, UnknownJobType, ValueError, StoreError) as exc:
            self._say(f"Not scheduled: {exc.args[0] if exc.args else exc}", error=True)
            return
        self._say(f"Scheduled {made.name}: {made.words}")
        await self._load()
