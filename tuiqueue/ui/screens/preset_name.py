"""A modal asking for the name to save the form under as a preset."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Static

from tuiqueue.core.preset import PresetError, check_preset_name


class PresetNameScreen(ModalScreen[str | None]):
    """The preset's name (a name a rule allows, checked before it closes); escape cancels."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="preset_name.cancel", tooltip="Save nothing")
    ]

    def __init__(self, what: str, name: str = "") -> None:
        super().__init__()
        self.what = what
        self.suggested = name

    def compose(self) -> ComposeResult:
        """What will be saved, the name input, and a line for what is wrong with it."""
        with Vertical(id="preset-dialog"):
            yield Static(Text(f"Save {self.what} as a preset"), id="preset-what")
            yield Input(
                self.suggested, placeholder="name (letters, digits, _ . : -)", id="preset-name"
            )
            yield Static("", id="preset-error")
            yield Static(Text("enter: save · escape: cancel"), id="preset-hint")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter answers with the name, once it is one a preset may have."""
        event.stop()
        name = event.value.strip()
        try:
            check_preset_name(name)
        except PresetError as exc:
            self.query_one("#preset-error", Static).update(Text(str(exc)))
            return
        self.dismiss(name)

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)
