"""The form's preset bar: save the form as a preset, pick it (in another dashboard on the
same SQLite file too), submit it; read-only dashboards pick but never save."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Button, Input, Select, Switch

from tests.test_ui_helpers import _quiet, choose_type, make_ui_registry, wait_for
from tuiqueue.core.preset import Preset
from tuiqueue.core.status import Priority
from tuiqueue.store import open_store
from tuiqueue.ui.app import QueueApp, make_app
from tuiqueue.ui.screens.confirm import ConfirmScreen
from tuiqueue.ui.screens.preset_name import PresetNameScreen
from tuiqueue.ui.widgets.job_form import JobForm
from tuiqueue.ui.widgets.type_list import TypeList

__all__ = ["_quiet"]

pytestmark = pytest.mark.anyio


def _app(db: str, **kw: Any) -> QueueApp:
    kw.setdefault("worker", False)  # jobs stay pending: their params are read from the store
    return make_app(
        open_store(db), registry=make_ui_registry(), toasts=False, stats_interval=3600, **kw
    )


def _form(app: QueueApp) -> JobForm:
    return app.main.query_one(JobForm)


def _status(app: QueueApp) -> str:
    return str(_form(app).query_one("#form-status").render())


async def _stored(db: str) -> tuple[list[Preset], list[dict[str, Any]]]:
    """The presets and the jobs' (type, params, priority, queue) in the file, read afresh."""
    store = open_store(db)
    async with store:
        presets = await store.presets()
        jobs = [
            {"type": j.type, "params": j.params, "priority": j.priority, "queue": j.queue}
            for j in await store.list_jobs()
        ]
    return presets, jobs


async def _name_it(pilot: Pilot[Any], name: str) -> None:
    """Answer the preset name dialog."""
    app = pilot.app
    await wait_for(pilot, lambda: isinstance(app.screen, PresetNameScreen))
    name_input = app.screen.query_one("#preset-name", Input)
    name_input.value = ""
    await pilot.press(*name)
    await pilot.press("enter")


async def _pick(pilot: Pilot[Any], form: JobForm, name: str) -> None:
    """Choose a preset in the bar with the keyboard (open the list, move to it, enter)."""
    select = form.query_one("#preset", Select)
    select.focus()
    await wait_for(pilot, lambda: name in form.presets)  # focusing the list refreshed it
    await pilot.press("enter")
    await pilot.pause()
    for _ in range(list(form.presets).index(name) + 1):  # (the blank "Preset…" is first)
        await pilot.press("down")
    await pilot.press("enter")
    await wait_for(pilot, lambda: form.preset is not None and form.preset.name == name)


async def test_save_in_one_dashboard_pick_in_another_and_submit(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    saver, picker = _app(db, worker_id="saver"), _app(db, worker_id="picker")
    async with saver.run_test(size=(140, 40)) as ps, picker.run_test(size=(140, 40)) as pp:
        await choose_type(pp, "hello")  # open before the preset exists: no restart needed
        assert _form(picker).presets == {}
        await choose_type(ps, "hello")
        form = _form(saver)
        # Tab from the type list still lands in the first field (the bar comes later).
        saver.main.query_one(TypeList).focus()
        await ps.press("tab")
        assert saver.focused is not None and saver.focused.id == "param-count"
        form.query_one("#param-count", Input).value = "7"
        form.query_one("#param-name", Input).value = "presets"
        form.query_one("#param-loud", Switch).value = True
        form.query_one("#param-lang", Select).value = "fr"
        form.query_one("#priority", Select).value = Priority.HIGH
        await ps.press("ctrl+o")  # typing in a field: the key still saves
        await _name_it(ps, "nightly")
        await wait_for(ps, lambda: "Saved preset nightly (hello)" in _status(saver))
        assert list(form.presets) == ["nightly"]
        assert form.query_one("#preset", Select).value == "nightly"

        other = _form(picker)
        await _pick(pp, other, "nightly")
        assert other.query_one("#param-count", Input).value == "7"
        assert other.query_one("#param-name", Input).value == "presets"
        assert other.query_one("#param-loud", Switch).value is True
        assert other.query_one("#param-lang", Select).value == "fr"
        assert other.priority is Priority.HIGH
        assert "Filled in from preset nightly" in _status(picker)
        await pp.press("ctrl+s")
        await wait_for(pp, lambda: "Queued job #1" in _status(picker))
    presets, jobs = await _stored(db)
    assert [p.name for p in presets] == ["nightly"]
    assert jobs == [
        {
            "type": "hello",
            "params": {
                "count": 7,
                "ratio": 0.5,
                "name": "presets",
                "loud": True,
                "lang": "fr",
                "urls": ["https://example.com"],
            },
            "priority": Priority.HIGH,
            "queue": "default",
        }
    ]


async def test_a_taken_name_asks_before_overwriting(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    app = _app(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose_type(pilot, "gate")
        form = _form(app)
        form.query_one("#param-label", Input).value = "first"
        await pilot.click("#save-preset")
        await _name_it(pilot, "g")
        await wait_for(pilot, lambda: "Saved preset g" in _status(app))
        form.query_one("#param-label", Input).value = "second"
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, PresetNameScreen))
        # the chosen preset's name is offered
        assert app.screen.query_one("#preset-name", Input).value == "g"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("n")
        await wait_for(pilot, lambda: app.screen is app.main)
        assert (await app.engine.preset("g")).params == {"label": "first"}
        await pilot.press("ctrl+o")
        await _name_it(pilot, "bad name")  # refused in the dialog, which stays open
        assert isinstance(app.screen, PresetNameScreen)
        assert "use letters, digits" in str(app.screen.query_one("#preset-error").render())
        await _name_it(pilot, "g")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: "Overwrote preset g" in _status(app))
        assert "Save preset" in [c.title for c in app.get_system_commands(app.screen)]
        assert (await app.engine.preset("g")).params == {"label": "second"}
        # a field that does not validate is not saved
        form.query_one("#param-label", Input).value = "x" * 41
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: "Not saved" in _status(app))
        assert app.screen is app.main
    presets, _ = await _stored(db)
    assert [(p.name, p.params) for p in presets] == [("g", {"label": "second"})]


