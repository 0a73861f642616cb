"""The parameter form, generated from the chosen job type's schema."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Select, Static

from tuiqueue.core.job import Job
from tuiqueue.core.registry import JobType
from tuiqueue.core.status import Priority
from tuiqueue.core.text import clean
from tuiqueue.ui.messages import SubmitRequested
from tuiqueue.ui.widgets.param_field import ParamField


class JobForm(VerticalScroll, can_focus=False):
    """Fields for one job type, a priority select and a submit button.

    The pane itself never takes the focus (Tab from the types goes to the first field), and
    a printable key typed anywhere in it stops here: the screen's one-letter keys (c cancels,
    q quits) never act while the person is filling in a job (issue 14).
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.job_type: JobType | None = None
        self.rerun_of: int | None = None
        """The job being edited and rerun (`e`): the submit is linked to it."""
        self.queue: str | None = None
        """The queue the submit joins (a rerun keeps the old job's; None: the default)."""
        self.title = ""
        """The border title when no rerun is being edited (set by the screen)."""

    def compose(self) -> ComposeResult:
        """The description, the (initially empty) fields, priority and submit."""
        yield Static("Choose a job type", id="form-description")
        yield Vertical(id="form-fields")
        # Docked: the fields scroll, priority, Submit and what became of the last submit
        # stay in view whatever the height.
        with Vertical(id="form-bottom"):
            with Horizontal(id="form-footer"):
                yield Label("Priority", id="priority-label")
                yield Select(
                    [(str(p), p) for p in Priority],
                    value=Priority.NORMAL,
                    allow_blank=False,
                    id="priority",
                )
                yield Button("Submit ^s", variant="primary", id="submit")
            yield Static("", id="form-status")

    async def set_type(self, job_type: JobType) -> None:
        """Rebuild the fields for a job type, with defaults filled in."""
        if self.job_type is not None and self.job_type.name == job_type.name:
            return
        self.forget_rerun()  # another type: a new job, not the rerun being edited
        self.job_type = job_type
        self.query_one("#form-description", Static).update(
            Text.assemble((clean(job_type.name), "bold"), "  ", clean(job_type.description or ""))
        )
        self.show_status("")
        fields = self.query_one("#form-fields", Vertical)
        await fields.remove_children()
        await fields.mount_all(ParamField(p) for p in job_type.schema.params)

    def prefill(self, job: Job) -> None:
        """Fill the fields (already built for its type) from a job, to edit and rerun it."""
        for field in self.fields:
            name = field.param.name
            field.set_value(job.params[name] if name in job.params else field.param.default)
            field.error = ""
        self.query_one("#priority", Select).value = job.priority
        self.rerun_of, self.queue = job.id, job.queue
        self.border_title = f"Rerun of #{job.id}"
        self.show_status(
            f"Editing a rerun of job #{job.id} (queue {job.queue}): change what you like, "
            "then submit; the new job is linked to it."
        )

    def forget_rerun(self) -> None:
        """A plain new job again (after the rerun was submitted, or another type chosen)."""
        if self.rerun_of is None:
            return
        self.rerun_of = self.queue = None
        self.border_title = self.title

    @property
    def fields(self) -> list[ParamField]:
        """The generated fields, in schema order."""
        return list(self.query(ParamField))

    @property
    def priority(self) -> Priority:
        """The chosen priority."""
        value = self.query_one("#priority", Select).value
        return value if isinstance(value, Priority) else Priority.NORMAL

    def collect(self) -> tuple[dict[str, Any], dict[str, str]]:
        """(params, errors per field) from every field, showing each field's error."""
        params: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for field in self.fields:
            value, error = field.value()
            field.error = error or ""
            if error:
                errors[field.param.name] = error
            elif value is not None:
                params[field.param.name] = value
        return params, errors

    def show_errors(self, errors: dict[str, str]) -> None:
        """Show errors the engine found beside their fields, and a summary."""
        for field in self.fields:
            if field.param.name in errors:
                field.error = errors[field.param.name]
        reasons = "; ".join(errors.values())
        self.show_status(f"Not submitted: {reasons}", error=True)

    def show_status(self, text: str, error: bool = False) -> None:
        """A line under the form saying what happened to the last submit."""
        status = self.query_one("#form-status", Static)
        status.update(Text(text))
        status.set_class(error, "-error")

    def focus_first(self) -> None:
        """Put the cursor in the first field (or on submit when there are none)."""
        fields = self.fields
        if fields:
            fields[0].query_one(f"#param-{fields[0].param.name}").focus()
        else:
            self.query_one("#submit", Button).focus()

    def request_submit(self) -> None:
        """Read every field and ask the screen to submit what they hold."""
        params, errors = self.collect() if self.job_type is not None else ({}, {})
        self.post_message(
            SubmitRequested(
                self.job_type.name if self.job_type else None,
                params,
                errors,
                self.priority,
                rerun_of=self.rerun_of,
                queue=self.queue,
            )
        )

    def on_key(self, event: events.Key) -> None:
        """A letter typed on a switch, select or button is not a dashboard key (a field's
        own key, such as space on a switch, still works)."""
        if not event.is_printable:
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and self in active.node.ancestors_with_self:
            return
        event.stop()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """The submit button asks the screen to submit."""
        event.stop()
        self.request_submit()
