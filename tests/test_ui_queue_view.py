"""The queue view on its own, in a small harness App that records its messages."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult
from textual.message import Message

from tuiqueue.core.job import Job
from tuiqueue.core.status import Status
from tuiqueue.ui.widgets.job_table import JobTable

pytestmark = pytest.mark.anyio
NOW = 1_700_000_000.0


def job(job_id: int, status: Status = Status.PENDING, message: str = "") -> Job:
    """A stored job as the table gets it."""
    return Job(
        id=job_id,
        type="echo",
        params={},
        status=status,
        message=message,
        created_at=NOW - job_id,
        updated_at=NOW,
    )


class Harness(App[None]):
    """Only a queue table, fed by the test."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield JobTable(clock=lambda: NOW, id="jobs")


async def test_keys_move_the_cursor_and_post_highlighted_and_selected() -> None:
    app = Harness()
    async with app.run_test(size=(120, 20), message_hook=app.messages.append) as pilot:
        table = app.query_one(JobTable)
        table.load([job(i) for i in (1, 2, 3)])
        table.focus()
        await pilot.pause()
        first = table.selected_id
        await pilot.press("down")
        await pilot.pause()
        assert table.cursor_row == 1
        highlighted = [m.job_id for m in app.messages if isinstance(m, JobTable.Highlighted)]
        assert highlighted and highlighted[-1] == table.selected_id != first
        await pilot.press("enter")
        await pilot.pause()
        selected = [m.job_id for m in app.messages if isinstance(m, JobTable.Selected)]
        # (the hook sees a message at each node it bubbles through: table, screen, app)
        assert selected and set(selected) == {table.selected_id}


async def test_a_hundred_thousand_rows_draw_only_what_is_on_screen() -> None:
    app = Harness()
    async with app.run_test(size=(120, 20)) as pilot:
        table = app.query_one(JobTable)
        table.load([job(i, message=f"[b]m{i}[/b]") for i in range(1, 100_001)])
        await pilot.pause()
        assert table.row_count == 100_000
        lines = [table.render_line(y).text for y in range(table.size.height)]
        shown = {table.row_ids()[i] for i in range(len(lines) - 1)}
        assert all(str(i) in "".join(lines) for i in shown)
        assert any("[b]m" in line for line in lines), "job text is shown as text, not markup"
        assert len(table._lines) <= table.size.height + 5, "only visible lines were drawn"
