"""A modal asking for a new schedule's name and when it fires (the job comes from the form)."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static


@dataclass(frozen=True, slots=True)
class ScheduleAnswer:
    """What the person typed: a name and "every 30s" or a cron expression."""

    name: str
    when: str


class ScheduleAddScreen(ModalScreen[ScheduleAnswer | None]):
    """Name and when, for a schedule of the job the form holds; escape cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="schedule_add.cancel", tooltip="Add nothing")
    ]

    def __init__(self, what: str) -> None:
        super().__init__()
        self.what = what

    def compose(self) -> ComposeResult:
        """What will run, then the two inputs."""
        with Vertical(id="schedule-dialog"):
            yield Static(Text(f"Schedule {self.what}"), id="schedule-what")
            yield Input(placeholder="name", id="schedule-name")
            yield Input(placeholder="every 30s  or  */5 * * * *  (cron)", id="schedule-when")
            yield Static(Text("enter: add · escape: cancel"), id="schedule-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter in the name moves on; enter in "when" answers."""
        if event.input.id == "schedule-name":
            self.query_one("#schedule-when", Input).focus()
            return
        name = self.query_one("#schedule-name", Input).value.strip()
        self.dismiss(ScheduleAnswer(name, event.value.strip()))

    def action_cancel(self) -> None:
        """Close without adding."""
        self.dismiss(None)
