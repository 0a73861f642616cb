"""A job type no worker has loaded stays queued, visibly; it never fails its jobs or the worker."""

from __future__ import annotations

import signal
from pathlib import Path

from tests.conftest import tq
from tests.test_rel_recovery import statuses, wait_for

MODULE = '''
from tuiqueue import JobContext, Param, job_type


@job_type("vanishing", params=[Param("n", "int", default=1)])
async def vanishing(ctx: JobContext, n: int) -> int:
    """Return n."""
    return n
'''


def submit(db: str, *args: str) -> int:
    out = tq("--db", db, *args)
    assert out.returncode == 0, out.stderr
    return int(out.stdout)


def test_drain_without_the_module_leaves_its_jobs_queued_and_runs_the_rest(
    tmp_path: Path,
) -> None:
    db, mod = str(tmp_path / "jobs.db"), tmp_path / "mod.py"
    mod.write_text(MODULE)
    gone = [submit(db, "--jobs", str(mod), "submit", "vanishing", "-p", f"n={n}") for n in range(3)]
    fine = submit(db, "submit", "shell", "-p", "command=echo fine")
    out = tq("--db", db, "worker", "--drain")  # ends: the vanishing jobs are not its work
    assert out.returncode == 0, out.stderr
    assert "Traceback" not in out.stderr
    rows = statuses(db)
    for job_id in gone:
        assert rows[job_id] == ("pending", 0, None)
    assert rows[fine][0] == "completed"
    shown = tq("--db", db, "show", str(gone[0]))
    assert "waiting for a worker with type 'vanishing' (no worker is running)" in shown.stdout
    listed = tq("--db", db, "list")
    assert listed.stdout.count("waiting for a worker with type 'vanishing'") == 3
    out = tq("--db", db, "--jobs", str(mod), "worker", "--drain")
    assert out.returncode == 0, out.stderr
    assert all(statuses(db)[job_id][0] == "completed" for job_id in gone)


def test_running_worker_keeps_going(tmp_path: Path) -> None:
    from tests.test_rel_recovery import start_worker

    db, mod = str(tmp_path / "jobs.db"), tmp_path / "mod.py"
    mod.write_text(MODULE)
    proc = start_worker(db)  # loads tests/rel_jobs.py, not mod.py
    try:
        gone = submit(db, "--jobs", str(mod), "submit", "vanishing")
        after = submit(db, "submit", "shell", "-p", "command=true")
        wait_for(lambda: statuses(db)[after][0] == "completed")
        assert statuses(db)[gone] == ("pending", 0, None), "never claimed, never failed"
        shown = tq("--db", db, "show", str(gone)).stdout
        assert "waiting for a worker with type 'vanishing' (1 live worker with types" in shown
        assert "'rel_sleep'" in shown
        assert proc.poll() is None, "the worker kept running"
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert proc.returncode == 0 and "Traceback" not in err


def test_a_module_that_no_longer_loads_is_a_clear_error(tmp_path: Path) -> None:
    db, mod = str(tmp_path / "jobs.db"), tmp_path / "mod.py"
    mod.write_text(MODULE)
    submit(db, "--jobs", str(mod), "submit", "vanishing")
    mod.write_text("import no_such_module_anywhere\n")
    out = tq("--db", db, "--jobs", str(mod), "worker", "--drain")
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        f"Error: job module {str(mod)!r} failed to load: ModuleNotFoundError: "
        "No module named 'no_such_module_anywhere'"
    ]
    assert statuses(db)[1][0] == "pending", "nothing was claimed"
