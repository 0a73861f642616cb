"""Regenerate the dashboard screenshots: python screenshots/make.py (from the repo root)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from textual.widgets import Input  # noqa: E402

from tests.test_ui_helpers import GATE, choose_type, new_app, no_blink, wait_for  # noqa: E402
from tests.test_ui_snapshots import show_workers, with_jobs  # noqa: E402
from tuiqueue.ui.screens.detail import DetailScreen  # noqa: E402
from tuiqueue.ui.widgets.log_tail import LogTail  # noqa: E402

SIZE = (140, 36)


async def main() -> None:
    """Main screen, form error, detail view, help and workers, as SVG files next to this script."""
    import textual.constants

    textual.constants.TEXTUAL_ANIMATIONS = "none"  # type: ignore[misc]
    GATE["open"] = False
    app = new_app()
    async with app.run_test(size=SIZE) as pilot:
        await with_jobs(pilot)
        app.save_screenshot("main.svg", str(HERE))
        app.show_detail(2)
        await wait_for(pilot, lambda: isinstance(app.screen, DetailScreen)
                       and app.screen.job is not None
                       and app.screen.query_one(LogTail).line_count >= 2)
        app.save_screenshot("detail.svg", str(HERE))
        await pilot.press("escape", "question_mark")
        await pilot.pause()
        app.save_screenshot("help.svg", str(HERE))
        await pilot.press("escape")
        await choose_type(pilot, "hello")
        app.main.query_one("#param-count", Input).focus()
        await pilot.press(*"99", "ctrl+s")
        no_blink(app)
        await pilot.pause()
        app.save_screenshot("form-error.svg", str(HERE))
        app.main.query_one("#jobs").focus()
        await show_workers(pilot)
        app.save_screenshot("workers.svg", str(HERE))
        GATE["open"] = True
    print("wrote", ", ".join(sorted(p.name for p in HERE.glob("*.svg"))))


if __name__ == "__main__":
    asyncio.run(main())
