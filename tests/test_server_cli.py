"""`tuiqueue serve` as a real process: token file, refusals, graceful stop on SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx

from tests.conftest import cli_env, read_until, tq


def test_no_auth_on_every_interface_is_refused(db: str) -> None:
    out = tq("--db", db, "serve", "--host", "0.0.0.0", "--no-auth")
    assert out.returncode == 2
    assert "--no-auth on 0.0.0.0" in out.stderr and "Traceback" not in out.stderr
    assert not Path(db).exists()


def test_redis_password_is_never_printed() -> None:
    out = tq("--db", "redis://:s3cret@127.0.0.1:1/7", "serve", "--no-auth", "--port", "0")
    assert "s3cret" not in out.stdout + out.stderr
    assert out.returncode != 0


def test_serve_makes_a_private_token_and_stops_on_sigterm(db: str) -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tuiqueue", "--db", db, "serve", "--port", "0"],
        stderr=subprocess.PIPE,
        env=cli_env(),
    )
    try:
        seen = read_until(proc.stderr, "/api/stats", timeout=30)  # type: ignore[arg-type]
        port = re.search(r"http://127\.0\.0\.1:(\d+)/", seen)
        assert port
        token_file = Path(db + ".token")
        token = token_file.read_text().strip()
        assert token in seen
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        base = f"http://127.0.0.1:{port.group(1)}"
        assert httpx.get(base + "/api/stats").status_code == 401
        r = httpx.get(base + "/api/stats", headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200 and r.json()["worker"]["alive"] == 1
        os.kill(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        rest = proc.stderr.read().decode()  # type: ignore[union-attr]
        assert "server stopped" in rest and "Traceback" not in rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    again = tq("--db", db, "workers", "--json")
    assert '"stopped": true' in again.stdout
