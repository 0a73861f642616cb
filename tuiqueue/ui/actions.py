"""The dashboard's commands: key and palette actions on jobs and the queue (mixed into QueueApp)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, ClassVar

from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.screen import Screen
from textual.timer import Timer

from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import UnknownJob
from tuiqueue.core.params import ValidationError
from tuiqueue.core.records import Stats
from tuiqueue.core.registry import UnknownJobType
from tuiqueue.core.status import ACTIVE, TERMINAL, Status, TransitionError
from tuiqueue.engine.engine import Engine
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.screens.detail import DetailScreen
from tuiqueue.ui.screens.help import HelpScreen
from tuiqueue.ui.screens.main import MainScreen
from tuiqueue.ui.screens.workers import WorkersScreen
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.job_table import JobTable

if TYPE_CHECKING:
    _AppBase = App[None]
else:
    _AppBase = object


class ActionsMixin(_AppBase):
    """QueueApp's actions: submit, steer, delete/undo, clear, quit and the command palette."""

    if TYPE_CHECKING:  # provided by QueueApp
        EXTRA_HELP: ClassVar[list[Binding]]
        engine: Engine
        grace: float
        stats: Stats | None
        _doomed: dict[int, Timer]
        _stopping: bool

        @property
        def main(self) -> MainScreen: ...
        def show_paging(self, searching: bool = False) -> None: ...
        async def refresh_stats(self) -> None: ...
        def _delete_later(self, job: Job) -> None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys that apply to the current screen and selected job."""
        if action == "submit":
            return isinstance(self.screen, MainScreen)
        if action == "undo_delete":
            return bool(self._doomed)
        if action != "job":
            return True
        job = self.current_job()
        if job is None:
            return False
        name = parameters[0] if parameters else ""
        if name in ("cancel", "toggle_pause"):
            return job.status not in TERMINAL
        if name == "delete":
            return job.status not in ACTIVE
        return True

    def current_job(self) -> Job | None:
        """The job the keys act on: the detail view's, else the table's selection."""
        screen = self.screen
        if isinstance(screen, DetailScreen):
            return screen.job
        if isinstance(screen, MainScreen):
            table = screen.query_one(JobTable)
            selected = table.selected_id
            return table.jobs.get(selected) if selected is not None else None
        return None

    def action_submit(self) -> None:
        """Validate the form; queue the job, or show why not (nothing is queued)."""
        if not isinstance(self.screen, MainScreen):
            return
        form = self.main.query_one(JobForm)
        if form.job_type is None:
            form.show_status("Choose a job type first", error=True)
            return
        params, errors = form.collect()
        if errors:
            form.show_errors(errors)
            return
        try:
            new = self.engine.new_job(form.job_type.name, params, priority=form.priority)
        except ValidationError as exc:
            form.show_errors(exc.errors)
            return
        except (UnknownJobType, ValueError) as exc:
            form.show_status(f"Not submitted: {exc}", error=True)
            return
        self.run_worker(self._submit(new, form), group="submit")

    async def _submit(self, new: NewJob, form: JobForm) -> None:
        job = (await self.engine.submit_many([new]))[0]
        form.show_status(f"Queued job #{job.id} ({job.type}, {job.priority})")
        # The row arrives with the engine's event; the focus stays where the person types.
        self.main.query_one(JobTable).select(job.id)

    def action_job(self, name: str) -> None:
        """Cancel, pause/resume, rerun or delete the current job."""
        job = self.current_job()
        if job is not None:
            self.run_worker(self._job_command(name, job), group="command")

    async def _job_command(self, name: str, job: Job) -> None:
        engine = self.engine
        try:
            if name == "cancel":
                await engine.cancel(job.id)
            elif name == "toggle_pause":
                current = await engine.get(job.id)
                if current.status is Status.PAUSED:
                    await engine.resume(job.id)
                else:
                    await engine.pause(job.id)
            elif name == "rerun":
                new = await engine.rerun(job.id)
                self.notify(f"Job #{job.id} queued again as #{new.id}")
            elif name == "delete":
                self._delete_later(job)
        except (TransitionError, UnknownJob, ValueError) as exc:
            self.notify(str(exc), severity="warning", markup=False)

    async def _delete_now(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            timer = self._doomed.pop(job_id, None)
            if timer is not None:
                timer.stop()
        self.refresh_bindings()
        deleted = set(await self.engine.delete(job_ids))
        for job_id in job_ids:
            if job_id not in deleted and not self._stopping:
                self.main.query_one(JobTable).unhide(job_id)
                self.notify(f"Job #{job_id} started running; not deleted (cancel it first)",
                            severity="warning")

    def action_undo_delete(self) -> None:
        """Bring back the job deleted last, if its undo time has not run out."""
        if not self._doomed:
            return
        job_id = next(reversed(self._doomed))
        self._doomed.pop(job_id).stop()
        self.main.query_one(JobTable).unhide(job_id)
        self.show_paging()
        self.notify(f"Job #{job_id} is back")
        self.refresh_bindings()

    async def action_toggle_queue(self) -> None:
        """Pause or resume claiming on every worker of this store."""
        paused = self.stats.queue_paused if self.stats is not None else False
        await self.engine.set_queue_paused(not paused)
        await self.refresh_stats()

    def action_clear_finished(self) -> None:
        """Delete every finished job, after asking."""
        counts = self.stats.counts if self.stats is not None else {}
        count = sum(counts.get(s, 0) for s in TERMINAL)
        if not count:
            self.notify("No finished jobs to clear")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._clear(), group="clear", exclusive=True)

        self.push_screen(ConfirmScreen(f"Delete {count} finished jobs? This cannot be undone.",
                                       yes="Delete"), answer)

    async def _clear(self) -> None:
        count = await self.engine.clear()
        self.notify(f"Deleted {count} finished jobs")
        await self.refresh_stats()

    def show_detail(self, job_id: int) -> None:
        """Open the detail view of a job."""
        self.push_screen(DetailScreen(job_id))

    def action_workers(self) -> None:
        """Open the workers view."""
        self.push_screen(WorkersScreen())

    def action_help(self) -> None:
        """Show every key."""
        self.push_screen(HelpScreen([
            ("Everywhere", [*self.BINDINGS, *self.EXTRA_HELP]),
            ("Queue", MainScreen.BINDINGS),
            ("Job details", DetailScreen.BINDINGS),
        ]))

    def action_toggle_dark(self) -> None:
        """Switch between the light and dark theme."""
        self.theme = "textual-light" if self.theme == "textual-dark" else "textual-dark"

    async def action_quit(self) -> None:
        """Quit; with running jobs, ask first and stop them gracefully."""
        running = len(self.engine.running_ids())
        if not running:
            self._begin_stop()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._begin_stop()

        self.push_screen(ConfirmScreen(
            f"{running} job{'s are' if running != 1 else ' is'} running. Stop and quit? "
            f"They get {self.grace:g}s to finish, then are requeued.", yes="Stop and quit"),
            answer)

    def _begin_stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        if self.engine.running_ids():
            self.notify(f"Stopping running jobs (up to {self.grace:g}s)…", timeout=self.grace)
        self.run_worker(self._stop(), group="quit", exclusive=True)

    async def _stop(self) -> None:
        if self._doomed:
            await self._delete_now(list(self._doomed))
        await self.engine.stop(self.grace)
        self.exit()

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """The palette offers every dashboard action by name."""
        yield from super().get_system_commands(screen)
        yield SystemCommand("Submit job", "Submit the form", self.action_submit)
        yield SystemCommand("Cancel job", "Cancel the selected job",
                            lambda: self.action_job("cancel"))
        yield SystemCommand("Pause/resume job", "Pause or resume the selected job",
                            lambda: self.action_job("toggle_pause"))
        yield SystemCommand("Rerun job", "Queue the selected job again",
                            lambda: self.action_job("rerun"))
        yield SystemCommand("Delete job", "Delete the selected job (u undoes it)",
                            lambda: self.action_job("delete"))
        yield SystemCommand("Undo delete", "Bring back the job deleted last",
                            self.action_undo_delete)
        yield SystemCommand("Pause/resume queue", "Pause or resume the whole queue",
                            self.action_toggle_queue)
        yield SystemCommand("Clear finished jobs", "Delete every finished job",
                            self.action_clear_finished)
        yield SystemCommand("Workers", "Show the workers on this store", self.action_workers)
        yield SystemCommand("Help", "Show every key", self.action_help)
