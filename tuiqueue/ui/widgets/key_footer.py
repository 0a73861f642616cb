"""The footer of every screen: Textual's Footer, rebuilt once per change of bindings."""

from __future__ import annotations

from typing import Any

from textual.widgets import Footer


class KeyFooter(Footer):
    """A Footer that coalesces its rebuilds.

    Textual's Footer recomposes every key once for each `bindings_updated` signal, and a
    screen sends one per focus change and per refresh_bindings call: six in the first half
    second of the dashboard, about 35 ms each at 160 columns, during which no key is handled.
    The rebuild reads the bindings when it runs, so one rebuild after a burst of signals shows
    the same keys as six would.
    """

    _rebuild_pending = False

    def bindings_changed(self, screen: Any) -> None:
        """Schedule one rebuild for however many changes arrive before it runs."""
        if self._rebuild_pending:
            return
        will_rebuild = screen.app.app_focus and self.is_attached and screen is self.screen
        super().bindings_changed(screen)
        self._rebuild_pending = bool(will_rebuild)

    async def recompose(self) -> None:
        """Rebuild the keys; a change after this point schedules the next rebuild."""
        self._rebuild_pending = False
        await super().recompose()
