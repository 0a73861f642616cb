"""Shared fixtures: the anyio backend, fresh registries of fast test job types, stores."""

from __future__ import annotations

import inspect
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import anyio
import pytest

from tuiqueue.core.context import JobContext
from tuiqueue.core.params import Param
from tuiqueue.core.records import WorkerInfo
from tuiqueue.core.registry import Registry
from tuiqueue.store.base import Store

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def anyio_backend() -> str:
    """Run `@pytest.mark.anyio` tests on asyncio."""
    return "asyncio"


@pytest.fixture(params=["asyncio", "trio"])
def both_backends(request: pytest.FixtureRequest) -> str:
    """Both anyio backends: a module opts in with `anyio_backend` returning this."""
    return str(request.param)


def make_registry() -> Registry:
    """A fresh registry with small, fast job types for engine tests."""
    reg = Registry()

    @reg.job_type("sleep", params=[Param("seconds", "float", default=0.05, min=0, max=60)])
    async def sleep(ctx: JobContext, seconds: float) -> dict[str, Any]:
        """Sleep, checking for cancel/pause every 10 ms."""
        end = anyio.current_time() + seconds
        while anyio.current_time() < end:
            await anyio.sleep(0.01)
            await ctx.checkpoint()
        return {"slept": seconds}

    @reg.job_type("boom", params=[Param("message", "str", default="boom")])
    async def boom(ctx: JobContext, message: str) -> None:
        """Always fail."""
        raise RuntimeError(message)

    @reg.job_type("flaky", params=[Param("fails", "int", default=1, min=0, max=10)], max_attempts=3)
    async def flaky(ctx: JobContext, fails: int) -> dict[str, int]:
        """Fail on the first `fails` attempts."""
        if ctx.attempt <= fails:
            raise RuntimeError(f"attempt {ctx.attempt} failed")
        return {"attempt": ctx.attempt}

    @reg.job_type(
        "chatty",
        params=[
            Param("lines", "int", default=10, min=0, max=100_000),
            Param("reports", "int", default=0, min=0, max=1_000_000),
        ],
    )
    async def chatty(ctx: JobContext, lines: int, reports: int) -> int:
        """Log many lines and report progress many times."""
        for i in range(lines):
            ctx.log(f"line {i + 1}")
        for i in range(reports):
            ctx.progress(100 * (i + 1) / reports, f"step {i + 1}")
        await anyio.sleep(0.15)
        return lines

    @reg.job_type("blocking", params=[Param("seconds", "float", default=0.05, min=0, max=60)])
    def blocking(ctx: JobContext, seconds: float) -> str:
        """A plain def job running in a thread."""
        import time

        end = time.monotonic() + seconds
        while time.monotonic() < end:
            time.sleep(0.01)
            ctx.check()
        return "done"

    return reg


@pytest.fixture
def registry() -> Registry:
    """A fresh registry of fast test job types."""
    return make_registry()


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A path for a fresh SQLite store."""
    return str(tmp_path / "jobs.db")


SESSION_DIRS = {"TUIQUEUE_CONFIG_DIR": "config", "TUIQUEUE_CACHE_DIR": "cache"}
"""Folders of the user's that tests never touch: the session's own (see _session_dirs)."""


@pytest.fixture(autouse=True, scope="session")
def _session_dirs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test reads or writes the user's dashboard settings (tuiqueue/ui/config.py) or the
    entry point cache (tuiqueue/core/entry_points.py): they go to folders of the test
    session, here and in every CLI process (cli_env)."""
    old = {name: os.environ.get(name) for name in SESSION_DIRS}
    for name, folder in SESSION_DIRS.items():
        os.environ[name] = str(tmp_path_factory.mktemp(folder))
    yield
    for name, value in old.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def cli_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """Environment for running the CLI in a subprocess, without the user's settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUIQUEUE_")}
    for name in SESSION_DIRS:  # (the session's: see _session_dirs)
        if name in os.environ:
            env[name] = os.environ[name]
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra or {})
    return env


def tq(
    *args: str,
    stdin: str | None = None,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run `python -m tuiqueue ARGS` and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", "tuiqueue", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env or cli_env(),
        cwd=cwd,
    )


@pytest.fixture
def no_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Clear TUIQUEUE_* variables for in-process CLI tests."""
    for key in list(os.environ):
        if key.startswith("TUIQUEUE_"):
            monkeypatch.delenv(key)
    yield


def pytest_addoption(parser: pytest.Parser) -> None:
    """--long: the long reliability runs (as TUIQUEUE_LONG=1)."""
    parser.addoption(
        "--long",
        action="store_true",
        help="run the long reliability loops (kill -9: 200 iterations) and @slow tests",
    )


def pytest_configure(config: pytest.Config) -> None:
    """Pass --long to test modules, which read TUIQUEUE_LONG when they are imported."""
    if config.getoption("--long"):
        os.environ["TUIQUEUE_LONG"] = "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip @pytest.mark.slow tests unless --long (or TUIQUEUE_LONG=1) was given."""
    if os.environ.get("TUIQUEUE_LONG") == "1":
        return
    skip = pytest.mark.skip(reason="long run: use --long")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


async def register_elsewhere(store: Store, info: WorkerInfo) -> None:
    """Register a worker as another process would, and let that process die at once."""
    try:
        other = store.clone()
    except NotImplementedError:
        await store.register_worker(info)
        return
    await other.open()
    try:
        await other.register_worker(info)
    finally:
        await other.close()


# -- waiting for a condition instead of a fixed sleep -------------------------------------------


async def until(
    pred: Callable[[], object],
    timeout: float = 10.0,
    what: str = "the condition",
    interval: float = 0.01,
) -> float:
    """Poll pred() (sync or async) until it is true; fail after timeout s; return the wait."""
    start = anyio.current_time()
    while True:
        result = pred()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return anyio.current_time() - start
        if anyio.current_time() - start > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        await anyio.sleep(interval)


def wait_until(
    pred: Callable[[], object],
    timeout: float = 10.0,
    what: str = "the condition",
    interval: float = 0.02,
) -> float:
    """Poll pred() until it is true, blocking; fail after timeout s; return the wait."""
    start = time.monotonic()
    while not pred():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)
    return time.monotonic() - start


def read_until(stream: IO[Any], text: str, timeout: float = 10.0) -> str:
    """Read a child's pipe (unbuffered) until `text` appears; return what was read."""
    fd, seen = stream.fileno(), b""
    deadline = time.monotonic() + timeout
    while text.encode() not in seen:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {text!r}: {seen!r}")
        chunk = os.read(fd, 4096)
        if not chunk:
            raise AssertionError(f"pipe closed before {text!r} appeared: {seen!r}")
        seen += chunk
    return seen.decode(errors="replace")
