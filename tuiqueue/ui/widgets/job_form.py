"""The parameter form, generated from the chosen job type's schema, with its preset bar."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Select, Static

from tuiqueue.core.job import Job
from tuiqueue.core.preset import Preset
from tuiqueue.core.queues import DEFAULT_QUEUE
from tuiqueue.core.registry import JobType
from tuiqueue.core.status import Priority
from tuiqueue.core.text import clean, one_line
from tuiqueue.ui.messages import PresetSaveRequested, PresetsWanted, SubmitRequested
from tuiqueue.ui.widgets.button_face import ButtonFace
from tuiqueue.ui.widgets.face import Face
from tuiqueue.ui.widgets.select_face import SelectFace

if TYPE_CHECKING:
    from tuiqueue.ui.widgets.param_field import ParamField

# The fields are imported when a type's are first built (after the first frame: they bring
# Textual's Switch).

PRESET_PROMPT = "Preset…"
"""What the preset bar's Select shows while no preset is chosen."""

SUBMIT = "Submit ^s"
"""The submit button's label."""

SAVE = "Save preset ^o"
"""The preset bar's save button's label."""


class JobForm(VerticalScroll, can_focus=False):
    """Fields for one job type, a priority select, a submit button and the preset bar.

    The pane itself never takes the focus (Tab from the types goes to the first field), and
    a printable key typed anywhere in it stops here: the screen's one-letter keys (c cancels,
    q quits) never act while the person is filling in a job (issue 14). The preset bar comes
    after Submit in the focus order, so Tab still lands in the first field.
    """

    def __init__(self, **kw: Any) -> None:
        super().__init__(**kw)
        self.job_type: JobType | None = None
        self.rerun_of: int | None = None
        """The job being edited and rerun (`e`): the submit is linked to it."""
        self.title = ""
        """The border title when no rerun is being edited (set by the screen)."""
        self.presets: dict[str, Preset] = {}
        """The presets offered for the shown type (the screen hands them down)."""
        self.preset: Preset | None = None
        """The preset the fields were last filled from (None: none, or another type)."""
        self.queue = DEFAULT_QUEUE
        """The queue a submit goes to: the chosen preset's or the rerun job's, else the
        default queue."""
        self._building = asyncio.Lock()
        self._setting = asyncio.Lock()

    def compose(self) -> ComposeResult:
        """The description, the (initially empty) fields, priority and submit."""
        yield Static("Choose a job type", id="form-description")
        yield Vertical(id="form-fields")
        # Docked: the fields scroll, priority, Submit and what became of the last submit
        # stay in view whatever the height.
        with Vertical(id="form-bottom"):
            with Horizontal(id="form-footer"):
                yield Label("Priority", id="priority-label")
                # The Selects and Buttons are faces until build_faces (after the first frame).
                yield SelectFace(str(Priority.NORMAL), self._priority_select, id="priority")
                yield ButtonFace(SUBMIT, self._submit_button, primary=True, id="submit")
            # One line (compact): at 80x24 the fields keep their room.
            with Horizontal(id="preset-bar"):
                yield SelectFace(
                    PRESET_PROMPT, self._preset_select, placeholder=True, compact=True, id="preset"
                )
                yield ButtonFace(SAVE, self._save_button, compact=True, id="save-preset")
            yield Static("", id="form-status")

    @staticmethod
    def _priority_select() -> Select[Priority]:
        options = [(str(p), p) for p in Priority]
        return Select(options, value=Priority.NORMAL, allow_blank=False, id="priority")

    @staticmethod
    def _preset_select() -> Select[str]:
        return Select[str]([], prompt=PRESET_PROMPT, id="preset", compact=True)

    @staticmethod
    def _submit_button() -> Button:
        return Button(SUBMIT, variant="primary", id="submit")

    @staticmethod
    def _save_button() -> Button:
        return Button(SAVE, id="save-preset", compact=True)

    async def build_faces(self) -> None:
        """Put the real Selects and Buttons where their faces are (once; the screen and a
        type chosen at once may both ask)."""
        async with self._building:
            for face in list(self.query(Face)):
                await face.replace()

    async def set_type(self, job_type: JobType) -> None:
        """Rebuild the fields for a job type, with defaults filled in (one call at a time:
        a second one for the same type returns once the first has built the fields)."""
        async with self._setting:
            await self._set_type(job_type)

    async def _set_type(self, job_type: JobType) -> None:
        if self.job_type is not None and self.job_type.name == job_type.name:
            return
        await self.build_faces()  # (the screen builds them first; this keeps it so)
        if not self.is_attached:
            return  # the dashboard is closing: no form to fill
        self.forget_rerun()  # another type: a new job, not the rerun being edited
        self.job_type = job_type
        self.query_one("#form-description", Static).update(
            Text.assemble((clean(job_type.name), "bold"), "  ", clean(job_type.description or ""))
        )
        self.show_status("")
        self._forget_preset()
        self.offer_presets(job_type.name, [])
        from tuiqueue.ui.widgets.param_field import ParamField

        fields = self.query_one("#form-fields", Vertical)
        await fields.remove_children()
        await fields.mount_all(ParamField(p) for p in job_type.schema.params)
        self.post_message(PresetsWanted(job_type.name))

    def set_read_only(self) -> None:
        """Nothing can be submitted or saved; a preset can still be chosen (to read it)."""
        for selector in ("#form-fields", "#priority", "#submit", "#save-preset"):
            self.query_one(selector).disabled = True

    # -- presets -------------------------------------------------------------------------

    def offer_presets(self, type_name: str, presets: list[Preset]) -> None:
        """List a type's presets in the bar (ignored once another type is shown); the one
        chosen stays chosen while it exists."""
        if self.job_type is None or self.job_type.name != type_name:
            return
        offered = {p.name: p for p in presets if p.type == type_name}
        if offered.keys() == self.presets.keys() and all(
            offered[n] == self.presets[n] for n in offered
        ):
            return
        self.presets = offered
        select = self.query_one("#preset", Select)
        chosen = self.preset.name if self.preset is not None else None
        with select.prevent(Select.Changed):
            select.set_options((Text(one_line(name, 40)), name) for name in offered)
            if chosen in offered:
                select.value = chosen
        if self.preset is not None and self.preset.name not in offered:
            self._forget_preset()

    def choose_preset(self, name: str) -> None:
        """Fill the form from the offered preset `name` (the bar's choice)."""
        preset = self.presets.get(name)
        if preset is None or self.job_type is None:
            return
        select = self.query_one("#preset", Select)
        if select.value != name:
            with select.prevent(Select.Changed):
                select.value = name
        self.apply_preset(preset)

    def apply_preset(self, preset: Preset) -> None:
        """Set every field to the preset's value (its type's default where it has none),
        its priority and queue; say which of its params this type no longer has."""
        self.preset = preset
        self.queue = preset.queue
        for param_field in self.fields:
            param_field.set_value(preset.params.get(param_field.param.name))
        priority = self.query_one("#priority", Select)
        priority.value = preset.priority
        known = {f.param.name for f in self.fields}
        extra = sorted(set(preset.params) - known)
        said = f"Filled in from preset {preset.name}"
        if preset.queue != DEFAULT_QUEUE:
            said += f" (queue {preset.queue})"
        if extra:
            said += f"; not a parameter any more: {', '.join(extra)}"
        self.show_status(one_line(said, 300), error=bool(extra))

    def _forget_preset(self) -> None:
        self.preset = None
        self.queue = DEFAULT_QUEUE

    def request_save_preset(self) -> None:
        """Read every field and ask the screen to save them as a preset."""
        params, errors = self.collect() if self.job_type is not None else ({}, {})
        self.post_message(
            PresetSaveRequested(
                self.job_type.name if self.job_type else None,
                params,
                errors,
                self.priority,
                self.queue,
                self.preset.name if self.preset is not None else "",
            )
        )

    def on_select_changed(self, event: Select.Changed) -> None:
        """Choosing a preset fills the form; clearing the choice keeps the fields as they are
        (the default queue again)."""
        if event.select.id != "preset":
            return
        event.stop()
        if isinstance(event.value, str):
            self.choose_preset(event.value)
        else:
            self._forget_preset()
            self.show_status("")

    def refresh_presets(self) -> None:
        """Ask for the shown type's presets again (saved elsewhere meanwhile, maybe)."""
        if self.job_type is not None:
            self.post_message(PresetsWanted(self.job_type.name))

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        """Focusing the preset list refreshes it: presets saved elsewhere (the CLI, another
        dashboard) show up without a restart."""
        if event.widget.id == "preset":
            self.refresh_presets()

    def prefill(self, job: Job) -> None:
        """Fill the fields (already built for its type) from a job, to edit and rerun it."""
        for field in self.fields:
            name = field.param.name
            field.set_value(job.params[name] if name in job.params else field.param.default)
            field.error = ""
        self.query_one("#priority", Select).value = job.priority
        self.preset = None  # the fields are the job's now, not a preset's
        preset_select = self.query_one("#preset", Select)
        with preset_select.prevent(Select.Changed):
            preset_select.clear()
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
        self.rerun_of = None
        self.queue = DEFAULT_QUEUE
        self.border_title = self.title

    @property
    def fields(self) -> list[ParamField]:
        """The generated fields, in schema order."""
        from tuiqueue.ui.widgets.param_field import ParamField

        return list(self.query(ParamField))

    @property
    def priority(self) -> Priority:
        """The chosen priority."""
        select = self.query_one("#priority")
        value = select.value if isinstance(select, Select) else None  # (None: still a face)
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
            return
        for submit in self.query("#submit"):  # (none: the form is being removed)
            if isinstance(submit, Button):
                submit.focus()
            else:  # still its face (a key pressed in the first frames): once it is built
                self.run_worker(self._focus_when_built(), group="form-focus", exclusive=True)

    async def _focus_when_built(self) -> None:
        await self.build_faces()
        if self.is_attached and not self.query(Face):
            self.focus_first()

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
        """The submit button asks the screen to submit; "Save preset" to save a preset."""
        event.stop()
        if event.button.id == "save-preset":
            self.request_save_preset()
        else:
            self.request_submit()
