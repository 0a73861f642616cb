"""Real worker processes on one Redis: sharing a queue, a worker killed, Redis restarted."""

from __future__ import annotations

import collections
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from tests.conftest import ROOT, cli_env, tq, wait_until
from tests.test_store_conformance import redis_reachable
from tuiqueue.core.registry import Registry
from tuiqueue.core.status import Status
from tuiqueue.engine.engine import Engine
from tuiqueue.store.redis import RedisStore

pytestmark = [
    pytest.mark.redis,
    pytest.mark.skipif(not redis_reachable(), reason="no Redis server at 127.0.0.1:6379"),
]

TERMINAL = {"completed", "failed", "cancelled"}
URL = "redis://127.0.0.1:6379/15"
"""These tests flush this database (and only this one)."""

JOBS = '''
import os

import anyio
from tuiqueue.core.params import Param
from tuiqueue.core.registry import job_type

@job_type("mark", params=[Param("seconds", "float", default=0.01, min=0, max=60),
                          Param("file", "str", default="")], retry_safe=True)
async def mark(ctx, seconds, file):
    """Sleep, then append this job's id to `file` (the run's only side effect)."""
    end = anyio.current_time() + seconds
    while anyio.current_time() < end:
        await anyio.sleep(min(0.02, seconds))
        await ctx.checkpoint()
    fd = os.open(file, os.O_WRONLY | os.O_APPEND | os.O_CREAT)
    os.write(fd, f"{ctx.job_id} {os.getpid()}\\n".encode())
    os.close(fd)
'''


