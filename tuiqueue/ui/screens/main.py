"""The main screen: stats bar, job types and form, filters, the queue and its detail pane."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.theme import Theme
from textual.timer import Timer
from textual.widgets import Input, OptionList, Select
from textual.worker import WorkType

from tuiqueue.core import logs
from tuiqueue.core.job import Job, NewJob
from tuiqueue.core.lifecycle import Command, UnknownJob
from tuiqueue.core.params import ValidationError
from tuiqueue.core.preset import PresetError, PresetExists
from tuiqueue.core.records import Stats
from tuiqueue.core.registry import UnknownJobType
from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL, Priority, Status
from tuiqueue.store.base import StoreError
from tuiqueue.ui.actions import STEER_ERRORS, Dashboard, question, steer, why_waiting
from tuiqueue.ui.marks import BULK, VERBS, Plan, Seen, plan, skip_note
from tuiqueue.ui.messages import (
    Batch,
    PresetSaveRequested,
    PresetsWanted,
    StatsStale,
    SubmitRequested,
)
from tuiqueue.ui.widgets.face import Face
from tuiqueue.ui.widgets.input_face import InputFace
from tuiqueue.ui.widgets.job_detail import JobDetail
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.job_table import JobTable
from tuiqueue.ui.widgets.key_footer import KeyFooter
from tuiqueue.ui.widgets.select_face import SelectFace
from tuiqueue.ui.widgets.stats_bar import StatsBar, mode_of
from tuiqueue.ui.widgets.type_list import TypeList
from tuiqueue.ui.widgets.type_list_face import TypeListFace
from tuiqueue.ui.window import Pager, Window

logger = logs.logger(__name__)

FILTERS: list[tuple[str, frozenset[Status] | None]] = [
    ("All jobs", None),
    ("Active", ACTIVE),
    ("Queued", QUEUED),
    ("Finished", TERMINAL),
    *((str(status).capitalize(), frozenset({status})) for status in Status),
]
"""Status filter choices: the groups, then every status on its own."""

TEXT_FILTER = "/ filter by id, type, message, params"
"""The text filter's placeholder."""

ALL_QUEUES = "All queues"
"""The queue filter's choice that shows every queue."""


STEERING = frozenset(
    {
        "new_job",
        "job",
        "toggle_queue",
        "undo_delete",
        "clear_finished",
        "submit",
        "select_all",
        "edit_rerun",
        "save_preset",
    }
)
"""Actions that change the store: hidden (and refused) on a read-only dashboard."""

SEARCH_DELAY = 0.25
"""Typing pauses this long before the text filter searches the store."""

PANE_DELAY = 0.12
"""The detail pane follows the cursor once it rests this long (holding a key down reads
nothing until it stops)."""

NARROW = 120
"""Below this many columns the types and form collapse into a pane the `f` key shows."""

SELECT_PAGE = 1000
"""Jobs read per query while marking every job a filter matches (`a`)."""

SHORT = 30
"""Below this many rows the detail pane starts hidden (the `i` key shows it)."""


