"""Every ```python and ```bash block of README.md runs as written (but those marked not-run)."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, cli_env

BLOCK = re.compile(
    r"(?:<!-- not-run: (?P<skip>[^>]*) -->\n)?```(?P<lang>python|bash|sh)\n(?P<body>.*?)```", re.S
)


def blocks() -> list[tuple[str, str, str | None]]:
    """(language, code, reason not to run it) for each block, in README order."""
    text = (ROOT / "README.md").read_text()
    return [(m["lang"], m["body"], m["skip"]) for m in BLOCK.finditer(text)]


def free_port() -> int:
    """A TCP port nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_readme_has_runnable_blocks() -> None:
    """The README keeps python and shell examples that this test runs."""
    langs = {lang for lang, _, skip in blocks() if skip is None}
    assert {"python", "bash"} <= langs


def test_readme_blocks_run(tmp_path: Path) -> None:
    """Run the blocks in order in one temp folder (a block opening `# name.py` is saved as it)."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    shim = bindir / "tuiqueue"
    shim.write_text(f'#!/bin/sh\nexec {sys.executable} -m tuiqueue "$@"\n')
    shim.chmod(0o755)
    env = cli_env({"TUIQUEUE_DB": str(tmp_path / "readme.db")})
    env["PATH"] = f"{bindir}:{env.get('PATH', '')}"
    ran = 0
    for lang, body, skip in blocks():
        if skip is not None:
            continue
        first = body.splitlines()[0] if body else ""
        named = re.fullmatch(r"# (\w+\.py)", first.strip())
        if lang == "python" and named:
            (tmp_path / named[1]).write_text(body)
            argv = [sys.executable, named[1]]
        elif lang == "python":
            argv = [sys.executable, "-c", body]
        else:
            argv = ["bash", "-euo", "pipefail", "-c", body]
        here = env
        if "tuiqueue serve" in body:
            # The API example starts its own server: a store of its own (so its job ids are
            # 1 and 2, as written) and a free port instead of the default 8765.
            here = {**env, "TUIQUEUE_DB": str(tmp_path / "serve.db")}
            argv[-1] = body.replace("8765", str(free_port()))
        out = subprocess.run(
            argv, capture_output=True, text=True, cwd=tmp_path, env=here, timeout=120
        )
        assert out.returncode == 0, f"README block failed:\n{body}\n{out.stdout}\n{out.stderr}"
        if here is not env:  # the curl sequence did what it says, not just exit 0
            said = out.stdout
            assert "event: complete" in said and said.rstrip().endswith("401"), said
            assert "event: cancelled" in said
            assert '"completed": 1' in said and '"cancelled": 1' in said, said
        ran += 1
    if ran == 0:
        pytest.fail("no README block ran")