async def test_choosing_a_preset_sets_its_queue_and_notes_stale_params(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    store = open_store(db)
    async with store:
        await store.save_preset(
            Preset("old", "gate", {"label": "L", "gone": 1}, Priority.LOW, "slow", 1.0, 1.0)
        )
    app = _app(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose_type(pilot, "gate")
        form = _form(app)
        await _pick(pilot, form, "old")
        assert "Filled in from preset old (queue slow)" in _status(app)
        assert "not a parameter any more: gone" in _status(app)
        assert form.query_one("#param-label", Input).value == "L"
        form.query_one("#param-label", Input).value = "M"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "Queued job #1" in _status(app))
        # another type forgets the preset (and its queue)
        await choose_type(pilot, "hello")
        assert form.preset is None and form.queue == "default"
    _, jobs = await _stored(db)
    assert jobs == [
        {"type": "gate", "params": {"label": "M"}, "priority": Priority.LOW, "queue": "slow"}
    ]


async def test_a_read_only_dashboard_picks_presets_but_never_saves(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    store = open_store(db)
    async with store:
        await store.save_preset(Preset("p", "gate", {"label": "from p"}, created_at=1.0))
    app = _app(db, read_only=True)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose_type(pilot, "gate")
        form = _form(app)
        assert form.query_one("#save-preset", Button).disabled
        label = form.query_one("#param-label", Input)
        assert label.is_disabled and not label.focusable
        await _pick(pilot, form, "p")
        assert form.query_one("#param-label", Input).value == "from p"
        await pilot.press("ctrl+o")
        await pilot.press("ctrl+s")
        await pilot.pause(0.1)
        assert not isinstance(app.screen, PresetNameScreen)
        names = {b.binding.action for b in app.screen.active_bindings.values() if b.enabled}
        assert "save_preset" not in names
        commands = [c.title for c in app.get_system_commands(app.screen)]
        assert "Save preset" not in commands
    presets, jobs = await _stored(db)
    assert [p.name for p in presets] == ["p"] and jobs == []


async def test_presets_saved_elsewhere_appear_when_the_form_is_shown(tmp_path: Path) -> None:
    db = str(tmp_path / "jobs.db")
    app = _app(db)
    async with app.run_test(size=(140, 40)) as pilot:
        await choose_type(pilot, "gate")
        form = _form(app)
        assert form.presets == {}
        elsewhere = open_store(db)  # another process's store object on the same file
        async with elsewhere:
            await elsewhere.save_preset(Preset("late", "gate", {"label": "l"}, created_at=1.0))
        app.main.table.focus()
        await pilot.press("n")  # showing the form reads the type's presets again
        await wait_for(pilot, lambda: "late" in form.presets)
        assert form.preset is None  # offered, not chosen
