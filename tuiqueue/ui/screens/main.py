"""The main screen: stats bar, job types, the form, filters and the queue table."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Input, OptionList, Select

from tuiqueue.core.status import ACTIVE, QUEUED, TERMINAL, Status
from tuiqueue.ui.messages import JobsChanged, SubmitRequested
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.job_table import JobTable
from tuiqueue.ui.widgets.stats_bar import StatsBar
from tuiqueue.ui.widgets.type_list import TypeList

if TYPE_CHECKING:
    from tuiqueue.ui.app import QueueApp

FILTERS: list[tuple[str, frozenset[Status] | None]] = [
    ("All jobs", None),
    ("Running", ACTIVE),
    ("Queued", QUEUED),
    ("Finished", TERMINAL),
    ("Completed", frozenset({Status.COMPLETED})),
    ("Failed", frozenset({Status.FAILED})),
    ("Cancelled", frozenset({Status.CANCELLED})),
]
"""Status filter choices."""


SEARCH_DELAY = 0.25
"""Typing pauses this long before the text filter searches the store."""


class MainScreen(Screen[None]):
    """Where a person submits, watches and steers jobs."""

    table: JobTable
    """The queue table (kept, not queried: it is used after every batch of changes)."""

    BINDINGS = [
        Binding("n", "new_job", "New", id="main.new", tooltip="Fill in a new job (focus the form)"),
        Binding("c", "app.job('cancel')", "Cancel", id="main.cancel",
                tooltip="Cancel the selected job (queued or running)"),
        Binding("p", "app.job('toggle_pause')", "Pause", id="main.pause",
                tooltip="Pause or resume the selected job"),
        Binding("P", "app.toggle_queue", "Queue", id="main.queue",
                tooltip="Pause or resume the whole queue"),
        Binding("r", "app.job('rerun')", "Rerun", id="main.rerun",
                tooltip="Queue the selected job again with the same params"),
        Binding("d", "app.job('delete')", "Delete", id="main.delete",
                tooltip="Delete the selected job (not while it runs; u undoes it)"),
        Binding("u", "app.undo_delete", "Undo", id="main.undo",
                tooltip="Bring back the job deleted last (for a few seconds)"),
        Binding("x", "app.clear_finished", "Clear", id="main.clear",
                tooltip="Delete every finished job (asks first)"),
        Binding("slash", "filter", "Filter", id="main.filter",
                tooltip="Filter the queue by text"),
        Binding("w", "app.workers", "Workers", id="main.workers",
                tooltip="Show the workers on this store"),
        Binding("escape", "focus_table", "Queue", id="main.table", show=False,
                tooltip="Back to the queue table (from the form or the filter)"),
        Binding("enter", "noop", "Details", id="main.details", show=False,
                tooltip="Open the selected job's details (in the table)"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self._search: Timer | None = None
        self._keys_for: tuple[bool, bool, bool] = (False, False, False)
        """What the job keys depended on when the footer was last refreshed (_refresh_keys)."""

    @property
    def qapp(self) -> QueueApp:
        """The dashboard app."""
        return cast("QueueApp", self.app)

    def compose(self) -> ComposeResult:
        """Stats on top, types and form on the left, filters and table on the right."""
        app = self.qapp
        yield StatsBar(id="stats")
        with Horizontal(id="body"):
            with Vertical(id="left"):
                yield TypeList(app.registry, id="types")
                yield JobForm(id="form")
            with Vertical(id="right"):
                with Horizontal(id="filters"):
                    yield Select([(label, index) for index, (label, _) in enumerate(FILTERS)],
                                 value=0, allow_blank=False, id="status-filter")
                    yield Input(placeholder="/ filter by id, type, message, params",
                                id="text-filter")
                self.table = JobTable(clock=app.clock, id="jobs")
                yield self.table
        yield Footer()

    def on_mount(self) -> None:
        """Titles, and the first job type in the form."""
        self.query_one("#types").border_title = "Job types"
        self.query_one("#form").border_title = "New job"
        self.query_one("#jobs").border_title = "Queue"
        types = self.query_one(TypeList)
        if types.types:
            types.highlighted = 0
        self.query_one(JobTable).focus()
        self.qapp.start()

    async def on_option_list_option_highlighted(
        self, event: OptionList.OptionHighlighted
    ) -> None:
        """Fill the form for the highlighted type."""
        await self._fill(event.option_index)

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Choosing a type moves the cursor into its form."""
        await self._fill(event.option_index)
        self.query_one(JobForm).focus_first()

    async def _fill(self, index: int) -> None:
        types = self.query_one(TypeList)
        await self.query_one(JobForm).set_type(types.types[index])

    def on_submit_requested(self, message: SubmitRequested) -> None:
        """The form's button was pressed."""
        self.qapp.action_submit()

    def on_jobs_changed(self, message: JobsChanged) -> None:
        """Apply a batch of engine changes to the table."""
        self.table.apply(message.jobs, message.deleted)
        self.qapp.refill()
        self.qapp.show_paging()
        self._refresh_keys()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        """Keys that apply depend on the selected job."""
        self._refresh_keys()

    def _refresh_keys(self) -> None:
        # The footer rebuilds every key on each refresh_bindings, so only when what the
        # job keys depend on (QueueApp.check_action: is a job selected, has it finished,
        # is it running) has changed, not whenever another job is selected.
        table = self.table
        selected = table.selected_id
        job = table.jobs.get(selected) if selected is not None else None
        keys_for = ((job is not None, job.status in TERMINAL, job.status in ACTIVE)
                    if job is not None else (False, False, False))
        if keys_for != self._keys_for:
            self._keys_for = keys_for
            self.refresh_bindings()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter on a row opens its detail view."""
        if event.row_key.value is not None:
            self.qapp.show_detail(int(event.row_key.value))

    def on_job_table_need_more(self, message: JobTable.NeedMore) -> None:
        """Page in older jobs."""
        self.qapp.load_more()

    def on_select_changed(self, event: Select.Changed) -> None:
        """A new status filter reloads the window."""
        if event.select.id == "status-filter" and isinstance(event.value, int):
            self.table.statuses = FILTERS[event.value][1]
            self.qapp.reload()

    def on_input_changed(self, event: Input.Changed) -> None:
        """The text filter applies to the shown rows at once, then searches the store."""
        if event.input.id == "text-filter":
            self.table.needle = event.value.strip()
            self.table.rebuild()
            if self._search is not None:
                self._search.stop()
            self._search = self.set_timer(SEARCH_DELAY, self.qapp.reload)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the filter goes back to the table."""
        if event.input.id == "text-filter":
            self.table.focus()

    def action_new_job(self) -> None:
        """Focus the form's first field."""
        self.query_one(JobForm).focus_first()

    def action_focus_table(self) -> None:
        """Put the focus back on the queue table."""
        self.table.focus()

    def action_noop(self) -> None:
        """Listed for the help screen; the table itself handles enter."""

    def action_filter(self) -> None:
        """Focus the text filter."""
        self.query_one("#text-filter", Input).focus()
