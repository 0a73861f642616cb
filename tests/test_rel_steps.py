"""ctx.step(): steps and their times in show --json with durations (SQLite, Redis db 8)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import tq
from tests.test_store_conformance import redis_reachable

REDIS_URL = "redis://127.0.0.1:6379/8"

MODULE = '''
import time

from tuiqueue import JobContext, job_type


@job_type("stepped")
async def stepped(ctx: JobContext) -> str:
    """Three steps."""
    ctx.step("download")
    time.sleep(0.05)
    ctx.step("unpack")
    time.sleep(0.02)
    ctx.step("index")
    return "ok"


@job_type("stepped_thread")
def stepped_thread(ctx: JobContext) -> str:
    """Two steps in a thread."""
    ctx.step("one")
    time.sleep(0.03)
    ctx.step("two")
    return "ok"


@job_type("stepped_process", isolation="process")
def stepped_process(ctx: JobContext) -> str:
    """Two steps in a child process."""
    ctx.step("child one")
    time.sleep(0.2)
    ctx.step("child two")
    return "ok"


@job_type("plain")
async def plain(ctx: JobContext) -> str:
    """No steps."""
    return "ok"
'''


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_steps_in_show_json_with_durations(tmp_path: Path, backend: str) -> None:
    if backend == "redis":
        if not redis_reachable():
            pytest.skip("no Redis server at 127.0.0.1:6379")
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
        db = REDIS_URL
    else:
        db = str(tmp_path / "jobs.db")
    mod = tmp_path / "stepmod.py"
    mod.write_text(MODULE)

    def run(*args: str) -> str:
        out = tq("--db", db, "--jobs", str(mod), *args)
        assert out.returncode == 0, out.stderr
        return out.stdout

    try:
        ids = {
            name: int(run("submit", name))
            for name in ("stepped", "stepped_thread", "stepped_process", "plain")
        }
        run("worker", "--drain")
        shown = {name: json.loads(run("show", "--json", str(i))) for name, i in ids.items()}
        for job in shown.values():
            assert job["status"] == "completed", job
        steps = shown["stepped"]["steps"]
        assert [s["name"] for s in steps] == ["download", "unpack", "index"]
        assert all(s["finished"] is not None and s["duration"] >= 0 for s in steps)
        assert steps[0]["duration"] >= 0.04 and steps[1]["duration"] >= 0.01
        assert steps[0]["finished"] == steps[1]["started"]
        assert [s["name"] for s in shown["stepped_thread"]["steps"]] == ["one", "two"]
        child = shown["stepped_process"]["steps"]
        assert [s["name"] for s in child] == ["child one", "child two"]
        assert child[0]["duration"] >= 0.15 and child[1]["finished"] is not None
        assert shown["plain"]["steps"] == []
        text = run("show", str(ids["stepped"]))
        assert "step: download (" in text
    finally:
        if backend == "redis":
            import redis

            redis.Redis.from_url(REDIS_URL).flushdb()
