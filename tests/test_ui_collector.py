"""The garbage collector paused for the dashboard's start: always resumed, never forced on."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from tests.test_ui_helpers import new_app, wait_for
from tuiqueue.cli import main
from tuiqueue.ui.collector import pause_collector, resume_collector


@pytest.fixture(autouse=True)
def _collector_on() -> Iterator[None]:
    """Every test starts and ends with the collector on (a failure must not leak a pause)."""
    gc.enable()
    yield
    resume_collector()
    gc.enable()


def test_pause_then_resume_turns_it_off_and_on_once() -> None:
    pause_collector()
    assert not gc.isenabled()
    resume_collector()
    assert gc.isenabled()
    gc.disable()  # someone else's choice now: a second resume leaves it alone
    resume_collector()
    assert not gc.isenabled()


def test_a_collector_that_was_off_stays_off() -> None:
    gc.disable()
    pause_collector()
    resume_collector()
    assert not gc.isenabled()


@pytest.mark.anyio
async def test_the_app_resumes_it_after_its_first_frame() -> None:
    pause_collector()
    app = new_app()
    async with app.run_test(size=(140, 40)) as pilot:
        await wait_for(pilot, lambda: app._frozen)
        assert gc.isenabled()


def test_the_command_line_resumes_it_when_the_dashboard_cannot_start() -> None:
    result = CliRunner().invoke(main, ["--db", "redis://127.0.0.1:1/0"])
    assert result.exit_code == 2, result.output
    assert "cannot reach Redis" in result.output
    assert gc.isenabled()
