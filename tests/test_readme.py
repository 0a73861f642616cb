"""Every ```python and ```bash block of README.md runs as written (but those marked not-run)."""

from __future__ import annotations

import re
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
        out = subprocess.run(
            argv, capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120
        )
        assert out.returncode == 0, f"README block failed:\n{body}\n{out.stdout}\n{out.stderr}"
        ran += 1
    if ran == 0:
        pytest.fail("no README block ran")