class MainScreen(Screen[None]):
    """Where a person submits, watches and steers jobs."""

    table: JobTable
    """The queue table (kept, not queried: it is used after every batch of changes)."""

    AUTO_FOCUS = "#jobs"
    """The table has the focus from the start. Textual's default focuses the first focusable
    widget, the type list, and on_mount then moved it to the table: three restyles of the
    type list and two focus changes before the first frame, for nothing."""

    BINDINGS = [
        Binding("n", "new_job", "New", id="main.new", tooltip="Fill in a new job (focus the form)"),
        Binding(
            "f",
            "toggle_form",
            "Form",
            id="main.form",
            show=False,
            tooltip="Show or hide the job types and the form (hidden below 120 columns)",
        ),
        Binding(
            "i",
            "toggle_pane",
            "Pane",
            id="main.pane",
            tooltip="Show or hide the highlighted job's detail and log beside the queue",
        ),
        Binding(
            "c",
            "job('cancel')",
            "Cancel",
            id="main.cancel",
            tooltip="Cancel the selected job (queued, or running: asks first); with jobs "
            "marked, every marked one (asks once)",
        ),
        Binding(
            "C",
            "job('kill')",
            "Kill",
            id="main.kill",
            show=False,  # the footer is full; the help screen (?) lists it
            tooltip="Cancel --force: stop the selected (or every marked) job at once (asks first)",
        ),
        Binding(
            "plus",
            "job('priority_up')",
            "Prio+",
            id="main.priority_up",
            show=False,  # the footer is full; the help screen (?) lists it
            tooltip="Raise the selected queued job's priority (it moves up the run order); "
            "with jobs marked, each marked one's",
        ),
        Binding(
            "minus",
            "job('priority_down')",
            "Prio-",
            id="main.priority_down",
            show=False,
            tooltip="Lower the selected (or each marked) queued job's priority",
        ),
        Binding(
            "p",
            "job('toggle_pause')",
            "Pause",
            id="main.pause",
            tooltip="Pause or resume the selected job (or every marked one: asks once)",
        ),
        Binding(
            "P", "toggle_queue", "Queue", id="main.queue", tooltip="Pause or resume the whole queue"
        ),
        Binding(
            "r",
            "job('rerun')",
            "Rerun",
            id="main.rerun",
            tooltip="Queue the selected job again with the same params (or every marked one)",
        ),
        Binding(
            "R",
            "job('retry')",
            "Retry",
            id="main.retry",
            show=False,
            tooltip="Rerun every marked failed job (asks once; the others are skipped)",
        ),
        Binding(
            "e",
            "edit_rerun",
            "Edit",
            id="main.edit",
            show=False,
            tooltip="Edit and rerun: the form filled from the selected job (type, params, "
            "priority, queue); its submit is linked to it",
        ),
        Binding(
            "a",
            "select_all",
            "Mark all",
            id="main.mark_all",
            show=False,
            tooltip="Mark every job the filter matches, beyond the rows loaded too (space "
            "marks one, shift+arrows extend, esc unmarks)",
        ),
        Binding(
            "d",
            "job('delete')",
            "Delete",
            id="main.delete",
            tooltip="Delete the selected (or every marked) job (not while it runs; u undoes it)",
        ),
        Binding(
            "u",
            "undo_delete",
            "Undo",
            id="main.undo",
            tooltip="Bring back the job (or marked jobs) deleted last (for a few seconds)",
        ),
        Binding(
            "x",
            "clear_finished",
            "Clear",
            id="main.clear",
            tooltip="Delete the finished jobs (those shown when filtered; asks first)",
        ),
        Binding("slash", "filter", "Filter", id="main.filter", tooltip="Filter the queue by text"),
        Binding(
            "o",
            "sort",
            "Sort",
            id="main.sort",
            show=False,
            tooltip="Sort by the next column (id, type, queue, status, priority, age, none)",
        ),
        Binding(
            "O",
            "reverse_sort",
            "Reverse",
            id="main.reverse_sort",
            show=False,
            tooltip="Reverse the sort direction",
        ),
        Binding(
            "w",
            "app.workers",
            "Workers",
            id="main.workers",
            tooltip="Show the workers on this store",
        ),
        Binding(
            "s",
            "app.schedules",
            "Schedules",
            id="main.schedules",
            show=False,  # (the footer is full; the help screen and the palette list it)
            tooltip="Show the schedules on this store (pause, run now, add from the form)",
        ),
        Binding(
            "ctrl+o",
            "save_preset",
            "Save preset",
            id="main.save_preset",
            show=False,
            tooltip="Save the form as a named preset of its type (works while typing in it)",
        ),
        Binding(
            "g",
            "app.stats",
            "Stats",
            id="main.stats",
            show=False,  # (the footer is full; the help screen and the palette list it)
            tooltip="Show the Stats view: jobs finished per minute over the last hour, "
            "per type, success rate, p50/p95 run time",
        ),
        Binding(
            "escape",
            "focus_table",
            "Queue",
            id="main.table",
            show=False,
            tooltip="Back to the queue table (from the form or the filter)",
        ),
        Binding(
            "enter",
            "noop",
            "Details",
            id="main.details",
            show=False,
            tooltip="Open the selected job's details (in the table)",
        ),
    ]

    def __init__(self, dashboard: Dashboard, window: Window) -> None:
        super().__init__()
        self.dashboard = dashboard
        self.engine = dashboard.engine
        self.window = window
        self.stats: Stats | None = None
        self._search: Timer | None = None
        self._keys_for: tuple[bool, bool, bool] = (False, False, False)
        """What the job keys depended on when the footer was last refreshed (_refresh_keys)."""
        self._loaded = False
        """The first window is in (filter changes before that wait for it)."""
        self.queue_choices: tuple[str, ...] = ()
        """The queues the queue filter offers (from the stats)."""
        self.pane_job: int | None = None
        """The job the detail pane shows (it follows the cursor, see PANE_DELAY)."""
        self._pane_timer: Timer | None = None
        self._narrow: bool | None = None
        self._short: bool | None = None
        """The last size class seen: crossing it resets the panes to their automatic state."""
        self._building = asyncio.Lock()

    def compose(self) -> ComposeResult:
        """Stats on top, types and form on the left (folded away when narrow); filters, the
        queue and the detail pane of its highlighted job on the right."""
        yield StatsBar(id="stats", mode=mode_of(self.engine), store=self.engine.store.url)
        with Horizontal(id="body"):
            with Vertical(id="left"):
                # Faces for the first frame, as the filters' below (see _build_faces).
                yield TypeListFace(list(self.engine.registry), self._type_list, id="types")
                yield JobForm(id="form")
            with Vertical(id="right"):
                with Horizontal(id="filters"):
                    yield SelectFace(FILTERS[0][0], self._status_filter, id="status-filter")
                    yield SelectFace(ALL_QUEUES, self._queue_filter, id="queue-filter")
                    yield InputFace(TEXT_FILTER, self._text_filter, id="text-filter")
                self.table = JobTable(clock=self.dashboard.clock, id="jobs")
                yield self.table
                # Built after the first frame (its look until then: JobDetail.build).
                self.pane = JobDetail(clock=self.dashboard.clock, deferred=True, id="pane")
                yield self.pane
        yield KeyFooter()

    def _type_list(self) -> TypeList:
        types = TypeList(self.engine.registry, id="types")
        types.border_title = "Job types"
        return types

    def _status_filter(self) -> Select[int]:
        return Select(
            [(label, index) for index, (label, _) in enumerate(FILTERS)],
            value=0,
            allow_blank=False,
            id="status-filter",
        )

    @staticmethod
    def _text_filter() -> Input:
        return Input(placeholder=TEXT_FILTER, id="text-filter")

    def _queue_filter(self) -> Select[str]:
        choices = [(ALL_QUEUES, ""), *((n, n) for n in self.queue_choices)]
        return Select(choices, value=self.table.queue or "", allow_blank=False, id="queue-filter")

    def on_mount(self) -> None:
        """Titles, the first job type in the form; follow the engine, the stats and the theme."""
        self.query_one("#types").border_title = "Job types"
        form = self.query_one("#form", JobForm)
        form.title = "New job"
        if self.engine.read_only:  # nothing can be submitted here: say so, type nothing
            form.title = "New job (read-only)"
            form.set_read_only()
            self.table.markable = False  # nothing could be done with marked jobs
        form.border_title = form.title
        self.query_one("#jobs").border_title = "Queue"
        self.on_resize()
        self.table.focus()
        self.dashboard.batches.subscribe(self, self._on_batch)
        self.dashboard.stats.subscribe(self, self._on_stats)
        self.app.theme_changed_signal.subscribe(self, self._on_theme)
        self.run_worker(self._load_first(), group="startup")
        self.run_worker(self._after_first_frame(), group="startup")

    def ask(self, question: str, yes: str, answer: Callable[[bool | None], None]) -> None:
        """Ask a yes/no question in a modal dialog, then call answer with the reply.

        The dialogs are imported when first asked: the first frame shows none of them."""
        from tuiqueue.ui.screens.confirm import ConfirmScreen

        self.app.push_screen(ConfirmScreen(question, yes=yes), answer)

    # -- the window ----------------------------------------------------------------------

    async def _after_first_frame(self) -> None:
        """Build what the first frame only showed: the faces (see Face) and the detail
        pane's parts (see JobDetail.build)."""
        await self.wait_for_refresh()  # (a worker: not the screen's own task)
        with self.app.batch_update():
            await self._build_faces()
            await self.pane.build()  # (unless _follow did already)

    async def _build_faces(self) -> None:
        """Put the real type list and filters in their faces' places, then the form's (once:
        the worker above and a key pressed in the first frames may both ask). The first type
        is highlighted then, and the form filled for it.

        Queried, not assumed: when the dashboard closes meanwhile, the parts already gone
        are skipped (Face.replace and set_type do nothing once theirs have left)."""
        async with self._building:
            for face in list(self.query("#types, #filters > *").results(Face)):
                built = await face.replace()
                if isinstance(built, TypeList) and built.types:
                    built.highlighted = 0
                elif built is not None and built.id == "queue-filter":
                    self._show_queue_choices()
            for form in list(self.query(JobForm)):
                await form.build_faces()  # (unless set_type did already)
                for types in list(self.query(TypeList)):
                    if types.highlighted is not None:
                        # Filled now, not when the list's OptionHighlighted arrives (it then
                        # finds it done): a key pressed in the first frames (n) finds the
                        # type's fields.
                        await form.set_type(types.types[types.highlighted])

    async def _load_first(self) -> None:
        """Once the store is open, load the first window and start the clock of the ages."""
        await self.dashboard.opened.wait()
        await self._reload()
        self._loaded = True
        self.dashboard.loaded.set()
        self.set_interval(self.dashboard.tick, self._tick)

    def _tick(self) -> None:
        self.table.tick()
        if self.pane.display:
            self.pane.tick()
            if self.pane_job != self.table.selected_id and self._pane_timer is None:
                self._follow_soon()  # rows replaced under a resting cursor (reload, resync)

    def reload(self) -> None:
        """Reload the table's window from the engine (filter change, resync)."""
        if self._loaded:
            self.run_worker(self._reload(), group="reload", exclusive=True)

    async def _reload(self) -> None:
        table = self.table
        self.window.reset(table.statuses, table.needle, table.queue)
        self.show_paging(searching=bool(table.needle))
        table.load(await self.window.first())
        self.show_paging()

    def load_more(self) -> None:
        """Page in more queued and finished jobs (keyset paging through the engine)."""
        if self.window.more:
            self.run_worker(self._load_more(), group="page", exclusive=True)

    def refill(self) -> None:
        """Page in the next queued jobs once most of those in the window have started."""
        queued = sum(1 for j in self.table.jobs.values() if j.status in QUEUED)
        if self.window.wants_refill(queued):
            self.run_worker(self._load_more(only=0), group="refill", exclusive=True)

    async def _load_more(self, only: int | None = None) -> None:
        table = self.table
        try:
            self.window.rewind(table.floors, only)
            self.show_paging(searching=bool(table.needle))
            table.page_in(await self.window.next(only), grow=only is None)
            self.show_paging()
        finally:
            if only is not None:
                self.window.refilling = False

    def show_paging(self, searching: bool = False) -> None:
        """Say under the table how much is shown and whether older jobs can be paged in."""
        note = self.window.paging_note(self.table.row_count, self.table.needle, searching)
        # Setting it repaints the whole table, even to the same text (after every batch).
        if note is not None:
            self.table.border_subtitle = note

    def _on_batch(self, batch: Batch) -> None:
        """Apply a batch of engine changes to the table (and the pane's job)."""
        self._pane_batch(batch)
        marks = self.table.marks
        if marks and marks.follow(batch.jobs, batch.deleted):
            self.table.marks_changed()
        if batch.jobs or batch.deleted:
            self.table.apply(batch.jobs, batch.deleted)
            self.dashboard.paint_cost = self.table.paint_cost
            self.refill()
            self.show_paging()
            self._refresh_keys()
            self._place_toasts()
        if batch.resync:
            self.reload()

    def _on_stats(self, stats: Stats) -> None:
        self.stats = stats
        self.query_one(StatsBar).stats = stats
        self._offer_queues(stats)

    def _offer_queues(self, stats: Stats) -> None:
        """Keep the queue filter's choices to the queues there are (and the chosen one)."""
        names = {q.name for q in stats.queues}
        if self.table.queue is not None:
            names.add(self.table.queue)
        if tuple(sorted(names)) == self.queue_choices:
            return
        self.queue_choices = tuple(sorted(names))
        self._show_queue_choices()

    def _show_queue_choices(self) -> None:
        """Give the queue filter the choices in `queue_choices` (once it is a mounted Select:
        a face's Select is built with them, and _build_faces calls this again once it is in,
        for the stats that came while it was mounting)."""
        select = self.query_one("#queue-filter")
        if not isinstance(select, Select) or not select.is_mounted:
            return
        chosen = self.table.queue or ""
        with select.prevent(Select.Changed):
            select.set_options([(ALL_QUEUES, ""), *((n, n) for n in self.queue_choices)])
            select.value = chosen

    def _on_theme(self, theme: Theme) -> None:
        # Badges are coloured from theme variables.
        self.table.rebuild()
        if self.stats is not None:
            self.query_one(StatsBar).stats = self.stats

    # -- the form ------------------------------------------------------------------------

    async def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Fill the form for the highlighted type."""
        await self._fill(event.option_index)

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Choosing a type moves the cursor into its form (its presets read afresh)."""
        await self._fill(event.option_index)
        form = self.query_one(JobForm)
        form.refresh_presets()
        form.focus_first()

    async def _fill(self, index: int) -> None:
        types = self.query_one(TypeList)
        await self.query_one(JobForm).set_type(types.types[index])

    def action_submit(self) -> None:
        """Ask the form for what it holds (it answers with SubmitRequested)."""
        self.query_one(JobForm).request_submit()

    def on_submit_requested(self, message: SubmitRequested) -> None:
        """Validate the form's values; queue the job, or show why not (nothing is queued)."""
        form = self.query_one(JobForm)
        if self.engine.read_only:
            form.show_status("Read-only dashboard: nothing can be submitted here", error=True)
            return
        if message.type_name is None:
            form.show_status("Choose a job type first", error=True)
            return
        if message.errors:
            form.show_errors(message.errors)
            return
        try:
            new = self.engine.new_job(
                message.type_name,
                message.params,
                priority=message.priority,
                rerun_of=message.rerun_of,
                queue=message.queue,
            )
        except ValidationError as exc:
            form.show_errors(exc.errors)
            return
        except (UnknownJobType, ValueError) as exc:
            form.show_status(f"Not submitted: {exc}", error=True)
            return
        self.run_worker(self._submit(new, form), group="submit")

    async def _submit(self, new: NewJob, form: JobForm) -> None:
        job = (await self.engine.submit_many([new]))[0]
        link = f", rerun of #{job.rerun_of}" if job.rerun_of is not None else ""
        if job.rerun_of is not None and form.rerun_of == job.rerun_of:
            form.forget_rerun()
        form.show_status(f"Queued job #{job.id} ({job.type}, {job.priority}{link})")
        # The row arrives with the engine's event; the focus stays where the person types.
        self.table.select(job.id)

    # -- presets -------------------------------------------------------------------------

    def on_presets_wanted(self, message: PresetsWanted) -> None:
        """Read the type's presets from the store (saved anywhere) and hand them to the form."""

        # A coroutine function, not a coroutine: one replaced (exclusive) before it starts
        # is then never created (moving along the type list asks for every type passed).
        async def offer() -> None:
            await self._offer_presets(message.type_name)

        work: WorkType[None] = offer
        self.run_worker(work, group="presets", exclusive=True)

    async def _offer_presets(self, type_name: str, choose: str | None = None) -> None:
        form = self.query_one(JobForm)
        await self.dashboard.opened.wait()
        try:
            presets = await self.engine.presets(type_name)
        except StoreError as exc:
            form.show_status(f"Presets not read: {exc}", error=True)
            return
        form.offer_presets(type_name, presets)
        if choose is not None:
            form.choose_preset(choose)

    def action_save_preset(self) -> None:
        """Ask the form for what it holds (it answers with PresetSaveRequested)."""
        self.query_one(JobForm).request_save_preset()

    def on_preset_save_requested(self, message: PresetSaveRequested) -> None:
        """Check the form's values, ask for a name, then save (asking before overwriting)."""
        form = self.query_one(JobForm)
        if self.engine.read_only:
            form.show_status("Read-only dashboard: presets cannot be saved here", error=True)
            return
        type_name = message.type_name
        if type_name is None:
            form.show_status("Choose a job type first", error=True)
            return
        if message.errors:
            form.show_errors(message.errors)
            form.show_status(f"Not saved: {'; '.join(message.errors.values())}", error=True)
            return

        def named(name: str | None) -> None:
            if name:
                self.run_worker(self._save_preset(name, message), group="preset-save")

        from tuiqueue.ui.screens.preset_name import PresetNameScreen  # (as in ask)

        self.app.push_screen(PresetNameScreen(f"this {type_name} job", message.name), named)

    async def _save_preset(
        self, name: str, message: PresetSaveRequested, replace: bool = False
    ) -> None:
        form = self.query_one(JobForm)
        assert message.type_name is not None
        try:
            saved = await self.engine.save_preset(
                name,
                message.type_name,
                message.params,
                priority=message.priority,
                queue=message.queue,
                replace=replace,
            )
        except PresetExists as exc:
            old = exc.existing

            def answer(yes: bool | None) -> None:
                if yes:
                    self.run_worker(self._save_preset(name, message, True), group="preset-save")

            self.ask(
                f"A preset named {old.name} ({old.type}) exists already. Overwrite it?",
                "Overwrite",
                answer,
            )
            return
        except ValidationError as exc:
            form.show_errors(exc.errors)
            return
        except (PresetError, UnknownJobType, StoreError, ValueError) as exc:
            form.show_status(f"Not saved: {exc}", error=True)
            return
        await self._offer_presets(saved.type, choose=saved.name)
        verb = "Overwrote" if replace else "Saved"
        form.show_status(f"{verb} preset {saved.name} ({saved.type})")

    # -- the selected job ----------------------------------------------------------------

    @property
    def selected(self) -> Job | None:
        """The job the table's cursor is on."""
        selected = self.table.selected_id
        return self.table.jobs.get(selected) if selected is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Show only the keys that apply to the selected job (none that steer when read-only;
        none at all once quitting)."""
        if self.dashboard.stopping:
            return False
        if self.engine.read_only and action in STEERING:
            return False
        if action == "undo_delete":
            return bool(self.dashboard.doomed)
        if action == "edit_rerun":
            return self.selected is not None
        if action != "job":
            return True
        name = parameters[0] if parameters else ""
        if self.table.marks and name in BULK:
            return self.is_active  # every marked job (those it cannot apply to are skipped)
        job = self.selected if self.is_active else None  # not under a dialog either
        if job is None:
            return False
        if name == "retry":
            return job.status is Status.FAILED
        if name in ("cancel", "toggle_pause"):
            return job.status not in TERMINAL
        if name == "kill":
            return job.status in ACTIVE
        if name in ("priority_up", "priority_down"):
            return job.status in QUEUED or (job.status is Status.PAUSED and job.token is None)
        if name == "delete":
            return job.status not in ACTIVE
        return True

    def action_job(self, name: str) -> None:
        """Cancel, pause/resume, rerun or delete the selected job (or every marked one)."""
        if self.table.marks and name in BULK:
            self._bulk(name)
            return
        job = self.selected
        if job is None:
            return
        asked = question(name, job)
        if name == "delete":
            self._delete_later([job.id])
        elif asked is not None:

            def answer(yes: bool | None) -> None:
                if yes:
                    self.run_worker(steer(self.engine, name, job, self.notify), group="command")

            self.ask(asked[0], asked[1], answer)
        else:
            self.run_worker(steer(self.engine, name, job, self.notify), group="command")

    def _delete_later(self, job_ids: list[int]) -> None:
        """Hide the jobs now; delete them for real when the undo time runs out (one timer
        for all of them: u brings them all back)."""
        doomed = self.dashboard.doomed
        ids = [job_id for job_id in job_ids if job_id not in doomed]
        if not ids:
            return
        if len(ids) == 1:
            self.table.hide(ids[0])
        else:
            self.table.hide_many(ids)
        self.show_paging()
        undo = self.dashboard.undo_seconds
        timer = self.set_timer(undo, lambda: self.run_worker(self._delete_now(ids), group="delete"))
        for job_id in ids:
            doomed[job_id] = timer
        what = f"job #{ids[0]}" if len(ids) == 1 else f"{len(ids):,} jobs"
        self.notify(
            f"Deleted {what} — press u to undo", title="Deleted", timeout=undo, markup=False
        )
        self.refresh_bindings()

    async def _delete_now(self, job_ids: list[int]) -> None:
        for job_id in job_ids:
            timer = self.dashboard.doomed.pop(job_id, None)
            if timer is not None:
                timer.stop()
        self.refresh_bindings()
        done = await self.engine.delete_many(job_ids)
        if self.dashboard.stopping or not done.skipped:
            return
        kept = [i for i, why in done.skipped.items() if why != "deleted"]
        if kept:
            self.table.unhide_many(kept)
        if len(kept) == 1:
            self.notify(
                f"Job #{kept[0]} started running; not deleted (cancel it first)",
                severity="warning",
            )
        elif kept:
            self.notify(
                f"{len(kept):,} jobs started running; not deleted (cancel them first)",
                severity="warning",
            )

    def action_undo_delete(self) -> None:
        """Bring back the job (or the marked jobs) deleted last, if its undo time has not run
        out."""
        doomed = self.dashboard.doomed
        if not doomed:
            return
        timer = doomed[next(reversed(doomed))]
        ids = [job_id for job_id, each in doomed.items() if each is timer]
        timer.stop()
        for job_id in ids:
            del doomed[job_id]
        if len(ids) == 1:
            self.table.unhide(ids[0])
            self.notify(f"Job #{ids[0]} is back")
        else:
            self.table.unhide_many(ids)
            self.notify(f"{len(ids):,} jobs are back")
        self.show_paging()
        self.refresh_bindings()

    # -- marked jobs ---------------------------------------------------------------------

    def on_job_table_marks_changed(self, message: JobTable.MarksChanged) -> None:
        """Say how many jobs are marked; the job keys now act on them (or on one again)."""
        self.query_one(StatsBar).marked = message.count
        self.refresh_bindings()

    def _bulk(self, name: str) -> None:
        """A job command on every marked job: one question stating the count, then one
        engine call for all of them (those it does not apply to are skipped, and counted)."""
        marks = self.table.marks
        chosen = plan(name, marks, self.table.jobs)
        if not chosen.ids:
            verb = VERBS[chosen.command][0].lower()
            self.notify(
                f"Nothing to {verb}: none of the {len(marks):,} marked jobs is in a state "
                "it applies to",
                severity="warning",
                markup=False,
            )
            return
        if chosen.command in ("priority_up", "priority_down"):
            # No question: pressed again, it goes on; the other key takes it back.
            self.run_worker(self._run_bulk(chosen), group="command")
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self.run_worker(self._run_bulk(chosen), group="command")

        self.ask(chosen.question, chosen.yes, answer)

    async def _run_bulk(self, chosen: Plan) -> None:
        """Run a planned command through the engine and say what came of it."""
        command, ids = chosen.command, chosen.ids
        engine = self.engine
        if command == "delete":
            self.table.marks.clear()
            self._delete_later(ids)
            return
        try:
            steering: dict[str, Command] = {
                "cancel": "cancel",
                "kill": "kill",
                "pause": "pause",
                "resume": "resume",
            }
            if command in steering:
                done = await engine.command_many(ids, steering[command])
            elif command in ("priority_up", "priority_down"):
                step = 1 if command == "priority_up" else -1
                levels = {
                    i: Priority(min(Priority.CRITICAL, max(Priority.LOW, s.priority + step)))
                    for i, s in chosen.seen.items()
                }
                done = await engine.set_priority_many(levels)
            else:  # rerun, retry
                only = {Status.FAILED} if command == "retry" else None
                done = await engine.rerun_many(ids, only=only)
        except STEER_ERRORS as exc:
            self.notify(str(exc), severity="warning", markup=False)
            return
        skipped = chosen.skipped + len(done.skipped)
        n = len(done.done)
        said = {
            "cancel": "Cancelled",
            "kill": "Killing",
            "pause": "Paused",
            "resume": "Resumed",
            "priority_up": "Raised the priority of",
            "priority_down": "Lowered the priority of",
            "rerun": "Queued again",
            "retry": "Retried",
        }[command]
        made = ""
        if command in ("rerun", "retry") and done.jobs:
            ids_made = [j.id for j in done.jobs]
            made = f" as #{ids_made[0]}" if n == 1 else f" as #{ids_made[0]}-#{ids_made[-1]}"
        self.notify(
            f"{said} {n:,} job{'s' if n != 1 else ''}{made}{skip_note(skipped)}",
            severity="warning" if skipped and not n else "information",
            markup=False,
        )
        if command not in ("priority_up", "priority_down"):  # + and - may be pressed again
            self.table.marks.clear()
            self.table.marks_changed()

    def action_select_all(self) -> None:
        """Mark every job the filter matches, in the store (not only the rows loaded)."""
        if not self.table.markable:
            return
        self.run_worker(self._select_all(), group="marks", exclusive=True)

    async def _select_all(self) -> None:
        table = self.table
        found: dict[int, Seen] = {}
        for group in (ACTIVE, QUEUED, TERMINAL):
            statuses = group if table.statuses is None else group & table.statuses
            if not statuses:
                continue
            pager = Pager(
                self.engine,
                statuses,
                table.needle,
                SELECT_PAGE,
                newest_first=True,
                queue=table.queue,
            )
            while not pager.done:
                for job in await pager.next():
                    if job.id not in table.hidden:
                        found[job.id] = Seen.of(job)
        if not found:
            self.notify("No jobs match the filter: none marked")
            return
        table.marks.put(found)
        table.marks_changed()
        n = len(table.marks)
        self.notify(
            f"Marked {n:,} job{'s' if n != 1 else ''}: every one the filter matches (esc unmarks)",
            markup=False,
        )

    # -- edit and rerun --------------------------------------------------------------------

    async def action_edit_rerun(self) -> None:
        """Open the form filled from the selected job (type, params, priority, queue); its
        submit makes a new job linked to this one (shown as "rerun of" / "rerun as")."""
        job = self.selected
        if job is None:
            return
        if job.type not in self.engine.registry:
            self.notify(
                f"Job type {job.type!r} is not loaded in this dashboard: its form cannot be "
                "built (`tuiqueue rerun ID -p NAME=VALUE` reruns it from a shell that loads it)",
                severity="warning",
                markup=False,
            )
            return
        self._show_form(True)
        await self._build_faces()  # (as in action_new_job)
        form = self.query_one(JobForm)
        await form.set_type(self.engine.registry.get(job.type))
        self.query_one(TypeList).select_type(job.type)
        form.prefill(job)
        form.focus_first()

    # -- the queue -----------------------------------------------------------------------

    async def action_toggle_queue(self) -> None:
        """Pause or resume claiming on every worker of this store."""
        paused = self.stats.queue_paused if self.stats is not None else False
        await self.engine.set_queue_paused(not paused)
        self.post_message(StatsStale())

    def action_clear_finished(self) -> None:
        """Delete the finished jobs, after asking: with a filter, only those it shows."""
        t = self.table
        work: Callable[[], Coroutine[Any, Any, None]]
        if t.statuses is not None or t.queue is not None or t.needle:
            shown = [i for i in t.row_ids() if t.jobs[i].status in TERMINAL]
            if not shown:
                self.notify("No finished jobs shown to clear")
                return
            n = len(shown)
            question = f"Delete the {n} finished job{'s' if n != 1 else ''} shown (filtered)?"
            work = partial(self._delete_shown, shown)
        else:
            counts = self.stats.counts if self.stats is not None else {}
            n = sum(counts.get(s, 0) for s in TERMINAL)
            if not n:
                self.notify("No finished jobs to clear")
                return
            question = f"Delete all {n} finished job{'s' if n != 1 else ''}?"
            work = self._clear

        def answer(yes: bool | None) -> None:
            if yes:
                self.run_worker(work(), group="clear", exclusive=True)

        self.ask(f"{question} This cannot be undone.", "Delete", answer)

    async def _clear(self) -> None:
        count = await self.engine.clear()
        self.notify(f"Deleted {count} finished jobs")
        self.post_message(StatsStale())

    async def _delete_shown(self, job_ids: list[int]) -> None:
        count = len(await self.engine.delete(job_ids))
        self.notify(f"Deleted {count} finished job{'s' if count != 1 else ''} (shown)")
        self.post_message(StatsStale())

    # -- the rest ------------------------------------------------------------------------

    def on_job_table_highlighted(self, event: JobTable.Highlighted) -> None:
        """Keys that apply depend on the selected job; the pane follows it."""
        self._refresh_keys()
        self._follow_soon()
        self._place_toasts()

    def _place_toasts(self) -> None:
        """Toasts go to the half of the screen the cursor's row is not in (never over it)."""
        table = self.table
        row = table.region.y + 1 + (table.cursor_row - int(table.scroll_y))  # under the header
        self.set_class(row >= self.app.size.height // 2, "-toasts-top")

    # -- the detail pane -----------------------------------------------------------------

    def _follow_soon(self) -> None:
        """Show the highlighted job in the pane once the cursor rests (coalesced)."""
        if self._pane_timer is not None:
            self._pane_timer.stop()
            self._pane_timer = None
        if self.pane.display and self.table.selected_id != self.pane_job:
            self._pane_timer = self.set_timer(PANE_DELAY, self._follow)

    async def _follow(self) -> None:
        self._pane_timer = None
        job = self.selected
        if job is None or not self.pane.display:
            return
        await self.pane.build()  # (at once after the first frame; this keeps it so)
        job = self.selected
        if job is None or not self.pane.display:
            return
        if job.id != self.pane_job:
            self.pane_job = job.id
            self.pane.reset()
            self.pane.query_one("#detail-facts").border_title = f"Job #{job.id}"
        self.pane.show(job)  # the table's snapshot: no store read for the job itself
        self._pane_worker(job.id, steps=True)

    def _pane_worker(self, job_id: int, steps: bool) -> None:
        # A coroutine function, not a coroutine: a fetch replaced (exclusive) before it
        # starts is then never created, rather than left un-awaited.
        async def fetch() -> None:
            await self._pane_fetch(job_id, steps)

        work: WorkType[None] = fetch
        self.run_worker(work, group="pane", exclusive=True)

    async def _pane_fetch(self, job_id: int, steps: bool = False) -> None:
        """New log lines (after the last shown) and, if asked, the steps of the pane's job."""
        if job_id != self.pane_job:
            return
        try:
            page = await self.engine.logs(job_id, self.pane.log_tail.last_seq)
            if job_id != self.pane_job:
                return
            self.pane.add_log(page)
            if steps:
                self.pane.set_steps(await self.engine.steps(job_id))
                self.pane.set_reruns(await self.engine.reruns(job_id))
                job = self.pane.job
                if job is not None and job.status in QUEUED:
                    self.pane.summary.waiting = await why_waiting(self.engine, job)
        except UnknownJob:  # deleted meanwhile: its row goes with the same batch
            pass

    def _pane_batch(self, batch: Batch) -> None:
        """Keep the pane's job live: only its own snapshot and log lines are read."""
        job_id = self.pane_job
        if job_id is None or not self.pane.display:
            return
        job = batch.jobs.get(job_id)
        if job is not None:
            self.pane.show(job)
        logs = job_id in batch.logs or (
            job is not None and job.log_count > self.pane.log_tail.last_seq
        )
        rerun = any(j.rerun_of == job_id for j in batch.jobs.values())  # "rerun as" grows
        if logs or job is not None or rerun:
            steps = rerun or (job is not None and job.status is not Status.PENDING)
            self._pane_worker(job_id, steps=steps)

    def action_toggle_pane(self) -> None:
        """Show or hide the detail pane."""
        self._show_pane(not self.pane.display)

    def _show_pane(self, shown: bool) -> None:
        self.pane.display = shown
        if shown:
            self._follow_soon()
        else:
            self.pane_job = None

    def action_toggle_form(self) -> None:
        """Show or hide the job types and the form."""
        self._show_form(self.query_one("#left").has_class("-collapsed"))

    def _show_form(self, shown: bool) -> None:
        left = self.query_one("#left")
        left.set_class(not shown, "-collapsed")
        if not shown and left.has_focus_within:
            self.table.focus()

    def on_resize(self) -> None:
        """Narrow: the form collapses; short: the pane starts hidden (keys show them)."""
        size = self.app.size
        narrow, short = size.width < NARROW, size.height < SHORT
        if narrow != self._narrow:
            self._narrow = narrow
            self.query_one(StatsBar).fold(narrow)
            self.query_one("#left").set_class(narrow, "-narrow")
            self._show_form(not narrow)
        if short != self._short:
            self._short = short
            self._show_pane(not short)

    def _refresh_keys(self) -> None:
        # The footer rebuilds every key on each refresh_bindings, so only when what the
        # job keys depend on (check_action: is a job selected, has it finished, is it
        # running) has changed, not whenever another job is selected.
        job = self.selected
        keys_for = (
            (job is not None, job.status in TERMINAL, job.status in ACTIVE)
            if job is not None
            else (False, False, False)
        )
        if keys_for != self._keys_for:
            self._keys_for = keys_for
            self.refresh_bindings()

    def on_job_table_selected(self, event: JobTable.Selected) -> None:
        """Enter on a row opens its detail view."""
        from tuiqueue.ui.screens.detail import DetailScreen  # (not needed for the first frame)

        self.app.push_screen(DetailScreen(self.dashboard, event.job_id))

    def action_sort(self) -> None:
        """Sort the queue by the next column."""
        self.table.next_sort()

    def action_reverse_sort(self) -> None:
        """Reverse the sort."""
        self.table.reverse_sort()

    def on_job_table_sorted(self, message: JobTable.Sorted) -> None:
        """Say the sort in the queue's title too (its column may be folded away)."""
        label = self.table.sort_label()
        self.table.border_title = f"Queue · {label}" if label else "Queue"

    def on_job_table_need_more(self, message: JobTable.NeedMore) -> None:
        """Page in older jobs."""
        self.load_more()

    def on_select_changed(self, event: Select.Changed) -> None:
        """A new status filter reloads the window."""
        if event.select.id == "status-filter" and isinstance(event.value, int):
            self.table.statuses = FILTERS[event.value][1]
            self.reload()
        elif event.select.id == "queue-filter" and isinstance(event.value, str):
            queue = event.value or None
            if queue != self.table.queue:
                self.table.queue = queue
                self.reload()

    def on_input_changed(self, event: Input.Changed) -> None:
        """The text filter applies to the shown rows at once, then searches the store."""
        if event.input.id == "text-filter":
            self.table.needle = event.value.strip()
            self.table.rebuild()
            if self._search is not None:
                self._search.stop()
            self._search = self.set_timer(SEARCH_DELAY, self.reload)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter goes back to the table."""
        if event.input.id == "text-filter":
            self.table.focus()

    async def action_new_job(self) -> None:
        """Focus the form's first field; if the form was folded away, show it and start at
        the type list (enter on a type goes on to its fields). A rerun being edited is
        forgotten: this is a new job."""
        await self._build_faces()  # (at once after the first frame; this keeps it so)
        if not self.is_attached:
            return
        form = self.query_one(JobForm)
        form.forget_rerun()
        form.refresh_presets()
        if self.query_one("#left").has_class("-collapsed"):
            self._show_form(True)
            self.query_one(TypeList).focus()
            return
        form.focus_first()

    def action_focus_table(self) -> None:
        """Put the focus back on the queue table (on a narrow screen the form collapses)."""
        if self._narrow:
            self._show_form(False)
        self.table.focus()

    def action_noop(self) -> None:
        """Listed for the help screen; the table itself handles enter."""

    async def action_filter(self) -> None:
        """Focus the text filter."""
        await self._build_faces()  # (at once after the first frame; this keeps it so)
        if self.is_attached:
            self.query_one("#text-filter", Input).focus()
