"""Issue 14's dashboard defects, each on a real SQLite file through Pilot."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
from textual.widgets import Input

from tests.test_jobs_builtin import _refused_url, http_url
from tests.test_ui_helpers import (
    GATE,
    _quiet,
    choose_type,
    make_ui_registry,
    status_of,
    table,
    wait_for,
)
from tests.test_ui_keys14 import sqlite_app
from tuiqueue.core.context import JobContext
from tuiqueue.core.registry import REGISTRY, Registry, load_job_types
from tuiqueue.core.status import Status
from tuiqueue.store.sqlite import SqliteStore
from tuiqueue.ui.app import QueueApp
from tuiqueue.ui.screens.confirm import ConfirmScreen

__all__ = ["_quiet", "http_url"]

pytestmark = pytest.mark.anyio


async def test_a_partly_failed_fetch_is_shown_partial_in_amber(
    tmp_path: Path, http_url: str
) -> None:
    """Issue 14: a fetch with a refused URL was a green "completed, Fetched 2/2 URLs"."""
    load_job_types()
    app = sqlite_app(tmp_path, registry=REGISTRY)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        urls = [f"{http_url}/a", _refused_url()]
        await app.engine.submit("fetch_urls", {"urls": urls, "timeout": 5})
        await wait_for(pilot, lambda: status_of(app, 1) == "completed", timeout=10)
        t = table(app)
        assert t.cell_text(1, "status") == "◐ partial"
        assert t.cell_text(1, "message") == "1 ok, 1 error"
        (cell,) = [c for c in t.cells(t.jobs[1]) if c.plain == "◐ partial"]
        assert app.theme_variables["warning"].lower() in str(cell.style).lower()


def _registry_with_a_fragile_type() -> Registry:
    """The UI test types plus "fragile", a gate job that is not retry-safe (like shell)."""
    reg = make_ui_registry()

    @reg.job_type("fragile", description="Wait at the gate; never run twice.")
    async def fragile(ctx: JobContext) -> None:
        """Wait for the gate."""
        while not GATE["open"]:
            await anyio.sleep(0.01)
            await ctx.checkpoint()

    return reg


def _question(app: QueueApp) -> str:
    screen = app.screen
    assert isinstance(screen, ConfirmScreen)
    return screen.question


async def test_the_quit_dialog_tells_each_jobs_fate(tmp_path: Path) -> None:
    """Issue 14: it said every job "is requeued" while shell jobs are failed as interrupted."""
    app = sqlite_app(tmp_path, registry=_registry_with_a_fragile_type())
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "a"})
        await app.engine.submit("fragile", {})
        await wait_for(pilot, lambda: status_of(app, 1) == status_of(app, 2) == "running")
        table(app).focus()
        await pilot.press("q")
        question = _question(app)
        assert "#1 is requeued" in question, question
        assert "#2 (fragile) fails as interrupted" in question, question
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    store = SqliteStore(tmp_path / "jobs.db")
    async with store:
        requeued, failed = await store.get(1), await store.get(2)
    assert requeued is not None and requeued.status is Status.PENDING
    assert failed is not None and failed.status is Status.FAILED
    assert failed.error is not None and "interrupted" in failed.error


async def test_paused_jobs_stop_at_once_without_the_grace(tmp_path: Path) -> None:
    """Issue 14: a paused job held the quit for the whole grace period."""
    app = sqlite_app(tmp_path, grace=60.0)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "a"})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        await app.engine.pause(1)
        await wait_for(pilot, lambda: status_of(app, 1) == "paused")
        table(app).focus()
        await pilot.press("q")
        question = _question(app)
        assert "paused" in question and "60s" not in question, question
        await pilot.press("y")
        await wait_for(pilot, lambda: not app.is_running, timeout=20)  # far below 60s
    store = SqliteStore(tmp_path / "jobs.db")
    async with store:
        job = await store.get(1)
    assert job is not None and job.status is Status.PENDING


async def test_ctrl_q_quits_at_once_still_stopping_gracefully(tmp_path: Path) -> None:
    """Issue 14: help says ctrl+q quits at once, but it asked first."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("gate", {"label": "a"})
        await wait_for(pilot, lambda: status_of(app, 1) == "running")
        await pilot.press("ctrl+q")
        assert not isinstance(app.screen, ConfirmScreen)
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    store = SqliteStore(tmp_path / "jobs.db")
    async with store:
        job = await store.get(1)
    assert job is not None and job.status is Status.PENDING  # stopped, requeued


