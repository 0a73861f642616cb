"""Bad database files: a clear message naming the path, exit 2, and the file left untouched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import cli_env, tq
from tests.test_rel_recovery import JOBS, start_worker


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def make_valid(path: Path, jobs: int = 50) -> None:
    out = tq(
        "--db",
        str(path),
        "submit",
        "--from",
        "-",
        stdin="".join('{"type": "echo", "params": {"delay": 1}}\n' for _ in range(jobs)),
    )
    assert out.returncode == 0, out.stderr
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()


def empty(p: Path) -> None:
    p.write_bytes(b"")


def garbage(p: Path) -> None:
    p.write_bytes(os.urandom(8192))


def garbage_after_header(p: Path) -> None:
    make_valid(p)
    data = bytearray(p.read_bytes())
    data[100:] = os.urandom(len(data) - 100)
    p.write_bytes(bytes(data))


def truncated_odd(p: Path) -> None:
    make_valid(p)
    p.write_bytes(p.read_bytes()[:5000])


def truncated_on_page(p: Path) -> None:
    make_valid(p, jobs=400)
    p.write_bytes(p.read_bytes()[:8192])


def newer_schema(p: Path) -> None:
    make_valid(p)
    conn = sqlite3.connect(p)
    conn.execute("PRAGMA user_version = 99")
    conn.close()


def other_program(p: Path) -> None:
    conn = sqlite3.connect(p)
    conn.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()


def read_only(p: Path) -> None:
    make_valid(p)
    p.chmod(0o444)


CASES: dict[str, tuple[Callable[[Path], None], str]] = {
    "empty": (empty, "empty file"),
    "garbage": (garbage, "not a SQLite database"),
    "garbage-after-header": (garbage_after_header, "Restore it from a backup"),
    "truncated": (truncated_odd, "truncated"),
    "truncated-on-a-page": (truncated_on_page, "truncated"),
    "newer-schema": (newer_schema, "newer tuiqueue"),
    "other-program": (other_program, "another program"),
    "read-only": (read_only, "read-only"),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize(
    "command", [["list"], ["submit", "echo"], ["worker", "--drain"], ["db", "check"]]
)
def test_bad_file_refused_untouched(tmp_path: Path, case: str, command: list[str]) -> None:
    path = tmp_path / "jobs.db"
    make, expected = CASES[case]
    make(path)
    before = sha(path)
    names = sorted(os.listdir(tmp_path))
    out = tq("--db", str(path), *command)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert str(path) in out.stderr and expected in out.stderr, out.stderr
    assert "Traceback" not in out.stderr
    assert sha(path) == before, "the file changed after a failed open"
    assert sorted(os.listdir(tmp_path)) == names, "sidecar files were created"


@contextmanager
def small_tmpfs(tmp_path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of `size` mounted for the test (skips where mounting is not allowed)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if (
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.skip("cannot mount a small tmpfs here")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_full_disk(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path, "256k") as mnt:
        filler = mnt / "filler"
        with filler.open("wb") as fh, pytest.raises(OSError):
            fh.write(b"x" * 10**6)
            fh.flush()
        path = mnt / "jobs.db"
        out = tq("--db", str(path), "submit", "echo")
        assert out.returncode == 2, out.stderr
        assert str(path) in out.stderr and "full" in out.stderr, out.stderr
        assert "Traceback" not in out.stderr


def test_check_and_backup_while_jobs_run(tmp_path: Path) -> None:
    db = tmp_path / "jobs.db"
    mark = tmp_path / "ran"
    stdin = "".join(
        f'{{"type": "rel_touch", "params": {{"path": "{mark}"}}}}\n' for _ in range(3000)
    )
    out = tq("--db", str(db), "--jobs", JOBS, "submit", "--from", "-", stdin=stdin)
    assert out.returncode == 0, out.stderr
    proc = start_worker(str(db), "-c", "8")
    try:
        backups = []
        deadline = time.monotonic() + 20
        while len(backups) < 3 and time.monotonic() < deadline:
            time.sleep(0.3)
            dest = tmp_path / f"backup{len(backups)}.db"
            out = tq("--db", str(db), "db", "backup", str(dest))
            assert out.returncode == 0, out.stderr
            backups.append(dest)
        for dest in backups:
            report = tq("--db", str(dest), "db", "check", "--json")
            assert report.returncode == 0 and '"ok": true' in report.stdout, report.stdout
        refused = tq("--db", str(db), "db", "backup", str(backups[0]))
        assert refused.returncode == 2 and "already exists" in refused.stderr
    finally:
        proc.terminate()
        proc.communicate(timeout=20)
    assert shutil.which("sqlite3") is None or True


def test_worker_whose_disk_fills_up(tmp_path: Path) -> None:
    """A worker running when the disk fills up stops with one clear line (exit 2), and once
    there is room again the file opens with every job in it (a checkpoint the full disk cut
    short leaves a header that counts pages only the WAL holds: that is not damage)."""
    with small_tmpfs(tmp_path, "2m") as mnt:
        path = mnt / "jobs.db"
        out = tq(
            "--db",
            str(path),
            "submit",
            "--from",
            "-",
            stdin='{"type": "echo", "params": {"message": "hello"}}\n' * 3000,
        )
        assert out.returncode == 0, out.stderr
        worker = subprocess.Popen(
            [sys.executable, "-m", "tuiqueue", "--db", str(path), "worker", "-c", "4"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=cli_env(),
        )
        try:
            deadline = time.monotonic() + 20
            while (
                json.loads(tq("--db", str(path), "stats", "--json").stdout)["counts"]["pending"]
                == 3000
            ):
                assert time.monotonic() < deadline, "the worker never started a job"
                time.sleep(0.05)
            # Fill what is left (the worker's own writes may have filled it already).
            with pytest.raises(OSError), (mnt / "filler").open("wb") as fh:
                while True:
                    fh.write(b"x" * 65536)
                    fh.flush()
            _, err = worker.communicate(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        assert worker.returncode == 2, err
        assert str(path) in err and "full" in err, err
        assert "Traceback" not in err, err
        (mnt / "filler").unlink()
        out = tq("--db", str(path), "stats", "--json")
        assert out.returncode == 0, out.stderr
        counts = json.loads(out.stdout)["counts"]
        assert sum(counts.values()) == 3000, counts
        assert tq("--db", str(path), "db", "check").returncode == 0


def test_live_file_whose_header_counts_pages_only_its_wal_holds(tmp_path: Path) -> None:
    """What a checkpoint cut short by a full disk leaves: the header already counts the new
    pages, the file is not that long yet, the WAL holds them. SQLite reads it whole; so must
    tuiqueue, instead of calling it truncated and sending the user to a backup."""
    path = tmp_path / "jobs.db"
    make_valid(path, jobs=20)
    conn = sqlite3.connect(path)  # stays open: the WAL is live while the CLI looks
    try:
        conn.execute("PRAGMA wal_autocheckpoint = 0")
        conn.execute("CREATE TABLE ballast (data BLOB)")
        conn.executemany("INSERT INTO ballast VALUES (?)", [(os.urandom(4000),)] * 20)
        conn.commit()
        assert (tmp_path / "jobs.db-wal").stat().st_size > 0
        with path.open("r+b") as fh:
            header = bytearray(fh.read(100))
            pages = int.from_bytes(header[28:32], "big")
            fh.seek(28)
            fh.write((pages + 5).to_bytes(4, "big"))  # counts pages the file does not have
        out = tq("--db", str(path), "list", "--json")
        assert out.returncode == 0, out.stderr
        assert len(json.loads(out.stdout)) == 20
    finally:
        conn.close()


def test_processes_creating_one_new_file_at_once(tmp_path: Path) -> None:
    """A worker and submits started together on a path that does not exist yet: each one
    either creates the file or waits for the one creating it (no 'empty file' or 'locked')."""
    for round_ in range(8):
        path = tmp_path / f"new{round_}.db"
        base = [sys.executable, "-m", "tuiqueue", "--db", str(path)]
        procs = [
            subprocess.Popen(
                [*base, "submit", "echo"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=cli_env(),
            )
            for _ in range(3)
        ]
        procs.append(
            subprocess.Popen(
                [*base, "list", "--json"],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=cli_env(),
            )
        )
        for proc in procs:
            _, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, (round_, err)
        out = tq("--db", str(path), "list", "--json")
        assert len(json.loads(out.stdout)) == 3, out.stdout


def test_full_disk_new_path_leaves_nothing_behind(tmp_path: Path) -> None:
    """A create that fails on a full disk removes what it made; once there is room it works."""
    with small_tmpfs(tmp_path, "256k") as mnt:
        filler = mnt / "filler"
        with filler.open("wb") as fh, pytest.raises(OSError):
            fh.write(b"x" * 10**6)
            fh.flush()
        path = mnt / "jobs.db"
        out = tq("--db", str(path), "submit", "echo")
        assert out.returncode == 2 and "full" in out.stderr, out.stderr
        assert sorted(os.listdir(mnt)) == ["filler"], "a failed create left files behind"
        filler.unlink()
        out = tq("--db", str(path), "submit", "echo")
        assert out.returncode == 0, out.stderr


def test_full_disk_existing_database_says_full_and_leaves_no_sidecar(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path, "512k") as mnt:
        path = mnt / "jobs.db"
        assert tq("--db", str(path), "submit", "echo").returncode == 0
        names = sorted(os.listdir(mnt))
        src = tmp_path / "big.ndjson"
        src.write_text(
            "\n".join(
                json.dumps({"type": "echo", "params": {"message": "m" * 900}}) for _ in range(2000)
            )
        )
        filler = mnt / "filler"
        with filler.open("wb") as fh, pytest.raises(OSError):
            fh.write(b"x" * 10**7)
            fh.flush()
        out = tq("--db", str(path), "submit", "--from", str(src))
        assert out.returncode == 2, (out.stdout, out.stderr)
        assert "disk is full" in out.stderr and "Traceback" not in out.stderr, out.stderr
        assert sorted(os.listdir(mnt)) == sorted([*names, "filler"]), os.listdir(mnt)


def _damage_a_middle_page(path: Path) -> None:
    """Overwrite one page in the middle of the file with garbage (a disk that lied)."""
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page = conn.execute("PRAGMA page_size").fetchone()[0]
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:
        for n in range(pages // 3, pages // 3 + 3):
            fh.seek(page * n)
            fh.write(os.urandom(page))


def test_a_damaged_page_gives_one_line_and_refuses_to_write(tmp_path: Path) -> None:
    path = tmp_path / "jobs.db"
    lines = "\n".join(
        json.dumps({"type": "echo", "params": {"message": f"m{i}" * 50}}) for i in range(3000)
    )
    src = tmp_path / "jobs.ndjson"
    src.write_text(lines)
    assert tq("--db", str(path), "submit", "--from", str(src)).returncode == 0
    _damage_a_middle_page(path)
    before = sha(path)
    out = tq("--db", str(path), "worker", "--drain")
    assert out.returncode == 2, (out.stdout[-500:], out.stderr[-2000:])
    assert sha(path) == before, "a worker wrote to a damaged file"
    assert "Traceback" not in out.stderr, out.stderr[-2000:]
    assert "damaged" in out.stderr and "db check" in out.stderr, out.stderr
    assert str(path) in out.stderr
    out = tq("--db", str(path), "list", "--json", "--limit", "5000")
    assert out.returncode == 2 and "damaged" in out.stderr and "Traceback" not in out.stderr


def test_a_wal_deleted_under_a_running_store_stops_it(tmp_path: Path) -> None:
    """Deleting -wal/-shm under an open store: the next write stops with a clear error
    instead of writing a stale view back over other processes' commits."""
    import anyio

    from tuiqueue.core.job import NewJob
    from tuiqueue.store import StoreError, open_store

    async def body() -> str:
        store = open_store(str(tmp_path / "jobs.db"))
        await store.open()
        try:
            await store.add([NewJob("echo", {})], time.time())
            for suffix in ("-wal", "-shm"):
                (tmp_path / f"jobs.db{suffix}").unlink()
            # Another process opening the file now would start a fresh WAL.
            code = (
                "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
                "c.execute('PRAGMA journal_mode=WAL'); c.execute('SELECT 1'); c.close()"
            )
            subprocess.run(
                [sys.executable, "-c", code, str(tmp_path / "jobs.db")], check=False, timeout=30
            )
            with pytest.raises(StoreError) as err:
                await store.add([NewJob("echo", {})], time.time())
            with pytest.raises(StoreError):
                await store.add([NewJob("echo", {})], time.time())  # and it stays stopped
            return str(err.value)
        finally:
            await store.close()

    message = anyio.run(body)
    assert "was deleted or replaced" in message and "jobs.db" in message
