"""A progress bar with the job's percent, message and ETA."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.reactive import reactive
from textual.widgets import ProgressBar, Static

from tuiqueue.ui.format import plain


class JobProgress(Horizontal):
    """The bar is data-bound to `percent`; the message and ETA sit beside it."""

    percent: reactive[float] = reactive(0.0)
    """Percent done, 0-100."""
    message: reactive[str] = reactive("")
    """The job's latest progress message."""
    eta: reactive[str] = reactive("-")
    """Estimated time left."""

    def compose(self) -> ComposeResult:
        """The bar and a status line."""
        yield ProgressBar(total=100, show_eta=False, id="detail-bar").data_bind(
            progress=JobProgress.percent
        )
        yield Static(id="detail-progress-text")

    def on_mount(self) -> None:
        """Show the initial text."""
        self._update_text()

    def _update_text(self) -> None:
        # Watchers may fire before compose has mounted the text widget.
        for static in self.query("#detail-progress-text").results(Static):
            text = plain(self.message)
            text.append(f"   ETA {self.eta}", style="dim")
            static.update(text)

    def watch_message(self) -> None:
        """Show a new message."""
        self._update_text()

    def watch_eta(self) -> None:
        """Show a new ETA."""
        self._update_text()
