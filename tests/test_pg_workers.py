"""Real `tuiqueue worker` processes on PostgreSQL: sharing a queue, a worker killed -9, the
server restarted (a private cluster on another port, never the shared one), bad URLs."""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import tq
from tests.pg_support import SKIP_REASON, drop_schema, fresh_url, pg_reachable
from tests.test_redis_workers import JOBS, jobs, marks, start_worker, submit, wait_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not pg_reachable(), reason=SKIP_REASON),
]

TERMINAL = {"completed", "failed", "cancelled"}


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """A schema of its own, a job module and a marks file; workers killed at the end."""
    module = tmp_path / "markjobs.py"
    module.write_text(JOBS)
    procs: list[subprocess.Popen[str]] = []
    url = fresh_url()
    yield {
        "module": str(module),
        "marks": tmp_path / "marks.txt",
        "procs": procs,
        "tmp": tmp_path,
        "url": url,
    }
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    drop_schema(url)


def test_three_workers_share_a_queue_each_job_runs_once(setup: dict[str, Any]) -> None:
    url = setup["url"]
    submit(url, setup["module"], setup["marks"], 600, 0.005)
    workers = [start_worker(setup, url, "--drain", "-c", "4") for _ in range(3)]
    for proc in workers:
        assert proc.wait(180) == 0, (setup["tmp"] / "worker0.log").read_text()[-2000:]
    ran = marks(setup["marks"])
    assert len(ran) == 600 and set(ran.values()) == {1}
    listed = jobs(url, setup["module"])
    assert {j["status"] for j in listed} == {"completed"}
    assert {j["attempts"] for j in listed} == {1}
    assert len({j["worker"] for j in listed}) > 1, "the work was not shared"


def test_killed_worker_jobs_are_recovered_within_the_lease(setup: dict[str, Any]) -> None:
    url = setup["url"]
    submit(url, setup["module"], setup["marks"], 12, 3.0)
    victim = start_worker(setup, url, "-c", "4")
    wait_for(
        lambda: sum(j["status"] == "running" for j in jobs(url, setup["module"])) == 4,
        30,
        "the first worker to start jobs",
    )
    victim.send_signal(signal.SIGKILL)
    victim.wait(5)
    killed_at = time.monotonic()
    start_worker(setup, url, "-c", "4")
    wait_for(
        lambda: all(j["status"] in TERMINAL for j in jobs(url, setup["module"])),
        90,
        "every job to finish",
    )
    assert time.monotonic() - killed_at < 30 + 4 * 3.0, "not recovered within the lease"
    ran = marks(setup["marks"])
    assert len(ran) == 12 and set(ran.values()) == {1}
    listed = jobs(url, setup["module"])
    assert {j["status"] for j in listed} == {"completed"}
    assert len([j for j in listed if j["attempts"] == 2]) == 4
    assert all(str(victim.pid) not in j["worker"] for j in listed)


def _postgres_user() -> pwd.struct_passwd | None:
    try:
        return pwd.getpwnam("postgres")
    except KeyError:
        return None


PG_BIN = Path("/usr/local/bin")


@pytest.mark.skipif(
    not (PG_BIN / "initdb").exists() or shutil.which("psql") is None,
    reason="initdb/pg_ctl not in /usr/local/bin",
)
def test_a_postgres_restart_during_a_run_loses_nothing(setup: dict[str, Any]) -> None:
    """A private cluster (initdb in a temp dir, its own port) is stopped mid-run and
    started again; the workers ride it out and every job runs exactly once."""
    port = 55432
    if pg_reachable(port=port):
        pytest.skip(f"port {port} is taken")
    # (its own temp dir: pytest's is private to this user, and PostgreSQL refuses to run
    # as root, so as root the cluster belongs to the postgres user)
    home = Path(tempfile.mkdtemp(prefix="tq-pg-"))
    setup["cleanup"] = home
    data, logfile = home / "data", home / "pg.log"
    user = _postgres_user()
    prefix: list[str] = []
    if os.getuid() == 0:
        if user is None:
            pytest.skip("running as root and there is no postgres user")
        prefix = ["runuser", "-u", "postgres", "--"]
        os.chown(home, user.pw_uid, user.pw_gid)
    subprocess.run(
        [*prefix, str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    ctl = [*prefix, str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-w"]
    opts = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c max_connections=40"

    def start() -> None:
        subprocess.run([*ctl, "-o", opts, "start"], check=True, capture_output=True)

    start()
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}/postgres?schema=restart"
        submit(url, setup["module"], setup["marks"], 200, 0.05)
        workers = [start_worker(setup, url, "--drain", "-c", "4") for _ in range(2)]
        wait_for(lambda: len(marks(setup["marks"])) >= 20, 30, "some jobs to finish")
        subprocess.run([*ctl, "-m", "fast", "stop"], check=True, capture_output=True)
        assert not pg_reachable(port=port)
        time.sleep(1.0)  # deliberate outage: the workers keep failing to reach it meanwhile
        start()
        for proc in workers:
            assert proc.wait(120) == 0, (setup["tmp"] / "worker0.log").read_text()[-3000:]
        ran = marks(setup["marks"])
        assert len(ran) == 200 and set(ran.values()) == {1}, ran.most_common(3)
        assert {j["status"] for j in jobs(url, setup["module"])} == {"completed"}
    finally:
        subprocess.run([*ctl, "-m", "immediate", "stop"], check=False, capture_output=True)
        shutil.rmtree(home, ignore_errors=True)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("postgresql://postgres@127.0.0.1:1/x", "cannot reach PostgreSQL"),
        ("postgresql://postgres@127.0.0.1:5432/tq_no_such_db_17", "does not exist"),
        ("postgresql://127.0.0.1:5432/", "name the database"),
        ("postgresql://postgres@127.0.0.1:99999/x", "not a valid PostgreSQL URL"),
        ("postgresql://postgres@127.0.0.1:5432/postgres?schema=Bad-Name", "schema 'Bad-Name'"),
        ("postgresql://nobody_tq:s3cret@127.0.0.1:5432/postgres", "refused user 'nobody_tq'"),
    ],
)
def test_a_bad_url_is_one_clear_line_without_the_password(url: str, says: str) -> None:
    out = tq("--db", url, "list")
    assert out.returncode != 0
    assert says in out.stderr, out.stderr
    assert "s3cret" not in out.stderr + out.stdout
    assert "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
