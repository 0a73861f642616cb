"""`tuiqueue schedule` as a person types it, and the README's "Schedules" section run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import cli_env, tq
from tests.test_readme import BLOCK

README_SCHEDULES = """
## Schedules

A schedule makes a job again and again: on a cron expression (5 fields, or 6 with seconds
first) read in a time zone (`--tz`, default: this machine's), or on an interval
(`--every 30s`, `5m`, `1h30m`, `1d`). Any running worker (the dashboard's, `tuiqueue worker`,
`tuiqueue serve`) fires due schedules, and each slot makes exactly one job however many
workers share the store. Params are checked as `tuiqueue submit` checks them; a bad
expression is refused with one line and exit status 2.

```bash
tuiqueue schedule add tick echo --every 2s -p message=hi
tuiqueue schedule add nightly echo --cron "30 2 * * *" --tz Europe/Berlin --missed catch-up
tuiqueue schedule add bad echo --cron "61 * * * *" || echo "refused with status $?"
tuiqueue schedule list                 # when (in words), next run, last run and how it went
tuiqueue schedule run nightly          # make its job now (prints the job id); slots unchanged
tuiqueue schedule pause tick           # and `schedule resume tick`
tuiqueue schedule list --json
tuiqueue schedule remove tick
```

After downtime, `--missed skip` (the default) drops the missed slots and runs at the next
one; `--missed catch-up` makes one run that stands for all of them (never a burst).
`--no-overlap` skips a slot while the schedule's previous job is still queued or running.
`tuiqueue show ID` says which schedule and slot made a job. In the dashboard, `s` (or
"Schedules" in the palette) lists them with a countdown to the next run: `p` pauses or
resumes, `r` runs now, `d` deletes (`u` undoes), `a` schedules the job the form holds.

From Python, `engine.schedule(...)` with `schedules()`, `pause_schedule()`,
`resume_schedule()`, `remove_schedule()` and `run_schedule()`; a job type can declare a
default schedule, created by the first worker that starts and never duplicated:

```python
import anyio
from tuiqueue import Engine, JobContext, Status, job_type, open_store

@job_type("cleanup", every="1h")        # a default schedule, made by the first worker
async def cleanup(ctx: JobContext) -> None:
    ctx.log("swept")

async def main() -> None:
    async with Engine(open_store("sched.db")) as engine:   # a worker: it fires schedules
        await engine.schedule("heartbeat", "echo", {"message": "still here", "delay": 1},
                              every="1s", overlap=False)
        while not [j for j in await engine.list(type="echo") if j.status is Status.COMPLETED]:
            await anyio.sleep(0.2)
        print([(s.name, s.words) for s in await engine.schedules()])
        await engine.remove_schedule("heartbeat")

anyio.run(main)
```
"""
"""The text proposed for README.md (the lead pastes it; test_readme then runs it too)."""


def test_the_readme_section_runs_as_written(tmp_path: Path) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "tuiqueue"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m tuiqueue "$@"\n')
    shim.chmod(0o755)
    env = cli_env({"TUIQUEUE_DB": str(tmp_path / "readme.db")})
    env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
    outputs = []
    for m in BLOCK.finditer(README_SCHEDULES):
        argv = (
            [sys.executable, "-c", m["body"]]
            if m["lang"] == "python"
            else ["bash", "-euo", "pipefail", "-c", m["body"]]
        )
        out = subprocess.run(
            argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
        )
        assert out.returncode == 0, f"{m['body']}\n{out.stdout}\n{out.stderr}"
        outputs.append(out)
    assert len(outputs) == 2
    shell, python = outputs
    assert "refused with status 2" in shell.stdout
    assert "cron '61 * * * *': minute must be 0-59" in shell.stderr
    assert "[('cleanup', 'every hour'), ('heartbeat', 'every second')]" in python.stdout


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["--cron", "61 * * * *"], "cron '61 * * * *': minute must be 0-59"),
        (["--every", "5x"], "every '5x': give a duration like 30s, 5m, 1h or 1h30m"),
        (["--cron", "* * * * *", "--tz", "Mars/Base"], "time zone 'Mars/Base' is unknown"),
        (["--every", "1s", "-p", "delay=99"], "delay"),
        (["--every", "1s", "-p", "nope=1"], "unknown parameter 'nope'"),
        ([], "give either --cron EXPR or --every DUR"),
        (["--every", "1s", "--cron", "* * * * *"], "give either --cron EXPR or --every DUR"),
    ],
)
def test_bad_schedules_get_one_line_and_exit_2(db: str, args: list[str], line: str) -> None:
    out = tq("--db", db, "schedule", "add", "x", "echo", *args)
    assert out.returncode == 2
    assert line in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    # exactly what `tuiqueue submit` says of the same params
    if "-p" in args:
        sub = tq("--db", db, "submit", "echo", *args[2:])
        assert sub.returncode == 2 and sub.stderr == out.stderr
    assert json.loads(tq("--db", db, "schedule", "list", "--json").stdout) == []


def test_run_fires_once_and_show_names_the_schedule(db: str) -> None:
    assert tq("--db", db, "schedule", "add", "tick", "echo", "--every", "1h").returncode == 0
    out = tq("--db", db, "schedule", "run", "tick")
    assert out.returncode == 0, out.stderr
    job_id = int(out.stdout)
    jobs = json.loads(tq("--db", db, "list", "--json").stdout)
    assert [j["id"] for j in jobs] == [job_id]
    shown = tq("--db", db, "show", str(job_id)).stdout
    assert re.search(r"schedule: +tick, slot .* \(schedule run\)", shown), shown
    origin = json.loads(tq("--db", db, "show", "--json", str(job_id)).stdout)["schedule"]
    assert (origin["schedule"], origin["kind"]) == ("tick", "manual")
    [row] = json.loads(tq("--db", db, "schedule", "list", "--json").stdout)
    assert (row["last_job"], row["last_outcome"], row["when"]) == (job_id, "pending", "every hour")
    assert 3590 < row["next_in"] <= 3600


def test_pause_resume_remove_and_unknown_names(db: str) -> None:
    assert tq("--db", db, "schedule", "add", "tick", "echo", "--every", "1m").returncode == 0
    assert tq("--db", db, "schedule", "pause", "tick").stdout == "schedule tick paused\n"
    [row] = json.loads(tq("--db", db, "schedule", "list", "--json").stdout)
    assert row["paused"] and row["next_run"] is None
    assert tq("--db", db, "schedule", "resume", "tick").returncode == 0
    [row] = json.loads(tq("--db", db, "schedule", "list", "--json").stdout)
    assert not row["paused"] and row["next_run"] is not None
    dup = tq("--db", db, "schedule", "add", "tick", "echo", "--every", "1m")
    assert dup.returncode == 2 and "exists already" in dup.stderr
    assert tq("--db", db, "schedule", "remove", "tick").returncode == 0
    for verb in ("pause", "resume", "remove", "run"):
        out = tq("--db", db, "schedule", verb, "tick")
        assert out.returncode == 2
        assert "no schedule named 'tick'" in out.stderr