async def test_keys_pressed_while_quitting_do_nothing(tmp_path: Path) -> None:
    """Issue 14: q x n w pressed quickly printed a NoMatches traceback: the workers screen
    was pushed while the app was closing. Once quitting, no key opens anything."""
    app = sqlite_app(tmp_path, grace=2.0)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("kaput", {})
        await wait_for(pilot, lambda: status_of(app, 1) == "failed")
        await app.engine.submit("gate", {"label": "a"})
        await wait_for(pilot, lambda: status_of(app, 2) == "running")
        await app.refresh_stats()  # x knows of the failed job
        table(app).focus()
        await pilot.press("q", "y")
        assert app.dashboard.stopping
        await pilot.press("x")
        assert app.screen is app.main
        await pilot.press("n", "w")
        assert app.screen is app.main
        await pilot.press("question_mark")
        assert app.screen is app.main
        await wait_for(pilot, lambda: not app.is_running, timeout=10)
    assert app.return_code == 0


async def test_an_emptied_str_field_submits_its_default(tmp_path: Path) -> None:
    """Issue 14: clearing the label field submitted "" instead of the default "job"."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await choose_type(pilot, "gate")
        field = app.main.query_one("#param-label", Input)
        field.focus()
        field.value = ""
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: 1 in table(app).jobs)
        assert (await app.engine.get(1)).params == {"label": "job"}


async def test_clear_finished_acts_on_the_filter_it_shows(tmp_path: Path) -> None:
    """Issue 14: with a filter showing one finished job, x offered to delete all of them."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        for why in ("alpha", "beta", "gamma"):
            await app.engine.submit("kaput", {"why": why})
        await wait_for(pilot, lambda: all(status_of(app, i) == "failed" for i in (1, 2, 3)))
        await app.refresh_stats()
        app.main.query_one("#text-filter", Input).value = "beta"
        await wait_for(pilot, lambda: table(app).row_ids() == [2])
        table(app).focus()
        await pilot.press("x")
        question = _question(app)
        assert "1 finished job" in question and "shown" in question, question
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row_count == 0)
        await wait_for(pilot, lambda: 2 not in table(app).jobs)
        assert sorted(j.id for j in await app.engine.list()) == [1, 3]
        app.main.query_one("#text-filter", Input).value = ""
        await wait_for(pilot, lambda: table(app).row_count == 2)
        await pilot.press("x")
        question = _question(app)
        assert "all 2 finished jobs" in question, question
        await pilot.press("y")
        await wait_for(pilot, lambda: table(app).row_count == 0)
        assert await app.engine.list() == []


async def test_the_palette_screenshot_without_a_downloads_folder_goes_to_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 14: the palette's Screenshot failed when ~/Downloads did not exist."""
    home, work = tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("XDG_DOWNLOAD_DIR", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.chdir(work)
    app = sqlite_app(tmp_path)
    said: list[str] = []
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        monkeypatch.setattr(app, "notify", lambda message, **kw: said.append(str(message)))
        (shot,) = [c for c in app.get_system_commands(app.screen) if c.title == "Screenshot"]
        shot.callback()
        await wait_for(pilot, lambda: any(work.glob("*.svg")), timeout=10)
        await wait_for(pilot, lambda: any("Saved screenshot" in m for m in said))
    assert not (home / "Downloads").exists()
    assert any(str(work) in m for m in said), said


async def test_type_and_queue_columns_fit_the_names_they_show(tmp_path: Path) -> None:
    """Issue 14: columns are sized from the data, not cut at a fixed width."""
    app = sqlite_app(tmp_path)
    async with app.run_test(size=(160, 40)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("kaput", {}, queue="nightly-reports")
        await wait_for(pilot, lambda: status_of(app, 1) == "failed")
        t = table(app)
        lines = [t.render_line(y).text for y in range(3)]
        assert any(" nightly-reports " in line for line in lines), lines
        assert "Queue" in lines[0] and "…" not in lines[1].split("nightly")[0], lines
