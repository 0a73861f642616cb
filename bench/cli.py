"""The command line measured as a user runs it: wall time of whole processes."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

FLOOR = """
import json
import sqlite3
import sys

db = sys.argv[sys.argv.index("--db") + 1]
conn = sqlite3.connect(db)
rows = conn.execute(
    "SELECT id, type, queue, status, params FROM jobs ORDER BY id DESC LIMIT 50"
)
out = sys.stdout
for id_, type_, queue, status, params in rows:
    out.write(f"{id_:>6}  {type_:<12} {queue:<10} {status:<10} {json.loads(params)}\\n")
"""
"""The floor under any Python command on a SQLite file: import json and sqlite3, read one
option, read and print 50 rows. tuiqueue's short commands (which run without click,
cli/fast.py) cannot be faster than this."""

CLICK_FLOOR = """
import json
import sqlite3
import sys

import click


@click.command()
@click.option("--db", required=True)
def main(db):
    conn = sqlite3.connect(db)
    rows = conn.execute(
        "SELECT id, type, queue, status, params FROM jobs ORDER BY id DESC LIMIT 50"
    )
    for id_, type_, queue, status, params in rows:
        click.echo(f"{id_:>6}  {type_:<12} {queue:<10} {status:<10} {json.loads(params)}")


main()
"""
"""The floor under any click command on a SQLite file: import click, json and sqlite3, parse
one option, read and print 50 rows (what the commands could not beat while click parsed
them; informative now)."""

STORE_FLOOR = """
import gc
import sys

gc.disable()
from tuiqueue.store.sqlite import SqliteStore

gc.freeze()
gc.enable()
store = SqliteStore(sys.argv[1])
store.open_now()
for job in store.list_jobs_now(statuses=None, type=None, limit=50, queue=None):
    sys.stdout.write(f"{job.id:>6}  {job.type:<12} {job.queue:<10} {job.status.value:<10}\\n")
store.close_now()
"""
"""The floor under any tuiqueue command on a SQLite file, with click or without: import the
SQLite store (the core's records, the store's modules), open the file, read and print 50
jobs, the collector off while loading as in tuiqueue.cli.run. A command line without click
would still pay this."""


def _env() -> dict[str, str]:
    """This checkout's tuiqueue first on the path (not whichever one is installed), and
    bytecode caching on, as for a user (without it every run compiles every module)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    env = {**os.environ, "PYTHONPATH": path}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def _wall(argv: list[str], env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - t0


def commands(rounds: int = 9) -> dict[str, Any]:
    """Median wall seconds of `python -c pass` and of each short command, alternated in one
    run (each round runs every one of them once, in the same order)."""
    env = _env()
    db = os.path.join(tempfile.mkdtemp(prefix="bench-cli-"), "jobs.db")
    tq = [sys.executable, "-m", "tuiqueue", "--db", db]
    for _ in range(rounds + 1):  # jobs to show and to cancel (one each round)
        subprocess.run(
            [*tq, "submit", "echo", "-p", "message=hi"],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    argvs = {
        "pass": [sys.executable, "-c", "pass"],
        "floor": [sys.executable, "-c", FLOOR, "--db", db],
        "click_floor": [sys.executable, "-c", CLICK_FLOOR, "--db", db],
        "store_floor": [sys.executable, "-c", STORE_FLOOR, db],
        "submit": [*tq, "submit", "echo", "-p", "message=hi"],
        "list": [*tq, "list"],
        "show": [*tq, "show", "1"],
        "stats": [*tq, "stats"],
        "cancel": [*tq, "cancel", "{id}"],
    }
    times: dict[str, list[float]] = {name: [] for name in argvs}
    for i in range(rounds):
        for name, argv in argvs.items():
            argv = [a.replace("{id}", str(i + 2)) for a in argv]
            times[name].append(_wall(argv, env))
    return {f"{name}_ms": 1000 * statistics.median(t) for name, t in times.items()}
