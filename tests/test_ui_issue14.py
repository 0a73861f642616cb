"""Issue 14's dashboard defects, each on a real SQLite file through Pilot."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_jobs_builtin import _refused_url, http_url
from tests.test_ui_helpers import _quiet, status_of, table, wait_for
from tests.test_ui_keys14 import sqlite_app
from tuiqueue.core.registry import REGISTRY, load_job_types

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
