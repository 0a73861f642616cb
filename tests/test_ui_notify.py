"""Notifications you can tune (issue 14): toasts by level, terminal notifications (OSC 9/777
and the bell) for failed and long jobs, the settings file, --on-finish in the dashboard."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tq
from tests.test_ui_helpers import make_ui_registry, new_app, status_of, wait_for
from tuiqueue.core.job import Job
from tuiqueue.core.status import Status
from tuiqueue.store import MemoryStore
from tuiqueue.ui.app import QueueApp, configured_app
from tuiqueue.ui.config import ConfigFile, DashboardConfig, parse_notify_after
from tuiqueue.ui.terminal_alert import GAP, TerminalAlerts, notification, osc_safe, osc_style

pytestmark = pytest.mark.anyio

Toast = tuple[str, str, str]


def record_toasts(app: QueueApp) -> list[Toast]:
    """Every toast the app shows from now on: (title, message, severity)."""
    shown: list[Toast] = []
    notify = app.notify

    def recording(message: str, **kw: Any) -> None:
        shown.append((kw.get("title", ""), message, kw.get("severity", "information")))
        notify(message, **kw)

    app.notify = recording  # type: ignore[method-assign]
    return shown


async def run_two_jobs(app: QueueApp, shown: list[Toast]) -> None:
    """Run a job that completes and one that fails; return once the table shows both
    finished (toasts are decided in the same batch that updates the table)."""
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        ok = await app.engine.submit("hello", {})
        bad = await app.engine.submit("kaput", {"why": "disk full"})
        await wait_for(pilot, lambda: status_of(app, ok.id) == "completed")
        await wait_for(pilot, lambda: status_of(app, bad.id) == "failed")
        await pilot.pause()


# -- toasts by level ------------------------------------------------------------------------


async def test_notify_failed_toasts_the_failure_only() -> None:
    app = new_app(notify="failed", toasts=None)
    shown = record_toasts(app)
    await run_two_jobs(app, shown)
    assert shown == [("Failed", "Job #2 kaput failed: RuntimeError: disk full", "error")]


async def test_notify_all_toasts_the_completion_too() -> None:
    app = new_app(notify="all", toasts=None)
    shown = record_toasts(app)
    await run_two_jobs(app, shown)
    assert sorted(shown) == [
        ("Completed", "Job #1 hello completed", "information"),
        ("Failed", "Job #2 kaput failed: RuntimeError: disk full", "error"),
    ]


async def test_notify_none_toasts_nothing_and_tells_the_terminal_nothing() -> None:
    written: list[str] = []
    app = new_app(notify="none", toasts=None, notify_after=0, terminal_write=written.append)
    shown = record_toasts(app)
    await run_two_jobs(app, shown)
    assert shown == [] and written == []


def test_the_default_level_is_failed() -> None:
    app = make_app_default()
    assert app.notify_level == "failed"


def make_app_default() -> QueueApp:
    """make_app with no notification arguments."""
    from tuiqueue.ui.app import make_app

    return make_app(MemoryStore(), registry=make_ui_registry())


# -- terminal notifications -----------------------------------------------------------------


async def test_a_failed_job_notifies_the_terminal_with_its_text_made_harmless() -> None:
    """The error holds BEL, ESC, an OSC of its own and a C1 ST: none of it reaches the
    terminal as a control character; the sequence ends where we end it."""
    written: list[str] = []
    evil = "boom\x07\x1b]9;pwned\x1b\\ \x9c\x9d52;c;eA==\x07 \nsecond\tline"
    app = new_app(notify="failed", toasts=None, notify_after=None, terminal_write=written.append)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        done = await app.engine.submit("hello", {})  # completed and short: not told
        bad = await app.engine.submit("kaput", {"why": evil})
        await wait_for(pilot, lambda: status_of(app, done.id) == "completed")
        await wait_for(pilot, lambda: status_of(app, bad.id) == "failed")
        await wait_for(pilot, lambda: bool(written))
    app.alerts.flush()  # (nothing held: the failure went out at once)
    (sequence,) = written
    assert sequence.startswith("\x1b]9;tuiqueue: Job #2 kaput failed after 0s: RuntimeError: boom")
    assert sequence.endswith("\x07\x07")  # the OSC's end, then the bell
    body = sequence[len("\x1b]9;") : -2]
    assert body.isprintable(), repr(body)
    assert "\\x1b]9;pwned" in body and "\\x07" in body and "\\x9c" in body  # shown, not sent


async def test_a_long_job_notifies_the_terminal_when_it_finishes() -> None:
    written: list[str] = []
    app = new_app(notify="failed", toasts=None, notify_after=0, terminal_write=written.append)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        job = await app.engine.submit("hello", {})
        await wait_for(pilot, lambda: status_of(app, job.id) == "completed")
        await wait_for(pilot, lambda: bool(written))
    assert written == ["\x1b]9;tuiqueue: Job #1 hello completed after 0s\x07\x07"]


def job(job_id: int, status: Status, seconds: float, error: str | None = None) -> Job:
    """A finished job that ran `seconds`."""
    end = 100.0 + seconds
    return Job(job_id, "backup", {}, status=status, started_at=100.0, finished_at=end, error=error)


def test_which_jobs_are_told_and_how_often() -> None:
    """Failed jobs always, others once they ran notify_after seconds; jobs finishing within
    GAP of the last notification share the next one."""
    now = [1000.0]
    written: list[str] = []
    alerts = TerminalAlerts(written.append, after=60, style="9", tmux=False, clock=lambda: now[0])
    assert alerts.add([job(1, Status.COMPLETED, 59)]) is None and written == []
    assert alerts.add([job(2, Status.FAILED, 1, "boom")]) is None
    assert written == ["\x1b]9;tuiqueue: Job #2 backup failed after 1s: boom\x07\x07"]
    due = alerts.add([job(3, Status.COMPLETED, 61)])
    assert due == GAP and len(written) == 1  # held: the caller sets a timer
    assert alerts.add([job(4, Status.FAILED, 2), job(5, Status.CANCELLED, 90)]) is None
    now[0] += GAP
    alerts.flush()
    assert written[1] == (
        "\x1b]9;tuiqueue: 3 jobs finished, 1 failed (#4), 1 completed, 1 cancelled\x07\x07"
    )
    off = TerminalAlerts(written.append, after=None, style="9", tmux=False)
    assert not off.wanted(job(6, Status.COMPLETED, 10**6)) and off.wanted(job(7, Status.FAILED, 0))


def test_osc_777_tmux_and_the_style_chosen_from_the_terminal() -> None:
    assert notification("a;b", "x;y\x07", style="777") == ("\x1b]777;notify;a,b;x;y\\x07\x07\x07")
    assert notification("t", "b", style="9", tmux=True) == (
        "\x1bPtmux;\x1b\x1b]9;t: b\x07\x1b\\\x07"
    )
    assert osc_style({"TERM": "xterm-256color", "VTE_VERSION": "7600"}) == "777"
    assert osc_style({"TERM": "foot"}) == "777"
    assert osc_style({"TERM": "xterm-kitty"}) == "9"
    assert osc_safe("a\x1b\x07\x9c\u2028\tb").isprintable()


# -- the settings file --------------------------------------------------------------------


async def test_settings_round_trip_notify_and_theme_reach_the_next_dashboard(
    tmp_path: Path,
) -> None:
    config = ConfigFile(tmp_path / "cfg" / "config.toml")
    kw: dict[str, Any] = {"registry": make_ui_registry(), "stats_interval": 3600}
    first = configured_app(MemoryStore(), config, {"notify": "all", "notify_after": 90.0}, **kw)
    assert first.notify_level == "all" and first.alerts.after == 90.0
    async with first.run_test() as pilot:
        await wait_for(pilot, lambda: first.stats is not None)
        assert first.theme == "textual-dark"
        await pilot.press("t")  # the theme key
        await wait_for(pilot, lambda: "textual-light" in config.path.read_text())
    saved = tomllib.loads(config.path.read_text())
    assert saved == {"notify": "all", "notify_after": 90, "theme": "textual-light"}
    assert [p.name for p in config.path.parent.iterdir()] == ["config.toml"]  # no temp left

    second = configured_app(MemoryStore(), config, **kw)  # no options given this time
    assert second.notify_level == "all" and second.alerts.after == 90.0
    async with second.run_test() as pilot:
        await wait_for(pilot, lambda: second.stats is not None)
        assert second.theme == "textual-light"
    third = configured_app(MemoryStore(), config, {"notify_after": None}, **kw)
    assert third.alerts.after is None and third.notify_level == "all"
    assert tomllib.loads(config.path.read_text())["notify_after"] == "off"


async def test_a_broken_settings_file_warns_in_one_line_and_is_left_alone(
    tmp_path: Path,
) -> None:
    path = tmp_path / "config.toml"
    path.write_text('theme = "textual-light"\nnotify = [\n')
    config = ConfigFile(path)
    settings, warnings = config.load()
    assert settings == DashboardConfig()
    (warning,) = warnings
    assert warning.startswith(f"tuiqueue: {path} is not valid TOML (")
    assert warning.endswith("; using the default settings") and "\n" not in warning
    app = configured_app(MemoryStore(), config, registry=make_ui_registry())
    shown = record_toasts(app)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await pilot.press("t")
        await wait_for(pilot, lambda: any("not saved" in m for _, m, _ in shown))
    assert app.startup_warnings == [warning]
    assert path.read_text() == 'theme = "textual-light"\nnotify = [\n'  # not overwritten


async def test_bad_values_fall_back_one_by_one(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('theme = "no-such-theme"\nnotify = "loud"\nnotify_after = -3\nother = 1\n')
    settings, warnings = ConfigFile(path).load()
    assert settings == DashboardConfig(theme="no-such-theme")  # the app checks the name
    assert len(warnings) == 2
    assert "notify must be failed, all or none (got 'loud'); using 'failed'" in warnings[0]
    assert "--notify-after takes seconds" in warnings[1] and warnings[1].endswith("using 60.0")
    app = configured_app(MemoryStore(), ConfigFile(path), registry=make_ui_registry())
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        assert app.theme == "textual-dark"
        assert "no theme named 'no-such-theme'" in app.startup_warnings[-1]
        await pilot.press("t")
        await wait_for(pilot, lambda: "textual-light" in path.read_text())
    assert tomllib.loads(path.read_text())["other"] == 1  # a key it does not know is kept


async def test_an_unwritable_settings_folder_is_said_once_never_fatal(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    config = ConfigFile(blocker / "config.toml")
    app = configured_app(MemoryStore(), config, {"notify": "all"}, registry=make_ui_registry())
    assert app.notify_level == "all"  # used for this run, though not saved
    assert "the settings were not saved" in app.startup_warnings[-1]
    shown = record_toasts(app)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await pilot.press("t", "t")
        await wait_for(pilot, lambda: app.theme == "textual-dark")
    assert len([m for _, m, _ in shown if "theme is not saved" in m]) == 1


def test_notify_after_values() -> None:
    assert parse_notify_after("90") == 90 and parse_notify_after("5m") == 300
    assert parse_notify_after("off") is None and parse_notify_after("0") == 0
    for bad in ("soon", "-1", "nan", "inf", ""):
        with pytest.raises(ValueError, match="--notify-after takes seconds"):
            parse_notify_after(bad)


def test_the_dashboard_options_are_checked_before_it_opens(db: str) -> None:
    out = tq("--db", db, "--notify", "loud")
    assert out.returncode == 2 and "'loud' is not one of 'failed', 'all', 'none'" in out.stderr
    out = tq("--db", db, "--notify-after", "soon")
    assert out.returncode == 2
    assert "--notify-after takes seconds (e.g. 60, 90s, 5m) or off, not 'soon'" in out.stderr
    out = tq("--db", db, "--on-finish", "")
    assert out.returncode == 2 and "--on-finish needs a command" in out.stderr
    out = tq("--db", db, "--notify", "all", "list")
    assert out.returncode == 2 and "--notify is a dashboard option" in out.stderr


# -- --on-finish in the dashboard ----------------------------------------------------------


async def test_the_dashboards_worker_calls_back_for_its_jobs(tmp_path: Path) -> None:
    out = tmp_path / "finished.txt"
    cmd = f'echo "$TUIQUEUE_JOB_ID $TUIQUEUE_JOB_STATUS" >> {shlex.quote(str(out))}'
    app = new_app(on_finish=cmd)
    async with app.run_test() as pilot:
        await wait_for(pilot, lambda: app.stats is not None)
        await app.engine.submit("kaput", {})
        await wait_for(pilot, lambda: out.exists() and out.read_text() == "1 failed\n")
