"""The help screen: every key, generated from the bindings themselves."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, Sequence[BindingType]]


def key_name(key: str) -> str:
    """How a key is written in the help: ctrl+s → ^s, slash → /."""
    names = {
        "slash": "/",
        "question_mark": "?",
        "escape": "esc",
        "enter": "enter",
        "plus": "+",
        "minus": "-",
        "shift+up": "shift+↑",
        "shift+down": "shift+↓",
    }
    parts = [names.get(k, k).replace("ctrl+", "^") for k in key.split(",")]
    return " ".join(parts)


class HelpScreen(ModalScreen[None]):
    """Every key of the dashboard, by screen."""

    BINDINGS = [
        Binding(
            "escape,q,question_mark", "dismiss", "Close", id="help.close", tooltip="Close the help"
        )
    ]

    def __init__(self, sections: Iterable[Section]) -> None:
        super().__init__()
        self.sections = list(sections)

    def compose(self) -> ComposeResult:
        """One table of keys per section."""
        with VerticalScroll(id="help"):
            yield Static(Text("tuiqueue keys", style="bold"), id="help-title")
            for title, bindings in self.sections:
                table = Table(
                    title=title,
                    title_justify="left",
                    show_header=False,
                    box=None,
                    padding=(0, 2),
                    expand=True,
                )
                table.add_column(width=12, style="bold")
                table.add_column()
                for item in bindings:
                    if isinstance(item, Binding):
                        table.add_row(key_name(item.key), item.tooltip or item.description)
                yield Static(table, classes="help-section")
            yield Static(
                Text(
                    "Mouse: click rows, column headers (sort), types and buttons. "
                    "Press esc to close.",
                    style="dim",
                ),
                id="help-footer",
            )

    async def action_dismiss(self, result: None = None) -> None:
        """Close the help."""
        self.dismiss(result)