def flush(port: int = 6379, db: int = 15) -> None:
    """Empty one Redis database."""
    import redis

    client = redis.Redis(host="127.0.0.1", port=port, db=db)
    client.flushdb()
    client.close()


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A flushed database, a job module and a marks file."""
    flush()
    module = tmp_path / "markjobs.py"
    module.write_text(JOBS)
    procs: list[subprocess.Popen[str]] = []
    yield {"module": str(module), "marks": tmp_path / "marks.txt", "procs": procs, "tmp": tmp_path}
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    flush()


def submit(url: str, module: str, marks: Path, count: int, seconds: float) -> None:
    """Queue count mark jobs through the CLI."""
    lines = "\n".join(
        json.dumps({"type": "mark", "params": {"seconds": seconds, "file": str(marks)}})
        for _ in range(count)
    )
    out = tq("--db", url, "--jobs", module, "submit", "--from", "-", stdin=lines)
    assert out.returncode == 0, out.stderr


def start_worker(setup: dict[str, Any], url: str, *extra: str) -> subprocess.Popen[str]:
    """Start `tuiqueue worker` in the background."""
    log = open(setup["tmp"] / f"worker{len(setup['procs'])}.log", "w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "tuiqueue",
            "--db",
            url,
            "--jobs",
            setup["module"],
            "worker",
            "-q",
            *extra,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
        env=cli_env(),
        cwd=ROOT,
    )
    setup["procs"].append(proc)
    return proc


def jobs(url: str, module: str) -> list[dict[str, Any]]:
    """Every job, as `tuiqueue list --json` prints it."""
    out = tq("--db", url, "--jobs", module, "list", "--json", "--limit", "100000")
    assert out.returncode == 0, out.stderr
    result: list[dict[str, Any]] = json.loads(out.stdout)
    return result


def marks(path: Path) -> collections.Counter[int]:
    """How many times each job id really ran to its end."""
    if not path.exists():
        return collections.Counter()
    return collections.Counter(int(line.split()[0]) for line in path.read_text().splitlines())


def wait_for(predicate: Any, timeout: float, what: str) -> None:
    """Poll predicate() until true (every 0.1 s: some predicates run the CLI)."""
    wait_until(predicate, timeout, what, interval=0.1)


@pytest.mark.parametrize("count", [2, 4])
def test_workers_share_a_queue_each_job_runs_once(setup: dict[str, Any], count: int) -> None:
    submit(URL, setup["module"], setup["marks"], 400, 0.005)
    workers = [start_worker(setup, URL, "--drain", "-c", "4") for _ in range(count)]
    for proc in workers:
        assert proc.wait(120) == 0
    ran = marks(setup["marks"])
    assert len(ran) == 400 and set(ran.values()) == {1}
    listed = jobs(URL, setup["module"])
    assert {j["status"] for j in listed} == {"completed"}
    assert {j["attempts"] for j in listed} == {1}
    assert len({j["worker"] for j in listed}) > 1, "the work was not shared"


def test_killed_worker_jobs_are_recovered(setup: dict[str, Any]) -> None:
    submit(URL, setup["module"], setup["marks"], 12, 3.0)
    victim = start_worker(setup, URL, "-c", "4")
    wait_for(
        lambda: sum(j["status"] == "running" for j in jobs(URL, setup["module"])) == 4,
        30,
        "the first worker to start jobs",
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    killed_at = time.monotonic()
    start_worker(setup, URL, "-c", "4")
    wait_for(
        lambda: all(j["status"] in TERMINAL for j in jobs(URL, setup["module"])),
        90,
        "every job to finish",
    )
    assert time.monotonic() - killed_at < 30 + 4 * 3.0, "not recovered within the lease"
    ran = marks(setup["marks"])
    assert len(ran) == 12 and set(ran.values()) == {1}
    listed = jobs(URL, setup["module"])
    assert {j["status"] for j in listed} == {"completed"}
    retried = [j for j in listed if j["attempts"] == 2]
    assert len(retried) == 4, "the killed worker's four jobs were run again"
    assert all(str(victim.pid) not in j["worker"] for j in listed)
    workers = json.loads(tq("--db", URL, "workers", "--json").stdout)
    dead = [w for w in workers if w["pid"] == victim.pid]
    assert len(dead) == 1 and not dead[0]["alive"] and not dead[0]["stopped"]


@pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server not installed")
def test_redis_restart_loses_nothing(setup: dict[str, Any]) -> None:
    port = 6390
    data = setup["tmp"] / "redis"
    data.mkdir()
    server = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "yes",
        "--dir",
        str(data),
        "--daemonize",
        "yes",
        "--pidfile",
        str(data / "redis.pid"),
        "--logfile",
        str(data / "redis.log"),
    ]

    def up() -> bool:
        return redis_reachable(port=port)

    if up():
        pytest.skip(f"port {port} is taken by another Redis")
    subprocess.run(server, check=True)
    try:
        wait_for(up, 10, "the test Redis to start")
        url = f"redis://127.0.0.1:{port}/0"
        submit(url, setup["module"], setup["marks"], 200, 0.05)
        workers = [start_worker(setup, url, "--drain", "-c", "4") for _ in range(2)]
        wait_for(lambda: len(marks(setup["marks"])) >= 20, 30, "some jobs to finish")
        subprocess.run(["redis-cli", "-p", str(port), "shutdown"], check=False, capture_output=True)
        wait_for(lambda: not up(), 10, "the test Redis to stop")
        time.sleep(1.0)  # deliberate outage: the workers keep failing to reach Redis meanwhile
        subprocess.run(server, check=True)
        wait_for(up, 10, "the test Redis to restart")
        for proc in workers:
            assert proc.wait(120) == 0, (setup["tmp"] / "worker0.log").read_text()[-2000:]
        ran = marks(setup["marks"])
        assert len(ran) == 200 and set(ran.values()) == {1}
        assert {j["status"] for j in jobs(url, setup["module"])} == {"completed"}
    finally:
        subprocess.run(
            ["redis-cli", "-p", str(port), "shutdown", "nosave"], check=False, capture_output=True
        )
        wait_for(lambda: not up(), 10, "the test Redis to stop")


@pytest.mark.anyio
async def test_two_engines_on_a_prefixed_store_keep_a_long_job_alive(registry: Registry) -> None:
    """A 4 s job completes while two engines watch each other's heartbeats under one prefix.

    The heartbeat thread once reopened the store from its URL, without the prefix: its beats
    went to other keys, and after DEAD_AFTER the job was failed as "worker lost".
    """
    prefix = f"tqtest-{uuid.uuid4().hex[:8]}:"
    stores = [RedisStore("redis://127.0.0.1:6379/0", prefix=prefix) for _ in range(2)]
    engines = [
        Engine(s, registry=registry, concurrency=1, poll_interval=0.05, dead_after=1.5)
        for s in stores
    ]
    assert 4.0 > 2 * engines[0].dead_after  # the job outlives a silent worker's deadline
    try:
        async with anyio.create_task_group() as tg:
            for engine in engines:
                await tg.start(engine.run)
            job = await engines[0].submit("sleep", {"seconds": 4.0})
            with anyio.fail_after(30):
                while (await engines[1].get(job.id)).status not in {
                    Status.COMPLETED,
                    Status.FAILED,
                    Status.CANCELLED,
                }:
                    await anyio.sleep(0.1)
            for engine in engines:
                await engine.stop()
        final = await engines[1].get(job.id)
        assert final.status is Status.COMPLETED, final.error
        assert final.attempts == 1 and final.result == {"slept": 4.0}
    finally:
        client = stores[0].client
        keys = [k async for k in client.scan_iter(match=prefix + "*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
        for store in stores:
            await store.close()
