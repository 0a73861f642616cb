"""Shared pieces of the dashboard tests: a test registry whose jobs wait on a gate, the app."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import anyio
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, TextArea

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.registry import Registry
from tuiqueue.store import MemoryStore
from tuiqueue.ui.app import QueueApp, make_app
from tuiqueue.ui.widgets.job_table import JobTable

NOW = 1_700_000_000.0
"""The frozen clock of every UI test."""

GATE = {"open": False}
"""Gate jobs run until a test opens the gate (no wall-clock waits)."""


def make_ui_registry() -> Registry:
    """Job types for UI tests: a gate, a form exerciser and a failure."""
    reg = Registry()

    @reg.job_type(
        "gate",
        description="Wait at the gate until the test opens it.",
        retry_safe=True,
        params=[
            Param("label", "str", default="job", max_length=40, help="A name to tell jobs apart.")
        ],
    )
    async def gate(ctx: JobContext, label: str) -> dict[str, Any]:
        """Report 40%, log markup-looking text, wait for the gate."""
        ctx.progress(40, f"waiting at {label}")
        ctx.log("started [/oops] [bold]not bold[/bold]")
        ctx.log("escape \x1b[31m stays visible")
        while not GATE["open"]:
            await anyio.sleep(0.01)
            await ctx.checkpoint()
        return {"label": label, "ok": True}

    @reg.job_type(
        "hello",
        description="Every kind of form field.",
        params=[
            Param("count", "int", default=3, min=1, max=10, help="How many greetings."),
            Param("ratio", "float", default=0.5, min=0, max=1),
            Param("name", "str", default="world", max_length=20),
            Param("loud", "bool", default=False),
            Param("lang", "choice", default="en", choices=("en", "fr", "de")),
            Param("urls", "urls", default=["https://example.com"], max=3),
        ],
    )
    async def hello(ctx: JobContext, **params: Any) -> dict[str, Any]:
        """Return the params."""
        return params

    @reg.job_type(
        "kaput",
        description="Fail at once.",
        params=[Param("why", "str", default="[red]boom[/red]")],
    )
    async def kaput(ctx: JobContext, why: str) -> None:
        """Always fail."""
        raise RuntimeError(why)

    return reg


@pytest.fixture(autouse=True)
def _quiet(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No animations; a closed gate."""
    import textual.constants

    monkeypatch.setattr(textual.constants, "TEXTUAL_ANIMATIONS", "none")
    GATE["open"] = False
    yield
    GATE["open"] = True


def new_app(**kw: Any) -> QueueApp:
    """The dashboard on a fresh MemoryStore with a frozen clock and fixed worker id."""
    kw.setdefault("concurrency", 2)
    kw.setdefault("registry", make_ui_registry())
    kw.setdefault("toasts", False)
    return make_app(
        MemoryStore(),
        clock=lambda: NOW,
        worker_id="test-worker",
        stats_interval=3600,
        grace=0.5,
        **kw,
    )


async def wait_for(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float = 5.0) -> None:
    """Pause until cond() holds (fails the test after timeout seconds)."""
    with anyio.fail_after(timeout):
        while not cond():
            await pilot.pause(0.02)
    await pilot.pause()


def table(app: QueueApp) -> JobTable:
    """The queue table."""
    return app.main.query_one(JobTable)


def status_of(app: QueueApp, job_id: int) -> str | None:
    """The status the table shows for a job."""
    job = table(app).jobs.get(job_id)
    return str(job.status) if job is not None else None


def no_blink(app: QueueApp) -> None:
    """Stop cursor blinking so screenshots are stable."""
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    for area in app.screen.query(TextArea):
        area.cursor_blink = False


async def choose_type(pilot: Pilot[Any], name: str) -> None:
    """Highlight a job type in the types pane and wait for its form."""
    from tuiqueue.ui.widgets.job_form import JobForm
    from tuiqueue.ui.widgets.type_list import TypeList

    app = pilot.app
    assert isinstance(app, QueueApp)
    # (the first frame shows the list's face: the list is built right after it)
    await wait_for(pilot, lambda: bool(app.main.query(TypeList)))
    app.main.query_one(TypeList).select_type(name)
    form = app.main.query_one(JobForm)
    await wait_for(
        pilot,
        lambda: form.job_type is not None and form.job_type.name == name and bool(form.fields),
    )


async def fixed_workers(app: QueueApp) -> None:
    """This dashboard's worker with a fixed host and pid, a live peer, a dead and a stopped one."""
    from tuiqueue.store.base import WorkerInfo

    store = app.engine.store
    dead_after = app.engine.dead_after
    await store.register_worker(WorkerInfo("test-worker", "dashboard-host", 1000, 2, NOW - 90, NOW))
    await store.register_worker(
        WorkerInfo(
            "node-2:4242",
            "node-2",
            4242,
            8,
            NOW - 3600,
            NOW - dead_after / 2,
            running=3,
            processed=1234,
        )
    )
    await store.register_worker(
        WorkerInfo(
            "node-3:77", "node-3", 77, 4, NOW - 7200, NOW - dead_after - 1, running=1, processed=56
        )
    )
    await store.register_worker(
        WorkerInfo("node-4:9", "node-4", 9, 4, NOW - 9000, NOW - 600, processed=789, stopped=True)
    )
